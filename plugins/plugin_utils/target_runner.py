# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running the collection's target code without a module start (controller side).

A module task costs Ansible's AnsiballZ wrapper on the target: a zip of the module and
ansible.module_utils.basic, unpacked and imported on every call. Measured on the lab, a
module task on three targets takes 0.43 s where this runner takes 0.23 s
(docs/performance.md). The target code of the modules every deployment runs
(module_utils/target_calls.py) needs nothing but the standard library. So their action
plugins validate the arguments here, against the module's own spec, and pipe a small
runner to the target's Python with the collection's module_utils sources and the validated
parameters embedded. The module itself still runs when this path cannot: a connection
without pipelining, async, or no ``python3`` on the target's PATH.

Nothing travels on the command line: the runner, sources and parameters go to the
interpreter's stdin, as pipelined modules do.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import shlex
import zlib
from typing import Any

from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase

from ansible_collections.disnix.deploy.plugins.module_utils import target_calls

PACKAGE = "ansible_collections.disnix.deploy.plugins.module_utils"

# The runner, on the target: serves the embedded sources to `import`, runs the call with
# stdout pointed at stderr (so that nothing a service prints can corrupt the result) and
# writes the result as one JSON document to the real stdout.
RUNNER = r'''
import binascii, json, os, sys, zlib
from importlib.machinery import ModuleSpec
SOURCES, NAME, PARAMS, CHECK, DIFF = json.loads(zlib.decompress(binascii.a2b_base64(%(payload)r)).decode("utf-8"))
PACKAGES = {"ansible_collections", "ansible_collections.disnix", "ansible_collections.disnix.deploy",
            "ansible_collections.disnix.deploy.plugins", "ansible_collections.disnix.deploy.plugins.module_utils"}


# a finder and loader by protocol, not by importlib.abc's classes (whose import costs a
# tenth of the runner's start)
class Sources:
    def find_spec(self, name, path, target=None):
        if name in PACKAGES or name in SOURCES:
            return ModuleSpec(name, self, is_package=name in PACKAGES)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        if module.__name__ in PACKAGES:
            module.__path__ = []
        else:
            exec(compile(SOURCES[module.__name__], module.__name__.replace(".", "/") + ".py", "exec"), module.__dict__)


sys.meta_path.insert(0, Sources())
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr
try:
    from ansible_collections.disnix.deploy.plugins.module_utils import target_calls
    from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError
    try:
        result = target_calls.call(NAME, target_calls.expand_paths(target_calls.CALLS[NAME][0], PARAMS), CHECK, DIFF)
    except TargetError as exc:
        result = dict(exc.details, failed=True, msg=exc.msg)
    except ValueError as exc:
        result = {"failed": True, "msg": str(exc)}
except Exception:
    import traceback
    result = {"failed": True, "msg": "disnix.deploy.%%s failed on the target: %%s" %% (NAME, traceback.format_exc())}
out.write(json.dumps(result))
out.flush()
'''


def controller_spec(spec: dict) -> dict:
    """The spec to validate with on the controller: options of type ``path`` as ``str``,
    so that ``~`` and ``$VAR`` are expanded on the target (target_calls.expand_paths)."""
    copied = {}
    for name, option in spec.items():
        option = dict(option)
        if option.get("type") == "path":
            option["type"] = "str"
        if option.get("options"):
            option["options"] = controller_spec(option["options"])
        copied[name] = option
    return copied


@functools.lru_cache(maxsize=1)
def module_utils_sources() -> dict[str, str]:
    """Every module_utils file of the collection: module name -> source."""
    here = os.path.dirname(os.path.abspath(target_calls.__file__))
    sources = {}
    for name in sorted(os.listdir(here)):
        if name.endswith(".py") and name != "__init__.py":
            with open(os.path.join(here, name), encoding="utf-8") as handle:
                sources[f"{PACKAGE}.{name[:-3]}"] = handle.read()
    return sources


def runner_script(name: str, params: dict[str, Any], check_mode: bool, diff: bool) -> bytes:
    """The script for the target's ``python3 -``: the runner with everything it needs."""
    document = json.dumps([module_utils_sources(), name, params, check_mode, diff]).encode("utf-8")
    payload = base64.b64encode(zlib.compress(document, 6)).decode("ascii")
    return (RUNNER % {"payload": payload}).encode("utf-8")


def parse_result(stdout: str, stderr: str, rc: int, name: str) -> dict[str, Any]:
    """The runner's result, or a failure that says what the target printed."""
    try:
        result = json.loads(stdout)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        tail = (stderr or stdout or "").strip()[-4000:]
        return {"failed": True, "rc": rc, "msg": f"disnix.deploy.{name} returned no result on the target (rc {rc}): {tail}"}
    return result


class TargetCallAction(ActionBase):
    """Base of the action plugins of target_state, lock, activation and profile."""

    TRANSFERS_FILES = False
    CALL = ""

    def _interpreter(self, task_vars: dict[str, Any]) -> str | None:
        """The Python to run the runner with: the inventory's, the one Ansible discovered,
        else ``python3`` on the target's PATH."""
        configured = task_vars.get("ansible_python_interpreter")
        if configured is not None:
            configured = str(self._templar.template(configured))
            if not configured.startswith("auto"):
                return configured
        discovered = (task_vars.get("ansible_facts") or {}).get("discovered_interpreter_python")
        return str(discovered) if discovered else None

    def _fast(self) -> bool:
        return bool(self._task.async_val == 0 and self._is_pipelining_enabled("new"))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        if not self._fast():
            result.update(self._execute_module(module_name=f"disnix.deploy.{self.CALL}", task_vars=task_vars))
            return result
        spec, _call, secrets = target_calls.CALLS[self.CALL]
        _validated, params = self.validate_argument_spec(argument_spec=controller_spec(spec))
        hidden = secrets(params) if secrets else set()
        interpreter = self._interpreter(task_vars)
        # an interpreter setting may carry arguments, as Ansible's shebang line does: each word quoted
        python = " ".join(shlex.quote(word) for word in interpreter.split()) if interpreter else "/usr/bin/env python3"
        environment = self._compute_environment_string()
        command = f"{environment} {python} -".strip()
        script = runner_script(self.CALL, params, bool(self._task.check_mode), bool(self._task.diff))
        res = self._low_level_execute_command(command, in_data=script)
        if res["rc"] == 127 and interpreter is None:
            # no python3 on PATH: the module, whose interpreter discovery finds one
            result.update(self._execute_module(module_name=f"disnix.deploy.{self.CALL}", task_vars=task_vars))
            return result
        data = parse_result(res.get("stdout", ""), res.get("stderr", ""), res["rc"], self.CALL)
        if hidden:
            data = remove_values(data, hidden)
        result.update(data)
        return result
