# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action disnix.deploy.generation: record a deployment as the controller's generation."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.disnix.deploy.plugins.plugin_utils import controller_store as store

ARGSPEC = {
    "profile_path": {"type": "path", "required": True},
    "manifest_path": {"type": "str"},
    "number": {"type": "int"},
    **store.CONTROLLER_ARGSPEC,
}


class ActionModule(ActionBase):
    """Sets (a new generation) or switches (an existing one, for rollback) the controller profile."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=ARGSPEC, required_one_of=[["manifest_path", "number"]],
                                                       mutually_exclusive=[["manifest_path", "number"]])
        path = args["profile_path"]
        before = store.current_generation(path)
        gens = store.generations(path)
        if args["number"] is not None:
            if args["number"] not in gens:
                raise AnsibleActionFail(f"{path} has no generation {args['number']}")
            changed = before != args["number"]
            if changed and not self._task.check_mode:
                store.switch_generation(path, args["number"], args["nix_bin_dir"])
        else:
            changed = before is None or gens.get(before) != args["manifest_path"]
            if changed and not self._task.check_mode:
                try:
                    store.set_generation(path, args["manifest_path"], args["nix_bin_dir"])
                except store.DeployError as exc:
                    raise AnsibleActionFail(str(exc)) from None
        after = before if self._task.check_mode else store.current_generation(path)
        result.update(changed=changed, previous=before, generation=after)
        return result
