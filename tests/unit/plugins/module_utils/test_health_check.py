# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health checks on the target: real commands and real sockets."""

from __future__ import annotations

import socket

from ansible_collections.disnix.deploy.plugins.module_utils.health_check import run_check


def check(**kw):
    return dict({"name": "c", "service": "svc", "command": None, "tcpPort": None, "host": "127.0.0.1",
                 "timeout": 2, "interval": 0.2, "properties": {}}, **kw)


def test_a_command_that_exits_0_passes_and_gets_the_container_properties():
    result = run_check(check(command=["/bin/sh", "-c", 'test "$port" = 5000'], properties={"port": 5000}))
    assert result == {"name": "c", "service": "svc", "ok": True, "attempts": 1}


def test_a_failing_command_is_retried_until_the_timeout_and_says_why():
    result = run_check(check(command=["/bin/sh", "-c", "echo not yet; exit 3"], timeout=0.7, interval=0.2))
    assert not result["ok"] and result["attempts"] >= 2
    assert result["reason"].startswith("exit code 3: not yet") and "attempts in 0.7 s" in result["reason"]


def test_a_command_that_hangs_is_killed_at_the_timeout():
    result = run_check(check(command=["/bin/sleep", "30"], timeout=0.5))
    assert not result["ok"] and "timed out" in result["reason"]


def test_a_command_that_comes_good_passes(tmp_path):
    flag = tmp_path / "ready"
    # the first attempt creates the flag and fails; the second finds it
    cmd = ["/bin/sh", "-c", 'test -e "$1" || { : > "$1"; exit 1; }', "sh", str(flag)]
    result = run_check(check(command=cmd, timeout=3, interval=0.1))
    assert result["ok"] and result["attempts"] == 2


def test_tcp_port_open_and_closed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert run_check(check(tcpPort=port))["ok"]
    closed = run_check(check(tcpPort=port, timeout=0.3, interval=0.1))
    assert not closed["ok"] and "cannot connect to 127.0.0.1:%d" % port in closed["reason"]


def test_a_property_that_cannot_be_a_variable_fails_the_check():
    result = run_check(check(command=["/bin/true"], properties={"a=b": 1}))
    assert not result["ok"] and "cannot be an environment variable" in result["reason"]
