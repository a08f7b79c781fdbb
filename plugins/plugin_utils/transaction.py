# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployment transaction: one owner of every decision (Disnix's deploy.c).

The role disnix.deploy.deploy runs one task per stage on every target, with failures and
unreachable hosts kept in the play, and after each stage the action
disnix.deploy.transaction calls one function here with every host's result. The state (a
plain dict, carried from stage to stage as ``disnix_tx``) knows the plan and every host's
outcome; each function says what happens next: go on, roll back (only the waves that
started, on the hosts that can be reached), or commit (only when every target of the
transition confirmed its steps and its profile).

Pure logic: no Ansible, no I/O; unit tests drive it with plain results.
"""

from __future__ import annotations

import copy
from typing import Any

from ansible_collections.disnix.deploy.plugins.module_utils.locking import runs_before
# the journal's wave number of a profile switch: one definition, the targets' own
from ansible_collections.disnix.deploy.plugins.module_utils.transition_journal import KEYS_WAVE, PROFILE_WAVE
from ansible_collections.disnix.deploy.plugins.plugin_utils import guard, transition_plan
from ansible_collections.disnix.deploy.plugins.plugin_utils.manifest import mapping_id

# outcomes: what the run did, for the report and the exit code
NOTHING_TO_DO = "nothing to do"
COMMITTED = "committed"
REFUSED = "refused, nothing changed"
ROLLED_BACK = "failed, rolled back"
INCOMPLETE = "failed, not fully rolled back"
CHECKED = "check mode"
RECOVERED = "recovered"


def host_result(result: Any) -> tuple[str, str]:
    """(status, message) of one host's registered stage result: ok, failed, unreachable or
    skipped (the task did not run there)."""
    if not isinstance(result, dict):
        return "skipped", "no result"
    if result.get("unreachable"):
        return "unreachable", str(result.get("msg") or "unreachable")
    if result.get("failed"):
        # a loop's own message says only that an item failed: the items' messages say what
        items = [str(r.get("msg")) for r in result.get("results") or [] if isinstance(r, dict) and r.get("failed") and r.get("msg")]
        return "failed", "; ".join(items) if items else str(result.get("msg") or "failed")
    if result.get("skipped"):
        return "skipped", str(result.get("skip_reason") or "skipped")
    return "ok", str(result.get("msg") or "")


def _fail(tx: dict[str, Any], host: str, status: str, message: str) -> None:
    """Record that ``host`` failed a stage: lost when it was unreachable, failed otherwise."""
    tx["lost" if status == "unreachable" else "failed"][host] = message


def start(manifest: dict[str, Any], group_hosts: list[str], play_hosts: list[str], check: bool,
          committed_runs: list[str] | None = None, recover_only: bool = False,
          deploy_state_all: bool = False) -> dict[str, Any]:
    """The state before any target is asked: from the manifest action's result."""
    tx = {
        "run_id": manifest["run_id"],
        "started": manifest.get("started"),
        "profile": manifest["profile"],
        "check": check,
        "recover_only": recover_only,
        # disnix_deploy_state: migrate the state of every service that can snapshot
        "deploy_state_all": deploy_state_all,
        "new": manifest["manifest"],
        "old": manifest.get("previous_manifest"),
        "manifest_path": manifest.get("manifest_path"),
        "previous_manifest_path": manifest.get("previous_manifest_path"),
        "generation": manifest.get("generation"),
        "coordinator_profile": manifest.get("coordinator_profile"),
        "controller": manifest.get("controller"),
        "target_generation": manifest.get("target_generation"),
        "hosts": dict(manifest["hosts"]),
        "group_hosts": list(group_hosts),
        "play_hosts": list(play_hosts),
        "committed_runs": list(committed_runs or []),
        "go": True,
        "outcome": None,
        "stage": "manifest",
        "lost": {},
        # unreachable targets that neither run nor receive a service: not asked again
        "left_out": [],
        # the targets that take part in the stages to come (lock_hosts) and those whose profile
        # is switched (profile_hosts)
        "active": [],
        "profile_hosts": [],
        # what the query found: host -> its current profile path, target -> its profile manifest
        "current_profiles": {},
        "query_manifests": {},
        "failed": {},
        "notes": [],
        "locked": [],
        # host -> the live run holding its lock that started after this one: the lock stage
        # waits for it, as that run gives way (wait-die, locking.runs_before)
        "contended": {},
        "recover": {},
        "waves_started": [],
        "switched": [],
        "restored": {},
        "repair": {},
        "plan": None,
        "plan_lines": [],
        "steps_by_host": {},
        # wave -> host -> health checks run after that wave (plugin_utils/guard.py)
        "health": {},
        "rollback_waves": [],
        "profile_wave": PROFILE_WAVE,
        "rollback_hosts": {},
        # migration id -> what moves, and once taken its snapshot, size and transfer time
        "migrations": {},
        # migrate wave -> {"snapshot": source hosts, "restore": destination hosts}
        "migration_hosts": {},
        "changed": False,
        "diff": [],
        # secrets outside the store (disnix_keys): host -> its services that have keys, and
        # host -> the key changes its query found (names and paths; never values)
        "keyed": dict(manifest.get("keyed_services") or {}),
        "keys_plan": {},
        "key_lines": [],
        "keys_started": False,
        "keys_written": [],
        "keys_changed": False,
        # the run has nothing to do but keys
        "keys_only": False,
        "keys_wave": KEYS_WAVE,
    }
    return tx


