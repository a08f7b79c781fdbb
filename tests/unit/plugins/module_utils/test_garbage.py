# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which generations of which profiles garbage collection deletes (links only, no Nix)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.disnix.deploy.plugins.module_utils import garbage
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError


def make_profile(directory, name: str, numbers: list[int], current: int) -> str:
    for n in numbers:
        os.symlink("/nix/store/%032d-gen" % n, os.path.join(directory, "%s-%d-link" % (name, n)))
    link = os.path.join(directory, name)
    os.symlink("%s-%d-link" % (name, current), link)
    return link


def test_keep_counts_the_current_generation(tmp_path):
    link = make_profile(str(tmp_path), "default", [1, 2, 3, 4], current=4)
    assert garbage.old_generations(link, 1) == [1, 2, 3]
    assert garbage.old_generations(link, 2) == [1, 2]
    assert garbage.old_generations(link, 10) == []


def test_a_rolled_back_current_generation_stays(tmp_path):
    link = make_profile(str(tmp_path), "default", [1, 2, 3, 4], current=2)
    assert garbage.old_generations(link, 1) == [1, 3, 4]
    assert garbage.old_generations(link, 2) == [1, 3]


def test_keep_zero_is_refused(tmp_path):
    link = make_profile(str(tmp_path), "default", [1], current=1)
    with pytest.raises(TargetError, match="keep must be at least 1"):
        garbage.old_generations(link, 0)


def test_plan_covers_only_the_profiles_of_the_directory(tmp_path):
    make_profile(str(tmp_path), "default", [1, 2], current=2)
    make_profile(str(tmp_path), "other", [5, 6, 7], current=7)
    (tmp_path / "default.commits").mkdir()
    assert garbage.profile_names(str(tmp_path)) == ["default", "other"]
    plan = garbage.plan(str(tmp_path), None, 1)
    assert [(e["profile"], e["generation"]) for e in plan] == [("default", 1), ("other", 5), ("other", 6)]
    assert plan[0]["link"] == str(tmp_path / "default-1-link")
    assert [e["profile"] for e in garbage.plan(str(tmp_path), ["other"], 2)] == ["other"]


def test_plan_refuses_a_bad_profile_name(tmp_path):
    with pytest.raises(TargetError, match="invalid profile name"):
        garbage.plan(str(tmp_path), ["../etc"], 1)


def test_delete_removes_the_links_only(tmp_path):
    link = make_profile(str(tmp_path), "default", [1, 2], current=2)
    garbage.delete(garbage.plan(str(tmp_path), None, 1))
    assert sorted(os.listdir(str(tmp_path))) == ["default", "default-2-link"]
    assert os.readlink(link) == "default-2-link"
