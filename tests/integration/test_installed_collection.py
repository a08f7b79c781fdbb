# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection as a user gets it: built from this checkout with ansible-galaxy, installed
into a collections path of its own, and used from a directory outside the checkout with the
ansible.cfg that docs/install.md gives (not the checkout's). The hello-world example shipped
in the tarball is deployed with `ansible-playbook disnix.deploy.deploy` to two lab hosts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile

import pytest

from conftest import LAB, RECAP, REPO, VENV_BIN, needs_lab

pytestmark = needs_lab

INSTALL_DOC = os.path.join(REPO, "docs", "install.md")
CLIENT = "/nix/var/nix/profiles/disnix/default/bin/hello-world-client"
# a port of this run's own, so the server is built and started by this run
PORT = 20000 + (os.getpid() + 7919) % 20000

# what a user of the collection gets at the top of the tarball, and nothing else
SHIPPED = {"MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.md", "CHANGELOG.rst", "changelogs", "LICENSE",
           "COPYING", "LICENSES", "docs", "examples", "meta", "playbooks", "plugins", "roles"}
NEEDED = {"MANIFEST.json", "FILES.json", "README.md", "docs", "examples", "meta", "playbooks", "plugins", "roles"}

INFRASTRUCTURE = """{
  test1 = { properties.hostname = "test1"; system = "x86_64-linux"; };
  test2 = { properties.hostname = "test2"; system = "x86_64-linux"; };
}
"""
DISTRIBUTION = """{ infrastructure }:
{
  hello_world_server = [ infrastructure.test2 ];
  hello_world_client = [ infrastructure.test1 ];
}
"""


def documented_ansible_cfg() -> str:
    """The ansible.cfg that docs/install.md tells a user to write (its first ini block)."""
    with open(INSTALL_DOC, encoding="utf-8") as f:
        text = f.read()
    match = re.search(r"^```ini\n(.*?)^```", text, re.M | re.S)
    assert match, "docs/install.md has no ```ini block with the ansible.cfg"
    return match.group(1)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A user's side: the built tarball, a collections path with it installed, a project
    directory outside the checkout and an Ansible home of its own."""
    root = tmp_path_factory.mktemp("installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_HOME=str(root / "home"),
               ANSIBLE_COLLECTIONS_PATH=str(root / "collections"),
               # only the collections path: nothing found through Python's sys.path
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    env.pop("PYTHONPATH", None)
    dist = root / "dist"
    subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(dist), REPO],
                   env=env, cwd=str(root), check=True, capture_output=True, text=True)
    tarballs = sorted(dist.glob("disnix-deploy-*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    subprocess.run(["ansible-galaxy", "collection", "install", str(tarballs[0])],
                   env=env, cwd=str(root), check=True, capture_output=True, text=True)
    site = root / "site"
    site.mkdir()
    (site / "ansible.cfg").write_text(documented_ansible_cfg())
    (site / "infrastructure.nix").write_text(INFRASTRUCTURE)
    (site / "distribution.nix").write_text(DISTRIBUTION)
    (site / "site.disnix.yml").write_text("plugin: disnix.deploy.infrastructure\ninfrastructure: infrastructure.nix\n")
    return {"root": root, "env": env, "tarball": tarballs[0], "site": site,
            "installed": root / "collections" / "ansible_collections" / "disnix" / "deploy"}


def tar_member(path, name: str) -> str:
    with tarfile.open(path) as tar:
        member = tar.extractfile(name)
        assert member is not None
        return member.read().decode()


def test_tarball_ships_the_collection_and_none_of_the_checkouts_tooling(workspace):
    with tarfile.open(workspace["tarball"]) as tar:
        names = tar.getnames()
    top = {n.split("/", 1)[0] for n in names}
    assert NEEDED <= top, sorted(NEEDED - top)
    assert top <= SHIPPED, f"unexpected at the top of the tarball: {sorted(top - SHIPPED)}"
    for absent in ("Makefile", "scripts", "scripts/setup", "tests", "tests/lab/lab", "ansible.cfg", "extensions",
                   ".venv", ".collections", ".ci", "requirements-dev.txt", "pytest.ini"):
        assert absent not in names
    assert not [n for n in names if re.search(r"(^|/)\.", n)], "dotfiles in the tarball"
    for needed in ("playbooks/deploy.yml", "playbooks/bootstrap.yml", "playbooks/rollback.yml",
                   "playbooks/unlock.yml", "plugins/inventory/infrastructure.py", "meta/runtime.yml",
                   "meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt",
                   "examples/hello-world/services.nix", "docs/install.md"):
        assert needed in names, needed
    manifest = json.loads(tar_member(workspace["tarball"], "MANIFEST.json"))
    info = manifest["collection_info"]
    for key in ("repository", "homepage", "documentation", "issues"):
        assert info[key].startswith("https://github.com/disnix-deploy/disnix.deploy"), (key, info[key])


def test_only_the_installed_copy_is_found(workspace):
    proc = subprocess.run(["ansible-galaxy", "collection", "list", "disnix.deploy", "--format", "json"],
                          env=workspace["env"], cwd=str(workspace["site"]), capture_output=True, text=True, check=True)
    found = json.loads(proc.stdout)
    assert list(found) == [str(workspace["installed"].parent.parent)], found
    assert not os.path.exists(workspace["installed"] / "Makefile")


def test_fqcn_deploy_from_outside_the_checkout_runs_hello_world(lab_instance, workspace, tmp_path):
    lab = lab_instance
    lab.up("test1", "test2")
    site = workspace["site"]
    example = workspace["installed"] / "examples" / "hello-world"
    extra = {"disnix_services": str(example / "services.nix"), "disnix_distribution": "distribution.nix",
             "disnix_coordinator_profile_dir": str(tmp_path / "coordinator"),
             "disnix_extra_params": {"serverPort": PORT}}
    # as a user would type it, from their own directory: the FQCN playbook, relative paths
    env = dict(workspace["env"], DISNIX_LAB=lab.instance)
    proc = subprocess.run([LAB, "run", "--", "ansible-playbook", "disnix.deploy.deploy", "-i", "site.disnix.yml",
                           "-e", json.dumps(extra), "-v"], env=env, cwd=str(site), capture_output=True, text=True,
                          timeout=900, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-12000:]
    recap = {m["host"]: int(m["failed"]) for m in RECAP.finditer(out)}
    # deploy.yml's first play checks, on the controller, that the run has targets
    assert recap == {"localhost": 0, "test1": 0, "test2": 0}, out[-4000:]
    # under the documented ansible.cfg of the user's directory, not the checkout's
    assert f"Using {site / 'ansible.cfg'} as config file" in out, out[:2000]
    answer = lab.ssh("test1", f"printf 'hello\\nquit\\n' | {CLIENT}", check=False)
    assert answer.stdout == "Hello world!\n", answer
    assert f"test2 {PORT}" in lab.ssh("test1", f"cat {CLIENT}").stdout
    assert lab.ssh("test2", "kill -0 $(cat /var/run/hello-world-server.pid)", check=False).returncode == 0
