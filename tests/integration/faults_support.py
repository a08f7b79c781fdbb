# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault injection on lab hosts for test_faults.py and test_concurrency.py.

Black box only: deployments are real `ansible-playbook playbooks/deploy.yml` runs in the
lab's controller namespace; what a target runs is read inside the host (nsenter through
`lab exec`, which needs no network, so it works while a host is cut off). Faults are real
conditions on the hosts: marker files the test services obey (models/faults/services.nix),
immutable directories (chattr +i), a nix-store wrapper first on the ssh PATH, blackhole
routes in a host's network namespace, a stopped sshd with its sessions killed, and SIGKILL
of the controller's process group.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

from conftest import LAB, RECAP, REPO, Lab, Run

MODELS = os.path.join(REPO, "tests", "integration", "models", "faults")
INVENTORY = os.path.join(MODELS, "lab.disnix.yml")
HOSTS = ("test1", "test2", "test3")
SERVICES = ("s1", "s2", "s3", "s4", "s5")
DISTRIBUTIONS = {
    "a": {"s1": "test1", "s2": "test2", "s3": "test3", "s4": "test1", "s5": "test2"},
    "b": {"s1": "test2", "s2": "test3", "s3": "test1", "s4": "test2", "s5": "test3"},
}
PROFILE = "default"
LOCK = f"/tmp/disnix-{PROFILE}.lock"
JOURNAL = f"/tmp/disnix-{PROFILE}.journal"
MARKERS = "/tmp/fault"
# one ansible-playbook run at most this long (s); a run that hangs is killed and fails the test
RUN_TIMEOUT = float(os.environ.get("DISNIX_FAULT_RUN_TIMEOUT") or 300)
# a lost host is noticed within ~5 s: connect timeout, and keepalives on open connections
FAST_SSH_ENV = {
    "ANSIBLE_TIMEOUT": "5",
    "ANSIBLE_SSH_ARGS": "-C -o ControlMaster=auto -o ControlPersist=60s -o ConnectTimeout=5 "
                        "-o ServerAliveInterval=1 -o ServerAliveCountMax=5",
}

# Read inside a host: the service processes (with their arguments), the profile link and
# what it resolves to, the services' state files, the lock and the journal.
SNAPSHOT_PY = r"""
import glob, json, os
found = {}
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) == os.getpid():
        continue
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            argv = [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
        with open("/proc/%s/stat" % pid, encoding="utf-8") as f:
            ppid = f.read().rsplit(")", 1)[1].split()[1]
    except (OSError, IndexError):
        continue
    if any("/libexec/fault-daemon-" in a for a in argv):
        found[pid] = (" ".join(argv), ppid)
# the daemon's loop forks a subshell for `sleep 1 &`; until it execs sleep it has the
# daemon's command line: that child is not a second daemon
procs = [cmd for pid, (cmd, ppid) in found.items() if found.get(ppid, (None,))[0] != cmd]
def text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None
link = "/nix/var/nix/profiles/disnix/@PROFILE@"
print(json.dumps({
    "processes": sorted(procs),
    "profile_link": os.readlink(link) if os.path.islink(link) else None,
    "profile": os.path.realpath(link) if os.path.lexists(link) else None,
    "state_files": {os.path.basename(p): text(p) for p in sorted(glob.glob("/var/lib/fault-svc/*.state"))},
    "lock": text("@LOCK@"),
    "journal": text("@JOURNAL@"),
}))
""".replace("@PROFILE@", PROFILE).replace("@LOCK@", LOCK).replace("@JOURNAL@", JOURNAL)


def daemon_service(cmdline: str) -> str:
    """The service a fault-daemon process belongs to: "/bin/sh .../libexec/fault-daemon-s3" -> s3."""
    return [a for a in cmdline.split() if "/libexec/fault-daemon-" in a][0].rsplit("fault-daemon-", 1)[1]


