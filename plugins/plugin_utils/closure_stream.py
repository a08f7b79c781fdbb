# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Streaming store paths from the controller to targets: one export for every target that
lacks the same paths, piped into each target's ``nix-store --import``.

Ansible runs the action of every host in its own worker process. The first worker that
needs a set of paths becomes its producer: it starts ``nix-store --export`` (compressed
when asked) writing into a spool file in the run's local temporary directory. Every
worker, the producer too, reads that file as it grows and writes it into its own ssh
command, so all targets receive while the export still runs, and the export (and the
compression) happen once per set of paths, not once per target.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import tempfile
import time
from typing import Callable

from ansible_collections.disnix.deploy.plugins.plugin_utils.controller_store import DeployError, tool

CHUNK = 1 << 20
# a producer that wrote nothing for this long is taken to be dead
IDLE_TIMEOUT = 300.0

# compression: controller-side pipe command, target-side decompressor
COMPRESSION = {
    "none": (None, None),
    "ssh": (None, None),  # ssh's own -C (zlib); slow on fast links
    "zstd": (["zstd", "-q", "-c", "-3", "-T0"], "zstd -q -d -c"),
    "xz": (["xz", "-q", "-c", "-3", "-T0"], "xz -q -d -c"),
}


def key_of(paths: list[str], compression: str) -> str:
    return hashlib.sha256(json.dumps([compression, paths]).encode()).hexdigest()[:32]


