# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""deployState migration in the transition plan: which states move, and the order of
activation, migration and the old mapping's deactivation."""

from __future__ import annotations

from ansible_collections.disnix.deploy.plugins.plugin_utils import transition_plan

HASH = "a" * 32


def mapping(service: str, target: str, build: str = "1", deps: tuple[str, ...] = (), type_: str = "wrapper",
            state: bool = True) -> dict:
    key = f"{service}-{build}-{target}"
    return {"id": f"{key}:{target}:{type_}", "key": key, "service": service, "target": target, "container": type_,
            "type": type_, "pkg": f"/nix/store/{build * 32}-{service}", "properties": {}, "dependsOn": list(deps),
            "deployState": state}


def manifest(*mappings: dict) -> dict:
    return {"mappings": list(mappings), "targets": {}}


def summary(plan: dict) -> list[tuple[str, list[str]]]:
    return [(w["op"], sorted(f"{s['op']} {s['service']}@{t}" for t, steps in w["steps"].items() for s in steps))
            for w in plan["waves"]]


def test_a_moved_stateful_service_migrates_after_activation_and_before_deactivation():
    old, new = mapping("counter", "t1"), mapping("counter", "t2")
    plan = transition_plan.plan(manifest(old), manifest(new))
    assert summary(plan) == [
        ("activate", ["activate counter@t2"]),
        ("migrate", ["restore counter@t2", "snapshot counter@t1"]),
        ("deactivate", ["deactivate counter@t1"]),
    ]
    [move] = plan["migrations"]
    assert (move["from"], move["to"], move["container"], move["component"]) == ("t1", "t2", "wrapper", "counter")
    assert [s["migration"] for steps in plan["waves"][1]["steps"].values() for s in steps] == [0, 0]
    assert any("migrate the state of counter (wrapper/counter) from t1 to t2" in line for line in transition_plan.describe(plan))


def test_without_deploy_state_nothing_migrates_unless_asked_for_all():
    old, new = mapping("counter", "t1", state=False), mapping("counter", "t2", state=False)
    assert transition_plan.plan(manifest(old), manifest(new))["migrations"] == []
    plan = transition_plan.plan(manifest(old), manifest(new), deploy_state_all=True)
    assert [m["service"] for m in plan["migrations"]] == ["counter"]
    # types that cannot snapshot take no part, even with disnix_deploy_state
    p_old, p_new = mapping("web", "t1", type_="process", state=False), mapping("web", "t2", type_="process", state=False)
    assert transition_plan.plan(manifest(p_old), manifest(p_new), deploy_state_all=True)["migrations"] == []


def test_a_rebuild_on_the_same_target_keeps_its_state_in_place():
    old, new = mapping("counter", "t1", build="1"), mapping("counter", "t1", build="2")
    plan = transition_plan.plan(manifest(old), manifest(new))
    assert plan["migrations"] == [] and [w["op"] for w in plan["waves"]] == ["deactivate", "activate"]


def test_a_new_service_has_no_state_to_migrate():
    assert transition_plan.plan(manifest(), manifest(mapping("counter", "t2")))["migrations"] == []


def test_a_swap_migrates_both_ways_in_one_wave():
    a1, b2 = mapping("a", "t1"), mapping("b", "t2")
    a2, b1 = mapping("a", "t2"), mapping("b", "t1")
    plan = transition_plan.plan(manifest(a1, b2), manifest(a2, b1))
    assert summary(plan) == [
        ("activate", ["activate a@t2", "activate b@t1"]),
        ("migrate", ["restore a@t2", "restore b@t1", "snapshot a@t1", "snapshot b@t2"]),
        ("deactivate", ["deactivate a@t1", "deactivate b@t2"]),
    ]


def test_what_the_source_depends_on_goes_after_the_migration_and_its_dependants_before():
    db_old = mapping("db", "t1", type_="process", state=False)
    counter_old = mapping("counter", "t1", deps=(db_old["id"],))
    client_old = mapping("client", "t1", type_="process", state=False, deps=(counter_old["id"],))
    other_old = mapping("other", "t1", type_="process", state=False)
    db_new = mapping("db", "t2", type_="process", state=False)
    counter_new = mapping("counter", "t2", deps=(db_new["id"],))
    plan = transition_plan.plan(manifest(db_old, counter_old, client_old, other_old), manifest(db_new, counter_new))
    assert summary(plan) == [
        ("deactivate", ["deactivate client@t1", "deactivate other@t1"]),
        ("activate", ["activate db@t2"]),
        ("activate", ["activate counter@t2"]),
        ("migrate", ["restore counter@t2", "snapshot counter@t1"]),
        ("deactivate", ["deactivate counter@t1"]),
        ("deactivate", ["deactivate db@t1"]),
    ]
    assert [w["index"] for w in plan["waves"]] == list(range(6))


