# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation of the action plugin disnix.deploy.plan (plugins/action/plan.py).

from __future__ import annotations

DOCUMENTATION = r"""
module: plan
short_description: Evaluate Disnix models, build the services and plan the transition
version_added: 0.1.0
author:
  - disnix.deploy developers (!UNKNOWN)
description:
  - Runs on the controller. Loads the services and distribution models (Disnix's Nix syntax)
    against the infrastructure of the inventory, validates them, builds every service for the
    system of its target, builds one profile per target, adds the manifest to the Nix store
    and computes the transition from the current controller generation.
  - The infrastructure is taken from the host variables that the
    P(disnix.deploy.infrastructure#inventory) inventory plugin sets on the hosts of
    O(targets_group).
  - Changes nothing on any target. In check mode nothing is built either; the plan lists what
    would be built, deactivated and activated.
  - With O(generation), the manifest of that controller generation is planned instead of the
    models (rollback).
options:
  services:
    description: Path of the services model.
    type: path
  distribution:
    description: Path of the distribution model.
    type: path
  generation:
    description:
      - Plan the deployment of this controller generation (a number, or V(previous)) instead of
        evaluating models.
    type: str
  profile:
    description: Name of the Disnix profile, on the targets and on the controller.
    type: str
    default: default
  coordinator_profile_dir:
    description:
      - Directory of the controller's generations.
      - Default C(/nix/var/nix/profiles/per-user/<user>/disnix-coordinator), as Disnix.
    type: path
  nixpkgs:
    description:
      - Path of Nixpkgs, passed to the services model as C(pkgs).
      - Default where C(<nixpkgs>) resolves (E(NIX_PATH) or Nix's search path), if anywhere;
        models that do not use C(pkgs) need none.
    type: str
    default: ""
  extra_params:
    description:
      - Extra arguments for the services model function (Disnix's C(--extra-params)).
      - When not set, the variable C(disnix_extra_params) is used as it is, never templated,
        so model data stays data (Ansible would render Jinja in an extra var given with C(-e)).
    type: dict
  targets_group:
    description: Inventory group whose hosts are the targets.
    type: str
    default: disnix_targets
extends_documentation_fragment:
  - disnix.deploy.controller
  - disnix.deploy.controller.actions
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
notes:
  - Used by C(playbooks/deploy.yml) and C(playbooks/rollback.yml); see docs/deploy.md.
"""

EXAMPLES = r"""
---
- name: Plan a deployment
  disnix.deploy.plan:
    services: examples/hello-world/services.nix
    distribution: examples/hello-world/distribution-scenario1.nix
  run_once: true
  register: disnix_deploy
"""

RETURN = r"""
run_id:
  description: Identifier of this run, used for locks and journals on the targets.
  returned: always
  type: str
manifest_path:
  description: Store path of the new manifest (null in check mode).
  returned: always
  type: str
previous_manifest_path:
  description: Store path of the current generation's manifest, if any.
  returned: always
  type: str
up_to_date:
  description: Whether the new manifest is the current generation's.
  returned: always
  type: bool
generation:
  description: Current controller generation number, if any.
  returned: always
  type: int
targets:
  description: Per target name, its inventory host, profile store path, profile closure and number of cores.
  returned: always
  type: dict
hosts:
  description: Inventory host name to target name.
  returned: always
  type: dict
plan:
  description: The transition (waves of steps per target, untouched and skipped mappings).
  returned: always
  type: dict
controller:
  description: Host name of the controller, recorded in the target locks.
  returned: always
  type: str
controller_pid:
  description: Process id of ansible-playbook on the controller, recorded in the target locks.
  returned: always
  type: int
user:
  description: User running the deployment on the controller.
  returned: always
  type: str
coordinator_profile:
  description: Path of the controller profile whose generations are the deployments.
  returned: always
  type: str
target_generation:
  description: The generation planned with O(generation), else null.
  returned: always
  type: int
plan_lines:
  description: The plan as readable lines.
  returned: always
  type: list
  elements: str
"""