def _target_of(tx: dict[str, Any]) -> dict[str, str]:
    return {host: target for target, host in tx["hosts"].items()}


def _stop(tx: dict[str, Any], outcome: str, line: str) -> None:
    tx["go"] = False
    tx["outcome"] = outcome
    tx["notes"].append(line)


def _services_on(manifest: dict[str, Any] | None, target: str) -> list[dict]:
    if not manifest:
        return []
    return [m for m in manifest["mappings"] if m["target"] == target]


def actual_manifest(tx: dict[str, Any], profile_manifests: dict[str, dict | None]) -> dict[str, Any]:
    """What the network runs, from the targets' own profile manifests (target -> manifest);
    targets not asked count with what the controller's generation says they run."""
    mappings = []
    for target in sorted(set(tx["hosts"]) | {m["target"] for m in (tx["old"] or {}).get("mappings", [])}):
        if target in profile_manifests:
            for s in (profile_manifests[target] or {}).get("services") or []:
                container = s.get("container") or ""
                mappings.append({"id": mapping_id(s.get("key", ""), target, container), "key": s.get("key", ""),
                                 "service": s.get("service", ""), "target": target, "container": container,
                                 "type": s.get("type", ""), "pkg": s.get("pkg", ""), "properties": s.get("properties") or {},
                                 "dependsOn": list(s.get("dependsOn") or []),
                                 "deployState": bool(s.get("deployState"))})
        else:
            mappings.extend(copy.deepcopy(_services_on(tx["old"], target)))
    return {"mappings": mappings}


def _touched_targets(old: dict[str, Any] | None, new: dict[str, Any]) -> set[str]:
    """Targets whose set of mappings changes (packages included)."""
    before: dict[str, set[str]] = {}
    after: dict[str, set[str]] = {}
    for m in (old or {}).get("mappings", []):
        before.setdefault(m["target"], set()).add(m["id"])
    for m in new["mappings"]:
        after.setdefault(m["target"], set()).add(m["id"])
    return {t for t in set(before) | set(after) if before.get(t, set()) != after.get(t, set())}


def _holder_dead(lock: dict[str, Any], controller: str, alive: dict[str, bool]) -> bool:
    """A lock whose run is known to be gone: written on this controller by a process that
    no longer runs (``alive`` says, per run id, what the controller found)."""
    return lock.get("controller") == controller and not alive.get(str(lock.get("run_id")), True)


