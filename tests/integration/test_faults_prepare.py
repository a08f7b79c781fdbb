# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault injection on a lab of its own: build fails, an import fails, a target lost during the copy, a lock vetoed or held by another run.

The cases and their checks are in faults_cases.py (see its docstring and docs/reliability.md).
"""

from __future__ import annotations

# pylint: disable=unused-import
from faults_cases import (case, faults, pytestmark,  # noqa: F401
                          test_build_fails, test_foreign_lock, test_import_fails, test_lock_vetoed, test_target_lost_during_copy)
