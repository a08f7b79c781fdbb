# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real upstream toolset on the lab: upstream `disnix-env` (over disnix-ssh-client, which runs
disnix-run-activity on the targets) deploys examples/hello-world's scenario 1, and `disnix-query`
lists the services. Then the takeover both ways (issue 10), in file order on the same hosts: this
collection, pointed at upstream's coordinator profile, takes the deployment over without touching a
service; upstream `disnix-query` and `disnix-reconstruct` read the targets this collection deployed;
and upstream `disnix-env` deploys a change over them (the profiles really switch)."""

from __future__ import annotations

import os

import pytest

from conftest import REPO, needs_lab, write_inventory

pytestmark = needs_lab

EXAMPLE = os.path.join(REPO, "examples", "hello-world")
CLIENT = "/nix/var/nix/profiles/disnix/default/bin/hello-world-client"


@pytest.fixture(scope="module")
def deployed(lab_instance, upstream, tmp_path_factory):
    lab_instance.up("test1", "test2", systems={"test1": "i686-linux"})
    upstream.install(lab_instance, "test1", "test2")
    work = tmp_path_factory.mktemp("upstream-hello")
    # the example's network, but test2 over ssh too: there is no SOAP client here
    infrastructure = work / "infrastructure.nix"
    infrastructure.write_text(f"let base = import {EXAMPLE}/infrastructure.nix; in {{\n"
                              "  inherit (base) test1;\n"
                              '  test2 = removeAttrs base.test2 [ "targetProperty" "clientInterface" ];\n}\n')
    inventory = write_inventory(str(work / "inventory"), infrastructure.read_text())
    coordinator = str(work / "coordinator")
    proc = upstream.run(lab_instance, "disnix-env", "-s", os.path.join(EXAMPLE, "services.nix"),
                        "-i", str(infrastructure), "-d", os.path.join(EXAMPLE, "distribution-scenario1.nix"),
                        "--coordinator-profile-path", coordinator)
    return lab_instance, upstream, proc, str(infrastructure), coordinator, inventory


def test_disnix_env_deploys_scenario1(deployed):
    lab, proc, coordinator = deployed[0], deployed[2], deployed[4]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    answer = lab.ssh("test1", f"printf 'hello\\nquit\\n' | {CLIENT}", check=False)
    assert answer.stdout == "Hello world!\n", answer
    assert lab.ssh("test2", "kill -0 $(cat /var/run/hello-world-server.pid)", check=False).returncode == 0
    # upstream's coordinator profile: each generation is a manifest.xml store file
    assert os.path.realpath(os.path.join(coordinator, "default")).endswith("-manifest.xml")
    profile = lab.ssh("test2", "readlink -f /nix/var/nix/profiles/disnix/default").stdout.strip()
    assert profile.endswith("-test2"), profile
    assert "hello_world_server" in lab.ssh("test2", f"cat {profile}/profilemanifest.xml").stdout


def test_disnix_query_lists_the_services(deployed):
    lab, upstream, proc, infrastructure = deployed[:4]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    query = upstream.run(lab, "disnix-query", infrastructure, check=True)
    out = query.stdout
    assert "test2" in out and "test1" in out, out
    # the server is a service on test2; package-type services (the client) are not listed
    server_at = out.index("hello-world-server")
    assert out.rfind("test2", 0, server_at) > out.rfind("test1", 0, server_at), out


def profile_of(lab, host: str) -> str:
    return lab.ssh(host, "readlink -f /nix/var/nix/profiles/disnix/default").stdout.strip()


def test_this_collection_takes_over_without_touching_a_service(deployed):
    lab, proc, coordinator, inventory = deployed[0], deployed[2], deployed[4], deployed[5]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    server_pid = lab.ssh("test2", "cat /var/run/hello-world-server.pid").stdout.strip()
    upstream_generations = sorted(os.listdir(coordinator))
    run = lab.playbook("deploy.yml", inventory, extra_vars={
        "disnix_services": os.path.join(EXAMPLE, "services.nix"),
        "disnix_distribution": os.path.join(EXAMPLE, "distribution-scenario1.nix"),
        "disnix_coordinator_profile_dir": coordinator})
    assert run.rc == 0, run
    # upstream's manifest.xml and the targets' profilemanifest.xml were read, and the service keys
    # agree: no service was deactivated or activated (this collection logs every operation it
    # runs on a service; the lock and unlock notifications are there, no activation). Upstream
    # lists no package-type services on targets, so the client (type package) is added to test1's
    # profile without an activation.
    assert "no service to activate or deactivate" in run.out, run
    for host in ("test1", "test2"):
        touched = [e for e in lab.activation_log(host) if e.get("op") in ("activate", "deactivate")]
        assert touched == [], (host, touched, run)
    assert lab.ssh("test2", "cat /var/run/hello-world-server.pid").stdout.strip() == server_pid
    answer = lab.ssh("test1", f"printf 'hello\\nquit\\n' | {CLIENT}", check=False)
    assert answer.stdout == "Hello world!\n", answer
    # the new generation sits beside upstream's, in upstream's format
    assert sorted(os.listdir(coordinator)) != upstream_generations
    assert os.path.realpath(os.path.join(coordinator, "default")).endswith("-manifest.xml")


def test_upstream_tools_read_what_this_collection_deployed(deployed, tmp_path):
    lab, upstream, _proc, infrastructure = deployed[:4]
    query = upstream.run(lab, "disnix-query", infrastructure, check=True)
    assert "hello-world-server" in query.stdout, query.stdout
    rebuilt = str(tmp_path / "reconstructed")
    upstream.run(lab, "disnix-reconstruct", "--coordinator-profile-path", rebuilt, infrastructure, check=True)
    with open(os.path.join(rebuilt, "default"), encoding="utf-8") as f:
        manifest = f.read()
    assert "hello_world_server" in manifest and "test2" in manifest, manifest[:2000]


def test_upstream_deploys_a_change_over_this_collections_profiles(deployed):
    lab, upstream, _proc, infrastructure, coordinator = deployed[:5]
    before = {h: profile_of(lab, h) for h in ("test1", "test2")}
    proc = upstream.run(lab, "disnix-env", "-s", os.path.join(EXAMPLE, "services.nix"), "-i", infrastructure,
                        "-d", os.path.join(EXAMPLE, "distribution-scenario1.nix"),
                        "--extra-params", "{ serverPort = 6001; }", "--coordinator-profile-path", coordinator)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = {h: profile_of(lab, h) for h in ("test1", "test2")}
    # the server and the client were rebuilt for the new port: both profiles really switched
    # (upstream's --set skips a profile whose store path differs in length from the old one)
    assert after["test1"] != before["test1"] and after["test2"] != before["test2"], (before, after)
    # upstream planned from this collection's profiles: it deactivated the old server and
    # activated the one for the new port, and the new profile manifest names it. The new server
    # answers: the example's server removes its pid file when it stops, which upstream's process
    # module needs (it trusts a pid file it finds, docs/interop.md).
    answer = lab.ssh("test1", f"printf 'hello\\nquit\\n' | {CLIENT}", check=False)
    assert answer.stdout == "Hello world!\n", answer
    out = proc.stdout + proc.stderr
    assert "Deactivating service with key" in out and "Activating service with key" in out, out
    new_server = lab.ssh("test2", f"cat {after['test2']}/profilemanifest.xml").stdout
    assert "hello_world_server" in new_server and new_server != lab.ssh(
        "test2", f"cat {before['test2']}/profilemanifest.xml").stdout, new_server
