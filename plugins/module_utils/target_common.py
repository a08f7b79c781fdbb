# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pieces every target-side module shares: the argument spec of the options documented in
the ``disnix.deploy.target`` doc fragment, the error type, and small file helpers.

Runs on targets: Python 3.8+, standard library only.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import socket
import stat

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
        spec["activation"] = dict(type="str", default="builtin", choices=["builtin", "dysnomia"])
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


# Files the collection keeps on targets (lock, journal, activation log) often live in a
# shared, world-writable directory (/tmp). Another user may plant a symbolic link, a FIFO or
# a hard link there, so these files are never opened through a symbolic link (O_NOFOLLOW),
# only regular files are used, and whatever is refused is named, never its content shown.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
PRIVATE_MODE = 0o600
MAX_RAW = 1000  # characters of a foreign (non-JSON) file shown back, e.g. a lock Disnix wrote


def _open_error(path: str, exc: OSError, doing: str) -> TargetError:
    if exc.errno == errno.ELOOP or (exc.errno == errno.EMLINK and _NOFOLLOW):
        return TargetError("refusing to %s %s: it is a symbolic link (not followed; remove it if nobody should have put it "
                           "there)" % (doing, path))
    return TargetError("cannot %s %s: %s" % (doing, path, exc.strerror or exc))


def _trusted_owner(uid: int) -> bool:
    return uid in (os.geteuid(), 0)


def check_open_file(fd: int, path: str, doing: str, owner_only: bool) -> os.stat_result:
    """Raise unless ``fd`` is a regular file with one link (and, with ``owner_only``, owned by
    this user or root)."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise TargetError("refusing to %s %s: it is not a regular file" % (doing, path))
    if info.st_nlink > 1:
        raise TargetError("refusing to %s %s: it is a hard link to another file (%d links)" % (doing, path, info.st_nlink))
    if owner_only and not _trusted_owner(info.st_uid):
        raise TargetError("refusing to %s %s: it belongs to uid %d, not to this user (uid %d) or root"
                          % (doing, path, info.st_uid, os.geteuid()))
    return info


def open_nofollow(path: str, flags: int, mode: int = PRIVATE_MODE, doing: str = "open",
                  owner_only: bool = False) -> int:
    """``os.open`` that never follows a symbolic link at ``path`` and only opens regular
    files; FileNotFoundError and FileExistsError pass through, other failures are TargetError."""
    try:
        fd = os.open(path, flags | _NOFOLLOW | _CLOEXEC | _NONBLOCK, mode)
    except (FileNotFoundError, FileExistsError):
        raise
    except OSError as exc:
        raise _open_error(path, exc, doing)
    try:
        check_open_file(fd, path, doing, owner_only)
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_text_file(path: str, owner_only: bool = False) -> str | None:
    """The text of ``path`` (None when it does not exist), read without following symbolic links."""
    try:
        fd = open_nofollow(path, os.O_RDONLY, doing="read", owner_only=owner_only)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read()
        except OSError as exc:
            raise TargetError("cannot read %s: %s" % (path, exc.strerror or exc))
    return data.decode("utf-8", "replace")


def create_exclusive(path: str, data: bytes, mode: int = PRIVATE_MODE) -> None:
    """Create ``path`` with ``data``; FileExistsError when it exists (or is any kind of link)."""
    fd = open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode, doing="create")
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def read_json_file(path: str) -> tuple[bool, object]:
    """(exists, parsed JSON) of ``path``; unparsable content comes back as ``{"raw": text}``
    (at most MAX_RAW characters). A symbolic link or non-regular file is refused."""
    text = read_text_file(path)
    if text is None:
        return False, None
    try:
        return True, json.loads(text)
    except ValueError:
        return True, {"raw": text[:MAX_RAW]}


def read_json_lines(path: str) -> list[dict]:
    """Entries of a JSON-lines file (missing file = no entries; a torn last line is skipped).
    The file must be this user's (or root's): its entries are acted upon."""
    text = read_text_file(path, owner_only=True)
    if text is None:
        return []
    entries = []
    for line in text.splitlines():
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
    """Append one JSON line with a single O_APPEND write (concurrent writers stay line-whole).
    A new file gets mode 0600; an existing one must be this user's and is made 0600."""
    data = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
    fd = open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_MODE, doing="write", owner_only=True)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            os.fchmod(fd, PRIVATE_MODE)
        os.write(fd, data)
    except OSError as exc:
        raise TargetError("cannot write %s: %s" % (path, exc.strerror or exc))
    finally:
        os.close(fd)


def write_file_atomically(path: str, data: bytes, mode: int = PRIVATE_MODE) -> None:
    """Replace ``path`` with ``data``: written to a new file (``mode``, O_EXCL, O_NOFOLLOW, a
    random name) in the same directory, then renamed over ``path`` (a rename replaces a
    symbolic link, it never writes through one)."""
    directory, name = os.path.split(path)
    for _attempt in range(100):
        tmp = os.path.join(directory, ".%s.%s.tmp" % (name, secrets.token_hex(8)))
        try:
            create_exclusive(tmp, data, mode)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            remove_file(tmp)
            raise TargetError("cannot write %s: %s" % (tmp, exc.strerror or exc))
    else:
        raise TargetError("cannot create a temporary file next to %s" % path)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        remove_file(tmp)
        raise TargetError("cannot replace %s: %s" % (path, exc.strerror or exc))


def write_json_lines_atomically(path: str, entries: list[dict]) -> None:
    """Replace ``path`` with ``entries`` (removing it when empty), mode 0600, via
    write_file_atomically."""
    if not entries:
        remove_file(path)
        return
    write_file_atomically(path, "".join(json.dumps(entry, sort_keys=True) + "\n" for entry in entries).encode("utf-8"))


def remove_file(path: str) -> bool:
    """Remove ``path`` (a symbolic link is removed itself, never what it points to); False if
    it did not exist."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise TargetError("cannot remove %s: %s" % (path, exc.strerror or exc))
    return True
