# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The target's Disnix profile: /nix/var/nix/profiles/disnix/<profile>, its generations and
the profile manifest inside the store path it points to: Disnix's version-2
profilemanifest.xml, and profilemanifest.json (this collection's, with the container
properties and package services too) when this collection made the profile.

Runs on targets: Python 3.8+, standard library only.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.disnix.deploy.plugins.module_utils import disnix_xml, nix_tools
from ansible_collections.disnix.deploy.plugins.module_utils.activation_types import Operation
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError, check_profile_name

# Module attribute (not a default argument) so tests can point it elsewhere.
PROFILES_DIR = "/nix/var/nix/profiles/disnix"
MANIFEST_NAME = "profilemanifest.json"
XML_MANIFEST_NAME = disnix_xml.PROFILE_MANIFEST_XML
# The fields of one service in a profile manifest. The controller writes them
# (plugin_utils/manifest.py imports this) and the targets read them: one definition.
# dependsOn: the mapping ids it activates after; dependsOnRefs/connectsToRefs: the same as
# Disnix's {service = key; target; container} mappings (profilemanifest.xml is made of them)
SERVICE_FIELDS = ("key", "service", "pkg", "type", "container", "properties", "dependsOn",
                  "dependsOnRefs", "connectsToRefs", "deployState")


def profile_link(profile: str, profiles_dir: str | None = None) -> str:
    """Path of the profile symlink of ``profile``."""
    return os.path.join(profiles_dir or PROFILES_DIR, check_profile_name(profile))


def current_path(link: str) -> str | None:
    """The store path the profile points to (through its generation link), or None."""
    if not os.path.lexists(link):
        return None
    target = os.path.realpath(link)
    return target if os.path.exists(target) else None


def generations(link: str) -> list[int]:
    """Generation numbers of the profile (from ``<profile>-<N>-link``), ascending."""
    directory, name = os.path.split(link)
    pattern = re.compile(r"^%s-(\d+)-link$" % re.escape(name))
    try:
        entries = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(int(m.group(1)) for m in (pattern.match(e) for e in entries) if m)


def current_generation(link: str) -> int | None:
    """The generation the profile symlink names, or None."""
    try:
        target = os.readlink(link)
    except OSError:
        return None
    match = re.match(r"^%s-(\d+)-link$" % re.escape(os.path.basename(link)), os.path.basename(target))
    return int(match.group(1)) if match else None


def read_manifest(store_path: str | None, target: str | None = None) -> dict | None:
    """The profile manifest of a profile store path, or None if it has none: this
    collection's profilemanifest.json when there is one, else the profilemanifest.xml upstream
    Disnix wrote (its container properties are {}; ``target``, default the target name in the
    store path as upstream names it, stands for the mappings on this target). The one reader
    every module uses."""
    if not store_path:
        return None
    path = os.path.join(store_path, MANIFEST_NAME)
    try:
        with open(path, "r", encoding="utf-8") as handle:
            manifest = json.load(handle)
    except FileNotFoundError:
        return _read_xml_manifest(store_path, target)
    except (OSError, ValueError) as exc:
        raise TargetError("cannot read the profile manifest %s: %s" % (path, exc))
    if not isinstance(manifest, dict) or not isinstance(manifest.get("services", []), list):
        raise TargetError("the profile manifest %s is not a disnix.deploy profile manifest" % path)
    return manifest


def _read_xml_manifest(store_path: str, target: str | None) -> dict | None:
    path = os.path.join(store_path, XML_MANIFEST_NAME)
    try:
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise TargetError("cannot read the profile manifest %s: %s" % (path, exc))
    return disnix_xml.parse_profile_manifest_xml(text, target or disnix_xml.target_of_profile(store_path), path)


def manifest_services(manifest: dict | None) -> list[dict]:
    """The services of a profile manifest (none for a missing manifest)."""
    if not manifest:
        return []
    return [s for s in manifest.get("services") or [] if isinstance(s, dict)]


def service_operation(service: dict, op: str, timeout: float, engine: str = "builtin") -> Operation:
    """``op`` on one service of a profile manifest."""
    return Operation(op=op, pkg=service.get("pkg") or "", type=service.get("type") or "",
                     container=service.get("container") or "", properties=service.get("properties") or {},
                     service=service.get("service") or "", key=service.get("key") or "", timeout=timeout,
                     engine=engine)


def switch_back(link: str, generation: int | None, made: int | None, tmpdir: str | None = None) -> None:
    """Undo a profile switch: point the profile at ``generation`` again (no profile at all
    when None) and remove the generation ``made`` by the switch, so the profile is exactly
    as it was."""
    if generation is None:
        if os.path.lexists(link):
            os.unlink(link)
    elif current_generation(link) != generation:
        nix_env = nix_tools.find_tool("nix-env")
        nix_tools.run_checked([nix_env, "-p", link, "--switch-generation", str(generation)], tmpdir=tmpdir)
    if made is not None and made != generation:
        generation_link = "%s-%d-link" % (link, made)
        if os.path.lexists(generation_link):
            os.unlink(generation_link)


def set_profile(link: str, path: str, tmpdir: str | None = None) -> None:
    """Point the profile at ``path`` with nix-env (a new generation); creates the directory."""
    directory = os.path.dirname(link)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise TargetError("cannot create the profile directory %s: %s" % (directory, exc.strerror or exc))
    nix_env = nix_tools.find_tool("nix-env")
    nix_tools.run_checked([nix_env, "-p", link, "--set", path], tmpdir=tmpdir)