def after_query(tx: dict[str, Any], results: dict[str, Any], controller: str, alive: dict[str, bool],
                force: bool = False, no_lock: bool = False) -> dict[str, Any]:
    """Every target was asked what it runs (profile manifest, lock, journal). Decides: refuse
    (a target of the transition lost or excluded by --limit, a live foreign lock), recover
    leftovers of dead runs first, or go on; and makes the provisional plan."""
    tx = copy.deepcopy(tx)
    tx["stage"] = "query"
    targets_of = _target_of(tx)
    old_targets = {m["target"] for m in (tx["old"] or {}).get("mappings", [])}
    new_targets = {m["target"] for m in tx["new"]["mappings"]}
    manifests: dict[str, dict | None] = {}
    for host, target in sorted(targets_of.items()):
        status, msg = host_result(results.get(host))
        if status == "ok":
            res = results[host]
            manifests[target] = res.get("profile_manifest")
            tx["current_profiles"][host] = res.get("profile_path")
            # the target locked itself in the query, as this run changes it (target_state's lock)
            if res.get("locked"):
                tx["locked"].append(host)
            if res.get("lock_refused"):
                tx["failed"][host] = "lock: " + str(res["lock_refused"])
            if res.get("keys_plan"):
                tx["keys_plan"][host] = list(res["keys_plan"])
            lock = res.get("lock")
            journal_runs = sorted({e.get("run_id") for e in res.get("journal") or [] if e.get("run_id")})
            if lock and lock.get("run_id") != tx["run_id"]:
                if force or _holder_dead(lock, controller, alive):
                    run = lock.get("run_id")
                    tx["recover"][host] = {"dead_run_id": run, "committed": run in tx["committed_runs"]}
                elif not no_lock and not tx["recover_only"] and runs_before(tx, lock):
                    # a run that started later: it gives way when it meets this run's locks, so
                    # this run locks the target too and waits for it (wait-die)
                    tx["contended"][host] = _describe_lock(lock)
                else:
                    tx["failed"][host] = "locked by %s" % _describe_lock(lock) + (
                        ", which started before this run; this run gives way" if runs_before(lock, tx) else "")
            elif journal_runs and not lock:
                tx["recover"][host] = {"dead_run_id": None, "committed": False}
        elif status == "skipped" and host not in tx["play_hosts"]:
            continue  # excluded by --limit: judged below from what the controller knows
        else:
            involved = target in old_targets or target in new_targets
            if involved:
                tx["lost"][host] = "query: " + msg
            else:
                tx["left_out"].append(host)
                tx["notes"].append("%s is %s; it neither runs nor receives a service, so it is left out" % (host, status))
    if tx["recover_only"]:
        tx["go"] = False
        tx["outcome"] = RECOVERED if tx["recover"] else NOTHING_TO_DO
        if tx["lost"] or tx["failed"]:
            tx["outcome"] = INCOMPLETE
            tx["notes"].append("cannot repair %s" % "; ".join("%s: %s" % kv for kv in sorted({**tx["lost"], **tx["failed"]}.items())))
        return tx
    tx["query_manifests"] = manifests
    actual = actual_manifest(tx, manifests)
    touched = _touched_targets(actual, tx["new"])
    tx["touched"] = sorted(touched)
    # targets no longer in the inventory are skipped, as Disnix does (transition_plan.plan)
    excluded = sorted(tx["hosts"][t] for t in touched if t in tx["hosts"] and tx["hosts"][t] not in tx["play_hosts"])
    if excluded:
        _stop(tx, REFUSED, "--limit excludes %s, which this deployment changes; run without --limit or include %s"
              % (", ".join(excluded), "them" if len(excluded) > 1 else "it"))
        return tx
    if tx["lost"]:
        _stop(tx, REFUSED, "cannot reach %s, which this deployment involves: %s"
              % (", ".join(sorted(tx["lost"])), "; ".join("%s: %s" % kv for kv in sorted(tx["lost"].items()))))
        return tx
    refusals = {h: why for h, why in tx["failed"].items() if why.startswith("lock: ")}
    if tx["failed"] and len(refusals) == len(tx["failed"]):
        # only refusals of the locks the query took (a service's veto, a race): as the lock stage says it
        _stop(tx, REFUSED, "locking failed: %s" % "; ".join("%s: %s" % kv for kv in sorted(refusals.items())))
        return tx
    if tx["failed"]:
        _stop(tx, REFUSED, "; ".join("%s: %s" % kv for kv in sorted(tx["failed"].items()))
              + ". A lock left by a dead run of another controller is cleared with playbooks/unlock.yml (docs/deploy.md)")
        return tx
    _note_drift(tx, actual)
    _plan(tx, actual)
    tx["key_lines"] = ["keys on %s: %s %s of %s (%s)" % (host, k["action"], k["name"], k["service"], k["dest"])
                       for host in sorted(tx["keys_plan"]) for k in tx["keys_plan"][host]]
    if tx["check"]:
        tx["go"] = False
        tx["outcome"] = CHECKED
        tx["notes"].extend("%s is locked by %s, which started after this one: a real run waits for it" % kv
                           for kv in sorted(tx["contended"].items()))
        return tx
    if not tx["recover"] and not tx["contended"] and not _has_work(tx):
        if keys_hosts(tx):
            tx["keys_only"] = True
        else:
            tx["go"] = False
            tx["outcome"] = NOTHING_TO_DO
    return tx


