# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation of the action plugin disnix.deploy.transaction (plugins/action/transaction.py).

from __future__ import annotations

DOCUMENTATION = r"""
module: transaction
short_description: Judge one stage of a Disnix deployment and decide what runs next
version_added: 0.2.0
author:
  - disnix.deploy developers (@disnix-deploy)
description:
  - Runs on the controller, once per stage of the role C(disnix.deploy.deploy), after the stage
    task ran on every target with failures and unreachable hosts kept in the play. It reads every
    host's registered result (O(results)) and the state the earlier stages left in
    C(disnix_tx_result), and decides, in one place (C(plugins/plugin_utils/transaction.py)),
    whether to go on, refuse (nothing changed), roll back what ran on the reachable targets
    (only the waves that started), or commit.
  - O(stage=query) starts the transaction from the result of M(disnix.deploy.manifest) (as
    C(disnix_manifest)) and plans from the targets' own profile manifests; it finds leftovers of
    dead runs to recover, refuses a C(--limit) that excludes a target the deployment changes, and
    in check mode reports C(changed) and, with C(--diff), each target's services before and after.
  - O(stage=lock) plans again from what the targets run under their locks.
  - O(stage=keys) judges the key files written on the targets (M(disnix.deploy.keys)); a failure
    rolls back what was written, as a failed wave does.
  - O(stage=migrate) judges one part of a state migration (C(deployState) services that move).
  - O(stage=commit) records the controller generation, only when every target of the transition
    confirmed its steps and its profile.
  - O(stage=report) prints the summary and fails unless the deployment committed, had nothing to
    do, or only checked or recovered.
options:
  stage:
    description: The stage whose results are judged.
    type: str
    required: true
    choices: [query, recover, distribute, lock, keys, wave, migrate, profiles, rollback, commit, unlock, report]
  wave:
    description: With O(stage=wave) or O(stage=rollback), the wave (the profile switch is the wave C(profile_wave) of RV(tx)).
    type: int
  phase:
    description:
      - With O(stage=migrate), the part of the migrate wave O(wave) that ran - V(snapshot) (with its export)
        and V(fetch) on the old targets, V(send) and V(restore) on the new ones. A failure rolls the
        transition back like a failed step.
    type: str
    choices: [snapshot, fetch, send, restore]
  deploy_state:
    description: With O(stage=query), migrate the state of every service whose type can snapshot, not only those with C(deployState) (C(disnix_deploy_state)).
    type: bool
    default: false
  results:
    description:
      - Name of the variable each host registered the stage's result in; several names, comma-separated,
        judge the first of those results that failed (else the last that ran).
    type: str
  health:
    description:
      - With O(stage=wave), name of the variable each host registered its health checks' result in
        (M(disnix.deploy.health_check)); a failed check fails its host like a failed activation.
    type: str
  force:
    description: With O(stage=query), treat every foreign lock as left by a dead run (C(playbooks/unlock.yml -e disnix_force=true)).
    type: bool
    default: false
  no_lock:
    description: With O(stage=lock), the run takes no locks (the results are plain queries).
    type: bool
    default: false
  recover_only:
    description: With O(stage=query), only repair leftovers of dead runs (C(playbooks/unlock.yml)).
    type: bool
    default: false
  plan_json:
    description:
      - With O(stage=query) in check mode, write the plan as JSON to this file on the controller
        (schema in C(docs/plan-json.md)); container properties are left out.
    type: path
    version_added: 0.2.0
extends_documentation_fragment:
  - disnix.deploy.controller
  - disnix.deploy.controller.actions
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    description: With O(stage=query), each target's services before and after.
notes:
  - Used by the role C(disnix.deploy.deploy); see docs/deploy.md.
"""

EXAMPLES = r"""
---
- name: Judge the query; plan
  disnix.deploy.transaction:
    stage: query
    results: disnix_query
  run_once: true
  register: disnix_tx_result
"""

RETURN = r"""
tx:
  description:
    - The transaction state after this stage, carried to the next one. Among others C(go) (whether
      the next stage runs), C(outcome), C(plan) (the waves), C(steps_by_host), C(lost), C(failed),
      C(locked), C(recover), C(rollback_waves), C(profile_wave), C(restored) and C(repair) (what is left to repair, per host).
  returned: always
  type: dict
report:
  description: With O(stage=report), the summary lines.
  returned: when O(stage=report)
  type: list
  elements: str
"""
