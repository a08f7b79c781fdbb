# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/deploy.yml and rollback.yml on three lab hosts, scenario by scenario.

The tests run in file order on one lab and each starts from the state the previous one
left, as a user's successive deployments would. The targets' own records (the activation
log, pid files, profiles, lock files) are what is checked.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pytest

from conftest import REPO, needs_lab

pytestmark = needs_lab

MODELS = os.path.join(REPO, "tests", "integration", "models", "deploy")
INVENTORY = os.path.join(MODELS, "lab.disnix.yml")
HOSTS = ("test1", "test2", "test3")


@pytest.fixture(scope="module")
def lab(lab_instance):
    lab_instance.up(*HOSTS)
    return lab_instance


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory):
    return str(tmp_path_factory.mktemp("coordinator"))


# goes into every build of this test run, so the controller's store has none of them yet
STAMP = f"{os.getpid()}-{time.time_ns()}"


def deploy(lab, coordinator, distribution: str, *args: str, playbook: str = "deploy.yml", variant: str = "good", **extra):
    extra_vars = {"disnix_services": os.path.join(MODELS, "services.nix"),
                  "disnix_distribution": os.path.join(MODELS, distribution),
                  "disnix_coordinator_profile_dir": coordinator,
                  "disnix_extra_params": {"stamp": STAMP, "variant": variant}, **extra}
    return lab.playbook(playbook, INVENTORY, *args, extra_vars=extra_vars)


def generations(coordinator: str) -> list[str]:
    return sorted(e for e in os.listdir(coordinator) if e.startswith("default-") and e.endswith("-link"))


