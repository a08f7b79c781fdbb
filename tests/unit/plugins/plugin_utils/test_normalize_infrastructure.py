# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Normalisation of infrastructure models with Disnix's defaults, each validation rule, and
target addresses."""

from __future__ import annotations

import os

import pytest

from ansible_collections.disnix.deploy.plugins.plugin_utils.infrastructure import (
    normalize_infrastructure,
    parse_address,
    target_address,
)
from ansible_collections.disnix.deploy.plugins.plugin_utils.model_error import ModelError
from ansible_collections.disnix.deploy.plugins.plugin_utils.model_loader import LoadedModel, load_model

from ansible_collections.disnix.deploy.tests.unit.plugins.plugin_utils.nix_model_support import HAVE_NIX

MODELS = os.path.join(os.path.dirname(__file__), "models")
EPR = "http://test2:8080/DisnixWebService/services/DisnixWebService"


def target(properties: dict, system: str, interface: str = "disnix-ssh-client", prop: str = "hostname", **more) -> dict:
    """A normalised target; `more` gives containers and numOfCores (cores)."""
    return {"properties": properties, "containers": more.get("containers", {}), "system": system,
            "numOfCores": more.get("cores", 1), "clientInterface": interface, "targetProperty": prop}


HETEROGENEOUS = {
    "test1": target({"hostname": "test1"}, "i686-linux"),
    "test2": target({"hostname": "test2", "targetEPR": EPR}, "x86_64-linux", "disnix-soap-client", "targetEPR"),
    "test3": target({"hostname": "test3"}, "x86_64-cygwin"),
}


def normalize(path: str, nix: str = "never", **kwargs) -> dict:
    return normalize_infrastructure(load_model(path, nix=nix), default_system=kwargs.pop("default_system", "x86_64-linux"), **kwargs)


def model_file(name: str) -> str:
    return os.path.join(MODELS, name)


# --- realistic models -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["blog-legacy.nix", "heterogeneous.nix", "heterogeneous.json", "heterogeneous.yml"])
def test_the_blog_network_in_every_form(name):
    assert normalize(model_file(name)) == HETEROGENEOUS


def test_containers_and_cores():
    assert normalize(model_file("containers.nix"), default_system="i686-linux") == {
        "db": target({"hostname": "db.example.org:2222", "supportedTypes": ["process", "mysql-database", "wrapper"], "mem": 8192},
                     "x86_64-linux", cores=4,
                     containers={"mysql-database": {"mysqlPort": 3306, "mysqlUsername": "root", "mysqlPassword": "secret"},
                                 "process": {"runtimeDir": "/var/run"}}),
        "web": target({"hostname": "[fe80::1]:22"}, "aarch64-linux", cores=2,
                      containers={"process": {}, "tomcat-webapplication": {"tomcatPort": 8080, "catalinaBaseDir": "/var/tomcat"}}),
    }


def test_rec_and_let():
    result = normalize(model_file("rec-let.nix"))
    assert result["test1"] == target({"hostname": "test1.lab.example.org"}, "x86_64-linux", cores=2,
                                     containers={"process": {"runtimeDir": "/run"}})
    assert result["test2"]["properties"] == {"hostname": "test2.lab.example.org", "peer": "test1.lab.example.org",
                                             "motd": "Welcome to test2.\n  Managed by Disnix.\n"}
    assert result["test2"]["numOfCores"] == 1


@pytest.mark.skipif(not HAVE_NIX, reason="needs nix-instantiate")
@pytest.mark.parametrize("name", ["blog-legacy.nix", "heterogeneous.nix", "containers.nix", "rec-let.nix"])
def test_with_and_without_nix_the_result_is_the_same(name):
    assert normalize(model_file(name), nix="auto") == normalize(model_file(name), nix="never")


def test_defaults_come_from_the_arguments():
    model = LoadedModel({"t": {"properties": {"address": "t.example.org"}}}, "m.json", "json")
    assert normalize_infrastructure(model, default_system="aarch64-darwin", target_property="address",
                                    client_interface="disnix-client") == {
        "t": target({"address": "t.example.org"}, "aarch64-darwin", "disnix-client", "address")}


def test_legacy_form_keeps_every_unreserved_attribute_as_property():
    model = LoadedModel({"t": {"hostname": "h", "mem": 1, "supportedTypes": ["process"], "system": "x86_64-linux",
                               "numOfCores": 2, "containers": {"process": {}}}}, "m.json", "json")
    result = normalize_infrastructure(model, default_system="i686-linux")["t"]
    assert result["properties"] == {"hostname": "h", "mem": 1, "supportedTypes": ["process"]}
    assert result["containers"] == {"process": {}} and result["numOfCores"] == 2


def test_empty_model_and_result_order():
    assert normalize_infrastructure(LoadedModel({}, "m.json", "json"), default_system="x") == {}
    model = LoadedModel({n: {"hostname": n} for n in ("b", "a", "c")}, "m.json", "json")
    assert list(normalize_infrastructure(model, default_system="x")) == ["a", "b", "c"]


def test_the_result_does_not_share_dicts_with_the_model():
    model = LoadedModel({"t": {"properties": {"hostname": "h"}, "containers": {"c": {"k": 1}}}}, "m.json", "json")
    result = normalize_infrastructure(model, default_system="x")
    result["t"]["properties"]["extra"] = 1
    result["t"]["containers"]["c"]["k"] = 2
    assert model.data == {"t": {"properties": {"hostname": "h"}, "containers": {"c": {"k": 1}}}}


# --- validation -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, position, message", [
    ('[ { hostname = "a"; } ]', None, "the infrastructure model must be an attribute set of targets, got a list"),
    ('"test1"', None, "the infrastructure model must be an attribute set of targets, got the string 'test1'"),
    ('{\n  test1 = "test1.example.org";\n}', (2, 3), "target 'test1' must be an attribute set, got the string 'test1.example.org'"),
    ('{\n  test1 = {\n    properties = [ "hostname" ];\n  };\n}', (3, 5),
     "target 'test1': properties must be an attribute set, got a list"),
    ('{ t = { hostname = "h"; containers = [ ]; }; }', (1, 25),
     "target 't': containers must be an attribute set of containers, got a list"),
    ('{ t = { hostname = "h"; containers.process = true; }; }', (1, 25),
     "target 't': container 'process' must be an attribute set of container properties, got a Boolean (true)"),
    ('{ t = { hostname = "h"; system = 64; }; }', (1, 25), "target 't': system must be a string, got the integer 64"),
    ('{ t = { hostname = "h"; clientInterface = null; }; }', (1, 25), "target 't': clientInterface must be a string, got null"),
    ('{ t = { hostname = "h"; targetProperty = [ ]; }; }', (1, 25), "target 't': targetProperty must be a string, got a list"),
    ('{ t = { hostname = "h"; numOfCores = -1; }; }', (1, 25), "target 't': numOfCores must be a positive integer, got the integer -1"),
    ('{ t = { hostname = "h"; numOfCores = 0; }; }', (1, 25), "target 't': numOfCores must be a positive integer, got the integer 0"),
    ('{ t = { hostname = "h"; numOfCores = true; }; }', (1, 25),
     "target 't': numOfCores must be a positive integer, got a Boolean (true)"),
    ('{ t = { hostname = "h"; numOfCores = 2.5; }; }', (1, 25), "target 't': numOfCores must be a positive integer, got the float 2.5"),
    ('{ t = { hostname = "h"; numOfCores = "2"; }; }', (1, 25), "target 't': numOfCores must be a positive integer, got the string '2'"),
    ('{\n  test2 = {\n    properties.hostname = "test2";\n    targetProperty = "targetEPR";\n  };\n}', (4, 5),
     "target 'test2': its targetProperty is 'targetEPR', but the target has no property 'targetEPR' to give its address "
     "(properties it defines: hostname)"),
    ('{\n  t = {\n    properties = { address = "a"; mem = 1; };\n  };\n}', (3, 5),
     "target 't': the default targetProperty is 'hostname', but the target has no property 'hostname' to give its address "
     "(properties it defines: address, mem)"),
    ('{\n  t = { system = "x86_64-linux"; };\n}', (2, 3),
     "target 't': the default targetProperty is 'hostname', but the target has no property 'hostname' to give its address "
     "(properties it defines: none)"),
    ('{ t.properties.hostname = ""; }', (1, 3),
     "target 't': property 'hostname' (its address): an address must be a non-empty string, got the string ''"),
    ('{ t = { hostname = 42; }; }', (1, 9),
     "target 't': property 'hostname' (its address): an address must be a non-empty string, got the integer 42"),
    ('{ t = { hostname = "h:99999"; }; }', (1, 9),
     "target 't': property 'hostname' (its address): invalid port '99999' in 'h:99999': it must be a number from 1 to 65535"),
    ('{ "test 1".hostname = "a"; }', (1, 3),
     "target name 'test 1' cannot be used as an Ansible host name: it must not be empty or contain whitespace"),
    ('{ "".hostname = "a"; }', (1, 3), "target name '' cannot be used as an Ansible host name: it must not be empty or contain whitespace"),
])
def test_validation_errors_are_located(tmp_path, text, position, message):
    path = tmp_path / "infrastructure.nix"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelError) as info:
        normalize(str(path))
    exc = info.value
    assert exc.message == message
    assert exc.path == str(path)
    assert (exc.line, exc.column) == (position or (None, None))


def test_the_first_error_in_target_order_is_reported():
    model = LoadedModel({"b": {"numOfCores": 0}, "a": {"hostname": 1}, "c": "x"}, "m.json", "json")
    with pytest.raises(ModelError, match="target 'a'"):
        normalize_infrastructure(model, default_system="x")


def test_non_string_target_names_from_yaml(tmp_path):
    path = tmp_path / "m.yml"
    path.write_text("1:\n  hostname: a\n", encoding="utf-8")
    with pytest.raises(ModelError, match="target names must be strings, got 1"):
        normalize(str(path))


def test_errors_in_json_and_yaml_models_are_located(tmp_path):
    json_path = tmp_path / "m.json"
    json_path.write_text('{\n  "t": {\n    "hostname": "h",\n    "numOfCores": 0\n  }\n}\n', encoding="utf-8")
    with pytest.raises(ModelError) as info:
        normalize(str(json_path))
    assert (info.value.line, info.value.column) == (4, 5)
    yaml_path = tmp_path / "m.yml"
    yaml_path.write_text("t:\n  properties:\n    address: a\n  targetProperty: hostname\n", encoding="utf-8")
    with pytest.raises(ModelError) as info:
        normalize(str(yaml_path))
    assert str(info.value).startswith(f"{yaml_path}:4:3: target 't': its targetProperty is 'hostname'")


@pytest.mark.skipif(not HAVE_NIX, reason="needs nix-instantiate")
def test_errors_are_located_through_nix_too(tmp_path):
    path = tmp_path / "infrastructure.nix"
    path.write_text('let cores = 0; in {\n  t = {\n    hostname = "h";\n    numOfCores = cores;\n  };\n}\n', encoding="utf-8")
    for mode in ("always", "never"):
        with pytest.raises(ModelError) as info:
            normalize(str(path), nix=mode)
        assert str(info.value) == f"{path}:4:5: target 't': numOfCores must be a positive integer, got the integer 0"


def test_errors_without_positions_name_the_file():
    model = LoadedModel({"t": {"hostname": "h", "numOfCores": 0}}, "m.json", "json")
    with pytest.raises(ModelError) as info:
        normalize_infrastructure(model, default_system="x")
    assert str(info.value) == "m.json: target 't': numOfCores must be a positive integer, got the integer 0"


# --- addresses ------------------------------------------------------------------------------

@pytest.mark.parametrize("value, address", [
    ("test1", ("test1", None)),
    ("test1.example.org", ("test1.example.org", None)),
    ("192.168.56.101", ("192.168.56.101", None)),
    ("test1:2222", ("test1", 2222)),
    (" test1:22 ", ("test1", 22)),
    ("[fe80::1]:2222", ("fe80::1", 2222)),
    ("[fe80::1]", ("fe80::1", None)),
    ("fe80::1", ("fe80::1", None)),
    (EPR, ("test2", None)),  # the SOAP port is not the ssh port
    ("https://admin@Test2.example.org/DisnixWebService", ("Test2.example.org", None)),
    ("http://[fe80::2]:8080/x", ("fe80::2", None)),
])
def test_target_address(value, address):
    assert target_address({"properties": {"addr": value}, "targetProperty": "addr"}) == address


@pytest.mark.parametrize("value, message", [
    ("", "an address must be a non-empty string, got the string ''"),
    (None, "an address must be a non-empty string, got null"),
    ("h:0", "invalid port '0' in 'h:0': it must be a number from 1 to 65535"),
    ("h:ssh", "invalid port 'ssh' in 'h:ssh': it must be a number from 1 to 65535"),
    (":22", "':22' has no host before ':'"),
    ("[fe80::1", "'[fe80::1' has a '[' without a closing ']'"),
    ("[fe80::1]x", "unexpected 'x' after ']' in '[fe80::1]x'"),
    ("http:///path", "the URL 'http:///path' has no host"),
])
def test_bad_addresses(value, message):
    with pytest.raises(ValueError) as info:
        parse_address(value)
    assert str(info.value) == message
