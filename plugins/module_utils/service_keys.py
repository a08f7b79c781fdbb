# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets outside the store (``disnix_keys``) on a target: one profile's key files.

A key is a regular file at its ``dest`` whose owner, group and mode are set before a byte of
the value is written (a private temporary file in the same directory, renamed over the
destination). What a profile wrote is recorded in ``RECORD_DIR/<profile>.json`` (dest ->
service, never a value), so the keys of services that leave the target are removed.

Every change is journaled (op ``key``, wave ``KEYS_WAVE``) and the file it replaces or
removes stays as a hard link next to it (``.<name>.disnix-<run>.prev``) until the run ends:
rolling back, or recovering a dead run, puts it back; the release after a commit deletes it.
Values never enter the journal, the record, a result or a message.

Runs on targets: Python 3.8+, standard library only.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import stat

from ansible_collections.disnix.deploy.plugins.module_utils.target_common import (
    TargetError, check_profile_name, hostname, remove_file)
from ansible_collections.disnix.deploy.plugins.module_utils.transition_journal import KEY_OP, KEYS_WAVE

RECORD_DIR = "/var/lib/disnix/keys"


KEY_NAME = re.compile(r"^[A-Za-z0-9_.@+-]+$")
KEYS_DIR = "/run/keys/disnix"
KEY_FIELDS = ("name", "value", "owner", "group", "mode", "dest")


def _text(value):
    """A key's value as text: a string, or an Ansible Vault value the controller decrypts."""
    if type(value).__name__ in ("AnsibleVaultEncryptedUnicode", "EncryptedString"):
        return str(value)
    return value


def secret_values(value) -> set:
    """Every key value in ``disnix_keys`` as given (even a malformed one), for a module to
    mask in whatever it returns, before it looks at anything else."""
    found = set()
    if isinstance(value, dict):
        for keys in value.values():
            for key in keys if isinstance(keys, list) else []:
                text = _text(key.get("value")) if isinstance(key, dict) else None
                if isinstance(text, str) and text:
                    found.add(text)
    return found


def normalize(value, services=None):
    """``disnix_keys`` validated: ``{service: [{service, name, value, owner, group, mode, dest}]}``
    (``services``: the services model's names, when known).

    ``dest`` defaults to ``/run/keys/disnix/<service>/<name>`` (tmpfs on most systems, never
    the store); ``mode`` is an octal string, default ``0600``. Errors never quote a value."""
    if value is None or value == {}:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"disnix_keys must be a dict of service name -> list of keys, got a {type(value).__name__}")
    out = {}  # type: dict
    seen = set()  # type: set
    for service, keys in sorted(value.items()):
        if services is not None and service not in services:
            raise ValueError(f"disnix_keys: {service!r} is not a service of the services model")
        if not isinstance(keys, list):
            raise ValueError(f"disnix_keys.{service} must be a list of keys")
        for i, key in enumerate(keys):
            place = f"disnix_keys.{service}[{i}]"
            if not isinstance(key, dict):
                raise ValueError(f"{place} must be a dict with name and value")
            unknown = sorted(set(key) - set(KEY_FIELDS))
            if unknown:
                raise ValueError(f"{place} has unknown field(s) {', '.join(unknown)} (known: {', '.join(KEY_FIELDS)})")
            name = key.get("name")
            if not isinstance(name, str) or not KEY_NAME.match(name) or name in (".", ".."):
                raise ValueError(f"{place}: name must be a file name (letters, digits, _ . @ + -), got {name!r}")
            text = _text(key.get("value"))
            if not isinstance(text, str):
                raise ValueError(f"{place} ({name}): value must be a string (from a variable or Ansible Vault)")
            dest = key.get("dest") or f"{KEYS_DIR}/{service}/{name}"
            if not isinstance(dest, str) or not dest.startswith("/") or "/../" in dest + "/" or (dest + "/").startswith("/nix/"):
                raise ValueError(f"{place} ({name}): dest must be an absolute path outside /nix, got {dest!r}")
            if dest in seen:
                raise ValueError(f"{place} ({name}): dest {dest} is used twice")
            seen.add(dest)
            mode = str(key.get("mode", "0600"))
            if not re.match(r"^0?[0-7]{3}$", mode):
                raise ValueError(f"{place} ({name}): mode must be an octal string such as '0600', got {mode!r}")
            for field in ("owner", "group"):
                if key.get(field) is not None and (not isinstance(key[field], str) or not key[field] or key[field].startswith("-")):
                    raise ValueError(f"{place} ({name}): {field} must be a user or group name")
            out.setdefault(service, []).append({"service": service, "name": name, "value": text, "dest": dest,
                                                "mode": mode.rjust(4, "0"), "owner": key.get("owner"), "group": key.get("group")})
    return out


