# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by the controller-side actions (argument spec: plugin_utils/controller_store.py)."""

from __future__ import annotations


class ModuleDocFragment:
    # disnix.deploy.controller: every action that runs Nix on the controller
    DOCUMENTATION = r"""
options:
  nix_bin_dir:
    description: Directory of the controller's Nix tools; by default they are looked up on E(PATH).
    type: path
"""

    # disnix.deploy.controller.transfer: actions that move store paths between controller and target
    TRANSFER = r"""
options:
  paths:
    description: Store paths to copy, dependencies before dependants.
    type: list
    elements: str
    required: true
  nix_store:
    description: The C(nix-store) to run on the target.
    type: str
    default: nix-store
"""

    # disnix.deploy.controller.actions: attributes every controller-side action shares
    ACTIONS = r"""
attributes:
  diff_mode:
    support: none
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  platform:
    support: full
    platforms: posix
"""
