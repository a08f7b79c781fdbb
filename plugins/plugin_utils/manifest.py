# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployment manifest: every (service, target, container) mapping of one deployment.

A manifest is plain JSON and self-contained: it carries what a later run needs to
deactivate or re-activate its mappings (package, type, container properties, ordering
edges) and each target's profile, so rollback needs nothing but the manifest itself.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from ansible_collections.disnix.deploy.plugins.module_utils import disnix_xml
from ansible_collections.disnix.deploy.plugins.module_utils.profiles import SERVICE_FIELDS
from ansible_collections.disnix.deploy.plugins.plugin_utils.deployment_model import Architecture, Mapping

MANIFEST_VERSION = 1
# fields that manifests of earlier versions lack
_FIELD_DEFAULTS: dict[str, Any] = {"dependsOnRefs": [], "connectsToRefs": [], "deployState": False}


def service_key(mapping: Mapping) -> str:
    """Identity of a service build, as Disnix computes it (the evaluation does): the sha256 of
    builtins.toXML { name type pkg dependsOn }, dependsOn naming the keys, targets and
    containers of what it activates after. Both tools agree on what is the same service."""
    if not mapping.key:
        raise ValueError(f"mapping {mapping.service} on {mapping.target} has no key (not evaluated)")
    return mapping.key


def mapping_id(key: str, target: str, container: str) -> str:
    return disnix_xml.mapping_id(key, target, container)


def compose(arch: Architecture, infrastructure: dict[str, dict], profile: str) -> dict[str, Any]:
    """The manifest of an evaluated architecture; profiles are filled in after they are built."""
    keys = {(m.service, m.target): service_key(m) for m in arch.mappings}
    ids_of_service: dict[str, list[str]] = {}
    refs_of_service: dict[str, list[dict[str, str]]] = {}
    for m in arch.mappings:
        ids_of_service.setdefault(m.service, []).append(mapping_id(keys[(m.service, m.target)], m.target, m.container))
        refs_of_service.setdefault(m.service, []).append(
            {"service": keys[(m.service, m.target)], "target": m.target, "container": m.container})

    def refs(deps: list[str]) -> list[dict[str, str]]:
        return [r for dep in deps for r in refs_of_service.get(dep, [])]

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
            # as Disnix's manifest lists them (its dependsOn includes activatesAfter)
            "dependsOnRefs": refs(ordering),
            "connectsToRefs": refs(sorted(set(svc["connectsTo"].values()))),
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
    """What a target keeps in its profile: the services deployed there (profilemanifest.json;
    profilemanifest.xml is made from it by disnix_xml.profile_manifest_xml)."""
    return {
        "version": MANIFEST_VERSION,
        "profile": manifest["profile"],
        "target": target,
        "services": [
            {k: m[k] if k in m else _FIELD_DEFAULTS[k] for k in SERVICE_FIELDS}
            for m in manifest["mappings"] if m["target"] == target
        ],
    }


def services_on(manifest: dict[str, Any], target: str) -> list[str]:
    """Store paths of the packages a target's profile joins (each once)."""
    return sorted({m["pkg"] for m in manifest["mappings"] if m["target"] == target})


def dumps(manifest: dict[str, Any]) -> str:
    """Canonical text: equal deployments give equal text, hence the same store path."""
    return json.dumps(manifest, sort_keys=True, indent=1)


# ---------------------------------------------------------------------------- manifest.xml

