# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Masking of values of properties named like secrets."""

from __future__ import annotations

import pytest

from ansible_collections.disnix.deploy.plugins.plugin_utils import secrets, transition_plan
from ansible_collections.disnix.deploy.plugins.plugin_utils.secrets import MASK, is_secret_name, mask


@pytest.mark.parametrize("name", ["password", "dbPassword", "DB_PASSWORD", "apiKey", "ssh_key", "KEY", "secret",
                                  "clientSecret", "token", "authToken", "passwd", "keystore"])
def test_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["port", "hostname", "user", "url", "", "monitor", 42, None])
def test_other_names(name):
    assert not is_secret_name(name)


def test_mask_is_recursive_by_key_and_leaves_the_input_alone():
    value = {
        "port": 5432,
        "dbPassword": "hunter22",
        "apiKey": {"nested": "whole value hidden"},
        "tokens": ["a", "b"],
        "nested": {"list": [{"ssh_key": "AAAA", "name": "x"}, "plain"], "SECRET": None},
    }
    masked = mask(value)
    assert masked == {
        "port": 5432,
        "dbPassword": MASK,
        "apiKey": MASK,
        "tokens": MASK,
        "nested": {"list": [{"ssh_key": MASK, "name": "x"}, "plain"], "SECRET": MASK},
    }
    assert value["dbPassword"] == "hunter22" and value["nested"]["list"][0]["ssh_key"] == "AAAA"
    assert mask("hunter22") == "hunter22" and mask([1, {"token": 2}]) == [1, {"token": MASK}]


def test_secret_values_and_scrub():
    found = secrets.secret_values({"a": {"dbPassword": "hunter22", "n": [{"apiKey": ["k-123456", 7]}]}, "port": 80,
                                   "flag": {"token": True}})
    assert found == {"hunter22", "k-123456", "7"}
    assert secrets.scrub("login hunter22 with k-123456 on port 7", found) == f"login {MASK} with {MASK} on port 7"


def test_plan_lines_never_show_a_secret_value():
    step = {"key": "k1", "service": "db-hunter22", "pkg": "/nix/store/abc-db", "type": "process", "container": "process",
            "properties": {"dbPassword": "hunter22", "port": "5432"}, "op": "activate"}
    plan = {"waves": [{"index": 0, "op": "activate", "steps": {"t1": [step]}}], "untouched": [], "skipped": []}
    lines = transition_plan.describe(plan)
    assert lines == [f"wave 0: activate db-{MASK} (process) on t1: /nix/store/abc-db"]
    assert plan["waves"][0]["steps"]["t1"][0]["properties"]["dbPassword"] == "hunter22"  # the targets get the value


def test_mask_properties_touches_only_model_data():
    record = {"key": "abc", "mappings": [{"key": "k1", "service": "db", "properties": {"dbPassword": "x", "port": 1}}],
              "targets": {"t": {"properties": {"apiToken": "y", "hostname": "t"}, "containers": {"c": {"ssh_key": "z"}}}}}
    masked = secrets.mask_properties(record)
    assert masked == {"key": "abc", "mappings": [{"key": "k1", "service": "db", "properties": {"dbPassword": MASK, "port": 1}}],
                      "targets": {"t": {"properties": {"apiToken": MASK, "hostname": "t"}, "containers": {"c": {"ssh_key": MASK}}}}}
    assert record["mappings"][0]["properties"]["dbPassword"] == "x"
