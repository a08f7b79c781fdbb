# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The blog post's three scenarios with examples/hello-world, on a lab that mirrors its
network: test1 an i686-linux host over ssh, test2 a SOAP target (reached on its targetEPR's
host), test3 an x86_64-cygwin host that only it can build for."""

from __future__ import annotations

import os

import pytest

from conftest import REPO, needs_lab

pytestmark = needs_lab

EXAMPLE = os.path.join(REPO, "examples", "hello-world")
INVENTORY = os.path.join(EXAMPLE, "lab.disnix.yml")
CLIENT = "/nix/var/nix/profiles/disnix/default/bin/hello-world-client"
# a port of this run's own: new builds, so building on targets really builds
PORT = 20000 + os.getpid() % 20000


@pytest.fixture(scope="module")
def lab(lab_instance):
    lab_instance.up("test1", "test2", "test3", systems={"test1": "i686-linux", "test3": "x86_64-cygwin"})
    return lab_instance


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory):
    return str(tmp_path_factory.mktemp("coordinator"))


def deploy(lab, coordinator, scenario: int, inventory: str = INVENTORY, **extra):
    return lab.playbook("deploy.yml", inventory, extra_vars={
        "disnix_services": os.path.join(EXAMPLE, "services.nix"),
        "disnix_distribution": os.path.join(EXAMPLE, f"distribution-scenario{scenario}.nix"),
        "disnix_coordinator_profile_dir": coordinator,
        "disnix_extra_params": {"serverPort": PORT}, **extra})


def ask(lab, host: str) -> str:
    proc = lab.ssh(host, f"printf 'hello\\nquit\\n' | {CLIENT}", check=False)
    return proc.stdout or proc.stderr


def server_runs(lab, host: str) -> bool:
    return lab.ssh(host, "kill -0 $(cat /var/run/hello-world-server.pid)", check=False).returncode == 0


def test_scenario1_client_on_test1_talks_to_server_on_test2(lab, coordinator):
    run = deploy(lab, coordinator, 1)
    assert run.rc == 0, run
    assert ask(lab, "test1") == "Hello world!\n"
    assert server_runs(lab, "test2")


def test_scenario2_second_client_on_test3_built_there_by_host_variable(lab, coordinator, tmp_path):
    # only the Cygwin target builds its own services: a host variable set by the inventory
    inventory = tmp_path / "cygwin-builds.disnix.yml"
    inventory.write_text(f"plugin: disnix.deploy.infrastructure\ninfrastructure: {EXAMPLE}/infrastructure.nix\n"
                         "compose:\n  disnix_build_on_targets: disnix_system == 'x86_64-cygwin'\n")
    run = deploy(lab, coordinator, 2, inventory=str(inventory))
    assert run.rc == 0, run
    assert "build on test3: " in run.out and "build on test1" not in run.out
    assert ask(lab, "test1") == "Hello world!\n"
    assert ask(lab, "test3") == "Hello world!\n"


def test_scenario3_without_building_on_targets_is_refused_before_any_change(lab, coordinator):
    before = sorted(os.listdir(coordinator))
    run = deploy(lab, coordinator, 3)
    assert run.rc != 0, run
    assert "target test3 has system x86_64-cygwin, which this controller cannot build" in run.out
    assert "disnix_build_on_targets" in run.out
    assert sorted(os.listdir(coordinator)) == before
    assert server_runs(lab, "test2") and not server_runs(lab, "test3")
    assert ask(lab, "test1") == "Hello world!\n"


def test_scenario3_server_moves_to_test3_built_there(lab, coordinator):
    run = deploy(lab, coordinator, 3, disnix_build_on_targets=True)
    assert run.rc == 0, run
    assert server_runs(lab, "test3")
    assert not server_runs(lab, "test2")
    for host in ("test1", "test3"):
        assert f"test3 {PORT}" in lab.ssh(host, f"cat {CLIENT}").stdout      # reconfigured to the new server
        assert ask(lab, host) == "Hello world!\n"
