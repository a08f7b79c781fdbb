# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The target side of the modules every deployment runs on every target (target_state,
lock, activation, profile): their argument specs and what they do, without AnsibleModule.

The modules call these through AnsibleModule. Their action plugins (plugin_utils/
target_runner.py) validate the arguments on the controller against the same specs and run
these functions through a small stdlib-only runner, which costs a fraction of a module's
start (docs/performance.md). Each call returns the module result, or raises TargetError
(or ValueError for bad input), which becomes a failed result.

Runs on targets: Python 3.8+, standard library only.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable

from ansible_collections.disnix.deploy.plugins.module_utils import locking, nix_tools, profiles, service_keys
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import (
    DEFAULT_LOG_DIR, TargetError, resolve_tmpdir, target_argument_spec)
from ansible_collections.disnix.deploy.plugins.module_utils.transition_journal import Journal, journal_path
from ansible_collections.disnix.deploy.plugins.module_utils.transition_steps import Context, guarded, rollback, run_steps

TARGET_STATE_SPEC = target_argument_spec(
    paths=dict(type="list", elements="str", default=[]),
    planned_profile=dict(type="str"),
    query_system=dict(type="bool", default=False),
    query_nix_version=dict(type="bool", default=False),
    # only the values are secret (masked by secret_values); names and paths stay readable
    keys=dict(type="dict", default={}, no_log=False),
    lock=dict(type="dict", options=dict(
        run_id=dict(type="str", required=True),
        planned_profile=dict(type="str"),
        controller=dict(type="str"),
        controller_pid=dict(type="int"),
        controller_pid_start=dict(type="str"),
        user=dict(type="str"),
        started=dict(type="float"),
        activation=dict(type="str", default="builtin", choices=["builtin", "dysnomia"]),
        log_dir=dict(type="path", default=DEFAULT_LOG_DIR),
    )),
)

LOCK_SPEC = target_argument_spec(
    log=True,
    run=True,
    state=dict(type="str", choices=["locked", "unlocked"], default="locked"),
    controller=dict(type="str"),
    controller_pid=dict(type="int"),
    controller_pid_start=dict(type="str"),
    user=dict(type="str"),
    force=dict(type="bool", default=False),
    run_started=dict(type="float"),
    wait=dict(type="float", default=0),
)

STEP_SPEC = dict(
    op=dict(type="str", choices=["activate", "deactivate"], required=True),
    key=dict(type="str", default="", no_log=False),
    service=dict(type="str", default=""),
    pkg=dict(type="str", required=True),
    type=dict(type="str", required=True),
    container=dict(type="str", default=""),
    properties=dict(type="dict", default={}),
)

ACTIVATION_SPEC = target_argument_spec(
    log=True,
    run=True,
    steps=dict(type="list", elements="dict", default=[], options=STEP_SPEC),
    wave=dict(type="int"),
    max_parallel=dict(type="int", default=1),
    rollback=dict(type="bool", default=False),
    timeout=dict(type="int", default=10),
    fenced=dict(type="bool", default=True),
)

PROFILE_SPEC = target_argument_spec(path=dict(type="path", required=True), run_id=dict(type="str"),
                                    fenced=dict(type="bool", default=False))


def target_state(profile: str, tmpdir: str, paths: list[str], query_system: bool, query_nix_version: bool = False,
                 planned_profile: str | None = None) -> dict:
    link = profiles.profile_link(profile)
    store_path = profiles.current_path(link)
    if planned_profile and store_path == os.path.normpath(planned_profile) and os.path.isdir(store_path):
        # the profile already is the planned path, whose closure the paths are: a profile
        # generation is a garbage collector root and Nix keeps the closure of a valid path
        # valid, so they need no nix-store (a process start on every no-op)
        nix_tools.check_store_paths(paths)
        invalid: list[str] = []
    else:
        invalid = nix_tools.invalid_paths(paths, tmpdir=tmpdir)
    lock_file = locking.lock_path(profile, tmpdir)
    journal_file = journal_path(profile, tmpdir)
    return dict(
        changed=False,
        profile_link=link,
        profile_path=store_path,
        profile_manifest=profiles.read_manifest(store_path),
        generations=profiles.generations(link),
        generation=profiles.current_generation(link),
        lock=locking.read_lock(lock_file),
        lock_file=lock_file,
        journal=Journal(journal_file).entries(),
        journal_file=journal_file,
        invalid_paths=invalid,
        # a process start on the target: only when asked (a deployment does not need it)
        nix_version=nix_tools.nix_version(tmpdir=tmpdir) if query_nix_version else None,
        nix_store=nix_tools.find_tool("nix-store"),
        system=nix_tools.current_system(tmpdir=tmpdir) if query_system else None,
    )


def query(params: dict[str, Any], check_mode: bool, diff: bool = False) -> dict[str, Any]:
    """disnix.deploy.target_state."""
    result = target_state(params["profile"], resolve_tmpdir(params["tmpdir"]), params["paths"], params["query_system"],
                          params["query_nix_version"], params["planned_profile"])
    keys = [k for ks in service_keys.normalize(params["keys"]).values() for k in ks]
    result["keys_plan"] = service_keys.plan(params["profile"], keys)
    result["locked"] = False
    lock = params["lock"]
    if lock and not check_mode:
        request = locking.LockRequest(
            profile=params["profile"], tmpdir=resolve_tmpdir(params["tmpdir"]), run_id=lock["run_id"],
            log_dir=lock["log_dir"], controller=lock["controller"], controller_pid=lock["controller_pid"],
            controller_pid_start=lock["controller_pid_start"], user=lock["user"], activation=lock["activation"],
            started=lock["started"])
        result.update(locking.lock_for_change(request, result, lock["planned_profile"], bool(result["keys_plan"])))
    return result


