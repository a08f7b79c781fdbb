# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a deployment as one JSON document (check mode's ``disnix_plan_json``).

For CI pipelines that review deployments, for ``disnix.deploy.query_plan`` and for the
plan picture (``plan_dot``). The schema is docs/plan-json.md and docs/plan.schema.json.
Built from the transaction state after the query stage; container properties are left
out (they may hold secrets), so the document can be published as it is.

Pure logic: no Ansible, no I/O.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

PLAN_VERSION = 1


def _mappings(manifest: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The mappings of a manifest as the plan shows them: names instead of ids for edges."""
    raw = (manifest or {}).get("mappings") or []
    by_id = {m["id"]: m for m in raw}
    out = []
    for m in raw:
        deps = [by_id[i] for i in m.get("dependsOn") or [] if i in by_id]
        out.append({"id": m["id"], "service": m["service"], "target": m["target"], "container": m.get("container") or "",
                    "type": m.get("type") or "", "pkg": m.get("pkg") or "",
                    "dependsOn": sorted({(d["service"], d["target"]) for d in deps})})
    for m in out:
        m["dependsOn"] = [{"service": s, "target": t} for s, t in m["dependsOn"]]
    return sorted(out, key=lambda m: (m["target"], m["service"], m["container"]))


def _brief(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in ("service", "target", "container", "type", "pkg")}


def changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Every mapping as added, removed, moved, rebuilt or untouched.

    A service that leaves one target and arrives on another is moved (``from`` names where
    it was); a service on the same target with another build is rebuilt; a service on a
    target it did not run on before, while staying on its old targets, is added there.
    """
    old = {(m["service"], m["target"]): m for m in before}
    new = {(m["service"], m["target"]): m for m in after}
    out: dict[str, list[dict[str, Any]]] = {"added": [], "removed": [], "moved": [], "rebuilt": [], "untouched": []}
    services = sorted({s for s, _t in old} | {s for s, _t in new})
    for service in services:
        was = sorted(t for s, t in old if s == service)
        now = sorted(t for s, t in new if s == service)
        gone = [t for t in was if t not in now]
        came = [t for t in now if t not in was]
        for t in sorted(set(was) & set(now)):
            kind = "untouched" if old[(service, t)]["id"] == new[(service, t)]["id"] else "rebuilt"
            out[kind].append(_brief(new[(service, t)]))
        # pair departures with arrivals: those are moves; the rest are plain additions/removals
        for i, t in enumerate(came):
            if i < len(gone):
                out["moved"].append(dict(_brief(new[(service, t)]), **{"from": gone[i]}))
            else:
                out["added"].append(_brief(new[(service, t)]))
        for t in gone[len(came):]:
            out["removed"].append(_brief(old[(service, t)]))
    return out


def build(tx: dict[str, Any], lacks: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The plan document of a transaction state that has a plan (after the query stage).
    ``lacks``: per target, the store paths of its new closure it does not have."""
    plan = tx.get("plan") or {"waves": []}
    before = _mappings(tx.get("actual"))
    after = _mappings(tx["new"])
    targets = {}
    for name in sorted(set(tx["hosts"]) | {m["target"] for m in before + after}):
        info = (tx["new"].get("targets") or {}).get(name) or {}
        targets[name] = {
            "host": tx["hosts"].get(name),
            "system": info.get("system"),
            "numOfCores": info.get("numOfCores"),
            "services_before": sorted({m["service"] for m in before if m["target"] == name}),
            "services_after": sorted({m["service"] for m in after if m["target"] == name}),
            "lacks": sorted((lacks or {}).get(name) or []),
        }
    waves = []
    for wave in plan["waves"]:
        steps = [{"target": t, "service": s["service"], "type": s["type"], "container": s.get("container") or "",
                  "pkg": s["pkg"]} for t in sorted(wave["steps"]) for s in wave["steps"][t]]
        waves.append({"index": wave["index"], "op": wave["op"], "steps": steps})
    return {
        "version": PLAN_VERSION,
        "run_id": tx["run_id"],
        "profile": tx["profile"],
        "generation": tx.get("generation"),
        "changed": bool(tx.get("changed")),
        "outcome": tx.get("outcome"),
        "changes": changes(before, after),
        "waves": waves,
        "targets": targets,
        "before": before,
        "after": after,
        "notes": list(tx.get("notes") or []),
    }


def manifest_document(manifest: dict[str, Any]) -> dict[str, Any]:
    """A deployed manifest in the plan's vocabulary (mappings and targets, no properties),
    for queries over what runs."""
    after = _mappings(manifest)
    targets = {name: {"system": t.get("system"), "numOfCores": t.get("numOfCores"),
                      "services": sorted({m["service"] for m in after if m["target"] == name})}
               for name, t in sorted((manifest.get("targets") or {}).items())}
    return {"version": PLAN_VERSION, "profile": manifest.get("profile"), "mappings": after, "targets": targets}


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write(path: str, document: dict[str, Any]) -> None:
    """Replaces ``path`` with the document at once (a reader never sees half a plan)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".plan-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dumps(document))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def as_document(data: dict[str, Any]) -> dict[str, Any]:
    """A plan document as it is; a manifest (its mappings carry keys) in the plan's vocabulary."""
    mappings = data.get("mappings")
    if isinstance(mappings, list) and any(isinstance(m, dict) and "key" in m for m in mappings):
        return manifest_document(data)
    return data
