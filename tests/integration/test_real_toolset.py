# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real toolset on a bootstrapped target (issue 10).

A lab host started with --no-nix gets playbooks/bootstrap.yml with the real release tarballs of
Dysnomia 0.10.2 and Disnix from ../shared/upstream (controller-side files, as for a machine
without internet), built on the target by the roles. Then, in file order on that host:
upstream `disnix-env` (over disnix-ssh-client, which runs the target's own disnix-run-activity)
deploys examples/hello-world and `disnix-query` lists its services; this collection redeploys a
change over upstream's coordinator profile; and with `disnix_activation: dysnomia` the services
start and stop through the target's real Dysnomia modules.

The target-side build is the slow part (minutes on this machine); its time is printed.
"""

from __future__ import annotations

import os
import sys
import time

import pytest

from conftest import REPO, needs_lab

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bootstrap_fixtures  # noqa: E402  (test helper next to this file)

pytestmark = needs_lab

HOST = "target1"
SRC = os.environ.get("DISNIX_UPSTREAM_SRC") or os.path.join(os.path.dirname(REPO), "shared", "upstream")
DEB_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "disnix-deploy", "debs")
EXAMPLE = os.path.join(REPO, "examples", "hello-world")
CLIENT = "/nix/var/nix/profiles/disnix/default/bin/hello-world-client"
SERVER_PID = "/var/run/hello-world-server.pid"

INFRASTRUCTURE = """\
{
  target1 = {
    properties.hostname = "target1";
    system = "x86_64-linux";
  };
}
"""

DISTRIBUTION = """\
{ infrastructure }:
{
  hello_world_server = [ infrastructure.target1 ];
  hello_world_client = [ infrastructure.target1 ];
}
"""

GROUP_VARS = """\
nix_deb_dir: {debs}
nix_conf:
  sandbox: false
  substituters: ""
dysnomia_source_file: {dysnomia}
disnix_service_source_file: {disnix}
"""


def tarball(prefix: str) -> str:
    names = sorted(n for n in os.listdir(SRC) if n.startswith(prefix + "-") and n.endswith(".tar.gz")) \
        if os.path.isdir(SRC) else []
    if not names:
        pytest.skip(f"no {prefix}-*.tar.gz in {SRC} (set DISNIX_UPSTREAM_SRC)")
    return os.path.join(SRC, names[-1])


@pytest.fixture(scope="module")
def env(lab_instance, upstream, tmp_path_factory):
    work = tmp_path_factory.mktemp("realtool")
    bootstrap_fixtures.debs(DEB_CACHE)
    inventory_dir = work / "inventory"
    (inventory_dir / "group_vars").mkdir(parents=True)
    (inventory_dir / "infrastructure.nix").write_text(INFRASTRUCTURE)
    (inventory_dir / "lab.disnix.yml").write_text(
        "plugin: disnix.deploy.infrastructure\ninfrastructure: infrastructure.nix\n")
    (inventory_dir / "group_vars" / "disnix_targets.yml").write_text(
        GROUP_VARS.format(debs=DEB_CACHE, dysnomia=tarball("dysnomia"), disnix=tarball("disnix")))
    (work / "distribution.nix").write_text(DISTRIBUTION)
    lab_instance.up(HOST, no_nix=(HOST,))
    return {"lab": lab_instance, "upstream": upstream, "work": work,
            "inventory": str(inventory_dir / "lab.disnix.yml"),
            "infrastructure": str(inventory_dir / "infrastructure.nix"),
            "distribution": str(work / "distribution.nix"), "coordinator": str(work / "coordinator")}


def test_bootstrap_builds_the_real_dysnomia_and_disnix(env):
    lab = env["lab"]
    assert lab.ssh(HOST, "command -v nix-store dysnomia disnix-run-activity", check=False).stdout.strip() == ""
    start = time.monotonic()
    run = lab.playbook("bootstrap.yml", env["inventory"], timeout=3600)
    seconds = time.monotonic() - start
    (env["work"] / "bootstrap.log").write_text(run.out)
    print(f"\n[realtool] bootstrap with the target-side build of Dysnomia and Disnix: {seconds:.0f} s")
    assert run.rc == 0, run
    assert lab.ssh(HOST, "dysnomia --version").stdout.startswith("dysnomia (dysnomia 0.10.2)")
    assert lab.ssh(HOST, "disnix-run-activity --version").stdout.startswith("disnix-run-activity (disnix) 0.10")
    # the real modules, from the tarball
    modules = lab.ssh(HOST, "ls /usr/local/libexec/dysnomia").stdout.split()
    assert {"process", "wrapper", "echo"} <= set(modules), modules
    # the second bootstrap finds everything in place
    again = lab.playbook("bootstrap.yml", env["inventory"], timeout=1200)
    assert again.rc == 0 and again.recap[HOST]["changed"] == 0, again


def test_the_disnix_service_runs_from_disnixs_own_init_script(env):
    lab = env["lab"]
    out = lab.ssh(HOST, "/etc/init.d/disnix-service status && echo running; "
                        "ps -o user=,args= -p $(cat /var/run/disnix-service.pid)").stdout.splitlines()
    assert out == ["running", "root     /usr/local/bin/disnix-service"], out


def test_upstream_disnix_env_deploys_to_the_bootstrapped_host(env):
    lab, upstream = env["lab"], env["upstream"]
    # the target's own build does the work: nothing of the controller's upstream build is linked in
    where = lab.ssh(HOST, "readlink -f $(command -v disnix-run-activity) $(command -v dysnomia)").stdout.split()
    assert where == ["/usr/local/bin/disnix-run-activity", "/usr/local/bin/dysnomia"], where
    proc = upstream.run(lab, "disnix-env", "-s", os.path.join(EXAMPLE, "services.nix"), "-i", env["infrastructure"],
                        "-d", env["distribution"], "--coordinator-profile-path", env["coordinator"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lab.ssh(HOST, f"printf 'hello\\nquit\\n' | {CLIENT}").stdout == "Hello world!\n"
    query = upstream.run(lab, "disnix-query", env["infrastructure"], check=True)
    assert "Services on: target1" in query.stdout and "-hello-world-server" in query.stdout, query.stdout


def server_environment(lab) -> list[str]:
    return lab.ssh(HOST, f"tr '\\0' '\\n' < /proc/$(cat {SERVER_PID})/environ").stdout.splitlines()


def deploy(env, port: int, distribution: str | None = None, **extra):
    return env["lab"].playbook("deploy.yml", env["inventory"], extra_vars={
        "disnix_services": os.path.join(EXAMPLE, "services.nix"),
        "disnix_distribution": distribution or env["distribution"],
        "disnix_coordinator_profile_dir": env["coordinator"],
        "disnix_extra_params": {"serverPort": port}, **extra})


def test_this_collection_redeploys_a_change(env):
    lab = env["lab"]
    run = deploy(env, 6001)
    assert run.rc == 0, run
    assert lab.ssh(HOST, f"printf 'hello\\nquit\\n' | {CLIENT}").stdout == "Hello world!\n"
    assert "6001" in lab.ssh(HOST, f"cat {CLIENT}").stdout
    touched = [(e["op"], e["via"]) for e in lab.activation_log(HOST) if e["op"] in ("activate", "deactivate")]
    assert touched == [("deactivate", "builtin"), ("activate", "builtin")], touched
    # started by the built-in process type: not through a shell of Dysnomia's
    assert not any(v.startswith("exec_prefix=") for v in server_environment(lab))


def test_dysnomia_activation_starts_and_stops_through_dysnomias_modules(env):
    lab = env["lab"]
    # per host, as a host variable next to the inventory
    host_vars = env["work"] / "inventory" / "host_vars"
    host_vars.mkdir(exist_ok=True)
    (host_vars / f"{HOST}.yml").write_text("disnix_activation: dysnomia\n")
    old_pid = lab.ssh(HOST, f"cat {SERVER_PID}").stdout.strip()
    run = deploy(env, 6002)
    assert run.rc == 0, run
    assert lab.ssh(HOST, f"printf 'hello\\nquit\\n' | {CLIENT}").stdout == "Hello world!\n"
    assert lab.ssh(HOST, f"kill -0 {old_pid}", check=False).returncode != 0
    entries = [e for e in lab.activation_log(HOST) if e["op"] in ("activate", "deactivate")][-2:]
    assert [(e["op"], e["via"]) for e in entries] == [("deactivate", "dysnomia"), ("activate", "dysnomia")], entries
    # Dysnomia's process module ran it (its bash exported exec_prefix to the process) and
    # marked the component active in Dysnomia's state directory
    assert "exec_prefix=/usr/local" in server_environment(lab)
    marked = "/var/state/dysnomia/activated/process/hello-world-server"
    assert lab.ssh(HOST, f"test -f {marked}", check=False).returncode == 0
    # undeployed through Dysnomia: the process stops and Dysnomia unmarks the component
    pid = lab.ssh(HOST, f"cat {SERVER_PID}").stdout.strip()
    (env["work"] / "nothing.nix").write_text("{ infrastructure }: { }\n")
    run = deploy(env, 6002, distribution=str(env["work"] / "nothing.nix"))
    assert run.rc == 0, run
    assert lab.ssh(HOST, f"kill -0 {pid}", check=False).returncode != 0
    assert lab.ssh(HOST, f"test -e {marked}", check=False).returncode != 0
    last = [e for e in lab.activation_log(HOST) if e["op"] == "deactivate"][-1]
    assert (last["service"], last["via"], last["ok"]) == ("hello_world_server", "dysnomia", True), last


BARE = "bare"


@pytest.fixture(scope="module")
def bare(env, tmp_path_factory):
    """A second fresh host in the same lab, with an inventory of its own and no variables."""
    inventory = tmp_path_factory.mktemp("bare")
    (inventory / "infrastructure.nix").write_text('{ bare = { properties.hostname = "bare"; }; }\n')
    (inventory / "lab.disnix.yml").write_text("plugin: disnix.deploy.infrastructure\ninfrastructure: infrastructure.nix\n")
    env["lab"].up(BARE, no_nix=(BARE,))
    return env["lab"], str(inventory / "lab.disnix.yml")


def fatal_lines(run) -> list[str]:
    return [line for line in run.out.splitlines() if line.startswith("fatal: ")]


@pytest.mark.parametrize("extra, needs", [
    ({}, "set dysnomia_source_file (a controller-side copy of dysnomia-0.10.2.tar.gz) or dysnomia_source_url"),
    ({"dysnomia_source_file": "/nonexistent/dysnomia-0.10.2.tar.gz",
      "disnix_service_source_file": "/nonexistent/disnix-0.10.3.tar.gz"},
     "cannot download nix-bin"),
])
def test_bootstrap_without_inputs_stops_at_the_first_step(bare, extra, needs):
    lab, inventory = bare
    run = lab.playbook("bootstrap.yml", inventory, extra_vars=extra or None)
    assert run.rc != 0, run
    fatal = fatal_lines(run)
    assert len(fatal) == 1 and needs in fatal[0] and "\\n" not in fatal[0], fatal
    if "nix-bin" in needs:
        assert "set nix_deb_dir" in fatal[0], fatal
    # stopped before any change: no task changed anything, no Nix, no build directory
    assert run.recap[BARE]["changed"] == 0, run
    assert lab.ssh(BARE, "test -e /nix || test -e /var/lib/disnix-deploy", check=False).returncode != 0
