# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The target's file helpers on a shared directory: planted symbolic links, FIFOs and hard
links are refused (their targets untouched, their content never shown), data files are 0600
and rewrites go through a fresh file in the same directory."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.disnix.deploy.plugins.module_utils import target_common as tc
from ansible_collections.disnix.deploy.plugins.module_utils.activation_log import ActivationLog
from ansible_collections.disnix.deploy.plugins.module_utils.activation_types import Operation, OperationResult
from ansible_collections.disnix.deploy.plugins.module_utils.locking import LockRequest, acquire, owner_guard, release
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError
from ansible_collections.disnix.deploy.plugins.module_utils.transition_journal import Journal, journal_path

SECRET = "the other file's secret content"


@pytest.fixture(name="victim")
def fixture_victim(tmp_path):
    path = tmp_path / "victim.txt"
    path.write_text(SECRET + "\n", encoding="utf-8")
    path.chmod(0o644)
    return path


def _unchanged(victim) -> None:
    assert victim.read_text(encoding="utf-8") == SECRET + "\n"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_append_creates_a_private_file_and_tightens_an_old_one(tmp_path):
    path = tmp_path / "j"
    tc.append_json_line(str(path), {"a": 1})
    tc.append_json_line(str(path), {"b": "x\ny"})
    assert _mode(path) == 0o600
    assert tc.read_json_lines(str(path)) == [{"a": 1}, {"b": "x\ny"}]
    path.chmod(0o666)
    tc.append_json_line(str(path), {"c": 3})
    assert _mode(path) == 0o600 and len(tc.read_json_lines(str(path))) == 3


@pytest.mark.parametrize("operation", ["append", "rewrite_read", "read_json", "read_lines"])
def test_a_planted_symlink_is_never_followed(tmp_path, victim, operation):
    path = tmp_path / "disnix-default.journal"
    path.symlink_to(victim)
    with pytest.raises(TargetError) as failure:
        if operation == "append":
            tc.append_json_line(str(path), {"a": 1})
        elif operation == "rewrite_read":
            Journal(str(path)).clear_run("run-1")
        elif operation == "read_json":
            tc.read_json_file(str(path))
        else:
            tc.read_json_lines(str(path))
    assert "symbolic link" in failure.value.msg and str(path) in failure.value.msg
    assert SECRET not in failure.value.msg
    _unchanged(victim)
    assert os.path.islink(path)


def test_a_dangling_symlink_is_not_created_through(tmp_path):
    target = tmp_path / "elsewhere"
    path = tmp_path / "log"
    path.symlink_to(target)
    with pytest.raises(TargetError):
        tc.append_json_line(str(path), {"a": 1})
    with pytest.raises(FileExistsError):
        tc.create_exclusive(str(path), b"x")
    assert not target.exists()


def test_a_fifo_or_directory_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path):
        with pytest.raises(TargetError) as failure:
            tc.read_json_file(str(path))
        assert "not a regular file" in failure.value.msg or "cannot read" in failure.value.msg
    with pytest.raises(TargetError) as failure:
        tc.append_json_line(str(fifo), {"a": 1})
    assert str(fifo) in failure.value.msg  # not a regular file, or no reader (ENXIO): never blocks


def test_a_hard_link_to_another_file_is_refused(tmp_path, victim):
    path = tmp_path / "disnix-default.lock"
    os.link(victim, path)
    with pytest.raises(TargetError) as failure:
        tc.read_json_file(str(path))
    assert "hard link" in failure.value.msg and SECRET not in failure.value.msg
    with pytest.raises(TargetError):
        tc.append_json_line(str(path), {"a": 1})
    _unchanged(victim)


def test_foreign_content_is_shown_only_in_part(tmp_path):
    path = tmp_path / "lock"
    path.write_text("x" * 5000, encoding="utf-8")
    exists, data = tc.read_json_file(str(path))
    assert exists and data == {"raw": "x" * tc.MAX_RAW}
    assert tc.read_json_file(str(tmp_path / "missing")) == (False, None)


