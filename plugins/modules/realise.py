#!/usr/bin/python
# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module disnix.deploy.realise: build derivations on a target (disnix-build's remote half)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: realise
short_description: Build Nix derivations on a target
version_added: 0.1.0
author:
  - disnix.deploy developers (@disnix-deploy)
description:
  - Builds the given derivations with C(nix-store --realise), 250 per call, in the target's store, for
    targets whose system the controller cannot build (Disnix's C(--build-on-targets)).
  - The derivations and their closure must already be in the target's store; C(playbooks/deploy.yml)
    copies them with M(disnix.deploy.distribute) and brings the results back with
    M(disnix.deploy.fetch_closure).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - disnix.deploy.target
options:
  drvs:
    description: Store paths of the derivations (C(.drv)) to build.
    type: list
    elements: str
    required: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
"""

EXAMPLES = r"""
---
- name: Build the target's services there
  disnix.deploy.realise:
    drvs:
      - /nix/store/2a4cz9ni3x8xbyzylbsqx56cjy1kw8l6-hello-world-server.drv
"""

RETURN = r"""
outputs:
  description: Output paths of the derivations.
  returned: always
  type: list
  elements: str
built:
  description: Output paths that were not valid before and have been built (or would be, in check mode).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.disnix.deploy.plugins.module_utils import nix_tools
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError, resolve_tmpdir, target_argument_spec


# derivations per nix-store --realise call (as the controller's plugin_utils/controller_store.py)
BUILD_CHUNK = 250


def realise(drvs: list[str], tmpdir: str, check_mode: bool) -> dict:
    nix_tools.check_store_paths(drvs)
    nix_store = nix_tools.find_tool("nix-store")
    outputs = nix_tools.run_checked([nix_store, "--query", "--outputs", *drvs], tmpdir=tmpdir).split()
    missing = nix_tools.invalid_paths(outputs, tmpdir=tmpdir)
    if missing and not check_mode:
        # in chunks: one call with thousands of derivations is several times slower
        for start in range(0, len(drvs), BUILD_CHUNK):
            nix_tools.run_checked([nix_store, "--realise", "--quiet", *drvs[start:start + BUILD_CHUNK]], tmpdir=tmpdir)
    return {"changed": bool(missing), "outputs": outputs, "built": missing}


def main() -> None:
    module = AnsibleModule(argument_spec=target_argument_spec(drvs=dict(type="list", elements="str", required=True)),
                           supports_check_mode=True)
    try:
        result = realise(module.params["drvs"], resolve_tmpdir(module.params["tmpdir"]), module.check_mode)
    except TargetError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
