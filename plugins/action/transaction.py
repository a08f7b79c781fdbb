# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action disnix.deploy.transaction: judges one stage of the deployment.

Runs once on the controller after a stage task ran on every target (with failures and
unreachable hosts kept in the play), reads each host's registered result and hands them to
plugin_utils/transaction.py, which decides. Commits (the controller generation and the
commit record) happen here, only when that logic says every target confirmed.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.disnix.deploy.plugins.plugin_utils import controller_store as store
from ansible_collections.disnix.deploy.plugins.plugin_utils import plan_json
from ansible_collections.disnix.deploy.plugins.plugin_utils import run_records
from ansible_collections.disnix.deploy.plugins.plugin_utils import secrets
from ansible_collections.disnix.deploy.plugins.plugin_utils import transaction as tx_logic

display = Display()

STAGES = ("query", "recover", "distribute", "lock", "keys", "wave", "migrate", "profiles", "rollback", "commit", "unlock", "report")

ARGSPEC = {
    "stage": {"type": "str", "required": True, "choices": list(STAGES)},
    "wave": {"type": "int"},
    "phase": {"type": "str", "choices": list(tx_logic.MIGRATION_PHASES)},
    "deploy_state": {"type": "bool", "default": False},
    "results": {"type": "str"},
    "health": {"type": "str"},
    "force": {"type": "bool", "default": False},
    "no_lock": {"type": "bool", "default": False},
    "recover_only": {"type": "bool", "default": False},
    "plan_json": {"type": "path"},
    **store.CONTROLLER_ARGSPEC,
}


def _scrubbed(value: Any, hidden: set[str]) -> Any:
    if isinstance(value, str):
        return secrets.scrub(value, hidden)
    if isinstance(value, dict):
        return {k: _scrubbed(v, hidden) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, hidden) for v in value]
    return value


