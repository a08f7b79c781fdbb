# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The infrastructure model from inventory hosts: Disnix's defaults for what a host does not
set, the infrastructure plugin's variables taken as they are, and errors that name the host
and the variable."""

from __future__ import annotations

import textwrap

import pytest

from ansible.errors import AnsibleActionFail
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager

from ansible_collections.disnix.deploy.plugins.plugin_utils.inventory_targets import facts_system, targets_from_inventory

FACTS = {"architecture": "x86_64", "system": "Linux", "processor_nproc": 4}


def task_vars(hosts: dict[str, dict], group: str = "disnix_targets") -> dict:
    return {"hostvars": hosts, "groups": {group: list(hosts), "all": list(hosts)}}


def targets(hosts: dict[str, dict], group: str = "disnix_targets"):
    return targets_from_inventory(task_vars(hosts, group), group)


def failure(hosts: dict[str, dict]) -> str:
    with pytest.raises(AnsibleActionFail) as info:
        targets(hosts)
    return str(info.value)


def test_plain_hosts_get_disnixs_defaults(monkeypatch):
    monkeypatch.delenv("DISNIX_CLIENT_INTERFACE", raising=False)
    monkeypatch.delenv("DISNIX_TARGET_PROPERTY", raising=False)
    infra, hosts, build_on = targets({
        "web1": {"ansible_facts": FACTS},
        "db1": {"ansible_host": "192.0.2.7", "disnix_system": "i686-linux"},
    })
    assert infra == {
        "web1": {"properties": {"hostname": "web1"}, "containers": {}, "system": "x86_64-linux", "numOfCores": 4,
                 "clientInterface": "disnix-ssh-client", "targetProperty": "hostname"},
        "db1": {"properties": {"hostname": "192.0.2.7"}, "containers": {}, "system": "i686-linux", "numOfCores": 1,
                "clientInterface": "disnix-ssh-client", "targetProperty": "hostname"},
    }
    assert hosts == {"web1": "web1", "db1": "db1"}
    assert build_on == set()


def test_disnix_system_wins_over_the_facts():
    infra, _hosts, _build = targets({"a": {"disnix_system": "x86_64-cygwin", "ansible_facts": FACTS}})
    assert infra["a"]["system"] == "x86_64-cygwin"
    assert infra["a"]["numOfCores"] == 4


def test_the_infrastructure_plugins_variables_are_taken_as_they_are():
    soap = {
        "disnix_target_name": "test2",
        "disnix_system": "x86_64-linux",
        "disnix_client_interface": "disnix-soap-client",
        "disnix_target_property": "targetEPR",
        "disnix_properties": {"hostname": "test2", "targetEPR": "http://test2:8080/DisnixWebService"},
        "disnix_containers": {"process": {"runtimeDir": "/run"}},
        "disnix_num_of_cores": 2,
        "disnix_build_on_targets": "yes",
        "ansible_host": "10.1.1.2",
        "ansible_facts": FACTS,
    }
    infra, hosts, build_on = targets({"web02.example.org": soap})
    assert infra == {"test2": {"properties": soap["disnix_properties"], "containers": soap["disnix_containers"],
                               "system": "x86_64-linux", "numOfCores": 2, "clientInterface": "disnix-soap-client",
                               "targetProperty": "targetEPR"}}
    assert hosts == {"test2": "web02.example.org"}
    assert build_on == {"test2"}


def test_properties_without_a_hostname_get_one():
    infra, _h, _b = targets({"a": {"disnix_system": "x86_64-linux", "disnix_properties": {"zone": "west"}}})
    assert infra["a"]["properties"] == {"zone": "west", "hostname": "a"}


def test_cores_from_extra_vars_strings_and_facts_fallbacks():
    assert targets({"a": {"disnix_system": "x86_64-linux", "disnix_num_of_cores": "3"}})[0]["a"]["numOfCores"] == 3
    facts = {"architecture": "aarch64", "system": "Linux", "processor_count": 2}
    assert targets({"a": {"ansible_facts": facts}})[0]["a"]["numOfCores"] == 2


def test_environment_sets_the_default_interface_and_property(monkeypatch):
    monkeypatch.setenv("DISNIX_CLIENT_INTERFACE", "disnix-client")
    monkeypatch.setenv("DISNIX_TARGET_PROPERTY", "hostname")
    infra, _h, _b = targets({"a": {"disnix_system": "x86_64-linux"}})
    assert infra["a"]["clientInterface"] == "disnix-client"


@pytest.mark.parametrize("arch,system,expected", [
    ("x86_64", "Linux", "x86_64-linux"),
    ("i386", "Linux", "i686-linux"),
    ("i686", "Linux", "i686-linux"),
    ("aarch64", "Linux", "aarch64-linux"),
    ("arm64", "Darwin", "aarch64-darwin"),
    ("x86_64", "CYGWIN_NT-10.0-19045", "x86_64-cygwin"),
    ("amd64", "FreeBSD", "x86_64-freebsd"),
    ("armv7l", "Linux", "armv7l-linux"),
])
def test_facts_system(arch, system, expected):
    assert facts_system(arch, system) == expected


def test_userspace_architecture_wins():
    # a 64-bit kernel with a 32-bit userland runs i686-linux programs
    facts = {"architecture": "x86_64", "userspace_architecture": "i386", "system": "Linux"}
    assert targets({"a": {"ansible_facts": facts}})[0]["a"]["system"] == "i686-linux"


def test_no_system_and_no_facts_is_an_error_naming_host_and_variable():
    assert failure({"web1": {}}) == ("host web1: no disnix_system and no gathered facts; "
                                     "set disnix_system (e.g. x86_64-linux) or gather facts")
    assert "host web1: no disnix_system" in failure({"web1": {"ansible_facts": {}}})


@pytest.mark.parametrize("hv,expected", [
    ({"disnix_properties": "web1.example.org"},
     "host web1: disnix_properties: properties must be an attribute set, got the string 'web1.example.org'"),
    ({"disnix_containers": ["mysql"]},
     "host web1: disnix_containers: containers must be an attribute set of containers, got a list"),
    ({"disnix_containers": {"mysql": 3306}},
     "host web1: disnix_containers: container 'mysql' must be an attribute set of container properties, "
     "got the integer 3306"),
    ({"disnix_num_of_cores": 0}, "host web1: disnix_num_of_cores: numOfCores must be a positive integer, got the integer 0"),
    ({"disnix_num_of_cores": "many"},
     "host web1: disnix_num_of_cores: numOfCores must be a positive integer, got the string 'many'"),
    ({"disnix_client_interface": 7}, "host web1: disnix_client_interface: clientInterface must be a string, got the integer 7"),
    ({"disnix_target_property": "targetEPR"}, "host web1: disnix_target_property: its targetProperty is 'targetEPR', "
     "but the target has no property 'targetEPR' to give its address (properties it defines: hostname)"),
    ({"ansible_host": "web1:99999"}, "host web1: ansible_host: property 'hostname' (its address): invalid port '99999' "
     "in 'web1:99999': it must be a number from 1 to 65535"),
    ({"disnix_properties": {"hostname": ""}}, "host web1: disnix_properties: property 'hostname' (its address): "
     "an address must be a non-empty string, got the string ''"),
])
def test_malformed_variables_are_errors_naming_host_and_variable(hv, expected):
    assert failure({"web1": {"disnix_system": "x86_64-linux", **hv}}) == expected


def test_malformed_system():
    assert failure({"web1": {"disnix_system": ["x86_64-linux"]}}) == (
        "host web1: disnix_system: system must be a string, got a list")


def test_two_hosts_for_one_target_is_an_error():
    message = failure({"a": {"disnix_system": "x86_64-linux", "disnix_target_name": "t"},
                       "b": {"disnix_system": "x86_64-linux", "disnix_target_name": "t"}})
    assert message.startswith("hosts a and b are both target t")


def test_an_empty_or_missing_group_says_how_to_name_targets():
    with pytest.raises(AnsibleActionFail, match=r"no hosts in group disnix_targets: put the target hosts in group "
                                                r"disnix_targets \(or name their group with -e disnix_targets_group"):
        targets_from_inventory({"hostvars": {}, "groups": {"all": ["web1"]}}, "disnix_targets")


def test_through_ansibles_own_hostvars(tmp_path):
    """Host and group variables of an ordinary INI inventory, templated the way a task sees them."""
    (tmp_path / "hosts.ini").write_text(textwrap.dedent("""\
        [disnix_targets]
        web1 ansible_host="{{ web_address }}"
        db1 disnix_system=aarch64-linux disnix_containers='{"mysql-database": {"mysqlPort": 3306}}'

        [disnix_targets:vars]
        web_address=192.0.2.10
        disnix_system=x86_64-linux
        """))
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(tmp_path / "hosts.ini")])
    manager = VariableManager(loader=loader, inventory=inventory)
    hostvars = HostVars(inventory=inventory, variable_manager=manager, loader=loader)
    infra, hosts, _build = targets_from_inventory(
        {"hostvars": hostvars, "groups": {"disnix_targets": ["web1", "db1"]}}, "disnix_targets")
    assert infra["web1"]["properties"] == {"hostname": "192.0.2.10"}
    assert infra["web1"]["system"] == "x86_64-linux"
    assert infra["db1"]["system"] == "aarch64-linux"
    assert infra["db1"]["containers"] == {"mysql-database": {"mysqlPort": 3306}}
    assert hosts == {"web1": "web1", "db1": "db1"}
