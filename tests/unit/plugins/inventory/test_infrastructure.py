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
from ansible.inventory.helpers import get_group_vars
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader
from ansible.utils.vars import combine_vars
from ansible.vars.manager import VariableManager

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
    """The host's own variables (without those of its groups)."""
    return inventory.get_host(name).get_vars()


def inventory_vars(inventory: InventoryData, name: str) -> dict:
    """The host's variables from the inventory: its groups' in Ansible's order, then its own."""
    host = inventory.get_host(name)
    return combine_vars(get_group_vars(host.get_groups()), host.get_vars())


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

    test2 = inventory_vars(inv, "test2")
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
    web = inventory_vars(inv, "web")
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
    assert inventory_vars(inv, "a")["ansible_host"] == "h1"
    assert group_hosts(inv, "system_aarch64_linux") == ["a"]


def test_existing_host_keeps_its_connection_and_gains_disnix_vars(tmp_path):
    inv = InventoryData()
    inv.add_host("web01.example.org")
    inv.set_variable("web01.example.org", "ansible_host", "192.0.2.10")
    inv.set_variable("web01.example.org", "ansible_user", "deploy")
    inv = parse(tmp_path, '{ test1.properties.hostname = "test1"; }',
                extra="host_names:\n  test1: web01.example.org\n", inventory=inv)
    assert "test1" not in inv.hosts
    web = inventory_vars(inv, "web01.example.org")
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
    assert inventory_vars(inv, "a")["ansible_host"] == "one"

    # a refresh (ansible-inventory --flush-cache) evaluates again
    inv = parse(tmp_path, None, extra=cache, cache=False)
    assert inventory_vars(inv, "a")["ansible_host"] == "two"


# --- the user's connection settings win over the model's ---------------------------------

def test_model_connection_is_a_lowest_priority_group_of_the_host(tmp_path):
    inv = parse(tmp_path, '{ web.properties.hostname = "10.0.0.5:2222"; }', extra="nix: never\n")
    assert not {"ansible_host", "ansible_port", "ansible_connection"} & set(host_vars(inv, "web"))
    group = inv.groups["disnix_connection_web"]
    assert [h.name for h in group.hosts] == ["web"]
    assert group.get_vars() == {"ansible_host": "10.0.0.5", "ansible_port": 2222, "ansible_connection": "ssh"}
    assert group.priority < 1   # below every group of the user at the same depth


def test_connection_groups_of_similar_host_names_stay_apart(tmp_path):
    inv = parse(tmp_path, '{ "a.b".properties.hostname = "one"; a_b.properties.hostname = "two"; }', extra="nix: never\n")
    assert inventory_vars(inv, "a.b")["ansible_host"] == "one"
    assert inventory_vars(inv, "a_b")["ansible_host"] == "two"


def test_keep_existing_connection_false_makes_the_model_win(tmp_path):
    inv = InventoryData()
    inv.add_group("db")
    inv.add_host("db1", group="db")
    inv.set_variable("db", "ansible_port", 2200)
    inv = parse(tmp_path, '{ db1.properties.hostname = "db1:2222"; }', extra="nix: never\nkeep_existing_connection: false\n",
                inventory=inv)
    assert host_vars(inv, "db1")["ansible_port"] == 2222
    assert inventory_vars(inv, "db1")["ansible_port"] == 2222
    assert "disnix_connection_db1" not in inv.groups


def test_compose_sees_the_models_connection_under_the_hosts_own(tmp_path):
    inv = InventoryData()
    inv.add_host("b")
    inv.set_variable("b", "ansible_host", "user.example")
    inv = parse(tmp_path, '{ a.properties.hostname = "a.model"; b.properties.hostname = "b.model"; }',
                extra='nix: never\ncompose:\n  address_seen: ansible_host\n', inventory=inv)
    assert host_vars(inv, "a")["address_seen"] == "a.model"
    assert host_vars(inv, "b")["address_seen"] == "user.example"


# an existing INI inventory with settings at every level Ansible has, next to a model whose
# connection settings (ssh, port 2222, the model's address) they all contradict
USER_INI = """\
[web]
web1
web2 ansible_port=2022 ansible_user=web2user

[db]
db1
db2

[db:vars]
ansible_connection=paramiko
ansible_port=2200

[all:vars]
ansible_user=deploy
"""
MODEL = """\
{
  web1.properties.hostname = "web1.model:2222";
  web2.properties.hostname = "web2.model:2222";
  db1.properties.hostname = "db1.model:2222";
  db2.properties.hostname = "db2.model:2222";
  only.properties.hostname = "only.model:2222";
}
"""
# (host, variable) -> the value Ansible must use, and where it comes from
EXPECTED = {
    ("web1", "ansible_connection"): "paramiko",      # group_vars/web.yml
    ("web1", "ansible_port"): 2222,                  # nothing of the user's: the model's
    ("web1", "ansible_host"): "web1.model",
    ("web2", "ansible_port"): 2022,                  # host line
    ("web2", "ansible_user"): "web2user",
    ("web2", "ansible_connection"): "paramiko",      # group_vars/web.yml
    ("db1", "ansible_connection"): "paramiko",       # [db:vars]
    ("db1", "ansible_port"): 2200,                   # [db:vars]
    ("db1", "ansible_user"): "deploy",               # [all:vars]
    ("db2", "ansible_host"): "192.0.2.99",           # host_vars/db2.yml
    ("db2", "ansible_port"): 2201,                   # host_vars/db2.yml over [db:vars]
    ("only", "ansible_host"): "only.model",          # a host of the model only
    ("only", "ansible_port"): 2222,
    ("only", "ansible_connection"): "ssh",
}


