# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action disnix.deploy.visualize: pictures of the deployment or of a plan, with Graphviz."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.disnix.deploy.plugins.plugin_utils import controller_store as store
from ansible_collections.disnix.deploy.plugins.plugin_utils import plan_dot, plan_json

ARGSPEC = {
    "dest": {"type": "path", "required": True},
    "plan": {"type": "path"},
    "manifest": {"type": "path"},
    "profile": {"type": "str", "default": "default"},
    "coordinator_profile_dir": {"type": "path"},
    "name": {"type": "str"},
    "title": {"type": "str"},
    "formats": {"type": "list", "elements": "str", "default": ["svg", "png"], "choices": ["svg", "png", "dot"]},
    "dot": {"type": "str", "default": "dot"},
}


def _read_json(path: str, what: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise AnsibleActionFail(f"{what} {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise AnsibleActionFail(f"{what} {path}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise AnsibleActionFail(f"{what} {path}: expected a JSON object")
    return data


def _render(dot_bin: str, source: str, fmt: str) -> bytes:
    if fmt == "dot":
        return source.encode()
    try:
        proc = subprocess.run([dot_bin, "-T" + fmt], input=source.encode(), capture_output=True, timeout=300, check=False)
    except FileNotFoundError:
        raise AnsibleActionFail(f"{dot_bin} not found on the controller: install Graphviz (Debian: apt-get install graphviz)") from None
    if proc.returncode != 0:
        raise AnsibleActionFail(f"{dot_bin} -T{fmt} failed: {proc.stderr.decode(errors='replace').strip()[-2000:]}")
    return proc.stdout


def _differs(path: str, data: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read() != data
    except OSError:
        return True


def _write(path: str, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".picture-", dir=os.path.dirname(path))
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


class ActionModule(ActionBase):
    """Draws the current deployment (a manifest) or a plan (check mode's JSON)."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=ARGSPEC, mutually_exclusive=[["plan", "manifest"]])
        if args["plan"]:
            document = _read_json(args["plan"], "plan")
            if "changes" not in document:
                raise AnsibleActionFail(f"plan {args['plan']}: not a plan of disnix_plan_json (it has no 'changes')")
            name = args["name"] or "plan"
            source = plan_dot.plan(document, args["title"] or f"plan of run {document.get('run_id', '?')}")
        else:
            path, generation = args["manifest"], None
            if not path:
                profile = store.coordinator_profile(args["profile"], args["coordinator_profile_dir"])
                generation = store.current_generation(profile)
                if generation is None:
                    raise AnsibleActionFail(f"nothing deployed yet: {profile} has no generation (deploy first, or name a manifest)")
                path = store.generations(profile)[generation]
            try:
                # a coordinator generation is Disnix's manifest.xml (or an older JSON manifest)
                document = plan_json.as_document(store.load_manifest(path, args["profile"]))
            except store.DeployError as exc:
                raise AnsibleActionFail(str(exc)) from None
            name = args["name"] or "deployment"
            source = plan_dot.deployment(document, args["title"] or (
                f"deployment, generation {generation}" if generation is not None else "deployment"))
        dest = args["dest"]
        if not os.path.isdir(dest):
            raise AnsibleActionFail(f"dest {dest}: not a directory")
        files, changed = [], False
        for fmt in args["formats"]:
            path = os.path.join(dest, f"{name}.{fmt}")
            data = _render(args["dot"], source, fmt)
            if _differs(path, data):
                changed = True
                if not self._task.check_mode:
                    _write(path, data)
            files.append(path)
        result.update(changed=changed, files=files)
        return result
