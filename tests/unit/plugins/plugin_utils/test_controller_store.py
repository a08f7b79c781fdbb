# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Target profiles built with the controller's real Nix."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ansible_collections.disnix.deploy.plugins.plugin_utils import controller_store as store

pytestmark = pytest.mark.skipif(shutil.which("nix-store") is None, reason="needs Nix")


def package(tmp_path, name: str) -> str:
    """A store path with bin/wrapper, as every Dysnomia wrapper service has."""
    root = tmp_path / name
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "wrapper").write_text(f"#!/bin/sh\necho {name} {tmp_path.name}\n")
    return subprocess.run(["nix-store", "--add", str(root)], capture_output=True, text=True, check=True).stdout.strip()


def mapping(service: str, pkg: str) -> dict:
    return {"key": service + "-k", "service": service, "target": "t1", "container": "wrapper", "type": "wrapper",
            "pkg": pkg, "properties": {}, "dependsOn": []}


def test_two_services_shipping_the_same_file_make_one_profile(tmp_path):
    first, second = package(tmp_path, "s1"), package(tmp_path, "s3")
    manifest = {"version": 1, "profile": "default", "targets": {"t1": {"profile": None}},
                "mappings": [mapping("s1", first), mapping("s3", second)]}
    profiles = store.build_profiles(manifest)
    profile = profiles["t1"]
    assert manifest["targets"]["t1"]["profile"] == profile
    # no collision: one of them provides bin/wrapper, both stay in the profile's closure
    assert os.path.realpath(os.path.join(profile, "bin", "wrapper")).startswith((first, second))
    closure = store.closure(profile)
    assert first in closure and second in closure
    assert os.path.exists(os.path.join(profile, "profilemanifest.json"))
