#!/usr/bin/python
# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: profile
short_description: Point a Disnix target profile at a store path
version_added: 0.1.0
description:
  - Sets V(/nix/var/nix/profiles/disnix/<profile>) to O(path) with C(nix-env -p <profile> --set <path>),
    which adds a profile generation, as Disnix's C(--set) does. The profile directory is created
    when missing.
  - A profile that already points to O(path) is left as it is.
  - With O(run_id), the switch is written to the transition journal before and after (with the
    generation it replaced), so a failed or interrupted deployment puts the profile back exactly
    (M(disnix.deploy.activation) with O(disnix.deploy.activation#module:rollback=true), or
    M(disnix.deploy.recover)); with O(fenced=true) it is made only while O(run_id) holds the lock.
  - Its action plugin runs the same code on the target without a module start when it can (a
    connection with pipelining, no C(async), C(python3) on the target); see docs/performance.md.
options:
  run_id:
    description:
      - The deployment run that makes the switch; without it the switch is not journaled.
    type: str
  fenced:
    description:
      - Switch only while O(run_id) holds the target's lock (see M(disnix.deploy.activation)).
    type: bool
    default: false
  path:
    description:
      - The store path to point the profile at (a profile built by the controller, with its
        C(profilemanifest.json)). It must be valid in the target's store.
    type: path
    required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - disnix.deploy.target
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    description: The store path the profile points to before and after.
  platform:
    platforms: posix
seealso:
  - module: disnix.deploy.target_state
author:
  - disnix.deploy developers (@disnix-deploy)
"""

EXAMPLES = r"""
- name: Set the target profile after a successful transition
  disnix.deploy.profile:
    profile: default
    path: /nix/store/0wh5gfb88mvyqsg894p7w63qh4yqia6a-profile-test1
"""

RETURN = r"""
previous:
  description: The store path the profile pointed to before, or V(null) when it did not exist.
  returned: always
  type: str
  sample: /nix/store/6bmhk4j1zq4qr7j7ygqpmcx0y7m7jq2n-profile-test1
current:
  description: The store path the profile points to after the task (in check mode, would point to).
  returned: always
  type: str
  sample: /nix/store/0wh5gfb88mvyqsg894p7w63qh4yqia6a-profile-test1
profile_link:
  description: The profile symlink.
  returned: always
  type: str
  sample: /nix/var/nix/profiles/disnix/default
generation:
  description: The generation the profile points to after the task (V(null) in check mode when it would change).
  returned: always
  type: int
  sample: 3
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.disnix.deploy.plugins.module_utils import target_calls
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError


def main() -> None:
    module = AnsibleModule(argument_spec=target_calls.PROFILE_SPEC, supports_check_mode=True)
    try:
        result = target_calls.call("profile", module.params, module.check_mode, module._diff)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    except TargetError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
