# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action disnix.deploy.manifest: evaluate the models, build the services and profiles, compose
the deployment manifest. The transition is planned later, by disnix.deploy.transaction, from
what the targets run.

Runs on the controller only. The infrastructure comes from the inventory (the host
variables the disnix.deploy.infrastructure plugin sets), so the inventory is the one
source of truth for targets.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
import uuid
from dataclasses import replace
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.disnix.deploy.plugins.plugin_utils import controller_store as store
from ansible_collections.disnix.deploy.plugins.plugin_utils import guard
from ansible_collections.disnix.deploy.plugins.plugin_utils import manifest as manifest_lib
from ansible_collections.disnix.deploy.plugins.plugin_utils import run_records
from ansible_collections.disnix.deploy.plugins.plugin_utils.deployment_model import evaluate
from ansible_collections.disnix.deploy.plugins.plugin_utils.inventory_targets import targets_from_inventory
from ansible_collections.disnix.deploy.plugins.plugin_utils.model_error import ModelError

ARGSPEC = {
    "services": {"type": "path"},
    "distribution": {"type": "path"},
    "generation": {"type": "str"},
    "profile": {"type": "str", "default": "default"},
    "coordinator_profile_dir": {"type": "path"},
    "nixpkgs": {"type": "str", "default": ""},
    "extra_params": {"type": "dict", "default": {}},
    "targets_group": {"type": "str", "default": "disnix_targets"},
    # selective deploy: service names or tag:NAME (a list or a comma-separated string)
    "only": {"type": "raw"},
    # disnix_keys: validated here against the models; its values never enter the result
    "keys": {"type": "raw", "no_log": True},
    **store.CONTROLLER_ARGSPEC,
}


