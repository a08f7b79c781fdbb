# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health checks, selective deploys and keys: the controller's pure part (plugin_utils/guard.py)
and the transaction's handling of failed health checks."""

from __future__ import annotations

import pytest

from ansible_collections.disnix.deploy.plugins.plugin_utils import guard
from ansible_collections.disnix.deploy.plugins.plugin_utils import transaction as tx
from ansible_collections.disnix.deploy.plugins.plugin_utils.model_error import ModelError

from ansible_collections.disnix.deploy.tests.unit.plugins.plugin_utils.test_transaction import (
    HOSTS, NEW, OLD, locked, manifest, mapping, query_ok, started)

WHERE = {"path": "services.nix", "line": 7, "column": 3}


def test_health_check_shapes_are_normalised():
    tcp = guard.check_health("web", {"tcpPort": 5000, "timeout": 3}, WHERE)
    assert tcp == {"name": "tcp 127.0.0.1:5000", "command": None, "shell": False, "tcpPort": 5000, "host": "127.0.0.1",
                   "timeout": 3, "interval": 1}
    argv = guard.check_health("web", {"command": ["curl", "-sf", "http://localhost/"], "name": "answers"}, WHERE)
    assert argv["command"] == ["curl", "-sf", "http://localhost/"] and not argv["shell"] and argv["name"] == "answers"
    # a shell command the user wrote is one argument of /bin/sh -c, nothing is spliced into it
    sh = guard.check_health("web", {"command": "test -s \"$runtimeDir/web.pid\""}, WHERE)
    assert sh["command"] == ["/bin/sh", "-c", "test -s \"$runtimeDir/web.pid\""] and sh["shell"]
    assert sh["name"] == "command test -s \"$runtimeDir/web.pid\"" and sh["timeout"] == guard.DEFAULT_TIMEOUT
    assert guard.check_health("web", None, WHERE) is None


@pytest.mark.parametrize("value, problem", [
    ({"tcpPort": 5000, "command": "true"}, "exactly one of command and tcpPort"),
    ({}, "exactly one of command and tcpPort"),
    ({"tcpPort": 70000}, "tcpPort must be a port number"),
    ({"tcpPort": True}, "tcpPort must be a port number"),
    ({"command": []}, "command must be a non-empty string"),
    ({"command": ["a", 1]}, "command must be a non-empty string"),
    ({"command": "true", "timeout": 0}, "timeout must be a number of seconds"),
    ({"command": "true", "retries": 3}, "unknown attribute(s) retries"),
    ({"tcpPort": 1, "host": "-oProxyCommand=x"}, "host must be a host name"),
    ("true", "must be an attribute set"),
])
def test_bad_health_checks_name_the_service_the_place_and_the_problem(value, problem):
    with pytest.raises(ModelError) as err:
        guard.check_health("web", value, WHERE)
    text = str(err.value)
    assert problem in text and "service 'web'" in text and "services.nix" in text and "7" in text


def test_tags_are_a_list_of_strings():
    assert guard.check_tags("a", ["b", "a", "b"], WHERE) == ["a", "b"]
    assert guard.check_tags("a", None, WHERE) == []
    with pytest.raises(ModelError, match="tags must be a list"):
        guard.check_tags("a", "backend", WHERE)


SERVICES = {"db": {"dependsOn": {}, "tags": ["backend"]},
            "api": {"dependsOn": {"db": "db"}, "tags": ["backend"]},
            "web": {"dependsOn": {"api": "api"}, "connectsTo": {}, "activatesAfter": {}},
            "cache": {"connectsTo": {"db": "db"}},
            "tools": {}}


def test_selection_takes_every_dependency_by_name_and_by_tag():
    assert guard.select(SERVICES, ["web"]) == {"web", "api", "db"}
    assert guard.select(SERVICES, ["cache"]) == {"cache", "db"}
    assert guard.select(SERVICES, ["tag:backend"]) == {"db", "api"}
    assert guard.select(SERVICES, ["tools", "db"]) == {"tools", "db"}
    with pytest.raises(ValueError, match="'nope' is not a distributed service"):
        guard.select(SERVICES, ["nope"])
    with pytest.raises(ValueError, match="no distributed service has the tag 'front'"):
        guard.select(SERVICES, ["tag:front"])
    assert guard.parse_only("api, tag:backend") == ["api", "tag:backend"]
    assert guard.parse_only("") == []
    with pytest.raises(ValueError):
        guard.parse_only(",")
    with pytest.raises(ValueError):
        guard.parse_only({"api": 1})


