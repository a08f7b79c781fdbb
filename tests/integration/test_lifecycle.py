# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Life after the first deployment, on two lab hosts: undeploy, generations, garbage collection.

One lab and one sequence of deployments for the whole module (tests run in file order, each
from the state the previous one left): a stateful wrapper `counter` and a 1 MiB package
`blob` whose build changes with every `version`, so every generation has closures of its own.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from conftest import REPO, needs_lab

pytestmark = needs_lab

MODELS = os.path.join(REPO, "tests", "integration", "models", "lifecycle")
INVENTORY = os.path.join(MODELS, "lab.disnix.yml")
HOSTS = ("test1", "test2")
PROFILE = "/nix/var/nix/profiles/disnix/default"
# goes into every build of this test run, so the stores have none of them yet
STAMP = f"{os.getpid()}-{time.time_ns()}"


@pytest.fixture(scope="module")
def lab(lab_instance):
    lab_instance.up(*HOSTS)
    return lab_instance


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory):
    return str(tmp_path_factory.mktemp("coordinator"))


def deploy(lab, coordinator, distribution: str, version: str, *args: str):
    return lab.playbook("deploy.yml", INVENTORY, *args, extra_vars={
        "disnix_services": os.path.join(MODELS, "services.nix"),
        "disnix_distribution": os.path.join(MODELS, distribution),
        "disnix_coordinator_profile_dir": coordinator,
        # the counter's state moves with it (deployState); its snapshots stay out of this machine's store
        "disnix_controller_statedir": coordinator + "-snapshots",
        "disnix_extra_params": {"stamp": STAMP, "version": version}})


def play(lab, coordinator, playbook: str, *args: str, **extra):
    return lab.playbook(playbook, INVENTORY, *args, extra_vars={"disnix_coordinator_profile_dir": coordinator, **extra})


def sh(lab, host: str, command: str) -> str:
    return lab.ssh(host, command).stdout.strip()


def profile_services(lab, host: str) -> list[str]:
    manifest = json.loads(sh(lab, host, f"cat {PROFILE}/profilemanifest.json"))
    return sorted(s["service"] for s in manifest["services"])


def counter_active(lab, host: str) -> bool:
    return lab.ssh(host, "test -e /run/counter-active", check=False).returncode == 0


def blobs(lab, host: str) -> list[str]:
    """The versions of blob in the host's store."""
    return sorted(p.rsplit("-", 1)[1] for p in sh(lab, host, "ls -d /nix/store/*-blob-* 2>/dev/null || true").split())


def test_fresh_deploy(lab, coordinator):
    run = deploy(lab, coordinator, "distribution-1.nix", "1")
    assert run.rc == 0, run
    assert counter_active(lab, "test1")
    assert profile_services(lab, "test1") == ["blob", "counter"]


def test_undeploy_stops_everything_and_empties_the_profiles(lab, coordinator):
    sh(lab, "test1", "echo 3 > /var/db/counter/state")
    run = play(lab, coordinator, "undeploy.yml")
    assert run.rc == 0, run
    assert not counter_active(lab, "test1")
    assert profile_services(lab, "test1") == [] and profile_services(lab, "test2") == []
    assert sh(lab, "test1", f"ls {PROFILE}/") == "manifest.nix\nprofilemanifest.json\nprofilemanifest.xml"
    listing = play(lab, coordinator, "generations.yml")
    assert listing.rc == 0, listing
    assert "2 (current): nothing" in listing.out and "1: blob@test1, blob@test2, counter@test1" in listing.out


def test_deploy_after_undeploy_works(lab, coordinator):
    run = deploy(lab, coordinator, "distribution-1.nix", "2")
    assert run.rc == 0, run
    assert counter_active(lab, "test1")
    assert profile_services(lab, "test1") == ["blob", "counter"]
    assert sh(lab, "test1", "cat /var/db/counter/state") == "3"    # undeploy keeps state, as Disnix


