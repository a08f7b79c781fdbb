# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The WinRM part of playbooks/bootstrap.yml (role disnix.deploy.cygwin) against a fake
Windows machine.

There is no Windows here. Ansible's real winrm connection plugin (pywinrm, HTTP, Basic
authentication) talks to winrm_endpoint.WinRMEndpoint on 127.0.0.1, which hands every
PowerShell script the role sends to FakeWindows below. FakeWindows does what each step
of the role asks (it reads the step's name and parameters from the script) to a small
model of the machine: files, installed Cygwin packages, services, firewall rules, keys.

What this covers: the play's connection settings (cygwin_winrm_* mapped to ansible_*),
that the role needs nothing but raw (no PowerShell modules), the order of the steps and
the parameters they carry, changed/ok reporting (a second run reports changed=0), check
mode, failures (a failing Cygwin setup, a wrong password), and that the sshd password
stays out of the output. What it does not cover: the PowerShell itself, which only a
real Windows machine runs (docs/bootstrap.md).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from winrm_endpoint import WinRMEndpoint  # noqa: E402  (test helper next to this file)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)
PASSWORD = "Winrm-Pa55"
SSHD_PASSWORD = "cyg-server-Secret-42"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBootstrapTestKeyOnlyForTheFakeWindowsMachine0 test@controller"
STEPS = ["cygwin-installer", "cygwin-packages", "cygwin-sshd", "cygwin-authorized-keys", "cygwin-firewall",
         "cygwin-sshd-running"]


class FakeWindows:
    """The state a Windows machine would have, changed the way each step of the role says."""

    def __init__(self, setup_exit_code: int = 0) -> None:
        self.setup_exit_code = setup_exit_code
        self.files: set[str] = set()
        self.packages: set[str] = set()
        self.services: dict[str, dict] = {}
        self.firewall: dict[str, int] = {}
        self.keys: dict[str, list[str]] = {}
        self.calls: list[tuple[str, dict]] = []

    def state(self) -> dict:
        return json.loads(json.dumps({"files": sorted(self.files), "packages": sorted(self.packages),
                                      "services": self.services, "firewall": self.firewall, "keys": self.keys}))

    def __call__(self, script: str) -> tuple[str, str, int]:
        step = re.search(r"^# disnix-step: (\S+)$", script, re.M)
        blob = re.search(r"FromBase64String\('([A-Za-z0-9+/=]+)'\)", script)
        if not step or not blob:
            return "", f"not a step of the cygwin role: {script[:200]!r}", 1
        if "{{" in script or "{%" in script or "$ErrorActionPreference = 'Stop'" not in script:
            return "", "unrendered template or no ErrorActionPreference", 1
        params = json.loads(base64.b64decode(blob.group(1)))
        self.calls.append((step.group(1), params))
        return getattr(self, step.group(1).replace("-", "_"))(params)

    @staticmethod
    def changed(message: str) -> tuple[str, str, int]:
        return f"DISNIX-CHANGED: {message}\n", "", 0

    @staticmethod
    def ok(message: str) -> tuple[str, str, int]:
        return f"DISNIX-OK: {message}\n", "", 0

    def cygwin_installer(self, p):
        if p["setup"] in self.files:
            return self.ok("installer present")
        if not p["check"]:
            self.files.add(p["setup"])
        return self.changed(f"downloaded {p['url']}")

    def cygwin_packages(self, p):
        missing = sorted(set(p["packages"]) - self.packages)
        if not missing:
            return self.ok("all installed")
        if p["check"]:
            return self.changed(f"would install {missing}")
        if p["setup"] not in self.files:
            return "", f"no installer at {p['setup']}", 1
        if self.setup_exit_code:
            return "", f"Cygwin setup failed with exit code {self.setup_exit_code}", 1
        self.packages |= set(p["packages"])
        self.files.add(p["root"] + "\\bin\\bash.exe")
        return self.changed(f"installed {missing}")

    def cygwin_sshd(self, p):
        if p["service"] in self.services:
            return self.ok("service exists")
        if p["check"]:
            return self.changed("would run ssh-host-config")
        if "openssh" not in self.packages or "ssh-host-config" not in p["script"]:
            return "", "ssh-host-config: not installed", 1
        self.services[p["service"]] = {"running": False, "auto": False, "port": p["port"],
                                       "password_set": bool(p["password"])}
        return self.changed("configured sshd")

    def cygwin_authorized_keys(self, p):
        have = self.keys.get(p["user"], [])
        missing = [k for k in p["keys"] if k not in have]
        if not missing:
            return self.ok("keys present")
        if not p["check"]:
            self.keys[p["user"]] = have + missing
        return self.changed("keys added")

    def cygwin_firewall(self, p):
        if p["rule"] in self.firewall:
            return self.ok("rule exists")
        if not p["check"]:
            self.firewall[p["rule"]] = p["port"]
        return self.changed(f"allowed {p['port']}")

    def cygwin_sshd_running(self, p):
        service = self.services.get(p["service"])
        if service is None:
            return self.changed("would start") if p["check"] else ("", "There is no service", 1)
        if service["running"] and service["auto"]:
            return self.ok("running")
        if not p["check"]:
            service.update(running=True, auto=True)
        return self.changed("started")


def bootstrap(tmp_path, endpoint: WinRMEndpoint, *args: str, password: str = PASSWORD,
              host_vars: dict | None = None) -> subprocess.CompletedProcess:
    inventory = {"all": {"children": {"disnix_targets": {"hosts": {"win1": {
        "ansible_host": "127.0.0.1",
        "disnix_system": "x86_64-cygwin",
        "disnix_user": "sander",
        "cygwin_winrm_user": "Administrator",
        "cygwin_winrm_password": password,
        "cygwin_winrm_port": endpoint.port,
        "cygwin_winrm_scheme": "http",
        "cygwin_winrm_transport": "basic",
        "cygwin_winrm_cert_validation": "ignore",
        "ansible_winrm_message_encryption": "never",
        "ansible_winrm_operation_timeout_sec": 5,
        "ansible_winrm_read_timeout_sec": 10,
        "cygwin_authorized_keys": [KEY],
        **(host_vars or {}),
    }}}}}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(["ansible-playbook", os.path.join(REPO, "playbooks", "bootstrap.yml"), "-i", str(path),
                           "--tags", "cygwin", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          check=False, timeout=300)


def recap(proc: subprocess.CompletedProcess) -> dict[str, int]:
    match = re.search(r"^win1\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout, re.M)
    assert match, proc.stdout + proc.stderr
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


@pytest.fixture
def windows():
    machine = FakeWindows()
    with WinRMEndpoint(machine, password=PASSWORD) as endpoint:
        yield machine, endpoint


def test_fresh_machine_gets_cygwin_sshd_and_keys_then_nothing_changes(tmp_path, windows):
    machine, endpoint = windows
    first = bootstrap(tmp_path, endpoint)
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first)["changed"] == len(STEPS)
    assert [call[0] for call in machine.calls] == STEPS
    params = dict(machine.calls)
    assert params["cygwin-packages"]["root"] == "C:\\cygwin64"
    assert {"openssh", "cygrunsrv", "dbus", "python3", "make"} <= set(params["cygwin-packages"]["packages"])
    assert params["cygwin-sshd"]["port"] == 22 and params["cygwin-sshd"]["service"] == "cygsshd"
    state = machine.state()
    assert state["services"] == {"cygsshd": {"running": True, "auto": True, "port": 22, "password_set": False}}
    assert state["firewall"] == {"Cygwin sshd": 22}
    assert state["keys"] == {"sander": [KEY]}

    second = bootstrap(tmp_path, endpoint)
    assert second.returncode == 0, second.stdout + second.stderr
    assert recap(second)["changed"] == 0, second.stdout
    assert machine.state() == state


def test_check_mode_reports_changes_and_changes_nothing(tmp_path, windows):
    machine, endpoint = windows
    run = bootstrap(tmp_path, endpoint, "--check")
    assert run.returncode == 0, run.stdout + run.stderr
    assert recap(run)["changed"] == len(STEPS)
    assert all(params["check"] for _step, params in machine.calls)
    assert machine.state() == FakeWindows().state()


def test_failing_cygwin_setup_stops_the_host(tmp_path):
    machine = FakeWindows(setup_exit_code=1)
    with WinRMEndpoint(machine, password=PASSWORD) as endpoint:
        run = bootstrap(tmp_path, endpoint)
    assert run.returncode != 0
    assert recap(run)["failed"] == 1
    assert "Cygwin setup failed with exit code 1" in run.stdout
    assert [call[0] for call in machine.calls] == STEPS[:2]
    assert machine.services == {}


def test_wrong_password_is_unreachable(tmp_path, windows):
    machine, endpoint = windows
    run = bootstrap(tmp_path, endpoint, password="wrong")
    assert run.returncode != 0
    assert recap(run)["unreachable"] == 1
    assert endpoint.failed_logins > 0
    assert machine.calls == []


def test_sshd_password_stays_out_of_the_output(tmp_path, windows):
    machine, endpoint = windows
    run = bootstrap(tmp_path, endpoint, "-vvv", host_vars={"cygwin_sshd_password": SSHD_PASSWORD})
    assert run.returncode == 0, run.stdout + run.stderr
    assert machine.services["cygsshd"]["password_set"]
    assert SSHD_PASSWORD not in run.stdout + run.stderr
    encoded = base64.b64encode(SSHD_PASSWORD.encode()).decode()[:16]
    assert encoded not in run.stdout + run.stderr
