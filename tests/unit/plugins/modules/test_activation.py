# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""disnix.deploy.activation through AnsibleModule, with real processes."""

from __future__ import annotations

import os

from ansible_collections.disnix.deploy.plugins.module_utils.target_common import read_json_lines
from ansible_collections.disnix.deploy.plugins.modules import activation
from ansible_collections.disnix.deploy.tests.unit.plugins.module_utils.target_fixtures import alive, run_module, wait_dead


def args(lab, steps=None, **kw):
    # fenced steps need the run to hold the target lock: test_fenced_steps_need_the_lock
    base = {"tmpdir": lab.tmpdir, "log_dir": lab.log_dir, "run_id": "run-1", "wave": 0, "steps": steps or [], "fenced": False}
    base.update(kw)
    return base


def step(lab, op, name, type_="process", **extra):
    props = lab.process_props() if type_ == "process" else lab.wrapper_props()
    result = {"op": op, "key": "k-" + name, "service": name, "pkg": lab.path("pkgs", name), "type": type_,
              "container": type_, "properties": props}
    result.update(extra)
    return result


def test_activate_then_noop(lab, capsys):
    lab.process_pkg("server")
    first = run_module(activation.main, args(lab, [step(lab, "activate", "server")]), capsys)
    assert first["changed"] and not first.get("failed"), first
    res = first["results"][0]
    assert res["service"] == "server" and res["op"] == "activate" and res["ok"] and res["changed"]
    assert res["details"]["pid"] == lab.pid_of("server") and alive(lab.pid_of("server"))
    second = run_module(activation.main, args(lab, [step(lab, "activate", "server")], run_id="run-2"), capsys)
    assert not second["changed"]


def test_failure_then_module_rollback(lab, capsys):
    lab.process_pkg("server")
    lab.wrapper_pkg("client")
    open(lab.path("state", "fail_activate"), "w", encoding="utf-8").close()
    steps = [step(lab, "activate", "server"), step(lab, "activate", "client", type_="wrapper")]
    failed = run_module(activation.main, args(lab, steps, max_parallel=2), capsys)
    assert failed["failed"] and failed["changed"]
    assert "service 'client'" in failed["msg"] and "told to fail" in failed["msg"]
    assert failed["failed_services"] == ["client"]
    assert [r["ok"] for r in failed["results"]] == [True, False]
    pid = lab.pid_of("server")

    check = run_module(activation.main, args(lab, rollback=True, _ansible_check_mode=True), capsys)
    assert check["changed"] and [r["op"] for r in check["restored"]] == ["deactivate"] and alive(pid)

    undone = run_module(activation.main, args(lab, rollback=True), capsys)
    assert undone["changed"] and not undone.get("failed")
    assert [(r["service"], r["op"]) for r in undone["restored"]] == [("server", "deactivate")]
    assert wait_dead(pid)
    # the journal says it is undone: a second rollback has nothing left to do
    states = [e["state"] for e in read_json_lines(os.path.join(lab.tmpdir, "disnix-default.journal"))]
    assert states[-1] == "undone" and "failed" in states
    again = run_module(activation.main, args(lab, rollback=True), capsys)
    assert not again["changed"] and again["restored"] == []


def test_fenced_steps_need_the_lock(lab, capsys):
    lab.process_pkg("server")
    refused = run_module(activation.main, args(lab, [step(lab, "activate", "server")], fenced=True), capsys)
    assert refused["failed"] and "no longer holds the lock" in refused["msg"] and lab.pid_of("server") is None
    with open(os.path.join(lab.tmpdir, "disnix-default.lock"), "w", encoding="utf-8") as handle:
        handle.write('{"run_id": "run-1"}')
    done = run_module(activation.main, args(lab, [step(lab, "activate", "server")], fenced=True), capsys)
    assert done["changed"] and not done.get("failed") and alive(lab.pid_of("server"))


def test_echo_and_package_steps(lab, capsys):
    lab.plain_pkg("e")
    lab.plain_pkg("tools")
    steps = [dict(step(lab, "activate", "e", type_="echo"), properties={"foo": "bar"}),
             step(lab, "activate", "tools", type_="package")]
    result = run_module(activation.main, args(lab, steps), capsys)
    assert result["changed"]
    echo, package = result["results"]
    assert echo["details"]["environment"]["foo"] == "bar" and "activate: " in echo["output"]
    assert package["ok"] and not package["changed"]


def test_bad_step_is_rejected_by_the_argument_spec(lab, capsys):
    result = run_module(activation.main, args(lab, [{"op": "restart", "pkg": "/x", "type": "echo"}]), capsys)
    assert result["failed"] and "restart" in result["msg"]


def test_max_parallel_must_be_positive(lab, capsys):
    result = run_module(activation.main, args(lab, max_parallel=0), capsys)
    assert result["failed"] and "max_parallel" in result["msg"]
