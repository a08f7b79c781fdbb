# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real upstream toolset on the lab: upstream `disnix-env` (over disnix-ssh-client, which runs
disnix-run-activity on the targets) deploys examples/hello-world's scenario 1, and `disnix-query`
lists the services. The reference point for the interop tests (issue 10)."""

from __future__ import annotations

import os

import pytest

from conftest import REPO, needs_lab

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
    coordinator = str(work / "coordinator")
    proc = upstream.run(lab_instance, "disnix-env", "-s", os.path.join(EXAMPLE, "services.nix"),
                        "-i", str(infrastructure), "-d", os.path.join(EXAMPLE, "distribution-scenario1.nix"),
                        "--coordinator-profile-path", coordinator)
    return lab_instance, upstream, proc, str(infrastructure), coordinator


def test_disnix_env_deploys_scenario1(deployed):
    lab, proc, coordinator = deployed[0], deployed[2], deployed[4]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    answer = lab.ssh("test1", f"printf 'hello\\nquit\\n' | {CLIENT}", check=False)
    assert answer.stdout == "Hello world!\n", answer
    assert lab.ssh("test2", "kill -0 $(cat /var/run/hello-world-server.pid)", check=False).returncode == 0
    # upstream's coordinator profile: a generation holding manifest.xml
    assert os.path.exists(os.path.join(coordinator, "default", "manifest.xml"))
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
