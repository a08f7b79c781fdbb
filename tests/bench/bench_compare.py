# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""This collection against its baselines, side by side on one lab, alternating runs, medians:

* the copy step (tests/bench/copy.yml: target_state + distribute) of a 501-path / 200 MB
  closure (tests/bench/closure.nix) against nix-copy-closure: to 1 fresh host, to 3 fresh
  hosts at once (against nix-copy-closure to 1 host), and a re-send when every path is there;
* the hello-world example (scenario 1): first deploy and no-op re-run against upstream
  disnix-env when tests/upstream provides it, and the no-op against `ansible all -m ping`;
* building N trivial derivations in one nix-store --realise against chunks of 250;
* ssh commands per host (round trips), counted by an `ssh` wrapper first on PATH, through
  which Ansible, nix-copy-closure and Disnix all reach the targets.

    .venv/bin/python tests/bench/bench_compare.py [--runs 3] [--build-n 1000] [--plot docs/performance.png]

Needs root (the lab, DISNIX_LAB, default `bench`). Prints a Markdown table with a ratio
column; writes the plot with graphviz's dot when it is installed.
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LAB = os.path.join(REPO, "tests", "lab", "lab")
EXAMPLE = os.path.join(REPO, "examples", "hello-world")
HOSTS = ["test1", "test2", "test3"]


