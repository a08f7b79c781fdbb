# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action disnix.deploy.fetch_closure: bring store paths built on a target to the controller.

The reverse of distribute: the target lists the closure, the controller keeps only what its
store lacks, the target exports those into one file, the connection fetches it, the
controller imports it.
"""

from __future__ import annotations

import os
import shlex
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.disnix.deploy.plugins.plugin_utils import controller_store as store


class ActionModule(ActionBase):
    """Copies the closure of the given paths from the target into the controller's store."""

    TRANSFERS_FILES = False

    def _remote(self, cmd: str, what: str) -> str:
        res = self._low_level_execute_command(cmd)
        if res["rc"] != 0:
            raise AnsibleActionFail(f"{what} failed on the target: {(res.get('stderr') or res.get('stdout') or '').strip()}")
        return res.get("stdout", "")

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=store.TRANSFER_ARGSPEC)
        try:
            paths = store.check_store_paths(args["paths"])
        except store.DeployError as exc:
            raise AnsibleActionFail(str(exc)) from None
        nix_store = shlex.quote(args["nix_store"])
        result.update(changed=False, paths=[], count=0, bytes=0)
        if not paths:
            return result
        # Ansible runs this on a pty (ssh -tt), where nix-store would start a pager
        listing = self._remote(f"NIX_PAGER=cat {nix_store} --query --requisites {' '.join(map(shlex.quote, paths))}",
                               "querying the closure")
        closure = [p for p in listing.split() if p.startswith("/nix/store/")]
        try:
            missing = store.invalid_paths(closure, args["nix_bin_dir"])
        except store.DeployError as exc:
            raise AnsibleActionFail(str(exc)) from None
        result.update(changed=bool(missing), paths=missing, count=len(missing))
        if not missing or self._task.check_mode:
            return result
        remote_tmp = self._make_tmp_path()
        try:
            remote = self._connection._shell.join_path(remote_tmp, "closure.export")
            self._remote(f"{nix_store} --export {' '.join(map(shlex.quote, missing))} > {shlex.quote(remote)}", "exporting the build results")
            with tempfile.TemporaryDirectory(prefix="disnix-fetch-") as local_tmp:
                local = os.path.join(local_tmp, "closure.export")
                self._connection.fetch_file(remote, local)
                result["bytes"] = os.path.getsize(local)
                store.import_file(local, args["nix_bin_dir"])
        except store.DeployError as exc:
            raise AnsibleActionFail(str(exc)) from None
        finally:
            self._remove_tmp_path(remote_tmp)
        return result
