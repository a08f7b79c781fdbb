# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test packages and fixtures for the target-side code: real scripts, real processes, in a
temporary directory. Every process a test starts is killed by pid when the test ends."""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.disnix.deploy.plugins.module_utils import profiles

HAVE_NIX = shutil.which("nix-store") is not None and shutil.which("nix-env") is not None
needs_nix = pytest.mark.skipif(not HAVE_NIX, reason="needs Nix (nix-store, nix-env)")

# daemonizes `sleep` and writes its pid file, as a process-type service must
DAEMON = """\
#!/bin/sh
sleep 600 </dev/null >/dev/null 2>&1 &
echo $! > "$runtimeDir/{name}.pid"
echo "started {name}"
"""

# every operation is recorded; `lock` exits with the content of $stateDir/lock_status;
# activate fails while $stateDir/fail_activate exists; S/E lines show overlapping runs
WRAPPER = """\
#!/bin/sh
echo "$1 $2" >> "$stateDir/ops"
case "$1" in
  lock) exit "$(cat "$stateDir/lock_status" 2>/dev/null || echo 0)" ;;
  activate)
    if [ -e "$stateDir/fail_activate" ]; then echo "cannot activate: told to fail"; exit 3; fi
    echo S >> "$stateDir/overlap"
    sleep "${{delay:-0}}"
    echo E >> "$stateDir/overlap"
    touch "$stateDir/active.{name}" ;;
  deactivate) rm -f "$stateDir/active.{name}" ;;
esac
exit 0
"""


def write_script(path: str, text: str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o755)
    return path


@dataclasses.dataclass
class Lab:
    """A temporary target: package directories, runtime/state/log/tmp dirs, a profiles dir."""

    root: str

    def __post_init__(self) -> None:
        for sub in ("pkgs", "run", "state", "log", "tmp", "profiles"):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @property
    def run_dir(self) -> str:
        return self.path("run")

    @property
    def state_dir(self) -> str:
        return self.path("state")

    @property
    def log_dir(self) -> str:
        return self.path("log")

    @property
    def tmpdir(self) -> str:
        return self.path("tmp")

    def process_pkg(self, name: str) -> str:
        pkg = self.path("pkgs", name)
        write_script(os.path.join(pkg, "bin", name), DAEMON.format(name=name))
        return pkg

    def wrapper_pkg(self, name: str) -> str:
        pkg = self.path("pkgs", name)
        write_script(os.path.join(pkg, "bin", "wrapper"), WRAPPER.format(name=name))
        return pkg

    def plain_pkg(self, name: str) -> str:
        pkg = self.path("pkgs", name)
        os.makedirs(os.path.join(pkg, "bin"), exist_ok=True)
        return pkg

    def process_props(self) -> dict:
        return {"runtimeDir": self.run_dir}

    def wrapper_props(self, **extra) -> dict:
        props = {"stateDir": self.state_dir}
        props.update(extra)
        return props

    def pid_of(self, name: str) -> int | None:
        try:
            with open(self.path("run", name + ".pid"), encoding="utf-8") as handle:
                return int(handle.read().strip())
        except (OSError, ValueError):
            return None

    def wrapper_ops(self) -> list[str]:
        try:
            with open(self.path("state", "ops"), encoding="utf-8") as handle:
                return handle.read().splitlines()
        except FileNotFoundError:
            return []

    def log_entries(self) -> list[dict]:
        try:
            with open(self.path("log", "activations.log"), encoding="utf-8") as handle:
                return [json.loads(line) for line in handle if line.strip()]
        except FileNotFoundError:
            return []

    def deploy_manifest(self, services: list[dict], profile: str = "default") -> str:
        """Make ``services`` the deployed profile (a plain directory; no Nix needed)."""
        store = self.path("profile-" + str(len(os.listdir(self.path("profiles")))))
        os.makedirs(store)
        with open(os.path.join(store, "profilemanifest.json"), "w", encoding="utf-8") as handle:
            json.dump({"version": 1, "profile": profile, "target": "test1", "services": services}, handle)
        link = os.path.join(self.path("profiles"), profile)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(store, link)
        return store

    def kill_all(self) -> None:
        """Kill every process named by a pid file under run/ (the daemons the tests started)."""
        for pid_file in glob.glob(self.path("run", "*.pid")):
            try:
                with open(pid_file, encoding="utf-8") as handle:
                    pid = int(handle.read().strip())
            except (OSError, ValueError):
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
            return handle.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return True


def wait_dead(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """A temporary target; the profiles directory points into it."""
    the_lab = Lab(str(tmp_path))
    monkeypatch.setattr(profiles, "PROFILES_DIR", the_lab.path("profiles"))
    monkeypatch.delenv("TMPDIR", raising=False)
    yield the_lab
    the_lab.kill_all()


def nix_add(directory: str) -> str:
    """Add a directory to the real Nix store; its store path."""
    return subprocess.run(["nix-store", "--add", directory], check=True, stdout=subprocess.PIPE,
                          universal_newlines=True).stdout.strip()


@pytest.fixture
def store_profile(tmp_path):
    """A function making a real profile store path holding a profilemanifest.json."""
    counter = [0]

    def make(services: list[dict] | None = None, tag: str = "") -> str:
        counter[0] += 1
        directory = tmp_path / ("profile-%d" % counter[0])
        (directory / "bin").mkdir(parents=True)
        manifest = {"version": 1, "profile": "default", "target": "test1", "services": services or [],
                    "tag": "%s-%s-%d" % (tag, time.time_ns(), counter[0])}
        (directory / "profilemanifest.json").write_text(json.dumps(manifest))
        return nix_add(str(directory))

    return make


def run_module(main, args: dict, capsys) -> dict:
    """Run a module's main() with ``args``; its JSON result (``failed`` set on failure)."""
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            main()
    out = capsys.readouterr().out
    return json.loads(out)
