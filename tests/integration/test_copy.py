# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""disnix.deploy.distribute with only_missing on a real lab target: the target is asked what
it lacks on the ssh command that carries the copy, and only that is sent.

One lab and one sequence (tests run in file order, each from the state the previous one
left): a fresh target gets the whole closure, a second copy sends nothing, a target that
lost one path gets that path, check mode asks and sends nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest

from conftest import needs_lab

pytestmark = needs_lab

PLAY = textwrap.dedent("""\
    - name: Copy a closure
      hosts: test1
      gather_facts: false
      tasks:
        - name: Send what the target lacks
          disnix.deploy.distribute:
            paths: "{{ copy_paths }}"
            only_missing: true
          register: copy_result
        - name: Show it
          ansible.builtin.debug:
            msg: "copy-result {{ copy_result | to_json }}"
    """)


@pytest.fixture(scope="module")
def lab(lab_instance):
    lab_instance.up("test1")
    return lab_instance


@pytest.fixture(scope="module")
def closure(tmp_path_factory) -> list[str]:
    """Two store paths, the second referencing the first (unique to this run)."""
    base = tmp_path_factory.mktemp("copy")
    (base / "leaf").mkdir()
    (base / "leaf" / "data").write_text(f"{os.getpid()} {base}\n" * 2000)
    top = json.loads(subprocess.run(
        ["nix-instantiate", "--eval", "--json", "--read-write-mode", "-E",
         f'builtins.toFile "copy-top" "uses ${{{base / "leaf"}}}"'], capture_output=True, text=True, check=True).stdout)
    paths = subprocess.run(["nix-store", "--query", "--requisites", top], capture_output=True, text=True,
                           check=True).stdout.split()
    assert len(paths) == 2 and paths[-1] == top
    return paths


@pytest.fixture(scope="module")
def play(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("copy-play") / "copy.yml"
    path.write_text(PLAY)
    return str(path)


def copy(lab, play, paths, *args) -> dict:
    inventory = lab.lab("inventory", "file").stdout.strip()
    proc = lab.run("ansible-playbook", play, "-i", inventory, "-e", json.dumps({"copy_paths": paths}), *args,
                   check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    line = next(ln for ln in out.splitlines() if "copy-result " in ln)
    return json.loads(json.loads(line.split('"msg": ', 1)[1])[len("copy-result "):])


def invalid_on_target(lab, paths) -> list[str]:
    return lab.ssh("test1", "nix-store --check-validity --print-invalid " + " ".join(paths)).stdout.split()


def test_a_fresh_target_gets_the_whole_closure(lab, play, closure):
    assert invalid_on_target(lab, closure) == closure
    result = copy(lab, play, closure)
    assert result["changed"] and result["paths"] == closure and result["count"] == 2 and result["bytes"] > 0
    assert invalid_on_target(lab, closure) == []


def test_a_second_copy_sends_nothing(lab, play, closure):
    result = copy(lab, play, closure)
    assert not result["changed"] and result["paths"] == [] and result["bytes"] == 0


def test_a_target_that_lost_a_path_gets_only_that_one(lab, play, closure):
    lab.ssh("test1", f"nix-store --delete {closure[-1]}")
    assert invalid_on_target(lab, closure) == [closure[-1]]
    result = copy(lab, play, closure)
    assert result["changed"] and result["paths"] == [closure[-1]]
    assert invalid_on_target(lab, closure) == []


def test_check_mode_asks_and_sends_nothing(lab, play, closure):
    lab.ssh("test1", f"nix-store --delete {closure[-1]}")
    result = copy(lab, play, closure, "--check")
    assert result["changed"] and result["paths"] == [closure[-1]]
    assert invalid_on_target(lab, closure) == [closure[-1]]
