# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Transition steps, the journal and rollback, with real processes and wrappers."""

from __future__ import annotations

import os
import time

import pytest

from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError
from ansible_collections.disnix.deploy.plugins.module_utils.transition_journal import Journal, journal_path
from ansible_collections.disnix.deploy.plugins.module_utils.transition_steps import Context, rollback, run_steps
from ansible_collections.disnix.deploy.tests.unit.plugins.module_utils.target_fixtures import alive, wait_dead


def context(lab, run_id="run-1", check_mode=False):
    return Context(run_id=run_id, journal=Journal(journal_path("default", lab.tmpdir)), log_dir=lab.log_dir,
                   timeout=5, check_mode=check_mode)


def process_step(lab, op, name):
    return {"op": op, "key": "k-" + name, "service": name, "pkg": lab.path("pkgs", name), "type": "process",
            "container": "process", "properties": lab.process_props()}


def wrapper_step(lab, op, name, **props):
    return {"op": op, "key": "k-" + name, "service": name, "pkg": lab.path("pkgs", name), "type": "wrapper",
            "container": "wrapper", "properties": lab.wrapper_props(**props)}


def test_steps_are_journaled_and_logged(lab):
    lab.process_pkg("server")
    lab.wrapper_pkg("client")
    result = run_steps(context(lab), [process_step(lab, "activate", "server")], wave=0, max_parallel=1)
    assert result["changed"] and result["results"][0]["ok"]
    run_steps(context(lab), [wrapper_step(lab, "activate", "client")], wave=1, max_parallel=1)

    # each step is journaled before it runs and after: a run killed in between leaves "begin"
    journal = Journal(journal_path("default", lab.tmpdir)).entries()
    assert [(e["state"], e["service"]) for e in journal] == [
        ("begin", "server"), ("done", "server"), ("begin", "client"), ("done", "client")]
    entries = [e for e in journal if e["state"] == "done"]
    assert [(e["run_id"], e["wave"], e["op"], e["service"], e["key"]) for e in entries] == [
        ("run-1", 0, "activate", "server", "k-server"), ("run-1", 1, "activate", "client", "k-client")]
    assert entries[0]["properties"] == lab.process_props() and entries[0]["pkg"] == lab.path("pkgs", "server")
    assert entries[0]["type"] == "process" and entries[0]["container"] == "process"

    log = lab.log_entries()
    assert [(e["op"], e["service"]) for e in log] == [("activate", "server"), ("activate", "client")]
    assert all(e["ok"] and e["run_id"] == "run-1" for e in log)
    assert log[0]["time_ns"] < log[1]["time_ns"]
    assert set(log[0]) == {"time_ns", "run_id", "op", "service", "key", "pkg", "type", "container", "via", "ok", "msg"}
    assert [e["via"] for e in log] == ["builtin", "builtin"]


def test_unchanged_rerun(lab):
    lab.process_pkg("server")
    run_steps(context(lab), [process_step(lab, "activate", "server")], wave=0, max_parallel=1)
    again = run_steps(context(lab, run_id="run-2"), [process_step(lab, "activate", "server")], wave=0, max_parallel=1)
    assert not again["changed"]


def test_failure_reports_every_failed_service_after_all_finished(lab):
    lab.process_pkg("server")
    lab.wrapper_pkg("bad1")
    lab.wrapper_pkg("bad2")
    open(lab.path("state", "fail_activate"), "w", encoding="utf-8").close()
    steps = [wrapper_step(lab, "activate", "bad1"), process_step(lab, "activate", "server"), wrapper_step(lab, "activate", "bad2")]
    with pytest.raises(TargetError) as failure:
        run_steps(context(lab), steps, wave=3, max_parallel=1)
    msg = failure.value.msg
    assert "2 of 3 step(s) failed" in msg and "service 'bad1'" in msg and "service 'bad2'" in msg and "told to fail" in msg
    assert failure.value.details["failed_services"] == ["bad1", "bad2"]
    assert failure.value.details["changed"]
    assert alive(lab.pid_of("server"))  # the step after the failure still ran
    journal = Journal(journal_path("default", lab.tmpdir))
    assert [e["service"] for e in journal.entries() if e["state"] == "done"] == ["server"]
    assert sorted(e["service"] for e in journal.entries() if e["state"] == "failed") == ["bad1", "bad2"]
    assert [e["service"] for e in journal.pending_undo("run-1")] == ["server"]


