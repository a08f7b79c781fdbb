# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The transaction's decisions, stage by stage, from plain host results (no lab)."""

from __future__ import annotations

from ansible_collections.disnix.deploy.plugins.plugin_utils import transaction as tx
from ansible_collections.disnix.deploy.plugins.plugin_utils.manifest import mapping_id

HOSTS = {"t1": "h1", "t2": "h2", "t3": "h3"}


def mapping(service, target, key=None, deps=(), type_="process"):
    key = key or service + "-k"
    return {"id": mapping_id(key, target, type_), "key": key, "service": service, "target": target, "container": type_,
            "type": type_, "pkg": "/nix/store/x-" + key, "properties": {}, "dependsOn": list(deps)}


def manifest(*mappings):
    return {"mappings": list(mappings), "targets": {t: {"profile": "/nix/store/p-" + t} for t in HOSTS}}


OLD = manifest(mapping("db", "t1"), mapping("api", "t2", deps=[mapping("db", "t1")["id"]]))
# db moves to t3; api is rebuilt (it bakes in db's host)
NEW = manifest(mapping("db", "t3"), mapping("api", "t2", key="api-k2", deps=[mapping("db", "t3")["id"]]),
               mapping("tools", "t1", type_="package"))


def profile_manifest(m, target):
    services = [{k: x[k] for k in ("key", "service", "pkg", "type", "container", "properties", "dependsOn")}
                for x in m["mappings"] if x["target"] == target]
    return {"services": services}


def query_ok(m, lock=None, journal=()):
    return {h: {"profile_manifest": profile_manifest(m, t), "profile_path": m["targets"][t]["profile"],
                "lock": lock if h == "h2" else None,
                "journal": list(journal) if h == "h2" else []} for t, h in HOSTS.items()}


def started(old=None, new=None, play=None, check=False):
    old, new = old or OLD, new or NEW
    result = {"run_id": "run-new", "profile": "default", "manifest": new, "previous_manifest": old,
              "manifest_path": "/nix/store/m-new", "previous_manifest_path": "/nix/store/m-old",
              "generation": 1, "target_generation": None, "hosts": HOSTS, "coordinator_profile": "/c/default"}
    return tx.start(result, list(HOSTS.values()), play or list(HOSTS.values()), check)


def locked(state, m=None):
    m = m or OLD
    state = tx.after_query(state, query_ok(m), "ctl", {})
    return tx.after_lock(state, {h: dict(r, changed=True) for h, r in query_ok(m).items()})


def test_plan_comes_from_what_the_targets_run_and_moves_db_before_api():
    state = locked(started())
    assert state["go"]
    ops = [(w["op"], sorted(s["service"] for steps in w["steps"].values() for s in steps)) for w in state["plan"]["waves"]]
    assert ops == [("deactivate", ["api"]), ("deactivate", ["db"]), ("activate", ["db"]), ("activate", ["api"])]
    assert state["steps_by_host"] == {"0": ["h2"], "1": ["h1"], "2": ["h3"], "3": ["h2"]}
    assert sorted(state["locked"]) == ["h1", "h2", "h3"]


def test_drift_is_said_and_corrected():
    # the controller believes OLD, but t1 lost db (a partial run): nothing to deactivate there
    actual = manifest(mapping("api", "t2", deps=[mapping("db", "t1")["id"]]))
    state = tx.after_query(started(), query_ok(actual), "ctl", {})
    assert any("differ from the controller's generation" in n and "missing: db on t1" in n for n in state["notes"])
    assert [w["op"] for w in state["plan"]["waves"]] == ["deactivate", "activate", "activate"]


def test_a_target_lost_mid_transition_rolls_back_only_started_waves_and_never_commits():
    state = locked(started())
    state = tx.after_wave(state, 0, {"h2": {"changed": True}})
    state = tx.after_wave(state, 1, {"h1": {"unreachable": True, "msg": "ssh: connect timed out"}})
    assert not state["go"] and "h1" in state["lost"]
    assert state["rollback_waves"] == [1, 0]
    # the lost host is not asked again; wave 0 ran on h2 only
    assert state["rollback_hosts"] == {"1": [], "0": ["h2"]}
    assert tx.wave_hosts(state, 2) == ["h3"] and not tx.commit_ready(state)
    state = tx.after_rollback(state, 0, {"h2": {"restored": [{"op": "activate", "service": "api"}]}})
    state = tx.finish(state, committed=False)
    assert state["outcome"] == tx.INCOMPLETE and tx.failed(state)
    lines = "\n".join(tx.report(state))
    assert "h1: LOST at wave 1" in lines and "TO REPAIR" in lines and "h2: restored: activate api" in lines
    assert "generation is unchanged (1)" in lines


