# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evaluation of model files with the controller's Nix (``nix-instantiate``).

Arguments always go to Nix as an argument list (never through a shell); the model path and
attribute paths are passed with ``--argstr``, so no value is ever spliced into Nix code.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from typing import Any

from ansible_collections.disnix.deploy.plugins.plugin_utils.model_error import ModelError

DEFAULT_TIMEOUT = 120.0
_FUNCTION_MARKER = "disnix.deploy: the model is a function"

# The model as Disnix uses it: imported as is, so a function is an error (nix-instantiate
# would otherwise call a function whose arguments all have defaults).
_EVALUATE_EXPR = (
    "{ file }: let value = import file; in "
    f'if builtins.isFunction value then throw "{_FUNCTION_MARKER}" else value'
)
# Walks attrPath (a JSON list of names and list indices) and reports unsafeGetAttrPos of the
# last name, or null when the path does not exist or ends at a list element.
_POSITION_EXPR = """{ file, attrPath }:
let
  value = import file;
  step = acc: key:
    if acc == null then null
    else if builtins.isInt key then
      (if builtins.isList acc.v && key >= 0 && key < builtins.length acc.v
       then { v = builtins.elemAt acc.v key; pos = null; } else null)
    else if builtins.isAttrs acc.v && builtins.hasAttr key acc.v
    then { v = builtins.getAttr key acc.v; pos = builtins.unsafeGetAttrPos key acc.v; }
    else null;
  result = builtins.foldl' step { v = value; pos = null; } (builtins.fromJSON attrPath);
in if result == null then null else result.pos
"""

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# 2.4+ format: a line "at /path/file.nix:12:5:" below the message
_AT_LINE_RE = re.compile(r"^\s*at (?P<file>.+?):(?P<line>\d+):(?P<col>\d+):?\s*$", re.MULTILINE)
# older format: "error: <message>, at /path/file.nix:12:5"
_AT_SUFFIX_RE = re.compile(r",? at (?P<file>/[^\s]*?):(?P<line>\d+):(?P<col>\d+)\s*$")

_MACHINES = {
    "x86_64": "x86_64", "amd64": "x86_64", "x64": "x86_64",
    "i386": "i686", "i486": "i686", "i586": "i686", "i686": "i686", "x86": "i686",
    "aarch64": "aarch64", "arm64": "aarch64", "armv7l": "armv7l", "armv6l": "armv6l", "armv5tel": "armv5tel",
    "riscv64": "riscv64", "ppc64le": "powerpc64le", "ppc64": "powerpc64", "s390x": "s390x", "mips64": "mips64el",
}
_KERNELS = (("linux", "linux"), ("darwin", "darwin"), ("cygwin", "cygwin"), ("freebsd", "freebsd"),
            ("openbsd", "openbsd"), ("netbsd", "netbsd"), ("sunos", "solaris"))


class NixNotFoundError(ModelError):
    """nix-instantiate is needed but not found."""


def find_nix_instantiate(explicit: str | None = None) -> str | None:
    """The nix-instantiate to use: `explicit` (a path or a command name) or the one on PATH."""
    if explicit:
        if os.sep in explicit or (os.altsep and os.altsep in explicit):
            return explicit if os.path.isfile(explicit) and os.access(explicit, os.X_OK) else None
        return shutil.which(explicit)
    return shutil.which("nix-instantiate")


def require_nix_instantiate(explicit: str | None = None, path: str | None = None) -> str:
    """Like find_nix_instantiate, but a missing binary is an error (naming the model `path`)."""
    found = find_nix_instantiate(explicit)
    if found is None:
        where = f"at {explicit}" if explicit else "on PATH"
        raise NixNotFoundError(f"nix-instantiate is needed to evaluate this model but was not found {where}", path)
    return found


