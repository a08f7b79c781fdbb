# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory plugin on real model files, through Ansible's own inventory loader."""

from __future__ import annotations

import os
import shutil
import textwrap

import pytest

from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

HAVE_NIX = shutil.which("nix-instantiate") is not None

# the blog post's model, in its pre-0.5 form (shared with the model loading tests)
with open(os.path.join(os.path.dirname(__file__), "..", "plugin_utils", "models", "blog-legacy.nix"), encoding="utf-8") as _model:
    BLOG_MODEL = _model.read()


def write(path, text: str) -> str:
    path.write_text(textwrap.dedent(text))
    return str(path)


def parse(tmp_path, model: str | None, model_name: str = "infrastructure.nix", extra: str = "",
          inventory: InventoryData | None = None, cache: bool = False) -> InventoryData:
    if model is not None:
        write(tmp_path / model_name, model)
    config = write(tmp_path / "lab.disnix.yml", f"plugin: disnix.deploy.infrastructure\ninfrastructure: {model_name}\n" + extra)
    inventory = inventory or InventoryData()
    plugin = inventory_loader.get("disnix.deploy.infrastructure")
    assert plugin.verify_file(config)
    plugin.parse(inventory, DataLoader(), config, cache=cache)
    if cache:
        plugin.update_cache_if_changed()  # what ansible's InventoryManager does after parse()
    return inventory


def host_vars(inventory: InventoryData, name: str) -> dict:
    return inventory.get_host(name).get_vars()


def group_hosts(inventory: InventoryData, group: str) -> list[str]:
    return sorted(h.name for h in inventory.groups[group].get_hosts())


@pytest.mark.parametrize("nix", ["never"] + (["always"] if HAVE_NIX else []))
def test_blog_model_gives_design_variables_and_groups(tmp_path, nix):
    inv = parse(tmp_path, BLOG_MODEL, extra=f"nix: {nix}\n")
    assert group_hosts(inv, "disnix_targets") == ["test1", "test2", "test3"]
    assert group_hosts(inv, "system_i686_linux") == ["test1"]
    assert group_hosts(inv, "system_x86_64_cygwin") == ["test3"]
    assert group_hosts(inv, "client_disnix_soap_client") == ["test2"]
    assert group_hosts(inv, "client_disnix_ssh_client") == ["test1", "test3"]

    test2 = host_vars(inv, "test2")
    assert test2["ansible_host"] == "test2"          # the targetEPR URL's host
    assert "ansible_port" not in test2               # 8080 is the web service, not ssh
    assert test2["ansible_connection"] == "ssh"
    assert test2["disnix_target_property"] == "targetEPR"
    assert test2["disnix_client_interface"] == "disnix-soap-client"
    assert test2["disnix_system"] == "x86_64-linux"
    assert test2["disnix_num_of_cores"] == 1
    assert test2["disnix_containers"] == {}
    assert test2["disnix_properties"] == {
        "hostname": "test2",
        "targetEPR": "http://test2:8080/DisnixWebService/services/DisnixWebService",
    }


def test_defaults_containers_and_host_port(tmp_path):
    inv = parse(tmp_path, """\
        {
          web = {
            properties.hostname = "10.0.0.5:2222";
            containers.process = { runtimeDir = "/run"; };
            containers."mysql-database" = { mysqlPort = 3306; };
            numOfCores = 4;
          };
        }
        """, extra="nix: never\n")
    web = host_vars(inv, "web")
    assert (web["ansible_host"], web["ansible_port"]) == ("10.0.0.5", 2222)
    assert web["disnix_client_interface"] == "disnix-ssh-client"
    assert web["disnix_target_property"] == "hostname"
    assert web["disnix_num_of_cores"] == 4
    assert web["disnix_containers"]["mysql-database"] == {"mysqlPort": 3306}
    assert group_hosts(inv, "container_mysql_database") == ["web"]
    assert group_hosts(inv, "container_process") == ["web"]


@pytest.mark.parametrize("name,text", [
    ("infrastructure.json", '{"a": {"properties": {"hostname": "h1"}, "system": "aarch64-linux"}}'),
    ("infrastructure.yml", "a:\n  properties: {hostname: h1}\n  system: aarch64-linux\n"),
])
def test_json_and_yaml_models(tmp_path, name, text):
    inv = parse(tmp_path, text, model_name=name)
    assert host_vars(inv, "a")["ansible_host"] == "h1"
    assert group_hosts(inv, "system_aarch64_linux") == ["a"]


def test_existing_host_keeps_its_connection_and_gains_disnix_vars(tmp_path):
    inv = InventoryData()
    inv.add_host("web01.example.org")
    inv.set_variable("web01.example.org", "ansible_host", "192.0.2.10")
    inv.set_variable("web01.example.org", "ansible_user", "deploy")
    inv = parse(tmp_path, '{ test1.properties.hostname = "test1"; }',
                extra="host_names:\n  test1: web01.example.org\n", inventory=inv)
    assert "test1" not in inv.hosts
    web = host_vars(inv, "web01.example.org")
    assert web["ansible_host"] == "192.0.2.10"
    assert web["ansible_user"] == "deploy"
    assert web["disnix_target_name"] == "test1"
    assert web["disnix_properties"] == {"hostname": "test1"}
    assert group_hosts(inv, "disnix_targets") == ["web01.example.org"]


def test_constructed_options(tmp_path):
    inv = parse(tmp_path, """\
        {
          a = { properties = { hostname = "a"; zone = "west"; }; numOfCores = 8; };
          b = { properties = { hostname = "b"; zone = "east"; }; };
        }
        """, extra=textwrap.dedent("""\
        compose:
          ansible_user: "'deploy'"
        groups:
          bigiron: disnix_num_of_cores > 4
        keyed_groups:
          - key: disnix_properties.zone
            prefix: zone
        """))
    assert group_hosts(inv, "bigiron") == ["a"]
    assert group_hosts(inv, "zone_west") == ["a"]
    assert group_hosts(inv, "zone_east") == ["b"]
    assert host_vars(inv, "b")["ansible_user"] == "deploy"


def test_malformed_model_names_file_line_and_column(tmp_path):
    with pytest.raises(AnsibleParserError) as err:
        parse(tmp_path, '{\n  test1 = {\n    properties.hostname = "test1";\n    numOfCores = 0;\n  };\n}\n',
              extra="nix: never\n")
    message = str(err.value)
    assert "infrastructure.nix:4:5:" in message
    assert "numOfCores" in message


def test_unknown_target_property_is_an_error(tmp_path):
    with pytest.raises(AnsibleParserError) as err:
        parse(tmp_path, '{ t = { properties.hostname = "x"; targetProperty = "address"; }; }', extra="nix: never\n")
    assert "address" in str(err.value) and "infrastructure.nix:1:" in str(err.value)


def test_cache_is_used_while_the_model_is_unchanged(tmp_path):
    cache = f"cache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: {tmp_path / 'cache'}\nnix: never\n"
    model = '{ a.properties.hostname = "one"; }'
    parse(tmp_path, model, extra=cache, cache=True)
    model_path = tmp_path / "infrastructure.nix"
    stat = os.stat(model_path)

    # same size and mtime: the cached evaluation is used, not the file
    write(model_path, model.replace("one", "two"))
    os.utime(model_path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    inv = parse(tmp_path, None, extra=cache, cache=True)
    assert host_vars(inv, "a")["ansible_host"] == "one"

    # a refresh (ansible-inventory --flush-cache) evaluates again
    inv = parse(tmp_path, None, extra=cache, cache=False)
    assert host_vars(inv, "a")["ansible_host"] == "two"
