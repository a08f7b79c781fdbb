# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""examples/hello-world deployed to lab hosts given only by an ordinary inventory: no
infrastructure model, no disnix_ variables except one host's disnix_system; the other host's
system comes from its gathered facts. Malformed or missing settings stop the run before
anything changes, with an error that names the host and the variable."""

from __future__ import annotations

import os
import textwrap

import pytest

from conftest import REPO, needs_lab

pytestmark = needs_lab

EXAMPLE = os.path.join(REPO, "examples", "hello-world")
CLIENT = "/nix/var/nix/profiles/disnix/default/bin/hello-world-client"
PROFILE = "/nix/var/nix/profiles/disnix/default"
PORT = 20000 + (os.getpid() + 7) % 20000

# What a user writes: the targets in group disnix_targets, nothing else Disnix-specific but
# one host's system.
INI = """\
[disnix_targets]
test1
test2 disnix_system=x86_64-linux
"""


@pytest.fixture(scope="module")
def lab(lab_instance):
    lab_instance.up("test1", "test2")
    return lab_instance


@pytest.fixture
def coordinator(tmp_path):
    return str(tmp_path / "coordinator")


def site_playbook(directory) -> str:
    """The user's playbook: gather the targets' facts, then the collection's deployment."""
    path = directory / "site.yml"
    path.write_text(textwrap.dedent(f"""\
        ---
        - name: Gather the facts of the targets
          hosts: disnix_targets
          gather_facts: true
          tasks: []

        - name: Deploy
          ansible.builtin.import_playbook: {REPO}/playbooks/deploy.yml
        """))
    return str(path)


def deploy(lab, playbook: str, inventory: str, coordinator: str):
    # an absolute playbook path: Lab.playbook joins it to playbooks/ unchanged
    return lab.playbook(playbook, inventory, extra_vars={
        "disnix_services": os.path.join(EXAMPLE, "services.nix"),
        "disnix_distribution": os.path.join(EXAMPLE, "distribution-scenario1.nix"),
        "disnix_coordinator_profile_dir": coordinator,
        "disnix_extra_params": {"serverPort": PORT}})


def has_profile(lab, host: str) -> bool:
    return lab.ssh(host, f"test -e {PROFILE}", check=False).returncode == 0


def nothing_changed(lab, coordinator: str) -> bool:
    return not os.path.exists(coordinator) or not os.listdir(coordinator)


def test_hello_world_from_an_ordinary_ini_inventory(lab, tmp_path, coordinator):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(INI)
    run = deploy(lab, site_playbook(tmp_path), str(inventory), coordinator)
    assert run.rc == 0, run
    proc = lab.ssh("test1", f"printf 'hello\\nquit\\n' | {CLIENT}", check=False)
    assert proc.stdout == "Hello world!\n", proc.stdout + proc.stderr
    # the client was configured with the server's hostname: test2's inventory name
    assert f"test2 {PORT}" in lab.ssh("test1", f"cat {CLIENT}").stdout
    assert lab.ssh("test2", "kill -0 $(cat /var/run/hello-world-server.pid)", check=False).returncode == 0


def test_malformed_variable_is_a_clear_error_and_changes_nothing(lab, tmp_path, coordinator):
    lab.ssh("test1", f"rm -f {PROFILE}")
    # a YAML inventory whose test1 gives its properties as a string instead of a dict
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(textwrap.dedent("""\
        disnix_targets:
          hosts:
            test1:
              disnix_properties: test1.example.org
            test2:
              disnix_system: x86_64-linux
        """))
    run = deploy(lab, site_playbook(tmp_path), str(inventory), coordinator)
    assert run.rc != 0, run
    assert ("host test1: disnix_properties: properties must be an attribute set, "
            "got the string 'test1.example.org'") in run.out.replace("\n", " "), run
    assert nothing_changed(lab, coordinator)
    assert not has_profile(lab, "test1")


def test_no_system_and_no_facts_is_a_clear_error_and_changes_nothing(lab, tmp_path, coordinator):
    lab.ssh("test1", f"rm -f {PROFILE}")
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(INI)
    # the collection's playbook on its own gathers no facts: test1 has no system
    run = deploy(lab, os.path.join(REPO, "playbooks", "deploy.yml"), str(inventory), coordinator)
    assert run.rc != 0, run
    assert ("host test1: no disnix_system and no gathered facts; set disnix_system (e.g. x86_64-linux) "
            "or gather facts") in run.out.replace("\n", " "), run
    assert nothing_changed(lab, coordinator)
    assert not has_profile(lab, "test1")
