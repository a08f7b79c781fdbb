# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Activation types with Dysnomia's semantics: process, wrapper, echo and package are built
in; any other type goes to the target's ``dysnomia`` command.

An operation (activate, deactivate, lock, unlock) never raises for a failing service: it
returns an OperationResult with ``ok=False`` and the output, so callers can go on with
other services and report them all.

Runs on targets: Python 3.8+, standard library only. Commands are argument lists, never
a shell.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import tempfile
import time

from ansible_collections.disnix.deploy.plugins.module_utils import nix_tools
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import hostname

OPERATIONS = ("activate", "deactivate", "lock", "unlock", "snapshot", "restore")
BUILTIN_TYPES = ("process", "wrapper", "echo", "package")
# Types whose snapshot and restore keep state: the wrapper (its component implements them)
# and the Dysnomia modules that implement both (dysnomia-modules/*.in of Dysnomia 0.10).
SNAPSHOT_TYPES = ("wrapper", "ejabberd-dump", "fileset", "influx-database", "mongo-database", "mysql-database",
                  "nixos-configuration", "postgresql-database", "subversion-repository")
# builtin: the built-in types here, every other type through dysnomia; dysnomia: every type
# but package (which Disnix does not activate) through the target's dysnomia, as Disnix does
ENGINES = ("builtin", "dysnomia")
DEFAULT_STATEDIR = "/var/state/dysnomia"
DEFAULT_RUNTIME_DIR = "/var/run"
DEFAULT_TIMEOUT = 10
# Upper bound for one command (a wrapper, dysnomia, a process' start command); Disnix has
# none, but a hung command should not hold the deployment lock forever.
COMMAND_TIMEOUT = 300
MAX_OUTPUT = 16000
# Inherited from the module's environment when set; everything else a component sees
# comes from its container properties (Dysnomia runs modules under `env -i`).
INHERITED_ENV = ("HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR", "NIX_REMOTE", "NIX_PATH")


@dataclasses.dataclass
class Operation:
    """One Dysnomia operation on one service."""

    op: str
    pkg: str
    type: str
    container: str = ""
    properties: dict = dataclasses.field(default_factory=dict)
    service: str = ""
    key: str = ""
    timeout: float = DEFAULT_TIMEOUT
    command_timeout: float = COMMAND_TIMEOUT
    # Dysnomia's state directory, as DYSNOMIA_STATEDIR (snapshots go below it)
    statedir: str = DEFAULT_STATEDIR
    engine: str = "builtin"

    @property
    def container_name(self) -> str:
        # Disnix: --container defaults to the type
        return self.container or self.type

    def describe(self) -> str:
        return "service '%s' (pkg %s, type %s, container %s)" % (
            self.service or os.path.basename(self.pkg), self.pkg, self.type, self.container_name)


@dataclasses.dataclass
class OperationResult:
    ok: bool
    changed: bool
    output: str = ""
    details: dict = dataclasses.field(default_factory=dict)


