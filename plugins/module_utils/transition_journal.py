# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The journal of the running transition: ``$TMPDIR/disnix-<profile>.journal``, JSON lines.

Every (de)activation step is written twice: ``begin`` before it runs and ``done`` or
``failed`` after; a profile switch is written the same way with what it replaced. Undoing a
step appends ``undone``. So a transition that failed, or a run that died halfway (controller
killed, target lost), leaves a record from which the target alone can be put back:
steps that are ``done`` (or ``begin`` without an end: their outcome is unknown) are undone,
newest first. Appends are single ``O_APPEND`` writes, so a torn line is at most the last.

Runs on targets: Python 3.8+, standard library only.
"""

from __future__ import annotations

import os
import threading

from ansible_collections.disnix.deploy.plugins.module_utils.activation_types import Operation
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import (
    append_json_line, check_profile_name, read_json_lines, remove_file, write_json_lines_atomically)

UNDO = {"activate": "deactivate", "deactivate": "activate"}
PROFILE_OP = "profile"
# a migration's import of a snapshot on the new target (undone: its generation, its snapshot)
RESTORE_OP = "restore"
# a change of a key file outside the store (service_keys.py), in the wave before any step
KEY_OP = "key"
KEYS_WAVE = -1
# the wave number of a profile switch: after every (de)activation wave
PROFILE_WAVE = 1 << 30
STEP_FIELDS = ("run_id", "wave", "op", "key", "service", "pkg", "type", "container", "properties")


def journal_path(profile: str, tmpdir: str) -> str:
    return os.path.join(tmpdir, "disnix-%s.journal" % check_profile_name(profile))


def _step_id(entry: dict) -> tuple:
    return (entry.get("run_id"), entry.get("wave"), entry.get("op"), entry.get("key"), entry.get("container"))


class Journal:
    """One profile's journal; appends are thread-safe."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def entries(self) -> list[dict]:
        return read_json_lines(self.path)

    def _append(self, entry: dict) -> dict:
        with self._lock:
            append_json_line(self.path, entry)
        return entry

    def begin(self, run_id: str, wave: int, operation: Operation) -> dict:
        """Note a step about to run; returns the entry for :meth:`end`."""
        return self._append({
            "run_id": run_id,
            "wave": wave,
            "op": operation.op,
            "key": operation.key,
            "service": operation.service,
            "pkg": operation.pkg,
            "type": operation.type,
            "container": operation.container_name,
            "properties": operation.properties or {},
            "state": "begin",
            "pid": os.getpid(),
        })

    def end(self, begun: dict, ok: bool) -> dict:
        return self._append(dict(begun, state="done" if ok else "failed"))

    def record(self, run_id: str, wave: int, operation: Operation) -> dict:
        """A completed step (begin and done at once)."""
        return self.end(self.begin(run_id, wave, operation), True)

    def profile_switch(self, run_id: str, previous: str | None, previous_generation: int | None,
                       path: str, state: str, generation: int | None = None) -> dict:
        return self._append({"run_id": run_id, "wave": PROFILE_WAVE, "op": PROFILE_OP, "key": "", "container": "",
                             "service": "", "from": previous, "from_generation": previous_generation,
                             "to": path, "generation": generation, "state": state, "pid": os.getpid()})

    def snapshot_import(self, run_id: str, wave: int, operation: Operation, statedir: str, name: str,
                        snapshot_added: bool, generation: int | None) -> dict:
        """A migration put snapshot ``name`` into the store before restoring it."""
        return self._append({"run_id": run_id, "wave": wave, "op": RESTORE_OP, "key": operation.key,
                             "service": operation.service, "pkg": operation.pkg, "type": operation.type,
                             "container": operation.container_name, "statedir": statedir, "snapshot": name,
                             "snapshot_added": snapshot_added, "generation": generation, "state": "done",
                             "pid": os.getpid()})

    def key_change(self, run_id: str, wave: int, dest: str, service: str, action: str, backup: str, state: str,
                   previous_record: dict | None = None) -> dict:
        """A change of a key file (service_keys.py): its path, never its value."""
        entry = {"run_id": run_id, "wave": wave, "op": KEY_OP, "key": dest, "container": "", "service": service,
                 "action": action, "backup": backup, "state": state, "pid": os.getpid()}
        if previous_record is not None:
            entry["previous_record"] = previous_record
        return self._append(entry)

    def end_key(self, begun: dict, ok: bool) -> dict:
        return self._append(dict(begun, state="done" if ok else "failed"))

    def pending_undo(self, run_id: str | None, wave: int | None = None) -> list[dict]:
        """Steps of ``run_id`` (every run when None) in ``wave`` (every wave when None) that
        still need undoing, newest first: the last word on each is ``done`` or ``begin``."""
        merged: dict[tuple, dict] = {}
        order: list[tuple] = []
        for entry in self.entries():
            if run_id is not None and entry.get("run_id") != run_id:
                continue
            if entry.get("op") not in UNDO and entry.get("op") not in (PROFILE_OP, RESTORE_OP, KEY_OP):
                continue
            if wave is not None and entry.get("wave") != wave:
                continue
            ident = _step_id(entry)
            if ident not in merged:
                order.append(ident)
                merged[ident] = dict(entry)
            else:
                # later entries bring the state (and the generation a switch made); what a
                # profile switch replaced stays the first attempt's
                merged[ident].update({k: v for k, v in entry.items() if k not in ("from", "from_generation")})
        pending = [merged[i] for i in order if merged[i].get("state") in ("done", "begin")]
        return list(reversed(pending))

    def mark_undone(self, entry: dict) -> None:
        self._append(dict(entry, state="undone", pid=os.getpid()))

    def run_ids(self) -> list[str]:
        seen: list[str] = []
        for entry in self.entries():
            run = entry.get("run_id")
            if isinstance(run, str) and run not in seen:
                seen.append(run)
        return seen

    def clear_run(self, run_id: str) -> bool:
        """Remove this run's entries (the file goes when nothing else remains)."""
        with self._lock:
            entries = self.entries()
            remaining = [e for e in entries if e.get("run_id") != run_id]
            if len(remaining) == len(entries):
                return False
            if remaining:
                write_json_lines_atomically(self.path, remaining)
            else:
                remove_file(self.path)
            return True


def undo_operation(entry: dict, timeout: float, engine: str = "builtin") -> Operation:
    """The operation that undoes a journaled (de)activation."""
    return Operation(op=UNDO[entry["op"]], pkg=entry.get("pkg", ""), type=entry.get("type", ""),
                     container=entry.get("container", ""), properties=entry.get("properties") or {},
                     service=entry.get("service", ""), key=entry.get("key", ""), timeout=timeout, engine=engine)
