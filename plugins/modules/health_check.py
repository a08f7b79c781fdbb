#!/usr/bin/python
# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: health_check
short_description: Run the health checks of services on their target
version_added: 0.2.0
description:
  - Runs each check of O(checks) on the target, one after the other, each repeated every
    O(checks[].interval) seconds until it passes or its O(checks[].timeout) ends; fails naming
    every check that did not pass and its service.
  - The deploy role runs it after every transition wave, with the C(healthCheck) attributes of
    the services that wave activated; a failure rolls the transaction back (docs/guard.md).
  - A command check runs without a shell, with the container's properties as environment variables
    (as the activation does); a shell command the user wrote is given as V([/bin/sh, -c, <command>]).
  - Changes nothing.
options:
  checks:
    description: The checks.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the check, for messages.
        type: str
        required: true
      service:
        description: The service the check belongs to, for messages.
        type: str
        default: ""
      target:
        description: The target's name in the models (informational).
        type: str
        default: ""
      container:
        description: The service's container (informational).
        type: str
        default: ""
      command:
        description: Argv of a command that must exit 0. Exactly one of O(checks[].command) and O(checks[].tcpPort).
        type: list
        elements: str
      shell:
        description: Whether O(checks[].command) is V(/bin/sh -c) with the user's command (informational).
        type: bool
        default: false
      tcpPort:
        description: A TCP port on O(checks[].host) that must accept a connection.
        type: int
      host:
        description: The host O(checks[].tcpPort) is connected to, seen from the target.
        type: str
        default: 127.0.0.1
      timeout:
        description: Seconds until the check counts as failed.
        type: float
        default: 10
      interval:
        description: Seconds between attempts.
        type: float
        default: 1
      properties:
        description: The container's properties (the command's environment).
        type: dict
        default: {}
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    description: The checks only read, so they run the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
author:
  - disnix.deploy developers (@disnix-deploy)
"""

EXAMPLES = r"""
- name: Is the web server up?
  disnix.deploy.health_check:
    checks:
      - name: tcp 127.0.0.1:5000
        service: hello-world-server
        tcpPort: 5000
        timeout: 10
      - name: pid file
        service: hello-world-server
        command: [/bin/sh, -c, "test -s /var/run/hello-world-server.pid"]
        shell: true
"""

RETURN = r"""
checks:
  description: Every check's outcome.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "tcp 127.0.0.1:5000", "service": "hello-world-server", "ok": true, "attempts": 2}]
failed_checks:
  description: The checks that did not pass, each with its C(reason).
  returned: failure
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.disnix.deploy.plugins.module_utils.health_check import run_check

CHECK_SPEC = dict(
    name=dict(type="str", required=True),
    service=dict(type="str", default=""),
    target=dict(type="str", default=""),
    container=dict(type="str", default=""),
    command=dict(type="list", elements="str"),
    shell=dict(type="bool", default=False),
    tcpPort=dict(type="int"),
    host=dict(type="str", default="127.0.0.1"),
    timeout=dict(type="float", default=10),
    interval=dict(type="float", default=1),
    # may hold a secret property: never shown
    properties=dict(type="dict", default={}, no_log=True),
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(checks=dict(type="list", elements="dict", required=True, options=CHECK_SPEC)),
        supports_check_mode=True,
    )
    results = []
    for check in module.params["checks"]:
        if (check["command"] is None) == (check["tcpPort"] is None):
            module.fail_json(msg="health check %r: give exactly one of command and tcpPort" % check["name"])
        results.append(run_check(check))
    failed = [r for r in results if not r["ok"]]
    if failed:
        module.fail_json(msg="; ".join("health check '%s' of service %s failed: %s" % (r["name"], r["service"], r["reason"])
                                       for r in failed), checks=results, failed_checks=failed)
    module.exit_json(changed=False, checks=results)


if __name__ == "__main__":
    main()
