# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation of the action plugin disnix.deploy.generation (plugins/action/generation.py).

from __future__ import annotations

DOCUMENTATION = r"""
module: generation
short_description: Record a deployment as a generation of the controller's Disnix profile
version_added: 0.1.0
author:
  - disnix.deploy developers (@disnix-deploy)
description:
  - Runs on the controller. The controller's generations form a Nix profile of manifests, as
    Disnix's coordinator profile; each manifest keeps its whole deployment alive in the store.
  - With O(manifest_path), makes that manifest the current generation (a new generation unless
    it already is). With O(number), switches to an existing generation (rollback).
options:
  profile_path:
    description: The controller profile, C(<coordinator profile dir>/<profile>).
    type: path
    required: true
  manifest_path:
    description: Store path of the manifest to record.
    type: str
  number:
    description: Existing generation to switch to.
    type: int
extends_documentation_fragment:
  - disnix.deploy.controller
  - disnix.deploy.controller.actions
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
"""

EXAMPLES = r"""
---
- name: Record the deployment
  disnix.deploy.generation:
    profile_path: "{{ disnix_manifest.coordinator_profile }}"
    manifest_path: "{{ disnix_manifest.manifest_path }}"
  run_once: true
"""

RETURN = r"""
previous:
  description: Generation number before, if any.
  returned: always
  type: int
generation:
  description: Generation number after.
  returned: always
  type: int
"""
