# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/capture_infra.yml's model: Nix strings escaped so the model reads back as
written, systems from the target's Nix or the facts, the address Ansible reaches a host at,
and a round trip through the loaders and normalisation the inventory plugin uses."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.disnix.deploy.plugins.module_utils.dysnomia_config import parse_assignments, read_containers
from ansible_collections.disnix.deploy.plugins.plugin_utils import capture
from ansible_collections.disnix.deploy.plugins.plugin_utils.infrastructure import normalize_infrastructure
from ansible_collections.disnix.deploy.plugins.plugin_utils.model_loader import load_model

NASTY = ['plain', 'quote " and \\ backslash', '${interpolation}', '$${x}', 'dollar $ at end $', 'line\nbreak\ttab\r',
         "single ' and '' quotes", 'unicode é ✓', '']


@pytest.mark.parametrize("text", NASTY)
def test_nix_strings_read_back_as_written(tmp_path, text):
    model = {"t": {"properties": {"hostname": "h", "note": text}, "containers": {"c": {"k": text}}}}
    path = tmp_path / "infrastructure.nix"
    path.write_text(capture.render_nix(model), encoding="utf-8")
    loaded = load_model(str(path), nix="never")
    assert loaded.data["t"]["properties"]["note"] == text
    assert loaded.data["t"]["containers"]["c"]["k"] == text


def test_names_are_quoted_when_they_are_no_identifiers():
    assert capture.nix_name("test1") == "test1"
    assert capture.nix_name("web-1.example.org") == '"web-1.example.org"'
    assert capture.nix_name("in") == '"in"'
    assert capture.nix_name("a${b}") == '"a\\${b}"'
    assert capture.nix_value([1, -2, True, None, 1.5]) == "[ 1 (-2) true null 1.5 ]"
    with pytest.raises(capture.CaptureError):
        capture.nix_value(float("nan"))


@pytest.mark.parametrize("reported, facts, expected", [
    ("i686-linux", {"architecture": "x86_64", "system": "Linux"}, "i686-linux"),   # the target's Nix wins
    (None, {"architecture": "x86_64", "system": "Linux"}, "x86_64-linux"),
    (None, {"architecture": "x86_64", "userspace_architecture": "i386", "system": "Linux"}, "i686-linux"),
    (None, {"architecture": "arm64", "system": "Darwin"}, "aarch64-darwin"),
    (None, {"architecture": "aarch64", "system": "Linux"}, "aarch64-linux"),
    (None, {"architecture": "x86_64", "system": "CYGWIN_NT-10.0-19045"}, "x86_64-cygwin"),
])
def test_systems(reported, facts, expected):
    assert capture.nix_system_of("h", reported, facts) == expected


def test_no_system_at_all_is_an_error():
    with pytest.raises(capture.CaptureError, match="host h: its Nix reports no system"):
        capture.nix_system_of("h", None, {})


def test_address_is_where_ansible_reaches_the_host():
    assert capture.address("web1", None, None) == "web1"
    assert capture.address("web1", "192.0.2.1", "2222") == "192.0.2.1:2222"
    assert capture.address("web1", "2001:db8::1", 22) == "[2001:db8::1]:22"
    with pytest.raises(capture.CaptureError, match="ansible_port"):
        capture.address("web1", "h", "ssh")


def test_cores_from_the_target_then_the_facts_then_one():
    assert capture.cores_of(4, {"processor_vcpus": 8}) == 4
    assert capture.cores_of(None, {"processor_vcpus": 8}) == 8
    assert capture.cores_of(None, {}) == 1