@dataclass
class Background:
    """An ansible-playbook run in its own process group (so it can be killed as a whole)."""

    proc: subprocess.Popen
    started: float = field(default_factory=time.monotonic)

    def done(self) -> bool:
        return self.proc.poll() is not None

    def kill(self) -> None:
        """SIGKILL the whole process group: lab run, ansible-playbook, its workers and ssh clients."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.communicate()

    def wait(self, timeout: float = RUN_TIMEOUT) -> Run:
        try:
            out = self.proc.communicate(timeout=max(1.0, timeout - (time.monotonic() - self.started)))[0]
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"ansible-playbook did not finish within {timeout:.0f} s (DISNIX_FAULT_RUN_TIMEOUT); killed")
        recap = {m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"} for m in RECAP.finditer(out)}
        return Run(self.proc.returncode, out, recap)


class FaultLab:
    """A started lab of HOSTS with the fault model, and the means to break it."""

    @classmethod
    def deployed(cls, lab: Lab, coordinator: str, stamp: str) -> "FaultLab":
        """The lab's hosts up, every fault healed, distribution a deployed with STAMP."""
        lab.up(*HOSTS)
        fl = cls(lab, coordinator)
        fl.heal_all()
        run = fl.deploy("a", stamp)
        assert run.rc == 0, run
        fl.current = ("a", stamp)
        fl.dirty = False
        return fl

    def __init__(self, lab: Lab, coordinator: str) -> None:
        self.lab = lab
        self.coordinator = coordinator
        self.state_dir = f"/tmp/disnix-lab-{lab.instance}"
        self.routes_dropped: set[str] = set()
        self.stopped_sshd: set[str] = set()
        self.immutable: set[str] = set()
        self.wrapped: set[str] = set()
        self.tally = None  # the module's fault figures (faults_cases.Tally)

    # -- running things -------------------------------------------------------------------
    def start(self, playbook: str, *args: str, extra_vars: dict | None = None, inventory: str = INVENTORY,
              env: dict | None = None) -> Background:
        cmd = [LAB, "run", "--", "ansible-playbook", os.path.join(REPO, "playbooks", playbook), "-i", inventory, *args]
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        proc = subprocess.Popen(cmd, env=dict(self.lab.env, **FAST_SSH_ENV, **(env or {})), cwd=REPO, text=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        return Background(proc)

    def playbook(self, playbook: str, *args: str, **kw) -> Run:
        return self.start(playbook, *args, **kw).wait()

    def deploy_vars(self, dist: str, stamp: str, **extra_params) -> dict:
        return {"disnix_services": os.path.join(MODELS, "services.nix"),
                "disnix_distribution": os.path.join(MODELS, f"distribution-{dist}.nix"),
                "disnix_coordinator_profile_dir": self.coordinator,
                "disnix_extra_params": {"stamp": stamp, **extra_params}}

    def start_deploy(self, dist: str, stamp: str, *args: str, extra_params: dict | None = None,
                     inventory: str = INVENTORY, **extra_vars) -> Background:
        return self.start("deploy.yml", *args, inventory=inventory,
                          extra_vars={**self.deploy_vars(dist, stamp, **(extra_params or {})), **extra_vars})

    def deploy(self, dist: str, stamp: str, *args: str, **kw) -> Run:
        return self.start_deploy(dist, stamp, *args, **kw).wait()

    def unlock(self) -> Run:
        return self.playbook("unlock.yml")

    def sh(self, host: str, script: str, check: bool = True) -> subprocess.CompletedProcess:
        """A shell script inside the host (nsenter: works while its network is cut)."""
        return self.lab.lab("exec", host, "--", "/bin/sh", "-c", script, check=check, timeout=60)

    # -- reading state --------------------------------------------------------------------
    def snapshot(self, host: str) -> dict:
        proc = self.lab.lab("exec", host, "--", "/usr/bin/python3", "-c", SNAPSHOT_PY, timeout=60)
        return json.loads(proc.stdout)

    def snapshots(self) -> dict[str, dict]:
        return {h: self.snapshot(h) for h in HOSTS}

    def generations(self) -> dict:
        """The controller's generations of the profile and which one is current."""
        links = sorted(e for e in os.listdir(self.coordinator) if e.startswith(PROFILE + "-") and e.endswith("-link"))
        current = os.path.join(self.coordinator, PROFILE)
        return {"links": links, "current": os.readlink(current) if os.path.islink(current) else None}

    def running(self) -> dict[str, list[str]]:
        """service -> hosts on which a process of it runs."""
        where: dict[str, list[str]] = {}
        for host in HOSTS:
            for cmdline in self.snapshot(host)["processes"]:
                where.setdefault(daemon_service(cmdline), []).append(host)
        return where

    def locks(self) -> list[str]:
        return [h for h in HOSTS if self.sh(h, f"test -e {LOCK}", check=False).returncode == 0]

    def wait_for_file(self, host: str, path: str, run: Background | None = None, timeout: float = 120) -> None:
        """Until PATH exists on HOST; fails when RUN ends first (the point was never reached)."""
        deadline = time.monotonic() + timeout
        while self.sh(host, f"test -e {path}", check=False).returncode != 0:
            if run is not None and run.done():
                result = run.wait()
                raise AssertionError(f"the run ended before {host}:{path} appeared:\n{result}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{host}:{path} did not appear within {timeout} s")
            time.sleep(0.3)

    def wait_idle(self, host: str, timeout: float = 60) -> None:
        """Until no Ansible module (python3) and no service hook runs on HOST any more:
        steps a dead or cut-off controller started there have finished."""
        deadline = time.monotonic() + timeout
        while self.sh(host, "pgrep -f '[p]ython3|/bin/[w]rapper' >/dev/null", check=False).returncode == 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"{host}: steps of the interrupted run still running after {timeout} s")
            time.sleep(0.3)

    # -- markers the services obey --------------------------------------------------------
    def mark(self, host: str, name: str) -> None:
        self.sh(host, f"mkdir -p {MARKERS} && : > {MARKERS}/{name}")

    def unmark(self, host: str, name: str) -> None:
        self.sh(host, f"rm -f {MARKERS}/{name}")

    # -- faults ---------------------------------------------------------------------------
    def _netns(self, host: str) -> str:
        return f"dx-{self.lab.instance}-{host}"

    def _net(self) -> str:
        with open(os.path.join(self.state_dir, "net"), encoding="utf-8") as f:
            return f.read().strip()

    def drop_route(self, host: str) -> None:
        """Cut HOST off: blackhole routes to the whole lab subnet in its netns (silently
        dropped, like a lost link). Its processes, mounts and files are untouched."""
        net = self._net()
        for half in ("0/25", "128/25"):
            subprocess.run(["ip", "-n", self._netns(host), "route", "add", "blackhole", f"{net}.{half}"], check=True)
        self.routes_dropped.add(host)

    def restore_route(self, host: str) -> None:
        net = self._net()
        for half in ("0/25", "128/25"):
            subprocess.run(["ip", "-n", self._netns(host), "route", "del", "blackhole", f"{net}.{half}"], check=False)
        self.routes_dropped.discard(host)

    def _sshd_pid(self, host: str) -> int:
        with open(os.path.join(self.state_dir, "hosts", host, "sshd.pid"), encoding="utf-8") as f:
            return int(f.read().split()[0])

    def kill_sshd(self, host: str) -> None:
        """sshd dies: the listener stops answering (SIGSTOP: it is the host's PID 1, whose
        death would end the whole host) and every ssh session on it is killed."""
        os.kill(self._sshd_pid(host), signal.SIGSTOP)
        self.stopped_sshd.add(host)
        self.sh(host, "for p in $(pgrep -x sshd); do [ \"$p\" = 1 ] || kill -KILL \"$p\"; done", check=False)

    def restart_sshd(self, host: str) -> None:
        os.kill(self._sshd_pid(host), signal.SIGCONT)
        self.stopped_sshd.discard(host)

    def host_path(self, host: str, path: str) -> str:
        """PATH inside HOST as seen from the controller (the host's /nix is a plain directory)."""
        assert path.startswith("/nix/")
        return os.path.join(self.state_dir, "hosts", host, path.lstrip("/"))

    def make_immutable(self, host: str, path: str) -> None:
        """chattr +i: nothing (not even root) can create or remove entries in PATH on HOST."""
        subprocess.run(["chattr", "+i", self.host_path(host, path)], check=True)
        self.immutable.add(f"{host}:{path}")

    def make_mutable(self, host: str, path: str) -> None:
        subprocess.run(["chattr", "-i", self.host_path(host, path)], check=False)
        self.immutable.discard(f"{host}:{path}")

    def install_nix_store_wrapper(self, host: str) -> None:
        """A nix-store first on the ssh PATH (/usr/local/bin). An import (--import, --serve)
        that finds the marker nix-store.import-wait takes it (renames it to
        nix-store.import-waiting, so the next import goes through) and holds until
        nix-store.import-waiting is removed; then, and otherwise, the real nix-store."""
        script = f"""#!/bin/sh
case " $* " in
  *" --import "*|*" --serve "*)
    if mv {MARKERS}/nix-store.import-wait {MARKERS}/nix-store.import-waiting 2>/dev/null; then
      n=0
      while [ -e {MARKERS}/nix-store.import-waiting ] && [ $n -lt 2400 ]; do sleep 0.1; n=$((n + 1)); done
    fi ;;
esac
exec /usr/bin/nix-store "$@"
"""
        self.sh(host, f"mkdir -p /usr/local/bin && cat > /usr/local/bin/nix-store <<'EOF'\n{script}EOF\n"
                      "chmod 755 /usr/local/bin/nix-store")
        self.wrapped.add(host)

    def remove_nix_store_wrapper(self, host: str) -> None:
        self.sh(host, "rm -f /usr/local/bin/nix-store", check=False)
        self.wrapped.discard(host)

    def reset_services(self) -> None:
        """Only to get back to a known state after a failed test: stop every service
        process and remove every lock and journal on every host."""
        for host in HOSTS:
            self.sh(host, f"pkill -TERM -f '/libexec/[f]ault-daemon-'; sleep 0.5; pkill -KILL -f '/libexec/[f]ault-daemon-'; "
                          f"rm -f {LOCK} {JOURNAL} /var/lib/fault-svc/*.state /var/run/s[0-9].pid", check=False)

    def heal_all(self) -> None:
        """Undo every fault this object knows of, and every marker."""
        for host in list(self.routes_dropped):
            self.restore_route(host)
        for host in list(self.stopped_sshd):
            self.restart_sshd(host)
        for item in list(self.immutable):
            host, path = item.split(":", 1)
            self.make_mutable(host, path)
        for host in list(self.wrapped):
            self.remove_nix_store_wrapper(host)
        for host in HOSTS:
            self.sh(host, f"rm -rf {MARKERS}; mkdir -p {MARKERS}", check=False)


