#!/usr/bin/python
# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: capture_config
short_description: Report what a target's infrastructure model entry needs, as disnix-capture-config does
version_added: 0.1.0
description:
  - Reads, in one round trip and without changing anything, what C(playbooks/capture_infra.yml)
    puts into a generated infrastructure model for the target.
  - The Dysnomia containers of the target, one per file in O(containers_dir) (Dysnomia's
    C(key="value") lines, arrays as lists), as C(dysnomia-containers --generate-expr) reads them.
    A C(type) equal to the container's name is left out (the C(disnix.deploy.dysnomia) role
    writes it into every container file that sets no type).
  - The target's Nix system type, as its Nix says it is (C(nix-instantiate --eval -E
    builtins.currentSystem), which honours the C(system) of C(nix.conf)), else the C(system)
    line of C(nix.conf).
  - The number of processors the target's processes may use.
options:
  containers_dir:
    description: Directory of the Dysnomia container files.
    type: path
    default: /etc/dysnomia/containers
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    description: The module only reads, so it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: disnix.deploy.target_state
author:
  - disnix.deploy developers (@disnix-deploy)
"""

EXAMPLES = r"""
- name: What the target's model entry needs
  disnix.deploy.capture_config:
  register: captured

- name: Show its containers
  ansible.builtin.debug:
    msg: "{{ captured.system }}: {{ captured.containers.keys() | list }}"
"""

RETURN = r"""
containers:
  description: Container name to its properties (strings, or lists of strings for arrays); V({}) without O(containers_dir).
  returned: always
  type: dict
  sample: {"process": {}, "wrapper": {}, "systemd-unit": {"systemdTargetDir": "/etc/systemd/system"}}
system:
  description: The target's Nix system type, or V(null) when neither Nix nor a C(system) line of C(nix.conf) tells.
  returned: always
  type: str
  sample: i686-linux
system_source:
  description: Where RV(system) comes from, V(nix-instantiate) or V(nix.conf), or V(null).
  returned: always
  type: str
  sample: nix-instantiate
cores:
  description: The number of processors the target's processes may use (as C(nproc) counts them).
  returned: always
  type: int
  sample: 4
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.disnix.deploy.plugins.module_utils import dysnomia_config
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(containers_dir=dict(type="path", default="/etc/dysnomia/containers")),
        supports_check_mode=True,
    )
    try:
        containers = dysnomia_config.read_containers(module.params["containers_dir"])
    except TargetError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    system, source = dysnomia_config.nix_system()
    module.exit_json(changed=False, containers=containers, system=system, system_source=source,
                     cores=dysnomia_config.processor_count())


if __name__ == "__main__":
    main()
