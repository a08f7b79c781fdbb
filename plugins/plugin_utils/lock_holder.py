# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judging a target lock from the controller: a lock names the controller and the pid of the
ansible-playbook that took it, so on that controller a vanished pid means a crashed run."""

from __future__ import annotations

from typing import Any, Callable

UNLOCK_HINT = "clear it with: ansible-playbook playbooks/unlock.yml -i <inventory>"


def lock_status(holder: dict[str, Any] | None, this_controller: str, path_exists: Callable[[str], bool]) -> str:
    """One line: whether the holder still runs, as far as this controller can tell."""
    if not holder:
        return "not locked"
    if "run_id" not in holder:
        return f"held by an unknown holder (not written by disnix.deploy); if no deployment runs, {UNLOCK_HINT}"
    pid, controller = holder.get("pid"), holder.get("controller")
    if controller == this_controller and isinstance(pid, int):
        if path_exists(f"/proc/{pid}"):
            return f"held by run {holder['run_id']}, still running here (pid {pid})"
        return f"STALE: run {holder['run_id']} took it from this controller as pid {pid}, which no longer runs; {UNLOCK_HINT}"
    return (f"held by run {holder['run_id']} from controller {controller or 'unknown'} (pid {pid}); "
            f"if that deployment no longer runs, the lock is stale: {UNLOCK_HINT}")
