# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: parse and normalise a 1,000-target infrastructure model with the built-in
Nix parser (no Nix). Exits non-zero when the best time exceeds the goal."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", ".collections"))

# pylint: disable=wrong-import-position
from ansible_collections.disnix.deploy.plugins.plugin_utils.infrastructure import normalize_infrastructure  # noqa: E402
from ansible_collections.disnix.deploy.plugins.plugin_utils.model_loader import load_model  # noqa: E402

GOAL_SECONDS = 0.3
SYSTEMS = ("x86_64-linux", "i686-linux", "aarch64-linux", "x86_64-cygwin")


def generate_model(targets: int = 1000) -> str:
    """A Disnix infrastructure model in the styles real models use (nested attribute paths,
    properties sets, containers with one or two containers, comments)."""
    out = ["# generated infrastructure model", "{"]
    for i in range(targets):
        system = SYSTEMS[i % len(SYSTEMS)]
        out.append(f"  target{i} = {{ # machine {i}")
        if i % 3 == 0:
            out.append(f'    properties.hostname = "target{i}.example.org";')
        else:
            out += ["    properties = {", f'      hostname = "target{i}.example.org";',
                    '      supportedTypes = [ "process" "wrapper" "mysql-database" ];', "    };"]
        out.append("    containers = {")
        out.append('      process.runtimeDir = "/var/run";')
        if i % 2:
            out.append(f'      mysql-database = {{ mysqlPort = {3306 + i % 10}; mysqlUsername = "root"; }};')
        out.append("    };")
        out.append(f'    system = "{system}";')
        out.append(f"    numOfCores = {1 + i % 8};")
        if i % 5 == 0:
            out.append('    clientInterface = "disnix-ssh-client";')
        out.append("  };")
    out.append("}")
    return "\n".join(out) + "\n"


def measure(path: str, runs: int, nix: str) -> list[float]:
    times = []
    for _run in range(runs):
        start = time.perf_counter()
        model = load_model(path, nix=nix)
        normalize_infrastructure(model, default_system="x86_64-linux")
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "infrastructure.nix")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(generate_model(args.targets))
        lines = generate_model(args.targets).count("\n")
        times = measure(path, args.runs, "never")
        best, median = min(times), statistics.median(times)
        print(f"built-in parser, {args.targets} targets ({lines} lines): best {best:.3f} s, median {median:.3f} s "
              f"over {args.runs} runs (goal: best under {GOAL_SECONDS} s)")
        if shutil.which("nix-instantiate"):
            nix_times = measure(path, max(1, args.runs // 2), "always")
            print(f"nix-instantiate for comparison: best {min(nix_times):.3f} s, median {statistics.median(nix_times):.3f} s")
            cmd = ["nix-instantiate", "--eval", "--strict", "--json", path]
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            print(f"  (bare `nix-instantiate --eval --strict --json`: {time.perf_counter() - start:.3f} s)")
        else:
            print("nix-instantiate not found: no comparison")
    if best > GOAL_SECONDS:
        print(f"FAIL: best time {best:.3f} s exceeds the goal of {GOAL_SECONDS} s")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
