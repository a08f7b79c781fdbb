# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nix-instantiate bridge, against the real Nix (and a few stand-in executables for
what Nix cannot be made to do on demand: hang, or be absent)."""

from __future__ import annotations

import stat

import pytest

from ansible_collections.disnix.deploy.plugins.plugin_utils import nix_eval
from ansible_collections.disnix.deploy.plugins.plugin_utils.model_error import ModelError
from ansible_collections.disnix.deploy.plugins.plugin_utils.nix_parser import parse

from ansible_collections.disnix.deploy.tests.unit.plugins.plugin_utils.nix_model_support import HAVE_NIX

needs_nix = pytest.mark.skipif(not HAVE_NIX, reason="needs nix-instantiate")


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def executable(tmp_path, name: str, script: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


# --- finding the binary ---------------------------------------------------------------------

def test_find_explicit_path_and_command_name(tmp_path, monkeypatch):
    fake = executable(tmp_path, "nix-instantiate", "exit 0\n")
    assert nix_eval.find_nix_instantiate(fake) == fake
    assert nix_eval.find_nix_instantiate(str(tmp_path / "absent")) is None
    monkeypatch.setenv("PATH", str(tmp_path))
    assert nix_eval.find_nix_instantiate() == fake
    assert nix_eval.find_nix_instantiate("nix-instantiate") == fake


def test_a_missing_binary_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    model = write(tmp_path, "m.nix", "{ }")
    with pytest.raises(nix_eval.NixNotFoundError, match="nix-instantiate is needed to evaluate this model but was not found on PATH"):
        nix_eval.evaluate_file(model)
    with pytest.raises(nix_eval.NixNotFoundError, match=r"not found at /no/such/nix-instantiate"):
        nix_eval.evaluate_file(model, nix_instantiate="/no/such/nix-instantiate")


def test_timeout_is_a_clear_error(tmp_path):
    slow = executable(tmp_path, "slow-nix", "sleep 10\n")
    model = write(tmp_path, "m.nix", "{ }")
    with pytest.raises(ModelError, match=r"m\.nix: nix-instantiate did not finish within 0\.3 seconds"):
        nix_eval.evaluate_file(model, nix_instantiate=slow, timeout=0.3)


def test_arguments_never_go_through_a_shell(tmp_path):
    # the stand-in prints its arguments as JSON: the path arrives as one argument, unchanged
    echo = executable(tmp_path, "echo-nix", 'printf \'"%s"\' "$8"\n')
    model = write(tmp_path, "it's $(not run); `x`.nix", "{ }")
    assert nix_eval.evaluate_file(model, nix_instantiate=echo) == model


# --- evaluation -----------------------------------------------------------------------------

@needs_nix
def test_evaluate_file(tmp_path):
    model = write(tmp_path, "m.nix", 'let h = "test1"; in { test1.properties.hostname = h; n = 1.5; }')
    assert nix_eval.evaluate_file(model) == {"test1": {"properties": {"hostname": "test1"}}, "n": 1.5}


@needs_nix
def test_a_function_model_is_refused(tmp_path):
    model = write(tmp_path, "m.nix", "{ system ? builtins.currentSystem }: { test1.system = system; }")
    with pytest.raises(ModelError) as info:
        nix_eval.evaluate_file(model)
    assert str(info.value) == (f"{model}: the model is a function, but Disnix uses an infrastructure model as is: "
                               "it must evaluate to an attribute set of targets")


@needs_nix
def test_syntax_error_with_location(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "m.nix", "{\n  a = 1;\n  b = 2\n}\n")
    with pytest.raises(ModelError) as info:
        nix_eval.evaluate_file("m.nix")
    exc = info.value
    assert (exc.path, exc.line, exc.column) == ("m.nix", 4, 1)  # the path as given
    assert exc.message == "syntax error, unexpected '}', expecting ';'"


@needs_nix
def test_evaluation_error_with_location(tmp_path):
    model = write(tmp_path, "m.nix", '{\n  a = "${1}";\n}\n')
    with pytest.raises(ModelError) as info:
        nix_eval.evaluate_file(model)
    assert str(info.value) == f"{model}:2:8: cannot coerce an integer to a string"


@needs_nix
def test_error_in_an_imported_file_names_that_file(tmp_path):
    other = write(tmp_path, "other.nix", "{ x = y; }")
    model = write(tmp_path, "m.nix", "import ./other.nix")
    with pytest.raises(ModelError) as info:
        nix_eval.evaluate_file(model)
    assert (info.value.path, info.value.line, info.value.column) == (other, 1, 7)
    assert info.value.message == "undefined variable 'y'"


def test_missing_file(tmp_path):
    fake = executable(tmp_path, "nix-instantiate", "exit 0\n")
    missing = str(tmp_path / "missing.nix")
    with pytest.raises(ModelError, match=r"missing\.nix: cannot read the model: no such file"):
        nix_eval.evaluate_file(missing, nix_instantiate=fake)


# --- translating Nix's error output ---------------------------------------------------------

@pytest.mark.parametrize("stderr, expected", [
    ("error: syntax error, unexpected '}', expecting ';'\n\n       at /w/m.nix:4:1:\n\n            3|   b = 2\n"
     "            4| }\n             | ^\n", ("/w/m.nix", 4, 1, "syntax error, unexpected '}', expecting ';'")),
    ("error: syntax error, unexpected ID, expecting '=', at /w/m.nix:3:5\n",
     ("/w/m.nix", 3, 5, "syntax error, unexpected ID, expecting '='")),
    ("\x1b[31;1merror:\x1b[0m undefined variable '\x1b[35;1mx\x1b[0m'\n\n       at \x1b[35;1m/w/m.nix:2:7\x1b[0m:\n",
     ("/w/m.nix", 2, 7, "undefined variable 'x'")),
    ("error: cannot convert a function to JSON\n\n       at «string»:1:1:\n(use '--show-trace' to show detailed location information)\n",
     ("given.nix", None, None, "cannot convert a function to JSON")),
    ("warning: something\nerror: attribute 'x' missing\n       … while evaluating\n", ("given.nix", None, None, "attribute 'x' missing")),
    ("", ("given.nix", None, None, "nix-instantiate failed without a message")),
    ("Segmentation fault\n", ("given.nix", None, None, "Segmentation fault")),
])
def test_translate_error(stderr, expected):
    exc = nix_eval.translate_error(stderr, "given.nix")
    assert (exc.path, exc.line, exc.column, exc.message) == expected


def test_translate_error_uses_the_given_path_for_the_model_file():
    exc = nix_eval.translate_error("error: boom\n\n       at /abs/dir/m.nix:1:2:\n", "/abs/dir/./m.nix")
    assert (exc.path, exc.line, exc.column) == ("/abs/dir/./m.nix", 1, 2)


# --- positions ------------------------------------------------------------------------------

POSITIONS = """rec {
  a.b.c = 1;
  x = { y = [ { z = 1; } ]; };
  inherit (x) y;
  "q r" = 2;
}
"""


@needs_nix
@pytest.mark.parametrize("path", [("a",), ("a", "b", "c"), ("x", "y"), ("x", "y", 0, "z"), ("y",), ("q r",)])
def test_attr_position_matches_the_builtin_parser(tmp_path, path):
    model = write(tmp_path, "m.nix", POSITIONS)
    assert nix_eval.attr_position(model, path) == parse(POSITIONS).position(path)


@needs_nix
@pytest.mark.parametrize("path", [(), ("missing",), ("a", "b", "c", "d"), ("x", "y", 0), ("x", "y", 5, "z")])
def test_attr_position_of_what_is_not_an_attribute(tmp_path, path):
    model = write(tmp_path, "m.nix", POSITIONS)
    assert nix_eval.attr_position(model, path) is None


def test_attr_position_never_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert nix_eval.attr_position(write(tmp_path, "m.nix", "{ a = 1; }"), ("a",)) is None
    broken = executable(tmp_path, "broken-nix", "echo 'not json'\n")
    assert nix_eval.attr_position(str(tmp_path / "m.nix"), ("a",), nix_instantiate=broken) is None


# --- the current system ---------------------------------------------------------------------

@needs_nix
def test_current_system_from_nix():
    system = nix_eval.current_system()
    assert system == nix_eval.system_from_platform()  # on this Linux controller they agree
    assert system.endswith("-linux")


def test_current_system_without_nix(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert nix_eval.current_system() == nix_eval.system_from_platform()
    assert nix_eval.current_system(use_nix=False) == nix_eval.system_from_platform()


@pytest.mark.parametrize("machine, kernel, system", [
    ("x86_64", "linux", "x86_64-linux"), ("AMD64", "cygwin", "x86_64-cygwin"), ("i686", "linux", "i686-linux"),
    ("i386", "linux", "i686-linux"), ("arm64", "darwin", "aarch64-darwin"), ("aarch64", "linux", "aarch64-linux"),
    ("armv7l", "linux", "armv7l-linux"), ("amd64", "freebsd14", "x86_64-freebsd"), ("riscv64", "linux", "riscv64-linux"),
    ("ppc64le", "linux", "powerpc64le-linux"),
])
def test_system_from_platform(machine, kernel, system):
    assert nix_eval.system_from_platform(machine, kernel) == system
