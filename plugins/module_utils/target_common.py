# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pieces every target-side module shares: the argument spec of the options documented in
the ``disnix.deploy.target`` doc fragment, the error type, and small file helpers.

Runs on targets: Python 3.8+, standard library only.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile

DEFAULT_PROFILE = "default"
DEFAULT_LOG_DIR = "/var/log/disnix"

# A profile name becomes part of file names (profile link, lock file, journal).
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9+_.-]+$")


class TargetError(Exception):
    """A failure to report to the controller; ``details`` become extra result keys."""

    def __init__(self, msg: str, **details) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details


def target_argument_spec(log: bool = False, run: bool = False, **options) -> dict:
    """The argument spec of the shared options plus the module's own ``options``.

    Matches the doc fragment: ``disnix.deploy.target`` (always), ``.log`` (``log``) and
    ``.run`` (``run``).
    """
    spec = dict(
        profile=dict(type="str", default=DEFAULT_PROFILE),
        tmpdir=dict(type="path"),
    )
    if log:
        spec["log_dir"] = dict(type="path", default=DEFAULT_LOG_DIR)
    if run:
        spec["run_id"] = dict(type="str", required=True)
    spec.update(options)
    return spec


def check_profile_name(profile: str) -> str:
    """Return ``profile`` if it is usable as a file name component, else raise."""
    if not _PROFILE_NAME.match(profile or "") or profile in (".", ".."):
        raise TargetError("invalid profile name %r: use letters, digits and + _ . -" % (profile,))
    return profile


def resolve_tmpdir(tmpdir: str | None) -> str:
    """The target's temporary directory: the option, else ``$TMPDIR``, else /tmp (as Disnix)."""
    return tmpdir or os.environ.get("TMPDIR") or "/tmp"


def hostname() -> str:
    return socket.gethostname()


def read_json_file(path: str) -> tuple[bool, object]:
    """(exists, parsed JSON) of ``path``; unparsable content comes back as ``{"raw": text}``."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return False, None
    except OSError as exc:
        raise TargetError("cannot read %s: %s" % (path, exc.strerror or exc))
    try:
        return True, json.loads(text)
    except ValueError:
        return True, {"raw": text}


def read_json_lines(path: str) -> list[dict]:
    """Entries of a JSON-lines file (missing file = no entries; a torn last line is skipped)."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise TargetError("cannot read %s: %s" % (path, exc.strerror or exc))
    entries = []
    for line in lines:
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # an interrupted write leaves a partial line; nothing to undo for it
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def append_json_line(path: str, entry: dict) -> None:
    """Append one JSON line with a single O_APPEND write (concurrent writers stay line-whole)."""
    data = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise TargetError("cannot write %s: %s" % (path, exc.strerror or exc))
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def write_json_lines_atomically(path: str, entries: list[dict]) -> None:
    """Replace ``path`` with ``entries`` (removing it when empty), via rename."""
    if not entries:
        remove_file(path)
        return
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".disnix-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for entry in entries:
                handle.write(json.dumps(entry, sort_keys=True) + "\n")
        os.replace(tmp, path)
    except BaseException:
        remove_file(tmp)
        raise


def remove_file(path: str) -> bool:
    """Remove ``path``; False if it did not exist."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise TargetError("cannot remove %s: %s" % (path, exc.strerror or exc))
    return True
