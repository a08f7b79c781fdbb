# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/bootstrap.yml turns a lab host without Nix into a Disnix target.

One lab host started with --no-nix (nix-bin hidden and removed from dpkg's status), an
inventory made by the disnix.deploy.infrastructure plugin from a small infrastructure
model, and the inputs a host without network cannot download prepared on the controller
(the nix-bin .deb, stand-in source tarballs of Dysnomia and Disnix, see
bootstrap_fixtures.py). The tests run in file order on that one host:
bootstrap, check the host, bootstrap again (changed=0), deploy to it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO, needs_lab

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bootstrap_fixtures  # noqa: E402  (test helper next to this file)

pytestmark = needs_lab

HOST = "target1"
DEB_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "disnix-deploy", "debs")

INFRASTRUCTURE = """\
{
  target1 = {
    properties.hostname = "target1";
    properties.zone = "lab";
    containers.process.runtimeDir = "/run";
    containers.echo = { greeting = "hello world"; };
  };
}
"""

# the test's settings, as a user would keep them in group_vars next to the inventory
GROUP_VARS = """\
nix_deb_dir: {debs}
nix_conf:
  sandbox: false
  substituters: ""
dysnomia_source_file: {dysnomia}
dysnomia_build_packages: []
disnix_service_source_file: {disnix}
disnix_service_build_packages: []
"""


@pytest.fixture(scope="module")
def env(lab_instance, tmp_path_factory):
    """The lab host, the inventory and the fixtures."""
    work = tmp_path_factory.mktemp("bootstrap")
    debs = bootstrap_fixtures.debs(DEB_CACHE)
    assert any(os.path.basename(d).startswith("nix-bin_") for d in debs)
    tarballs = bootstrap_fixtures.tarballs(str(work / "src"))
    inventory_dir = work / "inventory"
    (inventory_dir / "group_vars").mkdir(parents=True)
    (inventory_dir / "infrastructure.nix").write_text(INFRASTRUCTURE)
    (inventory_dir / "lab.disnix.yml").write_text(
        "plugin: disnix.deploy.infrastructure\ninfrastructure: infrastructure.nix\n")
    (inventory_dir / "group_vars" / "disnix_targets.yml").write_text(
        GROUP_VARS.format(debs=DEB_CACHE, dysnomia=tarballs["dysnomia"], disnix=tarballs["disnix"]))
    lab_instance.up(HOST, no_nix=(HOST,))
    return {"lab": lab_instance, "inventory": str(inventory_dir / "lab.disnix.yml"), "work": work}


def test_host_starts_without_nix(env):
    lab = env["lab"]
    probe = lab.ssh(HOST, "command -v nix-store; test -e /nix; dpkg-query -W nix-bin", check=False)
    assert probe.returncode != 0
    assert probe.stdout.strip() == ""


def test_bootstrap_installs_nix_dysnomia_and_disnix(env):
    run = env["lab"].playbook("bootstrap.yml", env["inventory"])
    assert run.rc == 0, run
    assert run.recap[HOST]["failed"] == 0
    assert run.changed > 0


def test_nix_works_and_receives_a_closure(env):
    lab, work = env["lab"], env["work"]
    assert lab.ssh(HOST, "nix-store --version").stdout.startswith("nix-store (Nix) 2.")
    assert "installed" in lab.ssh(HOST, "dpkg-query -W -f '${db:Status-Status}' nix-bin").stdout
    # a two-path closure built on the controller, copied with nix-copy-closure, run there
    expr = work / "hello.nix"
    expr.write_text(textwrap.dedent("""\
        rec {
          greeting = derivation { name = "boot-greeting"; system = builtins.currentSystem;
            builder = "/bin/sh"; args = [ "-c" "echo bootstrapped > $out" ]; };
          hello = derivation { name = "boot-hello"; system = builtins.currentSystem;
            builder = "/bin/sh"; inherit greeting;
            args = [ "-c" ''
              /bin/mkdir -p $out/bin
              printf '#!/bin/sh\\n/bin/cat %s\\n' "$greeting" > $out/bin/boot-hello
              /bin/chmod +x $out/bin/boot-hello
            '' ]; };
        }
        """))
    path = subprocess.run(["nix-build", "--no-out-link", str(expr), "-A", "hello"], capture_output=True,
                          text=True, check=True).stdout.strip()
    lab.run("nix-copy-closure", "--to", HOST, path)
    assert lab.ssh(HOST, f"{path}/bin/boot-hello").stdout.strip() == "bootstrapped"
    assert lab.ssh(HOST, f"nix-store -qR {path} | wc -l").stdout.strip() == "2"


