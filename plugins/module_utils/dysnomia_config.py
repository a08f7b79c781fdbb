# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading Dysnomia's configuration on a target: the container files of
/etc/dysnomia/containers (what ``dysnomia-containers --generate-expr`` reads), the machine's
Nix system and its processor count.

Dysnomia's files are bash assignments, one a line: ``key="value"``, ``key=value`` or an array
``key=("a" "b")``; ``#`` starts a comment. That is the format the ``disnix.deploy.dysnomia``
role writes.

Runs on targets: Python 3.8+, standard library only.
"""

from __future__ import annotations

import os
import re

from ansible_collections.disnix.deploy.plugins.module_utils import nix_tools
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError

_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
# container names as Dysnomia and the dysnomia role accept them
_CONTAINER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_NIX_CONF_SYSTEM = re.compile(r"^\s*system\s*=\s*(\S+)\s*$")


def parse_assignments(text: str) -> dict:
    """The assignments of a Dysnomia properties or container file: strings, and lists for arrays.

    Lines that are not assignments (comments, blank lines, anything else) are skipped; a value
    bash would read differently than plain quoting (an unbalanced quote) is taken as written.
    """
    result: dict = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _ASSIGNMENT.match(line)
        if not match:
            continue
        key, raw = match.groups()
        try:
            if raw.startswith("(") and ")" in raw:
                result[key] = shell_words(raw[1:raw.rindex(")")])
            else:
                result[key] = " ".join(shell_words(raw))
        except ValueError:
            result[key] = raw
    return result


def shell_words(text: str) -> list:
    r"""The words of a bash command line without expansions: '...' literally, "..." with
    backslash escaping \\ \" \$ \` only, a backslash outside quotes escaping any character;
    ``#`` at the start of a word starts a comment. An unclosed quote is a ValueError."""
    words = []
    word = None
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t":
            if word is not None:
                words.append(word)
                word = None
            i += 1
        elif ch == "#" and word is None:
            break
        elif ch == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise ValueError("unclosed '")
            word = (word or "") + text[i + 1:end]
            i = end + 1
        elif ch == '"':
            word = word or ""
            i += 1
            while True:
                if i >= n:
                    raise ValueError('unclosed "')
                if text[i] == '"':
                    i += 1
                    break
                if text[i] == "\\" and i + 1 < n and text[i + 1] in '\\"$`':
                    word += text[i + 1]
                    i += 2
                else:
                    word += text[i]
                    i += 1
        elif ch == "\\" and i + 1 < n:
            word = (word or "") + text[i + 1]
            i += 2
        else:
            word = (word or "") + ch
            i += 1
    if word is not None:
        words.append(word)
    return words


def read_containers(containers_dir: str) -> dict:
    """Container name -> its properties, from the files in ``containers_dir`` ({} without it).

    A ``type`` that equals the container's name is left out: the dysnomia role writes it into
    every container file that sets no type of its own, so the model says what the role was given.
    """
    if not os.path.isdir(containers_dir):
        return {}
    containers = {}
    for name in sorted(os.listdir(containers_dir)):
        path = os.path.join(containers_dir, name)
        if not _CONTAINER_NAME.match(name) or not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                properties = parse_assignments(handle.read())
        except OSError as exc:
            raise TargetError("cannot read the Dysnomia container file %s: %s" % (path, exc.strerror or exc))
        if properties.get("type") == name:
            del properties["type"]
        containers[name] = properties
    return containers


def nix_system(nix_conf_dir: str | None = None) -> tuple:
    """(system, source): what the target's Nix says its system is.

    ``nix-instantiate --eval -E builtins.currentSystem`` when Nix is there (it honours the
    ``system`` setting of nix.conf), else the ``system`` line of nix.conf, else (None, None).
    """
    if nix_tools.which("nix-instantiate"):
        try:
            return nix_tools.current_system(), "nix-instantiate"
        except (TargetError, ValueError):
            pass
    conf_dir = nix_conf_dir or os.environ.get("NIX_CONF_DIR") or "/etc/nix"
    try:
        with open(os.path.join(conf_dir, "nix.conf"), encoding="utf-8", errors="replace") as handle:
            for line in handle:
                match = _NIX_CONF_SYSTEM.match(line)
                if match:
                    return match.group(1), "nix.conf"
    except OSError:
        pass
    return None, None


def processor_count() -> int:
    """The processors this process may run on (as nproc counts them), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
