# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the target-side tests (see target_fixtures.py)."""

from __future__ import annotations

from ansible_collections.disnix.deploy.tests.unit.plugins.module_utils.target_fixtures import lab, store_profile  # noqa: F401 pylint: disable=unused-import