def test_restrict_keeps_what_is_deployed_for_everything_not_selected():
    new = manifest(mapping("db", "t3"), mapping("api", "t2", key="api-k2", deps=[mapping("db", "t3")["id"]]),
                   mapping("web", "t1", key="web-k2", deps=[mapping("api", "t2", key="api-k2")["id"]]))
    current = manifest(mapping("db", "t1"), mapping("api", "t2", deps=[mapping("db", "t1")["id"]]),
                       mapping("web", "t3", deps=[mapping("api", "t2")["id"]]))
    out = guard.restrict(new, current, {"api", "db"})
    assert sorted((m["service"], m["target"], m["key"]) for m in out["mappings"]) == [
        ("api", "t2", "api-k2"), ("db", "t3", "db-k"), ("web", "t3", "web-k")]
    web = next(m for m in out["mappings"] if m["service"] == "web")
    # api was rebuilt where web expects it: web's edge follows it to the new build
    assert web["dependsOn"] == [mapping("api", "t2", key="api-k2")["id"]]
    assert current["mappings"][2]["dependsOn"] == [mapping("api", "t2")["id"]]  # the input is not changed


def test_restrict_refuses_to_keep_a_service_whose_dependency_moves_away():
    current = manifest(mapping("db", "t1"), mapping("api", "t2", deps=[mapping("db", "t1")["id"]]))
    new = manifest(mapping("db", "t3"), mapping("api", "t2", key="api-k2", deps=[mapping("db", "t3")["id"]]))
    with pytest.raises(ValueError, match="service api on t2 is not selected but depends on db on t1, which this deploy "
                                         "removes from there; select api too"):
        guard.restrict(new, current, {"db"})
    # a first deploy has nothing to keep; references by key follow a rebuild in place
    assert [m["service"] for m in guard.restrict(new, None, {"db"})["mappings"]] == ["db"]
    current["mappings"][1]["dependsOnRefs"] = [{"service": "db-k", "target": "t1", "container": "process"}]
    rebuilt = manifest(mapping("db", "t1", key="db-k2"))
    api = next(m for m in guard.restrict(rebuilt, current, {"db"})["mappings"] if m["service"] == "api")
    assert api["dependsOnRefs"] == [{"service": "db-k2", "target": "t1", "container": "process"}]
    assert api["dependsOn"] == [mapping("db", "t1", key="db-k2")["id"]]


def test_keys_are_checked_and_never_quoted():
    keys = guard.check_keys({"api": [{"name": "db-password", "value": "s3cr3t-value", "owner": "nobody"}]}, {"api", "db"})
    assert keys == {"api": [{"service": "api", "name": "db-password", "value": "s3cr3t-value", "dest": "/run/keys/disnix/api/db-password",
                             "mode": "0600", "owner": "nobody", "group": None}]}
    for bad, problem in [({"nope": []}, "not a service"),
                         ({"api": [{"name": "../x", "value": "s3cr3t-value"}]}, "name must be a file name"),
                         ({"api": [{"name": "k", "value": 5}]}, "value must be a string"),
                         ({"api": [{"name": "k", "value": "s3cr3t-value", "dest": "/nix/store/x"}]}, "outside /nix"),
                         ({"api": [{"name": "k", "value": "s3cr3t-value", "mode": "rw"}]}, "mode must be an octal"),
                         ({"api": [{"name": "k", "value": "s3cr3t-value", "colour": 1}]}, "unknown field(s) colour")]:
        with pytest.raises(ValueError) as err:
            guard.check_keys(bad, {"api", "db"})
        assert problem in str(err.value) and "s3cr3t-value" not in str(err.value)


def checked(m, check):
    return dict(m, healthCheck=check)


HEALTHY = {"name": "answers", "command": ["/bin/true"], "shell": False, "tcpPort": None, "host": "127.0.0.1",
           "timeout": 2, "interval": 1}
NEW_CHECKED = manifest(mapping("db", "t3"),
                       checked(mapping("api", "t2", key="api-k2", deps=[mapping("db", "t3")["id"]]), HEALTHY),
                       mapping("tools", "t1", type_="package"))


def test_health_checks_run_after_the_wave_that_activates_their_service():
    state = locked(started(new=NEW_CHECKED))
    # waves: 0 deactivate api, 1 deactivate db, 2 activate db, 3 activate api
    assert list(state["health"]) == ["3"] and list(state["health"]["3"]) == ["h2"]
    check = state["health"]["3"]["h2"][0]
    assert check["service"] == "api" and check["name"] == "answers" and check["target"] == "t2"