# the hello-world lab as the infrastructure plugin gives it, and what its targets report
HOSTS = {
    "test1": {"ansible_host": "test1", "disnix_properties": {"hostname": "test1"}, "disnix_target_name": "test1",
              "disnix_client_interface": "disnix-ssh-client", "disnix_target_property": "hostname",
              "ansible_facts": {"architecture": "x86_64", "system": "Linux"}},
    "test2": {"ansible_host": "test2", "disnix_target_name": "test2",
              "disnix_properties": {"hostname": "test2", "targetEPR": "http://test2:8080/DisnixWebService/services/DisnixWebService"},
              "disnix_client_interface": "disnix-soap-client", "disnix_target_property": "targetEPR"},
    "db": {"ansible_host": "192.0.2.7", "ansible_port": 2200, "ansible_user": "deploy"},
}
REPORTS = {
    "test1": {"system": "i686-linux", "cores": 2, "containers": {}},
    "test2": {"system": "x86_64-linux", "cores": 1, "containers": {"process": {}, "wrapper": {}}},
    "db": {"system": None, "cores": 3, "containers": {"mysql-database": {"mysqlPort": "3306", "tags": ["a", "b c"]}}},
}


def test_model_of_hosts():
    captured = capture.capture_model(HOSTS, {**REPORTS, "db": dict(REPORTS["db"], system="x86_64-linux")})
    model = captured["model"]
    assert model["test1"] == {"properties": {"hostname": "test1"}, "system": "i686-linux", "numOfCores": 2,
                              "containers": {}, "clientInterface": "disnix-ssh-client", "targetProperty": "hostname"}
    assert model["test2"]["properties"] == HOSTS["test2"]["disnix_properties"]     # the targetEPR URL is kept
    assert model["db"]["properties"] == {"hostname": "192.0.2.7:2200"}
    assert "clientInterface" not in model["db"]
    assert captured["users"] == {"db": "deploy"} and captured["host_names"] == {}


def test_a_host_without_nix_or_facts_is_named():
    with pytest.raises(capture.CaptureError, match="host db:"):
        capture.capture_model(HOSTS, REPORTS)


@pytest.mark.parametrize("fmt", ["nix", "yml"])
def test_round_trip_through_the_plugins_loader(tmp_path, fmt):
    model = capture.capture_model(HOSTS, {**REPORTS, "db": dict(REPORTS["db"], system="x86_64-linux")})["model"]
    path = tmp_path / f"infrastructure.{fmt}"
    path.write_text(capture.render_nix(model) if fmt == "nix" else capture.render_yaml(model), encoding="utf-8")
    loaded = load_model(str(path), nix="never")
    normalised = normalize_infrastructure(loaded, default_system="x86_64-linux")
    for name, target in model.items():
        assert {k: normalised[name][k] for k in target} == target
    assert normalised["db"]["clientInterface"] == "disnix-ssh-client"


def test_inventory_source():
    text = capture.render_inventory("infrastructure.nix", {"w2": "web2"}, {"db": "deploy"})
    config = yaml.safe_load(text)
    assert config["plugin"] == "disnix.deploy.infrastructure" and config["infrastructure"] == "infrastructure.nix"
    assert config["host_names"] == {"w2": "web2"}
    assert config["compose"]["ansible_user"] == '{"db": "deploy"}[inventory_hostname]'
    assert "compose" not in yaml.safe_load(capture.render_inventory())


def test_dysnomia_files(tmp_path):
    assert parse_assignments('# c\nfoo="a \\"b\\" \\$x"\narr=("x y" z) # note\nbare=value\n\nnot an assignment\n') == {
        "foo": 'a "b" $x', "arr": ["x y", "z"], "bare": "value"}
    containers = tmp_path / "containers"
    containers.mkdir()
    (containers / "process").write_text("# Written by the role\ntype=process\n")
    (containers / "mysql-database").write_text('mysqlPort="3306"\ntype=mysql-database\n')
    (containers / "echo").write_text('type=process\n')
    assert read_containers(str(containers)) == {"echo": {"type": "process"}, "mysql-database": {"mysqlPort": "3306"},
                                                "process": {}}
    assert read_containers(os.path.join(str(tmp_path), "missing")) == {}
