# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One target's share of a transition wave: run its (de)activation steps, up to
``max_parallel`` at a time, journal each success; or undo a wave from the journal.

Runs on targets: Python 3.8+, standard library only.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import os

from ansible_collections.disnix.deploy.plugins.module_utils import locking, profiles, service_keys, snapshots
from ansible_collections.disnix.deploy.plugins.module_utils.activation_log import ActivationLog
from ansible_collections.disnix.deploy.plugins.module_utils.activation_types import (
    Operation, OperationResult, run_operation, would_change)
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError, hostname
from ansible_collections.disnix.deploy.plugins.module_utils.transition_journal import (
    KEY_OP, PROFILE_OP, RESTORE_OP, Journal, undo_operation)


@dataclasses.dataclass
class Context:
    run_id: str
    journal: Journal
    log_dir: str
    timeout: float
    check_mode: bool = False
    # run_id must still hold the target's lock before each step (see locking.owner_guard)
    owner_check: object = None
    profile_link: str = ""
    tmpdir: str = ""
    # builtin or dysnomia (activation_types.ENGINES), for steps and their undo alike
    activation: str = "builtin"
    _log: ActivationLog | None = None

    @property
    def log(self) -> ActivationLog:
        # created on first use: check mode must not create the log directory
        if self._log is None:
            self._log = ActivationLog(self.log_dir, self.run_id)
        return self._log


def step_operation(step: dict, timeout: float, engine: str = "builtin") -> Operation:
    return Operation(op=step["op"], pkg=step["pkg"], type=step["type"], container=step.get("container") or "",
                     properties=step.get("properties") or {}, service=step.get("service") or "",
                     key=step.get("key") or "", timeout=timeout, engine=engine)


def _summary(operation: Operation, result: OperationResult) -> dict:
    return {"service": operation.service, "key": operation.key, "op": operation.op, "type": operation.type,
            "container": operation.container_name, "pkg": operation.pkg, "ok": result.ok,
            "changed": result.changed, "output": result.output, "details": result.details}


def run_steps(context: Context, steps: list[dict], wave: int, max_parallel: int) -> dict:
    """Perform the steps; the module result. Raises TargetError (after all steps ran) on failures."""
    operations = [step_operation(s, context.timeout, context.activation) for s in steps]
    if context.check_mode:
        results = [_summary(o, OperationResult(ok=True, changed=would_change(o), output="check mode: would %s" % o.op))
                   for o in operations]
        return {"changed": any(r["changed"] for r in results), "results": results,
                "msg": "would run %d step(s) of wave %d" % (len(results), wave)}

    context.log  # pylint: disable=pointless-statement  # fail on an unwritable log before anything runs

    warnings: list[str] = []

    def perform(operation: Operation) -> dict:
        if context.owner_check is not None:
            context.owner_check()  # pylint: disable=not-callable
        if operation.op == "deactivate" and operation.pkg and not os.path.exists(operation.pkg):
            # a target that lost its store: what is gone cannot run; treat it as deactivated
            warnings.append("%s: package %s is missing on %s; treated as already deactivated"
                            % (operation.service, operation.pkg, hostname()))
            context.journal.record(context.run_id, wave, operation)
            return _summary(operation, OperationResult(ok=True, changed=False, output="package missing"))
        begun = context.journal.begin(context.run_id, wave, operation)
        result = run_operation(operation)
        context.log.record(operation, result)
        context.journal.end(begun, result.ok)
        return _summary(operation, result)

    workers = max(1, min(max_parallel, len(operations) or 1))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(perform, operations))
    changed = any(r["changed"] for r in results)
    failed = [r for r in results if not r["ok"]]
    if failed:
        raise TargetError("wave %d on %s: %d of %d step(s) failed (the %d that succeeded are journaled for rollback): %s"
                          % (wave, hostname(), len(failed), len(results), len(results) - len(failed),
                             "; ".join(r["output"].strip() for r in failed)),
                          changed=changed, results=results, failed_services=[r["service"] for r in failed])
    return {"changed": changed, "results": results, "warnings": warnings,
            "msg": "wave %d: %d step(s) done on %s" % (wave, len(results), hostname())}