def test_a_failed_profile_switch_undoes_the_switches_then_every_wave():
    state = locked(started())
    for i, host in enumerate(["h2", "h1", "h3", "h2"]):
        state = tx.after_wave(state, i, {host: {"changed": True}})
    assert state["go"]
    state = tx.after_profiles(state, {"h1": {"changed": True}, "h2": {"failed": True, "msg": "read-only"}, "h3": {}})
    assert not state["go"] and state["failed"] == {"h2": "profile: read-only"}
    assert state["rollback_waves"] == [tx.PROFILE_WAVE, 3, 2, 1, 0]
    assert state["rollback_hosts"][str(tx.PROFILE_WAVE)] == ["h1", "h2", "h3"]
    assert not tx.commit_ready(state)


def test_commit_only_when_every_target_confirmed():
    state = locked(started())
    for i, host in enumerate(["h2", "h1", "h3", "h2"]):
        state = tx.after_wave(state, i, {host: {}})
    partial = tx.after_profiles(state, {"h1": {}, "h3": {}, "h2": {"skipped": True}})
    assert not tx.commit_ready(partial)
    done = tx.after_profiles(state, {"h1": {}, "h2": {}, "h3": {}})
    assert tx.commit_ready(done) and tx.finish(done, committed=True)["outcome"] == tx.COMMITTED


def test_limit_that_excludes_a_touched_target_is_refused_before_anything():
    state = started(play=["h2"])
    results = {h: r for h, r in query_ok(OLD).items() if h == "h2"}
    results.update({"h1": {"skipped": True}, "h3": {"skipped": True}})
    state = tx.after_query(state, results, "ctl", {})
    assert not state["go"] and state["outcome"] == tx.REFUSED
    assert "--limit excludes h1, h3" in state["notes"][-1]


def test_an_unreachable_target_without_services_does_not_block():
    hosts = dict(HOSTS, t4="h4")
    result = {"run_id": "r", "profile": "default", "manifest": NEW, "previous_manifest": OLD, "hosts": hosts,
              "manifest_path": "/m", "previous_manifest_path": "/o", "generation": 1, "target_generation": None}
    state = tx.start(result, list(hosts.values()), list(hosts.values()), False)
    results = dict(query_ok(OLD), h4={"unreachable": True, "msg": "no route"})
    state = tx.after_query(state, results, "ctl", {})
    assert state["go"] and "h4" not in state["lost"] and any("h4 is unreachable" in n for n in state["notes"])
    # it is not locked (nor asked anything) later
    assert tx.lock_hosts(state) == ["h1", "h2", "h3"]
    state = tx.after_lock(state, query_ok(OLD))
    assert state["go"] and sorted(state["locked"]) == ["h1", "h2", "h3"]
    involved = tx.after_query(started(), dict(query_ok(OLD), h3={"unreachable": True, "msg": "no route"}), "ctl", {})
    assert not involved["go"] and involved["outcome"] == tx.REFUSED and "h3" in involved["lost"]


def test_a_dead_runs_lock_is_recovered_and_a_live_foreign_one_refused():
    dead = {"run_id": "killed", "controller": "ctl", "pid": 4242}
    state = tx.after_query(started(), query_ok(OLD, lock=dead), "ctl", {"killed": False})
    assert state["go"] and state["recover"] == {"h2": {"dead_run_id": "killed", "committed": False}}
    committed = started()
    committed["committed_runs"] = ["killed"]
    assert tx.after_query(committed, query_ok(OLD, lock=dead), "ctl", {"killed": False})["recover"]["h2"]["committed"]
    foreign = dict(dead, controller="elsewhere")
    refused = tx.after_query(started(), query_ok(OLD, lock=foreign), "ctl", {})
    assert not refused["go"] and "locked by run killed (controller elsewhere" in refused["notes"][-1]
    forced = tx.after_query(started(), query_ok(OLD, lock=foreign), "ctl", {}, force=True)
    assert forced["recover"]["h2"]["dead_run_id"] == "killed"
    orphan = tx.after_query(started(), query_ok(OLD, journal=[{"run_id": "gone", "op": "activate"}]), "ctl", {})
    assert orphan["recover"] == {"h2": {"dead_run_id": None, "committed": False}}


def test_a_plan_made_before_another_deploy_committed_is_made_again_under_the_locks():
    state = tx.after_query(started(), query_ok(OLD), "ctl", {})
    # meanwhile another run moved db to t3 already: under the locks the targets run NEW minus api's rebuild
    moved = manifest(mapping("db", "t3"), mapping("api", "t2", deps=[mapping("db", "t3")["id"]]))
    state = tx.after_lock(state, query_ok(moved))
    assert any("planned again" in n for n in state["notes"])
    services = [s["service"] for w in state["plan"]["waves"] for steps in w["steps"].values() for s in steps]
    assert services == ["api", "api"]  # only api's rebuild is left


