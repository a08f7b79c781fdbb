# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault injection into the deployment transaction (issue 9), black box: real
`ansible-playbook playbooks/deploy.yml` runs on three lab hosts, faults that are real
conditions on the hosts, and the targets' state read inside them.

The model (models/faults/): a chain s1 <- s2 <- s3 <- s4 <- s5 over test1..test3; the two
distributions a and b put every service on another host, so a transition between them has
ten waves (s5..s1 deactivated, then s1..s5 activated). Every case starts from the
configuration the previous one left (a or b, with its own build stamp) and upgrades to the
other one with fresh builds (so there is always something to copy), with one fault on the
way. After the fault:

* every target is exactly as before: the same service processes with the same arguments,
  the same profile link and profile, the same state files, no lock and no journal, and the
  controller generation is unchanged; when a target was lost (unreachable) or the
  controller killed, that holds for the reachable targets right away and for every target
  once the fault is healed and `playbooks/unlock.yml` has recovered;
* or, for half of the lost/killed cases, no unlock.yml: the next deploy must recover by
  itself;
* in every case the next normal deploy of the upgrade succeeds with all five services
  running on their new hosts.

The cases live here and run from three test modules (test_faults_prepare.py,
test_faults_transition.py, test_faults_lost.py), each on its own lab, so that they can run
side by side (pytest-xdist, --dist loadfile). Each module leaves its figures in
$DISNIX_FAULT_PARTS; at the end of the session conftest.py adds them up and prints
`faults injected: N, restored: N, services lost: N` (and with DISNIX_FAULT_REPORT set writes
the figures, each case and the runtime there as JSON). See docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

import pytest

from conftest import needs_lab
from faults_support import (DISTRIBUTIONS, HOSTS, LOCK, MARKERS, FaultLab, config_problems, expected_state,
                            other, repair)

pytestmark = needs_lab

WRAPPERS = ("s1", "s3", "s5")          # the services whose deactivation and lock can fail
# the transition's waves: deactivations in reverse dependency order, then activations
DEACTIVATION_WAVES = {"first": "s5", "middle": "s3", "last": "s1"}
ACTIVATION_WAVES = {"first": "s1", "middle": "s3", "last": "s5"}


@dataclass
class Tally:
    injected: int = 0
    restored: int = 0
    lost: int = 0
    cases: list = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        return f"faults injected: {self.injected}, restored: {self.restored}, services lost: {self.lost}"


@pytest.fixture(scope="module")
def faults(lab_instance, tmp_path_factory, request):
    tally = Tally()                       # the runtime includes starting the lab
    fl = FaultLab.deployed(lab_instance, str(tmp_path_factory.mktemp("coordinator")), f"{os.getpid()}-{time.time_ns()}-0")
    fl.tally = tally
    try:
        yield fl
    finally:
        fl.heal_all()
        report(request, tally)


def report(request, tally: Tally) -> None:
    """This module's figures, for conftest.py's session summary."""
    parts = os.environ.get("DISNIX_FAULT_PARTS")
    if not parts:
        return
    with open(os.path.join(parts, request.module.__name__ + ".json"), "w", encoding="utf-8") as f:
        json.dump({"module": request.module.__name__, "faults_injected": tally.injected, "restored": tally.restored,
                   "services_lost": tally.lost, "runtime_s": round(time.monotonic() - tally.started, 1),
                   "cases": tally.cases}, f, indent=2)


