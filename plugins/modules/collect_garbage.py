#!/usr/bin/python
# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module disnix.deploy.collect_garbage: old generations of the Disnix profiles, and the garbage."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: collect_garbage
short_description: Delete old generations of the Disnix profiles only, then collect the Nix store
version_added: 0.2.0
description:
  - Deletes the old generations of the Disnix profiles in O(profiles_dir), keeping the current
    generation and the newest O(keep) in all, and then runs C(nix-store --gc). Other profiles of
    the machine keep every generation (unlike C(nix-collect-garbage -d)), and nothing the
    current generation needs is removed, since it stays a garbage collector root.
  - On targets the profiles are V(/nix/var/nix/profiles/disnix/*); on the controller point
    O(profiles_dir) at the coordinator profile directory.
  - Refuses a profile whose deployment lock is held (a deployment is running), see O(check_locks).
  - In check mode, reports the generations that would go, the store paths a collection would
    delete and the space it would free, and changes nothing.
options:
  profiles_dir:
    description: The directory of the profiles.
    type: path
    default: /nix/var/nix/profiles/disnix
  profiles:
    description: Names of the profiles to prune; default every profile in O(profiles_dir).
    type: list
    elements: str
  keep:
    description: How many generations of each profile stay, the current one among them (at least 1).
    type: int
    default: 1
  collect:
    description: Also run the garbage collector (C(nix-store --gc)); V(false) only deletes generations.
    type: bool
    default: true
  check_locks:
    description: Refuse a profile whose deployment lock (V(<tmpdir>/disnix-<profile>.lock)) exists.
    type: bool
    default: true
  tmpdir:
    description: Where the deployment locks live (E(TMPDIR) or V(/tmp) by default).
    type: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
author:
  - disnix.deploy developers (@disnix-deploy)
"""

EXAMPLES = r"""
- name: Keep the current generation of every Disnix profile, collect the rest
  disnix.deploy.collect_garbage:
    keep: 1

- name: Delete old coordinator generations on the controller, keeping 3
  disnix.deploy.collect_garbage:
    profiles_dir: /nix/var/nix/profiles/per-user/deploy/disnix-coordinator
    profiles: [default]
    keep: 3
    collect: false
  delegate_to: localhost
"""

RETURN = r"""
generations:
  description: The generations deleted (would be, in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{"profile": "default", "generation": 1, "link": "/nix/var/nix/profiles/disnix/default-1-link",
            "path": "/nix/store/0wh5gfb88mvyqsg894p7w63qh4yqia6a-profile-test1"}]
dead_paths:
  description: The store paths the collection deleted (would delete, in check mode).
  returned: always
  type: list
  elements: str
freed_bytes:
  description: The size of RV(dead_paths) (their NAR size) in bytes.
  returned: always
  type: int
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.disnix.deploy.plugins.module_utils import garbage, locking
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError, resolve_tmpdir


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            profiles_dir=dict(type="path", default="/nix/var/nix/profiles/disnix"),
            profiles=dict(type="list", elements="str"),
            keep=dict(type="int", default=1),
            collect=dict(type="bool", default=True),
            check_locks=dict(type="bool", default=True),
            tmpdir=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        names = params["profiles"]
        if names is None:
            names = garbage.profile_names(params["profiles_dir"])
        tmpdir = resolve_tmpdir(params["tmpdir"])
        for name in names if params["check_locks"] else []:
            if os.path.lexists(locking.lock_path(name, tmpdir)):
                raise TargetError("profile %s is locked (%s): a deployment is running; nothing was deleted"
                                  % (name, locking.lock_path(name, tmpdir)))
        entries = garbage.plan(params["profiles_dir"], names, params["keep"])
        result = garbage.collect(entries, module.check_mode, params["collect"], tmpdir=tmpdir)
    except TargetError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(profiles=names, **result)


if __name__ == "__main__":
    main()