def user_inventory(tmp_path) -> tuple[str, str]:
    write(tmp_path / "hosts.ini", USER_INI)
    write(tmp_path / "infrastructure.nix", MODEL)
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "host_vars").mkdir()
    write(tmp_path / "group_vars" / "web.yml", "ansible_connection: paramiko\n")
    write(tmp_path / "host_vars" / "db2.yml", "ansible_host: 192.0.2.99\nansible_port: 2201\n")
    config = write(tmp_path / "site.disnix.yml", "plugin: disnix.deploy.infrastructure\ninfrastructure: infrastructure.nix\nnix: never\n")
    return str(tmp_path / "hosts.ini"), config


def ansible_vars(sources: list[str]) -> dict[str, dict]:
    """Every host's variables as Ansible computes them for a task (variable manager, vars
    plugins with group_vars/ and host_vars/ included)."""
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=sources)
    manager = VariableManager(loader=loader, inventory=inventory)
    assert sorted(inventory.hosts) == ["db1", "db2", "only", "web1", "web2"]
    return {name: manager.get_vars(host=inventory.get_host(name)) for name in inventory.hosts}


@pytest.mark.parametrize("order", ["ini-first", "disnix-first"])
def test_every_user_setting_wins_in_either_order(tmp_path, order):
    ini, config = user_inventory(tmp_path)
    variables = ansible_vars([ini, config] if order == "ini-first" else [config, ini])
    got = {key: variables[key[0]].get(key[1]) for key in EXPECTED}
    assert got == EXPECTED
    assert variables["db1"]["disnix_target_name"] == "db1"


@pytest.mark.parametrize("order", ["ini-first", "disnix-first"])
def test_group_vars_all_file_wins_in_either_order(tmp_path, order):
    write(tmp_path / "hosts.ini", "[web]\nweb1\n")
    (tmp_path / "group_vars").mkdir()
    write(tmp_path / "group_vars" / "all.yml", "ansible_connection: local\nansible_port: 2600\n")
    config = write(tmp_path / "site.disnix.yml", "plugin: disnix.deploy.infrastructure\ninfrastructure: infrastructure.nix\nnix: never\n")
    write(tmp_path / "infrastructure.nix", '{ web1.properties.hostname = "web1.model:2222"; }')
    ini = str(tmp_path / "hosts.ini")
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[ini, config] if order == "ini-first" else [config, ini])
    got = VariableManager(loader=loader, inventory=inventory).get_vars(host=inventory.get_host("web1"))
    assert (got["ansible_host"], got["ansible_port"], got["ansible_connection"]) == ("web1.model", 2600, "local")


@pytest.mark.parametrize("order", ["ini-first", "disnix-first"])
def test_group_vars_of_a_nested_group_and_host_lines_win(tmp_path, order):
    write(tmp_path / "hosts.ini", "[app]\nweb1 ansible_host=192.0.2.1\n[prod:children]\napp\n[prod:vars]\nansible_port=2300\n")
    config = write(tmp_path / "site.disnix.yml", "plugin: disnix.deploy.infrastructure\ninfrastructure: infrastructure.nix\nnix: never\n")
    write(tmp_path / "infrastructure.nix", '{ web1.properties.hostname = "web1.model:2222"; }')
    ini = str(tmp_path / "hosts.ini")
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[ini, config] if order == "ini-first" else [config, ini])
    got = VariableManager(loader=loader, inventory=inventory).get_vars(host=inventory.get_host("web1"))
    assert (got["ansible_host"], got["ansible_port"], got["ansible_connection"]) == ("192.0.2.1", 2300, "ssh")


def test_all_vars_of_an_earlier_source_win(tmp_path):
    # [all:vars] is below every other group: the model leaves alone what an earlier source set there
    write(tmp_path / "hosts.ini", "[all:vars]\nansible_port=2400\n")
    config = write(tmp_path / "site.disnix.yml", "plugin: disnix.deploy.infrastructure\ninfrastructure: infrastructure.nix\nnix: never\n")
    write(tmp_path / "infrastructure.nix", '{ web1.properties.hostname = "web1.model:2222"; }')
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(tmp_path / "hosts.ini"), config])
    got = VariableManager(loader=loader, inventory=inventory).get_vars(host=inventory.get_host("web1"))
    assert (got["ansible_host"], got["ansible_port"]) == ("web1.model", 2400)