def test_check_mode_reports_changes_with_packages_and_a_per_target_diff():
    state = tx.after_query(started(check=True), query_ok(OLD), "ctl", {})
    assert state["outcome"] == tx.CHECKED and not state["go"] and state["changed"]
    by_target = {d["target"]: d for d in state["diff"]}
    assert by_target["t1"]["moved_out"] == ["db"] and by_target["t1"]["added"] == ["tools"]
    assert by_target["t3"]["moved_in"] == ["db"] and by_target["t2"]["rebuilt"] == ["api"]
    assert [d["before_header"] for d in tx.diff_text(state)] == ["t1: services", "t2: services", "t3: services"]
    # packages alone are a change too
    only_pkg = manifest(*OLD["mappings"], mapping("tools", "t1", type_="package"))
    pkg = tx.after_query(started(new=only_pkg, check=True), query_ok(OLD), "ctl", {})
    assert pkg["changed"] and pkg["plan"]["waves"] == []


def test_nothing_to_do_when_the_targets_run_the_manifest():
    result = tx.after_query(started(old=NEW), query_ok(NEW), "ctl", {})
    result_same_path = dict(result)
    assert result["outcome"] is None or result["outcome"] == tx.NOTHING_TO_DO
    state = started(old=NEW)
    state["previous_manifest_path"] = state["manifest_path"]
    state = tx.after_query(state, query_ok(NEW), "ctl", {})
    assert state["outcome"] == tx.NOTHING_TO_DO and not tx.failed(state) and not state["changed"]
    assert result_same_path["go"]  # a different manifest path still needs the generation recorded


def test_a_lock_refusal_releases_what_was_taken():
    state = tx.after_query(started(), query_ok(OLD), "ctl", {})
    state = tx.after_lock(state, {"h1": {"changed": True}, "h2": {"failed": True, "msg": "guard refused to be locked"},
                                  "h3": {"changed": True}})
    assert not state["go"] and state["outcome"] == tx.REFUSED and sorted(state["locked"]) == ["h1", "h3"]
    assert tx.rollback_waves(state) == [] and "guard refused" in state["notes"][-1]


def with_profiles(m, **paths):
    """M with the given targets' planned profile paths (t1="/nix/store/p2-t1", ...)."""
    return dict(m, targets={t: {"profile": paths.get(t, p["profile"])} for t, p in m["targets"].items()})


# api is rebuilt on t2 (it depends on db on t1); cache on t3 is neither changed nor depended on
CACHED = manifest(mapping("db", "t1"), mapping("api", "t2", deps=[mapping("db", "t1")["id"]]), mapping("cache", "t3"))
REBUILT = with_profiles(manifest(mapping("db", "t1"), mapping("api", "t2", key="api-k2", deps=[mapping("db", "t1")["id"]]),
                                 mapping("cache", "t3")), t2="/nix/store/p2-t2")


def test_only_changed_targets_and_those_they_depend_on_take_part():
    state = tx.after_query(started(old=CACHED, new=REBUILT), query_ok(CACHED), "ctl", {})
    assert state["go"] and tx.work_hosts(state) == ["h2"]
    # h1 runs db, which the new api depends on: locked, its profile left alone; h3 only asked
    assert tx.lock_hosts(state) == ["h1", "h2"] and tx.profile_hosts(state) == ["h2"]
    state = tx.after_lock(state, {h: dict(r, changed=True) for h, r in query_ok(CACHED).items() if h != "h3"})
    assert state["go"] and sorted(state["locked"]) == ["h1", "h2"]
    state = tx.after_wave(tx.after_wave(state, 0, {"h2": {}}), 1, {"h2": {}})
    assert tx.commit_ready(tx.after_profiles(state, {"h2": {"changed": True}}))


def test_a_target_whose_profile_differs_is_no_no_op():
    # the same services, but t3's profile is not the planned one (a profile switch lost): work
    state = tx.after_query(started(old=CACHED, new=with_profiles(CACHED, t3="/nix/store/p2-t3")), query_ok(CACHED), "ctl", {})
    assert state["go"] and state["outcome"] is None
    assert tx.work_hosts(state) == ["h3"] and tx.profile_hosts(state) == ["h3"]
    same = tx.after_query(dict(started(old=CACHED, new=CACHED), manifest_path="/nix/store/m-old"), query_ok(CACHED), "ctl", {})
    assert not same["go"] and same["outcome"] == tx.NOTHING_TO_DO and tx.lock_hosts(same) == []


