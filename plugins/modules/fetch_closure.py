# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation of the action plugin disnix.deploy.fetch_closure (plugins/action/fetch_closure.py).

from __future__ import annotations

DOCUMENTATION = r"""
module: fetch_closure
short_description: Copy Nix store paths from a target into the controller's store
version_added: 0.1.0
author:
  - disnix.deploy developers (@disnix-deploy)
description:
  - The reverse of M(disnix.deploy.distribute). The target lists the closure of the given paths,
    the controller keeps the paths its store lacks, the target exports them into one file, the
    host's Ansible connection fetches it and the controller imports it.
  - Used after M(disnix.deploy.realise), so that services built on a target can join profiles and
    reach other targets.
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
- name: Bring the target's builds back
  disnix.deploy.fetch_closure:
    paths: "{{ disnix_realised.outputs }}"
"""

RETURN = r"""
paths:
  description: The store paths copied to the controller.
  returned: always
  type: list
  elements: str
count:
  description: Number of store paths copied.
  returned: always
  type: int
bytes:
  description: Size of the export file fetched.
  returned: always
  type: int
"""
