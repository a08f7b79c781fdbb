# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation of the action plugin disnix.deploy.distribute (plugins/action/distribute.py).

from __future__ import annotations

DOCUMENTATION = r"""
module: distribute
short_description: Copy Nix store paths from the controller to a target over its connection
version_added: 0.1.0
author:
  - disnix.deploy developers (@disnix-deploy)
description:
  - Exports the given store paths on the controller with C(nix-store --export) into one file,
    puts that file on the target through the host's Ansible connection and imports it there
    with C(nix-store --import).
  - Give it only the paths the target lacks, in closure order (dependencies first), as
    M(disnix.deploy.target_state) reports them; C(playbooks/deploy.yml) does.
  - Importing only makes paths valid in the target's store; no running service changes.
extends_documentation_fragment:
  - disnix.deploy.controller
  - disnix.deploy.controller.transfer
  - disnix.deploy.controller.actions
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
"""

EXAMPLES = r"""
---
- name: Copy what the target lacks
  disnix.deploy.distribute:
    paths: "{{ disnix_state.invalid_paths }}"
    nix_store: "{{ disnix_state.nix_store }}"
"""

RETURN = r"""
paths:
  description: The store paths sent (or that would be sent, in check mode).
  returned: always
  type: list
  elements: str
count:
  description: Number of store paths sent.
  returned: always
  type: int
bytes:
  description: Size of the export file sent (0 in check mode).
  returned: always
  type: int
"""
