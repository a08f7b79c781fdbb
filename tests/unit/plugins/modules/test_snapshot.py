# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""disnix.deploy.snapshot through AnsibleModule: a migration's export and journaled import,
and the services it selects from a deployed profile manifest."""

from __future__ import annotations

import os

from ansible_collections.disnix.deploy.plugins.module_utils.transition_journal import Journal
from ansible_collections.disnix.deploy.plugins.modules import snapshot
from ansible_collections.disnix.deploy.tests.unit.plugins.module_utils.target_fixtures import run_module, write_script
from ansible_collections.disnix.deploy.tests.unit.plugins.module_utils.test_snapshots import COUNTER


def counter_service(lab, **extra) -> dict:
    pkg = lab.path("pkgs", "counter")
    write_script(os.path.join(pkg, "bin", "wrapper"), COUNTER)
    with open(os.path.join(lab.state_dir, "state"), "w", encoding="utf-8") as handle:
        handle.write("12\n")
    return dict({"service": "counter", "pkg": pkg, "type": "wrapper", "container": "wrapper",
                 "properties": {"stateDir": lab.state_dir}}, **extra)


def test_a_migration_exports_then_imports_journaled_and_restores(lab, capsys):
    old, new = lab.path("old"), lab.path("new")
    service = counter_service(lab, migration=3, key="k1")
    taken = run_module(snapshot.main, {"state": "taken", "services": [service], "export": True, "statedir": old,
                                       "tmpdir": lab.tmpdir}, capsys)
    assert taken["changed"] and not taken.get("failed"), taken
    [export] = taken["exports"]
    assert export["migration"] == 3 and export["bytes"] > 0 and os.path.isfile(export["path"])

    with open(os.path.join(lab.state_dir, "state"), "w", encoding="utf-8") as handle:
        handle.write("0\n")
    restored = run_module(snapshot.main, {"state": "restored", "services": [service], "imports": [export["path"]],
                                          "migrations": {"3": {"snapshot": export["name"]}},
                                          "statedir": new, "run_id": "run7", "wave": 2,
                                          "fenced": False, "tmpdir": lab.tmpdir}, capsys)
    assert restored["changed"] and not restored.get("failed"), restored
    with open(os.path.join(lab.state_dir, "state"), encoding="utf-8") as handle:
        assert handle.read() == "12\n"
    [entry] = Journal(os.path.join(lab.tmpdir, "disnix-default.journal")).pending_undo("run7", 2)
    assert entry["op"] == "restore" and entry["snapshot"] == export["name"] and entry["snapshot_added"]


def test_deployed_services_with_deploy_state_are_selected(lab, capsys):
    service = counter_service(lab, key="k1", deployState=True)
    plain = dict(counter_service(lab, key="k2"), service="other", deployState=False)
    lab.deploy_manifest([service, plain])
    statedir = lab.path("store")
    check = run_module(snapshot.main, {"state": "taken", "statedir": statedir, "_ansible_check_mode": True}, capsys)
    assert check["lines"] == ["would snapshot counter: (new)"] and not os.path.exists(statedir)
    taken = run_module(snapshot.main, {"state": "taken", "statedir": statedir}, capsys)
    assert [e["service"] for e in taken["snapshots"]] == ["counter"]
    listed = run_module(snapshot.main, {"state": "query", "statedir": statedir}, capsys)
    assert listed["snapshots"] == [taken["snapshots"][0]["snapshot"]] and not listed["changed"]
    # what a restore from another store must bring: the selected services' container and component
    assert listed["services"] == [{"service": "counter", "container": "wrapper", "component": "counter"}]


def test_the_newest_of_a_container_and_component_is_exported_without_a_profile(lab, capsys):
    statedir = lab.path("controller-store")
    taken = run_module(snapshot.main, {"state": "taken", "services": [counter_service(lab)], "statedir": statedir}, capsys)
    name = taken["snapshots"][0]["snapshot"]
    exported = run_module(snapshot.main, {"state": "exported", "statedir": statedir, "container": "wrapper",
                                          "component": "counter", "dest_dir": lab.tmpdir}, capsys)
    assert not exported.get("failed"), exported
    assert exported["name"] == name and os.path.isfile(exported["path"]) and exported["bytes"] > 0
    missing = run_module(snapshot.main, {"state": "exported", "statedir": statedir, "container": "wrapper",
                                         "component": "nothing", "dest_dir": lab.tmpdir}, capsys)
    assert missing["failed"] and missing["msg"] == "no snapshot of wrapper/nothing in " + statedir


def test_a_service_whose_type_cannot_snapshot_is_an_error(lab, capsys):
    process = {"service": "web", "pkg": lab.process_pkg("web"), "type": "process", "container": "process"}
    result = run_module(snapshot.main, {"state": "taken", "services": [process], "statedir": lab.path("s")}, capsys)
    assert result["failed"] and "type 'process' cannot snapshot" in result["msg"]
    assert not os.path.exists(lab.path("s"))
