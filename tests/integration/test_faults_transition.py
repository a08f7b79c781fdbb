# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault injection on a lab of its own: an activation or deactivation failing in the first, a middle or the last wave, the profile step failing.

The cases and their checks are in faults_cases.py (see its docstring and docs/reliability.md).
"""

from __future__ import annotations

# pylint: disable=unused-import
from faults_cases import (case, faults, pytestmark,  # noqa: F401
                          test_activation_fails, test_deactivation_fails, test_profile_step_fails)
