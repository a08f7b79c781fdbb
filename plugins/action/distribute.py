# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action disnix.deploy.distribute: copy store paths the target lacks, over its connection.

Over an ssh connection the export is streamed into ``nix-store --import`` on the target
(plugin_utils/closure_stream.py: one export for every target that lacks the same paths),
through Ansible's shared master connection, or on a connection of its own when the master
compresses (``-C`` in the inventory's ssh arguments) and the copy should not, or the reverse.
Other connections (local, paramiko, winrm) put an export file on the target and import it.
Nothing changes behaviour on the target: paths only become valid.
"""

from __future__ import annotations

import os
import shlex
import tempfile
import time

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure
from ansible.plugins.action import ActionBase

from ansible_collections.disnix.deploy.plugins.plugin_utils import closure_stream
from ansible_collections.disnix.deploy.plugins.plugin_utils import controller_store as store

ARGSPEC = {
    **store.TRANSFER_ARGSPEC,
    "compression": {"type": "str", "default": "none", "choices": sorted(closure_stream.COMPRESSION)},
    "substituters": {"type": "list", "elements": "str", "default": []},
    "trusted_public_keys": {"type": "list", "elements": "str", "default": []},
    "progress_interval": {"type": "float", "default": 2.0},
    "only_missing": {"type": "bool", "default": False},
}


def _compresses(cmd: list[bytes]) -> bool:
    """Whether an ssh command line turns compression on, as ssh reads it: ``-C`` anywhere,
    else the first ``Compression`` option."""
    if b"-C" in cmd:
        return True
    for i, arg in enumerate(cmd):
        option = cmd[i + 1] if arg == b"-o" and i + 1 < len(cmd) else arg[2:] if arg.startswith(b"-o") else b""
        if option.lower().startswith(b"compression="):
            return option.split(b"=", 1)[1].strip().lower() == b"yes"
    return False


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class _Progress:
    """Progress lines of one target's copy: bytes and paths sent, every progress_interval."""

    def __init__(self, display, host: str, args: dict) -> None:
        self._display, self._host, self._args = display, host, args
        self._sizes: list[int] = []
        self.total = 0
        self._count = 0
        self._started = self._last = time.monotonic()

    def start(self, paths: list[str]) -> None:
        self._sizes = closure_stream.nar_sizes(paths, self._args["nix_bin_dir"])
        self.total, self._count = sum(self._sizes), len(paths)
        self._started = self._last = time.monotonic()

    def __call__(self, sent: int) -> None:
        now = time.monotonic()
        if now - self._last < self._args["progress_interval"]:
            return
        self._last = now
        compression = self._args["compression"]
        if compression in ("none", "ssh"):
            done, acc = 0, 0
            for size in self._sizes:
                acc += size
                if acc > sent:
                    break
                done += 1
            what = f"{_mb(sent)} of {_mb(self.total)}, {done} of {self._count} paths"
        else:
            what = f"{_mb(sent)} {compression}-compressed of {_mb(self.total)} ({self._count} paths)"
        self._display.display(f"disnix copy to {self._host}: {what}, {now - self._started:.0f} s")

    def end(self) -> None:
        elapsed = time.monotonic() - self._started
        if self._count and elapsed >= self._args["progress_interval"]:
            self._display.display(f"disnix copy to {self._host}: {_mb(self.total)}, {self._count} paths in {elapsed:.1f} s")


class ActionModule(ActionBase):
    """Sends the given store paths (in closure order) to the target."""

    TRANSFERS_FILES = False

    def _remote(self, cmd: str) -> dict:
        return self._low_level_execute_command(cmd)

    def _substitute(self, paths: list[str], args: dict) -> list[str]:
        """Lets the target fetch what it can from the named binary caches; the paths still missing."""
        nix_store = shlex.quote(args["nix_store"])
        quoted = " ".join(map(shlex.quote, paths))
        opts = f"--option substituters {shlex.quote(' '.join(args['substituters']))}"
        if args["trusted_public_keys"]:
            opts += f" --option trusted-public-keys {shlex.quote(' '.join(args['trusted_public_keys']))}"
        # a path no cache has is sent afterwards; the failure to substitute it is no error
        res = self._remote(f"NIX_PAGER=cat {nix_store} --realise --keep-going {opts} {quoted} > /dev/null 2>&1; "
                           f"NIX_PAGER=cat {nix_store} --check-validity --print-invalid {quoted}")
        if res["rc"] != 0:
            raise AnsibleActionFail(f"checking store paths after substitution failed: {(res.get('stderr') or res.get('stdout') or '').strip()}")
        still = set(res.get("stdout", "").split())
        return [p for p in paths if p in still]

    def _ssh_command(self, remote_cmd: str, compression: str) -> list[bytes] | None:
        """The inventory's ssh command for this host (host, port, user, key, known hosts,
        extra args), on a connection of its own; None when the connection is not plain ssh."""
        conn = self._connection
        if getattr(conn, "transport", None) != "ssh" or conn.become is not None:
            return None
        if conn.get_option("password") or getattr(self._play_context, "password", None):
            return None  # sshpass needs Ansible's own pipe handling
        host = conn.get_option("host") or self._play_context.remote_addr
        cmd = conn._build_command(conn.get_option("ssh_executable"), "ssh", host, remote_cmd)
        wanted = compression == "ssh"
        # the shared master connection compresses as the inventory's ssh arguments say; when
        # that is what this copy wants, the stream goes through it (no second handshake, about
        # 0.2 s a host on the lab), else over a connection of its own
        if _compresses(cmd) == wanted:
            return cmd
        # first value wins in ssh: these go right after the executable
        extra = [b"-o", b"ControlPath=none", b"-o", b"Compression=" + (b"yes" if wanted else b"no")]
        at = cmd.index(conn.get_option("ssh_executable").encode()) + 1
        if not wanted:
            cmd = [a for a in cmd if a != b"-C"]
        return cmd[:at] + extra + cmd[at:]

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=ARGSPEC)
        self._host_name = str((task_vars or {}).get("inventory_hostname", self._play_context.remote_addr))
        try:
            paths = store.check_store_paths(args["paths"])
        except store.DeployError as exc:
            raise AnsibleActionFail(str(exc)) from None
        result.update(changed=bool(paths), paths=paths, count=len(paths), bytes=0, substituted=[], seconds=0.0)
        if not paths:
            return result
        decompress = closure_stream.COMPRESSION[args["compression"]][1]
        import_cmd = f"{shlex.quote(args['nix_store'])} --import > /dev/null"
        import_cmd = f"{decompress} | {import_cmd}" if decompress else import_cmd
        asked = args["only_missing"] and not self._task.check_mode and not args["substituters"]
        ssh = self._ssh_command("/bin/sh -c " + shlex.quote(
            closure_stream.ask_script(args["nix_store"], import_cmd) if asked else import_cmd), args["compression"])
        if asked and ssh is not None:
            # the question and the copy on one ssh command, as nix-copy-closure has
            started = time.monotonic()
            try:
                result.update(self._ask_and_stream(ssh, paths, args))
            except store.DeployError as exc:
                raise AnsibleActionFail(str(exc)) from None
            result["seconds"] = round(time.monotonic() - started, 3)
            return result
        if args["only_missing"]:
            paths = self._missing(paths, args)
            result.update(changed=bool(paths), paths=paths, count=len(paths))
            if not paths:
                return result
        if self._task.check_mode:
            return result
        if args["substituters"]:
            still = self._substitute(paths, args)
            result["substituted"] = [p for p in paths if p not in set(still)]
            paths = still
            result.update(paths=paths, count=len(paths))
            if not paths:
                return result
        started = time.monotonic()
        try:
            if ssh is None:
                result["bytes"] = self._put_and_import(paths, args)
            else:
                result["bytes"] = self._stream(ssh, paths, args)
        except store.DeployError as exc:
            raise AnsibleActionFail(str(exc)) from None
        result["seconds"] = round(time.monotonic() - started, 3)
        return result

    def _missing(self, paths: list[str], args: dict) -> list[str]:
        """Those of the paths the target lacks, asked in a command of their own."""
        quoted = " ".join(map(shlex.quote, paths))
        res = self._remote(f"{shlex.quote(args['nix_store'])} --check-validity --print-invalid {quoted}")
        if res["rc"] != 0:
            raise AnsibleActionFail(f"checking store paths failed: {(res.get('stderr') or res.get('stdout') or '').strip()}")
        lacking = set(res.get("stdout", "").split())
        return [p for p in paths if p in lacking]

    def _ask_and_stream(self, ssh: list[bytes], paths: list[str], args: dict) -> dict:
        progress = self._progress(args)

        def source_for(missing: list[str]) -> closure_stream.SharedExport:
            progress.start(missing)
            return closure_stream.SharedExport(C.DEFAULT_LOCAL_TMP, missing, args["compression"], args["nix_bin_dir"])

        rc, err, missing = closure_stream.ask_and_stream(ssh, paths, source_for, progress)
        msg = err.decode(errors="replace").strip()[-4000:]
        if rc == 255:
            raise AnsibleConnectionFailure(f"copying store paths: ssh failed: {msg}")
        if missing is None or rc != 0:
            what = "asking which store paths the target lacks" if missing is None else f"importing {len(missing)} store path(s)"
            raise AnsibleActionFail(f"{what} failed (rc {rc}): {msg}")
        progress.end()
        return {"changed": bool(missing), "paths": missing, "count": len(missing), "bytes": progress.total}

    def _stream(self, ssh: list[bytes], paths: list[str], args: dict) -> int:
        progress = self._progress(args)
        progress.start(paths)
        source = closure_stream.SharedExport(C.DEFAULT_LOCAL_TMP, paths, args["compression"], args["nix_bin_dir"])
        rc, err = closure_stream.stream(ssh, source, progress)
        msg = err.decode(errors="replace").strip()[-4000:]
        if rc == 255:
            raise AnsibleConnectionFailure(f"copying {len(paths)} store path(s): ssh failed: {msg}")
        if rc != 0:
            raise AnsibleActionFail(f"importing {len(paths)} store path(s) failed: {msg}")
        progress.end()
        return progress.total

    def _progress(self, args: dict) -> _Progress:
        return _Progress(self._display, self._host_name, args)

    def _put_and_import(self, paths: list[str], args: dict) -> int:
        """Connections other than ssh: an export file put on the target, imported, removed."""
        with tempfile.TemporaryDirectory(prefix="disnix-export-") as local_tmp:
            local = os.path.join(local_tmp, "closure.export")
            store.export(paths, local, args["nix_bin_dir"])
            size = os.path.getsize(local)
            remote_tmp = self._make_tmp_path()
            try:
                remote = self._connection._shell.join_path(remote_tmp, "closure.export")
                self._transfer_file(local, remote)
                cmd = f"{shlex.quote(args['nix_store'])} --import < {shlex.quote(remote)} > /dev/null"
                res = self._remote(cmd)
            finally:
                self._remove_tmp_path(remote_tmp)
        if res["rc"] != 0:
            raise AnsibleActionFail(f"importing {len(paths)} store path(s) failed: {(res.get('stderr') or res.get('stdout') or '').strip()}")
        return size
