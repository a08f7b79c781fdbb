# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Times building N new trivial derivations on the controller in one nix-store --realise
against chunks (controller_store.realise), side by side, fresh derivations each time.

    .venv/bin/python tests/bench/bench_build.py [--n 2000] [--chunk 250]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), ".collections"))

from ansible_collections.disnix.deploy.plugins.plugin_utils import controller_store as store  # noqa: E402


def fresh_drvs(n: int) -> list[str]:
    out = subprocess.run(["nix-instantiate", os.path.join(HERE, "many_drvs.nix"), "--argstr", "seed", uuid.uuid4().hex,
                          "--arg", "n", str(n)], capture_output=True, text=True, check=True).stdout
    return out.split()


def timed(drvs: list[str], chunk: int) -> float:
    started = time.monotonic()
    store.realise(drvs, chunk=chunk)
    return time.monotonic() - started


def measure(n: int, chunk: int) -> dict[str, float]:
    """Seconds to build n new derivations at once and in chunks."""
    return {"once": timed(fresh_drvs(n), n), "chunked": timed(fresh_drvs(n), chunk)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=store.BUILD_CHUNK)
    args = parser.parse_args()
    res = measure(args.n, args.chunk)
    print(f"{args.n} derivations: one call {res['once']:.1f} s, chunks of {args.chunk} {res['chunked']:.1f} s")


if __name__ == "__main__":
    main()
