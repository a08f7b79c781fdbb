# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NixOS configuration module of disnix.deploy.disnix_service.

There is no NixOS here, so the role runs on the controller (connection local) with
disnix_service_manager=nixos against files in a temporary directory, and a stand-in for
nixos-rebuild that records its calls. What is checked: the module parses
(nix-instantiate --parse), evaluates to the options it should set (nix-instantiate --eval
--strict --json, every awkward string intact), is imported exactly once into
configuration.nix in the layouts nixos-generate-config and people write, nixos-rebuild
runs once and only when something changed, and a configuration without an imports list
is refused with a message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)

pytestmark = pytest.mark.skipif(shutil.which("nix-instantiate") is None, reason="needs nix-instantiate")

GENERATED_CONFIG = """\
{ config, pkgs, ... }:

{
  imports =
    [ # Include the results of the hardware scan.
      ./hardware-configuration.nix
    ];

  networking.hostName = "nixos";
}
"""

ONE_LINE_CONFIG = """\
{ pkgs, ... }: {
  imports = [ ./hardware-configuration.nix ];
  services.openssh.enable = true;
}
"""

NO_IMPORTS_CONFIG = """\
{ pkgs, ... }:
{
  boot.loader.grub.device = "/dev/sda";
}
"""

AWKWARD = 'quote " dollar-brace ${builtins.currentTime} backslash \\ newline\nand tab\t end'


def write_inventory(tmp_path, hosts: dict[str, dict]) -> str:
    rebuild = tmp_path / "nixos-rebuild"
    rebuild.write_text("#!/bin/sh\necho \"$0 $*\" >> \"$REBUILD_LOG\"\n")
    rebuild.chmod(0o755)
    inventory = {"all": {"hosts": {}, "vars": {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "disnix_service_manager": "nixos",
        "disnix_service_nixos_rebuild_command": [str(rebuild), "switch"],
    }}}
    for name, variables in hosts.items():
        directory = tmp_path / name
        directory.mkdir()
        inventory["all"]["hosts"][name] = {
            "disnix_service_nixos_module_path": str(directory / "disnix.nix"),
            "disnix_service_nixos_configuration": str(directory / "configuration.nix"),
            **variables,
        }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    playbook = tmp_path / "nixos.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "NixOS module", "hosts": "all", "gather_facts": False,
        "roles": [{"role": "disnix.deploy.disnix_service"}]}]))
    return str(path)


def play(tmp_path, inventory: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
               REBUILD_LOG=str(tmp_path / "rebuild.log"))
    return subprocess.run(["ansible-playbook", "-i", inventory, str(tmp_path / "nixos.yml")], cwd=REPO, env=env,
                          capture_output=True, text=True, check=False, timeout=300)


def evaluate(module: str) -> dict:
    subprocess.run(["nix-instantiate", "--parse", module], check=True, capture_output=True)
    out = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "-E",
                          f"import {module} {{ config = {{ }}; lib = {{ }}; pkgs = {{ }}; }}"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def test_module_options_import_and_rebuild(tmp_path):
    hosts = {
        "plain": {},
        "soap": {
            "disnix_user": "sander",
            "disnix_client_interface": "disnix-soap-client",
            "disnix_properties": {"hostname": "soap", "note": AWKWARD, "cores": 4, "fast": True,
                                  "tags": ["a", "b c"]},
            "disnix_containers": {"process": {}, "mysql-database": {"mysqlPort": 3306, "mysqlPassword": AWKWARD}},
            "disnix_service_nixos_dysnomia_option": "dysnomia",
            "disnix_service_nixos_openssh": False,
            "disnix_service_nixos_extra_config": 'time.timeZone = "Europe/Amsterdam";\n',
        },
    }
    inventory = write_inventory(tmp_path, hosts)
    (tmp_path / "plain" / "configuration.nix").write_text(GENERATED_CONFIG)
    (tmp_path / "soap" / "configuration.nix").write_text(ONE_LINE_CONFIG)

    run = play(tmp_path, inventory)
    assert run.returncode == 0, run.stdout + run.stderr

    plain = evaluate(str(tmp_path / "plain" / "disnix.nix"))
    assert plain == {
        "services": {"disnix": {"enable": True, "useWebServiceInterface": False, "enableProfilePath": True},
                     "openssh": {"enable": True}},
        "boot": {"extraSystemdUnitPaths": ["/etc/systemd-mutable/system"]},
    }

    soap = evaluate(str(tmp_path / "soap" / "disnix.nix"))
    assert soap["services"]["disnix"] == {"enable": True, "useWebServiceInterface": True, "enableProfilePath": True}
    assert soap["services"]["tomcat"] == {"enable": True}
    assert "openssh" not in soap["services"]
    assert soap["networking"]["firewall"]["allowedTCPPorts"] == [8080]
    assert soap["users"]["users"]["sander"]["extraGroups"] == ["disnix"]
    assert soap["dysnomia"]["properties"] == {"hostname": "soap", "note": AWKWARD, "cores": 4, "fast": True,
                                              "tags": ["a", "b c"]}
    assert soap["dysnomia"]["extraContainerProperties"] == {
        "process": {}, "mysql-database": {"mysqlPort": 3306, "mysqlPassword": AWKWARD}}
    assert soap["time"]["timeZone"] == "Europe/Amsterdam"

    for host in hosts:
        config = (tmp_path / host / "configuration.nix").read_text()
        assert config.count("./disnix.nix") == 1, config
        subprocess.run(["nix-instantiate", "--parse", str(tmp_path / host / "configuration.nix")], check=True,
                       capture_output=True)
    assert "[ ./hardware-configuration.nix ];" not in (tmp_path / "soap" / "configuration.nix").read_text()
    assert len((tmp_path / "rebuild.log").read_text().splitlines()) == 2

    # again: nothing changes, nixos-rebuild does not run
    again = play(tmp_path, inventory)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "changed=0" in again.stdout and "changed=1" not in again.stdout, again.stdout
    assert len((tmp_path / "rebuild.log").read_text().splitlines()) == 2

    # a changed variable rewrites the module and rebuilds that host only
    data = yaml.safe_load(open(inventory))
    data["all"]["hosts"]["plain"]["disnix_service_nixos_profile_path"] = False
    with open(inventory, "w") as f:
        yaml.safe_dump(data, f)
    third = play(tmp_path, inventory)
    assert third.returncode == 0, third.stdout + third.stderr
    assert evaluate(str(tmp_path / "plain" / "disnix.nix"))["services"]["disnix"]["enableProfilePath"] is False
    assert len((tmp_path / "rebuild.log").read_text().splitlines()) == 3


def test_configuration_without_imports_is_refused(tmp_path):
    inventory = write_inventory(tmp_path, {"bare": {}})
    (tmp_path / "bare" / "configuration.nix").write_text(NO_IMPORTS_CONFIG)
    run = play(tmp_path, inventory)
    assert run.returncode != 0
    assert "has no \"imports = [ ... ];\" list" in run.stdout, run.stdout
    assert (tmp_path / "bare" / "configuration.nix").read_text() == NO_IMPORTS_CONFIG
    assert not (tmp_path / "rebuild.log").exists()
