# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Locking a target profile the way Disnix does (profilelocking.c): every service of the
currently deployed profile manifest is asked to ``lock`` (and may refuse), then
``$TMPDIR/disnix-<profile>.lock`` is created with O_EXCL. Unlocking notifies ``unlock`` and
removes the file.

Runs on targets: Python 3.8+, standard library only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import getpass
import json
import os
import time

from ansible_collections.disnix.deploy.plugins.module_utils import profiles, service_keys
from ansible_collections.disnix.deploy.plugins.module_utils.activation_log import ActivationLog
from ansible_collections.disnix.deploy.plugins.module_utils.activation_types import Operation, run_operation
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import (
    TargetError, check_profile_name, create_exclusive, hostname, open_nofollow, read_json_file, remove_file,
    write_file_atomically)
from ansible_collections.disnix.deploy.plugins.module_utils.transition_journal import Journal, journal_path


def lock_path(profile: str, tmpdir: str) -> str:
    return os.path.join(tmpdir, "disnix-%s.lock" % check_profile_name(profile))


def read_lock(path: str) -> dict | None:
    """The lock file's content; ``{"raw": text}`` for a lock not written by this collection."""
    exists, data = read_json_file(path)
    if not exists:
        return None
    return data if isinstance(data, dict) else {"raw": json.dumps(data)}


def describe_holder(info: dict, path: str, now: float | None = None) -> str:
    """Who holds a lock, for error messages."""
    if "run_id" not in info:
        return "an unknown holder (%s was not written by disnix.deploy; Disnix itself leaves it empty)" % path
    since = info.get("since")
    age = ""
    if isinstance(since, (int, float)):
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
        age = " since %s (%d s ago)" % (when, int((now or time.time()) - since))
    return "run %s (controller %s, user %s, pid %s)%s" % (
        info.get("run_id"), info.get("controller") or "unknown", info.get("user") or "unknown", info.get("pid") or "unknown", age)


@dataclasses.dataclass
class LockRequest:
    profile: str
    tmpdir: str
    run_id: str
    log_dir: str
    controller: str | None = None
    controller_pid: int | None = None
    controller_pid_start: str | None = None
    user: str | None = None
    force: bool = False
    timeout: float = 10
    # how the services' lock/unlock (and recovery's undo) run: activation_types.ENGINES
    activation: str = "builtin"
    # when the run started (controller clock, epoch seconds): orders runs that meet (runs_before)
    started: float | None = None

    @property
    def path(self) -> str:
        return lock_path(self.profile, self.tmpdir)

    def lock_info(self) -> dict:
        return {
            "run_id": self.run_id,
            "controller": self.controller,
            "user": self.user or _local_user(),
            "pid": self.controller_pid,
            "pid_start": self.controller_pid_start,
            "since": int(time.time()),
            "started": self.started,
            "profile": self.profile,
        }


def runs_before(run: dict, other: dict) -> bool:
    """Whether ``run`` goes before ``other`` when two deployments meet (wait-die): the one
    that started first, and of two that started together the smaller run id. Both sides
    judge from the same two values, so they agree whatever their clocks say. A holder that
    recorded no start (a lock of an older version, or not ours) goes first."""
    mine, theirs = run.get("started"), other.get("started")
    if not isinstance(theirs, (int, float)) or isinstance(theirs, bool):
        return False
    if not isinstance(mine, (int, float)) or isinstance(mine, bool):
        return False
    return (mine, str(run.get("run_id"))) < (theirs, str(other.get("run_id")))


def _local_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def deployed_operations(request: LockRequest, op: str, warnings: list[str] | None = None) -> list[Operation]:
    """``op`` for every service of the currently deployed profile manifest. Services whose
    package is gone from the store (a target re-created blank) cannot be asked; they are
    left out, with a warning, so the network can move on."""
    link = profiles.profile_link(request.profile)
    manifest = profiles.read_manifest(profiles.current_path(link))
    operations = []
    for s in profiles.manifest_services(manifest):
        operation = profiles.service_operation(s, op, request.timeout, request.activation)
        if operation.pkg and not os.path.exists(operation.pkg):
            if warnings is not None:
                warnings.append("%s: package %s is missing on %s; not asked to %s" % (operation.service, operation.pkg, hostname(), op))
            continue
        operations.append(operation)
    return operations


def steps_path(profile: str, tmpdir: str) -> str:
    return os.path.join(tmpdir, "disnix-%s.steps" % check_profile_name(profile))


