# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deployments that meet each other, and runs that must not start (issue 9), black box on
three lab hosts with the fault suite's model (models/faults/, see test_faults.py):

* two deploys started together never interleave and leave exactly one configuration;
* a deploy whose plan was made before another one committed re-plans or refuses, and never
  applies its stale transition;
* `--limit` excluding a host the transition touches is refused before anything changes;
* a run that would deploy nothing because of its input (no inventory, no targets) fails.

The tests run in file order on one lab; each starts from the configuration the previous one
left (`lab.current`).
"""

from __future__ import annotations

import itertools
import os
import time

import pytest

from conftest import needs_lab, write_inventory
from faults_support import DISTRIBUTIONS, HOSTS, MARKERS, FaultLab, config_problems, operations, other, repair

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