def _describe_lock(lock: dict[str, Any]) -> str:
    if "run_id" not in lock:
        return "an unknown holder (a lock not written by disnix.deploy)"
    return "run %s (controller %s, user %s, pid %s)" % (lock.get("run_id"), lock.get("controller") or "unknown",
                                                        lock.get("user") or "unknown", lock.get("pid") or "unknown")


def _note_drift(tx: dict[str, Any], actual: dict[str, Any]) -> None:
    """Say where the targets do not run what the controller's generation says."""
    old_ids = {m["id"] for m in (tx["old"] or {}).get("mappings", [])}
    actual_ids = {m["id"] for m in actual["mappings"]}
    if old_ids != actual_ids:
        by_id = {m["id"]: m for m in (tx["old"] or {}).get("mappings", [])} | {m["id"]: m for m in actual["mappings"]}
        missing = sorted("%s on %s" % (by_id[i]["service"], by_id[i]["target"]) for i in old_ids - actual_ids)
        extra = sorted("%s on %s" % (by_id[i]["service"], by_id[i]["target"]) for i in actual_ids - old_ids)
        tx["notes"].append("the targets differ from the controller's generation %s (%s%s%s); planning from what they run"
                           % (tx["generation"], "missing: " + ", ".join(missing) if missing else "",
                              "; " if missing and extra else "", "not recorded: " + ", ".join(extra) if extra else ""))


def _plan(tx: dict[str, Any], actual: dict[str, Any]) -> None:
    plan = transition_plan.plan(actual, tx["new"], set(tx["hosts"]), tx.get("deploy_state_all", False))
    tx["plan"] = plan
    tx["actual"] = actual
    tx["steps_by_host"] = {str(w["index"]): sorted(tx["hosts"][t] for t in w["steps"]) for w in plan["waves"]}
    tx["migrations"] = {str(mv["id"]): dict(mv, from_host=tx["hosts"].get(mv["from"]), to_host=tx["hosts"].get(mv["to"]))
                        for mv in plan["migrations"]}
    tx["migration_hosts"] = {
        str(w["index"]): {op: sorted(tx["hosts"][t] for t, steps in w["steps"].items() if any(x["op"] == op for x in steps))
                          for op in ("snapshot", "restore")}
        for w in plan["waves"] if w["op"] == "migrate"}
    tx["health"] = guard.health_checks(plan, tx["new"], tx["hosts"])
    tx["diff"] = diff(actual, tx["new"])
    tx["changed"] = bool(plan["waves"]) or any(d["added"] or d["removed"] or d["moved_in"] or d["moved_out"] or d["rebuilt"]
                                               for d in tx["diff"])
    tx["plan_lines"] = transition_plan.describe(plan) + [line for d in tx["diff"] for line in _diff_lines(d)]


def _has_work(tx: dict[str, Any]) -> bool:
    if tx["changed"]:
        return True
    # same services, yet a target's profile is not the planned one: never skipped as a no-op
    if any(_profile_differs(tx, host) for host in _reachable(tx)):
        return True
    # same services, yet a profile or the controller generation to set (a run cut short)
    if tx["target_generation"] is not None:
        return tx["target_generation"] != tx["generation"]
    return tx["manifest_path"] is not None and tx["manifest_path"] != tx["previous_manifest_path"]


def diff(old: dict[str, Any] | None, new: dict[str, Any]) -> list[dict[str, Any]]:
    """Per target: services added, removed, moved (in or out) and rebuilt; packages included."""
    def index(manifest):
        out: dict[str, dict[str, dict]] = {}
        for m in (manifest or {}).get("mappings", []):
            out.setdefault(m["target"], {})[m["service"]] = m
        return out

    before, after = index(old), index(new)
    where_before = {m["service"]: m["target"] for m in (old or {}).get("mappings", [])}
    where_after = {m["service"]: m["target"] for m in new["mappings"]}
    result = []
    for target in sorted(set(before) | set(after)):
        b, a = before.get(target, {}), after.get(target, {})
        entry = {"target": target, "added": [], "removed": [], "moved_in": [], "moved_out": [], "rebuilt": []}
        for name in sorted(set(a) - set(b)):
            entry["moved_in" if name in where_before else "added"].append(name)
        for name in sorted(set(b) - set(a)):
            entry["moved_out" if name in where_after else "removed"].append(name)
        entry["rebuilt"] = sorted(n for n in set(a) & set(b) if a[n]["id"] != b[n]["id"])
        result.append(entry)
    return result