def other(dist: str) -> str:
    return "b" if dist == "a" else "a"


def expected_state(dist: str, stamp: str) -> dict[str, dict[str, str]]:
    """host -> state file -> content, for a configuration."""
    where = DISTRIBUTIONS[dist]
    result: dict[str, dict[str, str]] = {h: {} for h in HOSTS}
    for i, svc in enumerate(SERVICES):
        conf = f"{svc} stamp {stamp}" if i == 0 else \
            f"{svc} needs {SERVICES[i - 1]} at {where[SERVICES[i - 1]]} stamp {stamp}"
        result[where[svc]][f"{svc}.state"] = conf + "\n"
    return result


def config_problems(fl: FaultLab, dist: str, stamp: str) -> list[str]:
    """What differs from `dist` (built with `stamp`) fully deployed and running, unlocked."""
    problems = []
    want = expected_state(dist, stamp)
    for host in HOSTS:
        snap = fl.snapshot(host)
        services = sorted(c.split("fault-daemon-")[1].split()[0] for c in snap["processes"])
        expected = sorted(s[:-len(".state")] for s in want[host])
        if services != expected:
            problems.append(f"{host} runs {services}, expected {expected}")
        if snap["state_files"] != want[host]:
            problems.append(f"{host} state files {snap['state_files']}, expected {want[host]}")
        if snap["lock"] is not None:
            problems.append(f"{host} is locked: {snap['lock']}")
        if snap["journal"]:
            problems.append(f"{host} has a journal left: {snap['journal']}")
    return problems