def test_a_failed_health_check_rolls_back_like_a_failed_activation_and_names_the_check():
    state = locked(started(new=NEW_CHECKED))
    for wave, host in ((0, "h2"), (1, "h1"), (2, "h3")):
        state = tx.after_wave(state, wave, {host: {"changed": True}})
    assert state["go"]
    failed_check = {"failed": True, "msg": "x", "failed_checks": [
        {"name": "answers", "service": "api", "ok": False, "reason": "exit code 1: no"}]}
    state = tx.after_wave(state, 3, {"h2": {"changed": True}}, {"h2": failed_check})
    assert not state["go"] and state["rollback_waves"] == [3, 2, 1, 0]
    assert state["failed"]["h2"] == "wave 3: health check 'answers' of service api failed: exit code 1: no"
    state = tx.finish(tx.after_unlock(state, {h: {"changed": True} for h in state["locked"]}), committed=False)
    assert state["outcome"] == tx.ROLLED_BACK and tx.failed(state)
    assert any("health check 'answers' of service api" in line for line in tx.report(state))


def test_a_passed_or_skipped_health_check_lets_the_wave_go_on():
    state = locked(started(new=NEW_CHECKED))
    for wave, host in ((0, "h2"), (1, "h1"), (2, "h3")):
        state = tx.after_wave(state, wave, {host: {"changed": True}})
    state = tx.after_wave(state, 3, {"h2": {"changed": True}}, {"h2": {"changed": False, "checks": []}})
    assert state["go"] and not state["failed"]
    # an activation that failed is reported as such, not as a health check
    state = locked(started(new=NEW_CHECKED))
    state = tx.after_wave(state, 3, {"h2": {"failed": True, "msg": "api: exit 1"}}, {"h2": {"skipped": True}})
    assert state["failed"]["h2"] == "wave 3: api: exit 1"


def test_models_without_checks_have_none():
    state = locked(started())
    assert state["health"] == {} and OLD["mappings"] and set(HOSTS) == {"t1", "t2", "t3"}


def with_keys_plan(results, host, *plan):
    return dict(results, **{host: dict(results[host], keys_plan=list(plan))})


KEY_CHANGE = {"service": "api", "name": "pw", "dest": "/run/keys/disnix/api/pw", "action": "create"}


def test_keys_are_written_after_the_lock_and_a_failed_wave_rolls_them_back_last():
    state = tx.after_query(started(), with_keys_plan(query_ok(OLD), "h2", KEY_CHANGE), "ctl", {})
    assert state["keys_plan"] == {"h2": [KEY_CHANGE]} and not state["keys_only"]
    assert state["key_lines"] == ["keys on h2: create pw of api (/run/keys/disnix/api/pw)"]
    state = tx.after_lock(state, {h: dict(r, changed=True) for h, r in query_ok(OLD).items()})
    assert tx.keys_hosts(state) == ["h2"]
    state = tx.after_keys(state, {"h2": {"changed": True}})
    assert state["go"] and state["keys_written"] == ["h2"] and state["keys_changed"]
    state = tx.after_wave(state, 0, {"h2": {"failed": True, "msg": "api would not stop"}})
    assert state["rollback_waves"] == [0, tx.KEYS_WAVE]
    assert state["rollback_hosts"][str(tx.KEYS_WAVE)] == ["h2"]


def test_a_failed_key_write_stops_before_any_activation_and_undoes_the_keys():
    state = tx.after_query(started(), with_keys_plan(query_ok(OLD), "h1", dict(KEY_CHANGE, service="db")), "ctl", {})
    state = tx.after_lock(state, {h: dict(r, changed=True) for h, r in query_ok(OLD).items()})
    state = tx.after_keys(state, {"h1": {"failed": True, "msg": "no user dbuser on t1"}})
    assert not state["go"] and state["failed"] == {"h1": "keys: no user dbuser on t1"}
    assert state["rollback_waves"] == [tx.KEYS_WAVE] and state["waves_started"] == []


def test_a_run_with_nothing_but_keys_to_write_goes_on_as_keys_only():
    same = dict(started(old=NEW, new=NEW), manifest_path="/nix/store/m-old")
    idle = tx.after_query(same, query_ok(NEW), "ctl", {})
    assert not idle["go"] and idle["outcome"] == tx.NOTHING_TO_DO
    state = tx.after_query(same, with_keys_plan(query_ok(NEW), "h2", dict(KEY_CHANGE, action="remove")), "ctl", {})
    assert state["go"] and state["keys_only"] and state["plan"]["waves"] == []