def _extra_params(task_args: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> dict:
    """The extra params: the option when the task sets it, else disnix_extra_params as given,
    never templated (a task argument would be: Ansible renders Jinja in -e values, and runs
    their lookups)."""
    if "extra_params" in task_args:
        return args["extra_params"] or {}
    value = task_vars.get("disnix_extra_params", {})
    if not isinstance(value, dict):
        raise AnsibleActionFail(f"disnix_extra_params must be a dict, got {type(value).__name__}")
    return value


def _inventory_sources(task_vars: dict[str, Any], hosts: dict[str, str]) -> str | None:
    """The inventory sources the targets come from (for errors in the infrastructure)."""
    sources = sorted({str(task_vars["hostvars"][h].get("inventory_file") or "") for h in hosts.values()} - {""})
    return ", ".join(sources) or None


class ActionModule(ActionBase):
    """Evaluates and builds a deployment on the controller; changes nothing on any target."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=ARGSPEC)
        try:
            result.update(self._plan(args, task_vars or {}))
        except ModelError as exc:
            raise AnsibleActionFail(f"invalid model: {exc}") from None
        except store.DeployError as exc:
            raise AnsibleActionFail(str(exc)) from None
        # changed: something was built or a new manifest entered the store
        result["changed"] = bool(result["built"]) or (result["manifest_path"] is not None
                                                      and not result["manifest_existed"])
        # the result carries the real properties for the targets; it is never printed (not
        # even with -v): people see the plan lines, where secrets are masked (secrets.py)
        result["_ansible_verbose_override"] = True
        return result

    def _plan(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        nix_bin = args["nix_bin_dir"]
        infrastructure, hosts, build_on = targets_from_inventory(task_vars, args["targets_group"])
        profile_path = store.coordinator_profile(args["profile"], args["coordinator_profile_dir"])
        gens = store.generations(profile_path)
        current = store.current_generation(profile_path)
        old_path = gens.get(current) if current is not None else None
        old = store.load_manifest(old_path)
        check = self._task.check_mode
        built: list[str] = []
        to_build: list[str] = []
        remote_builds: dict[str, dict] = {}
        existed = True
        selected: set[str] | None = None
        keyed: dict[str, list[str]] | None = None

        if args["generation"] == "current":
            # repairing only (playbooks/unlock.yml): nothing is evaluated or built
            new_path, number = old_path, None
            new = old or {"version": manifest_lib.MANIFEST_VERSION, "profile": args["profile"], "mappings": [], "targets": {}}
            new = dict(new, targets={t: v for t, v in new["targets"].items() if t in hosts},
                       mappings=[m for m in new["mappings"] if m["target"] in hosts])
        elif args["generation"]:
            new_path, number = self._pick_generation(args["generation"], gens, current)
            new = store.load_manifest(new_path)
        else:
            if not args["services"] or not args["distribution"]:
                raise AnsibleActionFail("set disnix_services and disnix_distribution (paths of the services and distribution models)")
            arch = evaluate(args["services"], args["distribution"], infrastructure,
                            nixpkgs=args["nixpkgs"] or "", extra_params=_extra_params(self._task.args, args, task_vars),
                            nix_instantiate=store.tool("nix-instantiate", nix_bin), infrastructure_source=_inventory_sources(task_vars, hosts))
            new = manifest_lib.compose(arch, infrastructure, args["profile"])
            if args["only"] not in (None, "", []):
                arch, new, selected = self._select(arch, new, old, args["only"])
            # before anything is built: a bad disnix_keys changes nothing
            keyed = self._keyed(args["keys"], set(arch.services) or None, new)
            number = None
            # the models give the current generation again (a no-op): its profiles and manifest
            # are in the store with everything they run, so nothing is built or checked
            reused = not check and store.reuse_generation(new, old, old_path)
            to_build, remote = ([], {}) if reused else self._where_to_build(arch, infrastructure, build_on, nix_bin)
            for target, drvs in remote.items():
                remote_builds[target] = {"host": hosts[target], "drvs": drvs,
                                         "closure": [] if check else store.derivation_closure(drvs, nix_bin)}
            if check:
                new_path = None
            elif reused:
                new_path = old_path
            else:
                built = store.realise(to_build, nix_bin)
                if not remote_builds:
                    store.build_profiles(new, nix_bin)
                    new_path = store.add_manifest(new, nix_bin)
                    existed = new_path in gens.values()
                else:
                    # the targets build first (deploy.yml), then plan runs again
                    new_path = None

        present = set(hosts)
        missing = sorted(t for t in new["targets"] if t not in present)
        if missing:
            raise AnsibleActionFail(f"the manifest deploys to {', '.join(missing)}, which the inventory does not have")
        if keyed is None:
            # a generation (rollback, repair) or no services at all (undeploy): keys of services
            # it does not deploy are simply not written
            keyed = self._keyed(args["keys"], None, new)
        # every profile's closure from one query of the store
        closures = store.closures([t["profile"] for t in new["targets"].values() if t["profile"]], nix_bin)
        targets = {}
        for name in sorted(new["targets"]):
            prof = new["targets"][name]["profile"]
            targets[name] = {
                "host": hosts[name],
                "profile": prof,
                # in check mode there is no profile yet: its services stand in for the closure
                "closure": closures[prof] if prof else manifest_lib.services_on(new, name),
                "num_of_cores": new["targets"][name]["numOfCores"],
            }
        lines = []
        if selected is not None:
            lines.append(f"only {', '.join(sorted(selected))}: every other service stays as deployed")
        if check and not args["generation"]:
            lines = [f"would build {d}" for d in to_build]
        lines = [f"build on {t}: {d}" for t, r in sorted(remote_builds.items()) for d in r["drvs"]] + lines
        return {
            "run_id": uuid.uuid4().hex,
            # orders this run against another one it meets at a target's lock (locking.runs_before)
            "started": time.time(),
            # who holds the target locks: a lock whose process is gone is stale
            "controller": socket.gethostname(),
            "controller_pid": os.getppid(),
            "controller_pid_start": run_records.process_start(os.getppid()),
            "user": getpass.getuser(),
            "profile": args["profile"],
            "coordinator_profile": profile_path,
            "generation": current,
            "target_generation": number,
            "manifest_path": new_path,
            "previous_manifest_path": old_path,
            "manifest_existed": existed,
            "manifest": new,
            "previous_manifest": old,
            "committed_runs": run_records.committed_runs(profile_path),
            "targets": targets,
            # every target of the inventory group, also those the new manifest leaves empty
            "hosts": dict(hosts),
            "host_targets": {host: name for name, host in hosts.items()},
            # derivations that targets build themselves before the deployment can go on
            "remote_builds": remote_builds,
            "complete": check or not remote_builds,
            "build_lines": lines,
            "built": built,
            # host -> the services it runs that have keys (disnix_keys): names only
            "keyed_services": {hosts[t]: names for t, names in keyed.items()},
            # a selective deploy's services (disnix_only with what they depend on), else None
            "selected": sorted(selected) if selected is not None else None,
            "seconds": round(time.monotonic() - started, 3),
        }

    @staticmethod
    def _keyed(keys: Any, services: set[str] | None, manifest: dict[str, Any]) -> dict[str, list[str]]:
        """disnix_keys checked before anything changes (its service names against the services
        model, when there is one); target -> its services with keys."""
        try:
            checked = guard.check_keys(keys, services)
        except ValueError as exc:
            raise AnsibleActionFail(f"{exc}. Nothing was changed.") from None
        out: dict[str, set[str]] = {}
        for m in manifest["mappings"]:
            if m["service"] in checked:
                out.setdefault(m["target"], set()).add(m["service"])
        return {t: sorted(names) for t, names in sorted(out.items())}

    @staticmethod
    def _select(arch, new: dict[str, Any], old: dict[str, Any] | None, only: Any):
        """A selective deploy (disnix_only): the chosen services with what they depend on
        come from the models, everything else stays as the current generation has it; only
        the chosen services are built."""
        distributed = {name: svc for name, svc in arch.services.items() if arch.mappings_of(name)}
        try:
            chosen = guard.select(distributed, guard.parse_only(only))
            new = guard.restrict(new, old, chosen)
        except ValueError as exc:
            raise AnsibleActionFail(str(exc)) from None
        return replace(arch, mappings=[m for m in arch.mappings if m.service in chosen]), new, chosen

    @staticmethod
    def _where_to_build(arch, infrastructure: dict[str, dict], build_on: set[str], nix_bin: str | None) -> tuple[list[str], dict[str, list[str]]]:
        """Derivations the controller has to build, and per target those it builds itself. A
        target builds its own services when asked to and their outputs are not yet in the
        controller's store; a system the controller cannot build is an error before anything
        changes. Only what has to be built is checked: an output already in the store is
        not built, and the controller's configuration is then not read."""
        local: set[str] = set()
        remote: dict[str, set[str]] = {}
        buildable: set[str] | None = None
        outputs_missing = set(store.invalid_paths(sorted({m.out for m in arch.mappings}), nix_bin))
        for m in arch.mappings:
            system = infrastructure[m.target]["system"]
            if m.target in build_on:
                if m.out in outputs_missing:
                    remote.setdefault(m.target, set()).add(m.drv)
                continue
            if m.out not in outputs_missing:
                continue
            if buildable is None:
                buildable = store.buildable_systems(nix_bin)
            if system not in buildable:
                raise AnsibleActionFail(
                    f"target {m.target} has system {system}, which this controller cannot build "
                    f"(it builds {', '.join(sorted(buildable - {'builtin'}))}); set disnix_build_on_targets=true, "
                    f"for the run (-e) or as a host variable of {m.target}, to build on the targets. Nothing was changed.")
            local.add(m.drv)
        return sorted(local), {t: sorted(d) for t, d in sorted(remote.items())}

    @staticmethod
    def _pick_generation(wanted: str, gens: dict[int, str], current: int | None) -> tuple[str, int]:
        if wanted == "previous":
            older = [g for g in gens if current is not None and g < current]
            if not older:
                raise AnsibleActionFail("there is no previous generation to roll back to"
                                        + (f" (current: {current})" if current else " (nothing deployed yet)"))
            number = max(older)
        else:
            try:
                number = int(wanted)
            except ValueError:
                raise AnsibleActionFail(f"generation must be a number or 'previous', got {wanted!r}") from None
            if number not in gens:
                raise AnsibleActionFail(f"generation {number} does not exist (have: {', '.join(map(str, sorted(gens))) or 'none'})")
        return gens[number], number
