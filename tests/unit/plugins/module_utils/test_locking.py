# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Profile locking (Disnix's locking test scenario) with real wrapper services."""

from __future__ import annotations

import json
import os
import threading

import pytest

from ansible_collections.disnix.deploy.plugins.module_utils import locking
from ansible_collections.disnix.deploy.plugins.module_utils.locking import LockRequest, acquire, release
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError
from ansible_collections.disnix.deploy.plugins.module_utils.transition_journal import Journal, journal_path


def request(lab, run_id="run-1", **kw):
    return LockRequest(profile="default", tmpdir=lab.tmpdir, run_id=run_id, log_dir=lab.log_dir,
                       controller="ctl", controller_pid=4242, user="alice", **kw)


def deploy_wrappers(lab, *names):
    services = [{"key": "k" + n, "service": n, "pkg": lab.wrapper_pkg(n), "type": "wrapper", "container": "wrapper",
                 "properties": lab.wrapper_props(), "dependsOn": []} for n in names]
    services.append({"key": "kp", "service": "tools", "pkg": lab.plain_pkg("tools"), "type": "package",
                     "container": "package", "properties": {}, "dependsOn": []})
    lab.deploy_manifest(services)


def test_first_deployment_lock_only_creates_the_file(lab):
    result = acquire(request(lab))
    assert result["changed"] and result["services"] == []
    with open(os.path.join(lab.tmpdir, "disnix-default.lock"), encoding="utf-8") as handle:
        info = json.load(handle)
    assert info["run_id"] == "run-1" and info["controller"] == "ctl" and info["user"] == "alice"
    assert info["pid"] == 4242 and info["profile"] == "default" and isinstance(info["since"], int)


def test_lock_ok_second_lock_fails_unlock_twice(lab):
    deploy_wrappers(lab, "a", "b")
    first = acquire(request(lab))
    assert first["changed"]
    assert [s["service"] for s in first["services"]] == ["a", "b", "tools"]
    assert lab.wrapper_ops() == ["lock wrapper", "lock wrapper"]

    with pytest.raises(TargetError) as failure:
        acquire(request(lab, run_id="run-2"))
    msg = failure.value.msg
    assert "locked by run run-1" in msg and "controller ctl" in msg and "user alice" in msg and "pid 4242" in msg
    assert "s ago" in msg and "disnix-default.lock" in msg
    assert failure.value.details["lock_holder"]["run_id"] == "run-1"
    assert lab.wrapper_ops() == ["lock wrapper", "lock wrapper"]  # the services were not asked again

    assert not acquire(request(lab))["changed"]  # same run: already locked

    unlocked = release(request(lab))
    assert unlocked["changed"] and not os.path.exists(os.path.join(lab.tmpdir, "disnix-default.lock"))
    assert lab.wrapper_ops()[-2:] == ["unlock wrapper", "unlock wrapper"]
    again = release(request(lab))
    assert not again["changed"]


def test_service_veto_releases_and_changes_nothing(lab):
    lab2 = lab.path("state2")
    os.makedirs(lab2)
    # a second wrapper with its own state dir, which refuses
    services = [
        {"key": "ka", "service": "a", "pkg": lab.wrapper_pkg("a"), "type": "wrapper", "container": "wrapper",
         "properties": lab.wrapper_props()},
        {"key": "kb", "service": "b", "pkg": lab.wrapper_pkg("b"), "type": "wrapper", "container": "wrapper",
         "properties": {"stateDir": lab2}},
        {"key": "kc", "service": "c", "pkg": lab.wrapper_pkg("c"), "type": "wrapper", "container": "wrapper",
         "properties": lab.wrapper_props()},
    ]
    lab.deploy_manifest(services)
    with open(os.path.join(lab2, "lock_status"), "w", encoding="utf-8") as handle:
        handle.write("1\n")
    with pytest.raises(TargetError) as failure:
        acquire(request(lab))
    assert "b refused to be locked" in failure.value.msg
    assert failure.value.details["refused_service"] == "b"
    assert not os.path.exists(os.path.join(lab.tmpdir, "disnix-default.lock"))
    assert lab.wrapper_ops() == ["lock wrapper", "unlock wrapper"]  # a locked then unlocked, c never asked
    ops = [(e["service"], e["op"], e["ok"]) for e in lab.log_entries()]
    assert ops == [("a", "lock", True), ("b", "lock", False), ("a", "unlock", True)]


def test_unlock_of_another_runs_lock_needs_force(lab):
    acquire(request(lab, run_id="old"))
    with pytest.raises(TargetError) as failure:
        release(request(lab, run_id="new"))
    assert "locked by run old" in failure.value.msg and "without force" in failure.value.msg
    assert release(request(lab, run_id="new", force=True))["changed"]


def test_unlock_removes_this_runs_journal_only(lab):
    acquire(request(lab))
    path = journal_path("default", lab.tmpdir)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"run_id": "run-1", "wave": 0, "op": "activate"}) + "\n")
        handle.write(json.dumps({"run_id": "crashed", "wave": 0, "op": "activate"}) + "\n")
    release(request(lab))
    assert [e["run_id"] for e in Journal(path).entries()] == ["crashed"]


def test_foreign_lock_file(lab):
    open(os.path.join(lab.tmpdir, "disnix-default.lock"), "w", encoding="utf-8").close()  # as Disnix leaves it
    with pytest.raises(TargetError) as failure:
        acquire(request(lab))
    assert "unknown holder" in failure.value.msg
    assert failure.value.details["lock_holder"] == {"raw": ""}