def record_path(profile: str, record_dir: str = RECORD_DIR) -> str:
    return os.path.join(record_dir, "%s.json" % check_profile_name(profile))


def read_record(profile: str, record_dir: str = RECORD_DIR) -> dict:
    """dest -> service of the keys this profile wrote (empty when none)."""
    try:
        with open(record_path(profile, record_dir), encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise TargetError("cannot read the key record %s on %s: %s" % (record_path(profile, record_dir), hostname(), exc))
    return {str(k): str(v) for k, v in (data.get("keys") or {}).items()} if isinstance(data, dict) else {}


def _ids(key: dict) -> tuple:
    where = "key %s of service %s" % (key.get("name"), key.get("service"))
    try:
        uid = pwd.getpwnam(key["owner"]).pw_uid if key.get("owner") else os.geteuid()
    except KeyError:
        raise TargetError("%s: no user %s on %s" % (where, key["owner"], hostname())) from None
    try:
        gid = grp.getgrnam(key["group"]).gr_gid if key.get("group") else (
            pwd.getpwuid(uid).pw_gid if key.get("owner") else os.getegid())
    except KeyError:
        raise TargetError("%s: no group %s on %s" % (where, key["group"], hostname())) from None
    return uid, gid


def _matches(dest: str, data: bytes, mode: int, uid: int, gid: int) -> bool:
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode) or stat.S_IMODE(st.st_mode) != mode or (st.st_uid, st.st_gid) != (uid, gid) \
            or st.st_size != len(data):
        return False
    with os.fdopen(os.open(dest, os.O_RDONLY | os.O_NOFOLLOW), "rb") as handle:
        return handle.read() == data


def _check_dest(dest: str, what: str) -> None:
    """A key replaces only a regular file (never a directory, a device or a symlink's target)."""
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise TargetError("%s: %s on %s exists and is not a regular file; not replacing it" % (what, dest, hostname()))


def plan(profile: str, keys: list, record_dir: str = RECORD_DIR) -> list:
    """What making the target's keys of ``profile`` equal to ``keys`` takes: entries
    ``{service, name, dest, action}`` with action create, replace or remove."""
    record = read_record(profile, record_dir)
    out = []
    wanted = set()
    for key in keys:
        dest = key["dest"]
        wanted.add(dest)
        what = "key %s of service %s" % (key["name"], key["service"])
        _check_dest(dest, what)
        uid, gid = _ids(key)
        if _matches(dest, key["value"].encode("utf-8"), int(key["mode"], 8), uid, gid):
            continue
        out.append({"service": key["service"], "name": key["name"], "dest": dest,
                    "action": "replace" if os.path.lexists(dest) else "create"})
    for dest, service in sorted(record.items()):
        if dest not in wanted:
            out.append({"service": service, "name": os.path.basename(dest), "dest": dest,
                        "action": "remove" if os.path.lexists(dest) else "forget"})
    return out


def backup_path(dest: str, run_id: str) -> str:
    return os.path.join(os.path.dirname(dest), ".%s.disnix-%s.prev" % (os.path.basename(dest), run_id[:16]))


