# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Smoke test of the test lab (tests/lab/lab): three isolated SSH + Nix hosts.

Runs its own lab instance, <run>_labtest (DISNIX_TEST_RUN names the run, as for every
integration lab), so it never touches a demo, a developer's lab or another test run's.
Needs root, iproute2, util-linux, openssh-server and nix-bin.

    DISNIX_TEST_RUN=me .venv/bin/python -m pytest -q tests/integration/test_lab.py
"""
import glob
import os
import shutil
import subprocess
import sys
import time

import pytest
from conftest import RUN_PREFIX

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(REPO, "tests", "lab", "lab")
ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")
INSTANCE = RUN_PREFIX + "labtest"
STATE = f"/tmp/disnix-lab-{INSTANCE}"
NSPREFIX = f"dx-{INSTANCE}-"
HOSTS = ("test1", "test2", "test3")
SYSTEM_HOST, SYSTEM = "test1", "i686-linux"
NONIX_HOST = "test3"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.skipif(
        not all(shutil.which(c) or os.path.exists(f"/usr/sbin/{c}")
                for c in ("ip", "nsenter", "unshare", "sshd", "ssh", "nix-build", "dpkg-query")),
        reason="needs iproute2, util-linux, openssh and nix-bin",
    ),
]

TIMINGS = {}


def _env():
    env = dict(os.environ, DISNIX_LAB=INSTANCE)
    for k in ("DISNIX_LAB_DIR", "DISNIX_LAB_NET"):
        env.pop(k, None)
    return env


def lab(*args, check=True, timeout=120, env=None, **kw):
    r = subprocess.run([LAB, *args], env=env or _env(), capture_output=True, text=True, check=False,
                       timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"lab {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def run(*cmd, **kw):
    """CMD in the controller netns."""
    return lab("run", "--", *cmd, **kw)


def ssh(host, command, **kw):
    return run("ssh", host, command, **kw)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _ns_inode(pid, kind):
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except OSError:
        return None


@pytest.fixture(scope="module")
def labenv(tmp_path_factory):
    lab("down")
    t0 = time.monotonic()
    r = lab("up", "--system", f"{SYSTEM_HOST}={SYSTEM}", "--no-nix", NONIX_HOST, *HOSTS)
    TIMINGS["up (3 hosts)"] = time.monotonic() - t0
    tmp = tmp_path_factory.mktemp("lab")
    cfg = tmp / "ansible.cfg"
    cfg.write_text(
        "[defaults]\n"
        f"home = {tmp}/ansible-home\n"
        f"local_tmp = {tmp}/ansible-tmp\n"
        "host_key_checking = True\n"
        "interpreter_python = auto_silent\n"
        "[ssh_connection]\n"
        f"control_path_dir = {tmp}/cp\n"
        "pipelining = True\n"
    )
    try:
        yield {"tmp": tmp, "ansible_cfg": str(cfg), "up_output": r.stdout}
    finally:
        lab("down", check=False)
        if TIMINGS:
            sys.stderr.write("\nlab timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in TIMINGS.items()) + "\n")


def test_up_summary_and_status(labenv):
    for h in HOSTS:
        assert h in labenv["up_output"]
    st = lab("status").stdout
    for h in HOSTS:
        line = next(ln for ln in st.splitlines() if ln.startswith(h + " "))
        assert " yes " in line, st


def test_ssh_by_name_without_options(labenv):
    for h in HOSTS:
        t0 = time.monotonic()
        r = ssh(h, "hostname; cat /etc/hostname; id -un")
        TIMINGS.setdefault("ssh connect+command", time.monotonic() - t0)
        assert r.stdout.split() == [h, h, "root"], r
    # the host's IP works too (known_hosts has name and IP)
    ip = next(ln.split("ansible_host=")[1].split()[0]
              for ln in lab("inventory").stdout.splitlines() if ln.startswith("test2 "))
    assert ssh(ip, "hostname").stdout.strip() == "test2"


def test_writes_are_private_to_a_host(labenv):
    ssh("test1", "mkdir -p /nix/var/labtest && echo t1 > /nix/var/labtest/marker"
                 " && echo t1 > /etc/labtest-marker && echo t1 > /tmp/labtest-marker")
    files = "/nix/var/labtest/marker /etc/labtest-marker /tmp/labtest-marker"
    for other in ("test2", "test3"):
        r = ssh(other, f"for f in {files}; do test ! -e $f || echo $f; done")
        assert r.stdout == "", f"{other} sees {r.stdout}"
    for f in files.split():
        assert not os.path.exists(f), f"{f} leaked onto the real machine"
    d = lab("path", "test1").stdout.strip()
    assert open(os.path.join(d, "nix/var/labtest/marker")).read() == "t1\n"
    assert open(os.path.join(d, "upper/etc/labtest-marker")).read() == "t1\n"
    assert not os.path.exists(os.path.join(lab("path", "test2").stdout.strip(), "nix/var/labtest"))


def test_system_option_sets_current_system(labenv):
    r = ssh(SYSTEM_HOST, "nix-instantiate --eval -E builtins.currentSystem")
    assert r.stdout.strip() == f'"{SYSTEM}"'
    r = ssh("test2", "nix-instantiate --eval -E builtins.currentSystem")
    assert r.stdout.strip() not in ("", f'"{SYSTEM}"')


def test_exec_without_ssh(labenv):
    r = lab("exec", "test2", "--", "sh", "-c", "hostname; echo $HOME; exit 7", check=False)
    assert r.returncode == 7
    assert r.stdout.split() == ["test2", "/root"]


def test_nix_copy_closure_from_controller(labenv):
    expr = labenv["tmp"] / "smoke.nix"
    expr.write_text(
        'derivation { name = "lab-smoke"; system = builtins.currentSystem; builder = "/bin/sh";'
        ' args = [ "-c" "echo lab smoke > $out" ]; }\n'
    )
    p = subprocess.run(["nix-build", str(expr), "--no-out-link"], capture_output=True, text=True,
                       check=True, timeout=120).stdout.strip()
    assert p.startswith("/nix/store/")
    t0 = time.monotonic()
    run("nix-copy-closure", "--to", "test2", p)
    TIMINGS["nix-copy-closure 1 path"] = time.monotonic() - t0
    assert ssh("test2", f"cat {p}").stdout == "lab smoke\n"
    assert os.path.exists(os.path.join(lab("path", "test2").stdout.strip(), "nix/store", os.path.basename(p)))
    assert ssh("test1", f"test -e {p}", check=False).returncode == 1


def test_ansible_ping(labenv):
    env = dict(_env(), ANSIBLE_CONFIG=labenv["ansible_cfg"], ANSIBLE_NOCOLOR="1")
    inv = lab("inventory", "file").stdout.strip()
    t0 = time.monotonic()
    r = run(ANSIBLE, "-i", inv, "all", "-m", "ping", env=env)
    TIMINGS["ansible ping 3 hosts"] = time.monotonic() - t0
    assert r.stdout.count("SUCCESS") == 3, r.stdout
    # plain host list, no ansible_host: ssh resolves the name in the controller netns
    r = run(ANSIBLE, "-i", "test1,test2,", "all", "-m", "ping", env=env)
    assert r.stdout.count("SUCCESS") == 2, r.stdout
    # ansible_host as a name and as an IP
    ip = next(ln.split("ansible_host=")[1].split()[0]
              for ln in open(inv) if ln.startswith("test3 "))
    own = labenv["tmp"] / "inv.ini"
    own.write_text(f"[x]\nbyname ansible_host=test1\nbyip ansible_host={ip}\n")
    r = run(ANSIBLE, "-i", str(own), "all", "-m", "command", "-a", "hostname", env=env)
    assert "byname | CHANGED" in r.stdout and "byip | CHANGED" in r.stdout, r.stdout
    assert "test1" in r.stdout and "test3" in r.stdout


def test_no_nix_host(labenv):
    h = NONIX_HOST
    r = ssh(h, "command -v nix-store nix-build nix; test -e /nix && echo /nix; test -e /etc/nix && echo /etc/nix;"
               " ls /usr/lib/nix /usr/share/doc/nix-bin 2>/dev/null; true")
    assert r.stdout == "", r.stdout
    r = ssh(h, "dpkg-query -W -f '${Status}' nix-bin", check=False)
    assert r.returncode != 0 and "install ok installed" not in r.stdout
    assert "not installed" in r.stderr or "no packages found" in r.stderr, r.stderr
    deb = sorted(glob.glob("/var/cache/apt/archives/nix-bin_*.deb"))
    if not deb:
        pytest.skip("no nix-bin .deb in the apt cache for the dpkg -i check")
    shutil.copy(deb[-1], os.path.join(lab("path", h).stdout.strip(), "tmp"))
    ssh(h, f"dpkg -i /tmp/{os.path.basename(deb[-1])} >/dev/null 2>&1", timeout=300)
    r = ssh(h, "dpkg-query -W -f '${Status}' nix-bin; echo; nix-store --version")
    assert r.stdout.splitlines()[0] == "install ok installed", r.stdout
    assert "nix-store (Nix)" in r.stdout
    # the package landed in this host only
    assert ssh("test2", "ls /tmp/nix-bin_*.deb", check=False).returncode != 0


def test_up_again_adds_a_host_and_refuses_a_running_name(labenv):
    r = lab("up", "test1", check=False)
    assert r.returncode != 0 and "already running" in r.stderr
    lab("up", "extra-4")
    assert ssh("extra-4", "hostname").stdout.strip() == "extra-4"
    # the running hosts learn the new name; hosts reach each other
    assert ssh("test1", "getent hosts extra-4").stdout.split()[1] == "extra-4"
    ssh("test1", "timeout 3 bash -c 'exec 3<>/dev/tcp/extra-4/22'")


def test_down_leaves_nothing(labenv):
    # a daemonized "service" started over ssh must die with its host
    ssh("test2", "setsid sleep 31337 </dev/null >/dev/null 2>&1 &")
    pids, nets, pidnss = [], set(), set()
    for d in glob.glob(f"{STATE}/hosts/*"):
        for f in ("sshd.pid", "unshare.pid"):
            pids.append(int(open(os.path.join(d, f)).read().split()[0]))
    for p in pids:
        pidnss.add(_ns_inode(p, "pid_for_children"))
    for ns in glob.glob(f"/run/netns/{NSPREFIX}*"):
        nets.add(os.stat(ns).st_ino)
    assert len(nets) == 5 and len(pids) == 8
    t0 = time.monotonic()
    lab("down")
    TIMINGS["down"] = time.monotonic() - t0
    assert glob.glob(f"/run/netns/{NSPREFIX}*") == []
    assert not os.path.exists(f"/etc/netns/{NSPREFIX}ctl")
    assert not os.path.exists(STATE)
    assert [p for p in pids if _alive(p)] == []
    leftovers = []
    for d in glob.glob("/proc/[0-9]*"):
        pid = int(os.path.basename(d))
        if not _alive(pid):
            continue
        if _ns_inode(pid, "net") in nets or _ns_inode(pid, "pid") in pidnss:
            leftovers.append(pid)
        try:
            if b"31337" in open(f"{d}/cmdline", "rb").read():
                leftovers.append(pid)
            if STATE + "/" in open(f"{d}/mountinfo").read():
                leftovers.append(pid)
        except OSError:
            pass
    assert leftovers == [], leftovers
    assert lab("down").returncode == 0  # idempotent