def test_rollback_restores_deactivated_and_deactivates_activated(lab):
    for name in ("old", "new"):
        lab.process_pkg(name)
    lab.wrapper_pkg("broken")
    # the old configuration runs `old`
    run_steps(context(lab, run_id="previous"), [process_step(lab, "activate", "old")], wave=0, max_parallel=1)
    Journal(journal_path("default", lab.tmpdir)).clear_run("previous")
    old_pid = lab.pid_of("old")

    # the transition: wave 0 deactivates old, wave 1 activates new, wave 2 fails
    run_steps(context(lab), [process_step(lab, "deactivate", "old")], wave=0, max_parallel=1)
    assert wait_dead(old_pid)
    run_steps(context(lab), [process_step(lab, "activate", "new")], wave=1, max_parallel=1)
    new_pid = lab.pid_of("new")
    open(lab.path("state", "fail_activate"), "w", encoding="utf-8").close()
    with pytest.raises(TargetError):
        run_steps(context(lab), [wrapper_step(lab, "activate", "broken")], wave=2, max_parallel=1)

    assert rollback(context(lab), 2)["restored"] == []
    undo1 = rollback(context(lab), 1)
    assert undo1["changed"] and [(r["service"], r["op"]) for r in undo1["restored"]] == [("new", "deactivate")]
    assert wait_dead(new_pid)
    undo0 = rollback(context(lab), 0)
    assert [(r["service"], r["op"]) for r in undo0["restored"]] == [("old", "activate")]
    assert alive(lab.pid_of("old"))
    journal = Journal(journal_path("default", lab.tmpdir))
    assert journal.pending_undo("run-1") == []
    assert journal.clear_run("run-1") and not os.path.exists(journal_path("default", lab.tmpdir))

    ops = [(e["service"], e["op"]) for e in lab.log_entries()]
    assert ops[-2:] == [("new", "deactivate"), ("old", "activate")]


def test_rollback_of_every_wave_newest_first(lab):
    lab.wrapper_pkg("a")
    lab.wrapper_pkg("b")
    run_steps(context(lab), [wrapper_step(lab, "activate", "a")], wave=0, max_parallel=1)
    run_steps(context(lab), [wrapper_step(lab, "activate", "b")], wave=1, max_parallel=1)
    result = rollback(context(lab), None)
    assert [r["service"] for r in result["restored"]] == ["b", "a"]


def test_failed_undo_stays_in_journal(lab):
    lab.wrapper_pkg("a")
    lab.wrapper_pkg("b")
    run_steps(context(lab), [wrapper_step(lab, "deactivate", "a"), wrapper_step(lab, "deactivate", "b")], wave=0, max_parallel=1)
    open(lab.path("state", "fail_activate"), "w", encoding="utf-8").close()
    with pytest.raises(TargetError) as failure:
        rollback(context(lab), 0)
    assert "may be inconsistent" in failure.value.msg and "service 'a'" in failure.value.msg
    assert len(Journal(journal_path("default", lab.tmpdir)).pending_undo("run-1", 0)) == 2
    os.unlink(lab.path("state", "fail_activate"))
    assert len(rollback(context(lab), 0)["restored"]) == 2
    assert Journal(journal_path("default", lab.tmpdir)).pending_undo("run-1", 0) == []


def overlap(lab) -> int:
    """Most wrapper activations that ran at the same time (from the S/E lines)."""
    current = peak = 0
    with open(lab.path("state", "overlap"), encoding="utf-8") as handle:
        for line in handle.read().split():
            current += 1 if line == "S" else -1
            peak = max(peak, current)
    return peak


@pytest.mark.parametrize("max_parallel", [1, 2, 4])
def test_parallel_steps_respect_max_parallel(lab, max_parallel):
    names = ["p%d" % i for i in range(4)]
    for name in names:
        lab.wrapper_pkg(name)
    steps = [wrapper_step(lab, "activate", n, delay="0.3") for n in names]
    started = time.monotonic()
    result = run_steps(context(lab), steps, wave=0, max_parallel=max_parallel)
    elapsed = time.monotonic() - started
    assert [r["service"] for r in result["results"]] == names  # in step order
    assert overlap(lab) == max_parallel
    assert elapsed >= 0.3 * (4 // max_parallel) - 0.05
    times = [e["time_ns"] for e in lab.log_entries()]
    assert times == sorted(times) and len(times) == 4


def test_check_mode_runs_nothing(lab):
    lab.process_pkg("server")
    result = run_steps(context(lab, check_mode=True), [process_step(lab, "activate", "server")], wave=0, max_parallel=1)
    assert result["changed"] and result["results"][0]["output"].startswith("check mode")
    assert lab.pid_of("server") is None and not os.listdir(lab.log_dir) and not os.listdir(lab.tmpdir)
