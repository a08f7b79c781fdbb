# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runner that the target calls' action plugins pipe to the target's Python, run here
by a real python3 with only what the script carries (no collection on its path)."""

from __future__ import annotations

import os
import subprocess
import sys

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.disnix.deploy.plugins.module_utils import target_calls
from ansible_collections.disnix.deploy.plugins.plugin_utils.target_runner import controller_spec, parse_result, runner_script


def call(tmp_path, name: str, args: dict, check: bool = False, env: dict | None = None) -> dict:
    """As the action plugin: validated against the controller's copy of the spec, run by the
    runner in a Python of its own (the target)."""
    spec = target_calls.CALLS[name][0] if name in target_calls.CALLS else {}
    params = ArgumentSpecValidator(controller_spec(spec)).validate(args).validated_parameters
    script = runner_script(name, params, check, False)
    # an empty directory as cwd and -I: the runner finds the collection only in its script
    proc = subprocess.run([sys.executable, "-I", "-"], input=script, cwd=str(tmp_path), capture_output=True, check=False,
                          env={"PATH": os.environ.get("PATH", ""), **(env or {})})
    return parse_result(proc.stdout.decode(), proc.stderr.decode(), proc.returncode, name)


def test_the_query_runs_from_the_script_alone(tmp_path):
    profile = "runner-test-%d" % os.getpid()
    result = call(tmp_path, "target_state", {"profile": profile, "tmpdir": str(tmp_path)})
    assert not result.get("failed"), result
    assert result["lock"] is None and result["locked"] is False and result["profile_path"] is None
    assert result["lock_file"] == os.path.join(str(tmp_path), "disnix-%s.lock" % profile)


def test_a_target_error_becomes_a_failed_result_with_its_details(tmp_path):
    args = {"profile": "runner-test-%d" % os.getpid(), "tmpdir": str(tmp_path), "log_dir": str(tmp_path / "log"),
            "run_id": "first", "run_started": 100.0}
    first = call(tmp_path, "lock", args)
    assert first["changed"] and first["lock"]["run_id"] == "first" and first["lock"]["started"] == 100.0
    second = call(tmp_path, "lock", dict(args, run_id="second", run_started=200.0))
    assert second["failed"] and "locked by run first" in second["msg"]
    assert second["lock_holder"]["run_id"] == "first"
    # check mode: the release is only reported
    checked = call(tmp_path, "lock", dict(args, state="unlocked"), check=True)
    assert checked["changed"] and os.path.exists(first["lock_file"])


def test_bad_input_and_a_crash_are_failed_results_that_say_why(tmp_path):
    bad = call(tmp_path, "activation", {"run_id": "r", "max_parallel": 0, "tmpdir": str(tmp_path)})
    assert bad["failed"] and bad["msg"] == "max_parallel must be at least 1, got 0"
    crash = call(tmp_path, "no_such_call", {})
    assert crash["failed"] and "disnix.deploy.no_such_call failed on the target" in crash["msg"] and "KeyError" in crash["msg"]


def test_output_that_is_not_a_result_is_reported_with_what_the_target_printed():
    result = parse_result("", "python3: not found\n", 127, "lock")
    assert result["failed"] and result["rc"] == 127 and "python3: not found" in result["msg"]
    assert parse_result("[1]", "", 0, "lock")["failed"]


def test_paths_are_expanded_on_the_target_not_on_the_controller(tmp_path, monkeypatch):
    monkeypatch.setenv("DISNIX_RUNNER_DIR", "/controller/side")
    target_dir = tmp_path / "target-side"
    target_dir.mkdir()
    result = call(tmp_path, "target_state", {"profile": "runner-test-%d" % os.getpid(), "tmpdir": "$DISNIX_RUNNER_DIR"},
                  env={"DISNIX_RUNNER_DIR": str(target_dir)})
    assert not result.get("failed"), result
    assert result["lock_file"].startswith(str(target_dir) + os.sep)
    # suboptions too
    spec = target_calls.TARGET_STATE_SPEC
    assert target_calls.expand_paths(spec, {"lock": {"log_dir": "$DISNIX_RUNNER_DIR/log"}})["lock"]["log_dir"] == "/controller/side/log"
