# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the controller knows about runs: which committed (``<coordinator profile>.commits``,
one JSON line per committed run, read by recovery to roll a target forward instead of back)
and whether a run's controller process still lives."""

from __future__ import annotations

import json
import os
import time


def commits_path(profile_path: str) -> str:
    return profile_path + ".commits"


def committed_runs(profile_path: str) -> list[str]:
    try:
        fd = os.open(commits_path(profile_path), os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return []
    with os.fdopen(fd, encoding="utf-8") as f:
        runs = []
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a torn last line
            if isinstance(entry, dict) and isinstance(entry.get("run_id"), str):
                runs.append(entry["run_id"])
        return runs


def record_commit(profile_path: str, run_id: str, generation: int | None) -> None:
    os.makedirs(os.path.dirname(profile_path), exist_ok=True)
    fd = os.open(commits_path(profile_path), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, (json.dumps({"run_id": run_id, "generation": generation, "at": int(time.time())}) + "\n").encode())
    finally:
        os.close(fd)


def process_start(pid: int) -> str | None:
    """The start time of a process (clock ticks since boot), which tells a reused pid apart."""
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as f:
            stat = f.read()
    except OSError:
        return None
    # the command name may hold spaces and parentheses: fields count from the last ')'
    return stat[stat.rindex(")") + 2:].split()[19]


def process_alive(pid: object, start: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    now = process_start(pid)
    if now is None:
        return False
    return start in (None, "") or str(start) == now