@contextlib.contextmanager
def owner_guard(profile: str, tmpdir: str, run_id: str, fenced: bool = True, wait: float = 900):
    """Hold the profile's step guard (an flock on ``disnix-<profile>.steps``) while steps run.

    Yields a check that raises TargetError unless ``run_id`` still owns the lock file. Recovery
    takes the lock over while holding the same guard, so once it has, a step of the old run
    (a killed controller's stray module) can neither run nor write to the journal."""
    path = steps_path(profile, tmpdir)
    try:
        fd = open_nofollow(path, os.O_RDWR | os.O_CREAT, 0o600, doing="open the step guard")
    except FileNotFoundError as exc:
        raise TargetError("cannot open the step guard %s on %s: %s" % (path, hostname(), exc.strerror or exc))
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TargetError("steps of another run still hold %s on %s after %d s" % (path, hostname(), wait))
                time.sleep(0.2)
        lock_file = lock_path(profile, tmpdir)

        def check() -> None:
            if not fenced:
                return
            holder = read_lock(lock_file)
            if holder is None or holder.get("run_id") != run_id:
                raise TargetError("run %s no longer holds the lock of profile '%s' on %s (now: %s); step not run"
                                  % (run_id, profile, hostname(), describe_holder(holder, lock_file) if holder else "unlocked"),
                                  fenced=True)

        yield check
    finally:
        os.close(fd)


def take_over(request: LockRequest, expected_run_id: str | None) -> dict | None:
    """Make ``request.run_id`` the lock holder in place of the dead run ``expected_run_id``
    (or of nobody). Call with the step guard held. Returns the replaced holder."""
    holder = read_lock(request.path)
    current = holder.get("run_id") if holder else None
    if holder is not None and current != expected_run_id and current != request.run_id:
        raise _held_error(request, holder, "; expected the lock of run %s" % expected_run_id)
    info = dict(request.lock_info(), recovering=current)
    _write_lock(request.path, info)
    return holder


def _write_lock(path: str, info: dict) -> None:
    """Replace the lock file's content atomically (a new file renamed over it)."""
    write_file_atomically(path, (json.dumps(info, sort_keys=True) + "\n").encode("utf-8"), 0o644)


def _summary(operation: Operation, ok: bool, output: str) -> dict:
    return {"service": operation.service, "key": operation.key, "type": operation.type,
            "container": operation.container_name, "op": operation.op, "ok": ok, "output": output}


def _notify(operations: list[Operation], log: ActivationLog, stop_on_failure: bool) -> list[dict]:
    results = []
    for operation in operations:
        result = run_operation(operation)
        log.record(operation, result)
        results.append(_summary(operation, result.ok, result.output))
        if not result.ok and stop_on_failure:
            break
    return results


def _held_error(request: LockRequest, holder: dict, suffix: str = "") -> TargetError:
    return TargetError("profile '%s' on %s is locked by %s; lock file %s%s"
                       % (request.profile, hostname(), describe_holder(holder, request.path), request.path, suffix),
                       lock_holder=holder, lock_file=request.path)


def acquire(request: LockRequest, check_mode: bool = False) -> dict:
    """Lock the profile; the module result (without ``failed``). Raises TargetError."""
    holder = read_lock(request.path)
    if holder is not None:
        if holder.get("run_id") == request.run_id:
            return {"changed": False, "lock": holder, "lock_file": request.path, "services": [], **_profile_state(request),
                    "msg": "profile '%s' is already locked by this run" % request.profile}
        raise _held_error(request, holder)
    warnings: list[str] = []
    operations = deployed_operations(request, "lock", warnings)
    state = _profile_state(request)
    if check_mode:
        return {"changed": True, "lock": None, "lock_file": request.path, "warnings": warnings, **state,
                "services": [_summary(o, True, "check mode: would lock") for o in operations],
                "msg": "would lock profile '%s' and %d service(s)" % (request.profile, len(operations))}
    log = ActivationLog(request.log_dir, request.run_id)
    results = _notify(operations, log, stop_on_failure=True)
    refused = [r for r in results if not r["ok"]]
    if refused:
        _release_services(operations[:len(results) - 1], log)
        raise TargetError("%s refused to be locked on %s, so the profile '%s' stays unlocked (the services locked before were "
                          "unlocked again): %s" % (refused[0]["service"], hostname(), request.profile, refused[0]["output"]),
                          services=results, refused_service=refused[0]["service"], lock_file=request.path)
    info = request.lock_info()
    try:
        _create_exclusive(request.path, info)
    except FileExistsError:
        _release_services(operations, log)
        raise _held_error(request, read_lock(request.path) or {})
    return {"changed": True, "lock": info, "lock_file": request.path, "services": results, "warnings": warnings,
            **state, "msg": "locked profile '%s' and %d service(s)" % (request.profile, len(operations))}


