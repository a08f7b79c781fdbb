# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recovery of a dead run on one target, with real processes: take-over, fencing, rollback."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.disnix.deploy.plugins.module_utils import locking
from ansible_collections.disnix.deploy.plugins.module_utils.recovery import recover
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError
from ansible_collections.disnix.deploy.plugins.module_utils.transition_journal import Journal, journal_path
from ansible_collections.disnix.deploy.plugins.module_utils.transition_steps import Context, run_steps, step_operation
from ansible_collections.disnix.deploy.tests.unit.plugins.module_utils.target_fixtures import alive, wait_dead


def process_step(lab, op, name):
    return {"op": op, "key": "k-" + name, "service": name, "pkg": lab.path("pkgs", name), "type": "process",
            "container": "process", "properties": lab.process_props()}


def request(lab, run_id="repair"):
    return locking.LockRequest(profile="default", tmpdir=lab.tmpdir, run_id=run_id, log_dir=lab.log_dir, timeout=5)


def killed_run(lab):
    """What a run killed mid-transition leaves: its lock, `old` deactivated, `new` activated,
    and `late` begun (the kill came while it started: outcome unknown)."""
    for name in ("old", "new", "late"):
        lab.process_pkg(name)
    journal = Journal(journal_path("default", lab.tmpdir))
    run_steps(Context(run_id="before", journal=journal, log_dir=lab.log_dir, timeout=5),
              [process_step(lab, "activate", "old")], wave=0, max_parallel=1)
    journal.clear_run("before")
    old_pid = lab.pid_of("old")
    with open(locking.lock_path("default", lab.tmpdir), "w", encoding="utf-8") as handle:
        json.dump({"run_id": "killed", "controller": "ctl", "pid": 1}, handle)
    context = Context(run_id="killed", journal=journal, log_dir=lab.log_dir, timeout=5)
    run_steps(context, [process_step(lab, "deactivate", "old")], wave=0, max_parallel=1)
    run_steps(context, [process_step(lab, "activate", "new")], wave=1, max_parallel=1)
    journal.begin("killed", 2, step_operation(process_step(lab, "activate", "late"), 5))
    assert wait_dead(old_pid) and alive(lab.pid_of("new"))
    return journal


def test_a_killed_runs_steps_are_undone_and_its_lock_released(lab):
    journal = killed_run(lab)
    new_pid = lab.pid_of("new")
    result = recover(request(lab), "killed", committed=False)
    assert result["direction"] == "back" and result["changed"]
    assert [(r["service"], r["op"]) for r in result["restored"]] == [("late", "deactivate"), ("new", "deactivate"), ("old", "activate")]
    assert wait_dead(new_pid) and alive(lab.pid_of("old"))
    assert not os.path.exists(locking.lock_path("default", lab.tmpdir))
    assert journal.entries() == []
    # nothing left: a second recovery changes nothing
    assert not recover(request(lab), None, committed=False)["changed"]


def test_a_committed_run_is_kept(lab):
    journal = killed_run(lab)
    result = recover(request(lab), "killed", committed=True)
    assert result["direction"] == "forward" and result["restored"] == []
    assert alive(lab.pid_of("new")) and lab.pid_of("old") is None or not alive(lab.pid_of("old"))
    assert journal.entries() == [] and not os.path.exists(locking.lock_path("default", lab.tmpdir))


def test_after_the_take_over_a_stray_step_of_the_dead_run_cannot_run(lab):
    killed_run(lab)
    lab.process_pkg("stray")
    req = request(lab)
    with locking.owner_guard("default", lab.tmpdir, "repair", fenced=False):
        locking.take_over(req, "killed")
    with locking.owner_guard("default", lab.tmpdir, "killed") as check:
        with pytest.raises(TargetError) as refused:
            check()
    assert "no longer holds the lock" in refused.value.msg and refused.value.details["fenced"]
    assert lab.pid_of("stray") is None


def test_a_lock_of_another_live_run_is_left_alone(lab):
    killed_run(lab)
    with pytest.raises(TargetError) as refused:
        recover(request(lab), "some-other-run", committed=False)
    assert "not by the dead run some-other-run" in refused.value.msg
    assert json.load(open(locking.lock_path("default", lab.tmpdir), encoding="utf-8"))["run_id"] == "killed"
    assert alive(lab.pid_of("new"))
