# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The activation types on real scripts and processes."""

from __future__ import annotations

import os

from ansible_collections.disnix.deploy.plugins.module_utils import activation_types
from ansible_collections.disnix.deploy.plugins.module_utils.activation_types import (
    Operation, handled_by, parse_key_values, property_value, run_operation, would_change)
from ansible_collections.disnix.deploy.tests.unit.plugins.module_utils.target_fixtures import alive, wait_dead, write_script


def process_op(lab, op, name="loop", **kw):
    return Operation(op=op, pkg=lab.path("pkgs", name), type="process", container="process",
                     properties=lab.process_props(), service=name, key="k-" + name, timeout=kw.pop("timeout", 5), **kw)


def test_process_activate_twice_is_idempotent(lab):
    lab.process_pkg("loop")
    first = run_operation(process_op(lab, "activate"))
    assert first.ok and first.changed, first.output
    pid = lab.pid_of("loop")
    assert alive(pid)
    assert first.details["pid"] == pid
    assert "started loop" in first.output

    second = run_operation(process_op(lab, "activate"))
    assert second.ok and not second.changed
    assert lab.pid_of("loop") == pid  # not started again


def test_process_deactivate_twice(lab):
    lab.process_pkg("loop")
    assert run_operation(process_op(lab, "activate")).ok
    pid = lab.pid_of("loop")

    first = run_operation(process_op(lab, "deactivate"))
    assert first.ok and first.changed, first.output
    assert wait_dead(pid)
    assert not os.path.exists(lab.path("run", "loop.pid"))

    second = run_operation(process_op(lab, "deactivate"))
    assert second.ok and not second.changed


def test_process_stale_pid_file_is_restarted(lab):
    lab.process_pkg("loop")
    with open(lab.path("run", "loop.pid"), "w", encoding="utf-8") as handle:
        handle.write("999999999\n")
    result = run_operation(process_op(lab, "activate"))
    assert result.ok and result.changed
    assert alive(lab.pid_of("loop"))


def test_process_config_file_names_executable_and_pid_file(lab):
    pkg = lab.path("pkgs", "configured")
    write_script(os.path.join(pkg, "libexec", "server"),
                 '#!/bin/sh\nsleep 600 </dev/null >/dev/null 2>&1 &\necho $! > "$runtimeDir/custom.pid"\n')
    write_script(os.path.join(pkg, "bin", "other"), "#!/bin/sh\nexit 1\n")
    write_script(os.path.join(pkg, "bin", "another"), "#!/bin/sh\nexit 1\n")
    os.makedirs(os.path.join(pkg, "etc", "dysnomia", "process"))
    with open(os.path.join(pkg, "etc", "dysnomia", "process", "server"), "w", encoding="utf-8") as handle:
        handle.write('# comment\nprocess="%s/libexec/server"\npidFile=\'%s\'\n' % (pkg, lab.path("run", "custom.pid")))
    op = Operation(op="activate", pkg=pkg, type="process", properties=lab.process_props(), service="configured")
    result = run_operation(op)
    assert result.ok and result.changed, result.output
    assert result.details["pid_file"] == lab.path("run", "custom.pid")
    assert alive(lab.pid_of("custom"))
    assert run_operation(Operation(op="deactivate", pkg=pkg, type="process", properties=lab.process_props())).changed


def test_process_needs_exactly_one_executable(lab):
    pkg = lab.plain_pkg("empty")
    result = run_operation(Operation(op="activate", pkg=pkg, type="process", service="empty",
                                     properties=lab.process_props()))
    assert not result.ok
    assert "service 'empty'" in result.output and "exactly one executable" in result.output and pkg in result.output


def test_process_that_writes_no_pid_file_fails_with_output(lab):
    pkg = lab.path("pkgs", "silent")
    write_script(os.path.join(pkg, "bin", "silent"), "#!/bin/sh\necho 'I forgot the pid file'\n")
    result = run_operation(Operation(op="activate", pkg=pkg, type="process", service="silent",
                                     properties=lab.process_props(), timeout=0.3))
    assert not result.ok
    assert "I forgot the pid file" in result.output and "silent.pid" in result.output


def test_process_start_command_failing(lab):
    pkg = lab.path("pkgs", "broken")
    write_script(os.path.join(pkg, "bin", "broken"), "#!/bin/sh\necho 'no config' >&2\nexit 4\n")
    result = run_operation(Operation(op="activate", pkg=pkg, type="process", service="broken",
                                     properties=lab.process_props()))
    assert not result.ok
    assert "exited with 4" in result.output and "no config" in result.output


