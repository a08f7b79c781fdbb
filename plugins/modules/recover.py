#!/usr/bin/python
# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: recover
short_description: Repair a target after a deployment run that died
version_added: 0.2.0
description:
  - Takes the target's lock over from the dead run O(dead_run_id) under the profile's step
    guard, so that no step of the dead run (a killed controller's stray module) can still run or
    write to the journal; then rolls the dead run's journaled steps and profile switch back on
    this target, newest first, or with O(committed=true) (the rest of the network committed that
    run) only drops its journal; then releases the lock.
  - The controller decides that a run is dead (M(disnix.deploy.transaction) does, from the lock
    holder's controller and process); this module never guesses.
  - A lock held by another run than O(dead_run_id) is left alone and the task fails.
options:
  dead_run_id:
    description:
      - The run to repair. When not given, runs whose journal is left without a lock are repaired.
    type: str
  committed:
    description:
      - The dead run committed on the rest of the network, so what it did here is kept.
    type: bool
    default: false
  timeout:
    description: Seconds an undo step may take.
    type: int
    default: 10
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - disnix.deploy.target
  - disnix.deploy.target.log
  - disnix.deploy.target.run
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: disnix.deploy.transaction
  - module: disnix.deploy.lock
author:
  - disnix.deploy developers (@disnix-deploy)
"""

EXAMPLES = r"""
- name: Roll back what a killed run left on the target
  disnix.deploy.recover:
    run_id: "{{ disnix_tx.run_id }}"
    dead_run_id: 5f0c2e8a9b7d4c1e8f3a2b6c9d0e1f2a
"""

RETURN = r"""
direction:
  description: V(back) (undone) or V(forward) (kept, journal dropped); V(null) when nothing was left.
  returned: always
  type: str
  sample: back
restored:
  description: The steps undone, newest first.
  returned: always
  type: list
  elements: dict
  sample: [{"op": "deactivate", "service": "s3", "ok": true}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.disnix.deploy.plugins.module_utils import locking
from ansible_collections.disnix.deploy.plugins.module_utils.recovery import recover
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError, resolve_tmpdir, target_argument_spec


def main() -> None:
    module = AnsibleModule(
        argument_spec=target_argument_spec(log=True, run=True, dead_run_id=dict(type="str"),
                                           committed=dict(type="bool", default=False), timeout=dict(type="int", default=10)),
        supports_check_mode=True,
    )
    params = module.params
    try:
        request = locking.LockRequest(profile=params["profile"], tmpdir=resolve_tmpdir(params["tmpdir"]), run_id=params["run_id"],
                                      log_dir=params["log_dir"], timeout=params["timeout"],
                                      activation=params["activation"])
        result = recover(request, params["dead_run_id"], params["committed"], check_mode=module.check_mode)
    except TargetError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
