# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real upstream Disnix and Dysnomia for integration tests.

Usage from a test module (``upstream`` is a session fixture in conftest.py)::

    def test_x(lab, upstream):            # lab: a conftest.Lab that is up
        upstream.install(lab, "test1", "test2")   # targets: tools on the ssh PATH
        proc = upstream.run(lab, "disnix-env", "-s", services, "-i", infra, "-d", dist,
                            "--coordinator-profile-path", str(tmp_path / "coordinator"))
        assert proc.returncode == 0, proc.stdout + proc.stderr

* ``upstream.prefix``: the install prefix built by ``tests/upstream/build`` (bin/, libexec/dysnomia,
  share/disnix ...), in a cache outside the repository (built once, about 3-5 min; reused after).
* ``upstream.env(**extra)``: the controller environment for upstream tools: their ``bin`` first on
  PATH, ``NIX_PATH=nixpkgs=tests/upstream/nixpkgs`` (the offline stand-in Nixpkgs that upstream's
  own expressions import); extra variables are added (e.g. ``DISNIX_PROFILE``).
* ``upstream.install(lab, *hosts)``: links every upstream program into ``/usr/local/bin`` of the
  lab hosts (their own overlay layer), so ``disnix-ssh-client`` finds ``disnix-run-activity`` and it
  finds ``dysnomia`` in a non-interactive ssh session. Hosts see the cache because a lab host's
  lower layer is the machine's ``/``. The hosts still need Nix (not ``--no-nix`` ones, unless Nix was
  installed there).
* ``upstream.run(lab, tool, *args, check=False, timeout=600, env=None)``: TOOL (e.g. ``disnix-env``,
  ``disnix-query``, ``disnix-reconstruct``, ``disnix-visualize``) in the lab's controller namespace with
  ``env()``; returns the CompletedProcess (check=True raises with the output).

Without the build packages or the tarballs the fixture skips the tests that use it, naming why.
Environment: ``DISNIX_UPSTREAM_SRC`` (tarballs), ``DISNIX_UPSTREAM_CACHE`` (cache root).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from dataclasses import dataclass

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(REPO, "tests", "upstream", "build")
NIXPKGS = os.path.join(REPO, "tests", "upstream", "nixpkgs")
TOOLS = ("dysnomia", "disnix-run-activity", "disnix-env", "disnix-ssh-client", "disnix-query",
         "disnix-reconstruct", "disnix-visualize")


class UpstreamUnavailable(Exception):
    """tests/upstream/build could not provide the tools (the message says why)."""


def build(timeout: int = 1800) -> tuple[str, float]:
    """Runs tests/upstream/build; returns (prefix, seconds this call took)."""
    start = time.monotonic()
    proc = subprocess.run([BUILD], capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise UpstreamUnavailable(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else
                                  f"tests/upstream/build exited {proc.returncode}")
    return proc.stdout.strip().splitlines()[-1], time.monotonic() - start


@dataclass
class Upstream:
    """A built upstream toolset (see the module docstring)."""

    prefix: str

    @property
    def bin(self) -> str:
        return os.path.join(self.prefix, "bin")

    def env(self, **extra: str) -> dict[str, str]:
        return {"PATH": self.bin + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
                "NIX_PATH": "nixpkgs=" + NIXPKGS, **extra}

    def install(self, lab, *hosts: str) -> None:
        script = f"mkdir -p /usr/local/bin && ln -sfn {shlex.quote(self.bin)}/* /usr/local/bin/"
        for host in hosts:
            lab.lab("exec", host, "--", "sh", "-c", script)

    def run(self, lab, tool: str, *args: str, check: bool = False, timeout: int = 600,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        variables = dict(self.env(), **(env or {}))
        cmd = ["env", *(f"{k}={v}" for k, v in variables.items()), tool, *args]
        return lab.run(*cmd, check=check, timeout=timeout)