def test_process_lock_and_unlock_do_nothing(lab):
    lab.process_pkg("loop")
    for op in ("lock", "unlock"):
        result = run_operation(process_op(lab, op))
        assert result.ok and not result.changed
    assert lab.pid_of("loop") is None


def test_process_term_ignored_gets_killed(lab):
    pkg = lab.path("pkgs", "stubborn")
    write_script(os.path.join(pkg, "bin", "stubborn"),
                 "#!/bin/sh\n(trap '' TERM; while :; do sleep 0.1; done) </dev/null >/dev/null 2>&1 &\n"
                 'echo $! > "$runtimeDir/stubborn.pid"\n')
    op = Operation(op="activate", pkg=pkg, type="process", properties=lab.process_props(), timeout=0.5)
    assert run_operation(op).ok
    pid = lab.pid_of("stubborn")
    result = run_operation(Operation(op="deactivate", pkg=pkg, type="process", properties=lab.process_props(), timeout=0.5))
    assert result.ok and result.changed, result.output
    assert wait_dead(pid)


def test_wrapper_operations_get_op_and_container(lab):
    pkg = lab.wrapper_pkg("w")
    for op in ("activate", "lock", "unlock", "deactivate"):
        result = run_operation(Operation(op=op, pkg=pkg, type="wrapper", container="wrapper", properties=lab.wrapper_props()))
        assert result.ok, result.output
        assert result.changed == (op in ("activate", "deactivate"))
    assert lab.wrapper_ops() == ["activate wrapper", "lock wrapper", "unlock wrapper", "deactivate wrapper"]


def test_wrapper_lock_veto(lab):
    pkg = lab.wrapper_pkg("w")
    with open(lab.path("state", "lock_status"), "w", encoding="utf-8") as handle:
        handle.write("1\n")
    result = run_operation(Operation(op="lock", pkg=pkg, type="wrapper", service="w", properties=lab.wrapper_props()))
    assert not result.ok
    assert "refused the lock" in result.output and "service 'w'" in result.output


def test_wrapper_failure_names_service(lab):
    pkg = lab.wrapper_pkg("w")
    open(lab.path("state", "fail_activate"), "w", encoding="utf-8").close()
    result = run_operation(Operation(op="activate", pkg=pkg, type="wrapper", service="w", properties=lab.wrapper_props()))
    assert not result.ok
    assert "service 'w'" in result.output and "told to fail" in result.output and result.details["rc"] == 3


def test_wrapper_missing(lab):
    pkg = lab.plain_pkg("nowrapper")
    result = run_operation(Operation(op="activate", pkg=pkg, type="wrapper", service="nowrapper"))
    assert not result.ok and "bin/wrapper does not exist" in result.output


def test_wrapper_background_child_does_not_block(lab):
    # a wrapper that leaves a daemon holding its stdout must not make us wait for the daemon
    pkg = lab.path("pkgs", "bg")
    write_script(os.path.join(pkg, "bin", "wrapper"),
                 '#!/bin/sh\nsleep 600 &\necho $! > "$runtimeDir/bg.pid"\necho done\n')
    result = run_operation(Operation(op="activate", pkg=pkg, type="wrapper", properties=lab.process_props(),
                                     command_timeout=20))
    assert result.ok and "done" in result.output
    assert alive(lab.pid_of("bg"))


def test_command_timeout_kills(lab):
    pkg = lab.path("pkgs", "hang")
    write_script(os.path.join(pkg, "bin", "wrapper"), "#!/bin/sh\nexec sleep 30\n")
    result = run_operation(Operation(op="activate", pkg=pkg, type="wrapper", service="hang", command_timeout=0.5))
    assert not result.ok and "did not finish within 0.5 s" in result.output


def test_echo_reports_operation_and_environment(lab):
    pkg = lab.plain_pkg("e")
    result = run_operation(Operation(op="activate", pkg=pkg, type="echo", properties={"foo": "foo", "bar": 3, "flag": True}))
    assert result.ok and result.changed
    assert result.output.startswith("activate: %s\n" % pkg)
    env = result.details["environment"]
    assert env["foo"] == "foo" and env["bar"] == "3" and env["flag"] == "1"
    assert env["DYSNOMIA_STATEDIR"] == "/var/state/dysnomia" and env["PATH"]
    assert "foo=foo" in result.output
    assert result.details["container"] == "echo"  # container defaults to the type


def test_package_does_nothing(lab):
    pkg = lab.plain_pkg("p")
    for op in ("activate", "deactivate", "lock", "unlock"):
        result = run_operation(Operation(op=op, pkg=pkg, type="package"))
        assert result.ok and not result.changed