@dataclass
class Case:
    fl: FaultLab
    source: str
    target: str
    stamp: str
    before: dict = field(default_factory=dict)
    generations: dict = field(default_factory=dict)
    counted: bool = False
    done: bool = False          # the case got to its end (the next deploy succeeded)

    def where(self, svc: str, dist: str) -> str:
        return DISTRIBUTIONS[dist][svc]

    def snapshot_before(self) -> None:
        """The state every target must be in after the fault (taken after the fault is
        prepared, so a foreign lock planted on purpose is part of it)."""
        self.before = self.fl.snapshots()
        self.generations = self.fl.generations()

    def inject(self) -> None:
        self.fl.tally.injected += 1

    def deploy(self, *args: str, **kw):
        return self.fl.deploy(self.target, self.stamp, *args, **kw)

    def start_deploy(self, *args: str, **kw):
        return self.fl.start_deploy(self.target, self.stamp, *args, **kw)

    def assert_failed(self, run, names: str | None = None) -> None:
        assert run.rc != 0, f"the run with a fault exited 0:\n{run}"
        if names:
            assert names in run.out, f"the output does not name {names}:\n{run}"
        assert self.fl.generations() == self.generations, "a new controller generation was recorded"

    def assert_as_before(self, hosts=HOSTS, count: bool = True) -> None:
        """HOSTS exactly as before the fault, the generation unchanged."""
        after = {h: self.fl.snapshot(h) for h in hosts}
        if count:
            old = expected_state(self.source, self.fl.current[1])
            lost = [f"{s[:-6]}@{h}" for h in hosts for s in old[h]
                    if not any(f"fault-daemon-{s[:-6]}" in c for c in after[h]["processes"])]
            self.fl.tally.lost += len(lost)
        diffs = {}
        for host in hosts:
            keys = [k for k in after[host] if after[host][k] != self.before[host][k]]
            if keys:
                diffs[host] = {k: {"before": self.before[host][k], "after": after[host][k]} for k in keys}
        assert not diffs, "targets not as before the fault:\n" + json.dumps(diffs, indent=1)
        assert self.fl.generations() == self.generations, "the controller generation changed"
        if count:
            self.fl.tally.restored += 1
            self.counted = True

    def finish(self, recovered_by_deploy: bool = False) -> None:
        """Heal everything; the upgrade then deploys, with every service on its new host."""
        self.fl.heal_all()
        for host in HOSTS:
            self.fl.wait_idle(host)
        run = self.deploy()
        self.fl.dirty = True
        assert run.rc == 0, f"the deploy after the fault failed:\n{run}"
        problems = config_problems(self.fl, self.target, self.stamp)
        if recovered_by_deploy:
            self.fl.tally.lost += sum(1 for p in problems if " runs " in p)
        assert not problems, "after the next deploy: " + "; ".join(problems) + f"\n{run}"
        assert len(self.fl.generations()["links"]) == len(self.generations["links"]) + 1
        if recovered_by_deploy:
            self.fl.tally.restored += 1
            self.counted = True
        self.fl.current = (self.target, self.stamp)
        self.fl.dirty = False
        self.done = True


@pytest.fixture
def case(faults, request):
    if faults.dirty or config_problems(faults, *faults.current):
        repair(faults)
    source = faults.current[0]
    c = Case(faults, source, other(source), f"{os.getpid()}-{time.time_ns()}")
    faults.dirty = True
    t0 = time.monotonic()
    try:
        yield c
    finally:
        faults.tally.cases.append({"case": request.node.name, "outcome": "passed" if c.done else "failed",
                                   "restored": c.counted, "seconds": round(time.monotonic() - t0, 1)})
        faults.heal_all()


# -- build -------------------------------------------------------------------------------------

def test_build_fails(case):
    case.snapshot_before()
    case.inject()
    run = case.deploy(extra_params={"failBuild": "s3"})
    case.assert_failed(run, "fault-s3")
    case.assert_as_before()
    case.finish()


# -- distribute --------------------------------------------------------------------------------

@pytest.mark.parametrize("host", HOSTS)
def test_import_fails(case, host):
    """The target's store takes nothing (immutable /nix/store): the import fails there."""
    case.fl.make_immutable(host, "/nix/store")
    case.snapshot_before()
    case.inject()
    run = case.deploy()
    case.assert_failed(run, host)
    case.assert_as_before()
    case.finish()


LOST_RECOVERY = {"test1": "unlock", "test2": "next-deploy", "test3": "unlock"}


def recover_lost(case, host: str, recovery: str, heal) -> None:
    """After a lost host: heal, wait for the steps still running there, then recover with
    unlock.yml (and check everything is as before) or let the next deploy do it."""
    heal()
    case.fl.wait_idle(host)
    if recovery == "unlock":
        run = case.fl.unlock()
        assert run.rc == 0, f"unlock.yml after the fault was healed failed:\n{run}"
        case.assert_as_before()
        case.finish()
    else:
        case.finish(recovered_by_deploy=True)


@pytest.mark.parametrize("host,recovery", list(LOST_RECOVERY.items()))
def test_target_lost_during_copy(case, host, recovery):
    fl = case.fl
    fl.install_nix_store_wrapper(host)
    fl.mark(host, "nix-store.import-wait")
    case.snapshot_before()
    run = case.start_deploy()
    fl.wait_for_file(host, f"{MARKERS}/nix-store.import-waiting", run)
    case.inject()
    fl.drop_route(host)
    fl.unmark(host, "nix-store.import-waiting")
    result = run.wait()
    case.assert_failed(result, host)
    case.assert_as_before([h for h in HOSTS if h != host], count=False)

    def heal():
        fl.restore_route(host)
        fl.remove_nix_store_wrapper(host)
    recover_lost(case, host, recovery, heal)


# -- lock --------------------------------------------------------------------------------------