def _undo_profile(context: Context, entry: dict) -> dict:
    """Put the profile back to what a journaled switch replaced."""
    made = entry.get("generation")
    if made is None and profiles.current_path(context.profile_link) == entry.get("to"):
        made = profiles.current_generation(context.profile_link)
    ok, output = True, "profile back to generation %s" % entry.get("from_generation")
    try:
        profiles.switch_back(context.profile_link, entry.get("from_generation"), made, tmpdir=context.tmpdir or None)
    except (TargetError, OSError) as exc:
        ok, output = False, "cannot restore the profile %s: %s" % (context.profile_link, getattr(exc, "msg", exc))
    return {"service": "(profile)", "key": "", "op": "profile", "type": "profile", "container": "",
            "pkg": entry.get("from") or "", "ok": ok, "changed": ok, "output": output, "details": {}}


def _undo_snapshot_import(entry: dict) -> dict:
    """Take a migrated snapshot back out of the new target's store."""
    ok, output = True, "snapshot %s taken back out of %s" % (entry.get("snapshot"), entry.get("statedir"))
    try:
        snapshots.Store(entry.get("statedir") or snapshots.DEFAULT_STATEDIR).undo_import(
            entry.get("snapshot") or "", entry.get("generation"), bool(entry.get("snapshot_added")))
    except (TargetError, OSError) as exc:
        ok, output = False, "cannot take snapshot %s back out: %s" % (entry.get("snapshot"), getattr(exc, "msg", exc))
    return {"service": entry.get("service") or "", "key": entry.get("key") or "", "op": "unimport snapshot",
            "type": entry.get("type") or "", "container": entry.get("container") or "", "pkg": entry.get("pkg") or "",
            "ok": ok, "changed": ok, "output": output, "details": {}}


def rollback(context: Context, wave: int | None, run_id: str | None = None) -> dict:
    """Undo the journaled steps of ``run_id`` (this run's by default) in ``wave`` (all waves
    when None), newest first, the profile switch included."""
    run = run_id or context.run_id
    entries = context.journal.pending_undo(run, wave)
    what = "wave %d" % wave if wave is not None else "every wave"
    if context.check_mode:
        restored = [{"service": e.get("service") or "(profile)",
                     "op": {PROFILE_OP: "profile", RESTORE_OP: "unimport snapshot", KEY_OP: "restore key"}.get(e["op"])
                     or undo_operation(e, 0).op,
                     "ok": True, "changed": True, "output": "check mode"} for e in entries]
        return {"changed": bool(restored), "results": restored, "restored": restored,
                "msg": "would undo %d step(s) of %s" % (len(restored), what)}
    context.log  # pylint: disable=pointless-statement
    results = []
    for entry in entries:
        if entry["op"] == PROFILE_OP:
            summary = _undo_profile(context, entry)
        elif entry["op"] == RESTORE_OP:
            summary = _undo_snapshot_import(entry)
        elif entry["op"] == KEY_OP:
            summary = service_keys.undo(entry)
        else:
            operation = undo_operation(entry, context.timeout, context.activation)
            if operation.op == "activate" and operation.pkg and not os.path.exists(operation.pkg):
                summary = _summary(operation, OperationResult(ok=False, changed=False, output="package %s is missing" % operation.pkg))
            else:
                result = run_operation(operation)  # best effort: go on after a failure to restore as much as possible
                context.log.record(operation, result)
                summary = _summary(operation, result)
        results.append(summary)
        if summary["ok"]:
            context.journal.mark_undone(entry)
    changed = any(r["changed"] for r in results)
    restored = [r for r in results if r["ok"]]
    failed = [r for r in results if not r["ok"]]
    if failed:
        raise TargetError("rollback of %s on %s failed for %s; the target may be inconsistent (the steps not undone stay in %s): %s"
                          % (what, hostname(), ", ".join(r["service"] for r in failed), context.journal.path,
                             "; ".join(r["output"].strip() for r in failed)),
                          changed=changed, results=results, restored=restored, failed_services=[r["service"] for r in failed])
    return {"changed": changed, "results": results, "restored": restored,
            "msg": "undid %d step(s) of %s on %s" % (len(restored), what, hostname())}


def guarded(context: Context, profile: str, fenced: bool):
    """The step guard for this run (nothing when the run takes no locks)."""
    if not fenced:
        return contextlib.nullcontext(None)
    return locking.owner_guard(profile, context.tmpdir, context.run_id)
