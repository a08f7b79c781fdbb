# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan as JSON (check mode's disnix_plan_json) and JMESPath queries over it."""

from __future__ import annotations

import json
import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.disnix.deploy.plugins.filter.query_plan import query_plan
from ansible_collections.disnix.deploy.plugins.plugin_utils import plan_json
from ansible_collections.disnix.deploy.plugins.plugin_utils import transaction as tx

from ansible_collections.disnix.deploy.tests.unit.plugins.plugin_utils.test_transaction import HOSTS, NEW, OLD, mapping, manifest, query_ok, started

SCHEMA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "docs", "plan.schema.json")


def checked_plan(old=None, new=None):
    state = tx.after_query(started(old, new, check=True), query_ok(old or OLD), "ctl", {})
    return plan_json.build(state, {"t3": ["/nix/store/x-db-k"]})


def test_every_change_is_named_with_its_kind():
    doc = checked_plan()
    ch = doc["changes"]
    assert [(m["service"], m["from"], m["target"]) for m in ch["moved"]] == [("db", "t1", "t3")]
    assert [(m["service"], m["target"]) for m in ch["rebuilt"]] == [("api", "t2")]
    assert [(m["service"], m["target"], m["type"]) for m in ch["added"]] == [("tools", "t1", "package")]
    assert ch["removed"] == [] and ch["untouched"] == []
    assert doc["changed"] is True and doc["outcome"] == tx.CHECKED


def test_waves_and_what_each_target_lacks():
    doc = checked_plan()
    assert [(w["op"], [(s["service"], s["target"]) for s in w["steps"]]) for w in doc["waves"]] == [
        ("deactivate", [("api", "t2")]), ("deactivate", [("db", "t1")]),
        ("activate", [("db", "t3")]), ("activate", [("api", "t2")])]
    assert doc["targets"]["t3"]["lacks"] == ["/nix/store/x-db-k"] and doc["targets"]["t1"]["lacks"] == []
    assert doc["targets"]["t1"]["services_before"] == ["db"] and doc["targets"]["t1"]["services_after"] == ["tools"]
    assert doc["targets"]["t2"]["host"] == HOSTS["t2"]


def test_edges_are_names_and_properties_never_appear():
    secret = manifest(mapping("db", "t1"))
    secret["mappings"][0]["properties"] = {"password": "hunter2"}
    doc = checked_plan(new=secret)
    text = plan_json.dumps(doc)
    assert "hunter2" not in text and "properties" not in text
    api = [m for m in checked_plan()["after"] if m["service"] == "api"][0]
    assert api["dependsOn"] == [{"service": "db", "target": "t3"}]


def test_a_removed_service_and_one_added_on_a_second_target():
    old = manifest(mapping("db", "t1"), mapping("cache", "t2"))
    new = manifest(mapping("db", "t1"), mapping("db", "t2"))
    ch = plan_json.changes(plan_json._mappings(old), plan_json._mappings(new))
    assert [(m["service"], m["target"]) for m in ch["untouched"]] == [("db", "t1")]
    assert [(m["service"], m["target"]) for m in ch["added"]] == [("db", "t2")]
    assert [(m["service"], m["target"]) for m in ch["removed"]] == [("cache", "t2")]
    assert ch["moved"] == []


def test_the_document_matches_its_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    with open(SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    path = tmp_path / "plan.json"
    plan_json.write(str(path), checked_plan())
    doc = json.loads(path.read_text())
    jsonschema.validate(doc, schema)
    doc["changes"]["moved"][0].pop("from")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_jmespath_over_the_plan_and_over_a_manifest():
    doc = checked_plan()
    assert query_plan(doc, "changes.moved[].{service: service, from: from, to: target}") == [
        {"service": "db", "from": "t1", "to": "t3"}]
    assert query_plan(doc, "targets.t3.lacks | length(@)") == 1
    # a raw manifest (what a controller generation holds) answers in the same vocabulary
    assert sorted(set(query_plan(NEW, "mappings[?type=='process'].target"))) == ["t2", "t3"]
    assert query_plan(NEW, "mappings[?service=='api'].dependsOn[].target") == ["t3"]
    with pytest.raises(AnsibleFilterError, match="bad query"):
        query_plan(doc, "mappings[?")
    with pytest.raises(AnsibleFilterError, match="expected a plan or a manifest"):
        query_plan(["x"], "a")


def test_a_state_migration_is_a_migrate_wave_of_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    old_counter, new_counter = mapping("counter", "t1", type_="wrapper"), mapping("counter", "t2", type_="wrapper")
    new_counter["deployState"] = True
    doc = checked_plan(old=manifest(old_counter), new=manifest(new_counter))
    assert [(w["op"], sorted((s["service"], s["target"]) for s in w["steps"])) for w in doc["waves"]] == [
        ("activate", [("counter", "t2")]), ("migrate", [("counter", "t1"), ("counter", "t2")]),
        ("deactivate", [("counter", "t1")])]
    with open(SCHEMA, encoding="utf-8") as f:
        jsonschema.validate(json.loads(plan_json.dumps(doc)), json.load(f))