def test_atomic_rewrite_replaces_a_symlink_not_its_target(tmp_path, victim):
    path = tmp_path / "j"
    tc.write_json_lines_atomically(str(path), [{"a": 1}, {"b": 2}])
    assert _mode(path) == 0o600 and tc.read_json_lines(str(path)) == [{"a": 1}, {"b": 2}]
    path.unlink()
    path.symlink_to(victim)
    tc.write_json_lines_atomically(str(path), [{"c": 3}])
    assert not os.path.islink(path) and tc.read_json_lines(str(path)) == [{"c": 3}]
    _unchanged(victim)
    assert sorted(os.listdir(tmp_path)) == ["j", "victim.txt"]  # no temporary file left
    tc.write_json_lines_atomically(str(path), [])
    assert not path.exists()


def test_rewrite_temp_names_are_fresh_and_exclusive(tmp_path, monkeypatch):
    names = iter(["aaaa", "aaaa", "bbbb"])
    monkeypatch.setattr(tc.secrets, "token_hex", lambda _n: next(names))
    (tmp_path / ".j.aaaa.tmp").symlink_to(tmp_path / "nowhere")  # planted at the first name
    tc.write_json_lines_atomically(str(tmp_path / "j"), [{"a": 1}])
    assert not (tmp_path / "nowhere").exists()
    assert tc.read_json_lines(str(tmp_path / "j")) == [{"a": 1}]


def test_journal_of_another_user_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to make a file of another user")
    path = tmp_path / "j"
    tc.append_json_line(str(path), {"a": 1})
    os.chown(path, 12345, 12345)
    with pytest.raises(TargetError) as failure:
        tc.read_json_lines(str(path))
    assert "uid 12345" in failure.value.msg


def test_activation_log_and_journal_are_private(tmp_path):
    log = ActivationLog(str(tmp_path / "log"), "run-1")
    operation = Operation(op="activate", pkg="/nix/store/x-a", type="echo", properties={"dbPassword": "s3cret"}, service="a")
    log.record(operation, OperationResult(ok=True, changed=True, output="done"))
    assert _mode(log.path) == 0o600
    journal = Journal(journal_path("default", str(tmp_path)))
    journal.record("run-1", 0, operation)
    assert _mode(journal.path) == 0o600
    assert journal.entries()[0]["properties"] == {"dbPassword": "s3cret"}


def test_lock_at_a_planted_symlink_is_refused_and_the_target_unchanged(tmp_path, victim):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    (tmpdir / "disnix-default.lock").symlink_to(victim)
    request = LockRequest(profile="default", tmpdir=str(tmpdir), run_id="run-1", log_dir=str(tmp_path / "log"))
    with pytest.raises(TargetError) as failure:
        acquire(request)
    assert "symbolic link" in failure.value.msg and SECRET not in failure.value.msg
    with pytest.raises(TargetError):
        release(request)
    _unchanged(victim)


def test_lock_file_is_created_exclusively_and_readable_by_others(tmp_path):
    request = LockRequest(profile="default", tmpdir=str(tmp_path), run_id="run-1", log_dir=str(tmp_path / "log"))
    acquire(request)
    path = tmp_path / "disnix-default.lock"
    assert not os.path.islink(path) and not _mode(path) & 0o022  # nobody else may write it
    assert json.loads(path.read_text(encoding="utf-8"))["run_id"] == "run-1"


def test_atomic_file_rewrite_keeps_the_mode_asked_for(tmp_path, victim):
    path = tmp_path / "disnix-default.lock"
    path.symlink_to(victim)
    tc.write_file_atomically(str(path), b"{}\n", 0o644)
    assert not os.path.islink(path) and path.read_bytes() == b"{}\n" and not _mode(path) & 0o022
    _unchanged(victim)


def test_the_step_guard_is_not_opened_through_a_planted_symlink(tmp_path, victim):
    (tmp_path / "disnix-default.steps").symlink_to(victim)
    with pytest.raises(TargetError) as failure:
        with owner_guard("default", str(tmp_path), "run-1"):
            pass
    assert "symbolic link" in failure.value.msg and "step guard" in failure.value.msg
    _unchanged(victim)
