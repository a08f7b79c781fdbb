# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation of the action plugin disnix.deploy.visualize (plugins/action/visualize.py).

from __future__ import annotations

DOCUMENTATION = r"""
module: visualize
short_description: Draw a deployment or the plan of a change as SVG and PNG with Graphviz
version_added: 0.2.0
author:
  - disnix.deploy developers (@disnix-deploy)
description:
  - Runs on the controller, like C(disnix-visualize). Each target is a box with its name, system
    and cores; the services deployed there are boxes inside it, labelled with their type (and
    coloured by type); every dependency is an arrow from the dependant to what it depends on,
    also across targets.
  - With O(plan), draws the plan that check mode writes to C(disnix_plan_json) instead. Added and
    moved-here services green, removed and moved-away ones red and dashed, rebuilt ones orange,
    untouched ones grey, a dotted arrow for each move, and a key of the colours.
  - Without O(plan) or O(manifest), draws the current generation of the controller profile.
  - Writes C(<dest>/<name>.<format>) for each of O(formats); a file is rewritten only when its
    content changes.
requirements:
  - Graphviz C(dot) on the controller (Debian package C(graphviz)).
options:
  dest:
    description: Existing directory for the pictures.
    type: path
    required: true
  plan:
    description: A plan file written by check mode (C(disnix_plan_json)).
    type: path
  manifest:
    description: A deployment manifest to draw instead of the current generation.
    type: path
  profile:
    description: The Disnix profile whose current generation is drawn.
    type: str
    default: default
  coordinator_profile_dir:
    description: Where the controller's generations live (as C(disnix_coordinator_profile_dir)).
    type: path
  name:
    description: Base name of the files; C(deployment), or C(plan) with O(plan).
    type: str
  title:
    description: Title shown at the top of the picture.
    type: str
  formats:
    description: What to write; C(dot) is the Graphviz source.
    type: list
    elements: str
    choices: [svg, png, dot]
    default: [svg, png]
  dot:
    description: The Graphviz C(dot) command.
    type: str
    default: dot
extends_documentation_fragment:
  - disnix.deploy.controller.actions
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
"""

EXAMPLES = r"""
---
- name: Draw the current deployment
  disnix.deploy.visualize:
    dest: pictures

- name: Draw the plan a check-mode run wrote
  disnix.deploy.visualize:
    dest: pictures
    plan: plan.json
"""

RETURN = r"""
files:
  description: The pictures, one per format.
  returned: always
  type: list
  elements: str
"""
