# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action disnix.deploy.distribute: copy store paths the target lacks, over its connection.

The controller exports only the missing paths into one file (nix-store --export), the
connection puts it on the target (whatever the connection is: ssh, paramiko, local) and
the target imports it. Nothing changes behaviour on the target: paths only become valid.
"""

from __future__ import annotations

import os
import shlex
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.disnix.deploy.plugins.plugin_utils import controller_store as store


class ActionModule(ActionBase):
    """Sends the given store paths (in closure order) to the target."""

    TRANSFERS_FILES = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=store.TRANSFER_ARGSPEC)
        try:
            paths = store.check_store_paths(args["paths"])
        except store.DeployError as exc:
            raise AnsibleActionFail(str(exc)) from None
        result.update(changed=bool(paths), paths=paths, count=len(paths), bytes=0)
        if not paths or self._task.check_mode:
            return result
        with tempfile.TemporaryDirectory(prefix="disnix-export-") as local_tmp:
            local = os.path.join(local_tmp, "closure.export")
            try:
                store.export(paths, local, args["nix_bin_dir"])
            except store.DeployError as exc:
                raise AnsibleActionFail(str(exc)) from None
            result["bytes"] = os.path.getsize(local)
            remote_tmp = self._make_tmp_path()
            try:
                remote = self._connection._shell.join_path(remote_tmp, "closure.export")
                self._transfer_file(local, remote)
                cmd = f"{shlex.quote(args['nix_store'])} --import < {shlex.quote(remote)} > /dev/null"
                res = self._low_level_execute_command(cmd)
            finally:
                self._remove_tmp_path(remote_tmp)
        if res["rc"] != 0:
            raise AnsibleActionFail(f"importing {len(paths)} store path(s) failed: {(res.get('stderr') or res.get('stdout') or '').strip()}")
        return result
