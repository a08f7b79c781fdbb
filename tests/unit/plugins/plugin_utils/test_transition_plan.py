# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Transition waves: order, parallelism, untouched and skipped mappings."""

from __future__ import annotations

from ansible_collections.disnix.deploy.plugins.plugin_utils import transition_plan


def mapping(service: str, target: str, pkg: str = "v1", deps: tuple[str, ...] = (), type_: str = "process") -> dict:
    key = f"{service}-{pkg}"
    return {
        "id": f"{key}:{target}:{type_}", "key": key, "service": service, "target": target,
        "container": type_, "type": type_, "pkg": f"/nix/store/{key}", "properties": {},
        "dependsOn": list(deps),
    }


def manifest(*mappings: dict) -> dict:
    return {"mappings": list(mappings), "targets": {}}


def wave_summary(plan: dict) -> list[tuple[str, list[str]]]:
    return [(w["op"], sorted(f"{s['service']}@{t}" for t, steps in w["steps"].items() for s in steps)) for w in plan["waves"]]


def test_fresh_deployment_activates_in_dependency_order_across_targets():
    db = mapping("db", "t1")
    api = mapping("api", "t2", deps=(db["id"],))
    web = mapping("web", "t3", deps=(api["id"],))
    cache = mapping("cache", "t2")
    plan = transition_plan.plan(None, manifest(web, api, db, cache))
    assert wave_summary(plan) == [
        ("activate", ["cache@t2", "db@t1"]),
        ("activate", ["api@t2"]),
        ("activate", ["web@t3"]),
    ]
    assert [w["index"] for w in plan["waves"]] == [0, 1, 2]


def test_unchanged_manifest_has_no_waves():
    db = mapping("db", "t1")
    api = mapping("api", "t2", deps=(db["id"],))
    plan = transition_plan.plan(manifest(db, api), manifest(db, api))
    assert plan["waves"] == []
    assert sorted(plan["untouched"]) == sorted([db["id"], api["id"]])
    assert transition_plan.describe(plan)[0] == "no service to activate or deactivate"


def test_moving_a_service_deactivates_dependants_first_and_activates_them_last():
    server_old = mapping("server", "t2")
    client_old = mapping("client", "t1", pkg="for-t2", deps=(server_old["id"],))
    other = mapping("other", "t3")
    server_new = mapping("server", "t3")
    client_new = mapping("client", "t1", pkg="for-t3", deps=(server_new["id"],))
    plan = transition_plan.plan(manifest(server_old, client_old, other), manifest(server_new, client_new, other))
    assert wave_summary(plan) == [
        ("deactivate", ["client@t1"]),
        ("deactivate", ["server@t2"]),
        ("activate", ["server@t3"]),
        ("activate", ["client@t1"]),
    ]
    assert plan["untouched"] == [other["id"]]


def test_packages_take_no_part_in_the_transition():
    server = mapping("server", "t2")
    client = mapping("client", "t1", deps=(server["id"],), type_="package")
    plan = transition_plan.plan(None, manifest(server, client))
    assert wave_summary(plan) == [("activate", ["server@t2"])]


def test_mappings_on_vanished_targets_are_skipped():
    a = mapping("a", "gone")
    b = mapping("b", "t1")
    plan = transition_plan.plan(manifest(a, b), manifest(b), present_targets={"t1"})
    assert plan["waves"] == []
    assert plan["skipped"] == [a["id"]]
    assert any("no longer present" in line for line in transition_plan.describe(plan))


def test_steps_carry_what_the_target_needs():
    a = mapping("a", "t1")
    a["properties"] = {"runtimeDir": "/run"}
    (step,) = transition_plan.plan(None, manifest(a))["waves"][0]["steps"]["t1"]
    assert step == {"op": "activate", "key": a["key"], "service": "a", "pkg": a["pkg"],
                    "type": "process", "container": "process", "properties": {"runtimeDir": "/run"}}


def test_a_chain_of_thousands_of_dependencies_is_planned_wave_by_wave():
    # deeper than Python's recursion limit: the layering must not recurse per dependency
    chain = [mapping("s0", "t1")]
    for i in range(1, 5000):
        chain.append(mapping(f"s{i}", f"t{i % 3}", deps=(chain[-1]["id"],)))
    plan = transition_plan.plan(None, manifest(*reversed(chain)))
    assert len(plan["waves"]) == 5000
    assert [s["service"] for w in plan["waves"][:3] for steps in w["steps"].values() for s in steps] == ["s0", "s1", "s2"]
    down = transition_plan.plan(manifest(*chain), manifest())
    assert [s["service"] for steps in down["waves"][0]["steps"].values() for s in steps] == ["s4999"]
    assert [s["service"] for steps in down["waves"][-1]["steps"].values() for s in steps] == ["s0"]


def test_a_cycle_is_refused_with_a_node_on_it():
    a = mapping("a", "t1", deps=("b-v1:t1:process",))
    b = mapping("b", "t1", deps=(a["id"],))
    try:
        transition_plan.plan(None, manifest(a, b))
    except ValueError as exc:
        assert str(exc) == "dependency cycle through " + a["id"]
    else:
        raise AssertionError("a cycle was planned")