def to_xml(manifest: dict[str, Any]) -> str:
    """The manifest as Disnix's version-2 manifest.xml (what the coordinator profile holds and
    upstream disnix-env --rollback, disnix-visualize and disnix-query read). Upstream lists no
    package services in serviceMappings; ours go to <packageMappings>, which upstream's parser
    skips, so reading our own generations back loses nothing."""
    root = ET.Element("manifest", version="2")
    profiles = ET.SubElement(root, "profiles")
    for name, t in sorted(manifest["targets"].items()):
        if t.get("profile"):
            disnix_xml.text_child(profiles, "profile", t["profile"]).set("name", name)
    services = ET.SubElement(root, "services")
    seen: set[str] = set()
    for m in sorted(manifest["mappings"], key=lambda x: x["key"]):
        if m["key"] not in seen:
            seen.add(m["key"])
            disnix_xml.service_element(services, m["key"], {
                "name": m["service"], "pkg": m["pkg"], "type": m["type"],
                "dependsOn": m.get("dependsOnRefs") or [], "connectsTo": m.get("connectsToRefs") or []})
    infra = ET.SubElement(root, "infrastructure")
    for name, t in sorted(manifest["targets"].items()):
        target = ET.SubElement(infra, "target", name=name)
        disnix_xml.typed_value(ET.SubElement(target, "properties"), t.get("properties") or {})
        containers = ET.SubElement(target, "containers")
        for cname, props in sorted((t.get("containers") or {}).items()):
            disnix_xml.typed_value(ET.SubElement(containers, "container", name=cname), props or {})
        for field in ("system", "numOfCores", "clientInterface", "targetProperty"):
            disnix_xml.text_child(target, field, str(t.get(field, "")))
    kinds = {"serviceMappings": ET.SubElement(root, "serviceMappings"),
             "snapshotMappings": ET.SubElement(root, "snapshotMappings"),
             "packageMappings": ET.SubElement(root, "packageMappings")}
    for m in manifest["mappings"]:
        ref = {"service": m["key"], "target": m["target"], "container": m["container"]}
        disnix_xml.mapping_element(kinds["packageMappings" if m["type"] == "package" else "serviceMappings"], ref)
        if m.get("deployState") and m["type"] != "package":
            disnix_xml.mapping_element(kinds["snapshotMappings"], dict(ref, component=m["pkg"].rsplit("/", 1)[-1][33:]))
    ET.SubElement(root, "disnixDeploy", version=str(MANIFEST_VERSION), profile=manifest.get("profile") or "default")
    return disnix_xml.to_text(root)


class ManifestFormatError(ValueError):
    """A coordinator manifest that cannot be read; the message names the file."""


def from_xml(text: str, path: str, profile: str = "default") -> dict[str, Any]:
    """A manifest.xml (upstream's or ours) as this collection's manifest. Upstream's has no
    package services in its mappings (they are only in the target profiles) and no
    derivations; container properties come from its infrastructure."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ManifestFormatError(f"cannot read the coordinator manifest {path}: not XML ({exc})") from None
    if root.tag != "manifest" or root.get("version") != "2":
        raise ManifestFormatError(f"cannot read the coordinator manifest {path}: not a version-2 Disnix manifest "
                                  f"(root <{root.tag} version={root.get('version')!r}>; disnix-convert converts version 1)")
    profiles = {p.get("name") or "": (p.text or "").strip() for p in root.iter("profile")}
    targets: dict[str, dict[str, Any]] = {}
    for t in root.findall("infrastructure/target"):
        cores = (t.findtext("numOfCores") or "1").strip()
        targets[t.get("name") or ""] = {
            "system": (t.findtext("system") or "").strip(),
            "numOfCores": int(cores) if cores.isdigit() else 1,
            "clientInterface": (t.findtext("clientInterface") or "").strip(),
            "targetProperty": (t.findtext("targetProperty") or "").strip(),
            "properties": disnix_xml.parse_typed(t.find("properties")) if t.find("properties") is not None else {},
            "containers": {c.get("name") or "": disnix_xml.parse_typed(c) for c in t.findall("containers/container")},
            "profile": profiles.get(t.get("name") or "") or None,
        }
    services = disnix_xml.parse_services(root.find("services"))
    snapshots = {(m.get("service"), m.get("target"), m.get("container"))
                 for m in disnix_xml.parse_mappings(root.find("snapshotMappings"))}
    mappings = []
    for kind in ("serviceMappings", "packageMappings"):
        for m in disnix_xml.parse_mappings(root.find(kind)):
            key, target, container = m.get("service", ""), m.get("target", ""), m.get("container", "")
            s = services.get(key)
            if s is None or target not in targets:
                raise ManifestFormatError(f"cannot read the coordinator manifest {path}: mapping of {key} to {target} names "
                                          "a service or target it does not define")
            props = targets[target]["containers"].get(container, {})
            mappings.append({
                "id": mapping_id(key, target, container), "key": key, "service": s["name"], "target": target,
                "container": container, "type": s["type"], "pkg": s["pkg"], "drv": "",
                "properties": props if isinstance(props, dict) else {},
                "dependsOn": sorted(mapping_id(r.get("service", ""), r.get("target", ""), r.get("container", ""))
                                    for r in s["dependsOn"]),
                "dependsOnRefs": s["dependsOn"], "connectsToRefs": s["connectsTo"],
                "deployState": (key, target, container) in snapshots,
            })
    mappings.sort(key=lambda x: (x["target"], x["service"], x["container"]))
    ours = root.find("disnixDeploy")
    return {"version": MANIFEST_VERSION, "profile": ours.get("profile") if ours is not None else profile,
            "mappings": mappings, "targets": dict(sorted(targets.items()))}