def _write(dest: str, data: bytes, mode: int, uid: int, gid: int) -> None:
    """Owner and mode first, then the bytes, then one rename: no reader sees a partial key
    or a key with looser permissions."""
    directory = os.path.dirname(dest)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o711)
    tmp = os.path.join(directory, ".%s.disnix-%d.tmp" % (os.path.basename(dest), os.getpid()))
    remove_file(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        remove_file(tmp)
        raise
    os.close(fd)
    try:
        os.rename(tmp, dest)
    except OSError:
        remove_file(tmp)
        raise


def _write_record(path: str, record: dict) -> None:
    if not record:
        remove_file(path)
        return
    os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
    _write(path, json.dumps({"keys": record}, sort_keys=True).encode("utf-8"), 0o600, os.geteuid(), os.getegid())


def apply(journal, run_id: str, profile: str, keys: list, record_dir: str = RECORD_DIR,
          owner_check=None) -> dict:
    """Make the target's keys of ``profile`` equal to ``keys``, journaling each change; the
    module result (names and paths only)."""
    steps = plan(profile, keys, record_dir)
    by_dest = {k["dest"]: k for k in keys}
    record = read_record(profile, record_dir)
    new_record = {k["dest"]: k["service"] for k in keys}
    done = []
    for step in steps:
        if owner_check is not None:
            owner_check()
        dest = step["dest"]
        backup = backup_path(dest, run_id)
        entry = journal.key_change(run_id, KEYS_WAVE, dest, step["service"], step["action"], backup, "begin")
        try:
            if step["action"] in ("replace", "remove"):
                remove_file(backup)
                if step["action"] == "replace":
                    os.link(dest, backup, follow_symlinks=False)
                else:
                    os.rename(dest, backup)
            if step["action"] in ("create", "replace"):
                key = by_dest[dest]
                uid, gid = _ids(key)
                _write(dest, key["value"].encode("utf-8"), int(key["mode"], 8), uid, gid)
        except OSError as exc:
            journal.end_key(entry, False)
            raise TargetError("cannot %s key %s of service %s at %s on %s: %s (the %d key change(s) before it are "
                              "journaled for rollback)" % (step["action"], step["name"], step["service"], dest, hostname(),
                                                           exc.strerror or exc, len(done)),
                              changed=bool(done), keys=done)
        journal.end_key(entry, True)
        done.append(step)
    if new_record != record:
        journal.key_change(run_id, KEYS_WAVE, record_path(profile, record_dir), "", "record", "", "done",
                           previous_record=record)
        _write_record(record_path(profile, record_dir), new_record)
    return {"changed": bool(done) or new_record != record, "keys": done,
            "msg": "%d key change(s) for profile %s on %s" % (len(done), profile, hostname())}


def undo(entry: dict) -> dict:
    """Put back what one journaled key change replaced; a summary like a rolled-back step's."""
    action, dest, backup = entry.get("action"), entry.get("key") or "", entry.get("backup") or ""
    ok, output = True, "%s %s undone" % (action, dest)
    try:
        if action == "record":
            _write_record(dest, entry.get("previous_record") or {})
        elif action in ("replace", "remove"):
            # no backup: the change never got past its first step, the old file is in place
            if os.path.lexists(backup):
                os.rename(backup, dest)
        elif action == "create":
            remove_file(dest)
    except OSError as exc:
        ok, output = False, "cannot undo the %s of %s: %s" % (action, dest, exc.strerror or exc)
    return {"service": entry.get("service") or "(keys)", "key": "", "op": "restore key", "type": "key", "container": "",
            "pkg": dest, "ok": ok, "changed": ok, "output": output, "details": {}}


def drop_backups(entries: list) -> None:
    """After a commit: the files the run's key changes replaced are no longer needed."""
    for entry in entries:
        if entry.get("op") == KEY_OP and entry.get("backup") and entry.get("state") != "undone":
            remove_file(entry["backup"])
