# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key files outside the store on a target (module_utils/service_keys.py), on real files:
mode before content, the record, journaled changes that rollback and recovery undo, and
values that never reach the journal, the record or a result."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.disnix.deploy.plugins.module_utils import service_keys
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError
from ansible_collections.disnix.deploy.plugins.module_utils.transition_journal import KEYS_WAVE, Journal
from ansible_collections.disnix.deploy.plugins.module_utils.transition_steps import Context, rollback

SECRET = "s3cr3t-\u00e9-value"


def keys_for(tmp_path, **values):
    raw = {svc: [{"name": "pw", "value": v, "dest": str(tmp_path / "keys" / svc / "pw")}] for svc, v in values.items()}
    return [k for ks in service_keys.normalize(raw).values() for k in ks]


def everything_written(tmp_path) -> str:
    """Every byte under tmp_path that is not a key file itself (journal, record, backups aside)."""
    out = []
    for root, _dirs, files in os.walk(tmp_path):
        for name in files:
            path = os.path.join(root, name)
            if "/keys/" in path and not name.startswith("."):
                continue
            with open(path, "rb") as handle:
                out.append(handle.read().decode("utf-8", "replace"))
    return "\n".join(out)


def test_a_key_is_written_private_and_recorded_without_its_value(tmp_path):
    journal = Journal(str(tmp_path / "j.journal"))
    record = str(tmp_path / "record")
    keys = keys_for(tmp_path, api=SECRET)
    assert [s["action"] for s in service_keys.plan("default", keys, record)] == ["create"]
    result = service_keys.apply(journal, "run-1", "default", keys, record)
    dest = keys[0]["dest"]
    assert result["changed"] and result["keys"] == [{"service": "api", "name": "pw", "dest": dest, "action": "create"}]
    with open(dest, encoding="utf-8") as handle:
        assert handle.read() == SECRET
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert service_keys.read_record("default", record) == {dest: "api"}
    assert SECRET not in json.dumps(result) and SECRET not in everything_written(tmp_path)
    # the same keys again: nothing to do, nothing journaled
    assert service_keys.plan("default", keys, record) == []
    before = len(journal.entries())
    assert service_keys.apply(journal, "run-2", "default", keys, record)["changed"] is False
    assert len(journal.entries()) == before


def test_a_changed_mode_or_value_is_replaced_and_rollback_puts_the_old_file_back(tmp_path):
    journal = Journal(str(tmp_path / "j.journal"))
    record = str(tmp_path / "record")
    service_keys.apply(journal, "run-1", "default", keys_for(tmp_path, api="old-value"), record)
    dest = keys_for(tmp_path, api="x")[0]["dest"]
    journal.clear_run("run-1")
    new = keys_for(tmp_path, api="new-value")
    assert [s["action"] for s in service_keys.plan("default", new, record)] == ["replace"]
    service_keys.apply(journal, "run-2", "default", new, record)
    with open(dest, encoding="utf-8") as handle:
        assert handle.read() == "new-value"
    assert os.path.exists(service_keys.backup_path(dest, "run-2"))
    context = Context(run_id="run-2", journal=journal, log_dir=str(tmp_path / "log"), timeout=1)
    undone = rollback(context, KEYS_WAVE)
    assert [r["op"] for r in undone["restored"]] == ["restore key"]
    with open(dest, encoding="utf-8") as handle:
        assert handle.read() == "old-value"
    assert not os.path.exists(service_keys.backup_path(dest, "run-2"))
    assert journal.pending_undo("run-2") == []


def test_keys_of_services_that_leave_are_removed_and_a_rollback_recreates_them(tmp_path):
    journal = Journal(str(tmp_path / "j.journal"))
    record = str(tmp_path / "record")
    both = keys_for(tmp_path, api="a-value", db="d-value")
    service_keys.apply(journal, "run-1", "default", both, record)
    journal.clear_run("run-1")
    only_api = [k for k in both if k["service"] == "api"]
    assert [(s["service"], s["action"]) for s in service_keys.plan("default", only_api, record)] == [("db", "remove")]
    service_keys.apply(journal, "run-2", "default", only_api, record)
    db_dest = both[1]["dest"]
    assert not os.path.exists(db_dest)
    assert service_keys.read_record("default", record) == {both[0]["dest"]: "api"}
    rollback(Context(run_id="run-2", journal=journal, log_dir=str(tmp_path / "log"), timeout=1), None)
    with open(db_dest, encoding="utf-8") as handle:
        assert handle.read() == "d-value"
    assert service_keys.read_record("default", record) == {k["dest"]: k["service"] for k in both}


def test_a_commit_drops_what_the_changes_kept_aside(tmp_path):
    journal = Journal(str(tmp_path / "j.journal"))
    record = str(tmp_path / "record")
    service_keys.apply(journal, "run-1", "default", keys_for(tmp_path, api="one"), record)
    service_keys.apply(journal, "run-2", "default", keys_for(tmp_path, api="two"), record)
    dest = keys_for(tmp_path, api="x")[0]["dest"]
    assert os.path.exists(service_keys.backup_path(dest, "run-2"))
    service_keys.drop_backups([e for e in journal.entries() if e["run_id"] == "run-2"])
    assert not os.path.exists(service_keys.backup_path(dest, "run-2"))
    with open(dest, encoding="utf-8") as handle:
        assert handle.read() == "two"


def test_bad_keys_and_places_are_refused_without_quoting_the_value(tmp_path):
    (tmp_path / "adir").mkdir()
    keys = [dict(keys_for(tmp_path, api=SECRET)[0], dest=str(tmp_path / "adir"))]
    with pytest.raises(TargetError, match="exists and is not a regular file") as err:
        service_keys.plan("default", keys, str(tmp_path / "record"))
    assert SECRET not in str(err.value)
    with pytest.raises(TargetError, match="no user no-such-user-here"):
        service_keys.plan("default", [dict(keys_for(tmp_path, api=SECRET)[0], owner="no-such-user-here")], str(tmp_path / "r"))
    for bad in ({"api": [{"name": "pw", "value": SECRET, "dest": "/nix/store/x"}]},
                {"api": [{"name": "pw", "value": SECRET}], "db": [{"name": "pw", "value": SECRET, "dest": "/run/keys/disnix/api/pw"}]},
                {"../x": [{"name": "pw", "value": SECRET}]}):
        with pytest.raises(ValueError) as err:
            service_keys.normalize(bad)
        assert SECRET not in str(err.value)
