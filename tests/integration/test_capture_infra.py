# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/capture_infra.yml on the hello-world lab: the model it generates from the lab's
facts names each host's real system (test1's and test3's Nix say i686-linux and
x86_64-cygwin on an x86_64 Linux kernel), reads back through the inventory plugin as the
hand-written model does, and deploys hello-world's scenario 1 as the hand-written one does."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from conftest import REPO, needs_lab

pytestmark = needs_lab

EXAMPLE = os.path.join(REPO, "examples", "hello-world")
INVENTORY = os.path.join(EXAMPLE, "lab.disnix.yml")
CLIENT = "/nix/var/nix/profiles/disnix/default/bin/hello-world-client"
PROFILE = "/nix/var/nix/profiles/disnix/default"
PORT = 20000 + os.getpid() % 20000
HOSTS = ("test1", "test2", "test3")


@pytest.fixture(scope="module")
def lab(lab_instance):
    lab_instance.up(*HOSTS, systems={"test1": "i686-linux", "test3": "x86_64-cygwin"})
    return lab_instance


@pytest.fixture(scope="module")
def captured(lab, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("captured"))
    run = lab.playbook("capture_infra.yml", INVENTORY, extra_vars={"disnix_capture_dir": out})
    assert run.rc == 0, run
    assert run.changed > 0, run
    return out


def plain(value):
    """ansible-inventory's JSON without the __ansible_unsafe wrappers."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def inventory_vars(lab, inventory: str) -> dict:
    proc = lab.run("ansible-inventory", "-i", inventory, "--list")
    hostvars = plain(json.loads(proc.stdout))["_meta"]["hostvars"]
    wanted = ("ansible_host", "ansible_port", "ansible_connection")
    return {host: {k: v for k, v in hv.items() if k.startswith("disnix_") or k in wanted}
            for host, hv in hostvars.items()}


def test_generated_model_has_each_hosts_system(captured):
    with open(os.path.join(captured, "infrastructure.yml"), encoding="utf-8") as f:
        model = yaml.safe_load(f)
    assert sorted(model) == list(HOSTS)
    assert {name: t["system"] for name, t in model.items()} == {
        "test1": "i686-linux", "test2": "x86_64-linux", "test3": "x86_64-cygwin"}
    assert model["test2"]["properties"]["targetEPR"] == "http://test2:8080/DisnixWebService/services/DisnixWebService"
    assert model["test2"]["clientInterface"] == "disnix-soap-client"
    assert all(t["numOfCores"] >= 1 and t["containers"] == {} for t in model.values())
    with open(os.path.join(captured, "infrastructure.nix"), encoding="utf-8") as f:
        assert 'system = "i686-linux";' in f.read()


def test_generated_inventory_reads_back_as_the_hand_written_one(lab, captured):
    hand = inventory_vars(lab, INVENTORY)
    generated = inventory_vars(lab, os.path.join(captured, "infrastructure.disnix.yml"))
    assert sorted(generated) == sorted(hand) == list(HOSTS)
    for host in HOSTS:
        cores = generated[host].pop("disnix_num_of_cores")
        nproc = int(lab.ssh(host, "nproc").stdout)
        assert cores == nproc, host      # the hand-written model leaves numOfCores at Disnix's default, 1
        assert hand[host].pop("disnix_num_of_cores") == 1
        assert generated[host] == hand[host], host
    # the YAML form is the same model
    yaml_config = os.path.join(captured, "yaml.disnix.yml")
    with open(yaml_config, "w", encoding="utf-8") as f:
        f.write("plugin: disnix.deploy.infrastructure\ninfrastructure: infrastructure.yml\n")
    assert inventory_vars(lab, yaml_config) == inventory_vars(lab, os.path.join(captured, "infrastructure.disnix.yml"))


def test_capture_again_changes_nothing(lab, captured):
    run = lab.playbook("capture_infra.yml", INVENTORY, extra_vars={"disnix_capture_dir": captured})
    assert run.rc == 0, run
    assert run.changed == 0, run


def deploy(lab, coordinator: str, inventory: str):
    return lab.playbook("deploy.yml", inventory, extra_vars={
        "disnix_services": os.path.join(EXAMPLE, "services.nix"),
        "disnix_distribution": os.path.join(EXAMPLE, "distribution-scenario1.nix"),
        "disnix_coordinator_profile_dir": coordinator,
        "disnix_extra_params": {"serverPort": PORT}})


def profiles(lab) -> dict[str, str]:
    return {host: lab.ssh(host, f"readlink -f {PROFILE} 2>/dev/null || true").stdout.strip() for host in HOSTS}


def activations(lab) -> dict[str, int]:
    """How many activations and deactivations each target has recorded (locks not counted)."""
    return {host: sum(1 for e in lab.activation_log(host) if e.get("op") in ("activate", "deactivate")) for host in HOSTS}


def test_generated_model_deploys_hello_world_like_the_hand_written_one(lab, captured, tmp_path):
    generated = os.path.join(captured, "infrastructure.disnix.yml")
    run = deploy(lab, str(tmp_path / "generated"), generated)
    assert run.rc == 0, run
    proc = lab.ssh("test1", f"printf 'hello\\nquit\\n' | {CLIENT}", check=False)
    assert proc.stdout == "Hello world!\n", proc
    assert lab.ssh("test2", "kill -0 $(cat /var/run/hello-world-server.pid)", check=False).returncode == 0
    deployed = profiles(lab)
    assert deployed["test1"] and deployed["test2"]
    logs = activations(lab)
    assert logs["test2"], [lab.activation_log(h) for h in HOSTS]      # the server (the client is a package)

    # the hand-written model, with the same coordinator profile: the same services on the same
    # targets, so the target profiles stay and nothing is activated or deactivated
    again = deploy(lab, str(tmp_path / "generated"), INVENTORY)
    assert again.rc == 0, again
    assert profiles(lab) == deployed
    assert activations(lab) == logs

    # a deploy of its own with the hand-written model builds the same profiles
    hand = deploy(lab, str(tmp_path / "hand"), INVENTORY)
    assert hand.rc == 0, hand
    assert profiles(lab) == deployed
    assert activations(lab) == logs
