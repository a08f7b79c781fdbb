# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory plugin on a model whose targets are lab hosts, as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from conftest import REPO, VENV_BIN, needs_lab, write_inventory

pytestmark = needs_lab

# the blog's model in its pre-0.5 form, with the lab's host names
MODEL = """\
{
  test1 = { hostname = "test1"; system = "i686-linux"; };
  test2 = {
    hostname = "test2";
    targetEPR = "http://test2:8080/DisnixWebService/services/DisnixWebService";
    targetProperty = "targetEPR";
    clientInterface = "disnix-soap-client";
  };
  test3 = { properties.hostname = "test3"; system = "x86_64-cygwin"; containers.process.runtimeDir = "/run"; };
}
"""


@pytest.fixture(scope="module")
def lab(lab_instance):
    lab_instance.up("test1", "test2", "test3", systems={"test1": "i686-linux", "test3": "x86_64-cygwin"})
    return lab_instance


def plain(value):
    """ansible-inventory --list encodes strings from the model as {"__ansible_unsafe": ...}:
    they are data, never templated."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def inventory_list(lab, config, with_nix: bool) -> dict:
    # without Nix: only the venv on PATH, so there is no nix-instantiate (listing needs no lab network)
    env = dict(lab.env, PATH=VENV_BIN if not with_nix else lab.env["PATH"])
    assert (shutil.which("nix-instantiate", path=env["PATH"]) is not None) == with_nix
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-inventory"), "-i", config, "--list"], env=env,
                          capture_output=True, text=True, check=True, cwd=REPO)
    return plain(json.loads(proc.stdout))


def test_list_has_design_variables_and_groups_with_and_without_nix(lab, tmp_path):
    config = write_inventory(tmp_path, MODEL)
    with_nix = inventory_list(lab, config, with_nix=True)
    without_nix = inventory_list(lab, config, with_nix=False)
    assert with_nix == without_nix

    hostvars = with_nix["_meta"]["hostvars"]
    assert sorted(with_nix["disnix_targets"]["hosts"]) == ["test1", "test2", "test3"]
    assert with_nix["system_i686_linux"]["hosts"] == ["test1"]
    assert with_nix["system_x86_64_cygwin"]["hosts"] == ["test3"]
    assert with_nix["client_disnix_soap_client"]["hosts"] == ["test2"]
    assert with_nix["container_process"]["hosts"] == ["test3"]
    assert hostvars["test2"]["ansible_host"] == "test2"
    assert hostvars["test2"]["disnix_properties"]["targetEPR"].startswith("http://test2:8080/")
    assert hostvars["test3"]["disnix_containers"] == {"process": {"runtimeDir": "/run"}}
    assert hostvars["test1"]["disnix_num_of_cores"] == 1
    assert hostvars["test1"]["disnix_client_interface"] == "disnix-ssh-client"


def test_ping_every_lab_host_through_the_inventory(lab, tmp_path):
    config = write_inventory(tmp_path, MODEL)
    proc = lab.run("ansible", "-i", config, "disnix_targets", "-m", "ansible.builtin.ping", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for host in ("test1", "test2", "test3"):
        assert f"{host} | SUCCESS" in proc.stdout


def test_malformed_model_fails_with_file_line_and_column(lab, tmp_path):
    config = write_inventory(tmp_path, '{\n  test1 = {\n    properties.hostname = "test1";\n    numOfCores = "two";\n  };\n}\n')
    proc = lab.run("ansible-inventory", "-i", config, "--list", check=False, env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"})
    assert proc.returncode != 0
    assert f"{tmp_path}/infrastructure.nix:4:" in proc.stderr.replace("\n", " ") or "infrastructure.nix:4:" in proc.stderr
    assert "numOfCores" in proc.stderr


def test_repo_example_inventory_renders(lab):
    proc = lab.run("ansible-inventory", "-i", os.path.join(REPO, "examples/hello-world/lab.disnix.yml"), "--graph")
    assert "@client_disnix_soap_client:" in proc.stdout and "test2" in proc.stdout