def test_unknown_type_without_dysnomia(lab, monkeypatch):
    monkeypatch.setattr(activation_types.nix_tools, "which", lambda name: None)
    result = run_operation(Operation(op="activate", pkg=lab.plain_pkg("x"), type="systemd-unit", service="x"))
    assert not result.ok
    assert "type 'systemd-unit' needs Dysnomia on the target" in result.output and "service 'x'" in result.output


def test_unknown_type_goes_to_dysnomia(lab, monkeypatch):
    bin_dir = lab.path("fakebin")
    write_script(os.path.join(bin_dir, "dysnomia"), '#!/bin/sh\necho "args: $*"\necho "port=$port"\n')
    monkeypatch.setenv("PATH", bin_dir + os.pathsep + os.environ.get("PATH", ""))
    pkg = lab.plain_pkg("svc")
    result = run_operation(Operation(op="deactivate", pkg=pkg, type="systemd-unit", container="systemd", properties={"port": 8080}))
    assert result.ok, result.output
    assert "args: --type systemd-unit --operation deactivate --component %s --container systemd --environment" % pkg in result.output
    assert "port=8080" in result.output


def test_dysnomia_activation_hands_every_type_but_package_to_dysnomia(lab, monkeypatch):
    bin_dir = lab.path("fakebin")
    write_script(os.path.join(bin_dir, "dysnomia"), '#!/bin/sh\necho "args: $*"\n')
    monkeypatch.setenv("PATH", bin_dir + os.pathsep + os.environ.get("PATH", ""))
    lab.process_pkg("loop")
    for op in ("activate", "deactivate", "lock", "unlock"):
        operation = process_op(lab, op, engine="dysnomia")
        result = run_operation(operation)
        assert result.ok, result.output
        assert result.changed == (op in ("activate", "deactivate"))
        assert ("args: --type process --operation %s --component %s --container process --environment"
                % (op, operation.pkg)) in result.output
        # dysnomia was asked; the built-in process type would have started the loop
        assert "pid" not in result.details
    assert [handled_by(Operation(op="activate", pkg="/x", type=t, engine="dysnomia"))
            for t in ("process", "wrapper", "echo", "package", "systemd-unit")] == \
        ["dysnomia", "dysnomia", "dysnomia", "builtin", "dysnomia"]
    assert [handled_by(Operation(op="activate", pkg="/x", type=t))
            for t in ("process", "wrapper", "echo", "package", "systemd-unit")] == \
        ["builtin", "builtin", "builtin", "builtin", "dysnomia"]
    package = run_operation(Operation(op="activate", pkg=lab.plain_pkg("p"), type="package", engine="dysnomia"))
    assert package.ok and not package.changed and "args:" not in package.output


def test_dysnomia_activation_without_dysnomia_names_the_host(lab, monkeypatch):
    monkeypatch.setattr(activation_types.nix_tools, "which", lambda name: None)
    lab.process_pkg("loop")
    result = run_operation(process_op(lab, "activate", engine="dysnomia"))
    assert not result.ok and "type 'process' needs Dysnomia on the target, but dysnomia is not installed" in result.output


def test_unknown_activation_engine(lab):
    result = run_operation(Operation(op="activate", pkg="/x", type="echo", engine="systemd"))
    assert not result.ok and "unknown activation 'systemd' (one of builtin, dysnomia)" in result.output


def test_unknown_operation():
    result = run_operation(Operation(op="frobnicate", pkg="/nix/store/x", type="echo"))
    assert not result.ok and "unknown operation" in result.output


def test_would_change(lab):
    lab.process_pkg("loop")
    assert would_change(process_op(lab, "activate"))
    assert not would_change(process_op(lab, "deactivate"))
    assert run_operation(process_op(lab, "activate")).ok
    assert not would_change(process_op(lab, "activate"))
    assert would_change(process_op(lab, "deactivate"))
    assert not would_change(Operation(op="activate", pkg="/x", type="package"))
    # through Dysnomia the state is Dysnomia's: assume a change
    assert would_change(process_op(lab, "activate", engine="dysnomia"))


def test_property_values_and_key_value_files():
    assert property_value(None) == "" and property_value(False) == "" and property_value(True) == "1"
    assert property_value(["a", 1]) == "a 1" and property_value({"b": 1}) == '{"b": 1}'
    assert parse_key_values('a="1"\n# x=2\nb=two words\n\nc=\'3\'\n') == {"a": "1", "b": "two words", "c": "3"}
