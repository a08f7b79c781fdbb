# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The transition from one manifest to another, in waves (Disnix's transition.c).

Mappings in both manifests are untouched. Obsolete mappings are deactivated in reverse
dependency order, new ones activated in dependency order, across all targets. A wave
holds every step whose predecessors are done, so the steps of one wave run in parallel;
the playbook runs the waves one after another on all targets. Rolling back replays the
waves that ran backwards, inverting each step (see the activation module's journal).
Package services take no part: they are only joined into their target's profile.

State migration (deployState, Disnix's libmigrate): a stateful service whose snapshot mapping
(target, container, component) is new, and whose component left another target, moves its
state in a ``migrate`` wave after the activations: snapshot on the old target, transfer through
the controller, restore on the new one. The old mapping, and what it depends on, is deactivated
only after that wave, so a failed migration leaves the old service running.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.disnix.deploy.plugins.module_utils.activation_types import can_snapshot
from ansible_collections.disnix.deploy.plugins.plugin_utils import secrets


def _active(manifest: dict[str, Any] | None) -> dict[str, dict]:
    if not manifest:
        return {}
    return {m["id"]: m for m in manifest["mappings"] if m["type"] != "package"}


def _layers(nodes: dict[str, dict], before: dict[str, set[str]]) -> list[list[str]]:
    """Topological layers: a node's layer comes after the layers of all of `before[node]`.
    Iterative (Kahn's algorithm): a chain of thousands of dependencies is no recursion."""
    pending = {n: {p for p in before.get(n, ()) if p in nodes} for n in nodes}
    after: dict[str, list[str]] = {n: [] for n in nodes}
    for node, preds in pending.items():
        for p in preds:
            after[p].append(node)
    count = {n: len(preds) for n, preds in pending.items()}
    layer = {n: 0 for n, c in count.items() if c == 0}
    ready = list(layer)
    while ready:
        node = ready.pop()
        for succ in after[node]:
            layer[succ] = max(layer.get(succ, 0), layer[node] + 1)
            count[succ] -= 1
            if count[succ] == 0:
                ready.append(succ)
    stuck = sorted(n for n, c in count.items() if c > 0)
    if stuck:  # cycles are rejected when the models are validated
        raise ValueError("dependency cycle through " + stuck[0])
    out: list[list[str]] = [[] for _layer in range(max(layer.values(), default=-1) + 1)]
    for node in sorted(nodes, key=lambda n: (nodes[n]["target"], nodes[n]["service"], n)):
        out[layer[node]].append(node)
    return out


def _step(op: str, m: dict) -> dict[str, Any]:
    return {k: m[k] for k in ("key", "service", "pkg", "type", "container", "properties")} | {"op": op}


def component(m: dict) -> str:
    """Dysnomia's component name of a mapping: its package's name without the hash."""
    name = m["pkg"].rstrip("/").rsplit("/", 1)[-1]
    return name[33:] if m["pkg"].startswith("/nix/store/") and len(name) > 33 else name


def _stateful(m: dict, deploy_state_all: bool) -> bool:
    # with disnix_deploy_state, every service whose type can snapshot (Disnix's --deploy-state)
    return m["type"] != "package" and can_snapshot(m["type"]) and bool(m.get("deployState") or deploy_state_all)


def migrations(old_active: dict[str, dict], new_active: dict[str, dict], obsolete: dict[str, dict],
               fresh: dict[str, dict], deploy_state_all: bool = False) -> list[dict[str, Any]]:
    """The state moves, paired as Disnix pairs snapshot mappings (target, container,
    component): a stateful new mapping whose key the old network lacks gets the state of an
    obsolete one of the same container and component whose key the new network lacks."""
    def key(m):
        return (m["target"], m.get("container") or m["type"], component(m))

    old_keys = {key(m) for m in old_active.values()}
    new_keys = {key(m) for m in new_active.values()}
    out = []
    for new_id, n in sorted(fresh.items(), key=lambda kv: (kv[1]["service"], kv[1]["target"], kv[0])):
        if not _stateful(n, deploy_state_all) or key(n) in old_keys:
            continue  # nothing to move, or its state is already on its target
        sources = sorted((o["target"], old_id) for old_id, o in obsolete.items()
                         if can_snapshot(o["type"]) and key(o)[1:] == key(n)[1:] and key(o) not in new_keys)
        if sources:
            out.append({"id": len(out), "from_id": sources[0][1], "to_id": new_id, "service": n["service"],
                        "from": sources[0][0], "to": n["target"], "container": key(n)[1], "component": key(n)[2]})
    return out


def _depended_on(roots: set[str], mappings: dict[str, dict]) -> set[str]:
    """``roots`` and every mapping of ``mappings`` they depend on, transitively."""
    seen, todo = set(), list(roots)
    while todo:
        i = todo.pop()
        if i in seen or i not in mappings:
            continue
        seen.add(i)
        todo.extend(mappings[i]["dependsOn"])
    return seen


def plan(old: dict[str, Any] | None, new: dict[str, Any], present_targets: set[str] | None = None,
         deploy_state_all: bool = False) -> dict[str, Any]:
    """Waves of the transition old -> new. Old mappings on targets that are no longer
    present (not in `present_targets`) are skipped, as Disnix does."""
    old_active, new_active = _active(old), _active(new)
    skipped = sorted(i for i, m in old_active.items() if present_targets is not None and m["target"] not in present_targets)
    obsolete = {i: m for i, m in old_active.items() if i not in new_active and i not in skipped}
    fresh = {i: m for i, m in new_active.items() if i not in old_active}
    untouched = sorted(i for i in new_active if i in old_active)
    moves = migrations(old_active, new_active, obsolete, fresh, deploy_state_all)

    # deactivate X only after every obsolete mapping that depends on X; a migration's source,
    # and what it depends on, only after the migration
    dependants: dict[str, set[str]] = {}
    for i, m in obsolete.items():
        for dep in m["dependsOn"]:
            dependants.setdefault(dep, set()).add(i)
    late = _depended_on({mv["from_id"] for mv in moves}, obsolete)
    deactivate = _layers({i: m for i, m in obsolete.items() if i not in late}, dependants)
    deactivate_late = _layers({i: m for i, m in obsolete.items() if i in late}, dependants)
    activate = _layers(fresh, {i: set(m["dependsOn"]) for i, m in fresh.items()})

    waves: list[dict[str, Any]] = []

    def add(op: str, layers: list[list[str]], mappings: dict[str, dict]) -> None:
        for ids in layers:
            steps: dict[str, list] = {}
            for i in ids:
                steps.setdefault(mappings[i]["target"], []).append(_step(op, mappings[i]))
            waves.append({"index": len(waves), "op": op, "steps": steps})

    add("deactivate", deactivate, obsolete)
    add("activate", activate, fresh)
    if moves:
        steps: dict[str, list] = {}
        for mv in moves:
            steps.setdefault(mv["from"], []).append(dict(_step("snapshot", obsolete[mv["from_id"]]), migration=mv["id"]))
            steps.setdefault(mv["to"], []).append(dict(_step("restore", fresh[mv["to_id"]]), migration=mv["id"]))
        waves.append({"index": len(waves), "op": "migrate", "steps": steps, "migrations": moves})
    add("deactivate", deactivate_late, obsolete)
    return {
        "waves": waves,
        "untouched": untouched,
        "skipped": skipped,
        "deactivate": sorted(obsolete),
        "activate": sorted(fresh),
        "migrations": moves,
    }


def describe(plan_: dict[str, Any]) -> list[str]:
    """The plan as lines a person reads (check mode and the deploy summary); a value of a
    property named like a secret never appears in them (see secrets.py)."""
    lines = []
    for wave in plan_["waves"]:
        for mv in wave.get("migrations") or []:
            lines.append(f"wave {wave['index']}: migrate the state of {mv['service']} ({mv['container']}/{mv['component']}) "
                         f"from {mv['from']} to {mv['to']}: snapshot, transfer through the controller, restore")
        if wave["op"] == "migrate":
            continue
        for target in sorted(wave["steps"]):
            for s in wave["steps"][target]:
                lines.append(f"wave {wave['index']}: {wave['op']} {s['service']} ({s['type']}) on {target}: {s['pkg']}")
    if not plan_["waves"]:
        lines.append("no service to activate or deactivate")
    if plan_["untouched"]:
        lines.append(f"{len(plan_['untouched'])} mapping(s) untouched")
    for i in plan_["skipped"]:
        lines.append(f"skip {i}: its target is no longer present")
    hidden = secrets.secret_values([s.get("properties") for w in plan_["waves"] for ss in w["steps"].values() for s in ss])
    return [secrets.scrub(line, hidden) for line in lines]
