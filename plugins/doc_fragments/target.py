# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by the target-side modules (argument spec: module_utils/target_common.py)."""

from __future__ import annotations


class ModuleDocFragment:
    # disnix.deploy.target: every target-side module
    DOCUMENTATION = r"""
options:
  profile:
    description:
      - Name of the Disnix profile on the target.
      - The profile is V(/nix/var/nix/profiles/disnix/<profile>); its lock file is
        V($TMPDIR/disnix-<profile>.lock) and the journal of a running transition
        V($TMPDIR/disnix-<profile>.journal).
      - Letters, digits and C(+ _ . -) only.
    type: str
    default: default
  tmpdir:
    description:
      - The target's temporary directory, where the lock file and the transition journal live.
      - Defaults to the target's E(TMPDIR), or V(/tmp) when that is not set (as Disnix does).
    type: path
"""

    # disnix.deploy.target.log: modules that run activation operations
    LOG = r"""
options:
  log_dir:
    description:
      - Directory of the target's activation log V(activations.log), one JSON line per
        activate, deactivate, lock and unlock attempt of a service, created as needed.
    type: path
    default: /var/log/disnix
  activation:
    description:
      - How services are activated, deactivated, locked and unlocked.
      - V(builtin) runs the types V(process), V(wrapper), V(echo) and V(package) here and hands
        every other type to the target's C(dysnomia).
      - V(dysnomia) hands every type but V(package) (which Disnix does not activate either) to the
        target's C(dysnomia) as Disnix does - C(dysnomia --type TYPE --operation OP --component PKG
        --container CONTAINER --environment), the container's properties in the environment.
    type: str
    choices: [builtin, dysnomia]
    default: builtin
"""

    # disnix.deploy.target.run: modules that take part in one deployment run
    RUN = r"""
options:
  run_id:
    description:
      - Identifier of the deployment run, the same for every task of one run.
      - Recorded in the lock file, the transition journal and the activation log.
    type: str
    required: true
"""