class ActionModule(ActionBase):
    """One decision of the deployment transaction."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=ARGSPEC)
        task_vars = task_vars or {}
        stage = args["stage"]
        results = self._results(task_vars, args["results"]) if args["results"] else {}
        if stage == "query":
            manifest = task_vars.get("disnix_manifest")
            if not isinstance(manifest, dict) or "manifest" not in manifest:
                raise AnsibleActionFail("stage query needs the result of disnix.deploy.manifest as disnix_manifest")
            tx = tx_logic.start(manifest, list(task_vars["groups"].get(task_vars.get("disnix_targets_group") or "disnix_targets", [])),
                                list(task_vars.get("ansible_play_hosts_all") or []), self._task.check_mode,
                                manifest.get("committed_runs"), recover_only=args["recover_only"],
                                deploy_state_all=args["deploy_state"])
            tx = tx_logic.after_query(tx, results, socket.gethostname(), self._alive(results), force=args["force"],
                                      no_lock=args["no_lock"])
            self._say("plan", list(manifest.get("build_lines") or []) + (tx["plan_lines"] if tx["plan"] else []) + tx["key_lines"])
            if tx["check"] and tx["plan"]:
                result["diff"] = tx_logic.diff_text(tx)
                if args["plan_json"]:
                    self._write_plan(args["plan_json"], tx, results)
        else:
            tx = (task_vars.get("disnix_tx_result") or {}).get("tx")
            if not isinstance(tx, dict) or "run_id" not in tx:
                raise AnsibleActionFail(f"stage {stage} needs the state of the earlier stages as disnix_tx")
            health = self._results(task_vars, args["health"]) if args["health"] else {}
            tx = self._judge(stage, args, tx, results, health)
        tx["active"] = tx_logic.lock_hosts(tx)
        tx["profile_hosts"] = tx_logic.profile_hosts(tx)
        committed = stage == "commit" and tx["outcome"] == tx_logic.COMMITTED
        # a run that only rewrote keys changed something only when a key file changed
        changed = bool(tx["changed"] or tx["key_lines"]) if tx["check"] else committed and (not tx["keys_only"] or tx["keys_changed"])
        result.update(tx=tx, changed=changed)
        # tx carries the real properties to the next stage: never printed, not even with -v
        result["_ansible_verbose_override"] = True
        if stage == "report":
            # failure messages come from the targets and may quote a secret property's value
            hidden = secrets.secret_values(tx["new"]) | secrets.secret_values(tx.get("actual") or {})
            lines = [secrets.scrub(line, hidden) for line in tx_logic.report(tx)]
            self._say("summary", lines)
            result["report"] = lines
            if tx_logic.failed(tx):
                # a failure is printed whole, so only what a person reads there (no models, no
                # properties); nothing reads the state after the report
                summary = {k: tx[k] for k in ("run_id", "outcome", "lost", "failed", "restored", "repair", "generation")}
                result["tx"] = _scrubbed(summary, hidden)
                result["failed"] = True
                result["msg"] = " | ".join(lines)
        return result

    def _judge(self, stage: str, args: dict[str, Any], tx: dict[str, Any], results: dict[str, Any],
               health: dict[str, Any]) -> dict[str, Any]:
        # every judging task runs (a skipped one would drop the state); stages after a stop pass
        if stage in ("distribute", "lock", "keys", "wave", "migrate", "profiles") and not tx["go"]:
            return tx
        if stage == "recover":
            return tx_logic.after_recover(tx, results)
        if stage == "distribute":
            return tx_logic.after_distribute(tx, results)
        if stage == "lock":
            before = tx["plan_lines"]
            tx = tx_logic.after_lock(tx, results, no_lock=args["no_lock"])
            if tx["go"] and tx["plan_lines"] != before:
                self._say("plan, as the locked targets run", tx["plan_lines"])
            return tx
        if stage == "keys":
            return tx_logic.after_keys(tx, results)
        if stage == "wave":
            return tx_logic.after_wave(tx, args["wave"], results, health)
        if stage == "migrate":
            if args["wave"] is None or not args["phase"]:
                raise AnsibleActionFail("stage migrate needs wave and phase")
            return tx_logic.after_migration(tx, args["wave"], args["phase"], results, time.time())
        if stage == "profiles":
            return tx_logic.after_profiles(tx, results)
        if stage == "rollback":
            return tx_logic.after_rollback(tx, args["wave"], results)
        if stage == "commit":
            return self._commit(tx, args)
        if stage == "unlock":
            return tx_logic.after_unlock(tx, results)
        return tx  # report

    def _commit(self, tx: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        if tx["check"] or tx["recover_only"] or not tx_logic.commit_ready(tx):
            return tx_logic.finish(tx, committed=False)
        path = tx["coordinator_profile"]
        try:
            if tx["target_generation"] is not None:
                if store.current_generation(path) != tx["target_generation"]:
                    store.switch_generation(path, tx["target_generation"], args["nix_bin_dir"])
            elif tx["manifest_path"] and store.generations(path).get(store.current_generation(path) or -1) != tx["manifest_path"]:
                store.set_generation(path, tx["manifest_path"], args["nix_bin_dir"])
            run_records.record_commit(path, tx["run_id"], store.current_generation(path))
        except (store.DeployError, OSError) as exc:
            # the targets switched; recovery rolls them back, since the run is not recorded as committed
            tx = dict(tx, go=False)
            tx["repair"] = dict(tx["repair"], controller=f"recording the controller generation failed: {exc}")
            return tx_logic.finish(tx, committed=False)
        tx = tx_logic.finish(tx, committed=True)
        tx["generation"] = store.current_generation(path)
        return tx

    def _write_plan(self, path: str, tx: dict[str, Any], results: dict[str, Any]) -> None:
        lacks = {target: (results.get(host) or {}).get("invalid_paths") or [] for target, host in tx["hosts"].items()}
        try:
            plan_json.write(path, plan_json.build(tx, lacks))
        except OSError as exc:
            raise AnsibleActionFail(f"disnix_plan_json: cannot write {path}: {exc.strerror}") from None
        display.display(f"disnix plan written to {path}")

    @staticmethod
    def _results(task_vars: dict[str, Any], names: str) -> dict[str, Any]:
        """Each host's registered result; with several names (comma-separated, tasks in the
        order they ran) the first that failed, else the last that ran."""
        out = {}
        for host in task_vars["groups"].get("all", []):
            for name in names.split(","):
                value = task_vars["hostvars"][host].get(name.strip())
                if value is None:
                    continue
                status, _msg = tx_logic.host_result(value)
                if status in ("failed", "unreachable"):
                    out[host] = value
                    break
                if status == "ok" or host not in out:
                    out[host] = value
        return out

    @staticmethod
    def _alive(results: dict[str, Any]) -> dict[str, bool]:
        """Per run id holding a target lock written on this controller: does its process live?"""
        alive = {}
        for res in results.values():
            lock = res.get("lock") if isinstance(res, dict) else None
            if isinstance(lock, dict) and lock.get("controller") == socket.gethostname():
                alive[str(lock.get("run_id"))] = run_records.process_alive(lock.get("pid"), lock.get("pid_start"))
        return alive

    @staticmethod
    def _say(title: str, lines: list[str]) -> None:
        if lines:
            display.display(f"disnix {title}:\n" + "\n".join(f"  {line}" for line in lines))
