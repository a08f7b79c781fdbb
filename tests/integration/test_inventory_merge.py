# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An existing INI inventory with group variables, group_vars/ and host_vars/ files, next to
the infrastructure plugin: every setting of the user wins over the model's, in either -i
order, as Ansible reports it and as the connections to lab hosts show."""

from __future__ import annotations

import json
import re

import pytest

from conftest import needs_lab

pytestmark = needs_lab

ORDERS = ["ini-first", "disnix-first"]


@pytest.fixture(scope="module")
def lab(lab_instance):
    lab_instance.up("web1", "db1", "app1")
    return lab_instance


def write_tree(directory, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def sources(directory, order: str) -> list[str]:
    """The user's inventory (with its group_vars/ and host_vars/) and the disnix source, which
    lives in a directory of its own."""
    ini, disnix = str(directory / "user" / "hosts.ini"), str(directory / "model" / "site.disnix.yml")
    pair = [ini, disnix] if order == "ini-first" else [disnix, ini]
    return ["-i", pair[0], "-i", pair[1]]


DISNIX_SOURCE = "plugin: disnix.deploy.infrastructure\ninfrastructure: infrastructure.nix\n"

# Settings at each level, all contradicting the model's (ssh, port 2222, its addresses).
SETTINGS = {
    "model/site.disnix.yml": DISNIX_SOURCE,
    "model/infrastructure.nix": """\
        {
          web1.properties.hostname = "web1.model:2222";
          web2.properties.hostname = "web2.model:2222";
          db1.properties.hostname = "db1.model:2222";
          db2.properties.hostname = "db2.model:2222";
          only.properties.hostname = "only.model:2222";
        }
        """,
    "user/hosts.ini": """\
        [web]
        web1
        web2 ansible_host=192.0.2.2 ansible_port=2022 ansible_user=web2user

        [db]
        db1
        db2

        [db:vars]
        ansible_connection=paramiko
        ansible_port=2200
        """,
    "user/group_vars/web.yml": "ansible_connection: paramiko\n",
    "user/host_vars/db2.yml": "ansible_host: 192.0.2.99\nansible_port: 2201\n",
}
# host -> (ansible_host, ansible_port, ansible_connection) that Ansible must use
EXPECTED = {
    "web1": ("web1.model", 2222, "paramiko"),     # group_vars/web.yml; the rest is the model's
    "web2": ("192.0.2.2", 2022, "paramiko"),      # host line, group_vars/web.yml
    "db1": ("db1.model", 2200, "paramiko"),       # [db:vars]
    "db2": ("192.0.2.99", 2201, "paramiko"),      # host_vars/db2.yml, [db:vars]
    "only": ("only.model", 2222, "ssh"),          # in the model only
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    directory = tmp_path_factory.mktemp("settings")
    write_tree(directory, {name: re.sub(r"(?m)^ {8}", "", text) for name, text in SETTINGS.items()})
    return directory


@pytest.mark.parametrize("order", ORDERS)
def test_inventory_list_and_host_show_the_users_settings(lab, settings, order):
    listed = json.loads(lab.run("ansible-inventory", *sources(settings, order), "--list").stdout)
    hostvars = listed["_meta"]["hostvars"]
    got = {h: (plain(hostvars[h]["ansible_host"]), hostvars[h]["ansible_port"], hostvars[h]["ansible_connection"])
           for h in EXPECTED}
    assert got == EXPECTED
    assert hostvars["web2"]["ansible_user"] == "web2user"
    assert plain(hostvars["db1"]["disnix_target_name"]) == "db1"       # and the model's variables are there
    assert sorted(listed["disnix_targets"]["hosts"]) == sorted(EXPECTED)

    shown = json.loads(lab.run("ansible-inventory", *sources(settings, order), "--host", "db2").stdout)
    assert (shown["ansible_host"], shown["ansible_port"], shown["ansible_connection"]) == EXPECTED["db2"]


@pytest.mark.parametrize("order", ORDERS)
def test_tasks_see_the_users_settings(lab, settings, order):
    proc = lab.run("ansible", *sources(settings, order), "disnix_targets", "-m", "ansible.builtin.debug",
                   "-a", "msg={{ ansible_host }}/{{ ansible_port }}/{{ ansible_connection }}")
    seen = dict(re.findall(r'^(\S+) \| SUCCESS => \{[^}]*?"msg": "([^"]*)"', proc.stdout, re.M))
    assert seen == {h: "/".join(map(str, v)) for h, v in EXPECTED.items()}, proc.stdout


# The model's addresses do not work (nothing listens on 2222, app1.invalid does not resolve);
# the user's settings are what make each connection work.
PING = {
    "model/site.disnix.yml": DISNIX_SOURCE,
    "model/infrastructure.nix": """\
        {
          web1.properties.hostname = "web1:2222";
          db1.properties.hostname = "db1:2222";
          app1.properties.hostname = "app1.invalid";
        }
        """,
    "user/hosts.ini": """\
        [web]
        web1

        [db]
        db1

        [db:vars]
        ansible_port=22

        [app]
        app1
        """,
    "user/group_vars/web.yml": "ansible_port: 22\n",
    "user/host_vars/app1.yml": "ansible_host: app1\n",
}


@pytest.fixture(scope="module")
def ping_inventory(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ping")
    write_tree(directory, {name: re.sub(r"(?m)^ {8}", "", text) for name, text in PING.items()})
    return directory


def test_the_models_connection_settings_alone_do_not_reach_the_hosts(lab, ping_inventory):
    proc = lab.run("ansible", "-i", str(ping_inventory / "model" / "site.disnix.yml"), "disnix_targets",
                   "-m", "ansible.builtin.ping", check=False)
    assert proc.returncode != 0
    for host in ("web1", "db1", "app1"):
        assert f"{host} | UNREACHABLE" in proc.stdout, proc.stdout


@pytest.mark.parametrize("order", ORDERS)
def test_ping_goes_through_the_users_settings(lab, ping_inventory, order):
    proc = lab.run("ansible", *sources(ping_inventory, order), "disnix_targets", "-m", "ansible.builtin.ping",
                   check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for host in ("web1", "db1", "app1"):
        assert f"{host} | SUCCESS" in proc.stdout


def plain(value):
    """ansible-inventory --list shows strings from the model as {"__ansible_unsafe": ...}."""
    if isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:
        return value["__ansible_unsafe"]
    return value