def _run(binary: str, args: list[str], timeout: float, path: str | None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ModelError(f"nix-instantiate did not finish within {timeout:g} seconds", path) from None
    except OSError as exc:
        raise NixNotFoundError(f"cannot run {binary}: {exc.strerror or exc}", path) from None


def translate_error(stderr: str, path: str | None = None) -> ModelError:
    """Nix's error output as a ModelError: the message, and the file, line and column of the
    first source location (reported with `path` as given when it is the model file)."""
    text = _ANSI_RE.sub("", stderr)
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("error:")), None)
    if start is None:
        message = " ".join(line.strip() for line in lines if line.strip()) or "nix-instantiate failed without a message"
        return ModelError(message, path)
    body = [lines[start][len("error:"):].strip()]
    for line in lines[start + 1:]:
        if not line.strip() or _AT_LINE_RE.match(line) or line.lstrip().startswith(("…", "(use '--show-trace'")):
            break
        body.append(line.strip())
    message = " ".join(part for part in body if part)
    file = line_no = column = None
    suffix = _AT_SUFFIX_RE.search(message)
    if suffix:
        message = message[:suffix.start()]
        file, line_no, column = suffix.group("file"), int(suffix.group("line")), int(suffix.group("col"))
    else:
        # the first location in a file (not in the -E expression, shown as «string»)
        for at in _AT_LINE_RE.finditer("\n".join(lines[start + 1:])):
            if at.group("file").startswith("/"):
                file, line_no, column = at.group("file"), int(at.group("line")), int(at.group("col"))
                break
    if _FUNCTION_MARKER in message:
        return ModelError("the model is a function, but Disnix uses an infrastructure model as is: "
                          "it must evaluate to an attribute set of targets", path)
    if file is not None and path is not None and os.path.abspath(path) == os.path.abspath(file):
        file = path
    return ModelError(message, file or path, line_no if file else None, column if file else None)


def evaluate_file(path: str, *, nix_instantiate: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """The data of a Nix file: ``nix-instantiate --eval --strict --json``. The file must not
    evaluate to a function."""
    binary = require_nix_instantiate(nix_instantiate, path)
    if not os.path.isfile(path):
        raise ModelError("cannot read the model: no such file", path)
    args = ["--eval", "--strict", "--json", "-E", _EVALUATE_EXPR, "--argstr", "file", os.path.abspath(path)]
    proc = _run(binary, args, timeout, path)
    if proc.returncode != 0:
        raise translate_error(proc.stderr, path)
    try:
        return json.loads(proc.stdout)
    except ValueError as exc:
        raise ModelError(f"nix-instantiate printed output that is not JSON: {exc}", path) from None


def attr_position(path: str, attr_path: tuple, *, nix_instantiate: str | None = None,
                  timeout: float = DEFAULT_TIMEOUT) -> tuple[int, int] | None:
    """(line, column) of an attribute as builtins.unsafeGetAttrPos reports it, or None when it
    cannot be found (meant for error messages: it never raises)."""
    binary = find_nix_instantiate(nix_instantiate)
    if binary is None or not attr_path:
        return None
    args = ["--eval", "--strict", "--json", "-E", _POSITION_EXPR,
            "--argstr", "file", os.path.abspath(path), "--argstr", "attrPath", json.dumps(list(attr_path))]
    try:
        proc = _run(binary, args, timeout, path)
        position = json.loads(proc.stdout) if proc.returncode == 0 else None
    except (ModelError, ValueError):
        return None
    if not isinstance(position, dict):
        return None
    return int(position["line"]), int(position["column"])


def system_from_platform(machine: str | None = None, kernel: str | None = None) -> str:
    """A Nix system name (x86_64-linux, aarch64-darwin, ...) from Python's platform data."""
    machine = (machine if machine is not None else platform.machine()).lower()
    kernel = (kernel if kernel is not None else sys.platform).lower()
    cpu = _MACHINES.get(machine, machine or "unknown")
    os_name = next((name for prefix, name in _KERNELS if kernel.startswith(prefix)), kernel or "unknown")
    return f"{cpu}-{os_name}"


@functools.lru_cache(maxsize=8)
def _nix_current_system(binary: str, timeout: float) -> str | None:
    try:
        proc = _run(binary, ["--eval", "--json", "-E", "builtins.currentSystem"], timeout, None)
        value = json.loads(proc.stdout) if proc.returncode == 0 else None
    except (ModelError, ValueError):
        return None
    return value if isinstance(value, str) and value else None


def current_system(*, nix_instantiate: str | None = None, use_nix: bool = True, timeout: float = DEFAULT_TIMEOUT) -> str:
    """The controller's system as Disnix's default for targets: builtins.currentSystem when
    Nix is available (and use_nix), else derived from the platform."""
    if use_nix:
        binary = find_nix_instantiate(nix_instantiate)
        if binary is not None:
            found = _nix_current_system(binary, timeout)
            if found:
                return found
    return system_from_platform()
