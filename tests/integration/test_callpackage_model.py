# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A services model written the way Nixpkgs packages are (issue 10): every pkg comes from
`pkgs.callPackage`, whose override wrapping (tests/upstream/nixpkgs, like Nixpkgs'
makeOverridable) turns the server into an overridable derivation and the client, a function of
its inter-dependency, into an attribute set with `__functor`. Upstream `disnix-env` deploys it on
a lab host, and this collection takes the deployment over: it applies the pkgs as Disnix does, so
it computes the same service keys and touches no service; then it deploys a change of the
overridden port."""

from __future__ import annotations

import os

import pytest

from conftest import REPO, needs_lab, write_inventory

pytestmark = needs_lab

HOST = "test1"
EXAMPLE = os.path.join(REPO, "examples", "hello-world")
NIXPKGS = os.path.join(REPO, "tests", "upstream", "nixpkgs")
CLIENT = "/nix/var/nix/profiles/disnix/default/bin/hello-world-client"

SERVICES = f"""\
{{ system, distribution, invDistribution, pkgs, serverPort ? 5000 }}:

let
  customPkgs = import {EXAMPLE}/pkgs {{ inherit system; }};
  # as a Nixpkgs package is written: the outer function takes what callPackage finds in pkgs,
  # the client's inner one takes its inter-dependencies
  serverFn = {{ system, port ? 1 }}: customPkgs.hello_world_server {{ inherit port; }};
  clientFn = {{ system }}: {{ hello_world_server }}: customPkgs.hello_world_client {{ inherit hello_world_server; }};
in
rec {{
  hello_world_server = {{
    name = "hello_world_server";
    port = serverPort;
    pkg = (pkgs.callPackage serverFn {{ }}).override {{ port = serverPort; }};
    type = "process";
  }};
  hello_world_client = {{
    name = "hello_world_client";
    pkg = pkgs.callPackage clientFn {{ }};
    dependsOn = {{ inherit hello_world_server; }};
    type = "package";
  }};
}}
"""

INFRASTRUCTURE = '{ test1 = { properties.hostname = "test1"; system = "x86_64-linux"; }; }\n'
DISTRIBUTION = """\
{ infrastructure }:
{
  hello_world_server = [ infrastructure.test1 ];
  hello_world_client = [ infrastructure.test1 ];
}
"""


@pytest.fixture(scope="module")
def env(lab_instance, upstream, tmp_path_factory):
    work = tmp_path_factory.mktemp("callpackage")
    for name, text in (("services.nix", SERVICES), ("infrastructure.nix", INFRASTRUCTURE),
                       ("distribution.nix", DISTRIBUTION)):
        (work / name).write_text(text)
    lab_instance.up(HOST)
    upstream.install(lab_instance, HOST)
    return {"lab": lab_instance, "upstream": upstream, "work": work,
            "inventory": write_inventory(str(work / "inventory"), INFRASTRUCTURE),
            "coordinator": str(work / "coordinator")}


def answer(lab) -> str:
    return lab.ssh(HOST, f"printf 'hello\\nquit\\n' | {CLIENT}", check=False).stdout


def deploy(env, port: int):
    return env["lab"].playbook("deploy.yml", env["inventory"], extra_vars={
        "disnix_services": str(env["work"] / "services.nix"),
        "disnix_distribution": str(env["work"] / "distribution.nix"),
        "disnix_nixpkgs": NIXPKGS, "disnix_coordinator_profile_dir": env["coordinator"],
        "disnix_extra_params": {"serverPort": port}})


def test_upstream_deploys_the_callpackage_model(env):
    lab, upstream, work = env["lab"], env["upstream"], env["work"]
    proc = upstream.run(lab, "disnix-env", "-s", str(work / "services.nix"), "-i", str(work / "infrastructure.nix"),
                        "-d", str(work / "distribution.nix"), "--extra-params", "{ serverPort = 5011; }",
                        "--coordinator-profile-path", env["coordinator"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert answer(lab) == "Hello world!\n"
    # the override reached the package: the client was built for the overridden port
    assert "test1 5011" in lab.ssh(HOST, f"cat {CLIENT}").stdout


def test_this_collection_takes_it_over_with_the_same_keys(env):
    lab = env["lab"]
    run = deploy(env, 5011)
    assert run.rc == 0, run
    touched = [e for e in lab.activation_log(HOST) if e["op"] in ("activate", "deactivate")]
    assert touched == [], (touched, run)
    assert answer(lab) == "Hello world!\n"


def test_this_collection_deploys_a_change_of_the_override(env):
    lab = env["lab"]
    run = deploy(env, 5012)
    assert run.rc == 0, run
    assert "test1 5012" in lab.ssh(HOST, f"cat {CLIENT}").stdout
    assert answer(lab) == "Hello world!\n"
    touched = [(e["service"], e["op"]) for e in lab.activation_log(HOST) if e["op"] in ("activate", "deactivate")]
    assert touched == [("hello_world_server", "deactivate"), ("hello_world_server", "activate")], touched
