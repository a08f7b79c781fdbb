# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Telling a stale target lock from a held one."""

from __future__ import annotations

import os

from ansible_collections.disnix.deploy.plugins.plugin_utils.lock_holder import lock_status

HOLDER = {"run_id": "r1", "controller": "ctl", "pid": 4242, "user": "root", "since": 0}


def test_a_live_pid_on_this_controller_holds_the_lock():
    assert lock_status(HOLDER, "ctl", lambda p: p == "/proc/4242").startswith("held by run r1, still running")


def test_a_vanished_pid_on_this_controller_is_stale():
    status = lock_status(HOLDER, "ctl", lambda p: False)
    assert status.startswith("STALE: run r1") and "playbooks/unlock.yml" in status


def test_another_controller_cannot_be_checked_from_here():
    status = lock_status(HOLDER, "elsewhere", os.path.isdir)
    assert "from controller ctl" in status and "stale" in status


def test_unknown_and_missing_holders():
    assert lock_status(None, "ctl", os.path.isdir) == "not locked"
    assert "unknown holder" in lock_status({"raw": ""}, "ctl", os.path.isdir)
