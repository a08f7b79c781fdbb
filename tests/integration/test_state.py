# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshots and deployState migration on two lab hosts, with the stateful `counter`
wrapper of tests/integration/models/lifecycle (state /var/db/counter/state).

One lab and one sequence for the module (tests run in file order, each from the state the
previous one left): snapshot, modify, restore; keep-N cleanup; then the counter moves.
"""

from __future__ import annotations

import os
import time

import pytest

from conftest import REPO, needs_lab

pytestmark = needs_lab

MODELS = os.path.join(REPO, "tests", "integration", "models", "lifecycle")
INVENTORY = os.path.join(MODELS, "lab.disnix.yml")
HOSTS = ("test1", "test2")
STORE = "/var/state/dysnomia"
STAMP = f"{os.getpid()}-{time.time_ns()}"


@pytest.fixture(scope="module")
def lab(lab_instance):
    lab_instance.up(*HOSTS)
    return lab_instance


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    return {"coordinator": str(tmp_path_factory.mktemp("coordinator")), "snapshots": str(tmp_path_factory.mktemp("snapshots"))}


def deploy(lab, dirs, distribution: str, *args: str, **extra):
    return lab.playbook("deploy.yml", INVENTORY, *args, extra_vars={
        "disnix_services": os.path.join(MODELS, "services.nix"),
        "disnix_distribution": os.path.join(MODELS, distribution),
        "disnix_coordinator_profile_dir": dirs["coordinator"],
        "disnix_controller_statedir": dirs["snapshots"],
        "disnix_extra_params": {"stamp": STAMP, "version": "1"}, **extra})


def play(lab, dirs, playbook: str, *args: str, **extra):
    return lab.playbook(playbook, INVENTORY, *args, extra_vars={"disnix_controller_statedir": dirs["snapshots"], **extra})


def sh(lab, host: str, command: str) -> str:
    return lab.ssh(host, command).stdout.strip()


def counter(lab, host: str) -> str:
    return sh(lab, host, "cat /var/db/counter/state 2>/dev/null || echo none")


def set_counter(lab, host: str, value: int) -> None:
    sh(lab, host, f"echo {value} > /var/db/counter/state")


def generations(lab, host: str) -> list[str]:
    """The counter's snapshot generations on a host: N -> snapshot id."""
    out = sh(lab, host, f"cd {STORE}/generations/wrapper/counter 2>/dev/null && for g in $(ls | sort -n); do "
                        "echo $g $(readlink $g); done || true")
    return out.splitlines()


def test_deploy(lab, dirs):
    run = deploy(lab, dirs, "distribution-1.nix")
    assert run.rc == 0, run
    assert counter(lab, "test1") == "0"


def test_snapshot_in_the_dysnomia_layout_and_on_the_controller(lab, dirs):
    set_counter(lab, "test1", 5)
    check = play(lab, dirs, "snapshot.yml", "--check")
    assert check.rc == 0, check
    assert "would snapshot counter" in check.out and generations(lab, "test1") == []

    run = play(lab, dirs, "snapshot.yml", disnix_snapshot_fetch=True)
    assert run.rc == 0, run
    [gen] = generations(lab, "test1")
    number, link = gen.split()
    snapshot_id = link.rsplit("/", 1)[1]
    assert number == "1" and link == f"../../../snapshots/wrapper/counter/{snapshot_id}"
    assert sh(lab, "test1", f"cat {STORE}/snapshots/wrapper/counter/{snapshot_id}/state") == "5"
    # the controller's store has it too, in the same layout, with Dysnomia's checksum
    local = os.path.join(dirs["snapshots"], "snapshots", "wrapper", "counter", snapshot_id, "state")
    with open(local, encoding="utf-8") as handle:
        assert handle.read() == "5\n"
    assert os.readlink(os.path.join(dirs["snapshots"], "generations", "wrapper", "counter", "1")).endswith(snapshot_id)
    with open(os.path.join(dirs["snapshots"], "checksums", "wrapper", "counter", snapshot_id), encoding="utf-8") as handle:
        assert handle.read().startswith("sha256:")
    # no snapshot of the package service, nothing on test2
    assert generations(lab, "test2") == [] and "blob" not in sh(lab, "test1", f"ls {STORE}/snapshots/*/")

    again = play(lab, dirs, "snapshot.yml")
    assert again.rc == 0 and again.changed == 0, again          # identical state: no new generation


