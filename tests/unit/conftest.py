# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lets plain `pytest tests/unit` from the repository root load plugins the way
`ansible-test units` does: with Ansible's collection loader over `.collections`."""

from __future__ import annotations

import os
import sys

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder


def _collection_loader_installed() -> bool:
    return any(isinstance(finder, _AnsibleCollectionFinder) for finder in sys.meta_path)


if not _collection_loader_installed():
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader([os.path.join(os.path.dirname(__file__), "..", "..", ".collections")])
