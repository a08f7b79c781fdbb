# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action disnix.deploy.reconstruct: record what the targets run as the controller's generation."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.disnix.deploy.plugins.plugin_utils import controller_store as store
from ansible_collections.disnix.deploy.plugins.plugin_utils import manifest as manifest_lib
from ansible_collections.disnix.deploy.plugins.plugin_utils import reconstruct
from ansible_collections.disnix.deploy.plugins.plugin_utils.inventory_targets import targets_from_inventory

ARGSPEC = {
    "results": {"type": "str", "default": "disnix_reconstruct_state"},
    "profile": {"type": "str", "default": "default"},
    "coordinator_profile_dir": {"type": "path"},
    "targets_group": {"type": "str", "default": "disnix_targets"},
    **store.CONTROLLER_ARGSPEC,
}


def _read(path: str | None) -> str | None:
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


class ActionModule(ActionBase):
    """Composes the manifest of what the targets reported and makes it the current generation."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=ARGSPEC)
        task_vars = task_vars or {}
        infrastructure, hosts, _build_on = targets_from_inventory(task_vars, args["targets_group"])
        states = {h: task_vars["hostvars"][h].get(args["results"]) for h in hosts.values()}
        try:
            new = reconstruct.compose(infrastructure, hosts, states, args["profile"])
        except reconstruct.ReconstructError as exc:
            raise AnsibleActionFail(str(exc)) from None
        path = store.coordinator_profile(args["profile"], args["coordinator_profile_dir"])
        current = store.current_generation(path)
        current_path = store.generations(path).get(current) if current is not None else None
        current_text = _read(current_path)
        try:
            old = store.load_manifest(current_path, args["profile"]) if current_text is not None else None
        except store.DeployError:
            old = None
        # a generation's manifest is the text a deployment writes: equal text, same store path
        same = current_text == manifest_lib.to_xml(new)
        manifest_path, generation = current_path, current
        if not same and not self._task.check_mode:
            try:
                manifest_path = store.add_manifest(new, args["nix_bin_dir"])
                generation = store.set_generation(path, manifest_path, args["nix_bin_dir"])
            except store.DeployError as exc:
                raise AnsibleActionFail(str(exc)) from None
        after = reconstruct.lines(new)
        if same:
            msg = f"the controller generation {current} already records what the targets run"
        elif self._task.check_mode:
            msg = f"would record a new controller generation of {path}"
        else:
            msg = f"recorded controller generation {generation} of {path}"
        # not the manifest itself: its container properties may hold secrets (secrets.py)
        result.update(changed=not same, msg=msg, lines=after, profile_path=path, previous=current,
                      generation=generation, manifest_path=manifest_path)
        if self._task.diff:
            before = reconstruct.lines(old) if old else []
            result["diff"] = {"before_header": f"{path} (generation {current})", "after_header": "what the targets run",
                              "before": "\n".join(before) + ("\n" if before else ""), "after": "\n".join(after) + "\n"}
        return result
