#!/usr/bin/python
# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module disnix.deploy.generations: the generations of a target's Disnix profile."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: generations
short_description: List the generations of a target's Disnix profile and what each deployed
version_added: 0.2.0
description:
  - Reads the generations of V(/nix/var/nix/profiles/disnix/<profile>) and, for each, the
    services its profile manifest lists. Changes nothing.
  - To delete old generations use M(disnix.deploy.collect_garbage) with O(disnix.deploy.collect_garbage#module:collect=false);
    to switch, C(playbooks/generations.yml) or C(playbooks/rollback.yml).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - disnix.deploy.target
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
  platform:
    platforms: posix
author:
  - disnix.deploy developers (@disnix-deploy)
"""

EXAMPLES = r"""
- name: The generations of the default profile
  disnix.deploy.generations:
    profile: default
  register: target_generations
"""

RETURN = r"""
profile_link:
  description: The profile symlink.
  returned: always
  type: str
  sample: /nix/var/nix/profiles/disnix/default
current:
  description: The current generation, or V(null).
  returned: always
  type: int
generations:
  description:
    - One entry per generation, oldest first; C(generation), C(current) (bool), C(path) (the
      profile's store path), C(time) (Unix time of the generation link) and C(services)
      (C(<service>@<container>) of each service its manifest lists; V(null) when the store
      path or its manifest is gone).
  returned: always
  type: list
  elements: dict
lines:
  description: 'One line per generation, C(<N>[ (current)]: <services>).'
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.disnix.deploy.plugins.module_utils import profiles
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError, target_argument_spec


def list_generations(profile: str) -> dict:
    link = profiles.profile_link(profile)
    current = profiles.current_generation(link)
    entries = []
    for number in profiles.generations(link):
        gen_link = "%s-%d-link" % (link, number)
        path = os.path.realpath(gen_link)
        services = None
        if os.path.exists(path):
            try:
                services = ["%s@%s" % (s.get("service"), s.get("container"))
                            for s in profiles.manifest_services(profiles.read_manifest(path))]
            except TargetError:
                services = None
        entries.append({"generation": number, "current": number == current, "path": path,
                        "time": int(os.lstat(gen_link).st_mtime), "services": services})
    lines = ["%d%s: %s" % (e["generation"], " (current)" if e["current"] else "",
                           "(manifest gone)" if e["services"] is None else ", ".join(e["services"]) or "nothing")
             for e in entries]
    return {"profile_link": link, "current": current, "generations": entries, "lines": lines}


def main() -> None:
    module = AnsibleModule(argument_spec=target_argument_spec(), supports_check_mode=True)
    try:
        result = list_generations(module.params["profile"])
    except TargetError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
