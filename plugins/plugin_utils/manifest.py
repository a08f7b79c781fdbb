# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployment manifest: every (service, target, container) mapping of one deployment.

A manifest is plain JSON and self-contained: it carries what a later run needs to
deactivate or re-activate its mappings (package, type, container properties, ordering
edges) and each target's profile, so rollback needs nothing but the manifest itself.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ansible_collections.disnix.deploy.plugins.module_utils.profiles import SERVICE_FIELDS
from ansible_collections.disnix.deploy.plugins.plugin_utils.deployment_model import Architecture, Mapping

MANIFEST_VERSION = 1


def service_key(mapping: Mapping) -> str:
    """Identity of a service build. Like Disnix's key it changes when the package changes,
    so a dependant whose build bakes in a moved dependency is redeployed; ordering edges
    alone do not change it, so dependants whose builds did not change stay untouched."""
    ident = json.dumps([mapping.service, mapping.type, mapping.out], separators=(",", ":"))
    return hashlib.sha256(ident.encode()).hexdigest()


def mapping_id(key: str, target: str, container: str) -> str:
    return f"{key}:{target}:{container}"


def compose(arch: Architecture, infrastructure: dict[str, dict], profile: str) -> dict[str, Any]:
    """The manifest of an evaluated architecture; profiles are filled in after they are built."""
    keys = {(m.service, m.target): service_key(m) for m in arch.mappings}
    ids_of_service: dict[str, list[str]] = {}
    for m in arch.mappings:
        ids_of_service.setdefault(m.service, []).append(mapping_id(keys[(m.service, m.target)], m.target, m.container))

    mappings = []
    for m in arch.mappings:
        svc = arch.services[m.service]
        ordering = sorted(set(svc["dependsOn"].values()) | set(svc["activatesAfter"].values()))
        mappings.append({
            "id": mapping_id(keys[(m.service, m.target)], m.target, m.container),
            "key": keys[(m.service, m.target)],
            "service": m.service,
            "target": m.target,
            "container": m.container,
            "type": m.type,
            "pkg": m.out,
            "drv": m.drv,
            "properties": infrastructure[m.target]["containers"].get(m.container, {}),
            "dependsOn": sorted(i for dep in ordering for i in ids_of_service.get(dep, [])),
            "deployState": bool(svc.get("deployState")),
            # only when set, so manifests of models without them stay as they were
            **({"healthCheck": svc["healthCheck"]} if svc.get("healthCheck") else {}),
            **({"tags": svc["tags"]} if svc.get("tags") else {}),
        })
    mappings.sort(key=lambda x: (x["target"], x["service"], x["container"]))
    targets = {
        name: {
            "system": t["system"],
            "numOfCores": t["numOfCores"],
            "clientInterface": t["clientInterface"],
            "targetProperty": t["targetProperty"],
            "properties": t["properties"],
            "containers": t["containers"],
            "profile": None,
        }
        for name, t in sorted(infrastructure.items())
    }
    return {"version": MANIFEST_VERSION, "profile": profile, "mappings": mappings, "targets": targets}


def profile_manifest(manifest: dict[str, Any], target: str) -> dict[str, Any]:
    """What a target keeps in its profile: the services deployed there (profilemanifest.json)."""
    return {
        "version": MANIFEST_VERSION,
        "profile": manifest["profile"],
        "target": target,
        "services": [
            {k: m[k] for k in SERVICE_FIELDS}
            for m in manifest["mappings"] if m["target"] == target
        ],
    }


def services_on(manifest: dict[str, Any], target: str) -> list[str]:
    """Store paths of the packages a target's profile joins (each once)."""
    return sorted({m["pkg"] for m in manifest["mappings"] if m["target"] == target})


def dumps(manifest: dict[str, Any]) -> str:
    """Canonical text: equal deployments give equal text, hence the same store path."""
    return json.dumps(manifest, sort_keys=True, indent=1)