def test_modify_then_restore(lab, dirs):
    set_counter(lab, "test1", 8)
    check = play(lab, dirs, "restore.yml", "--check")
    assert check.rc == 0, check
    assert counter(lab, "test1") == "8"
    run = play(lab, dirs, "restore.yml")
    assert run.rc == 0, run
    assert counter(lab, "test1") == "5"
    assert sh(lab, "test1", "test -e /run/counter-active && echo running") == "running"   # restored, not redeployed


def test_restore_of_a_missing_snapshot_changes_nothing(lab, dirs):
    set_counter(lab, "test1", 6)
    run = play(lab, dirs, "restore.yml", disnix_component="counter", disnix_snapshot="wrapper/counter/" + "0" * 64)
    assert run.rc != 0
    assert f"snapshot wrapper/counter/{'0' * 64} is not in the store {STORE}" in run.out
    assert counter(lab, "test1") == "6"


def test_restore_a_named_snapshot(lab, dirs):
    first = generations(lab, "test1")[0].split()[1].rsplit("/", 1)[1]
    set_counter(lab, "test1", 7)
    assert play(lab, dirs, "snapshot.yml").rc == 0
    assert len(generations(lab, "test1")) == 2
    run = play(lab, dirs, "restore.yml", disnix_component="counter", disnix_snapshot=f"wrapper/counter/{first}")
    assert run.rc == 0, run
    assert counter(lab, "test1") == "5"
    assert generations(lab, "test1")[-1].endswith(first)        # the named one became the newest generation


def test_clean_snapshots_keeps_n(lab, dirs):
    set_counter(lab, "test1", 9)
    assert play(lab, dirs, "snapshot.yml").rc == 0
    gens = generations(lab, "test1")
    assert len(gens) == 4
    ids = sh(lab, "test1", f"ls {STORE}/snapshots/wrapper/counter").split()
    assert len(ids) == 3                                         # 5, 7, 9 (5 twice in the generations)
    check = play(lab, dirs, "clean_snapshots.yml", "--check", disnix_keep=2)
    assert check.rc == 0, check
    assert "would remove wrapper/counter/" in check.out and generations(lab, "test1") == gens
    run = play(lab, dirs, "clean_snapshots.yml", disnix_keep=2)
    assert run.rc == 0, run
    kept = generations(lab, "test1")
    assert kept == gens[-2:]
    assert sorted(sh(lab, "test1", f"ls {STORE}/snapshots/wrapper/counter").split()) == sorted(
        {g.split()[1].rsplit("/", 1)[1] for g in kept})
    again = play(lab, dirs, "clean_snapshots.yml", disnix_keep=2)
    assert again.rc == 0 and again.changed == 0, again
    listed = play(lab, dirs, "snapshot.yml", disnix_snapshot_list=True)
    assert listed.rc == 0 and listed.changed == 0, listed
    for g in kept:                                               # every kept generation, and no other
        assert g.split()[1].rsplit("/", 1)[1] in listed.out, listed
    assert generations(lab, "test1") == kept                     # listing takes no snapshot


def profile_services(lab, host: str) -> str:
    return sh(lab, host, "cat /nix/var/nix/profiles/disnix/default/profilemanifest.json")


def counter_active(lab, host: str) -> bool:
    return lab.ssh(host, "test -e /run/counter-active", check=False).returncode == 0


def test_the_counter_moves_with_its_state(lab, dirs):
    set_counter(lab, "test1", 42)
    check = deploy(lab, dirs, "distribution-2.nix", "--check")
    assert check.rc == 0, check
    assert "migrate the state of counter (wrapper/counter) from test1 to test2" in check.out
    started = time.monotonic()
    run = deploy(lab, dirs, "distribution-2.nix")
    seconds = time.monotonic() - started
    assert run.rc == 0, run
    assert counter_active(lab, "test2") and not counter_active(lab, "test1")
    assert counter(lab, "test2") == "42"
    # the snapshot it moved with is in the Dysnomia layout on the old target, and on the controller
    newest = generations(lab, "test1")[-1].split()[1]
    snapshot_id = newest.rsplit("/", 1)[1]
    assert sh(lab, "test1", f"cat {STORE}/snapshots/wrapper/counter/{snapshot_id}/state") == "42"
    assert generations(lab, "test2")[-1].endswith(snapshot_id)
    assert os.path.isdir(os.path.join(dirs["snapshots"], "snapshots", "wrapper", "counter", snapshot_id))
    assert f"migrated the state of counter from test1 to test2: snapshot wrapper/counter/{snapshot_id}" in run.out
    print(f"\n[state] deploy with the counter's migration: {seconds:.1f} s; "
          + run.out.split("migrated the state of counter", 1)[1].split("\n", 1)[0].strip())


