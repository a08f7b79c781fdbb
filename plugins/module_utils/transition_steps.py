# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One target's share of a transition wave: run its (de)activation steps, up to
``max_parallel`` at a time, journal each success; or undo a wave from the journal.

Runs on targets: Python 3.8+, standard library only.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses

from ansible_collections.disnix.deploy.plugins.module_utils.activation_log import ActivationLog
from ansible_collections.disnix.deploy.plugins.module_utils.activation_types import (
    Operation, OperationResult, run_operation, would_change)
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError, hostname
from ansible_collections.disnix.deploy.plugins.module_utils.transition_journal import Journal, undo_operation


@dataclasses.dataclass
class Context:
    run_id: str
    journal: Journal
    log_dir: str
    timeout: float
    check_mode: bool = False
    _log: ActivationLog | None = None

    @property
    def log(self) -> ActivationLog:
        # created on first use: check mode must not create the log directory
        if self._log is None:
            self._log = ActivationLog(self.log_dir, self.run_id)
        return self._log


def step_operation(step: dict, timeout: float) -> Operation:
    return Operation(op=step["op"], pkg=step["pkg"], type=step["type"], container=step.get("container") or "",
                     properties=step.get("properties") or {}, service=step.get("service") or "",
                     key=step.get("key") or "", timeout=timeout)


def _summary(operation: Operation, result: OperationResult) -> dict:
    return {"service": operation.service, "key": operation.key, "op": operation.op, "type": operation.type,
            "container": operation.container_name, "pkg": operation.pkg, "ok": result.ok,
            "changed": result.changed, "output": result.output, "details": result.details}


def run_steps(context: Context, steps: list[dict], wave: int, max_parallel: int) -> dict:
    """Perform the steps; the module result. Raises TargetError (after all steps ran) on failures."""
    operations = [step_operation(s, context.timeout) for s in steps]
    if context.check_mode:
        results = [_summary(o, OperationResult(ok=True, changed=would_change(o), output="check mode: would %s" % o.op))
                   for o in operations]
        return {"changed": any(r["changed"] for r in results), "results": results,
                "msg": "would run %d step(s) of wave %d" % (len(results), wave)}

    context.log  # pylint: disable=pointless-statement  # fail on an unwritable log before anything runs

    def perform(operation: Operation) -> dict:
        result = run_operation(operation)
        context.log.record(operation, result)
        if result.ok:
            context.journal.record(context.run_id, wave, operation)
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
    return {"changed": changed, "results": results,
            "msg": "wave %d: %d step(s) done on %s" % (wave, len(results), hostname())}


def rollback(context: Context, wave: int | None) -> dict:
    """Undo this run's journaled steps of ``wave`` (all waves when None), newest first."""
    entries = context.journal.pending_undo(context.run_id, wave)
    what = "wave %d" % wave if wave is not None else "every wave"
    operations = [undo_operation(e, context.timeout) for e in entries]
    if context.check_mode:
        restored = [_summary(o, OperationResult(ok=True, changed=would_change(o), output="check mode: would %s" % o.op))
                    for o in operations]
        return {"changed": bool(restored), "results": restored, "restored": restored,
                "msg": "would undo %d step(s) of %s" % (len(restored), what)}
    context.log  # pylint: disable=pointless-statement
    results = []
    undone = []
    for entry, operation in zip(entries, operations):
        result = run_operation(operation)  # best effort: go on after a failure to restore as much as possible
        context.log.record(operation, result)
        results.append(_summary(operation, result))
        if result.ok:
            undone.append(entry)
    if undone:
        context.journal.remove(undone)
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