def nar_sizes(paths: list[str], nix_bin_dir: str | None = None) -> list[int]:
    """NAR size of each path (from the store's database, no file is read)."""
    sizes: list[int] = []
    for start in range(0, len(paths), 2000):
        batch = paths[start:start + 2000]
        proc = subprocess.run([tool("nix-store", nix_bin_dir), "--query", "--size", *batch],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise DeployError("querying store path sizes failed: " + proc.stderr.strip())
        sizes += [int(s) for s in proc.stdout.split()]
    return sizes


class SharedExport:
    """The export stream of ``paths`` in the spool directory ``spool`` (shared by workers)."""

    def __init__(self, spool: str, paths: list[str], compression: str, nix_bin_dir: str | None = None) -> None:
        self.paths = paths
        self.compression = compression
        self.nix_bin_dir = nix_bin_dir
        base = os.path.join(spool, "disnix-export-" + key_of(paths, compression))
        self.data = base + ".data"
        self.done = base + ".done"
        self._procs: list[subprocess.Popen] = []

    def _start_producer(self) -> bool:
        """Becomes the producer unless another worker already is (the spool file exists)."""
        try:
            fd = os.open(self.data, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as out:
            compress = COMPRESSION[self.compression][0]
            export_cmd = [tool("nix-store", self.nix_bin_dir), "--export", *self.paths]
            try:
                if compress:
                    export = subprocess.Popen(export_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                    comp = subprocess.Popen(compress, stdin=export.stdout, stdout=out, stderr=subprocess.PIPE)
                    if export.stdout is None:  # Popen gave a pipe; for the type checker
                        raise AssertionError('export.stdout')
                    export.stdout.close()
                    self._procs = [export, comp]
                else:
                    self._procs = [subprocess.Popen(export_cmd, stdout=out, stderr=subprocess.PIPE)]
            except FileNotFoundError as exc:
                self._finish(127, f"{exc.filename} not found on the controller")
                return True
        return True

    def _finish(self, rc: int, err: str) -> None:
        tmp = self.done + f".{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"rc": rc, "err": err[-4000:]}, f)
        os.replace(tmp, self.done)

    def _poll_producer(self) -> None:
        if not self._procs or any(p.poll() is None for p in self._procs):
            return
        rc, err = 0, ""
        for p in self._procs:
            if p.stderr is None:  # Popen gave a pipe; for the type checker
                raise AssertionError('p.stderr')
            text = p.stderr.read().decode(errors="replace").strip()
            if p.returncode != 0 and rc == 0:
                rc, err = p.returncode, text
        self._procs = []
        self._finish(rc, err)

    def send(self, out_fd: int, progress: Callable[[int], None]) -> int:
        """Copies the export into ``out_fd`` as it is written (sendfile: no copy through
        Python), until the producer has finished; the bytes sent. DeployError when the
        export failed; BrokenPipeError when the reader went away."""
        self._start_producer()
        while not os.path.exists(self.data):  # pragma: no cover - only between two workers' calls
            time.sleep(0.01)
        sent = 0
        with open(self.data, "rb") as src:
            idle_since = time.monotonic()
            while True:
                n = os.sendfile(out_fd, src.fileno(), sent, CHUNK)
                if n:
                    sent += n
                    idle_since = time.monotonic()
                    progress(sent)
                    continue
                self._poll_producer()
                if os.path.exists(self.done):
                    if os.path.getsize(self.data) > sent:  # written before the end was recorded
                        continue
                    with open(self.done, encoding="utf-8") as f:
                        status = json.load(f)
                    if status["rc"] != 0:
                        raise DeployError(f"exporting {len(self.paths)} store path(s) failed: {status['err']}")
                    return sent
                if time.monotonic() - idle_since > IDLE_TIMEOUT:
                    raise DeployError(f"exporting store paths: nothing written for {IDLE_TIMEOUT:.0f} s")
                time.sleep(0.005)

    def close(self) -> None:
        """Lets a producer's export finish for the other workers' sake, then records it."""
        for p in self._procs:
            p.wait()
        self._poll_producer()


def _piped(cmd: list[bytes], feed: Callable[[subprocess.Popen], None], stdout: int) -> tuple[int, bytes]:
    """Runs ``cmd`` (an ssh command) with ``feed(proc)`` writing its stdin; returns (rc, stderr)."""
    # stderr into a file, not a pipe: a chatty target must not block the stream
    errfile = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=stdout, stderr=errfile)
    if proc.stdin is None:  # Popen gave a pipe; for the type checker
        raise AssertionError('proc.stdin')
    try:
        try:
            feed(proc)
        except BrokenPipeError:
            pass  # the target stopped reading: its exit status and stderr say why
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.stdout is not None:
        proc.stdout.close()
    rc = proc.wait()
    errfile.seek(0)
    err = errfile.read()
    errfile.close()
    return rc, err


def stream(cmd: list[bytes], source: SharedExport, progress: Callable[[int], None]) -> tuple[int, bytes]:
    """Runs ``cmd`` (an ssh command) with the export on its stdin; returns (rc, stderr)."""
    try:
        return _piped(cmd, lambda proc: source.send(proc.stdin.fileno(), progress), subprocess.DEVNULL)
    finally:
        source.close()


# the target's answer to "which of these do you lack" ends with this line
END_OF_ANSWER = "disnix-copy: end of answer"


def ask_script(nix_store: str, import_cmd: str) -> str:
    """The target's side of an asked copy, for ``/bin/sh -c``: read a count and that many
    store paths (``read`` takes one byte at a time from a pipe, so nothing of the stream
    after them is consumed), print those the store lacks and END_OF_ANSWER, then, when the
    next line is ``send``, run ``import_cmd`` on the rest of stdin. The paths were checked
    on the controller (check_store_paths) and go to nix-store as arguments, never as code."""
    return ("read n || exit 2; "
            # xargs keeps every nix-store command line under the system's limit
            'while [ "$n" -gt 0 ]; do IFS= read -r p || exit 2; printf \'%s\\n\' "$p"; n=$((n - 1)); done'
            f" | xargs {shlex.quote(nix_store)} --check-validity --print-invalid || exit 3; "
            f"echo {shlex.quote(END_OF_ANSWER)}; "
            'read go || exit 0; [ "$go" = send ] || exit 0; '
            f"exec /bin/sh -c {shlex.quote(import_cmd)}")


def ask_and_stream(cmd: list[bytes], paths: list[str], source_for: Callable[[list[str]], SharedExport],
                   progress: Callable[[int], None]) -> tuple[int, bytes, list[str] | None]:
    """Runs ``cmd`` (an ssh command running ask_script): asks the target which of ``paths``
    it lacks and streams the export of those (``source_for(missing)``) on the same
    connection, one ssh command as ``nix-copy-closure`` has. Returns (rc, stderr, the
    missing paths in the given order, or None when the target gave no answer)."""
    answer: dict[str, list[str]] = {}
    sources: list[SharedExport] = []

    def feed(proc: subprocess.Popen) -> None:
        proc.stdin.write(("%d\n" % len(paths) + "".join(p + "\n" for p in paths)).encode())
        proc.stdin.flush()
        asked, found = set(paths), set()
        for line in proc.stdout:
            text = line.decode(errors="replace").strip()
            if text == END_OF_ANSWER:
                answer["missing"] = [p for p in paths if p in found]
                break
            if text in asked:
                found.add(text)
        if answer.get("missing"):
            sources.append(source_for(answer["missing"]))
            proc.stdin.write(b"send\n")
            proc.stdin.flush()
            sources[0].send(proc.stdin.fileno(), progress)

    try:
        rc, err = _piped(cmd, feed, subprocess.PIPE)
    finally:
        for source in sources:
            source.close()
    return rc, err, answer.get("missing")