def query_secrets(params: dict[str, Any]) -> set[str]:
    """The values target_state masks in every result: the keys' values."""
    return set(service_keys.secret_values(params["keys"]))


def lock(params: dict[str, Any], check_mode: bool, diff: bool = False) -> dict[str, Any]:
    """disnix.deploy.lock."""
    request = locking.LockRequest(
        profile=params["profile"], tmpdir=resolve_tmpdir(params["tmpdir"]), run_id=params["run_id"],
        log_dir=params["log_dir"], controller=params["controller"], controller_pid=params["controller_pid"],
        controller_pid_start=params["controller_pid_start"], user=params["user"], force=params["force"],
        activation=params["activation"], started=params["run_started"])
    if params["state"] == "locked":
        return locking.acquire_waiting(request, params["wait"], check_mode=check_mode)
    return locking.release(request, check_mode=check_mode)


def activation(params: dict[str, Any], check_mode: bool, diff: bool = False) -> dict[str, Any]:
    """disnix.deploy.activation."""
    if params["max_parallel"] < 1:
        raise ValueError("max_parallel must be at least 1, got %d" % params["max_parallel"])
    tmpdir = resolve_tmpdir(params["tmpdir"])
    context = Context(run_id=params["run_id"], journal=Journal(journal_path(params["profile"], tmpdir)),
                      log_dir=params["log_dir"], timeout=params["timeout"], check_mode=check_mode,
                      profile_link=profiles.profile_link(params["profile"]), tmpdir=tmpdir,
                      activation=params["activation"])
    with guarded(context, params["profile"], params["fenced"] and not check_mode) as check:
        context.owner_check = check
        if params["rollback"]:
            return rollback(context, params["wave"])
        wave = params["wave"] if params["wave"] is not None else 0
        return run_steps(context, params["steps"], wave, params["max_parallel"])


def set_profile(profile: str, path: str, tmpdir: str, check_mode: bool, run_id: str | None = None, fenced: bool = False) -> dict:
    path = os.path.normpath(path)
    nix_tools.check_store_paths([path])
    link = profiles.profile_link(profile)
    previous = profiles.current_path(link)
    changed = previous != path
    if changed and not check_mode:
        guard = locking.owner_guard(profile, tmpdir, run_id) if fenced and run_id else contextlib.nullcontext(None)
        with guard as check:
            if check is not None:
                check()
            journal = Journal(journal_path(profile, tmpdir)) if run_id else None
            before = profiles.current_generation(link)
            if journal:
                journal.profile_switch(run_id, previous, before, path, "begin")
            profiles.set_profile(link, path, tmpdir=tmpdir)
            current = profiles.current_path(link)
            if current != path:
                raise TargetError("nix-env --set left %s pointing to %s instead of %s" % (link, current, path))
            if journal:
                journal.profile_switch(run_id, previous, before, path, "done", profiles.current_generation(link))
    return dict(
        changed=changed,
        previous=previous,
        current=path,
        profile_link=link,
        generation=None if changed and check_mode else profiles.current_generation(link),
        diff=dict(before="%s\n" % (previous or ""), after="%s\n" % path,
                  before_header="%s (store path)" % link, after_header="%s (store path)" % link),
    )


def profile(params: dict[str, Any], check_mode: bool, diff: bool = False) -> dict[str, Any]:
    """disnix.deploy.profile."""
    result = set_profile(params["profile"], params["path"], resolve_tmpdir(params["tmpdir"]), check_mode,
                         run_id=params["run_id"], fenced=params["fenced"])
    if not diff:
        result.pop("diff")
    return result


# module name -> (argument spec, the call, the values to mask in its results)
CALLS: dict[str, tuple[dict, Callable[..., dict], Callable[[dict], set] | None]] = {
    "target_state": (TARGET_STATE_SPEC, query, query_secrets),
    "lock": (LOCK_SPEC, lock, None),
    "activation": (ACTIVATION_SPEC, activation, None),
    "profile": (PROFILE_SPEC, profile, None),
}


def expand_paths(spec: dict, params: dict[str, Any]) -> dict[str, Any]:
    """Options of type ``path`` expanded here, on the target, as AnsibleModule expands them
    (``~`` and ``$VAR`` are the target's); for parameters validated on the controller."""
    expanded = dict(params)
    for name, option in spec.items():
        value = expanded.get(name)
        if value is None:
            continue
        if option.get("type") == "path" and isinstance(value, str):
            expanded[name] = os.path.expanduser(os.path.expandvars(value))
        elif option.get("options") and isinstance(value, dict):
            expanded[name] = expand_paths(option["options"], value)
        elif option.get("options") and isinstance(value, list):
            expanded[name] = [expand_paths(option["options"], v) if isinstance(v, dict) else v for v in value]
    return expanded


def call(name: str, params: dict[str, Any], check_mode: bool, diff: bool = False) -> dict[str, Any]:
    """Run module ``name``'s work; its result (``warnings`` a list of strings), or raises."""
    return CALLS[name][1](params, check_mode, diff)