def test_redundant_copies_keep_their_state_and_only_a_new_copy_is_fed():
    old1, old2 = mapping("counter", "t1"), mapping("counter", "t2")
    new2, new3 = mapping("counter", "t2"), mapping("counter", "t3")
    plan = transition_plan.plan(manifest(old1, old2), manifest(new2, new3))
    assert [(m["from"], m["to"]) for m in plan["migrations"]] == [("t1", "t3")]


# -- the transaction's judgement of a migrate wave ------------------------------------------

def _tx(plan_old: dict, plan_new: dict) -> dict:
    from ansible_collections.disnix.deploy.plugins.plugin_utils import transaction

    tx = transaction.start({"run_id": "r1", "profile": "default", "manifest": plan_new, "previous_manifest": plan_old,
                            "hosts": {"t1": "h1", "t2": "h2"}}, ["h1", "h2"], ["h1", "h2"], False)
    ok = {"h1": {"profile_manifest": {"services": [dict(m, container=m["container"]) for m in plan_old["mappings"]]}},
          "h2": {"profile_manifest": {"services": []}}}
    return transaction.after_query(tx, ok, "controller", {})


def test_the_transaction_times_the_transfer_and_notes_the_migration():
    from ansible_collections.disnix.deploy.plugins.plugin_utils import transaction

    tx = _tx(manifest(mapping("counter", "t1")), manifest(mapping("counter", "t2")))
    assert tx["go"] and tx["migration_hosts"] == {"1": {"snapshot": ["h1"], "restore": ["h2"]}}
    exports = {"h1": {"exports": [{"migration": 0, "name": "wrapper/counter/abc", "bytes": 300}]}}
    tx = transaction.after_migration(tx, 1, "snapshot", exports, now=100.0)
    tx = transaction.after_migration(tx, 1, "fetch", {"h1": {}}, now=101.0)
    tx = transaction.after_migration(tx, 1, "send", {"h2": {}}, now=102.5)
    tx = transaction.after_migration(tx, 1, "restore", {"h2": {}}, now=103.0)
    assert tx["go"] and tx["migrations"]["0"]["transfer_seconds"] == 2.5
    assert ("migrated the state of counter from t1 to t2: snapshot wrapper/counter/abc, 300 bytes through the "
            "controller in 2.5 s") in tx["notes"]


def test_a_failed_restore_rolls_back_every_wave_that_started_and_names_the_step():
    from ansible_collections.disnix.deploy.plugins.plugin_utils import transaction

    tx = _tx(manifest(mapping("counter", "t1")), manifest(mapping("counter", "t2")))
    tx["waves_started"].append(0)                       # the activation of counter@t2 ran
    tx = transaction.after_migration(tx, 1, "snapshot", {"h1": {"exports": []}}, now=1.0)
    tx = transaction.after_migration(tx, 1, "fetch", {"h1": {}}, now=1.0)
    tx = transaction.after_migration(tx, 1, "send", {"h2": {}}, now=1.0)
    failed = {"h2": {"failed": True, "msg": "One or more items failed",
                     "results": [{"failed": True, "msg": "wrapper restore failed on t2 (exit 1)"}]}}
    tx = transaction.after_migration(tx, 1, "restore", failed, now=1.0)
    assert not tx["go"]
    assert tx["rollback_waves"] == [1, 0]               # the late deactivation (wave 2) never ran
    assert tx["failed"]["h2"] == ("wave 1, migration of counter (t1 -> t2): restore: wrapper restore failed on t2 (exit 1)")
    tx = transaction.finish(tx, committed=False)
    assert tx["outcome"] == transaction.ROLLED_BACK
    assert any("FAILED at wave 1, migration of counter (t1 -> t2): restore" in line for line in transaction.report(tx))


def test_a_target_lost_during_the_transfer_rolls_back_on_the_others():
    from ansible_collections.disnix.deploy.plugins.plugin_utils import transaction

    tx = _tx(manifest(mapping("counter", "t1")), manifest(mapping("counter", "t2")))
    tx["waves_started"].append(0)
    tx = transaction.after_migration(tx, 1, "snapshot", {"h1": {"exports": []}}, now=1.0)
    tx = transaction.after_migration(tx, 1, "fetch", {"h1": {"unreachable": True, "msg": "ssh: connection refused"}}, now=2.0)
    assert not tx["go"] and tx["lost"]["h1"] == "wave 1, migration of counter (t1 -> t2): fetch: ssh: connection refused"
    assert tx["rollback_hosts"] == {"1": ["h2"], "0": ["h2"]}   # only the reachable new target undoes its part
    # the next parts pass without judging anything: nothing more runs
    assert transaction.migration_phase_hosts(tx, 1, "snapshot") == []
