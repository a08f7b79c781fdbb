# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health checks, selective deploys and keys (docs/guard.md) on three lab hosts.

The tests run in file order on one lab, each from the state the previous one left.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from conftest import REPO, needs_lab

pytestmark = needs_lab

MODELS = os.path.join(REPO, "tests", "integration", "models", "guard")
INVENTORY = os.path.join(MODELS, "lab.disnix.yml")
HOSTS = ("test1", "test2", "test3")
STAMP = f"{os.getpid()}-{time.time_ns()}"


@pytest.fixture(scope="module")
def lab(lab_instance):
    lab_instance.up(*HOSTS)
    return lab_instance


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory):
    return str(tmp_path_factory.mktemp("coordinator"))


def deploy(lab, coordinator, *args: str, distribution: str = "distribution.nix", **params):
    extra = {"disnix_services": os.path.join(MODELS, "services.nix"),
             "disnix_distribution": os.path.join(MODELS, distribution),
             "disnix_coordinator_profile_dir": coordinator,
             "disnix_extra_params": {"stamp": STAMP, **params.pop("models", {})}, **params}
    return lab.playbook("deploy.yml", INVENTORY, *args, extra_vars=extra)


def generations(coordinator: str) -> list[str]:
    return sorted(e for e in os.listdir(coordinator) if e.startswith("default-") and e.endswith("-link"))


def profile_services(lab, host: str) -> dict[str, str]:
    text = lab.ssh(host, "cat /nix/var/nix/profiles/disnix/default/profilemanifest.json").stdout
    return {s["service"]: s["pkg"] for s in json.loads(text)["services"]}


def transitions(lab, host: str, since: int) -> list[tuple[str, str]]:
    """The (de)activations a host logged after its first ``since`` log entries."""
    return [(e["op"], e["service"]) for e in lab.activation_log(host)[since:] if e["op"] in ("activate", "deactivate")]


def running_pkg(lab, host: str, service: str) -> str | None:
    """The package of the service's last successful activation when it was not deactivated since."""
    last = None
    for e in lab.activation_log(host):
        if e["service"] == service and e["ok"] and e["op"] in ("activate", "deactivate"):
            last = e["pkg"] if e["op"] == "activate" else None
    return last


def test_deploy_runs_every_health_check(lab, coordinator):
    run = deploy(lab, coordinator)
    assert run.rc == 0, run
    for wave in range(3):
        assert f"TASK [disnix.deploy.deploy : Health checks of wave {wave}]" in run.out
    assert run.out.count("failed=0") == 4
    assert len(generations(coordinator)) == 1


def test_a_failed_health_check_rolls_back_and_the_report_names_it(lab, coordinator):
    before = {h: profile_services(lab, h) for h in HOSTS}
    run = deploy(lab, coordinator, models={"variant": "unhealthy"})
    assert run.rc != 0, run
    assert "health check 'web answers' of service web failed" in run.out
    assert "failed, rolled back" in run.out
    # web's new build was activated, then undone: the old one runs again, profiles and
    # generation are as before
    pkgs = [e["pkg"] for e in lab.activation_log("test3") if e["service"] == "web" and e["op"] == "activate" and e["ok"]]
    assert len(set(pkgs)) == 2 and pkgs[-1] == before["test3"]["web"]
    assert running_pkg(lab, "test3", "web") == before["test3"]["web"]
    assert {h: profile_services(lab, h) for h in HOSTS} == before
    assert len(generations(coordinator)) == 1


def test_a_selective_deploy_of_one_service_leaves_the_others_untouched(lab, coordinator):
    before = {h: profile_services(lab, h) for h in HOSTS}
    logged = {h: len(lab.activation_log(h)) for h in HOSTS}
    # a new stamp rebuilds every service; only db is deployed
    run = deploy(lab, coordinator, models={"stamp": STAMP + "-db"}, disnix_only="db")
    assert run.rc == 0, run
    assert "only db: every other service stays as deployed" in run.out
    after = {h: profile_services(lab, h) for h in HOSTS}
    assert after["test1"]["db"] != before["test1"]["db"]
    assert running_pkg(lab, "test1", "db") == after["test1"]["db"]
    # api and web: same builds in the profiles, no activation or deactivation at all (they
    # were locked and unlocked, as every service of a transaction's targets is)
    assert after["test2"] == before["test2"] and after["test3"] == before["test3"]
    for host in ("test2", "test3"):
        assert transitions(lab, host, logged[host]) == [], host
    assert len(generations(coordinator)) == 2
    # the same selection again has nothing to do
    again = deploy(lab, coordinator, models={"stamp": STAMP + "-db"}, disnix_only="db")
    assert again.rc == 0 and again.changed == 0, again


def test_a_tag_selects_its_services_with_what_they_depend_on(lab, coordinator):
    before = {h: profile_services(lab, h) for h in HOSTS}
    logged = len(lab.activation_log("test3"))
    # apiStamp changes api only; tag:backend is db and api; db keeps its build
    run = deploy(lab, coordinator, models={"stamp": STAMP + "-db", "apiStamp": "2"}, disnix_only=["tag:backend"])
    assert run.rc == 0, run
    after = {h: profile_services(lab, h) for h in HOSTS}
    assert after["test1"] == before["test1"]
    assert after["test2"]["api"] != before["test2"]["api"]
    assert running_pkg(lab, "test2", "api") == after["test2"]["api"]
    assert after["test3"] == before["test3"] and transitions(lab, "test3", logged) == []


def test_a_selection_that_would_strand_a_dependant_is_refused_before_any_change(lab, coordinator, tmp_path):
    moved = tmp_path / "db-on-test3.nix"
    moved.write_text("{ infrastructure }:\n{\n  db = [ infrastructure.test3 ];\n  api = [ infrastructure.test2 ];\n"
                     "  web = [ infrastructure.test3 ];\n}\n")
    before = {h: profile_services(lab, h) for h in HOSTS}
    gens = generations(coordinator)
    run = deploy(lab, coordinator, distribution=str(moved), models={"stamp": STAMP + "-db", "apiStamp": "2"},
                 disnix_only="db")
    assert run.rc != 0, run
    assert "service api on test2 is not selected but depends on db on test1" in run.out
    assert {h: profile_services(lab, h) for h in HOSTS} == before
    assert generations(coordinator) == gens
    # a name that is no service is refused as clearly
    run = deploy(lab, coordinator, disnix_only="nope")
    assert run.rc != 0 and "'nope' is not a distributed service" in run.out, run
