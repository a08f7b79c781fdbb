# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The infrastructure model from the inventory: the hosts of the targets group, with the
disnix_ variables the infrastructure inventory plugin sets, or with Disnix's defaults for an
ordinary inventory's hosts that set none or only some of them."""

from __future__ import annotations

import os
from typing import Any, Mapping

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.disnix.deploy.plugins.plugin_utils.infrastructure import (
    InfrastructureError,
    describe,
    normalize_infrastructure,
)
from ansible_collections.disnix.deploy.plugins.plugin_utils.model_loader import LoadedModel

# model attribute -> the host variable that gives it
VARIABLES = {
    "properties": "disnix_properties",
    "containers": "disnix_containers",
    "system": "disnix_system",
    "numOfCores": "disnix_num_of_cores",
    "clientInterface": "disnix_client_interface",
    "targetProperty": "disnix_target_property",
}

# ansible_facts architecture -> Nix's name of the CPU
_ARCHITECTURES = {"i386": "i686", "i486": "i686", "i586": "i686", "amd64": "x86_64", "arm64": "aarch64",
                  "ppc64le": "powerpc64le", "ppc64": "powerpc64"}
# ansible_facts system -> Nix's name of the kernel
_KERNELS = {"linux": "linux", "darwin": "darwin", "freebsd": "freebsd", "openbsd": "openbsd", "netbsd": "netbsd",
            "sunos": "solaris"}


def targets_from_inventory(task_vars: dict, group: str) -> tuple[dict[str, dict], dict[str, str], set[str]]:
    """The infrastructure model of the hosts in `group`, target name -> inventory host, and the
    targets that build their own services (disnix_build_on_targets, for the run as an extra var
    or per host).

    Each host is a target named disnix_target_name or its inventory name. What it does not set
    gets Disnix's defaults: properties.hostname from ansible_host or the inventory name, system
    from disnix_system or the gathered facts, numOfCores from the facts or 1, no containers,
    clientInterface and targetProperty as Disnix's (DISNIX_CLIENT_INTERFACE,
    DISNIX_TARGET_PROPERTY or disnix-ssh-client and hostname). Anything that cannot be
    defaulted or is malformed raises AnsibleActionFail naming the host and the variable.
    """
    hostvars = task_vars["hostvars"]
    members = task_vars.get("groups", {}).get(group) or []
    if not members:
        raise AnsibleActionFail(f"the inventory has no hosts in group {group}: put the target hosts in group {group} "
                                "(or name their group with -e disnix_targets_group=...)")
    infrastructure: dict[str, dict] = {}
    hosts: dict[str, str] = {}
    build_on: set[str] = set()
    for host in members:
        hv = hostvars[host]
        name = _target_name(host, hv)
        if name in hosts:
            raise AnsibleActionFail(f"hosts {hosts[name]} and {host} are both target {name} (disnix_target_name): "
                                    "a target must be one host")
        hosts[name] = host
        infrastructure[name] = _target(host, name, hv)
        if boolean(hv.get("disnix_build_on_targets", False), strict=False):
            build_on.add(name)
    return infrastructure, hosts, build_on


def _target_name(host: str, hv: Mapping[str, Any]) -> str:
    name = hv.get("disnix_target_name", host)
    if not isinstance(name, str) or not name:
        raise AnsibleActionFail(f"host {host}: disnix_target_name must be a non-empty string, got {describe(name)}")
    return str(name)


def _target(host: str, name: str, hv: Mapping[str, Any]) -> dict:
    """One target, normalised and checked the way the model's targets are."""
    raw: dict[str, Any] = {}
    hostname_from = None
    properties = hv.get("disnix_properties", {})
    if isinstance(properties, Mapping):
        properties = dict(properties)
        if "hostname" not in properties:
            hostname_from = "ansible_host" if hv.get("ansible_host") is not None else None
            properties["hostname"] = hv.get("ansible_host") if hostname_from else host
    raw["properties"] = properties
    for attr in ("containers", "clientInterface", "targetProperty"):
        if VARIABLES[attr] in hv:
            raw[attr] = hv[VARIABLES[attr]]
    raw["system"] = _system(host, hv)
    cores = _cores(hv)
    if cores is not None:
        raw["numOfCores"] = cores
    try:
        model = normalize_infrastructure(
            LoadedModel(data={name: raw}, path="", source="inventory"), default_system=raw["system"],
            target_property=os.environ.get("DISNIX_TARGET_PROPERTY") or "hostname",
            client_interface=os.environ.get("DISNIX_CLIENT_INTERFACE") or "disnix-ssh-client")
    except InfrastructureError as exc:
        raise AnsibleActionFail(f"host {host}: {_variable(exc.attribute, hostname_from, hv)}: "
                                f"{_problem(exc.message, name)}") from None
    return model[name]


def _system(host: str, hv: Mapping[str, Any]) -> Any:
    """disnix_system, else the system of the gathered facts (architecture-kernel)."""
    if "disnix_system" in hv:
        return hv["disnix_system"]
    facts = hv.get("ansible_facts") or {}
    arch = facts.get("userspace_architecture") or facts.get("architecture")
    kernel = facts.get("system")
    if not isinstance(arch, str) or not isinstance(kernel, str) or not arch or not kernel:
        raise AnsibleActionFail(f"host {host}: no disnix_system and no gathered facts; set disnix_system "
                                "(e.g. x86_64-linux) or gather facts")
    return facts_system(arch, kernel)


def facts_system(architecture: str, system: str) -> str:
    """Nix's system name for Ansible's architecture and system facts: x86_64 + Linux is
    x86_64-linux, i386 + Linux i686-linux, arm64 + Darwin aarch64-darwin, x86_64 +
    CYGWIN_NT-10.0 x86_64-cygwin."""
    kernel = system.lower()
    kernel = "cygwin" if kernel.startswith("cygwin") else _KERNELS.get(kernel, kernel)
    return f"{_ARCHITECTURES.get(architecture, architecture)}-{kernel}"


def _cores(hv: Mapping[str, Any]) -> Any:
    """disnix_num_of_cores (a string of digits, as -e gives it, is a number), else the facts'
    processor count, else None (Disnix's default, 1)."""
    if "disnix_num_of_cores" in hv:
        cores = hv["disnix_num_of_cores"]
        if isinstance(cores, str) and cores.strip().isdigit():
            return int(cores)
        return cores
    facts = hv.get("ansible_facts") or {}
    for fact in ("processor_nproc", "processor_vcpus", "processor_count"):
        value = facts.get(fact)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _variable(attribute: tuple, hostname_from: str | None, hv: Mapping[str, Any]) -> str:
    """The host variable that an error about a model attribute is about."""
    attr = attribute[1] if len(attribute) > 1 else None
    if attr == "properties" and attribute[2:] == ("hostname",) and hostname_from:
        return hostname_from
    if attr == "targetProperty" and VARIABLES["targetProperty"] not in hv:
        return VARIABLES["properties"]  # the default targetProperty names a property the host lacks
    if attr in VARIABLES:
        return VARIABLES[attr]
    return "disnix_target_name" if "disnix_target_name" in hv else "inventory_hostname"


def _problem(message: str, name: str) -> str:
    prefix = f"target '{name}': "
    return message[len(prefix):] if message.startswith(prefix) else message
