# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The journal of the running transition: ``$TMPDIR/disnix-<profile>.journal``, one JSON line
per completed (de)activation step, so a failed transition can be undone step by step, and a
run that died halfway leaves a record of what it did.

Runs on targets: Python 3.8+, standard library only.
"""

from __future__ import annotations

import os
import threading

from ansible_collections.disnix.deploy.plugins.module_utils.activation_types import Operation
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import (
    append_json_line, check_profile_name, read_json_lines, remove_file, write_json_lines_atomically)

UNDO = {"activate": "deactivate", "deactivate": "activate"}


def journal_path(profile: str, tmpdir: str) -> str:
    return os.path.join(tmpdir, "disnix-%s.journal" % check_profile_name(profile))


class Journal:
    """One profile's journal; appends are thread-safe."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def entries(self) -> list[dict]:
        return read_json_lines(self.path)

    def record(self, run_id: str, wave: int, operation: Operation) -> dict:
        entry = {
            "run_id": run_id,
            "wave": wave,
            "op": operation.op,
            "key": operation.key,
            "service": operation.service,
            "pkg": operation.pkg,
            "type": operation.type,
            "container": operation.container_name,
            "properties": operation.properties or {},
        }
        with self._lock:
            append_json_line(self.path, entry)
        return entry

    def pending_undo(self, run_id: str, wave: int | None) -> list[dict]:
        """This run's entries of ``wave`` (every wave when None), newest first."""
        return [e for e in reversed(self.entries())
                if e.get("run_id") == run_id and e.get("op") in UNDO and (wave is None or e.get("wave") == wave)]

    def remove(self, undone: list[dict]) -> None:
        """Drop entries that have been undone (matched by content, one per undone entry)."""
        with self._lock:
            remaining = self.entries()
            for entry in undone:
                if entry in remaining:
                    # the newest equal entry is the one undone first
                    del remaining[len(remaining) - 1 - remaining[::-1].index(entry)]
            write_json_lines_atomically(self.path, remaining)

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


def undo_operation(entry: dict, timeout: float) -> Operation:
    """The operation that undoes a journal entry."""
    return Operation(op=UNDO[entry["op"]], pkg=entry.get("pkg", ""), type=entry.get("type", ""),
                     container=entry.get("container", ""), properties=entry.get("properties") or {},
                     service=entry.get("service", ""), key=entry.get("key", ""), timeout=timeout)