def test_a_lock_taken_in_the_query_counts_and_a_refusal_there_releases_the_others():
    results = query_ok(CACHED)
    results["h2"] = dict(results["h2"], locked=True, lock={"run_id": "run-new"}, changed=True)
    state = tx.after_query(started(old=CACHED, new=REBUILT), results, "ctl", {})
    assert state["go"] and state["locked"] == ["h2"]
    # the lock stage asks only h1 (h2 is locked, h3 takes no part)
    state = tx.after_lock(state, {"h1": dict(query_ok(CACHED)["h1"], changed=True), "h2": {"skipped": True}})
    assert state["go"] and sorted(state["locked"]) == ["h1", "h2"]
    refused = query_ok(CACHED)
    refused["h1"] = dict(refused["h1"], locked=True, lock={"run_id": "run-new"})
    refused["h2"] = dict(refused["h2"], lock_refused="api refused to be locked on h2")
    state = tx.after_query(started(old=CACHED, new=REBUILT), refused, "ctl", {})
    assert not state["go"] and state["outcome"] == tx.REFUSED
    assert state["failed"] == {"h2": "lock: api refused to be locked on h2"} and state["locked"] == ["h1"]
    assert state["notes"][-1] == "locking failed: h2: lock: api refused to be locked on h2"


def test_a_target_not_locked_that_the_plan_needs_after_the_lock_stops_the_run():
    # web on t1 needs cache on t3; at the query web runs, so only db's and api's targets take part
    web = mapping("web", "t1", deps=[mapping("cache", "t3")["id"]])
    old = manifest(*CACHED["mappings"], web)
    new = with_profiles(manifest(*REBUILT["mappings"], web), t2="/nix/store/p2-t2")
    state = tx.after_query(started(old=old, new=new), query_ok(old), "ctl", {})
    assert tx.lock_hosts(state) == ["h1", "h2"]
    # under the lock t1 runs no web any more (another deployment removed it): web is to
    # start again, and it needs h3, which this run did not lock
    without_web = query_ok(CACHED)
    state = tx.after_lock(state, {h: dict(r, changed=True) for h, r in without_web.items() if h != "h3"})
    assert not state["go"] and state["outcome"] == tx.REFUSED and sorted(state["locked"]) == ["h1", "h2"]
    assert "needs h3, which this run has not locked" in state["notes"][-1]


def test_of_two_runs_that_meet_at_a_lock_the_later_gives_way_and_the_earlier_waits_for_it():
    def meeting(lock_on, holder_started, check=False, no_lock=False):
        state = started(old=CACHED, new=REBUILT, check=check)
        state["started"] = 150.0
        results = query_ok(CACHED)
        results[lock_on] = dict(results[lock_on], lock={"run_id": "other", "controller": "elsewhere", "started": holder_started})
        return tx.after_query(state, results, "ctl", {}, no_lock=no_lock)

    # a later run holds h3, which this run neither changes nor depends on: this run locks it
    # too (what h3 runs may change under the other run) and the lock stage waits for it
    waiting = meeting("h3", 200.0)
    assert waiting["go"] and list(waiting["contended"]) == ["h3"] and not waiting["failed"]
    assert tx.lock_hosts(waiting) == ["h1", "h2", "h3"]
    after = tx.after_lock(waiting, {h: dict(r, changed=True) for h, r in query_ok(CACHED).items()})
    assert after["go"] and sorted(after["locked"]) == ["h1", "h2", "h3"]
    # an earlier run holds h2: this run gives way at once, nothing locked, nothing changed
    giving_way = meeting("h2", 100.0)
    assert not giving_way["go"] and giving_way["outcome"] == tx.REFUSED and not giving_way["contended"]
    assert "started before this run; this run gives way" in giving_way["failed"]["h2"]
    # check mode says what a real run would do; without locks a held lock is refused as before
    checked = meeting("h2", 200.0, check=True)
    assert checked["outcome"] == tx.CHECKED and "a real run waits for it" in checked["notes"][-1]
    unlocked = meeting("h2", 200.0, no_lock=True)
    assert unlocked["outcome"] == tx.REFUSED and "locked by run other" in unlocked["failed"]["h2"]
    # a no-op run that meets a later run still takes part: it locks and plans under the lock
    noop = started(old=CACHED, new=CACHED)
    noop["started"] = 150.0
    results = query_ok(CACHED)
    results["h3"] = dict(results["h3"], lock={"run_id": "other", "started": 200.0})
    assert tx.after_query(noop, results, "ctl", {})["go"]
