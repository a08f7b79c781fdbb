# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The transition from one manifest to another, in waves (Disnix's transition.c).

Mappings in both manifests are untouched. Obsolete mappings are deactivated in reverse
dependency order, new ones activated in dependency order, across all targets. A wave
holds every step whose predecessors are done, so the steps of one wave run in parallel;
the playbook runs the waves one after another on all targets. Rolling back replays the
waves that ran backwards, inverting each step (see the activation module's journal).
Package services take no part: they are only joined into their target's profile.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.disnix.deploy.plugins.plugin_utils import secrets


def _active(manifest: dict[str, Any] | None) -> dict[str, dict]:
    if not manifest:
        return {}
    return {m["id"]: m for m in manifest["mappings"] if m["type"] != "package"}


def _layers(nodes: dict[str, dict], before: dict[str, set[str]]) -> list[list[str]]:
    """Topological layers: a node's layer comes after the layers of all of `before[node]`."""
    layer: dict[str, int] = {}

    def depth(node: str, seen: tuple[str, ...] = ()) -> int:
        if node not in layer:
            if node in seen:  # cycles are rejected when the models are validated
                raise ValueError("dependency cycle through " + node)
            preds = [p for p in before.get(node, ()) if p in nodes]
            layer[node] = 1 + max((depth(p, seen + (node,)) for p in preds), default=-1)
        return layer[node]

    for node in nodes:
        depth(node)
    out: list[list[str]] = [[] for _layer in range(max(layer.values(), default=-1) + 1)]
    for node in sorted(nodes, key=lambda n: (nodes[n]["target"], nodes[n]["service"], n)):
        out[layer[node]].append(node)
    return out


def _step(op: str, m: dict) -> dict[str, Any]:
    return {k: m[k] for k in ("key", "service", "pkg", "type", "container", "properties")} | {"op": op}


def plan(old: dict[str, Any] | None, new: dict[str, Any], present_targets: set[str] | None = None) -> dict[str, Any]:
    """Waves of the transition old -> new. Old mappings on targets that are no longer
    present (not in `present_targets`) are skipped, as Disnix does."""
    old_active, new_active = _active(old), _active(new)
    skipped = sorted(i for i, m in old_active.items() if present_targets is not None and m["target"] not in present_targets)
    obsolete = {i: m for i, m in old_active.items() if i not in new_active and i not in skipped}
    fresh = {i: m for i, m in new_active.items() if i not in old_active}
    untouched = sorted(i for i in new_active if i in old_active)

    # deactivate X only after every obsolete mapping that depends on X
    dependants: dict[str, set[str]] = {}
    for i, m in obsolete.items():
        for dep in m["dependsOn"]:
            dependants.setdefault(dep, set()).add(i)
    deactivate = _layers(obsolete, dependants)
    activate = _layers(fresh, {i: set(m["dependsOn"]) for i, m in fresh.items()})

    waves = []
    for op, layers, mappings in (("deactivate", deactivate, obsolete), ("activate", activate, fresh)):
        for ids in layers:
            steps: dict[str, list] = {}
            for i in ids:
                steps.setdefault(mappings[i]["target"], []).append(_step(op, mappings[i]))
            waves.append({"index": len(waves), "op": op, "steps": steps})
    return {
        "waves": waves,
        "untouched": untouched,
        "skipped": skipped,
        "deactivate": sorted(obsolete),
        "activate": sorted(fresh),
    }


def describe(plan_: dict[str, Any]) -> list[str]:
    """The plan as lines a person reads (check mode and the deploy summary); a value of a
    property named like a secret never appears in them (see secrets.py)."""
    lines = []
    for wave in plan_["waves"]:
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
