# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Times the plan stage on a generated model: N services round-robin on T targets, each
service but the first depending on the one before it (dependsOn) and connecting to another
(connectsTo), so dependency arguments and keys are all exercised.

    .venv/bin/python tests/bench/bench_plan.py [--services 10000] [--targets 100] [--build]

Check mode (default): evaluation (both phases), the manifest and the transition plan, what a
check-mode run computes before it asks the targets. --build also realises every service and builds the target profiles
and the controller manifest, as a real run does (use fewer services: every one is a build).
Prints wall time and the peak resident memory of this process and of nix-instantiate.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, ".collections"))

# pylint: disable=wrong-import-position
from ansible_collections.disnix.deploy.plugins.plugin_utils import controller_store as store  # noqa: E402
from ansible_collections.disnix.deploy.plugins.plugin_utils import manifest as manifest_lib  # noqa: E402
from ansible_collections.disnix.deploy.plugins.plugin_utils import transition_plan  # noqa: E402
from ansible_collections.disnix.deploy.plugins.plugin_utils.deployment_model import evaluate  # noqa: E402

SERVICES = """{ system, stamp ? "", ... }:
let
  n = %d;
  name = i: "s" + toString i;
  drv = i: deps: derivation {
    name = name i; inherit system stamp; deps = deps;
    builder = "/bin/sh"; args = [ "-c" "echo $deps > $out" ];
  };
  services = builtins.listToAttrs (builtins.genList (i: { name = name i; value = {
    name = name i;
    type = "echo";
  } // (if i == 0 then { pkg = drv i ""; } else {
    dependsOn = { prev = builtins.getAttr (name (i - 1)) services; };
    connectsTo = { other = builtins.getAttr (name (i / 2)) services; };
    pkg = { prev, other }: drv i (prev.target.properties.hostname + " " + other.target.properties.hostname);
  }); }) n);
in services
"""

DISTRIBUTION = """{ infrastructure }:
let names = builtins.attrNames infrastructure; t = builtins.length names;
in builtins.listToAttrs (builtins.genList (i: { name = "s" + toString i;
  value = [ (builtins.getAttr (builtins.elemAt names (i - (i / t) * t)) infrastructure) ]; }) %d)
"""


def infrastructure(targets: int) -> dict:
    return {f"t{i:03d}": {"properties": {"hostname": f"t{i:03d}.lan"}, "containers": {"echo": {}},
                          "system": "x86_64-linux", "numOfCores": 1, "clientInterface": "disnix-ssh-client",
                          "targetProperty": "hostname"} for i in range(targets)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=10000)
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--build", action="store_true", help="a real run: build services, profiles and the manifest")
    args = parser.parse_args()
    infra = infrastructure(args.targets)
    with tempfile.TemporaryDirectory(prefix="disnix-bench-plan-") as tmp:
        services = os.path.join(tmp, "services.nix")
        distribution = os.path.join(tmp, "distribution.nix")
        with open(services, "w", encoding="utf-8") as f:
            f.write(SERVICES % args.services)
        with open(distribution, "w", encoding="utf-8") as f:
            f.write(DISTRIBUTION % args.services)
        started = time.monotonic()
        arch = evaluate(services, distribution, infra, extra_params={"stamp": str(time.time())} if args.build else {})
        evaluated = time.monotonic()
        manifest = manifest_lib.compose(arch, infra, "default")
        composed = time.monotonic()
        # the transition from nothing (a first deploy): every mapping activated, in waves
        waves = transition_plan.plan({"mappings": []}, manifest, set(infra))["waves"]
        planned = time.monotonic()
        if args.build:
            store.realise([m.drv for m in arch.mappings])
            built = time.monotonic()
            store.build_profiles(manifest)
            path = store.add_manifest(manifest)
            print(f"build: {built - composed:.2f} s, profiles and manifest: {time.monotonic() - built:.2f} s ({path})")
        total = time.monotonic() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    nix = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"plan of {args.services} services x {args.targets} targets ({'real run' if args.build else 'check mode'}): "
          f"{total:.2f} s (evaluation {evaluated - started:.2f} s, manifest {composed - evaluated:.2f} s, "
          f"transition {planned - composed:.2f} s, {len(waves)} waves); "
          f"peak memory: controller {own:.0f} MiB, nix-instantiate {nix:.0f} MiB")


if __name__ == "__main__":
    main()
