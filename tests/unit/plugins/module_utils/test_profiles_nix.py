# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nix tools and profiles against this machine's real Nix store."""

from __future__ import annotations

import os

import pytest

from ansible_collections.disnix.deploy.plugins.module_utils import nix_tools, profiles
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError
from ansible_collections.disnix.deploy.tests.unit.plugins.module_utils.target_fixtures import needs_nix

FAKE = "/nix/store/00000000000000000000000000000000-not-there"


@needs_nix
def test_invalid_paths(store_profile):
    valid = store_profile()
    assert nix_tools.invalid_paths([valid, FAKE, valid + "/"]) == [FAKE]
    assert nix_tools.invalid_paths([]) == []


@needs_nix
def test_invalid_paths_split_only_beyond_argv_limit(store_profile, monkeypatch):
    valid = store_profile()
    fakes = ["/nix/store/%032d-x" % i for i in range(5)]
    monkeypatch.setattr(nix_tools, "MAX_ARGV_BYTES", 100)
    assert nix_tools.invalid_paths([valid] + fakes) == fakes


def test_non_store_paths_are_rejected():
    with pytest.raises(TargetError) as failure:
        nix_tools.invalid_paths(["/tmp/x", "/nix/store/abc-foo/bin/x"])
    assert "not store paths" in failure.value.msg and "/tmp/x" in failure.value.msg


def test_missing_tool_names_the_bootstrap(monkeypatch):
    monkeypatch.setattr(nix_tools, "which", lambda name: None)
    with pytest.raises(TargetError) as failure:
        nix_tools.find_tool("nix-store")
    assert failure.value.msg.startswith("nix-store not found on ") and "run playbooks/bootstrap.yml" in failure.value.msg


def test_search_path_has_nix_locations(monkeypatch):
    monkeypatch.setenv("PATH", "/only/here")
    dirs = nix_tools.search_path()
    assert dirs[0] == "/only/here" and "/nix/var/nix/profiles/default/bin" in dirs and dirs[-1] == "/usr/bin"


@needs_nix
def test_version_and_system():
    assert nix_tools.nix_version()[0].isdigit()
    assert "-" in nix_tools.current_system()


@needs_nix
def test_set_profile_generations_and_manifest(lab, store_profile):
    link = profiles.profile_link("default")
    assert profiles.current_path(link) is None and profiles.generations(link) == []
    assert profiles.read_manifest(None) is None
    first = store_profile([{"key": "k1", "service": "s1", "pkg": "/nix/store/x", "type": "echo"}])
    profiles.set_profile(link, first)
    assert profiles.current_path(link) == first
    assert profiles.read_manifest(first)["services"][0]["service"] == "s1"
    second = store_profile()
    profiles.set_profile(link, second)
    assert profiles.current_path(link) == second
    assert profiles.generations(link) == [1, 2] and profiles.current_generation(link) == 2
    assert profiles.manifest_services(profiles.read_manifest(second)) == []


def test_profile_names_are_checked():
    for bad in ("", "a/b", "..", "x y"):
        with pytest.raises(TargetError):
            profiles.profile_link(bad)
    assert profiles.profile_link("test-1.x", "/p") == "/p/test-1.x"


def test_broken_manifest(tmp_path):
    (tmp_path / "profilemanifest.json").write_text("{ not json")
    with pytest.raises(TargetError) as failure:
        profiles.read_manifest(str(tmp_path))
    assert os.path.join(str(tmp_path), "profilemanifest.json") in failure.value.msg