class Bench:
    def __init__(self, lab_name: str) -> None:
        self.wrapdir = tempfile.mkdtemp(prefix="disnix-bench-ssh-")
        self.ssh_log = os.path.join(self.wrapdir, "ssh.log")
        real_ssh = shutil.which("ssh") or "/usr/bin/ssh"
        wrapper = os.path.join(self.wrapdir, "ssh")
        with open(wrapper, "w", encoding="utf-8") as f:
            # one line per ssh command: its arguments, NUL-free, tab separated
            f.write(f'#!/bin/sh\nprintf "%s\\t" "$@" >> "{self.ssh_log}"; echo >> "{self.ssh_log}"\nexec {real_ssh} "$@"\n')
        os.chmod(wrapper, 0o755)
        self.env = dict(os.environ, DISNIX_LAB=lab_name, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                        ANSIBLE_NOCOLOR="1",
                        PATH=os.pathsep.join([self.wrapdir, os.path.dirname(sys.executable), os.environ.get("PATH", "")]))

    def lab(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([LAB, *args], env=self.env, cwd=REPO, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            sys.exit(f"{' '.join(args[:4])} failed (rc {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-3000:]}")
        return proc

    def timed(self, *cmd: str) -> tuple[float, str, dict[str, int]]:
        """Wall time of CMD in the lab's controller, its output, ssh commands per host."""
        open(self.ssh_log, "w", encoding="utf-8").close()
        started = time.monotonic()
        proc = self.lab("run", "--", *cmd)
        elapsed = time.monotonic() - started
        return elapsed, proc.stdout, self.ssh_counts()

    def addresses(self) -> dict[str, str]:
        """host -> its address, from the lab's own inventory (which names hosts by address)."""
        path = self.lab("inventory", "file", check=False).stdout.strip()
        found: dict[str, str] = {}
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    m = re.match(r"(\S+) ansible_host=(\S+)", line)
                    if m:
                        found[m.group(1)] = m.group(2)
        return found

    def ssh_counts(self) -> dict[str, int]:
        """ssh commands per host, the host named by its name or its address."""
        names = {h: {h} for h in HOSTS}
        for host, addr in self.addresses().items():
            names.setdefault(host, set()).add(addr)
        counts: collections.Counter = collections.Counter()
        with open(self.ssh_log, encoding="utf-8") as f:
            for line in f:
                args = line.rstrip("\n").split("\t")
                for host in HOSTS:
                    if any(a in names[host] or a.rpartition("@")[2] in names[host] for a in args):
                        counts[host] += 1
        return dict(counts)

    def fresh(self, hosts: list[str]) -> None:
        for host in hosts:
            self.lab("exec", host, "--", "nix-collect-garbage")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def build_closure() -> str:
    return subprocess.run(["nix-build", "--no-out-link", os.path.join(HERE, "closure.nix")],
                          capture_output=True, text=True, check=True).stdout.strip()


def copy_figures(b: Bench, runs: int) -> list[tuple]:
    closure = build_closure()
    inventory = b.lab("inventory", "file").stdout.strip()
    play = ["ansible-playbook", "-i", inventory, os.path.join(HERE, "copy.yml"), "-e", f"bench_closure={closure}"]

    def ours(hosts: list[str], extra: list[str] | None = None) -> tuple[float, dict[str, int]]:
        _wall, out, counts = b.timed(*play, "-l", ",".join(hosts), *(extra or []))
        times = [float(t) for _h, t in re.findall(r'"bench-copy (\S+) ([0-9.]+)"', out)]
        if len(times) != len(hosts):
            sys.exit(f"copy.yml did not report every host:\n{out[-3000:]}")
        return max(times), counts

    def ncc(host: str) -> tuple[float, dict[str, int]]:
        wall, _out, counts = b.timed("nix-copy-closure", "--to", host, closure)
        return wall, counts

    res = collections.defaultdict(list)
    counts = {}
    for _run in range(runs):
        b.fresh(HOSTS)
        t, _c = ours(["test1"])
        res["one"].append(t)
        t, _c = ncc("test2")
        res["ncc"].append(t)
        t, counts["ncc_resend"] = ncc("test2")
        res["ncc_resend"].append(t)
        b.fresh(HOSTS)
        t, _c = ours(HOSTS)
        res["three"].append(t)
        t, counts["resend"] = ours(["test1"])
        res["resend"].append(t)
        b.fresh(["test1"])
        t, _c = ours(["test1"], ["-e", "bench_compression=zstd"])
        res["zstd"].append(t)
        # the lab's own floor: its targets share this machine's cores and disk
        b.fresh(HOSTS)
        t, _out, _c = b.timed("sh", "-c", 'for h in "$@"; do nix-copy-closure --to "$h" "$0" & done; wait', closure, *HOSTS)
        res["ncc3"].append(t)
    b.fresh(HOSTS)
    size = subprocess.run(["nix", "path-info", "-S", closure], capture_output=True, text=True, check=True).stdout.split()[-1]
    n = len(subprocess.run(["nix-store", "-qR", closure], capture_output=True, text=True, check=True).stdout.split())
    what = f"{n} paths / {int(size) / 1e6:.0f} MB"
    ncc1 = median(res["ncc"])
    return [
        (f"copy step, {what}, 1 fresh host", median(res["one"]), "`nix-copy-closure`", ncc1),
        ("copy step, 3 fresh hosts at once", median(res["three"]), "`nix-copy-closure` to 1 host", ncc1),
        ("copy step, 3 fresh hosts at once (the lab's hosts share 2 cores)", median(res["three"]),
         "3 `nix-copy-closure` at once", median(res["ncc3"])),
        ("copy step, 1 fresh host, zstd", median(res["zstd"]), "`nix-copy-closure`", ncc1),
        (f"re-send when every path is present (ssh commands: {counts['resend'].get('test1', 0)} vs "
         f"{counts['ncc_resend'].get('test2', 0)})", median(res["resend"]), "`nix-copy-closure`", median(res["ncc_resend"])),
    ]


def scenario(work: str) -> tuple[str, str]:
    """hello-world scenario 1 on test1 and test2, both over ssh (upstream has no SOAP client
    here), and test3, a Linux target that runs nothing (its first deploy only sets its empty
    profile; a no-op only asks it): the infrastructure model and an inventory of it."""
    infra = os.path.join(work, "infrastructure.nix")
    with open(infra, "w", encoding="utf-8") as f:
        f.write(f"let base = import {EXAMPLE}/infrastructure.nix; in {{\n  inherit (base) test1;\n"
                '  test2 = removeAttrs base.test2 [ "targetProperty" "clientInterface" ];\n'
                '  test3 = { properties.hostname = "test3"; system = "x86_64-linux"; };\n}\n')
    inventory = os.path.join(work, "bench.disnix.yml")
    with open(inventory, "w", encoding="utf-8") as f:
        f.write(f"plugin: disnix.deploy.infrastructure\ninfrastructure: {infra}\n")
    return infra, inventory


def deploy_cmd(inventory: str, coordinator: str) -> list[str]:
    return ["ansible-playbook", os.path.join(REPO, "playbooks", "deploy.yml"), "-i", inventory,
            "-e", f"disnix_services={EXAMPLE}/services.nix", "-e", f"disnix_distribution={EXAMPLE}/distribution-scenario1.nix",
            "-e", f"disnix_coordinator_profile_dir={coordinator}"]


def load_upstream():
    """tests/integration/upstream.py's toolset (tests/upstream/build, cached), or why not."""
    sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
    try:
        import upstream  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None, "tests/integration/upstream.py is not on this branch"
    try:
        prefix, _secs = upstream.build()
    except upstream.UpstreamUnavailable as exc:
        return None, str(exc)
    return upstream.Upstream(prefix), ""


def deploy_figures(b: Bench, runs: int) -> tuple[list[tuple], dict[str, dict[str, int]], str]:
    res = collections.defaultdict(list)
    trips: dict[str, dict[str, int]] = {}
    up, why = load_upstream()
    work = tempfile.mkdtemp(prefix="disnix-bench-")
    infra, inventory = scenario(work)
    hosts = HOSTS

    def fresh_lab() -> None:
        b.lab("down", check=False)
        b.lab("up", "--system", "test1=i686-linux", *hosts)
        if up:
            up.install(b, *hosts)

    for run in range(runs):
        fresh_lab()
        coordinator = os.path.join(work, f"coordinator-{run}")
        t, _out, trips["first deploy"] = b.timed(*deploy_cmd(inventory, coordinator))
        res["first"].append(t)
        t, _out, trips["no-op re-run"] = b.timed(*deploy_cmd(inventory, coordinator))
        res["noop"].append(t)
        t, _out, trips["ansible all -m ping"] = b.timed("ansible", "-i", inventory, "all", "-m", "ansible.builtin.ping")
        res["ping"].append(t)
        if up:
            fresh_lab()
            env = up.env()
            cmd = ["env", f"PATH={b.wrapdir}{os.pathsep}{env['PATH']}", f"NIX_PATH={env['NIX_PATH']}", "disnix-env",
                   "-s", f"{EXAMPLE}/services.nix", "-i", infra, "-d", f"{EXAMPLE}/distribution-scenario1.nix",
                   "--coordinator-profile-path", os.path.join(work, f"upstream-{run}")]
            t, _out, trips["upstream disnix-env, first deploy"] = b.timed(*cmd)
            res["up_first"].append(t)
            t, _out, trips["upstream disnix-env, no-op"] = b.timed(*cmd)
            res["up_noop"].append(t)
    shutil.rmtree(work, ignore_errors=True)
    nan = float("nan")
    base = "upstream `disnix-env`" + ("" if up else f" (not measured: {why})")
    rows = [("hello-world scenario 1, first deploy", median(res["first"]), base, median(res["up_first"]) if up else nan),
            ("hello-world no-op re-run", median(res["noop"]), base, median(res["up_noop"]) if up else nan),
            ("hello-world no-op re-run", median(res["noop"]), "`ansible all -m ping`", median(res["ping"]))]
    return rows, trips, why


def build_figures(n: int) -> list[tuple]:
    sys.path.insert(0, os.path.join(REPO, ".collections"))
    import bench_build  # pylint: disable=import-outside-toplevel
    res = bench_build.measure(n, bench_build.store.BUILD_CHUNK)
    return [(f"build step, {n} derivations, in chunks of {bench_build.store.BUILD_CHUNK}", res["chunked"],
             "one `nix-store --realise`", res["once"])]


def plan_figures(services: int, targets: int, build: bool = False) -> list[tuple]:
    """tests/bench/bench_plan.py in check mode (evaluation, manifest, transition plan) or as a
    real run (--build: every service built, the profiles and the manifest too), with its peak
    memory in the figure's name; no baseline (upstream has no check mode that plans)."""
    proc = subprocess.run([sys.executable, os.path.join(HERE, "bench_plan.py"), "--services", str(services),
                           "--targets", str(targets), *(["--build"] if build else [])],
                          capture_output=True, text=True, check=False)
    m = re.search(r": ([0-9.]+) s \(.*peak memory: controller ([0-9]+) MiB, nix-instantiate ([0-9]+) MiB", proc.stdout)
    if proc.returncode != 0 or not m:
        sys.exit(f"bench_plan.py failed (rc {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return [(f"plan, {services:,} services x {targets} targets ({'real run' if build else 'check mode'}; "
             f"peak memory: controller {m.group(2)} MiB, "
             f"nix-instantiate {m.group(3)} MiB)", float(m.group(1)), "—", float("nan"))]


def fmt(t: float) -> str:
    return "—" if math.isnan(t) else f"{t:.2f} s"


def table(rows: list[tuple]) -> str:
    lines = ["| figure | this collection | baseline | ratio |", "|---|---|---|---|"]
    for what, ours, base_name, base in rows:
        ratio = "—" if math.isnan(base) or math.isnan(ours) else f"{ours / base:.2f}"
        baseline = base_name if math.isnan(base) and base_name == "—" else f"{base_name} {fmt(base)}"
        lines.append(f"| {what} | {fmt(ours)} | {baseline} | {ratio} |")
    return "\n".join(lines)


def plot(rows: list[tuple], path: str) -> bool:
    """A bar chart (graphviz HTML table: one row per figure, bar widths proportional to the time)."""
    dot = shutil.which("dot")
    if not dot:
        return False
    top = max([r[1] for r in rows if not math.isnan(r[1])] + [r[3] for r in rows if not math.isnan(r[3])] + [1e-9])
    cells = []
    for what, ours, base_name, base in rows:
        def bar_row(t: float, colour: str) -> str:
            width = max(1, int(400 * t / top)) if not math.isnan(t) else 1
            return (f'<TR><TD ALIGN="LEFT" BORDER="0">{"" if math.isnan(t) else f"{t:.2f} s"}</TD>'
                    f'<TD ALIGN="LEFT" BORDER="0"><TABLE BORDER="0" CELLSPACING="0"><TR><TD WIDTH="{width}" HEIGHT="12" '
                    f'BGCOLOR="{colour}" FIXEDSIZE="TRUE"></TD><TD WIDTH="{401 - width}" HEIGHT="12" FIXEDSIZE="TRUE"></TD>'
                    f'</TR></TABLE></TD></TR>')
        label = what.replace("&", "&amp;").replace("<", "&lt;").replace("`", "")
        base_label = base_name.replace("`", "")
        cells.append(f'<TR><TD COLSPAN="2" ALIGN="LEFT" BORDER="0"><B>{label}</B> (blue: this collection, '
                     f'grey: {base_label})</TD></TR>{bar_row(ours, "#3b6fb6")}{bar_row(base, "#999999")}')
    src = ('digraph bench { node [shape=plaintext fontname="Helvetica" fontsize=11]; '
           f't [label=<<TABLE BORDER="0" CELLSPACING="2">{"".join(cells)}</TABLE>>]; }}')
    subprocess.run([dot, "-Tpng", "-o", path], input=src, text=True, check=True)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="alternating runs per figure (default 3)")
    parser.add_argument("--build-n", type=int, default=1000, help="derivations of the build figure; 0: skip it")
    parser.add_argument("--plan-services", type=int, default=10000, help="services of the plan figure; 0: skip it")
    parser.add_argument("--skip", action="append", default=[], choices=["copy", "deploy", "build", "plan"])
    parser.add_argument("--plot", default=os.path.join(REPO, "docs", "performance.png"))
    args = parser.parse_args()
    b = Bench(os.environ.get("DISNIX_LAB", "bench"))
    rows: list[tuple] = []
    trips: dict[str, dict[str, int]] = {}
    try:
        if "deploy" not in args.skip:
            deploy_rows, trips, _why = deploy_figures(b, args.runs)
            rows += deploy_rows
        if "copy" not in args.skip:
            b.lab("down", check=False)
            b.lab("up", *HOSTS)
            rows += copy_figures(b, args.runs)
    finally:
        b.lab("down", check=False)
        shutil.rmtree(b.wrapdir, ignore_errors=True)
    if "plan" not in args.skip and args.plan_services:
        rows += plan_figures(args.plan_services, 100)
        rows += plan_figures(1000, 100, build=True)
    if "build" not in args.skip and args.build_n:
        rows += build_figures(args.build_n)
    load = os.getloadavg()[0]
    print(f"{args.runs} alternating runs per figure, medians; {os.cpu_count()} cores, load {load:.1f} at the end")
    print(table(rows))
    if trips:
        print("\nssh commands per host (round trips; test3 runs no service: its first deploy sets its empty profile, a no-op only asks it;"
              " a module task adds one per host for Python interpreter discovery; the deployment has none):\n")
        print("| run | " + " | ".join(HOSTS) + " |\n|---|" + "---|" * len(HOSTS))
        for what, counts in trips.items():
            print(f"| {what} | " + " | ".join(str(counts.get(h, 0)) for h in HOSTS) + " |")
    if args.plot and plot(rows, args.plot):
        print(f"\nplot: {os.path.relpath(args.plot, REPO)}")


if __name__ == "__main__":
    main()