def test_third_generation(lab, coordinator):
    run = deploy(lab, coordinator, "distribution-2.nix", "3")
    assert run.rc == 0, run
    assert counter_active(lab, "test2") and not counter_active(lab, "test1")


def test_gc_keeps_the_current_generation_and_other_profiles(lab, coordinator):
    # a profile that is not Disnix's, with two generations of its own
    sh(lab, "test1", "set -e; for v in a b; do p=$(nix-store --add $(mktemp -d /tmp/other-$v.XXXX)); "
                     "nix-env -p /nix/var/nix/profiles/other --set $p; done")
    assert blobs(lab, "test1") == ["1", "2", "3"]
    extra = {"disnix_keep": 1, "disnix_gc_controller_collect": False}   # the controller's store is shared here
    check = play(lab, coordinator, "collect_garbage.yml", "--check", **extra)
    assert check.rc == 0, check
    assert "generation /nix/var/nix/profiles/disnix/default-1-link" in check.out
    assert "would free " in check.out and " MiB" in check.out
    assert blobs(lab, "test1") == ["1", "2", "3"]
    assert len([g for g in os.listdir(coordinator) if g.endswith("-link")]) == 4

    run = play(lab, coordinator, "collect_garbage.yml", **extra)
    assert run.rc == 0, run
    assert blobs(lab, "test1") == ["3"] and blobs(lab, "test2") == ["3"]
    # every path of the current generation's closure is still there
    assert sh(lab, "test1", f"nix-store --verify-path $(nix-store -qR {PROFILE}) && echo ok") == "ok"
    assert sh(lab, "test1", "ls /nix/var/nix/profiles/disnix") == "default\ndefault-4-link"
    assert sh(lab, "test1", "ls /nix/var/nix/profiles | grep other") == "other\nother-1-link\nother-2-link"
    assert sorted(g for g in os.listdir(coordinator) if g.endswith("-link")) == ["default-4-link"]


def test_generations_switch_to_n_and_delete_keeping_n(lab, coordinator):
    # after the collection the controller keeps generation 4 (version 3, counter on test2)
    run = deploy(lab, coordinator, "distribution-1.nix", "4")
    assert run.rc == 0, run
    assert counter_active(lab, "test1") and blobs(lab, "test1") == ["3", "4"]
    extra = {"disnix_controller_statedir": coordinator + "-snapshots"}
    both = play(lab, coordinator, "generations.yml", disnix_keep=1, disnix_switch_to=4, **extra)
    assert both.rc != 0 and "switch first, then delete" in both.out, both
    assert os.readlink(os.path.join(coordinator, "default")) == "default-5-link"

    # back to generation 4, as a deployment: the counter returns to test2, version 3 runs
    run = play(lab, coordinator, "generations.yml", disnix_switch_to=4, **extra)
    assert run.rc == 0, run
    assert os.readlink(os.path.join(coordinator, "default")) == "default-4-link"
    assert counter_active(lab, "test2") and not counter_active(lab, "test1")
    assert "-blob-3/" in sh(lab, "test1", f"readlink -f {PROFILE}/share/blob-{STAMP}")

    # keep 1: check mode names what would go and deletes nothing; the real run deletes it
    check = play(lab, coordinator, "generations.yml", "--check", disnix_keep=1, **extra)
    assert check.rc == 0, check
    assert "would delete controller generations: 5" in check.out, check
    assert sorted(g for g in os.listdir(coordinator) if g.endswith("-link")) == ["default-4-link", "default-5-link"]
    run = play(lab, coordinator, "generations.yml", disnix_keep=1, **extra)
    assert run.rc == 0, run
    assert "deleted controller generations: 5" in run.out, run
    assert sorted(g for g in os.listdir(coordinator) if g.endswith("-link")) == ["default-4-link"]
    targets = [int(g.split("-")[1]) for g in sh(lab, "test1", "ls /nix/var/nix/profiles/disnix").split() if g.endswith("-link")]
    assert len(targets) == 1, targets