def test_race_on_lock_file_releases_services(lab, monkeypatch):
    deploy_wrappers(lab, "a")
    real = locking._create_exclusive

    def racing(path, info):
        # another run creates the file between our check and our O_EXCL create
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"run_id": "quicker", "since": 0}, handle)
        real(path, info)

    monkeypatch.setattr(locking, "_create_exclusive", racing)
    with pytest.raises(TargetError) as failure:
        acquire(request(lab))
    assert "locked by run quicker" in failure.value.msg
    assert lab.wrapper_ops() == ["lock wrapper", "unlock wrapper"]


def test_check_mode_changes_nothing(lab):
    deploy_wrappers(lab, "a")
    result = acquire(request(lab), check_mode=True)
    assert result["changed"] and [s["service"] for s in result["services"]] == ["a", "tools"]
    assert lab.wrapper_ops() == [] and not os.listdir(lab.tmpdir) and not os.listdir(lab.log_dir)


def test_the_query_locks_only_a_target_the_run_changes(lab):
    deploy_wrappers(lab, "a")
    state = {"lock": None, "journal": [], "profile_path": "/nix/store/current-profile"}
    # the planned profile is the one deployed and no key differs: nothing is locked, nothing asked
    assert locking.lock_for_change(request(lab), state, "/nix/store/current-profile", False) == {"locked": False}
    assert not os.path.exists(os.path.join(lab.tmpdir, "disnix-default.lock")) and lab.wrapper_ops() == []
    # a run that changes the target: the services are asked, the lock taken, the state read under it
    taken = locking.lock_for_change(request(lab), state, "/nix/store/planned-profile", False)
    assert taken["locked"] and taken["changed"] and taken["lock"]["run_id"] == "run-1"
    assert lab.wrapper_ops() == ["lock wrapper"]
    assert [s["service"] for s in taken["profile_manifest"]["services"]] == ["a", "tools"]
    # held now (by this run): a second query does not lock again; another run is refused, not failed
    assert locking.lock_for_change(request(lab), dict(state, lock=taken["lock"]), "/nix/store/p2", False) == {"locked": False}
    # another run, which read the profile unlocked: the lock comes back as the query's, to be judged
    raced = locking.lock_for_change(request(lab, run_id="run-2"), state, "/nix/store/p2", True)
    assert raced == {"locked": False, "lock": taken["lock"]}


def test_the_query_leaves_a_journal_to_the_repair(lab):
    state = {"lock": None, "journal": [{"run_id": "dead"}], "profile_path": None}
    assert locking.lock_for_change(request(lab), state, "/nix/store/planned", True) == {"locked": False}
    assert not os.path.exists(os.path.join(lab.tmpdir, "disnix-default.lock"))


def test_runs_meet_in_the_order_they_started_and_a_holder_without_a_start_goes_first():
    early, late = {"run_id": "b", "started": 100.0}, {"run_id": "a", "started": 200.5}
    assert locking.runs_before(early, late) and not locking.runs_before(late, early)
    # started together: the smaller run id, so both sides agree
    twin = {"run_id": "c", "started": 100.0}
    assert locking.runs_before(early, twin) and not locking.runs_before(twin, early)
    assert not locking.runs_before(early, {"run_id": "old-version"})
    assert not locking.runs_before(early, {"raw": ""})
    assert not locking.runs_before({"run_id": "x", "started": None}, late)


def release_later(lab, run_id, seconds):
    timer = threading.Timer(seconds, lambda: release(request(lab, run_id=run_id)))
    timer.start()
    return timer


def test_a_lock_of_a_run_that_started_later_is_waited_for_then_taken(lab):
    deploy_wrappers(lab, "a")
    acquire(request(lab, run_id="younger", started=200.0))
    timer = release_later(lab, "younger", 0.5)
    try:
        result = locking.acquire_waiting(request(lab, run_id="older", started=100.0), wait=30, poll=0.05)
    finally:
        timer.join()
    assert result["changed"] and result["waited"] and result["lock"]["run_id"] == "older"
    assert result["lock"]["started"] == 100.0
    assert locking.read_lock(os.path.join(lab.tmpdir, "disnix-default.lock"))["run_id"] == "older"
    # the younger run locked, unlocked; then the older one locked
    assert lab.wrapper_ops() == ["lock wrapper", "unlock wrapper", "lock wrapper"]


def test_a_lock_of_a_run_that_started_earlier_is_refused_at_once(lab):
    acquire(request(lab, run_id="older", started=100.0))
    timer = release_later(lab, "older", 1.0)
    try:
        # waiting would see the lock released and take it: refused instead, before that
        with pytest.raises(TargetError) as failure:
            locking.acquire_waiting(request(lab, run_id="younger", started=200.0), wait=30, poll=0.05)
        assert "locked by run older" in failure.value.msg and "waited" not in failure.value.msg
        assert locking.read_lock(os.path.join(lab.tmpdir, "disnix-default.lock"))["run_id"] == "older"
    finally:
        timer.join()


def test_waiting_for_a_lock_ends_after_the_wait_with_the_holder_named(lab):
    acquire(request(lab, run_id="younger", started=200.0))
    with pytest.raises(TargetError) as failure:
        locking.acquire_waiting(request(lab, run_id="older", started=100.0), wait=0.3, poll=0.05)
    assert "locked by run younger" in failure.value.msg and "waited 0.3 s for it" in failure.value.msg
    assert failure.value.details["lock_holder"]["run_id"] == "younger"
