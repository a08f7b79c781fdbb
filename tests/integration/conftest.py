# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared helpers of the integration tests: a lab instance per test module, and running
Ansible inside the lab's controller namespace the way a user would."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(REPO, "tests", "lab", "lab")
VENV_BIN = os.path.dirname(sys.executable)

needs_lab = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.skipif(shutil.which("nix-build") is None or not os.path.exists("/usr/sbin/sshd"),
                       reason="needs nix-bin and openssh-server (make setup)"),
]

RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
                   r"failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)", re.M)


@dataclass
class Run:
    """An ansible-playbook run: its output, exit code and recap."""

    rc: int
    out: str
    recap: dict[str, dict[str, int]]

    @property
    def changed(self) -> int:
        return sum(h["changed"] for h in self.recap.values())

    def __str__(self) -> str:
        return f"rc={self.rc}\n{self.out[-12000:]}"

    __repr__ = __str__


class Lab:
    """One instance of tests/lab/lab (DISNIX_LAB=<instance>)."""

    def __init__(self, instance: str) -> None:
        self.instance = instance
        self.env = dict(os.environ, DISNIX_LAB=instance, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                        PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_NOCOLOR="1",
                        ANSIBLE_FORCE_COLOR="0")
        for var in ("DISNIX_LAB_DIR", "DISNIX_LAB_NET"):
            self.env.pop(var, None)

    def lab(self, *args: str, check: bool = True, timeout: int = 300, stdin: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([LAB, *args], env=dict(self.env, **(env or {})), cwd=REPO, capture_output=True, text=True,
                              timeout=timeout, input=stdin, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"lab {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def up(self, *hosts: str, systems: dict[str, str] | None = None, no_nix: tuple[str, ...] = ()) -> None:
        args = []
        for host, system in (systems or {}).items():
            args += ["--system", f"{host}={system}"]
        for host in no_nix:
            args += ["--no-nix", host]
        self.lab("up", *args, *hosts)

    def down(self) -> None:
        self.lab("down", check=False)

    def run(self, *cmd: str, check: bool = True, timeout: int = 300, stdin: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """CMD in the lab's controller namespace, from the repository root."""
        return self.lab("run", "--", *cmd, check=check, timeout=timeout, stdin=stdin, env=env)

    def ssh(self, host: str, command: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
        return self.run("ssh", host, command, check=check, stdin=stdin)

    def playbook(self, playbook: str, inventory: str, *args: str, extra_vars: dict | None = None,
                 timeout: int = 600) -> Run:
        cmd = ["ansible-playbook", os.path.join(REPO, "playbooks", playbook), "-i", inventory, *args]
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        proc = self.run(*cmd, check=False, timeout=timeout)
        out = proc.stdout + proc.stderr
        recap = {m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"} for m in RECAP.finditer(out)}
        return Run(proc.returncode, out, recap)

    def activation_log(self, host: str) -> list[dict]:
        """The target's own record of (de)activations, oldest first."""
        proc = self.ssh(host, "cat /var/log/disnix/activations.log 2>/dev/null || true")
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


# Lab names are unique to this test run, so two runs side by side (or a run next to a demo)
# never stop each other's hosts: DISNIX_TEST_RUN names the run (scripts/test sets it).
RUN_PREFIX = re.sub(r"[^A-Za-z0-9]", "", os.environ.get("DISNIX_TEST_RUN") or "r%d" % os.getpid())[:10] + "_"


@pytest.fixture(scope="module")
def lab_instance(request):
    """A fresh lab per test module, named after it; stopped when the module is done."""
    name = re.sub(r"[^a-z0-9]", "", request.module.__name__.rsplit(".", 1)[-1].replace("test_", ""))[:8] or "it"
    lab = Lab(RUN_PREFIX + name)
    lab.down()
    yield lab
    lab.down()


@pytest.fixture(scope="session")
def upstream():
    """The real upstream Disnix and Dysnomia, built once into a cache (tests/integration/upstream.py)."""
    import upstream as upstream_tools  # pylint: disable=import-outside-toplevel

    try:
        prefix, seconds = upstream_tools.build()
    except upstream_tools.UpstreamUnavailable as exc:
        pytest.skip(f"upstream Disnix unavailable: {exc}")
    if seconds > 30:
        print(f"\n[upstream] built the upstream toolset in {seconds:.0f} s: {prefix}")
    return upstream_tools.Upstream(prefix)


def write_inventory(directory, infrastructure_nix: str, name: str = "lab.disnix.yml") -> str:
    """A disnix inventory source for a model text; returns the config file path."""
    os.makedirs(directory, exist_ok=True)
    model = os.path.join(directory, "infrastructure.nix")
    with open(model, "w", encoding="utf-8") as f:
        f.write(infrastructure_nix)
    config = os.path.join(directory, name)
    with open(config, "w", encoding="utf-8") as f:
        f.write("plugin: disnix.deploy.infrastructure\ninfrastructure: infrastructure.nix\n")
    return config


# -- the fault suite's figures, over its modules (faults_cases.py) -----------------------------

_OWN_PARTS: list[str] = []


def pytest_configure(config):
    # on the controlling process only; pytest-xdist's workers inherit the variable
    if not hasattr(config, "workerinput") and not os.environ.get("DISNIX_FAULT_PARTS"):
        os.environ["DISNIX_FAULT_PARTS"] = tempfile.mkdtemp(prefix="disnix-fault-parts-")
        _OWN_PARTS.append(os.environ["DISNIX_FAULT_PARTS"])


def pytest_terminal_summary(terminalreporter, config):
    parts_dir = os.environ.get("DISNIX_FAULT_PARTS")
    if hasattr(config, "workerinput") or not parts_dir or not os.path.isdir(parts_dir):
        return
    parts = []
    for name in sorted(os.listdir(parts_dir)):
        with open(os.path.join(parts_dir, name), encoding="utf-8") as f:
            parts.append(json.load(f))
    if not parts:
        return
    total = {k: sum(p[k] for p in parts) for k in ("faults_injected", "restored", "services_lost")}
    line = "faults injected: {faults_injected}, restored: {restored}, services lost: {services_lost}".format(**total)
    terminalreporter.write_sep("=", "fault suite")
    for p in parts:
        terminalreporter.write_line(f"{p['module']}: {p['faults_injected']} injected, {p['restored']} restored, "
                                    f"{p['services_lost']} lost, {len(p['cases'])} case(s) in {p['runtime_s']:.0f} s")
    terminalreporter.write_line(line)
    path = os.environ.get("DISNIX_FAULT_REPORT")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(dict(total, summary=line, modules=parts), f, indent=2)
            f.write("\n")
    if parts_dir in _OWN_PARTS:
        shutil.rmtree(parts_dir, ignore_errors=True)
