# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health checks, selective deploys and secrets outside the store: the controller's pure part.

- ``healthCheck`` is a free attribute of a service (Disnix ignores attributes it does not
  know, so the models stay valid Disnix models). ``check_health`` validates and normalises it.
- ``tags`` (a free attribute too) and ``disnix_only`` select services; ``select`` computes
  the selection with everything it depends on.
- ``disnix_keys`` names the secret files a service needs on its target; ``check_keys``
  validates them. Values never enter a manifest, a plan or a message.

No Ansible, no I/O.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.disnix.deploy.plugins.module_utils import service_keys
from ansible_collections.disnix.deploy.plugins.plugin_utils.model_error import ModelError

DEFAULT_TIMEOUT = 10
MAX_TIMEOUT = 3600
HEALTH_KEYS = ("name", "command", "tcpPort", "host", "timeout", "interval")


def _fail(attr: str, problem: str, where: dict[str, Any]) -> ModelError:
    return ModelError(f"service '{attr}': healthCheck {problem}. Nothing was changed.", **where)


def _number(attr: str, check: dict, key: str, default: float, where: dict[str, Any]) -> float:
    value = check.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_TIMEOUT:
        raise _fail(attr, f"{key} must be a number of seconds above 0 and at most {MAX_TIMEOUT}, got {value!r}", where)
    return value


def check_health(attr: str, value: Any, where: dict[str, Any]) -> dict[str, Any] | None:
    """The normalised health check of service ``attr`` (None when it has none):
    ``{name, command (argv list) | None, shell, tcpPort | None, host, timeout, interval}``.

    ``command`` is an argv list (run as it is) or a string (the user's shell command, run
    as ``/bin/sh -c <string>``: nothing else is interpolated into it); ``tcpPort`` is a port
    that must accept a connection on ``host`` (default 127.0.0.1, the target itself). The
    check is repeated every ``interval`` seconds until it passes or ``timeout`` ends."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _fail(attr, f"must be an attribute set such as {{ tcpPort = 5000; }} or {{ command = [ ... ]; }}, got a {type(value).__name__}", where)
    unknown = sorted(set(value) - set(HEALTH_KEYS))
    if unknown:
        raise _fail(attr, f"has unknown attribute(s) {', '.join(unknown)} (known: {', '.join(HEALTH_KEYS)})", where)
    if ("command" in value) == ("tcpPort" in value):
        raise _fail(attr, "needs exactly one of command and tcpPort", where)
    timeout = _number(attr, value, "timeout", DEFAULT_TIMEOUT, where)
    interval = _number(attr, value, "interval", 1, where)
    out: dict[str, Any] = {"command": None, "shell": False, "tcpPort": None, "host": "127.0.0.1",
                           "timeout": timeout, "interval": interval}
    if "command" in value:
        cmd = value["command"]
        if isinstance(cmd, str) and cmd.strip():
            out.update(command=["/bin/sh", "-c", cmd], shell=True)
            label = cmd
        elif isinstance(cmd, list) and cmd and all(isinstance(a, str) for a in cmd) and cmd[0]:
            out["command"] = list(cmd)
            label = " ".join(cmd)
        else:
            raise _fail(attr, f"command must be a non-empty string (a shell command) or a list of strings (argv), got {cmd!r}", where)
        if any("\0" in a for a in out["command"]):
            raise _fail(attr, "command contains a NUL character", where)
        default_name = "command " + (label if len(label) <= 60 else label[:57] + "...")
    else:
        port = value["tcpPort"]
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise _fail(attr, f"tcpPort must be a port number (1-65535), got {port!r}", where)
        host = value.get("host", "127.0.0.1")
        if not isinstance(host, str) or not host or host.startswith("-") or any(c.isspace() or c == "\0" for c in host):
            raise _fail(attr, f"host must be a host name or address, got {host!r}", where)
        out.update(tcpPort=port, host=host)
        default_name = f"tcp {host}:{port}"
    name = value.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise _fail(attr, f"name must be a non-empty string, got {name!r}", where)
    out["name"] = name
    return out


def check_tags(attr: str, value: Any, where: dict[str, Any]) -> list[str]:
    """The tags of service ``attr``: a list of strings (the free attribute ``tags``)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
        raise ModelError(f"service '{attr}': tags must be a list of non-empty strings, got {value!r}. Nothing was changed.", **where)
    return sorted(set(value))


def health_checks(plan: dict[str, Any], new: dict[str, Any], hosts: dict[str, str]) -> dict[str, dict[str, list[dict]]]:
    """Per wave (index as a string) and host: the checks of the services that wave activates,
    each with its service, target, container and the container's properties (the check's
    environment)."""
    checks_of = {(m["key"], m["target"], m["container"]): m for m in new["mappings"] if m.get("healthCheck")}
    out: dict[str, dict[str, list[dict]]] = {}
    for wave in plan["waves"]:
        if wave["op"] != "activate":
            continue
        for target, steps in sorted(wave["steps"].items()):
            for step in steps:
                m = checks_of.get((step["key"], target, step["container"]))
                if m and target in hosts:
                    out.setdefault(str(wave["index"]), {}).setdefault(hosts[target], []).append(
                        dict(m["healthCheck"], service=m["service"], target=target, container=m["container"],
                             properties=m.get("properties") or {}))
    return out


