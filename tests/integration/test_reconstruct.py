# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/reconstruct.yml (disnix-reconstruct) on the hello-world lab: the controller's
coordinator profile is lost, reconstruct rebuilds it from the targets' profile manifests,
and the next deploy of the same configuration has nothing to do."""

from __future__ import annotations

import os
import shutil

import pytest

from conftest import REPO, needs_lab

pytestmark = needs_lab

EXAMPLE = os.path.join(REPO, "examples", "hello-world")
INVENTORY = os.path.join(EXAMPLE, "lab.disnix.yml")
PORT = 20000 + os.getpid() % 20000


@pytest.fixture(scope="module")
def lab(lab_instance):
    lab_instance.up("test1", "test2", "test3", systems={"test1": "i686-linux", "test3": "x86_64-cygwin"})
    return lab_instance


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory):
    return str(tmp_path_factory.mktemp("coordinator"))


def deploy(lab, coordinator, *args: str):
    return lab.playbook("deploy.yml", INVENTORY, *args, extra_vars={
        "disnix_services": os.path.join(EXAMPLE, "services.nix"),
        "disnix_distribution": os.path.join(EXAMPLE, "distribution-scenario1.nix"),
        "disnix_coordinator_profile_dir": coordinator,
        "disnix_extra_params": {"serverPort": PORT}})


def reconstruct(lab, coordinator, *args: str):
    return lab.playbook("reconstruct.yml", INVENTORY, *args, extra_vars={"disnix_coordinator_profile_dir": coordinator})


def links(coordinator: str) -> list[str]:
    return sorted(os.listdir(coordinator)) if os.path.isdir(coordinator) else []


def test_reconstruct_after_the_coordinator_profile_is_lost(lab, coordinator):
    run = deploy(lab, coordinator)
    assert run.rc == 0, run
    manifest = os.readlink(os.path.join(coordinator, "default-1-link"))
    with open(manifest, encoding="utf-8") as f:
        deployed_text = f.read()

    # right after a deploy there is nothing to reconstruct
    same = reconstruct(lab, coordinator)
    assert same.rc == 0 and same.changed == 0, same
    assert "the controller generation 1 already records what the targets run" in same.out

    shutil.rmtree(coordinator)
    os.mkdir(coordinator)

    check = reconstruct(lab, coordinator, "--check", "--diff")
    assert check.rc == 0, check
    assert "would record a new controller generation" in check.out
    assert "+test1: hello_world_client" in check.out and "+test2: hello_world_server" in check.out
    assert "+test3: nothing" in check.out
    assert links(coordinator) == []                     # check mode records nothing

    run = reconstruct(lab, coordinator)
    assert run.rc == 0, run
    assert "recorded controller generation 1" in run.out
    assert links(coordinator) == ["default", "default-1-link"]
    rebuilt = os.readlink(os.path.join(coordinator, "default-1-link"))
    with open(rebuilt, encoding="utf-8") as f:
        assert f.read() == deployed_text                 # the manifest the deployment wrote
    assert rebuilt == manifest

    noop = deploy(lab, coordinator)
    assert noop.rc == 0, noop
    assert noop.changed == 0, noop
    assert "nothing to do" in noop.out
    assert links(coordinator) == ["default", "default-1-link"]

    # without reconstruct, the same deploy records a generation: changed=0 above is reconstruct's doing
    shutil.rmtree(coordinator)
    os.mkdir(coordinator)
    fresh = deploy(lab, coordinator)
    assert fresh.rc == 0 and fresh.changed > 0, fresh
    # a deployment also writes its run record (default.commits), which reconstruct does not
    assert links(coordinator) == ["default", "default-1-link", "default.commits"]


def test_reconstruct_refuses_when_a_target_is_unreachable(lab, coordinator, tmp_path):
    inventory = tmp_path / "broken.disnix.yml"
    inventory.write_text(f"plugin: disnix.deploy.infrastructure\ninfrastructure: {EXAMPLE}/infrastructure.nix\n"
                         "compose:\n  ansible_host: \"'test9' if inventory_hostname == 'test3' else inventory_hostname\"\n")
    before = links(coordinator)
    run = lab.playbook("reconstruct.yml", str(inventory), extra_vars={"disnix_coordinator_profile_dir": coordinator})
    assert run.rc != 0, run
    assert "test3" in run.out and "UNREACHABLE" in run.out
    assert links(coordinator) == before
