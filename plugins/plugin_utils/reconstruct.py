# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's manifest rebuilt from what the targets run, as disnix-reconstruct does.

Upstream captures each target's profile manifest and combines them with the infrastructure
model into a manifest. Here the infrastructure is the inventory (as for a deployment) and
the mappings are the services of each target's profile manifest, so the manifest is the one
a deployment of the same configuration composes: its manifest.xml, and hence its store path,
are the same, and the next deployment of that configuration has nothing to do.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.disnix.deploy.plugins.plugin_utils import manifest as manifest_lib


class ReconstructError(Exception):
    """The targets' state cannot make a manifest; the message names the target and why."""


def compose(infrastructure: dict[str, dict], hosts: dict[str, str], states: dict[str, Any],
            profile: str) -> dict[str, Any]:
    """The manifest of what the targets run: ``infrastructure`` and ``hosts`` as
    inventory_targets.targets_from_inventory gives them, ``states`` the disnix.deploy.target_state
    result of each inventory host. Every target must have answered: a manifest that leaves
    out a target would make the next deployment plan without what that target runs."""
    mappings: list[dict[str, Any]] = []
    targets: dict[str, dict[str, Any]] = {}
    for name, t in sorted(infrastructure.items()):
        host = hosts[name]
        state = states.get(host)
        if not isinstance(state, dict) or state.get("unreachable") or state.get("failed") or "profile_path" not in state:
            why = (state or {}).get("msg") if isinstance(state, dict) else None
            raise ReconstructError(f"target {name} (host {host}) did not report its profile"
                                   + (f": {why}" if why else "") + "; nothing was recorded")
        profile_path = state.get("profile_path") or None
        targets[name] = {"system": t["system"], "numOfCores": t["numOfCores"], "clientInterface": t["clientInterface"],
                         "targetProperty": t["targetProperty"], "properties": t["properties"],
                         "containers": t["containers"], "profile": profile_path}
        for s in (state.get("profile_manifest") or {}).get("services") or []:
            mappings.append(_mapping(name, host, s, t["containers"]))
    mappings.sort(key=lambda x: (x["target"], x["service"], x["container"]))
    return {"version": manifest_lib.MANIFEST_VERSION, "profile": profile, "mappings": mappings, "targets": targets}


def _mapping(target: str, host: str, service: Any, containers: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(service, dict) or not all(isinstance(service.get(k), str) and service.get(k)
                                                for k in ("key", "service", "pkg", "type")):
        raise ReconstructError(f"target {target} (host {host}): its profile manifest has a service without "
                               "key, service, pkg or type; nothing was recorded")
    container = service.get("container") or service["type"]
    return {
        "id": manifest_lib.mapping_id(service["key"], target, container),
        "key": service["key"],
        "service": service["service"],
        "target": target,
        "container": container,
        "type": service["type"],
        "pkg": service["pkg"],
        # built elsewhere: the derivation is not known (nor needed to deactivate or roll back)
        "drv": "",
        # as a deployment composes it: the container's properties in the inventory
        "properties": containers.get(container, {}),
        "dependsOn": sorted(service.get("dependsOn") or []),
        "dependsOnRefs": list(service.get("dependsOnRefs") or []),
        "connectsToRefs": list(service.get("connectsToRefs") or []),
        "deployState": bool(service.get("deployState")),
    }


def lines(manifest: dict[str, Any]) -> list[str]:
    """What a generation records, one line per target: ``target: service, ...``."""
    on: dict[str, list[str]] = {t: [] for t in manifest["targets"]}
    for m in manifest["mappings"]:
        on.setdefault(m["target"], []).append(m["service"])
    return [f"{t}: {', '.join(sorted(s)) or 'nothing'}" for t, s in sorted(on.items())]