def health_failures(index: int, host: str, result: dict[str, Any]) -> str:
    """The failure text of a health check result, naming each failed check and its service."""
    failed = result.get("failed_checks") or []
    if failed:
        checks = ("health check '%s' of service %s failed: %s" % (c.get("name"), c.get("service"), c.get("reason"))
                  for c in failed)
        return "wave %d: %s" % (index, "; ".join(checks))
    return "wave %d: health checks: %s" % (index, result.get("msg") or "failed")


# -- selective deploys -----------------------------------------------------------------------

TAG_PREFIX = "tag:"


def parse_only(value: Any) -> list[str]:
    """``disnix_only`` as a list: a list of strings or one comma-separated string."""
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
    else:
        raise ValueError(f"disnix_only must be a list of service names or tag:NAME, or a comma-separated string, got {value!r}")
    items = [v for v in items if v]
    if not items:
        raise ValueError("disnix_only names no service")
    return items


def select(services: dict[str, dict[str, Any]], only: list[str]) -> set[str]:
    """The services ``only`` names (by name, or ``tag:NAME`` for every service tagged NAME)
    plus, transitively, every service they depend on (dependsOn, connectsTo, activatesAfter);
    ``services`` maps names to their evaluated structure. Raises ValueError naming a name or
    tag that matches nothing."""
    chosen: set[str] = set()
    for item in only:
        if item.startswith(TAG_PREFIX):
            tag = item[len(TAG_PREFIX):]
            found = {n for n, s in services.items() if tag in (s.get("tags") or [])}
            if not found:
                raise ValueError(f"disnix_only: no distributed service has the tag {tag!r}")
            chosen |= found
        elif item in services:
            chosen.add(item)
        else:
            raise ValueError(f"disnix_only: {item!r} is not a distributed service (known: {', '.join(sorted(services))})")
    todo = list(chosen)
    while todo:
        s = services[todo.pop()]
        for kind in ("dependsOn", "connectsTo", "activatesAfter"):
            for dep in (s.get(kind) or {}).values():
                if dep in services and dep not in chosen:
                    chosen.add(dep)
                    todo.append(dep)
    return chosen


def restrict(new: dict[str, Any], current: dict[str, Any] | None, chosen: set[str]) -> dict[str, Any]:
    """The manifest of a selective deploy: the chosen services' mappings from ``new``, every
    other service's mappings as ``current`` (what is deployed) has them.

    A kept mapping's edges to a chosen service follow it to its new build on the same target
    and container (a rebuilt dependency stays where the dependant expects it). A kept mapping
    whose dependency would leave its target is refused: its build names that target, so it
    has to be deployed too. Raises ValueError naming both services."""
    old_mappings = (current or {}).get("mappings", [])
    chosen_new = [m for m in new["mappings"] if m["service"] in chosen]
    kept_old = [dict(m) for m in old_mappings if m["service"] not in chosen]
    by_place = {(m["service"], m["target"], m["container"]): m for m in chosen_new}
    unchanged = {m["id"] for m in kept_old}

    def follow(m: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
        """The mapping that stands where ``old`` (a chosen service's deployed mapping) stood."""
        moved = by_place.get((old["service"], old["target"], old["container"]))
        if moved is None:
            raise ValueError(
                f"disnix_only: service {m['service']} on {m['target']} is not selected but depends on "
                f"{old['service']} on {old['target']}, which this deploy removes from there; "
                f"select {m['service']} too (or deploy everything). Nothing was changed.")
        return moved

    by_id = {m["id"]: m for m in old_mappings}
    by_ref = {(m["key"], m["target"], m["container"]): m for m in old_mappings}
    for m in kept_old:
        edges = set()
        for dep in m.get("dependsOn") or []:
            # an edge to another kept mapping stays, one to a chosen service follows it, one
            # to nothing deployed is dropped
            if dep in unchanged:
                edges.add(dep)
            elif dep in by_id:
                edges.add(follow(m, by_id[dep])["id"])
        m["dependsOn"] = sorted(edges)
        for field in ("dependsOnRefs", "connectsToRefs"):
            refs = []
            for ref in m.get(field) or []:
                old = by_ref.get((ref.get("service"), ref.get("target"), ref.get("container")))
                if old is not None and old["service"] in chosen:
                    ref = dict(ref, service=follow(m, old)["key"])
                refs.append(ref)
            if field in m:
                m[field] = refs
    kept = chosen_new + kept_old
    kept.sort(key=lambda x: (x["target"], x["service"], x["container"]))
    return dict(new, mappings=kept)


# -- secrets outside the store ---------------------------------------------------------------

def check_keys(value: Any, services: set[str] | None) -> dict[str, list[dict[str, Any]]]:
    """``disnix_keys`` validated against the services model (service_keys.normalize)."""
    return service_keys.normalize(value, services)
