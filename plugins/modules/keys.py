#!/usr/bin/python
# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: keys
short_description: Write the secret files of a target's services outside the Nix store, as one transaction step
version_added: 0.2.0
description:
  - Makes the key files of profile O(profile) on the target equal to O(keys) (C(disnix_keys), the
    part for the services this target runs). Each key is written to its C(dest) with its owner,
    group and mode set before its value; keys this profile wrote earlier for services that are no
    longer given are removed.
  - Every change is journaled in the transition journal (wave V(-1), before every activation) with
    the replaced file kept aside, so rolling the run back (M(disnix.deploy.activation) with
    C(rollback=true) and C(wave=-1)), or recovering it after the controller died, puts the
    previous keys back; releasing the lock after a commit deletes what was kept aside.
  - What the profile wrote is recorded in C(/var/lib/disnix/keys/<profile>.json), by path and service,
    never by value. Values never appear in a result, a message, the journal or the record.
  - The role disnix.deploy.deploy runs it after locking, only on targets whose keys differ; see
    docs/guard.md.
options:
  keys:
    description:
      - Service name to a list of keys, as C(disnix_keys) has them.
      - Each key has C(name) (a file name) and C(value) (a string, for example from Ansible Vault),
        and optionally C(dest) (an absolute path outside C(/nix); default
        V(/run/keys/disnix/<service>/<name>)), C(mode) (octal string, default V(0600)), C(owner)
        and C(group) (default the connecting user's).
    type: dict
    default: {}
  fenced:
    description: Check before each change that this run still holds the target's lock.
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - disnix.deploy.target
  - disnix.deploy.target.run
attributes:
  check_mode:
    support: full
    description: Reports the keys that would be created, replaced or removed (names and paths only).
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: disnix.deploy.target_state
  - module: disnix.deploy.activation
author:
  - disnix.deploy developers (@disnix-deploy)
"""

EXAMPLES = r"""
- name: The database password of service api, from Ansible Vault
  disnix.deploy.keys:
    profile: default
    run_id: "{{ disnix_tx.run_id }}"
    keys:
      api:
        - name: db-password
          value: "{{ vault_db_password }}"
          owner: nobody
  no_log: true
"""

RETURN = r"""
keys:
  description: The key changes made (or in check mode, to make), by service, name and path.
  returned: always
  type: list
  elements: dict
  sample: [{"service": "api", "name": "db-password", "dest": "/run/keys/disnix/api/db-password", "action": "create"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.disnix.deploy.plugins.module_utils import service_keys
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError, resolve_tmpdir, target_argument_spec
from ansible_collections.disnix.deploy.plugins.module_utils.transition_journal import Journal, journal_path
from ansible_collections.disnix.deploy.plugins.module_utils.transition_steps import Context, guarded


def main() -> None:
    module = AnsibleModule(
        # only the values are secret (masked below); names and paths stay readable in results
        argument_spec=target_argument_spec(run=True, keys=dict(type="dict", default={}, no_log=False),
                                           fenced=dict(type="bool", default=True)),
        supports_check_mode=True,
        # no syslog record of the invocation: it would hold the keys' values
        no_log=True,
    )
    params = module.params
    # only the keys' values are secret: masked in every result, messages and invocation included
    module.no_log_values.update(service_keys.secret_values(params["keys"]))
    try:
        keys = [k for ks in service_keys.normalize(params["keys"]).values() for k in ks]
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    try:
        if module.check_mode:
            planned = service_keys.plan(params["profile"], keys)
            module.exit_json(changed=bool(planned), keys=planned, msg="would make %d key change(s)" % len(planned))
        tmpdir = resolve_tmpdir(params["tmpdir"])
        journal = Journal(journal_path(params["profile"], tmpdir))
        context = Context(run_id=params["run_id"], journal=journal, log_dir="", timeout=0, tmpdir=tmpdir)
        with guarded(context, params["profile"], params["fenced"]) as check:
            result = service_keys.apply(journal, params["run_id"], params["profile"], keys, owner_check=check)
    except TargetError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
