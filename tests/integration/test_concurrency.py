# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deployments that meet each other, and runs that must not start (issue 9), black box on
three lab hosts with the fault suite's model (models/faults/, see test_faults.py):

* two deploys started together never interleave and leave exactly one configuration;
* of two deploys that meet at a lock, the one that started later gives way and the earlier
  one waits for it (wait-die, docs/deploy.md#locks), shown with a lock planted as another
  controller's run would leave it;
* a deploy whose plan was made before another one committed re-plans or refuses, and never
  applies its stale transition;
* `--limit` excluding a host the transition touches is refused before anything changes;
* a run that would deploy nothing because of its input (no inventory, no targets) fails.

The tests run in file order on one lab; each starts from the configuration the previous one
left (`lab.current`).
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import time

import pytest

from conftest import needs_lab, write_inventory
from faults_support import DISTRIBUTIONS, HOSTS, LOCK, MARKERS, FaultLab, config_problems, operations, other, repair

pytestmark = needs_lab


def new_stamp(tag: str) -> str:
    return f"{os.getpid()}-{time.time_ns()}-{tag}"


@pytest.fixture(scope="module")
def lab(lab_instance, tmp_path_factory):
    fl = FaultLab.deployed(lab_instance, str(tmp_path_factory.mktemp("coordinator")), new_stamp("initial"))
    try:
        yield fl
    finally:
        fl.heal_all()


@pytest.fixture(autouse=True)
def known_state(lab):
    """Each test starts from a configuration fully running (a failed test may have left
    something else: then heal, unlock and deploy again)."""
    if lab.dirty or config_problems(lab, *lab.current):
        repair(lab)
    lab.dirty = True
    yield
    lab.heal_all()
    lab.dirty = bool(config_problems(lab, *lab.current))


def blocks(values: list[str]) -> list[str]:
    """Runs of equal consecutive values: x x y y x -> [x, y, x]."""
    return [key for key, _group in itertools.groupby(values)]


def the_one_configuration(lab: FaultLab, candidates: dict[str, tuple[str, str]]) -> str:
    """Which of the candidate configurations the network runs, exactly; fails unless one."""
    problems = {name: config_problems(lab, *config) for name, config in candidates.items()}
    matching = [name for name, found in problems.items() if not found]
    assert len(matching) == 1, f"the network runs neither configuration exactly: {problems}"
    return matching[0]


def test_two_deploys_started_together_never_interleave(lab):
    source = lab.current[0]
    gens = lab.generations()
    mark = time.time_ns()
    configs = {"x": (other(source), new_stamp("x")), "y": (source, new_stamp("y"))}   # y rebuilds every service
    started = {name: lab.start_deploy(*config) for name, config in configs.items()}
    runs = {name: run.wait() for name, run in started.items()}
    assert any(r.rc == 0 for r in runs.values()), f"neither deploy succeeded:\n{runs['x']}\n{runs['y']}"

    winner = the_one_configuration(lab, configs)
    stamps = {config[1]: name for name, config in configs.items()}
    activated = [stamps[e[4]] for e in operations(lab) if e[0] > mark and e[2] == "activate" and e[4] in stamps]
    assert len(blocks(activated)) <= 2, f"the two deploys' activations interleave: {activated}"
    for name, run in runs.items():
        if run.rc != 0:
            assert name not in activated, f"deploy {name} failed after activating services: {activated}\n{run}"
    succeeded = [name for name, run in runs.items() if run.rc == 0]
    assert len(lab.generations()["links"]) == len(gens["links"]) + len(succeeded)
    if len(succeeded) == 2:         # serialised: the one that came second is what runs
        assert blocks(activated)[-1] == winner, activated
    else:
        assert succeeded == [winner], runs
    lab.current = configs[winner]


def plant_lock(lab: FaultLab, host: str, started: float) -> str:
    """A lock as a live run of another controller leaves it (not recovered as a dead one)."""
    run_id = f"planted-{time.time_ns()}"
    info = {"run_id": run_id, "controller": "another-controller", "user": "someone", "pid": 1,
            "since": int(time.time()), "started": started, "profile": "default"}
    lab.sh(host, f"printf '%s\\n' {shlex.quote(json.dumps(info))} > {LOCK}")
    return run_id


def without_locks(snapshots: dict[str, dict]) -> dict[str, dict]:
    return {h: {k: v for k, v in snap.items() if k != "lock"} for h, snap in snapshots.items()}


def wait_for_a_waiting_module(lab: FaultLab, host: str, run, seconds: float = 2.0, timeout: float = 120) -> None:
    """Until a module has run on HOST without pause for SECONDS (the lock stage waiting:
    a query or a copy step takes a fraction of that); fails when RUN ends first."""
    deadline, since = time.monotonic() + timeout, None
    while True:
        busy = lab.sh(host, "pgrep -f '[p]ython3' >/dev/null", check=False).returncode == 0
        since = (since or time.monotonic()) if busy else None
        if since is not None and time.monotonic() - since >= seconds:
            return
        if run.done():
            raise AssertionError(f"the run ended before it waited on {host}:\n{run.wait()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no module waited on {host} within {timeout} s")
        time.sleep(0.2)


def test_a_lock_of_a_run_that_started_earlier_is_given_way_to_and_one_that_started_later_waited_for(lab):
    source = lab.current[0]
    host = HOSTS[2]
    before, gens = lab.snapshots(), lab.generations()
    # an earlier run holds test3: this run gives way at once, locks nothing, changes nothing
    earlier = plant_lock(lab, host, time.time() - 3600)
    try:
        run = lab.deploy(other(source), new_stamp("gives-way"))
        assert run.rc != 0, run
        assert any(earlier in line and "this run gives way" in line for line in run.out.splitlines()), run
        assert lab.locks() == [host], "the run that gave way left a lock behind"
        assert without_locks(lab.snapshots()) == without_locks(before)
        assert lab.generations() == gens
    finally:
        lab.sh(host, f"rm -f {LOCK}")

    # a later run holds test3: this run locks the rest, waits at test3's lock until the later
    # run gives way (the lock removed, as that run's refusal removes it), then deploys
    later = plant_lock(lab, host, time.time() + 3600)
    config = (other(source), new_stamp("waits"))
    started = lab.start_deploy(*config)
    try:
        wait_for_a_waiting_module(lab, host, started)
        assert without_locks(lab.snapshots()) == without_locks(before), "the network changed while the run waited"
    finally:
        lab.sh(host, f"rm -f {LOCK}")
    run = started.wait()
    assert run.rc == 0, run
    assert any(line.strip().startswith(f"{host}: waited for the lock of run {later}") for line in run.out.splitlines()), run
    assert config_problems(lab, *config) == []
    assert lab.generations()["links"] != gens["links"] and not lab.locks()
    lab.current = config


def test_a_deploy_planned_before_another_committed_never_applies_its_stale_plan(lab):
    """Slow (every service rebuilt in place) plans against generation N and waits in the
    copy (every host's nix-store import holds); fast commits generation N+1 meanwhile, moving
    every service; slow then goes on. It must re-plan or refuse: the network runs exactly
    one of the two. Applied as planned, slow's transition would deactivate services where
    they no longer run and start its own next to fast's: ten services."""
    source = lab.current[0]
    configs = {"slow": (source, new_stamp("slow")), "fast": (other(source), new_stamp("fast"))}
    for host in HOSTS:
        lab.install_nix_store_wrapper(host)
        lab.mark(host, "nix-store.import-wait")
    try:
        slow = lab.start_deploy(*configs["slow"])
        for host in HOSTS:
            lab.wait_for_file(host, f"{MARKERS}/nix-store.import-waiting", slow)
        fast = lab.deploy(*configs["fast"])
        for host in HOSTS:
            lab.unmark(host, "nix-store.import-waiting")
        slow_run = slow.wait()
    finally:
        lab.heal_all()
    winner = the_one_configuration(lab, configs)
    runs = {"slow": slow_run, "fast": fast}
    assert runs[winner].rc == 0, f"the configuration that runs is that of a failed deploy:\n{runs[winner]}"
    lab.current = configs[winner]


def test_a_limit_that_excludes_a_touched_target_is_refused(lab):
    source = lab.current[0]
    before, gens = lab.snapshots(), lab.generations()
    run = lab.deploy(other(source), new_stamp("limit"), "--limit", "test1")
    assert run.rc != 0, run
    refusal = [line for line in run.out.splitlines() if "limit" in line.lower() and "test2" in line and "test3" in line]
    assert refusal, f"no line says that the limit excludes test2 and test3:\n{run}"
    assert lab.snapshots() == before
    assert lab.generations() == gens


def test_a_missing_inventory_source_fails(lab, tmp_path):
    source, stamp = lab.current
    before, gens = lab.snapshots(), lab.generations()
    missing = str(tmp_path / "no-such-inventory.disnix.yml")
    run = lab.start("deploy.yml", inventory=missing, extra_vars=lab.deploy_vars(other(source), new_stamp("noinv"))).wait()
    assert run.rc != 0, run
    assert any(missing in line for line in run.out.splitlines()), run
    assert lab.snapshots() == before
    assert lab.generations() == gens


def test_no_host_in_the_targets_group_fails(lab, tmp_path):
    source, stamp = lab.current
    gens = lab.generations()
    inventory = write_inventory(str(tmp_path), "{ }\n")
    run = lab.start("deploy.yml", inventory=inventory, extra_vars=lab.deploy_vars(other(source), new_stamp("nohosts"))).wait()
    assert run.rc != 0, run
    assert any("disnix_targets" in line for line in run.out.splitlines()), run
    assert lab.generations() == gens
    assert not config_problems(lab, source, stamp)


def test_the_network_still_deploys(lab):
    """After all of the above, an ordinary upgrade goes through."""
    source = lab.current[0]
    config = (other(source), new_stamp("final"))
    run = lab.deploy(*config)
    assert run.rc == 0, run
    assert not config_problems(lab, *config)
    assert sorted(lab.running()) == sorted(DISTRIBUTIONS[config[0]])
