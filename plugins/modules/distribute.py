# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation of the action plugin disnix.deploy.distribute (plugins/action/distribute.py).

from __future__ import annotations

DOCUMENTATION = r"""
module: distribute
short_description: Copy Nix store paths from the controller to a target over its connection
version_added: 0.1.0
author:
  - disnix.deploy developers (@disnix-deploy)
description:
  - Over an C(ssh) connection, streams C(nix-store --export) of the given store paths into
    C(nix-store --import) on the target, through Ansible's shared ssh connection to the host
    when that compresses as O(compression) wants, else on an ssh connection of its own built
    from the host's connection settings (address, port, user, key, known hosts, extra
    arguments; host keys are checked as for every other task). Every target that lacks the same paths
    receives the same export while it is being written; the controller exports (and
    compresses) once per set of paths, not once per target. Nothing is written on the target
    but the imported paths.
  - Other connections (local, paramiko, winrm), and ssh with a password or C(become), put an
    export file on the target through the connection, import it and remove it.
  - Copies that take longer than O(progress_interval) print the bytes and paths sent to each
    target as they go.
  - Give it the paths in closure order (dependencies first). Either only those the target
    lacks, as M(disnix.deploy.target_state) reports them (C(playbooks/deploy.yml) does), or
    a whole closure with O(only_missing=true).
  - Importing only makes paths valid in the target's store; no running service changes.
options:
  compression:
    description:
      - V(none) sends the export as it is, over an ssh connection without compression (the
        fastest on a LAN, see docs/performance.md).
      - V(zstd) or V(xz) compress it once on the controller and decompress it on the
        target (both need the tool), for links where bandwidth is scarce.
      - V(ssh) uses ssh's own zlib compression (C(-C)).
      - Connections other than ssh always send it uncompressed.
    type: str
    choices: [none, ssh, xz, zstd]
    default: none
  substituters:
    description:
      - Binary caches (URLs) the target substitutes the paths from (C(nix-store --realise)
        with C(--option substituters)) before anything is sent; only the paths still missing
        afterwards are sent. A path no cache has is no error.
      - With a Nix daemon on the target, the user must be trusted or the caches among the
        daemon's C(trusted-substituters).
    type: list
    elements: str
    default: []
  trusted_public_keys:
    description: Keys the target accepts signatures of for O(substituters) (C(trusted-public-keys)).
    type: list
    elements: str
    default: []
  only_missing:
    description:
      - O(paths) may hold paths the target has. Over ssh the target is asked which it lacks on
        the same ssh command that then carries the copy, as C(nix-copy-closure) does (one
        command per target); only those are sent and returned in RV(paths).
      - With O(substituters), in check mode and over other connections, the question is a
        command of its own before the copy.
    type: bool
    default: false
  progress_interval:
    description: Seconds between progress lines of a copy (bytes and paths per target).
    type: float
    default: 2.0
extends_documentation_fragment:
  - disnix.deploy.controller
  - disnix.deploy.controller.transfer
  - disnix.deploy.controller.actions
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
"""

EXAMPLES = r"""
---
- name: Copy what the target lacks
  disnix.deploy.distribute:
    paths: "{{ disnix_state.invalid_paths }}"
    nix_store: "{{ disnix_state.nix_store }}"

- name: Let the targets fetch from a binary cache first, compress what is still sent
  disnix.deploy.distribute:
    paths: "{{ disnix_state.invalid_paths }}"
    nix_store: "{{ disnix_state.nix_store }}"
    substituters: [https://cache.example.org]
    trusted_public_keys: ["cache.example.org-1:AAAA..."]
    compression: zstd

- name: Copy a whole closure, as nix-copy-closure does (the target says what it lacks)
  disnix.deploy.distribute:
    paths: "{{ lookup('ansible.builtin.pipe', 'nix-store --query --requisites ' ~ (my_closure | quote)).split() }}"
    only_missing: true
"""

RETURN = r"""
paths:
  description: The store paths sent (or that would be sent, in check mode); with O(only_missing), those the target lacked.
  returned: always
  type: list
  elements: str
count:
  description: Number of store paths sent.
  returned: always
  type: int
bytes:
  description: Size of the export of the paths sent, before compression (0 in check mode).
  returned: always
  type: int
seconds:
  description: How long sending and importing took (0 when nothing was sent).
  returned: always
  type: float
substituted:
  description: The paths the target substituted from O(substituters) instead.
  returned: always
  type: list
  elements: str
"""
