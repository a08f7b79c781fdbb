#!/usr/bin/python
# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: activation
short_description: Activate and deactivate Disnix services on a target, or roll a wave back
version_added: 0.1.0
description:
  - Carries out one target's steps of one transition wave, with Dysnomia's semantics for the
    activation types C(process), C(wrapper), C(echo) and C(package); any other type is passed to
    the target's C(dysnomia) command.
  - Up to O(max_parallel) steps run at the same time. Every successful step is appended to the
    transition journal V($TMPDIR/disnix-<profile>.journal); every attempt is recorded in the
    activation log. When a step fails, the others still finish, then the task fails naming every
    failed service with its output.
  - With O(rollback=true) the steps of wave O(wave) that this run journaled are undone, newest
    first (activate becomes deactivate and the other way round), and removed from the journal.
  - Container properties reach the activation as environment variables (values rendered as Nix's
    C(toString) does), with E(PATH), E(DYSNOMIA_STATEDIR=/var/state/dysnomia) and a few variables of
    the module's environment (E(HOME), E(USER), E(LANG), E(TMPDIR) ...).
  - Its action plugin runs the same code on the target without a module start when it can (a
    connection with pipelining, no C(async), C(python3) on the target); see docs/performance.md.
options:
  steps:
    description:
      - The steps, in the order given (all of one wave, so independent of each other).
      - Ignored with O(rollback=true).
    type: list
    elements: dict
    default: []
    suboptions:
      op:
        description: The operation.
        type: str
        choices: [activate, deactivate]
        required: true
      key:
        description: Key of the service mapping (recorded in the journal and the log).
        type: str
        default: ""
      service:
        description: Service name, for messages, the journal and the log.
        type: str
        default: ""
      pkg:
        description: The service's store path.
        type: str
        required: true
      type:
        description:
          - Activation type, for example V(process), V(wrapper), V(echo), V(package), or a Dysnomia
            module name such as V(systemd-unit).
        type: str
        required: true
      container:
        description: Container name; defaults to the type.
        type: str
        default: ""
      properties:
        description: The container's properties, passed as environment variables.
        type: dict
        default: {}
  wave:
    description:
      - The global wave number of these steps, recorded in the journal.
      - With O(rollback=true), the wave to undo; when not given, every journaled step of this run is undone.
      - Without O(rollback), defaults to V(0).
    type: int
  max_parallel:
    description:
      - How many steps may run at the same time (the target's C(numOfCores)).
    type: int
    default: 1
  rollback:
    description:
      - Undo this run's journaled steps of O(wave) instead of running O(steps).
    type: bool
    default: false
  fenced:
    description:
      - Run only while O(run_id) holds the target's lock; every step checks it under the
        profile's step guard, so a step of a run whose lock was taken over by recovery never runs.
      - Set to V(false) for deployments that take no locks.
    type: bool
    default: true
  timeout:
    description:
      - Seconds a C(process) service may take to write its pid file after its start command returned,
        and to exit after C(SIGTERM) before it gets C(SIGKILL).
      - Commands (a wrapper, C(dysnomia), a process' start command) are killed after 300 seconds.
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
    description:
      - Lists what would be done and runs nothing. RV(results[].changed) is exact for C(process) and
        C(package) services and assumed for the other types.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: disnix.deploy.lock
  - module: disnix.deploy.profile
author:
  - disnix.deploy developers (@disnix-deploy)
"""

EXAMPLES = r"""
- name: Activate the services of wave 2 on this target
  disnix.deploy.activation:
    run_id: "{{ disnix_run_id }}"
    wave: 2
    max_parallel: "{{ disnix_num_of_cores }}"
    steps:
      - op: activate
        key: 3f8a0c...
        service: hello_world_server
        pkg: /nix/store/6bmhk4j1zq4qr7j7ygqpmcx0y7m7jq2n-hello-world-server
        type: process
        container: process
        properties:
          runtimeDir: /var/run

- name: Undo wave 2 after a failure somewhere
  disnix.deploy.activation:
    run_id: "{{ disnix_run_id }}"
    wave: 2
    rollback: true
"""

RETURN = r"""
results:
  description: One entry per step (per undo with O(rollback=true)), in the order of the steps.
  returned: always
  type: list
  elements: dict
  contains:
    service:
      description: Service name.
      type: str
    key:
      description: Key of the service mapping.
      type: str
    op:
      description: The operation carried out (C(activate) or C(deactivate)).
      type: str
    type:
      description: Activation type.
      type: str
    container:
      description: Container name.
      type: str
    pkg:
      description: The service's store path.
      type: str
    ok:
      description: Whether the operation succeeded.
      type: bool
    changed:
      description: Whether it changed anything (a process already running is not started again).
      type: bool
    output:
      description: The operation's output, or why it failed.
      type: str
    details:
      description:
        - Type-specific facts; C(process) gives C(executable), C(pid_file) and C(pid), C(echo) gives
          C(operation), C(component), C(container) and C(environment), C(wrapper) and Dysnomia types C(rc).
      type: dict
restored:
  description: With O(rollback=true), the entries of RV(results) that were undone successfully.
  returned: when O(rollback=true)
  type: list
  elements: dict
failed_services:
  description: The services whose step failed.
  returned: failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.disnix.deploy.plugins.module_utils import target_calls
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError


def main() -> None:
    module = AnsibleModule(argument_spec=target_calls.ACTIVATION_SPEC, supports_check_mode=True)
    try:
        result = target_calls.call("activation", module.params, module.check_mode, module._diff)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    except TargetError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
