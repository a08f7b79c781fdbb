# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""disnix.deploy.target_state through AnsibleModule, against the real Nix store."""

from __future__ import annotations

import json
import os

from ansible_collections.disnix.deploy.plugins.module_utils import profiles
from ansible_collections.disnix.deploy.plugins.modules import target_state
from ansible_collections.disnix.deploy.tests.unit.plugins.module_utils.target_fixtures import needs_nix, run_module

FAKE = "/nix/store/00000000000000000000000000000000-not-there"


@needs_nix
def test_fresh_target(lab, capsys):
    result = run_module(target_state.main, {"tmpdir": lab.tmpdir}, capsys)
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["profile_path"] is None and result["profile_manifest"] is None
    assert result["generations"] == [] and result["generation"] is None
    assert result["lock"] is None and result["journal"] == [] and result["invalid_paths"] == []
    assert result["lock_file"] == os.path.join(lab.tmpdir, "disnix-default.lock")
    assert result["nix_version"] is None and result["system"] is None


@needs_nix
def test_deployed_locked_target(lab, capsys, store_profile):
    path = store_profile([{"key": "k1", "name": "hello", "pkg": "/nix/store/x-hello", "type": "process",
                           "container": "process", "properties": {}, "dependsOn": []}])
    profiles.set_profile(profiles.profile_link("default"), path)
    with open(os.path.join(lab.tmpdir, "disnix-default.lock"), "w", encoding="utf-8") as handle:
        json.dump({"run_id": "r1", "controller": "c", "user": "u", "pid": 1, "since": 2, "profile": "default"}, handle)
    with open(os.path.join(lab.tmpdir, "disnix-default.journal"), "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"run_id": "r1", "wave": 0, "op": "activate", "service": "hello"}) + "\n")
    params = {"tmpdir": lab.tmpdir, "paths": [path, FAKE], "query_system": True, "query_nix_version": True}
    result = run_module(target_state.main, params, capsys)
    assert not result.get("failed"), result
    assert result["profile_path"] == path and result["generations"] == [1] and result["generation"] == 1
    assert result["profile_manifest"]["services"][0]["name"] == "hello"
    assert result["lock"]["run_id"] == "r1" and result["journal"][0]["service"] == "hello"
    assert result["invalid_paths"] == [FAKE]
    assert "-" in result["system"] and result["nix_version"][0].isdigit()


@needs_nix
def test_a_target_that_already_runs_the_planned_profile_has_its_paths_unchecked(lab, capsys, store_profile):
    path = store_profile([])
    profiles.set_profile(profiles.profile_link("default"), path)
    # FAKE stands for a path of the planned closure: with the profile already planned it is
    # not asked about (a profile's closure stays valid), with another plan it is
    same = run_module(target_state.main, {"tmpdir": lab.tmpdir, "paths": [path, FAKE], "planned_profile": path}, capsys)
    assert not same.get("failed"), same
    assert same["invalid_paths"] == [] and same["profile_path"] == path
    other = run_module(target_state.main, {"tmpdir": lab.tmpdir, "paths": [path, FAKE], "planned_profile": FAKE}, capsys)
    assert other["invalid_paths"] == [FAKE]
    bad = run_module(target_state.main, {"tmpdir": lab.tmpdir, "paths": ["/etc/passwd"], "planned_profile": path}, capsys)
    assert bad["failed"] and "not store paths" in bad["msg"]


def test_non_store_path_fails(lab, capsys):
    result = run_module(target_state.main, {"tmpdir": lab.tmpdir, "paths": ["/etc/passwd"]}, capsys)
    assert result["failed"] and "not store paths" in result["msg"]


@needs_nix
def test_a_target_the_run_changes_is_locked_by_its_query(lab, capsys):
    lock = {"run_id": "r2", "planned_profile": FAKE, "controller": "ctl", "user": "alice", "log_dir": lab.log_dir}
    checked = run_module(target_state.main, {"tmpdir": lab.tmpdir, "lock": lock, "_ansible_check_mode": True}, capsys)
    assert not checked.get("failed"), checked
    assert checked["locked"] is False and not os.path.exists(checked["lock_file"])
    result = run_module(target_state.main, {"tmpdir": lab.tmpdir, "lock": lock}, capsys)
    assert not result.get("failed"), result
    assert result["locked"] is True and result["changed"] is True and result["lock"]["run_id"] == "r2"
    with open(result["lock_file"], encoding="utf-8") as handle:
        assert json.load(handle)["controller"] == "ctl"
    again = run_module(target_state.main, {"tmpdir": lab.tmpdir, "lock": dict(lock, run_id="r3")}, capsys)
    assert again["locked"] is False and again["lock"]["run_id"] == "r2" and "lock_refused" not in again