def test_upstream_dysnomia_reads_the_stores(lab, dirs, upstream):
    """Upstream's dysnomia-snapshots lists the snapshots on the old target and the controller
    and finds their checksums right (--check)."""
    upstream.install(lab, "test1")
    on_target = lab.ssh("test1", "dysnomia-snapshots --query-all --check --container wrapper --component counter")
    assert on_target.returncode == 0, on_target
    assert on_target.stdout.split() == [f"wrapper/counter/{g.split()[1].rsplit('/', 1)[1]}" for g in generations(lab, "test1")]
    local = upstream.run(lab, "dysnomia-snapshots", "--query-latest", "--check",
                         env={"DYSNOMIA_STATEDIR": dirs["snapshots"]})
    assert local.returncode == 0 and "mismatch" not in local.stderr and "WARNING" not in local.stderr, local
    assert local.stdout.strip() == "wrapper/counter/" + generations(lab, "test2")[-1].split()[1].rsplit("/", 1)[1]


def test_a_failed_restore_rolls_everything_back(lab, dirs):
    set_counter(lab, "test2", 43)
    before = {h: profile_services(lab, h) for h in HOSTS}
    snapshots_before = {h: sh(lab, h, f"cd {STORE} && find . | sort") for h in ("test1",)}
    sh(lab, "test1", "touch /tmp/counter-restore-fails")
    try:
        run = deploy(lab, dirs, "distribution-1.nix")
    finally:
        sh(lab, "test1", "rm -f /tmp/counter-restore-fails")
    assert run.rc != 0
    assert "failed, rolled back" in run.out
    assert "FAILED at wave" in run.out and "migration of counter (test2 -> test1): restore" in run.out
    assert "restore refused" in run.out
    # the old one still runs with its counter, the new target is as before
    assert counter_active(lab, "test2") and counter(lab, "test2") == "43"
    assert not counter_active(lab, "test1")
    assert {h: profile_services(lab, h) for h in HOSTS} == before
    # the snapshot sent to test1 was taken back out of its store by the rollback
    assert {h: sh(lab, h, f"cd {STORE} && find . | sort") for h in ("test1",)} == snapshots_before
    assert "unimport snapshot counter" in run.out
    # and the next deploy migrates it
    again = deploy(lab, dirs, "distribution-1.nix")
    assert again.rc == 0, again
    assert counter_active(lab, "test1") and counter(lab, "test1") == "43" and not counter_active(lab, "test2")


def test_restore_from_the_controller_after_the_target_lost_its_snapshots(lab, dirs):
    # the controller keeps the snapshot the last migration moved (counter 43, now on test1)
    gens = os.path.join(dirs["snapshots"], "generations", "wrapper", "counter")
    newest = os.readlink(os.path.join(gens, str(max(int(g) for g in os.listdir(gens))))).rsplit("/", 1)[1]
    sh(lab, "test1", f"rm -rf {STORE}/snapshots/wrapper/counter {STORE}/generations/wrapper/counter "
                     f"{STORE}/checksums/wrapper/counter")
    set_counter(lab, "test1", 50)
    own = play(lab, dirs, "restore.yml")
    assert own.rc != 0 and "no snapshot in" in own.out, own           # the target's own store is empty
    check = play(lab, dirs, "restore.yml", "--check", disnix_restore_from_controller=True)
    assert check.rc == 0, check
    assert f"would import wrapper/counter/{newest} from the controller" in check.out, check
    assert counter(lab, "test1") == "50" and generations(lab, "test1") == []
    run = play(lab, dirs, "restore.yml", disnix_restore_from_controller=True)
    assert run.rc == 0, run
    assert counter(lab, "test1") == "43"
    assert [g.split()[1].rsplit("/", 1)[1] for g in generations(lab, "test1")] == [newest]
    assert sh(lab, "test1", "ls /tmp | grep -c disnix-restore- || true") == "0"
    assert counter_active(lab, "test1") and not counter_active(lab, "test2")   # restored, not redeployed
