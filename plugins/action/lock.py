# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action disnix.deploy.lock: the module's work (module_utils/target_calls.py) run on the
target by plugin_utils/target_runner.py, without a module start; the module where that
cannot be."""

from __future__ import annotations

from ansible_collections.disnix.deploy.plugins.plugin_utils.target_runner import TargetCallAction


class ActionModule(TargetCallAction):
    CALL = "lock"