def _diff_lines(d: dict[str, Any]) -> list[str]:
    parts = [("added", d["added"]), ("removed", d["removed"]), ("moved here", d["moved_in"]),
             ("moved away", d["moved_out"]), ("rebuilt", d["rebuilt"])]
    said = ["%s %s" % (what, ", ".join(names)) for what, names in parts if names]
    return ["%s: %s" % (d["target"], "; ".join(said))] if said else []


def diff_text(tx: dict[str, Any]) -> list[dict[str, str]]:
    """Ansible --diff entries, one per target whose services change."""
    before = {}
    for m in (tx.get("actual") or {}).get("mappings", []):
        before.setdefault(m["target"], []).append("%s (%s)" % (m["service"], m["type"]))
    after = {}
    for m in tx["new"]["mappings"]:
        after.setdefault(m["target"], []).append("%s (%s)" % (m["service"], m["type"]))
    out = []
    for d in tx["diff"]:
        t = d["target"]
        if _diff_lines(d):
            out.append({"before_header": "%s: services" % t, "after_header": "%s: services" % t,
                        "before": "".join(s + "\n" for s in sorted(before.get(t, []))),
                        "after": "".join(s + "\n" for s in sorted(after.get(t, [])))})
    return out


def after_recover(tx: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    tx = copy.deepcopy(tx)
    tx["stage"] = "recover"
    for host in sorted(tx["recover"]):
        status, msg = host_result(results.get(host))
        if status == "ok":
            res = results[host]
            tx["notes"].append("%s: recovered run %s (%s): %s" % (host, tx["recover"][host]["dead_run_id"] or "without lock",
                                                                  res.get("direction"), res.get("msg")))
        else:
            _fail(tx, host, status, "recover: " + msg)
    if (tx["lost"] or tx["failed"]) and tx["recover_only"]:
        tx["outcome"] = INCOMPLETE
    elif tx["lost"] or tx["failed"]:
        _stop(tx, REFUSED, "recovery failed on %s: %s" % (", ".join(sorted(set(tx["lost"]) | set(tx["failed"]))),
                                                          "; ".join("%s: %s" % kv for kv in sorted({**tx["lost"], **tx["failed"]}.items()))))
    return tx


def _reachable(tx: dict[str, Any]) -> list[str]:
    """The targets in the play that answered (not lost, not left out as unreachable)."""
    return sorted(h for h in tx["hosts"].values()
                  if h not in tx["lost"] and h not in tx["left_out"] and h in tx["play_hosts"])


def _planned_profile(tx: dict[str, Any], host: str) -> str | None:
    return ((tx["new"].get("targets") or {}).get(_target_of(tx).get(host, "")) or {}).get("profile")


def _profile_differs(tx: dict[str, Any], host: str) -> bool:
    planned = _planned_profile(tx, host)
    return planned is not None and tx["current_profiles"].get(host) != planned


def work_hosts(tx: dict[str, Any]) -> list[str]:
    """The reachable targets this run changes: their services or profile differ from the
    plan, their key files differ, or a dead run left something to repair there."""
    if tx["plan"] is None:
        return []
    touched = set(tx.get("touched") or [])
    targets_of = _target_of(tx)
    return [h for h in _reachable(tx)
            if targets_of[h] in touched or _profile_differs(tx, h) or h in tx["keys_plan"] or h in tx["recover"]]


def _dependency_hosts(tx: dict[str, Any]) -> set[str]:
    """The targets of what the services this run activates depend on: locked too, so that no
    other deployment takes a dependency away while they start."""
    if tx["plan"] is None:
        return set()
    by_id = {m["id"]: m for m in tx["new"]["mappings"]}
    return {tx["hosts"][by_id[d]["target"]] for i in tx["plan"]["activate"] if i in by_id
            for d in by_id[i]["dependsOn"] if d in by_id and by_id[d]["target"] in tx["hosts"]}


def lock_hosts(tx: dict[str, Any]) -> list[str]:
    """The targets that take part: those this run changes and those running what its new
    services depend on. A target it neither changes nor depends on is only asked what it runs
    (one round trip; docs/performance.md), not locked as Disnix locks every target."""
    reachable = set(_reachable(tx))
    # a target another run has locked may change under this one: locked too, to read it under the lock
    return sorted((set(work_hosts(tx)) | _dependency_hosts(tx) | set(tx["contended"])) & reachable)


def keys_hosts(tx: dict[str, Any]) -> list[str]:
    """The reachable targets whose key files differ from what this run wants."""
    hosts = lock_hosts(tx)
    return [h for h in sorted(tx["keys_plan"]) if h in hosts and h not in tx["lost"]]


def after_keys(tx: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """The keys were written (before any activation); a failure rolls back what was written."""
    tx = copy.deepcopy(tx)
    tx["stage"] = "keys"
    hosts = keys_hosts(tx)
    tx["keys_started"] = bool(hosts)
    for host in hosts:
        status, msg = host_result(results.get(host))
        if status == "ok":
            tx["keys_written"].append(host)
            tx["keys_changed"] = tx["keys_changed"] or bool((results.get(host) or {}).get("changed"))
        else:
            _fail(tx, host, status, "keys: " + msg)
    if tx["lost"] or tx["failed"]:
        tx["go"] = False
        _plan_rollback(tx)
    return tx


def after_distribute(tx: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    tx = copy.deepcopy(tx)
    tx["stage"] = "distribute"
    for host in lock_hosts(tx):
        status, msg = host_result(results.get(host))
        if status in ("failed", "unreachable"):
            _fail(tx, host, status, "distribute: " + msg)
    if tx["lost"] or tx["failed"]:
        _stop(tx, REFUSED, "copying the closures failed: %s" % "; ".join("%s: %s" % kv for kv in sorted({**tx["lost"], **tx["failed"]}.items())))
    return tx


def after_lock(tx: dict[str, Any], results: dict[str, Any], no_lock: bool = False) -> dict[str, Any]:
    """Every target was asked for its lock. Any refusal: release what was taken, nothing
    changed. Otherwise plan again from what each target runs now, under its lock."""
    tx = copy.deepcopy(tx)
    tx["stage"] = "lock"
    # the query's reading stands where it was taken under this run's lock (or for a target
    # that takes no part); the others are read again by this stage
    manifests: dict[str, dict | None] = dict(tx["query_manifests"])
    targets_of = _target_of(tx)
    for host in lock_hosts(tx):
        if host in tx["locked"] and not no_lock:
            continue
        status, msg = host_result(results.get(host))
        res = results.get(host) or {}
        if status == "ok":
            if not no_lock:
                tx["locked"].append(host)
            if res.get("waited"):
                tx["notes"].append("%s: waited for the lock of %s, which started after this run and gave way or finished"
                                   % (host, tx["contended"].get(host, "another run")))
            manifests[targets_of[host]] = res.get("profile_manifest")
            tx["current_profiles"][host] = res.get("profile_path")
        else:
            _fail(tx, host, status, "lock: " + msg)
    if tx["lost"] or tx["failed"]:
        _stop(tx, REFUSED, "locking failed: %s" % "; ".join("%s: %s" % kv for kv in sorted({**tx["lost"], **tx["failed"]}.items())))
        return tx
    previous = tx["plan_lines"]
    actual = actual_manifest(tx, manifests)
    _plan(tx, actual)
    if tx["plan_lines"] != previous:
        tx["notes"].append("the targets changed between query and lock (another deploy committed); planned again from what they run now")
    unlocked = sorted(set(lock_hosts(tx)) - set(tx["locked"]))
    if unlocked and not no_lock:
        # the plan made again under the locks needs a target this run did not lock
        _stop(tx, REFUSED, "the plan made again under the locks needs %s, which this run has not locked (another "
                           "deployment changed the targets meanwhile); run the deployment again" % ", ".join(unlocked))
    return tx


def wave_hosts(tx: dict[str, Any], index: int) -> list[str]:
    return [h for h in tx["steps_by_host"].get(str(index), []) if h not in tx["lost"]]


def after_wave(tx: dict[str, Any], index: int, results: dict[str, Any],
               health: dict[str, Any] | None = None) -> dict[str, Any]:
    """The wave's steps ran (``results``), then the health checks of what it activated
    (``health``); a failed check fails its host like a failed activation."""
    tx = copy.deepcopy(tx)
    tx["stage"] = "wave %d" % index
    hosts = tx["steps_by_host"].get(str(index), [])
    if hosts:
        tx["waves_started"].append(index)
    for host in hosts:
        status, msg = host_result(results.get(host))
        if status == "unreachable":
            tx["lost"][host] = "wave %d: %s" % (index, msg)
        elif status != "ok":
            tx["failed"][host] = "wave %d: %s" % (index, msg)
    for host in tx.get("health", {}).get(str(index), {}):
        if host in tx["lost"] or host in tx["failed"]:
            continue
        status, msg = host_result((health or {}).get(host))
        if status == "unreachable":
            tx["lost"][host] = "wave %d: health checks: %s" % (index, msg)
        elif status != "ok":
            tx["failed"][host] = guard.health_failures(index, host, (health or {}).get(host) or {})
    if tx["lost"] or tx["failed"]:
        tx["go"] = False
        _plan_rollback(tx)
    return tx


# the parts of a migrate wave, in order, and the side they run on
MIGRATION_PHASES = {"snapshot": "snapshot", "fetch": "snapshot", "send": "restore", "restore": "restore"}


def migration_phase_hosts(tx: dict[str, Any], index: int, phase: str) -> list[str]:
    """The reachable hosts that take part in ``phase`` of migrate wave ``index``."""
    side = MIGRATION_PHASES[phase]
    return [h for h in tx["migration_hosts"].get(str(index), {}).get(side, []) if h not in tx["lost"]]


def after_migration(tx: dict[str, Any], index: int, phase: str, results: dict[str, Any], now: float) -> dict[str, Any]:
    """One part of a migrate wave ran: snapshot (with its export) and fetch on the old
    targets, send and restore on the new ones. A failure anywhere fails the transition and
    rolls it back like a failed step; ``now`` (controller clock) times the transfer."""
    tx = copy.deepcopy(tx)
    tx["stage"] = "wave %d: migration %s" % (index, phase)
    if phase == "snapshot":
        tx["waves_started"].append(index)
        tx["migration_clock"] = now
    wave = tx["plan"]["waves"][index]
    for host in migration_phase_hosts(tx, index, phase):
        status, msg = host_result(results.get(host))
        target = _target_of(tx)[host]
        moves = sorted({"%s (%s -> %s)" % (m["service"], m["from"], m["to"]) for m in wave["migrations"]
                        if target in (m["from"], m["to"])})
        where = "wave %d, migration of %s: %s" % (index, ", ".join(moves), phase)
        if status == "unreachable":
            tx["lost"][host] = "%s: %s" % (where, msg)
        elif status != "ok":
            tx["failed"][host] = "%s: %s" % (where, msg)
        elif phase == "snapshot":
            for e in results[host].get("exports") or []:
                entry = tx["migrations"].get(str(e.get("migration")))
                if entry is not None:
                    entry.update(snapshot=e.get("name"), bytes=e.get("bytes"))
    if phase == "send":
        seconds = round(now - tx.get("migration_clock", now), 3)
        for m in tx["migrations"].values():
            if m["id"] in {x["id"] for x in wave["migrations"]}:
                m["transfer_seconds"] = seconds
    if tx["lost"] or tx["failed"]:
        tx["go"] = False
        _plan_rollback(tx)
    elif phase == "restore":
        for m in wave["migrations"]:
            e = tx["migrations"][str(m["id"])]
            tx["notes"].append("migrated the state of %s from %s to %s: snapshot %s, %s bytes through the controller in %s s"
                               % (e["service"], e["from"], e["to"], e.get("snapshot"), e.get("bytes"), e.get("transfer_seconds")))
    return tx


def _plan_rollback(tx: dict[str, Any]) -> None:
    tx["rollback_waves"] = rollback_waves(tx)
    tx["rollback_hosts"] = {str(w): rollback_hosts(tx, w) for w in tx["rollback_waves"]}


def profile_hosts(tx: dict[str, Any]) -> list[str]:
    """The targets whose profile this run sets: those it changes that have a planned profile."""
    return [h for h in work_hosts(tx) if h not in tx["lost"] and _planned_profile(tx, h) is not None]


def after_profiles(tx: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    tx = copy.deepcopy(tx)
    tx["stage"] = "profiles"
    for host in profile_hosts(tx):
        status, msg = host_result(results.get(host))
        if status == "ok":
            tx["switched"].append(host)
        else:
            _fail(tx, host, status, "profile: " + msg)
    if tx["lost"] or tx["failed"]:
        tx["go"] = False
        _plan_rollback(tx)
    return tx


def rollback_waves(tx: dict[str, Any]) -> list[int]:
    """What to undo, newest first: the profile switches, then every wave that started."""
    if tx["go"] or tx["outcome"] in (REFUSED, CHECKED, NOTHING_TO_DO, RECOVERED):
        return []
    waves = sorted(set(tx["waves_started"]), reverse=True)
    return (([PROFILE_WAVE] if tx["switched"] or tx["stage"] == "profiles" else []) + waves
            + ([KEYS_WAVE] if tx.get("keys_started") else []))


def rollback_hosts(tx: dict[str, Any], wave: int) -> list[str]:
    """Reachable hosts with something journaled in ``wave``."""
    if wave == PROFILE_WAVE:
        return profile_hosts(tx)
    if wave == KEYS_WAVE:
        return keys_hosts(tx)
    return wave_hosts(tx, wave)


def after_rollback(tx: dict[str, Any], wave: int, results: dict[str, Any]) -> dict[str, Any]:
    tx = copy.deepcopy(tx)
    for host in rollback_hosts(tx, wave):
        status, msg = host_result(results.get(host))
        res = results.get(host) or {}
        if status == "ok":
            for r in res.get("restored") or []:
                tx["restored"].setdefault(host, []).append("%s %s" % (r.get("op"), r.get("service")))
        elif status == "unreachable":
            tx["lost"][host] = tx["lost"].get(host) or "rollback: " + msg
        else:
            what = {PROFILE_WAVE: "the profile", KEYS_WAVE: "the keys"}.get(wave) or "wave %d" % wave
            tx["repair"][host] = "rollback of %s failed: %s" % (what, msg)
    return tx


def commit_ready(tx: dict[str, Any]) -> bool:
    """Commit only when every target of the transition confirmed its steps and profile."""
    return tx["go"] and not tx["lost"] and not tx["failed"] and sorted(tx["switched"]) == profile_hosts(tx)


def after_unlock(tx: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    tx = copy.deepcopy(tx)
    for host in tx["locked"]:
        status, msg = host_result(results.get(host))
        if status != "ok" and host not in tx["lost"]:
            tx["repair"][host] = (tx["repair"].get(host, "") + "; " if host in tx["repair"] else "") + "unlock failed: " + msg
    if tx["outcome"] == ROLLED_BACK and tx["repair"]:
        tx["outcome"] = INCOMPLETE
    return tx


def finish(tx: dict[str, Any], committed: bool) -> dict[str, Any]:
    tx = copy.deepcopy(tx)
    if committed:
        tx["outcome"] = COMMITTED
    elif tx["outcome"] is None:
        tx["outcome"] = INCOMPLETE if tx["repair"] or tx["lost"] else ROLLED_BACK
    for host, why in sorted(tx["lost"].items()):
        if host in tx["locked"]:
            tx["repair"].setdefault(host, "lost at %s; its lock and journal of run %s stay until the next deploy "
                                          "(or playbooks/unlock.yml) repairs it" % (why.split(":")[0], tx["run_id"]))
    return tx


def failed(tx: dict[str, Any]) -> bool:
    return tx["outcome"] not in (COMMITTED, NOTHING_TO_DO, CHECKED, RECOVERED)


def report(tx: dict[str, Any]) -> list[str]:
    """The summary: the outcome, every host's part, what is left to repair."""
    lines = ["deployment %s: %s" % (tx["run_id"], tx["outcome"])]
    lines += tx["notes"]
    for host in sorted(set(tx["hosts"].values())):
        parts = []
        if host in tx["lost"]:
            parts.append("LOST at " + tx["lost"][host])
        if host in tx["failed"]:
            parts.append("FAILED at " + tx["failed"][host])
        if host in tx["restored"]:
            parts.append("restored: " + ", ".join(tx["restored"][host]))
        if host in tx["repair"]:
            parts.append("TO REPAIR: " + tx["repair"][host])
        if parts:
            lines.append("%s: %s" % (host, "; ".join(parts)))
    if tx["outcome"] in (ROLLED_BACK, INCOMPLETE, REFUSED):
        lines.append("the controller generation is unchanged (%s)" % tx["generation"])
    return lines