@pytest.mark.parametrize("host", HOSTS)
def test_lock_vetoed(case, host):
    svc = next(s for s in WRAPPERS if case.where(s, case.source) == host)
    case.fl.mark(host, f"{svc}.lock-veto")
    case.snapshot_before()
    case.inject()
    run = case.deploy()
    case.assert_failed(run, host)
    assert svc in run.out, run
    case.assert_as_before()
    case.finish()


@pytest.mark.parametrize("host", HOSTS)
def test_foreign_lock(case, host):
    holder = {"run_id": "foreign-run", "controller": "elsewhere.example", "user": "someone", "pid": 1,
              "since": int(time.time()), "profile": "default"}
    case.fl.sh(host, f"cat > {LOCK} <<'EOF'\n{json.dumps(holder)}\nEOF")
    case.snapshot_before()          # the foreign lock is part of what must stay
    case.inject()
    run = case.deploy()
    case.assert_failed(run, host)
    assert "foreign-run" in run.out, run
    case.assert_as_before()
    case.fl.sh(host, f"rm -f {LOCK}")
    case.finish()


# -- transition --------------------------------------------------------------------------------

@pytest.mark.parametrize("wave", list(ACTIVATION_WAVES))
def test_activation_fails(case, wave):
    svc = ACTIVATION_WAVES[wave]
    host = case.where(svc, case.target)
    case.fl.mark(host, f"{svc}.activate-fail")
    case.snapshot_before()
    case.inject()
    run = case.deploy()
    case.assert_failed(run, host)
    case.assert_as_before()
    case.finish()


@pytest.mark.parametrize("wave", list(DEACTIVATION_WAVES))
def test_deactivation_fails(case, wave):
    svc = DEACTIVATION_WAVES[wave]
    host = case.where(svc, case.source)
    case.fl.mark(host, f"{svc}.deactivate-fail")
    case.snapshot_before()
    case.inject()
    run = case.deploy()
    case.assert_failed(run, host)
    case.assert_as_before()
    case.finish()


@pytest.mark.parametrize("host", HOSTS)
def test_profile_step_fails(case, host):
    """The target's profiles directory is immutable: no new profile generation there."""
    case.fl.make_immutable(host, "/nix/var/nix/profiles/disnix")
    case.snapshot_before()
    case.inject()
    run = case.deploy()
    case.assert_failed(run, host)
    case.assert_as_before()
    case.finish()


MID_TRANSITION = [("route", "test1", "unlock"), ("route", "test2", "next-deploy"), ("route", "test3", "unlock"),
                  ("sshd", "test1", "next-deploy"), ("sshd", "test2", "unlock"), ("sshd", "test3", "next-deploy")]


@pytest.mark.parametrize("how,host,recovery", MID_TRANSITION)
def test_target_lost_mid_transition(case, how, host, recovery):
    """The transition waits in the middle activation wave (s3 on its new host); then HOST is
    cut off (route) or its sshd dies, and the waiting step goes on."""
    fl = case.fl
    waiting_on = case.where("s3", case.target)
    fl.mark(waiting_on, "s3.activate-wait")
    case.snapshot_before()
    run = case.start_deploy()
    fl.wait_for_file(waiting_on, f"{MARKERS}/s3.activate-waiting", run)
    case.inject()
    if how == "route":
        fl.drop_route(host)
    else:
        fl.kill_sshd(host)
    fl.unmark(waiting_on, "s3.activate-wait")
    result = run.wait()
    case.assert_failed(result, host)
    case.assert_as_before([h for h in HOSTS if h != host], count=False)
    recover_lost(case, host, recovery, (lambda: fl.restore_route(host)) if how == "route" else
                 (lambda: fl.restart_sshd(host)))


@pytest.mark.parametrize("op,recovery", [("deactivate", "unlock"), ("activate", "next-deploy")])
def test_controller_killed_mid_transition(case, op, recovery):
    """The transition waits in the middle wave of OP (s3); the controller's process group
    gets SIGKILL; the step it started then completes on its own."""
    fl = case.fl
    host = case.where("s3", case.source if op == "deactivate" else case.target)
    fl.mark(host, f"s3.{op}-wait")
    case.snapshot_before()
    run = case.start_deploy()
    fl.wait_for_file(host, f"{MARKERS}/s3.{op}-waiting", run)
    case.inject()
    run.kill()
    fl.unmark(host, f"s3.{op}-wait")
    for h in HOSTS:
        fl.wait_idle(h)
    assert fl.generations() == case.generations, "the killed run recorded a generation"
    if recovery == "unlock":
        result = fl.unlock()
        assert result.rc == 0, f"unlock.yml after the killed run failed:\n{result}"
        case.assert_as_before()
        case.finish()
    else:
        case.finish(recovered_by_deploy=True)
