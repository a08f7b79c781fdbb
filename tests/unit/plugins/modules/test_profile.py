# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""disnix.deploy.profile through AnsibleModule, with real nix-env."""

from __future__ import annotations

import os

from ansible_collections.disnix.deploy.plugins.modules import profile
from ansible_collections.disnix.deploy.tests.unit.plugins.module_utils.target_fixtures import needs_nix, run_module


@needs_nix
def test_set_is_idempotent_with_previous_and_current(lab, capsys, store_profile):
    first, second = store_profile(tag="a"), store_profile(tag="b")
    link = lab.path("profiles", "default")

    result = run_module(profile.main, {"path": first, "_ansible_diff": True}, capsys)
    assert result["changed"] and result["previous"] is None and result["current"] == first
    assert result["profile_link"] == link and result["generation"] == 1
    assert result["diff"]["after"] == first + "\n"

    again = run_module(profile.main, {"path": first}, capsys)
    assert not again["changed"] and again["previous"] == first and again["current"] == first and "diff" not in again

    switched = run_module(profile.main, {"path": second}, capsys)
    assert switched["changed"] and switched["previous"] == first and switched["current"] == second
    assert switched["generation"] == 2
    assert os.path.realpath(link) == second


@needs_nix
def test_check_mode_changes_nothing(lab, capsys, store_profile):
    path = store_profile()
    result = run_module(profile.main, {"path": path, "_ansible_check_mode": True, "_ansible_diff": True}, capsys)
    assert result["changed"] and result["current"] == path and result["diff"]["before"] == "\n"
    assert not os.path.lexists(lab.path("profiles", "default"))


@needs_nix
def test_invalid_store_path_fails(lab, capsys):
    result = run_module(profile.main, {"path": "/nix/store/00000000000000000000000000000000-not-there"}, capsys)
    assert result["failed"] and "nix-env" in result["msg"]


def test_profile_name_checked(lab, capsys):
    result = run_module(profile.main, {"path": "/nix/store/00000000000000000000000000000000-x", "profile": "../etc"}, capsys)
    assert result["failed"] and "invalid profile name" in result["msg"]