def running(lab, host: str, service: str) -> int | None:
    """The pid of a service on a host when its pid file names a live process."""
    proc = lab.ssh(host, f"p=$(cat /run/{service}.pid 2>/dev/null) && kill -0 $p && echo $p", check=False)
    return int(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else None


def activations(lab) -> list[dict]:
    """Every host's log merged in time order (the hosts share the machine's clock)."""
    entries = [dict(e, host=h) for h in HOSTS for e in lab.activation_log(h)]
    return sorted(entries, key=lambda e: e["time_ns"])


def crashed_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def locks(lab) -> list[str]:
    return [h for h in HOSTS if lab.ssh(h, "test -e /tmp/disnix-default.lock", check=False).returncode == 0]


def test_fresh_deploy_activates_in_dependency_order_across_hosts(lab, coordinator):
    run = deploy(lab, coordinator, "distribution-1.nix")
    assert run.rc == 0, run
    assert run.changed > 0
    order = [(e["service"], e["host"]) for e in activations(lab) if e["op"] == "activate" and e["ok"]]
    assert order == [("db", "test1"), ("api", "test2"), ("web", "test3")]
    assert all(running(lab, h, s) for s, h in order)
    assert len(generations(coordinator)) == 1
    # the target profile is set and its manifest lists what runs there
    manifest = json.loads(lab.ssh("test2", "cat /nix/var/nix/profiles/disnix/default/profilemanifest.json").stdout)
    assert [s["service"] for s in manifest["services"]] == ["api"]
    assert "db at test1" in lab.ssh("test2", "cat /nix/var/nix/profiles/disnix/default/bin/api").stdout
    assert locks(lab) == []


def test_unchanged_rerun_changes_nothing(lab, coordinator):
    before = activations(lab)
    run = deploy(lab, coordinator, "distribution-1.nix")
    assert run.rc == 0, run
    assert run.changed == 0, run
    assert len(generations(coordinator)) == 1
    assert activations(lab) == before


def test_check_mode_prints_the_plan_and_touches_nothing(lab, coordinator):
    before = activations(lab)
    run = deploy(lab, coordinator, "distribution-2.nix", "--check")
    assert run.rc == 0, run
    assert "would build" in run.out and "-api.drv" in run.out        # api bakes in db's new host
    assert "deactivate db (process) on test1" in run.out
    assert "activate db (process) on test3" in run.out
    assert activations(lab) == before
    assert len(generations(coordinator)) == 1
    assert running(lab, "test1", "db") and not running(lab, "test3", "db")


def test_moving_a_service_redeploys_its_dependants(lab, coordinator):
    web_pid, api_pid = running(lab, "test3", "web"), running(lab, "test2", "api")
    mark = activations(lab)[-1]["time_ns"]
    run = deploy(lab, coordinator, "distribution-2.nix")
    assert run.rc == 0, run
    steps = [(e["op"], e["service"], e["host"]) for e in activations(lab) if e["time_ns"] > mark and e["ok"]
             and e["op"] in ("activate", "deactivate")]
    # as in Disnix, a service's key covers its inter-dependencies' keys and targets
    # (dependsOn), so web is redeployed too although its build did not change: dependants
    # are deactivated first, activation goes in dependency order
    assert steps == [("deactivate", "web", "test3"), ("deactivate", "api", "test2"), ("deactivate", "db", "test1"),
                     ("activate", "db", "test3"), ("activate", "api", "test2"), ("activate", "web", "test3")]
    assert running(lab, "test1", "db") is None
    assert running(lab, "test3", "db")
    assert running(lab, "test2", "api") not in (None, api_pid)
    assert running(lab, "test3", "web") not in (None, web_pid)
    assert "db at test3" in lab.ssh("test2", "cat /nix/var/nix/profiles/disnix/default/bin/api").stdout
    assert len(generations(coordinator)) == 2


def test_failed_activation_rolls_back_every_host(lab, coordinator):
    profiles = {h: lab.ssh(h, "readlink -f /nix/var/nix/profiles/disnix/default").stdout for h in HOSTS}
    run = deploy(lab, coordinator, "distribution-2.nix", variant="fail")
    assert run.rc != 0, run
    assert "rolled back" in run.out and "api: refusing to start" in run.out
    # what was restored, host by host, in the order it was undone
    assert "restored: deactivate db, activate db" in run.out and "restored: activate api" in run.out
    assert "the controller generation is unchanged" in run.out
    # the new db ran on test3 for a while, then the old one came back; api likewise on test2
    assert running(lab, "test3", "db") and running(lab, "test2", "api") and running(lab, "test3", "web")
    assert "db v1" in lab.ssh("test3", "cat $(readlink -f /nix/var/nix/profiles/disnix/default)/bin/db").stdout
    assert {h: lab.ssh(h, "readlink -f /nix/var/nix/profiles/disnix/default").stdout for h in HOSTS} == profiles
    assert len(generations(coordinator)) == 2
    assert locks(lab) == []


def test_a_service_that_vetoes_its_lock_stops_everything(lab, coordinator):
    run = deploy(lab, coordinator, "distribution-3.nix")
    assert run.rc == 0, run
    assert lab.ssh("test1", "test -e /tmp/guard-active", check=False).returncode == 0
    lab.ssh("test1", "touch /tmp/guard-veto")
    before = activations(lab)
    try:
        run = deploy(lab, coordinator, "distribution-1.nix")
        assert run.rc != 0, run
        assert "locking failed" in run.out and "guard" in run.out and "refused, nothing changed" in run.out
        assert [e for e in activations(lab) if e["op"] in ("activate", "deactivate")] == \
            [e for e in before if e["op"] in ("activate", "deactivate")]
        assert len(generations(coordinator)) == 3
        assert locks(lab) == []
        assert running(lab, "test3", "db") and running(lab, "test1", "db") is None

        # Disnix's --no-lock: the same upgrade goes through without asking the services
        run = deploy(lab, coordinator, "distribution-1.nix", disnix_no_lock=True)
        assert run.rc == 0, run
        assert lab.ssh("test1", "test -e /tmp/guard-active", check=False).returncode != 0
        assert running(lab, "test1", "db") and running(lab, "test3", "db") is None
        assert len(generations(coordinator)) == 4
    finally:
        lab.ssh("test1", "rm -f /tmp/guard-veto")


def test_a_deploy_while_another_holds_the_locks_is_refused(lab, coordinator):
    holder = {"run_id": "other-run", "controller": "elsewhere", "user": "someone", "pid": 1, "since": 0, "profile": "default"}
    lab.ssh("test2", "cat > /tmp/disnix-default.lock", stdin=json.dumps(holder))
    # a real change (an unchanged deployment needs no lock)
    run = deploy(lab, coordinator, "distribution-2.nix")
    assert run.rc != 0, run
    assert "other-run" in run.out and "elsewhere" in run.out
    assert locks(lab) == ["test2"]                       # the other run's lock is left alone
    assert len(generations(coordinator)) == 4

    # a lock left by a crashed run of this controller: its pid is gone, so the next deploy
    # repairs it first (takes it over, nothing journaled to undo, releases it), then deploys
    crashed = dict(holder, run_id="crashed-run", controller=socket.gethostname(), pid=crashed_pid())
    lab.ssh("test2", "cat > /tmp/disnix-default.lock", stdin=json.dumps(crashed))
    run = deploy(lab, coordinator, "distribution-2.nix")
    assert run.rc == 0, run
    assert "recovered run crashed-run" in run.out
    assert locks(lab) == []
    assert len(generations(coordinator)) == 5
    assert running(lab, "test3", "db") and running(lab, "test1", "db") is None

    # unlock.yml repairs without deploying; with nothing left it changes nothing
    lab.ssh("test2", "cat > /tmp/disnix-default.lock", stdin=json.dumps(crashed))
    run = lab.playbook("unlock.yml", INVENTORY)
    assert run.rc == 0, run
    assert locks(lab) == []
    assert running(lab, "test3", "db")


def test_rollback_restores_the_previous_generation(lab, coordinator):
    # generation 5 is distribution-2, 4 distribution-1, 3 distribution-3 (guard on test1)
    run = deploy(lab, coordinator, "distribution-1.nix", playbook="rollback.yml")
    assert run.rc == 0, run
    assert os.readlink(os.path.join(coordinator, "default")) == "default-4-link"
    assert running(lab, "test1", "db") and running(lab, "test3", "db") is None
    assert running(lab, "test2", "api") and running(lab, "test3", "web")

    run = deploy(lab, coordinator, "distribution-1.nix", playbook="rollback.yml")  # 4 -> 3
    assert run.rc == 0, run
    assert lab.ssh("test1", "test -e /tmp/guard-active", check=False).returncode == 0
    assert running(lab, "test3", "db") and running(lab, "test1", "db") is None
    assert os.readlink(os.path.join(coordinator, "default")) == "default-3-link"


def test_a_service_whose_package_is_gone_counts_as_deactivated(lab, coordinator):
    # generation 3 runs api on test2; its package vanishes from test2's store (a partial wipe)
    pkg = lab.ssh("test2", "dirname $(dirname $(readlink -f /nix/var/nix/profiles/disnix/default/bin/api))").stdout.strip()
    assert pkg.startswith("/nix/store/")
    lab.ssh("test2", f"kill $(cat /run/api.pid); rm -rf {pkg}")
    run = deploy(lab, coordinator, "distribution-1.nix")          # api is rebuilt: the old one must go
    assert run.rc == 0, run
    assert "is missing on test2; treated as already deactivated" in run.out
    assert running(lab, "test1", "db") and running(lab, "test2", "api") and running(lab, "test3", "web")
    assert locks(lab) == []


def test_a_host_recreated_blank_gets_everything_it_should_run(lab, coordinator):
    # test3 comes back empty: no processes, no profile, no journal
    lab.ssh("test3", "for s in db web; do kill $(cat /run/$s.pid) 2>/dev/null; rm -f /run/$s.pid; done; "
                     "rm -rf /nix/var/nix/profiles/disnix /tmp/disnix-default.*")
    gens = len(generations(coordinator))
    # new builds: the api build of distribution-2 is the one the test before cut out of test2's store
    run = deploy(lab, coordinator, "distribution-2.nix", disnix_extra_params={"stamp": STAMP + "-blank", "variant": "good"})
    assert run.rc == 0, run
    assert "differ from the controller's generation" in run.out and "missing: web on test3" in run.out
    assert running(lab, "test3", "db") and running(lab, "test3", "web") and running(lab, "test2", "api")
    assert running(lab, "test1", "db") is None
    assert len(generations(coordinator)) == gens + 1


def test_a_deploy_locks_only_the_targets_it_changes_or_depends_on(lab, coordinator):
    params = {"stamp": STAMP + "-blank", "variant": "good"}
    run = deploy(lab, coordinator, "distribution-3.nix", disnix_extra_params=params)   # guard joins test1
    assert run.rc == 0, run
    assert lab.ssh("test1", "test -e /tmp/guard-active", check=False).returncode == 0
    gens = len(generations(coordinator))
    # guard refuses every lock from now on: a run that locked test1 would be refused
    lab.ssh("test1", "touch /tmp/guard-veto")
    try:
        mark = activations(lab)[-1]["time_ns"]
        # a no-op locks nothing: no service is asked, nothing is logged anywhere
        run = deploy(lab, coordinator, "distribution-3.nix", disnix_extra_params=params)
        assert run.rc == 0 and run.changed == 0, run
        assert [e for e in activations(lab) if e["time_ns"] > mark] == []
        # web alone is rebuilt (on test3; it depends on api on test2): test1 takes no part
        run = deploy(lab, coordinator, "distribution-3.nix", disnix_extra_params=dict(params, webNote=" (2)"))
        assert run.rc == 0, run
        logged = [(e["op"], e["service"], e["host"]) for e in activations(lab) if e["time_ns"] > mark]
        assert [s for s in logged if s[0] in ("activate", "deactivate")] == \
            [("deactivate", "web", "test3"), ("activate", "web", "test3")], logged
        assert [s for s in logged if s[2] == "test1"] == [], logged     # guard was not even asked
        assert "api at test2 (2)" in lab.ssh("test3", "cat /nix/var/nix/profiles/disnix/default/bin/web").stdout
        assert len(generations(coordinator)) == gens + 1 and locks(lab) == []
        # a change on test1 is refused by guard, with nothing changed
        run = deploy(lab, coordinator, "distribution-2.nix", disnix_extra_params=params)
        assert run.rc != 0 and "locking failed" in run.out and "guard" in run.out, run
        assert len(generations(coordinator)) == gens + 1 and locks(lab) == []
    finally:
        lab.ssh("test1", "rm -f /tmp/guard-veto")


def test_undeploy_deactivates_in_reverse_dependency_order(lab, coordinator):
    mark = activations(lab)[-1]["time_ns"]
    check = lab.playbook("undeploy.yml", INVENTORY, "--check", extra_vars={"disnix_coordinator_profile_dir": coordinator})
    assert check.rc == 0, check
    assert "deactivate db (process) on test3" in check.out and [e for e in activations(lab) if e["time_ns"] > mark] == []
    run = lab.playbook("undeploy.yml", INVENTORY, extra_vars={"disnix_coordinator_profile_dir": coordinator})
    assert run.rc == 0, run
    order = [e["service"] for e in activations(lab) if e["time_ns"] > mark and e["op"] == "deactivate" and e["ok"]]
    # web needs api needs db: web goes first, db last (guard, needed by nothing, in the first wave)
    assert sorted(order) == ["api", "db", "guard", "web"], order
    assert order.index("web") < order.index("api") < order.index("db"), order
    assert all(running(lab, h, s) is None for h, s in (("test3", "web"), ("test2", "api"), ("test3", "db")))
    for host in HOSTS:
        services = json.loads(lab.ssh(host, "cat /nix/var/nix/profiles/disnix/default/profilemanifest.json").stdout)["services"]
        assert services == [], (host, services)
    assert locks(lab) == []
