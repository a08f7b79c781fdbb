#!/usr/bin/python
# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: target_state
short_description: Report a Disnix target's deployment state (and lock it for a change) in one round trip
version_added: 0.1.0
description:
  - Reads everything the controller needs before it plans a deployment on a target, with as
    few subprocesses as possible.
  - The deployed profile V(/nix/var/nix/profiles/disnix/<profile>), its generations and the
    profile manifest C(profilemanifest.json) of the store path it points to.
  - The lock file and the journal a transition may have left behind.
  - Which of the given store paths the target's Nix store lacks
    (one C(nix-store --check-validity --print-invalid) call), the Nix version and, on request,
    the Nix system type.
  - Changes nothing unless O(lock) is given; then it may take the profile's lock, which a deployment
    would take next anyway (one round trip less).
  - Its action plugin runs the same code on the target without a module start when it can (a
    connection with pipelining, no C(async), C(python3) on the target); see docs/performance.md.
options:
  paths:
    description:
      - Store paths to check; those not valid in the target's store are returned in RV(invalid_paths).
      - Each must be a top-level store path (V(/nix/store/<hash>-<name>)).
    type: list
    elements: str
    default: []
  planned_profile:
    description:
      - The store path the run plans as the target's profile, whose closure O(paths) is.
      - When the target's profile already is that path, O(paths) are not checked and RV(invalid_paths) is empty
        (a profile generation is a garbage collector root, and Nix keeps the closure of a valid path valid),
        so no C(nix-store) runs on the target.
    type: str
  query_system:
    description:
      - Also return the target's Nix system type (C(nix-instantiate --eval -E builtins.currentSystem)).
    type: bool
    default: false
  query_nix_version:
    description:
      - Also return the version of the target's Nix (C(nix-store --version)), in RV(nix_version).
    type: bool
    default: false
  keys:
    description:
      - The keys (C(disnix_keys)) of the services this target runs, as M(disnix.deploy.keys) takes them;
        RV(keys_plan) says which differ from the files on the target. Values are compared, never returned.
    type: dict
    default: {}
  lock:
    description:
      - Lock the profile in the same round trip, for the run O(lock.run_id), when the run changes this
        target (its profile is not O(lock.planned_profile), or O(keys) differ from the files). Not taken
        when the profile is locked already or a journal is left (a repair comes first, then the lock stage
        locks), nor in check mode. The services are asked first, as M(disnix.deploy.lock) asks them.
      - A refusal (a service's veto) does not fail the query; RV(lock_refused) says why. A lock another run
        took meanwhile comes back as RV(lock), as when the query finds it.
    type: dict
    suboptions:
      run_id:
        description: The run that takes the lock.
        type: str
        required: true
      planned_profile:
        description: The store path this run's profile for the target has; V(null) when there is none.
        type: str
      controller:
        description: The controller's host name, recorded in the lock.
        type: str
      controller_pid:
        description: The controller process, recorded in the lock (a dead holder is recovered).
        type: int
      controller_pid_start:
        description: When that process started, so that a reused PID is not taken for it.
        type: str
      user:
        description: Who deploys, recorded in the lock.
        type: str
      started:
        description: When the run started (Unix time on the controller), recorded in the lock; orders runs that meet.
        type: float
      activation:
        description: How the services' lock operations run, as in M(disnix.deploy.lock).
        type: str
        choices: [builtin, dysnomia]
        default: builtin
      log_dir:
        description: Where the services' lock operations are logged.
        type: path
        default: /var/log/disnix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - disnix.deploy.target
attributes:
  check_mode:
    support: full
    description: Only reads in check mode (no O(lock) is taken); without O(lock) it only reads anyway.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Fails with C(nix-store not found on <host>; run playbooks/bootstrap.yml) on a target without Nix.
seealso:
  - module: disnix.deploy.lock
  - module: disnix.deploy.profile
author:
  - disnix.deploy developers (@disnix-deploy)
"""

EXAMPLES = r"""
- name: What is deployed on the target, and which closure paths are missing
  disnix.deploy.target_state:
    profile: default
    paths: "{{ disnix_target_closure }}"
    query_system: true
  register: state

- name: Show the services deployed now
  ansible.builtin.debug:
    msg: "{{ (state.profile_manifest.services | default([])) | map(attribute='name') | list }}"
"""

RETURN = r"""
keys_plan:
  description:
    - The key changes M(disnix.deploy.keys) would make for O(keys) (create, replace, remove, forget),
      by service, name and path; keys this profile wrote for services no longer given are removed.
  returned: always
  type: list
  elements: dict
  sample: [{"service": "api", "name": "db-password", "dest": "/run/keys/disnix/api/db-password", "action": "create"}]
profile_link:
  description: The profile symlink on the target.
  returned: always
  type: str
  sample: /nix/var/nix/profiles/disnix/default
profile_path:
  description: The store path the profile points to, or V(null) when the profile does not exist.
  returned: always
  type: str
  sample: /nix/store/0wh5gfb88mvyqsg894p7w63qh4yqia6a-profile-test1
profile_manifest:
  description:
    - The parsed C(profilemanifest.json) of RV(profile_path), or V(null) when there is none.
    - Keys C(version), C(profile), C(target) and C(services) (each with C(key), C(name), C(pkg),
      C(type), C(container), C(properties), C(dependsOn)).
  returned: always
  type: dict
generations:
  description: The generation numbers of the profile, ascending.
  returned: always
  type: list
  elements: int
  sample: [1, 2]
generation:
  description: The generation the profile points to, or V(null).
  returned: always
  type: int
  sample: 2
lock:
  description:
    - The parsed lock file, or V(null) when the profile is not locked.
    - Keys C(run_id), C(controller), C(user), C(pid), C(since) (Unix time), C(started) (when the run started) and C(profile);
      a lock file not written by this collection comes back as a dict with only the key C(raw) (the file content).
  returned: always
  type: dict
lock_file:
  description: The path of the lock file.
  returned: always
  type: str
  sample: /tmp/disnix-default.lock
journal:
  description:
    - The entries of a transition journal left on the target (a run that did not finish), oldest first;
      empty when there is none.
    - Each has C(run_id), C(wave), C(op), C(key), C(service), C(pkg), C(type), C(container), C(properties).
  returned: always
  type: list
  elements: dict
journal_file:
  description: The path of the transition journal.
  returned: always
  type: str
  sample: /tmp/disnix-default.journal
invalid_paths:
  description: Those of O(paths) that are not valid in the target's Nix store.
  returned: always
  type: list
  elements: str
nix_store:
  description: The target's C(nix-store), as found on E(PATH) or in the usual Nix locations.
  returned: always
  type: str
  sample: /usr/bin/nix-store
nix_version:
  description: The version of the target's Nix; V(null) unless O(query_nix_version=true).
  returned: always
  type: str
  sample: 2.8.0
system:
  description: The target's Nix system type; V(null) unless O(query_system=true).
  returned: always
  type: str
  sample: x86_64-linux
locked:
  description: Whether this call took the profile's lock (O(lock)); the profile state returned is then read under it.
  returned: always
  type: bool
lock_refused:
  description: Why O(lock) could not be taken (a service refused).
  returned: when the lock was refused
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.disnix.deploy.plugins.module_utils import target_calls
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError


def main() -> None:
    module = AnsibleModule(argument_spec=target_calls.TARGET_STATE_SPEC, supports_check_mode=True,
                           # no syslog record of the invocation: it would hold the keys' values
                           no_log=True)
    # only the keys' values are secret: masked in every result, messages and invocation included
    module.no_log_values.update(target_calls.query_secrets(module.params))
    try:
        result = target_calls.call("target_state", module.params, module.check_mode, module._diff)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    except TargetError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