def test_dysnomia_with_the_models_containers(env):
    lab = env["lab"]
    assert "job-template direct" in lab.ssh(HOST, "/usr/local/bin/dysnomia --version").stdout
    assert lab.ssh(HOST, "ls /etc/dysnomia/containers").stdout.split() == ["echo", "process", "wrapper"]
    sourced = lab.ssh(HOST, "bash -c '. /etc/dysnomia/containers/echo; echo \"$type|$greeting\"; "
                            ". /etc/dysnomia/containers/process; echo \"$type|$runtimeDir\"; "
                            ". /etc/dysnomia/properties; echo \"$hostname|$zone|${supportedTypes[*]}\"'")
    assert sourced.stdout.splitlines() == ["echo|hello world", "process|/run", "target1|lab|echo process wrapper"]


def test_disnix_service_runs_from_the_shipped_init_script(env):
    lab = env["lab"]
    out = lab.ssh(HOST, "grep -c '<policy user=\"root\">' /etc/dbus-1/system.d/disnix.conf; "
                        "grep -E '^(DAEMONUSER|DAEMON)=' /etc/init.d/disnix-service; "
                        "readlink /etc/rc2.d/S06disnix-service /etc/rc5.d/S06disnix-service; "
                        "/etc/init.d/disnix-service status; /etc/init.d/dbus status; "
                        "grep -E '^(user|dysnomia|nix-store)=' /tmp/disnix-service.log").stdout.splitlines()
    assert out == ["1", "DAEMONUSER=root", "DAEMON=/usr/local/bin/disnix-service",
                   "../init.d/disnix-service", "../init.d/disnix-service",
                   "disnix-service is running", "dbus is running.",
                   "user=root", "dysnomia=/usr/local/bin/dysnomia", "nix-store=/usr/bin/nix-store"]


def test_second_bootstrap_changes_nothing(env):
    run = env["lab"].playbook("bootstrap.yml", env["inventory"])
    assert run.rc == 0, run
    assert run.recap[HOST]["changed"] == 0, run


SERVICES = """\
{ system, ... }:
{
  greeter = {
    name = "greeter";
    type = "process";
    pkg = derivation {
      name = "greeter";
      inherit system;
      builder = "/bin/sh";
      args = [ "-c" ''
        /bin/mkdir -p $out/bin
        {
          echo '#!/bin/sh'
          echo '/usr/bin/setsid /bin/sleep 1000000 </dev/null >/dev/null 2>&1 &'
          echo 'echo $! > "''${runtimeDir:-/var/run}/greeter.pid"'
        } > $out/bin/greeter
        /bin/chmod +x $out/bin/greeter
      '' ];
    };
  };
}
"""

DISTRIBUTION = """\
{ infrastructure }:
{
  greeter = [ infrastructure.target1 ];
}
"""


def test_deploy_to_the_bootstrapped_host(env):
    # TODO(lead): the deploy step of the "must show": playbooks/deploy.yml deploys to the
    # host that bootstrap.yml made. Keep the extra variables in step with deploy.yml.
    if not os.path.exists(os.path.join(REPO, "playbooks", "deploy.yml")):
        pytest.skip("playbooks/deploy.yml does not exist yet")
    lab, work = env["lab"], env["work"]
    (work / "services.nix").write_text(SERVICES)
    (work / "distribution.nix").write_text(DISTRIBUTION)
    coordinator = work / "coordinator"
    coordinator.mkdir()
    run = lab.playbook("deploy.yml", env["inventory"],
                       extra_vars={"disnix_services": str(work / "services.nix"),
                                   "disnix_distribution": str(work / "distribution.nix"),
                                   "disnix_coordinator_profile_dir": str(coordinator)})
    assert run.rc == 0, run
    alive = lab.ssh(HOST, "kill -0 $(cat /run/greeter.pid) && echo alive", check=False)
    assert alive.stdout.strip() == "alive", run
