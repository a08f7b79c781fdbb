#!/usr/bin/python
# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the action disnix.deploy.reconstruct (plugins/action)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: reconstruct
short_description: Rebuild the controller's generation from what the targets run
version_added: 0.2.0
description:
  - Runs on the controller, as C(disnix-reconstruct). Combines the infrastructure (the hosts of
    O(targets_group), as a deployment reads them) with each target's profile manifest, as
    M(disnix.deploy.target_state) reported it in the variable O(results), into a deployment
    manifest, and makes it the current generation of the coordinator profile unless that
    generation already records the same.
  - The manifest is the one a deployment of the same configuration composes, so the next
    deployment of it has nothing to do.
  - The targets' profiles must be in the controller's store first (M(disnix.deploy.fetch_closure));
    C(playbooks/reconstruct.yml) does both.
  - Fails, recording nothing, when a target of the group did not report its profile.
options:
  results:
    description: The host variable holding each target's M(disnix.deploy.target_state) result.
    type: str
    default: disnix_reconstruct_state
  profile:
    description: The Disnix profile.
    type: str
    default: default
  coordinator_profile_dir:
    description:
      - Directory of the coordinator profiles; default
        V(/nix/var/nix/profiles/per-user/<user>/disnix-coordinator), as Disnix.
    type: path
  targets_group:
    description: The inventory group of the targets.
    type: str
    default: disnix_targets
extends_documentation_fragment:
  - disnix.deploy.controller
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    description: Says whether a new generation would be recorded, and what it holds (RV(lines)).
  diff_mode:
    support: full
    description: The services per target of the current generation and of the reconstructed one.
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  platform:
    support: full
    platforms: posix
author:
  - disnix.deploy developers (@disnix-deploy)
"""

EXAMPLES = r"""
- name: What each target runs
  disnix.deploy.target_state:
    profile: default
  register: disnix_reconstruct_state

- name: Record it as the controller's generation
  disnix.deploy.reconstruct:
    profile: default
  run_once: true
"""

RETURN = r"""
msg:
  description: What was (or would be) done.
  returned: always
  type: str
lines:
  description: 'What the reconstructed generation records, one line per target, C(<target>: <service>, ...).'
  returned: always
  type: list
  elements: str
profile_path:
  description: The coordinator profile.
  returned: always
  type: str
previous:
  description: The current generation before, or V(null).
  returned: always
  type: int
generation:
  description: The current generation after (in check mode, as before).
  returned: always
  type: int
manifest_path:
  description: The manifest of RV(generation).
  returned: always
  type: str
"""
