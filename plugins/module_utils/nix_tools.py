# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding and running the Nix tools on a target (nix-store, nix-env, nix-instantiate).

Runs on targets: Python 3.8+, standard library only. Commands are argument lists, never
a shell.
"""

from __future__ import annotations

import json
import os
import subprocess

from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError, hostname

# Where Nix installs put their tools when they are not on the (often minimal) PATH of an
# ssh session: multi-user/single-user installers, NixOS, Debian's nix-bin.
EXTRA_BIN_DIRS = (
    "/nix/var/nix/profiles/default/bin",
    "~/.nix-profile/bin",
    "/run/current-system/sw/bin",
    "/usr/bin",
)

# Stay well below ARG_MAX (commonly 2 MiB including the environment).
MAX_ARGV_BYTES = 512 * 1024


def search_path() -> list[str]:
    """PATH, then the usual Nix locations (duplicates removed, order kept)."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    dirs += [os.path.expanduser(d) for d in EXTRA_BIN_DIRS]
    seen = set()
    result = []
    for directory in dirs:
        if directory not in seen:
            seen.add(directory)
            result.append(directory)
    return result


def which(name: str) -> str | None:
    for directory in search_path():
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_tool(name: str) -> str:
    """Absolute path of a Nix tool, or a TargetError telling how to get it."""
    path = which(name)
    if path is None:
        raise TargetError("%s not found on %s; run playbooks/bootstrap.yml" % (name, hostname()))
    return path


def tool_env(tmpdir: str | None = None) -> dict:
    """The environment for Nix tools: ours, with the Nix bin dirs on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(search_path())
    if tmpdir:
        env["TMPDIR"] = tmpdir
    return env


def run(argv: list[str], tmpdir: str | None = None, timeout: float | None = None) -> tuple[int, str, str]:
    """Run a command; (rc, stdout, stderr). A missing executable is a TargetError."""
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=tool_env(tmpdir), timeout=timeout, check=False)
    except OSError as exc:
        raise TargetError("cannot run %s on %s: %s" % (argv[0], hostname(), exc.strerror or exc))
    except subprocess.TimeoutExpired:
        raise TargetError("%s did not finish within %s s on %s" % (" ".join(argv[:3]), timeout, hostname()))
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def run_checked(argv: list[str], tmpdir: str | None = None, timeout: float | None = None) -> str:
    """Run a command that must succeed; its stdout."""
    rc, out, err = run(argv, tmpdir=tmpdir, timeout=timeout)
    if rc != 0:
        raise TargetError("%s failed on %s (exit %d): %s" % (" ".join(argv[:3]), hostname(), rc, (err or out).strip()),
                          rc=rc, stdout=out, stderr=err)
    return out


def store_dir() -> str:
    return os.environ.get("NIX_STORE_DIR", "/nix/store").rstrip("/")


def check_store_paths(paths: list[str]) -> None:
    """Reject anything that is not a top-level store path (nix-store would fail obscurely)."""
    prefix = store_dir() + "/"
    bad = [p for p in paths if not p.startswith(prefix) or "/" in p[len(prefix):].rstrip("/") or p == prefix]
    if bad:
        raise TargetError("not store paths (expected %s<hash>-<name>): %s" % (prefix, ", ".join(bad[:10])))


def _argv_chunks(paths: list[str]) -> list[list[str]]:
    """Split into as few argument lists as ARG_MAX allows (one for any ordinary closure)."""
    chunks: list[list[str]] = [[]]
    size = 0
    for path in paths:
        if chunks[-1] and size + len(path) + 1 > MAX_ARGV_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(path)
        size += len(path) + 1
    return chunks


def invalid_paths(paths: list[str], tmpdir: str | None = None) -> list[str]:
    """Those of ``paths`` not valid in the target's store (nix-store --print-invalid).

    Nix 2.8's nix-store has no --stdin, so the paths go on the command line: one call,
    unless the list exceeds MAX_ARGV_BYTES.
    """
    paths = [p.rstrip("/") for p in paths]
    if not paths:
        return []
    check_store_paths(paths)
    nix_store = find_tool("nix-store")
    invalid: list[str] = []
    for chunk in _argv_chunks(list(dict.fromkeys(paths))):
        out = run_checked([nix_store, "--check-validity", "--print-invalid"] + chunk, tmpdir=tmpdir)
        invalid.extend(line.strip() for line in out.splitlines() if line.strip())
    return invalid


def nix_version(tmpdir: str | None = None) -> str:
    """The version of the target's Nix, e.g. ``2.8.0``."""
    out = run_checked([find_tool("nix-store"), "--version"], tmpdir=tmpdir).strip()
    return out.split()[-1] if out else ""


def current_system(tmpdir: str | None = None) -> str:
    """The target's Nix system type, e.g. ``x86_64-linux``."""
    out = run_checked([find_tool("nix-instantiate"), "--eval", "--json", "-E", "builtins.currentSystem"], tmpdir=tmpdir)
    return json.loads(out)
