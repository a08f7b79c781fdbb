# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health checks of services, run on their target after their wave (the ``healthCheck``
attribute, normalised by the controller's plugin_utils/guard.py).

A check is a command (an argv list, run without a shell; a shell command the user wrote is
the argv ``/bin/sh -c <command>``) that must exit 0, or a TCP port that must accept a
connection. It is repeated every ``interval`` seconds until it passes or ``timeout`` ends.

Runs on targets: Python 3.8+, standard library only.
"""

from __future__ import annotations

import socket
import time

from ansible_collections.disnix.deploy.plugins.module_utils.activation_types import (
    Operation, _Failure, operation_env, run_command)


def _env(check: dict) -> dict:
    # the same environment as the service's activation: its container's properties, PATH
    op = Operation(op="activate", pkg="", type="", container=check.get("container") or "",
                   properties=check.get("properties") or {}, service=check.get("service") or "")
    return operation_env(op)


def _attempt(check: dict, remaining: float, env: dict) -> str | None:
    """None when the check passes once, else why not."""
    if check.get("tcpPort"):
        try:
            with socket.create_connection((check["host"], int(check["tcpPort"])), timeout=max(remaining, 0.1)):
                return None
        except OSError as exc:
            return "cannot connect to %s:%s: %s" % (check["host"], check["tcpPort"], exc.strerror or exc)
    rc, output = run_command(list(check["command"]), env, max(remaining, 0.1))
    if rc == 0:
        return None
    output = output.strip()
    tail = output[-500:] if output else "no output"
    return ("timed out" if rc is None else "exit code %d" % rc) + ": " + tail


def run_check(check: dict, clock=time.monotonic, sleep=time.sleep) -> dict:
    """Runs one check until it passes or its timeout ends; the result names it."""
    timeout = float(check.get("timeout") or 10)
    interval = float(check.get("interval") or 1)
    deadline = clock() + timeout
    attempts = 0
    try:
        env = _env(check)
    except _Failure as exc:
        return {"name": check.get("name"), "service": check.get("service"), "ok": False, "attempts": 0, "reason": str(exc)}
    while True:
        attempts += 1
        reason = _attempt(check, deadline - clock(), env)
        if reason is None:
            return {"name": check.get("name"), "service": check.get("service"), "ok": True, "attempts": attempts}
        left = deadline - clock()
        if left <= 0:
            return {"name": check.get("name"), "service": check.get("service"), "ok": False, "attempts": attempts,
                    "reason": "%s (after %d attempt%s in %g s)" % (reason, attempts, "" if attempts == 1 else "s", timeout)}
        sleep(min(interval, left))