def operations(fl: FaultLab) -> list[tuple[int, str, str, str, str]]:
    """Every host's record of its services' activations and deactivations (written by the
    services themselves), merged in time order: (time_ns, host, op, service, stamp)."""
    entries = []
    for host in HOSTS:
        out = fl.sh(host, "cat /var/lib/fault-svc/ops.log 2>/dev/null || true").stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 4:
                entries.append((int(parts[0]), host, parts[1], parts[2], parts[3]))
    return sorted(entries)


def repair(fl: FaultLab) -> None:
    """Back to a known configuration after a case that failed: heal, unlock, redeploy."""
    fl.heal_all()
    for host in HOSTS:
        fl.wait_idle(host)
    fl.unlock()
    dist, stamp = fl.current
    # the configuration it had, again; else, when a broken run left the targets in a state
    # the controller's generation does not describe, start afresh: every service stopped
    # behind the deployment's back, a new coordinator profile directory, fresh builds
    for attempt in range(2):
        if attempt:
            fl.reset_services()
            fl.coordinator = tempfile.mkdtemp(prefix="coordinator-", dir=os.path.dirname(fl.coordinator))
            stamp = f"{os.getpid()}-{time.time_ns()}-repair"
        run = fl.deploy(dist, stamp)
        if run.rc == 0 and not config_problems(fl, dist, stamp):
            fl.current = (dist, stamp)
            fl.dirty = False
            return
    raise AssertionError(f"could not bring the lab back to a known configuration: {config_problems(fl, dist, stamp)}\n{run}")
