# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disnix's version-2 XML formats: typed values, the profile manifest a target keeps
(profilemanifest.xml) and its pieces the coordinator manifest (manifest.xml) shares.

The shapes are those upstream's xsl/generate{,profile}manifest.xsl give and libmanifest /
libprofilemanifest parse: ``<service name="KEY">`` with name, pkg, type, dependsOn,
connectsTo, providesContainers; ``<mapping>`` elements whose children name the service key,
target and container; properties as ``<property name=... type=...>`` (NixXML's verbose form).

Runs on targets (reading) and the controller (writing): Python 3.8+, standard library only.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError

PROFILE_MANIFEST_XML = "profilemanifest.xml"
# store path names are "<32 hash chars>-<name>"
_HASH_PREFIX = 33


def typed_value(element: ET.Element, value: object) -> None:
    """``value`` as NixXML's verbose form inside ``element`` (its type attribute and content)."""
    if isinstance(value, bool):
        element.set("type", "bool")
        element.text = "true" if value else "false"
    elif isinstance(value, int):
        element.set("type", "int")
        element.text = str(value)
    elif isinstance(value, float):
        element.set("type", "float")
        element.text = repr(value)
    elif isinstance(value, str):
        element.set("type", "string")
        element.text = value
    elif isinstance(value, (list, tuple)):
        element.set("type", "list")
        for item in value:
            typed_value(ET.SubElement(element, "elem"), item)
    elif isinstance(value, dict):
        element.set("type", "attrs")
        for name in sorted(value):
            typed_value(ET.SubElement(element, "property", name=str(name)), value[name])
    # null: an element without type or content, as the XSL leaves it


def parse_typed(element: ET.Element) -> object:
    """The value of an element in NixXML's verbose form (no type: a string)."""
    kind = element.get("type")
    text = element.text or ""
    if kind == "attrs":
        return {p.get("name") or "": parse_typed(p) for p in element.findall("property")}
    if kind == "list":
        return [parse_typed(e) for e in element.findall("elem")]
    if kind == "int":
        try:
            return int(text.strip())
        except ValueError:
            return text
    if kind == "float":
        try:
            return float(text.strip())
        except ValueError:
            return text
    if kind == "bool":
        return text.strip() == "true"
    return text


def text_child(parent: ET.Element, tag: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = text
    return child


def mapping_element(parent: ET.Element, mapping: dict) -> None:
    """A ``<mapping>``: one child per field, in the (sorted) order builtins.toXML gives."""
    element = ET.SubElement(parent, "mapping")
    for name in sorted(mapping):
        if mapping[name] is not None:
            text_child(element, name, str(mapping[name]))


def parse_mappings(element: ET.Element | None) -> list[dict]:
    """The ``<mapping>`` children of ``element`` as dicts of their fields."""
    if element is None:
        return []
    return [{child.tag: (child.text or "") for child in m} for m in element.findall("mapping")]


def service_element(parent: ET.Element, key: str, service: dict) -> None:
    """``<service name=KEY>`` from {name, pkg, type, dependsOn, connectsTo, providesContainers}."""
    element = ET.SubElement(parent, "service", name=key)
    text_child(element, "name", service["name"])
    text_child(element, "pkg", service["pkg"])
    text_child(element, "type", service["type"])
    for kind in ("dependsOn", "connectsTo"):
        edges = ET.SubElement(element, kind)
        for mapping in service.get(kind) or []:
            mapping_element(edges, mapping)
    provides = ET.SubElement(element, "providesContainers")
    for name, props in sorted((service.get("providesContainers") or {}).items()):
        typed_value(ET.SubElement(provides, "container", name=name), props)


def parse_services(element: ET.Element | None) -> dict:
    """{key: {name, pkg, type, dependsOn, connectsTo}} of a ``<services>`` element."""
    services = {}
    for s in [] if element is None else element.findall("service"):
        services[s.get("name") or ""] = {
            "name": s.findtext("name") or "",
            "pkg": s.findtext("pkg") or "",
            "type": s.findtext("type") or "",
            "dependsOn": parse_mappings(s.find("dependsOn")),
            "connectsTo": parse_mappings(s.find("connectsTo")),
        }
    return services


def _indent(element: ET.Element, depth: int = 0) -> None:
    # ET.indent is Python 3.9+; elements holding text keep it as it is
    if len(element):
        element.text = "\n" + "  " * (depth + 1)
        for child in element:
            _indent(child, depth + 1)
            child.tail = "\n" + "  " * (depth + 1)
        element[-1].tail = "\n" + "  " * depth


def to_text(root: ET.Element) -> str:
    """The document, indented, with an XML declaration."""
    _indent(root)
    return '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def mapping_id(key: str, target: str, container: str) -> str:
    """The identity of one mapping (the controller's manifest uses the same)."""
    return "%s:%s:%s" % (key, target, container)


def profile_manifest_xml(target: str, services: list) -> str:
    """A target's profilemanifest.xml from the services of its profile manifest (the fields of
    profiles.SERVICE_FIELDS). As upstream's: package services are not listed, and mappings on
    this target name no target."""
    root = ET.Element("profilemanifest", version="2")
    services_el = ET.SubElement(root, "services")
    mappings_el = ET.SubElement(root, "serviceMappings")
    snapshots_el = ET.SubElement(root, "snapshotMappings")

    def local(refs: list) -> list:
        return [{k: v for k, v in r.items() if not (k == "target" and v == target)} for r in refs or []]

    seen = set()
    for s in sorted(services, key=lambda x: (x["key"], x["container"])):
        if s["type"] == "package":
            continue
        if s["key"] not in seen:
            seen.add(s["key"])
            service_element(services_el, s["key"], {
                "name": s["service"], "pkg": s["pkg"], "type": s["type"],
                "dependsOn": local(s.get("dependsOnRefs") or []),
                "connectsTo": local(s.get("connectsToRefs") or [])})
        mapping_element(mappings_el, {"service": s["key"], "container": s["container"]})
        if s.get("deployState"):
            mapping_element(snapshots_el, {"service": s["key"], "container": s["container"],
                                           "component": os.path.basename(s["pkg"])[_HASH_PREFIX:]})
    return to_text(root)


def parse_profile_manifest_xml(text: str, target: str, path: str) -> dict:
    """A profilemanifest.xml (upstream's or ours) as the profile manifest dict the target code
    uses. Container properties are not in it: they are {} (the controller has them)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise TargetError("cannot read the profile manifest %s: not XML (%s)" % (path, exc))
    if root.tag != "profilemanifest" or root.get("version") != "2":
        raise TargetError("the profile manifest %s is not a version-2 Disnix profile manifest (root <%s version=%r>)"
                          % (path, root.tag, root.get("version")))
    services = parse_services(root.find("services"))
    snapshots = {(m.get("service"), m.get("container")) for m in parse_mappings(root.find("snapshotMappings"))}

    def refs(mappings: list) -> list:
        return [{"service": m.get("service", ""), "target": m.get("target") or target, "container": m.get("container", "")}
                for m in mappings]

    result = []
    for m in parse_mappings(root.find("serviceMappings")):
        key, container = m.get("service", ""), m.get("container", "")
        s = services.get(key)
        if s is None:
            raise TargetError("the profile manifest %s maps service %s, which its <services> does not have" % (path, key))
        depends = refs(s["dependsOn"])
        result.append({
            "key": key, "service": s["name"], "pkg": s["pkg"], "type": s["type"], "container": container,
            "properties": {},
            "dependsOn": sorted(mapping_id(r["service"], r["target"], r["container"]) for r in depends),
            "dependsOnRefs": depends, "connectsToRefs": refs(s["connectsTo"]),
            "deployState": (key, container) in snapshots,
        })
    return {"version": 2, "target": target, "services": result, "format": "xml"}


def target_of_profile(store_path: str) -> str:
    """The target name upstream gives a profile's store path (``<hash>-<target>``)."""
    return os.path.basename(store_path.rstrip("/"))[_HASH_PREFIX:]
