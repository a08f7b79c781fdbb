# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Repairing a target after a run that died (controller killed, target lost mid-run).

The controller decides that the run holding the lock is dead and whether the rest of the
network committed it; this module then, on the target alone: takes the lock over from the
dead run under the step guard (so none of the dead run's steps can still run or write),
rolls its journaled steps and profile switch back (or, when it committed, only drops its
journal), and releases the lock.

Runs on targets: Python 3.8+, standard library only.
"""

from __future__ import annotations

from ansible_collections.disnix.deploy.plugins.module_utils import locking, profiles, service_keys
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError, hostname
from ansible_collections.disnix.deploy.plugins.module_utils.transition_journal import Journal, journal_path
from ansible_collections.disnix.deploy.plugins.module_utils.transition_steps import Context, rollback


def leftovers(request: locking.LockRequest) -> dict:
    """The lock and the journaled runs found on the target."""
    journal = Journal(journal_path(request.profile, request.tmpdir))
    return {"lock": locking.read_lock(request.path), "journal_runs": journal.run_ids()}


def recover(request: locking.LockRequest, dead_run_id: str | None, committed: bool, check_mode: bool = False) -> dict:
    """Repair what the dead run ``dead_run_id`` left; ``request.run_id`` is the repairing run.
    ``dead_run_id`` None means: runs whose journal is left without a lock."""
    found = leftovers(request)
    holder = found["lock"]
    holder_run = holder.get("run_id") if holder else None
    if holder is not None and holder_run not in (dead_run_id, request.run_id):
        raise TargetError("profile '%s' on %s is locked by %s, not by the dead run %s; not recovering"
                          % (request.profile, hostname(), locking.describe_holder(holder, request.path), dead_run_id),
                          lock_holder=holder)
    runs = [r for r in found["journal_runs"] if r != request.run_id and (dead_run_id is None or r == dead_run_id)]
    if holder is None and not runs:
        return {"changed": False, "restored": [], "direction": None, "msg": "nothing to recover on %s" % hostname()}
    direction = "forward" if committed else "back"
    journal = Journal(journal_path(request.profile, request.tmpdir))
    if check_mode:
        pending = [e for r in runs for e in journal.pending_undo(r)]
        return {"changed": True, "restored": [], "direction": direction, "pending": pending,
                "msg": "would recover %s on %s (%d step(s) to undo)"
                       % (", ".join(runs) or holder_run, hostname(), 0 if committed else len(pending))}
    restored: list[dict] = []
    with locking.owner_guard(request.profile, request.tmpdir, request.run_id, fenced=False):
        locking.take_over(request, holder_run)
        if not committed:
            context = Context(run_id=request.run_id, journal=journal, log_dir=request.log_dir, timeout=request.timeout,
                              profile_link=profiles.profile_link(request.profile), tmpdir=request.tmpdir,
                              activation=request.activation)
            for run in runs:
                restored += rollback(context, None, run_id=run)["restored"]
        else:
            # committed: the files its key changes replaced are no longer needed
            service_keys.drop_backups([e for e in journal.entries() if e.get("run_id") in runs])
        for run in runs:
            journal.clear_run(run)
    released = locking.release(request)
    return {"changed": True, "restored": restored, "direction": direction, "runs": runs,
            "warnings": released.get("warnings", []),
            "msg": "recovered run(s) %s on %s: %s" % (", ".join(runs) or holder_run, hostname(),
                                                      "committed, journal dropped" if committed else
                                                      "%d step(s) undone" % len(restored))}
