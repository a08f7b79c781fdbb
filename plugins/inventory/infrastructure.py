# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory plugin: a Disnix infrastructure model as Ansible hosts and groups."""

from __future__ import annotations

DOCUMENTATION = r"""
name: infrastructure
short_description: Disnix infrastructure model as inventory
version_added: 0.1.0
author:
  - disnix.deploy developers (@disnix-deploy)
description:
  - Reads a Disnix infrastructure model (Disnix's Nix syntax, JSON or YAML) and turns every
    target into an Ansible host with the C(disnix_) host variables and groups that
    C(playbooks/deploy.yml) relies on.
  - Nix models are evaluated with C(nix-instantiate --eval --strict --json) when Nix is on the
    controller, otherwise with a built-in parser for the static subset of Nix that real
    infrastructure models use. Both give the same result; a model outside that subset without
    Nix gets an error that says so.
  - Disnix's defaults apply when the model omits them (O(target_property), O(client_interface),
    C(numOfCores = 1), C(system) = the controller's system).
  - C(ansible_host) comes from C(properties[targetProperty]). A URL (such as a SOAP C(targetEPR))
    gives its host part; C(host:port) gives C(ansible_host) and C(ansible_port).
  - The connection settings of each host come from O(client_interface_connections), keyed by
    the target's C(clientInterface).
  - The connection variables from the model (C(ansible_host), C(ansible_port) and those of
    O(client_interface_connections)) are group variables of a group of the host's own,
    C(disnix_connection_<host>), with the lowest group priority. Every setting of the user wins
    over them, in either order of the inventory sources - host and group variables of other
    inventory sources and C(group_vars/) and C(host_vars/) files - except C(all) group
    variables of a source that comes after this one (put those in C(group_vars/all.yml)).
  - Used next to another inventory source that already defines a host, the host keeps
    everything it has (C(ansible_host), C(ansible_user), keys, ...) and gains the C(disnix_)
    variables and groups. O(host_names) maps model target names to existing inventory host
    names.
  - Configuration files must end in C(disnix.yml) or C(disnix.yaml).
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    required: true
    type: str
    choices: [disnix.deploy.infrastructure]
  infrastructure:
    description:
      - Path of the infrastructure model, a C(.nix), C(.json), C(.yml) or C(.yaml) file.
      - A relative path is relative to the directory of this configuration file.
    required: true
    type: str
  nix:
    description:
      - How to evaluate a C(.nix) model.
      - V(auto) uses C(nix-instantiate) when it is found, else the built-in parser.
      - V(always) requires Nix; V(never) always uses the built-in parser.
    type: str
    choices: [auto, always, never]
    default: auto
  nix_instantiate:
    description: Path of C(nix-instantiate); by default it is looked up on E(PATH).
    type: path
  target_property:
    description:
      - The property that holds a target's address when the target does not set
        C(targetProperty), like Disnix's C(--target-property).
    type: str
    default: hostname
    env:
      - name: DISNIX_TARGET_PROPERTY
  client_interface:
    description:
      - The client interface of targets that do not set C(clientInterface), like Disnix's
        C(--interface).
    type: str
    default: disnix-ssh-client
    env:
      - name: DISNIX_CLIENT_INTERFACE
  client_interface_connections:
    description:
      - Host variables per C(clientInterface), usually the Ansible connection to use.
      - A SOAP target (C(disnix-soap-client)) is managed over ssh on the host of its
        C(targetEPR); the local interfaces run on the controller.
      - A target whose interface is not in this map gets no connection variables, so
        Ansible's defaults apply.
    type: dict
    default:
      disnix-ssh-client:
        ansible_connection: ssh
      disnix-soap-client:
        ansible_connection: ssh
      disnix-client:
        ansible_connection: local
      disnix-run-activity:
        ansible_connection: local
  host_names:
    description:
      - Maps target names of the model to inventory host names, for reusing hosts that
        another inventory source already defines under other names.
      - The model's name stays available as C(disnix_target_name).
    type: dict
    default: {}
  keep_existing_connection:
    description:
      - V(true) gives the connection variables from the model the lowest precedence, so that
        the user's settings of C(ansible_host), C(ansible_port), C(ansible_connection) (and the
        other variables of O(client_interface_connections)) win wherever they are set.
      - V(false) makes them host variables of the inventory instead, which win over group
        variables and over host variables of the sources before this one, but not over
        C(host_vars/) files.
    type: bool
    default: true
"""

EXAMPLES = r"""
---
# lab.disnix.yml: the targets of infrastructure.nix as hosts
plugin: disnix.deploy.infrastructure
infrastructure: infrastructure.nix

---
# reuse hosts from hosts.ini (ansible-inventory -i hosts.ini -i prod.disnix.yml --graph)
plugin: disnix.deploy.infrastructure
infrastructure: models/infrastructure.nix
host_names:
  test1: web01.example.org
  test2: web02.example.org
keyed_groups:
  - key: disnix_properties.zone | default('none')
    prefix: zone
groups:
  bigiron: disnix_num_of_cores > 4
compose:
  ansible_user: "'deploy'"
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/disnix-inventory
"""

import os
import re
from typing import Any

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.disnix.deploy.plugins.plugin_utils.infrastructure import (
    normalize_infrastructure,
    target_address,
)
from ansible_collections.disnix.deploy.plugins.plugin_utils.model_error import ModelError
from ansible_collections.disnix.deploy.plugins.plugin_utils.model_loader import load_model
from ansible_collections.disnix.deploy.plugins.plugin_utils.nix_eval import current_system