class _Failure(Exception):
    """Internal: abort one operation with a message (becomes ok=False)."""

    def __init__(self, msg: str, details: dict | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details or {}


# -- environment ---------------------------------------------------------------------------

def property_value(value: object) -> str:
    """Container property as an environment string, the way Nix's toString renders it."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, (list, tuple)):
        return " ".join(property_value(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def operation_env(operation: Operation) -> dict:
    """Container properties as variables, plus PATH and DYSNOMIA_STATEDIR."""
    env = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
    env["DYSNOMIA_STATEDIR"] = operation.statedir or DEFAULT_STATEDIR
    for name, value in (operation.properties or {}).items():
        name = str(name)
        if not name or "=" in name or "\0" in name:
            raise _Failure("%s: container property %r cannot be an environment variable" % (operation.describe(), name))
        env[name] = property_value(value).replace("\0", "")
    env["PATH"] = os.pathsep.join(nix_tools.search_path())
    return env


# -- commands ------------------------------------------------------------------------------

def _truncate(text: str) -> str:
    if len(text) <= MAX_OUTPUT:
        return text
    return "[... %d characters left out ...]\n%s" % (len(text) - MAX_OUTPUT, text[-MAX_OUTPUT:])


def run_command(argv: list[str], env: dict, timeout: float) -> tuple[int | None, str]:
    """(exit code or None on timeout, combined output) of a command.

    Output goes to a temporary file, not a pipe: a component that starts a daemon in the
    background leaves the daemon holding its stdout, and reading a pipe to its end would
    wait for the daemon. Each command gets its own session so that daemons it starts
    survive the end of the Ansible connection.
    """
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    env=env, cwd="/", start_new_session=True)
        except OSError as exc:
            return 127, "cannot run %s: %s" % (argv[0], exc.strerror or exc)
        try:
            rc: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.wait()
            rc = None
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if rc is None:
        text += "\n%s did not finish within %s s and was killed" % (argv[0], timeout)
    return rc, _truncate(text)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


# -- process -------------------------------------------------------------------------------

def parse_key_values(text: str) -> dict:
    """Dysnomia's key=value files: one per line, '#' comments, surrounding quotes stripped."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _sep, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def process_config(operation: Operation) -> tuple[str, str]:
    """(executable, pid file) of a process-type service."""
    config = {}
    config_dir = os.path.join(operation.pkg, "etc", "dysnomia", "process")
    if os.path.isdir(config_dir):
        files = sorted(f for f in os.listdir(config_dir) if os.path.isfile(os.path.join(config_dir, f)))
        if files:
            config_file = os.path.join(config_dir, files[0])
            try:
                with open(config_file, "r", encoding="utf-8") as handle:
                    config = parse_key_values(handle.read())
            except OSError as exc:
                raise _Failure("%s: cannot read %s: %s" % (operation.describe(), config_file, exc.strerror or exc))
    executable = config.get("process") or _single_executable(operation)
    if not os.path.isabs(executable):
        executable = os.path.join(operation.pkg, executable)
    runtime_dir = property_value((operation.properties or {}).get("runtimeDir")) or DEFAULT_RUNTIME_DIR
    pid_file = config.get("pidFile") or os.path.basename(executable) + ".pid"
    if not os.path.isabs(pid_file):
        pid_file = os.path.join(runtime_dir, pid_file)
    return executable, pid_file


def _single_executable(operation: Operation) -> str:
    bin_dir = os.path.join(operation.pkg, "bin")
    try:
        names = sorted(os.listdir(bin_dir))
    except OSError:
        names = []
    if len(names) != 1:
        found = "none" if not names else ", ".join(names)
        raise _Failure("%s: a process needs process= in %s/etc/dysnomia/process/* or exactly one executable in %s (found %s)"
                       % (operation.describe(), operation.pkg, bin_dir, found))
    return os.path.join(bin_dir, names[0])


def read_pid(pid_file: str) -> int | None:
    try:
        with open(pid_file, "r", encoding="utf-8") as handle:
            text = handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        pid = int(text.split()[0]) if text else 0
    except ValueError:
        return None
    return pid if pid > 0 else None


def pid_alive(pid: int | None) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        with open("/proc/%d/stat" % pid, "r", encoding="utf-8", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return True  # no /proc (BSD, macOS): kill(0) is all we know
    state = stat.rpartition(")")[2].split()
    return not state or state[0] not in ("Z", "X")


def live_pid(pid_file: str) -> int | None:
    pid = read_pid(pid_file)
    return pid if pid_alive(pid) else None


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def can_snapshot(service_type: str) -> bool:
    """Whether snapshot/restore of this type keeps state (a provider's path: its modules decide)."""
    return service_type in SNAPSHOT_TYPES or service_type.startswith("/")


def _process(operation: Operation) -> OperationResult:
    if operation.op not in ("activate", "deactivate"):
        return OperationResult(ok=True, changed=False)
    executable, pid_file = process_config(operation)
    details = {"executable": executable, "pid_file": pid_file}
    if operation.op == "activate":
        return _start_process(operation, executable, pid_file, details)
    return _stop_process(operation, pid_file, details)


def _start_process(operation: Operation, executable: str, pid_file: str, details: dict) -> OperationResult:
    pid = live_pid(pid_file)
    if pid:
        details["pid"] = pid
        return OperationResult(ok=True, changed=False, output="already running (pid %s from %s)" % (pid, pid_file), details=details)
    _remove_stale(pid_file)
    rc, output = run_command([executable], operation_env(operation), operation.command_timeout)
    if rc != 0:
        raise _Failure("%s: %s exited with %s on %s: %s" % (operation.describe(), executable, rc, hostname(), output.strip()), details)
    if not _wait(lambda: live_pid(pid_file) is not None, operation.timeout):
        raise _Failure("%s: %s exited 0 but no live process was named by %s within %s s on %s (it must daemonize and write its pid file): %s"
                       % (operation.describe(), executable, pid_file, operation.timeout, hostname(), output.strip()), details)
    details["pid"] = live_pid(pid_file)
    return OperationResult(ok=True, changed=True, output=output, details=details)


def _stop_process(operation: Operation, pid_file: str, details: dict) -> OperationResult:
    pid = live_pid(pid_file)
    if not pid:
        _remove_stale(pid_file)
        return OperationResult(ok=True, changed=False, output="not running (%s names no live process)" % pid_file, details=details)
    details["pid"] = pid
    _signal(pid, signal.SIGTERM)
    if not _wait(lambda: not pid_alive(pid), operation.timeout):
        _signal(pid, signal.SIGKILL)
        if not _wait(lambda: not pid_alive(pid), 5):
            raise _Failure("%s: process %s from %s survived SIGTERM and SIGKILL on %s" % (operation.describe(), pid, pid_file, hostname()), details)
    _remove_stale(pid_file)
    return OperationResult(ok=True, changed=True, output="stopped pid %s" % pid, details=details)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _remove_stale(pid_file: str) -> None:
    try:
        os.unlink(pid_file)
    except OSError:
        pass


# -- wrapper, echo, package, dysnomia -------------------------------------------------------

def _wrapper(operation: Operation) -> OperationResult:
    wrapper = os.path.join(operation.pkg, "bin", "wrapper")
    if not os.path.isfile(wrapper):
        raise _Failure("%s: %s does not exist" % (operation.describe(), wrapper))
    rc, output = run_command([wrapper, operation.op, operation.container_name], operation_env(operation), operation.command_timeout)
    if rc != 0:
        what = "refused the lock" if operation.op == "lock" else "failed"
        raise _Failure("%s: %s %s %s on %s (exit %s): %s"
                       % (operation.describe(), wrapper, operation.op, what, hostname(), rc, output.strip()), {"rc": rc})
    return OperationResult(ok=True, changed=operation.op in ("activate", "deactivate"), output=output, details={"rc": rc})


def _echo(operation: Operation) -> OperationResult:
    env = operation_env(operation)
    lines = ["%s: %s" % (operation.op, operation.pkg), "container: %s" % operation.container_name]
    lines += ["%s=%s" % (k, env[k]) for k in sorted(env)]
    details = {"operation": operation.op, "component": operation.pkg, "container": operation.container_name, "environment": env}
    return OperationResult(ok=True, changed=operation.op in ("activate", "deactivate"), output="\n".join(lines) + "\n", details=details)


def _package(operation: Operation) -> OperationResult:
    return OperationResult(ok=True, changed=False)


def _dysnomia(operation: Operation) -> OperationResult:
    dysnomia = nix_tools.which("dysnomia")
    if dysnomia is None:
        raise _Failure("%s: type '%s' needs Dysnomia on the target, but dysnomia is not installed on %s"
                       % (operation.describe(), operation.type, hostname()))
    argv = [dysnomia, "--type", operation.type, "--operation", operation.op, "--component", operation.pkg,
            "--container", operation.container_name, "--environment"]
    rc, output = run_command(argv, operation_env(operation), operation.command_timeout)
    if rc != 0:
        raise _Failure("%s: dysnomia --operation %s failed on %s (exit %s): %s"
                       % (operation.describe(), operation.op, hostname(), rc, output.strip()), {"rc": rc})
    return OperationResult(ok=True, changed=operation.op in ("activate", "deactivate"), output=output, details={"rc": rc})


_HANDLERS = {"process": _process, "wrapper": _wrapper, "echo": _echo, "package": _package}


def handled_by(operation: Operation) -> str:
    """``builtin`` or ``dysnomia``: who carries out the operation."""
    if operation.type == "package":
        return "builtin"  # Disnix does not activate packages either
    if operation.engine == "dysnomia" or operation.type not in _HANDLERS:
        return "dysnomia"
    return "builtin"


def run_operation(operation: Operation) -> OperationResult:
    """Carry out one operation; failures come back as ``ok=False`` with the reason in ``output``."""
    if operation.op not in OPERATIONS:
        return OperationResult(ok=False, changed=False, output="%s: unknown operation %r" % (operation.describe(), operation.op))
    if operation.engine not in ENGINES:
        return OperationResult(ok=False, changed=False, output="%s: unknown activation %r (one of %s)"
                               % (operation.describe(), operation.engine, ", ".join(ENGINES)))
    handler = _dysnomia if handled_by(operation) == "dysnomia" else _HANDLERS[operation.type]
    try:
        return handler(operation)
    except _Failure as exc:
        return OperationResult(ok=False, changed=False, output=exc.msg, details=exc.details)
    except OSError as exc:
        return OperationResult(ok=False, changed=False, output="%s: %s on %s" % (operation.describe(), exc, hostname()))


def would_change(operation: Operation) -> bool:
    """Check mode: whether the operation would change anything (exact for process/package)."""
    if operation.op not in ("activate", "deactivate") or operation.type == "package":
        return False
    if operation.type == "process" and operation.engine == "builtin":
        try:
            _executable, pid_file = process_config(operation)
        except _Failure:
            return True  # the real run would fail; report it as a change to look at
        running = live_pid(pid_file) is not None
        return running if operation.op == "deactivate" else not running
    return True
