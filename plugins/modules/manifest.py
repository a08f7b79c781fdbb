# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation of the action plugin disnix.deploy.manifest (plugins/action/manifest.py).

from __future__ import annotations

DOCUMENTATION = r"""
module: manifest
short_description: Evaluate Disnix models, build the services and profiles, compose the manifest
version_added: 0.2.0
author:
  - disnix.deploy developers (@disnix-deploy)
description:
  - Runs on the controller. Loads the services and distribution models (Disnix's Nix syntax)
    against the infrastructure of the inventory, validates them, builds every service for the
    system of its target, builds one profile per target and adds the manifest to the Nix store.
  - It does not plan the transition; M(disnix.deploy.transaction) does that, from what the
    targets run, under their locks.
  - Reports C(changed) when it built something or added a new manifest to the store.
  - The infrastructure is taken from the host variables that the
    P(disnix.deploy.infrastructure#inventory) inventory plugin sets on the hosts of
    O(targets_group).
  - Changes nothing on any target. In check mode nothing is built either; RV(build_lines) lists
    what would be built.
  - With O(generation), the manifest of that controller generation is used instead of the
    models (rollback).
  - The infrastructure may also come from an ordinary inventory without an infrastructure
    model; docs/inventory.md lists the defaults.
options:
  services:
    description: Path of the services model.
    type: path
  distribution:
    description: Path of the distribution model.
    type: path
  generation:
    description:
      - Deploy this controller generation (a number, or V(previous)) instead of
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
  only:
    description:
      - A selective deploy. Service names, or C(tag:NAME) for every service whose C(tags)
        attribute lists NAME, as a list or a comma-separated string.
      - The chosen services and everything they depend on (C(dependsOn), C(connectsTo),
        C(activatesAfter)) are deployed as the models say; every other service stays as the
        current generation has it. A service that is not chosen but depends on one that this
        deploy removes from its target is an error, before anything changes.
    type: raw
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
- name: Evaluate and build a deployment
  disnix.deploy.manifest:
    services: examples/hello-world/services.nix
    distribution: examples/hello-world/distribution-scenario1.nix
  run_once: true
  register: disnix_manifest
"""

RETURN = r"""
run_id:
  description: Identifier of this run, used for locks and journals on the targets.
  returned: always
  type: str
started:
  description: When this run started (Unix time), recorded in the target locks; of two runs that meet at a lock the earlier goes first.
  returned: always
  type: float
manifest_path:
  description: Store path of the new manifest (null in check mode).
  returned: always
  type: str
previous_manifest_path:
  description: Store path of the current generation's manifest, if any.
  returned: always
  type: str
manifest_existed:
  description: Whether the new manifest was in the store already (a controller generation had it).
  returned: always
  type: bool
manifest:
  description: The new deployment manifest (every mapping and target).
  returned: always
  type: dict
previous_manifest:
  description: The current controller generation's manifest, or null.
  returned: always
  type: dict
committed_runs:
  description: Run ids the controller recorded as committed (recovery rolls their leftovers forward).
  returned: always
  type: list
  elements: str
generation:
  description: Current controller generation number, if any.
  returned: always
  type: int
targets:
  description: Per target name, its inventory host, profile store path, profile closure and number of cores.
  returned: always
  type: dict
selected:
  description: The services of a selective deploy (O(only) with what they depend on).
  returned: when O(only) is set
  type: list
  elements: str
hosts:
  description: Target name to inventory host, for every host of O(targets_group).
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
controller_pid_start:
  description: Start time of that process, recorded with it.
  returned: always
  type: str
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
build_lines:
  description: In check mode, what would be built.
  returned: always
  type: list
  elements: str
"""