# The model's connection settings are group variables of a group of the host's own with this
# priority, so every group of the user (priority 1 by default, or deeper in the tree) and
# every host variable overrides them (Ansible sorts group variables by depth, priority, name).
CONNECTION_GROUP_PREFIX = "disnix_connection"
CONNECTION_GROUP_PRIORITY = -1000


def group_name(prefix: str, value: str) -> str:
    """Group names may only hold word characters: system_x86_64_linux, client_disnix_ssh_client."""
    return prefix + "_" + re.sub(r"\W", "_", value)


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """Hosts and groups from a Disnix infrastructure model."""

    NAME = "disnix.deploy.infrastructure"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(("disnix.yml", "disnix.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        # a str option: Ansible would resolve a path option against the working directory
        model_path = os.path.expanduser(self.get_option("infrastructure"))
        if not os.path.isabs(model_path):
            model_path = os.path.join(os.path.dirname(os.path.abspath(path)), model_path)
        try:
            targets = self._targets(model_path, path, cache)
        except ModelError as exc:
            raise AnsibleParserError(str(exc)) from None
        self._populate(targets)

    def _targets(self, model_path: str, config_path: str, cache: bool) -> dict[str, dict]:
        """The normalised model, from the inventory cache while the model file is unchanged."""
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        cache_key = self.get_cache_key(config_path)
        fingerprint = self._fingerprint(model_path)
        if use_cache:
            try:
                cached = self._cache[cache_key]
            except KeyError:
                cached = None
            if cached and cached.get("fingerprint") == fingerprint:
                return cached["targets"]
            update_cache = True
        targets = self._evaluate(model_path)
        if update_cache:
            self._cache[cache_key] = {"fingerprint": fingerprint, "targets": targets}
        return targets

    @staticmethod
    def _fingerprint(model_path: str) -> list[Any]:
        try:
            st = os.stat(model_path)
        except OSError:
            return []
        return [model_path, st.st_mtime_ns, st.st_size]

    def _evaluate(self, model_path: str) -> dict[str, dict]:
        nix_mode = self.get_option("nix")
        nix_bin = self.get_option("nix_instantiate")
        model = load_model(model_path, nix=nix_mode, nix_instantiate=nix_bin)
        return normalize_infrastructure(
            model,
            default_system=current_system(nix_instantiate=nix_bin, use_nix=nix_mode != "never"),
            target_property=self.get_option("target_property"),
            client_interface=self.get_option("client_interface"),
        )

    def _populate(self, targets: dict[str, dict]) -> None:
        strict = self.get_option("strict")
        connections = self.get_option("client_interface_connections") or {}
        host_names = self.get_option("host_names") or {}
        keep_existing = self.get_option("keep_existing_connection")
        self.inventory.add_group("disnix_targets")
        for name in sorted(targets):
            target = targets[name]
            host_name = host_names.get(name, name)
            self.inventory.add_host(host_name, group="disnix_targets")
            for var, value in {
                "disnix_target_name": name,
                "disnix_system": target["system"],
                "disnix_client_interface": target["clientInterface"],
                "disnix_target_property": target["targetProperty"],
                "disnix_properties": target["properties"],
                "disnix_containers": target["containers"],
                "disnix_num_of_cores": target["numOfCores"],
            }.items():
                self.inventory.set_variable(host_name, var, value)

            connection = self._connection_vars(target, connections)
            if keep_existing:
                self._set_connection_defaults(host_name, connection)
            else:
                for var, value in connection.items():
                    self.inventory.set_variable(host_name, var, value)

            for group in self._groups_of(target):
                self.inventory.add_group(group)
                self.inventory.add_child(group, host_name)

            # what compose, groups and keyed_groups see: the host's variables over the model's connection
            all_vars = {**connection, **self.inventory.get_host(host_name).get_vars()}
            self._set_composite_vars(self.get_option("compose"), all_vars, host_name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), all_vars, host_name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), all_vars, host_name, strict=strict)

    @staticmethod
    def _connection_vars(target: dict, connections: dict) -> dict[str, Any]:
        """ansible_host, ansible_port and the client interface's variables, from the model."""
        address, port = target_address(target)
        result: dict[str, Any] = {"ansible_host": address}
        if port is not None:
            result["ansible_port"] = port
        result.update(connections.get(target["clientInterface"]) or {})
        return result

    def _set_connection_defaults(self, host_name: str, connection: dict[str, Any]) -> None:
        """The model's connection settings as variables of the host's own lowest-priority group.

        Host variables, variables of the user's groups and group_vars/ and host_vars/ files all
        take precedence over them, whichever source comes first. Variables of the group `all`
        are the one thing below every other group: those that a source before this one set are
        left alone here (the model's value is not set).
        """
        group = self._connection_group(host_name)
        self.inventory.set_variable(group, "ansible_group_priority", CONNECTION_GROUP_PRIORITY)
        set_for_all = self.inventory.groups["all"].get_vars()
        for var, value in connection.items():
            if var not in set_for_all:
                self.inventory.set_variable(group, var, value)

    def _connection_group(self, host_name: str) -> str:
        """disnix_connection_<host>, made unique when two host names map to the same group name."""
        base = group_name(CONNECTION_GROUP_PREFIX, host_name)
        candidate, number = base, 1
        while candidate in self.inventory.groups and any(
                h.name != host_name for h in self.inventory.groups[candidate].hosts):
            number += 1
            candidate = f"{base}_{number}"
        self.inventory.add_group(candidate)
        self.inventory.add_child(candidate, host_name)
        return candidate

    @staticmethod
    def _groups_of(target: dict) -> list[str]:
        groups = [group_name("system", target["system"]), group_name("client", target["clientInterface"])]
        groups += [group_name("container", c) for c in sorted(target["containers"])]
        return groups
