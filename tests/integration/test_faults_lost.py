# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault injection on a lab of its own: a target lost mid-transition (route dropped, sshd gone), the controller killed mid-transition.

The cases and their checks are in faults_cases.py (see its docstring and docs/reliability.md).
"""

from __future__ import annotations

# pylint: disable=unused-import
from faults_cases import (case, faults, pytestmark,  # noqa: F401
                          test_controller_killed_mid_transition, test_target_lost_mid_transition)
