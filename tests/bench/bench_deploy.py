# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Times the hello-world example on a fresh lab: the first deployment (scenario 1) and a
no-op re-run, each as ansible-playbook playbooks/deploy.yml wall time.

    .venv/bin/python tests/bench/bench_deploy.py [--runs N]

Needs root (the lab). Prints the figures; exits non-zero only when a deployment fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(REPO, "tests", "lab", "lab")
EXAMPLE = os.path.join(REPO, "examples", "hello-world")


def lab(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([LAB, *args], env=env, cwd=REPO, capture_output=True, text=True, check=False)


def deploy(env: dict, coordinator: str) -> float:
    started = time.monotonic()
    proc = lab(env, "run", "--", "ansible-playbook", os.path.join(REPO, "playbooks", "deploy.yml"),
               "-i", os.path.join(EXAMPLE, "lab.disnix.yml"),
               "-e", f"disnix_services={EXAMPLE}/services.nix",
               "-e", f"disnix_distribution={EXAMPLE}/distribution-scenario1.nix",
               "-e", f"disnix_coordinator_profile_dir={coordinator}")
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"deployment failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="fresh labs to measure (default 3)")
    args = parser.parse_args()
    env = dict(os.environ, DISNIX_LAB="bench", ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    first, noop = [], []
    try:
        for _run in range(args.runs):
            lab(env, "down")
            up = lab(env, "up", "--system", "test1=i686-linux", "--system", "test3=x86_64-cygwin", "test1", "test2", "test3")
            if up.returncode != 0:
                sys.exit(up.stderr)
            with tempfile.TemporaryDirectory(prefix="disnix-bench-") as coordinator:
                first.append(deploy(env, coordinator))
                noop.append(deploy(env, coordinator))
    finally:
        lab(env, "down")
    print(f"hello-world scenario 1 on 3 lab hosts, {args.runs} fresh labs (services already built on the controller after run 1)")
    print(f"first deploy:  median {statistics.median(first):.2f} s  (runs: {', '.join(f'{t:.2f}' for t in first)})")
    print(f"no-op re-run:  median {statistics.median(noop):.2f} s  (runs: {', '.join(f'{t:.2f}' for t in noop)})")


if __name__ == "__main__":
    main()