def acquire_waiting(request: LockRequest, wait: float, check_mode: bool = False, poll: float = 0.2) -> dict:
    """``acquire``, but a lock held by a run that started after this one is waited for, up
    to ``wait`` seconds: that run gives way when it meets this run's locks (wait-die), so of
    two deployments locking the same targets in a different order one always wins. A lock of
    a run that started before this one is refused at once, as ``acquire`` refuses."""
    deadline = time.monotonic() + wait
    me = {"run_id": request.run_id, "started": request.started}
    waited = False
    while True:
        try:
            result = acquire(request, check_mode)
        except TargetError as exc:
            holder = exc.details.get("lock_holder")
            if check_mode or not holder or not runs_before(me, holder) or time.monotonic() >= deadline:
                if holder and waited:
                    exc.msg += "; waited %g s for it" % wait
                raise
            waited = True
            time.sleep(poll)
            continue
        if waited:
            result["waited"] = True
        return result


def lock_for_change(request: LockRequest, state: dict, planned_profile: str | None, keys_differ: bool) -> dict:
    """The query's lock (target_state's ``lock``): takes the profile's lock in the same round
    trip when the run changes this target (its profile is not ``planned_profile``, or key files
    differ) and nothing holds the lock or left a journal (the lock stage handles those, after
    any repair). What to add to the query's result: ``locked``, and the state read under the
    lock, or ``lock_refused`` with why (a service's veto, a lock taken meanwhile)."""
    if state.get("lock") is not None or state.get("journal"):
        return {"locked": False}
    if not keys_differ and (planned_profile is None or state.get("profile_path") == planned_profile):
        return {"locked": False}
    try:
        result = acquire(request)
    except TargetError as exc:
        if exc.details.get("lock_holder"):
            # another run was quicker: judged like a lock the query found (wait-die)
            return {"locked": False, "lock": exc.details["lock_holder"]}
        return {"locked": False, "lock_refused": exc.msg}
    return {"locked": True, "changed": True, "lock": result["lock"], "profile_path": result["profile_path"],
            "profile_manifest": result["profile_manifest"], "lock_services": result["services"],
            "warnings": result.get("warnings") or []}


def _profile_state(request: LockRequest) -> dict:
    """What the target runs, read under the lock: the transition is planned from this."""
    path = profiles.current_path(profiles.profile_link(request.profile))
    return {"profile_path": path, "profile_manifest": profiles.read_manifest(path)}


def _release_services(operations: list[Operation], log: ActivationLog) -> list[dict]:
    unlock = [dataclasses.replace(o, op="unlock") for o in reversed(operations)]
    return _notify(unlock, log, stop_on_failure=False)


def _create_exclusive(path: str, info: dict) -> None:
    """Create the lock file (never through a symbolic link); FileExistsError when another run
    was quicker. Mode 0644: it names the holder only, which other deploying users need to see."""
    try:
        create_exclusive(path, (json.dumps(info, sort_keys=True) + "\n").encode("utf-8"), 0o644)
    except FileExistsError:
        raise
    except OSError as exc:
        raise TargetError("cannot create the lock file %s on %s: %s" % (path, hostname(), exc.strerror or exc))


def release(request: LockRequest, check_mode: bool = False) -> dict:
    """Unlock the profile; the module result (``warnings`` for services whose unlock failed)."""
    holder = read_lock(request.path)
    if holder is None:
        return {"changed": False, "lock": None, "lock_file": request.path, "services": [],
                "msg": "profile '%s' is not locked" % request.profile}
    if holder.get("run_id") != request.run_id and not request.force:
        raise _held_error(request, holder, "; not unlocking another run's lock without force")
    warnings: list[str] = []
    operations = deployed_operations(request, "unlock", warnings)
    if check_mode:
        return {"changed": True, "lock": holder, "lock_file": request.path,
                "services": [_summary(o, True, "check mode: would unlock") for o in operations],
                "msg": "would unlock profile '%s' and %d service(s)" % (request.profile, len(operations))}
    log = ActivationLog(request.log_dir, request.run_id)
    results = _notify(operations, log, stop_on_failure=False)
    remove_file(request.path)
    journal = Journal(journal_path(request.profile, request.tmpdir))
    # the run ends: what its key changes replaced is no longer needed (undone ones are back)
    service_keys.drop_backups([e for e in journal.entries() if e.get("run_id") in (request.run_id, holder.get("recovering"))])
    journal.clear_run(request.run_id)
    if holder.get("recovering"):
        journal.clear_run(holder["recovering"])
    warnings += ["%s did not unlock cleanly: %s" % (r["service"], r["output"]) for r in results if not r["ok"]]
    return {"changed": True, "lock": None, "lock_file": request.path, "services": results, "warnings": warnings,
            "msg": "unlocked profile '%s' and %d service(s)" % (request.profile, len(operations))}
