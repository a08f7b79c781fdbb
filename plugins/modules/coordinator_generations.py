#!/usr/bin/python
# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the action disnix.deploy.coordinator_generations (plugins/action)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: coordinator_generations
short_description: List the controller's generations of a Disnix profile and what each deployed
version_added: 0.2.0
description:
  - Runs on the controller and changes nothing. Reads the coordinator profile
    C(<coordinator profile dir>/<profile>) and, for each generation, the services and targets
    its manifest deploys.
options:
  profile:
    description: The Disnix profile.
    type: str
    default: default
  coordinator_profile_dir:
    description:
      - Directory of the coordinator profiles; default
        V(/nix/var/nix/profiles/per-user/<user>/disnix-coordinator), as Disnix.
    type: path
extends_documentation_fragment:
  - disnix.deploy.controller.actions
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
author:
  - disnix.deploy developers (@disnix-deploy)
"""

EXAMPLES = r"""
- name: The controller's generations
  disnix.deploy.coordinator_generations:
    profile: default
  run_once: true
  register: controller_generations
"""

RETURN = r"""
profile_path:
  description: The coordinator profile.
  returned: always
  type: str
current:
  description: The current generation, or V(null).
  returned: always
  type: int
generations:
  description:
    - One entry per generation, oldest first; C(generation), C(current), C(manifest_path),
      C(time) (Unix time of the generation link) and C(services) (C(<service>@<target>) of
      every mapping, V(null) when the manifest cannot be read).
  returned: always
  type: list
  elements: dict
profile_dir:
  description: The directory of RV(profile_path).
  returned: always
  type: str
lines:
  description: 'One line per generation, C(<N>[ (current)]: <service>@<target>, ...).'
  returned: always
  type: list
  elements: str
"""
