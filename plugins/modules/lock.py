#!/usr/bin/python
# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lock
short_description: Lock or unlock a Disnix target profile, asking the deployed services
version_added: 0.1.0
description:
  - Does what C(disnix-lock) does on one target (Disnix's profile locking).
  - O(state=locked) first refuses when the lock file exists (naming who holds it), then calls the
    Dysnomia C(lock) operation of every service in the currently deployed profile manifest (none
    on a first deployment). A service may refuse; then the services locked so far are unlocked
    again, nothing else changes, and the task fails naming the refusing service. Otherwise the
    lock file V($TMPDIR/disnix-<profile>.lock) is created with C(O_EXCL), so of two runs racing
    for it exactly one wins.
  - O(state=unlocked) calls C(unlock) on every deployed service, removes the lock file and this
    run's transition journal. A profile that is not locked is left as it is.
  - Locking again with the same O(run_id) changes nothing.
  - Every lock and unlock call is recorded in the activation log.
  - Its action plugin runs the same code on the target without a module start when it can (a
    connection with pipelining, no C(async), C(python3) on the target); see docs/performance.md.
options:
  state:
    description:
      - V(locked) to take the lock, V(unlocked) to release it.
    type: str
    choices: [locked, unlocked]
    default: locked
  controller:
    description:
      - Name of the controller host running the deployment, recorded in the lock file.
    type: str
  controller_pid:
    description:
      - Process id of the deployment on the controller, recorded in the lock file.
    type: int
  controller_pid_start:
    description:
      - Start time of that process (from C(/proc/<pid>/stat)), recorded so that a reused
        process id does not make a dead run's lock look alive.
    type: str
  user:
    description:
      - User running the deployment, recorded in the lock file.
      - Defaults to the user the module runs as on the target.
    type: str
  force:
    description:
      - With O(state=unlocked), also remove a lock that another run holds (for example one left by a
        run that died).
    type: bool
    default: false
  run_started:
    description:
      - When the run started (Unix time on the controller), recorded in the lock file. Of two runs that
        meet, the one that started first goes first (see O(wait)).
    type: float
  wait:
    description:
      - With O(state=locked), how many seconds to wait for a lock held by a run that started after this
        one (O(run_started)). That run gives way when it meets this run's locks, so of two deployments
        that meet at the same targets one goes on. A lock of a run that started before this one,
        or of a run that recorded no start, is refused at once.
      - V(0) refuses every held lock at once, as C(disnix-lock) does.
    type: float
    default: 0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - disnix.deploy.target
  - disnix.deploy.target.log
  - disnix.deploy.target.run
attributes:
  check_mode:
    support: full
    description: Reports whether the lock would be taken or released; calls no service and touches no file.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: disnix.deploy.activation
  - module: disnix.deploy.target_state
author:
  - disnix.deploy developers (@disnix-deploy)
"""

EXAMPLES = r"""
- name: Lock the target profile for this run
  disnix.deploy.lock:
    profile: default
    state: locked
    run_id: "{{ disnix_run_id }}"
    controller: "{{ lookup('ansible.builtin.pipe', 'hostname') }}"
    user: "{{ lookup('ansible.builtin.env', 'USER') }}"

- name: Release it again
  disnix.deploy.lock:
    profile: default
    state: unlocked
    run_id: "{{ disnix_run_id }}"

- name: Remove a lock left by a run that died
  disnix.deploy.lock:
    state: unlocked
    run_id: manual
    force: true
"""

RETURN = r"""
profile_path:
  description: With O(state=locked), the store path the profile points to, read under the lock.
  returned: success
  type: str
profile_manifest:
  description: With O(state=locked), the target's profile manifest, read under the lock (the transition is planned from it).
  returned: success
  type: dict
lock_file:
  description: The path of the lock file on the target.
  returned: always
  type: str
  sample: /tmp/disnix-default.lock
lock:
  description:
    - The content of the lock file after the task (V(null) when unlocked).
    - Keys C(run_id), C(controller), C(user), C(pid) (the controller's), C(since) (Unix time), C(started)
      (when the run started, or V(null)) and C(profile).
  returned: success
  type: dict
  sample: {"run_id": "20260101T120000-4711", "controller": "laptop", "user": "alice", "pid": 4711,
           "since": 1767268800, "started": 1767268790.5, "profile": "default"}
waited:
  description: The lock was held by a run that started later, and this task waited until it was released.
  returned: when it waited
  type: bool
lock_holder:
  description:
    - The content of the lock file of the run that holds the lock, when the task failed because of it;
      a dict with only the key C(raw) (the file content) for a lock file not written by this collection.
  returned: when the profile is locked by another run
  type: dict
services:
  description: The services notified, in order (in check mode, those that would be).
  returned: success, and when a service refused
  type: list
  elements: dict
  contains:
    service:
      description: Service name.
      type: str
    key:
      description: Key of the service mapping.
      type: str
    type:
      description: Activation type.
      type: str
    container:
      description: Container name.
      type: str
    op:
      description: C(lock) or C(unlock).
      type: str
    ok:
      description: Whether the service accepted.
      type: bool
    output:
      description: What the service printed, or why it failed.
      type: str
refused_service:
  description: The service that refused to be locked.
  returned: when a service refused
  type: str
  sample: hello_world_server
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.disnix.deploy.plugins.module_utils import target_calls
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError


def main() -> None:
    module = AnsibleModule(argument_spec=target_calls.LOCK_SPEC, supports_check_mode=True)
    try:
        result = target_calls.call("lock", module.params, module.check_mode, module._diff)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    except TargetError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
