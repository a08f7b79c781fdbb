# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action disnix.deploy.coordinator_generations: the controller's generations of a profile."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase

from ansible_collections.disnix.deploy.plugins.plugin_utils import controller_store as store

ARGSPEC = {
    "profile": {"type": "str", "default": "default"},
    "coordinator_profile_dir": {"type": "path"},
}


class ActionModule(ActionBase):
    """Lists the coordinator profile's generations; reads only."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=ARGSPEC)
        path = store.coordinator_profile(args["profile"], args["coordinator_profile_dir"])
        current = store.current_generation(path)
        entries = []
        for number, manifest_path in sorted(store.generations(path).items()):
            link = f"{path}-{number}-link"
            try:
                manifest = store.load_manifest(manifest_path)
                services = sorted(f"{m['service']}@{m['target']}" for m in (manifest or {}).get("mappings", []))
            except (OSError, ValueError, KeyError, TypeError):
                services = None
            entries.append({"generation": number, "current": number == current, "manifest_path": manifest_path,
                            "time": int(os.lstat(link).st_mtime), "services": services})
        lines = [f"{e['generation']}{' (current)' if e['current'] else ''}: "
                 + ("(manifest gone)" if e["services"] is None else ", ".join(e["services"]) or "nothing") for e in entries]
        result.update(changed=False, lines=lines, profile_path=path, profile_dir=os.path.dirname(path), current=current,
                      generations=entries)
        return result
