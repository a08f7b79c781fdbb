# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""disnix.deploy.lock through AnsibleModule: Disnix's locking scenario."""

from __future__ import annotations

import os

from ansible_collections.disnix.deploy.plugins.module_utils.profiles import SERVICE_FIELDS
from ansible_collections.disnix.deploy.plugins.modules import lock
from ansible_collections.disnix.deploy.tests.unit.plugins.module_utils.target_fixtures import run_module


def args(lab, **kw):
    base = {"tmpdir": lab.tmpdir, "log_dir": lab.log_dir, "run_id": "run-1", "controller": "ctl", "controller_pid": 99, "user": "bob"}
    base.update(kw)
    return base


def deploy(lab):
    # the shape the controller writes (plugin_utils/manifest.py uses the same SERVICE_FIELDS)
    service = {"key": "kw", "service": "locker", "pkg": lab.wrapper_pkg("locker"), "type": "wrapper",
               "container": "wrapper", "properties": lab.wrapper_props(), "dependsOn": [],
               "dependsOnRefs": [], "connectsToRefs": [], "deployState": False}
    assert tuple(service) == SERVICE_FIELDS
    lab.deploy_manifest([service])


def test_lock_second_lock_unlock_second_unlock(lab, capsys):
    deploy(lab)
    first = run_module(lock.main, args(lab), capsys)
    assert first["changed"] and not first.get("failed")
    assert first["lock"]["run_id"] == "run-1" and first["lock"]["pid"] == 99
    assert first["services"][0]["service"] == "locker" and first["services"][0]["ok"]

    second = run_module(lock.main, args(lab, run_id="run-2"), capsys)
    assert second["failed"] and "locked by run run-1" in second["msg"] and "controller ctl" in second["msg"]
    assert second["lock_holder"]["user"] == "bob"

    unlocked = run_module(lock.main, args(lab, state="unlocked"), capsys)
    assert unlocked["changed"] and unlocked["lock"] is None
    again = run_module(lock.main, args(lab, state="unlocked"), capsys)
    assert not again["changed"] and not again.get("failed")
    assert lab.wrapper_ops() == ["lock wrapper", "unlock wrapper"]
    assert [(e["op"], e["service"], e["ok"]) for e in lab.log_entries()] == [("lock", "locker", True), ("unlock", "locker", True)]


def test_veto(lab, capsys):
    deploy(lab)
    with open(lab.path("state", "lock_status"), "w", encoding="utf-8") as handle:
        handle.write("2\n")
    result = run_module(lock.main, args(lab), capsys)
    assert result["failed"] and result["refused_service"] == "locker" and "refused" in result["msg"]
    assert not os.path.exists(os.path.join(lab.tmpdir, "disnix-default.lock"))


def test_check_mode(lab, capsys):
    deploy(lab)
    result = run_module(lock.main, args(lab, _ansible_check_mode=True), capsys)
    assert result["changed"] and lab.wrapper_ops() == []
    assert not os.path.exists(os.path.join(lab.tmpdir, "disnix-default.lock"))


def test_force_unlock(lab, capsys):
    run_module(lock.main, args(lab, run_id="dead"), capsys)
    refused = run_module(lock.main, args(lab, state="unlocked"), capsys)
    assert refused["failed"] and "without force" in refused["msg"]
    forced = run_module(lock.main, args(lab, state="unlocked", force=True), capsys)
    assert forced["changed"] and not forced.get("failed")


def test_tmpdir_from_environment(lab, capsys, monkeypatch):
    monkeypatch.setenv("TMPDIR", lab.tmpdir)
    result = run_module(lock.main, {"run_id": "r", "log_dir": lab.log_dir}, capsys)
    assert result["lock_file"] == os.path.join(lab.tmpdir, "disnix-default.lock")
    run_module(lock.main, {"run_id": "r", "log_dir": lab.log_dir, "state": "unlocked"}, capsys)
