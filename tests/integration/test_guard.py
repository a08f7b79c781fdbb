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


SECRET = f"s3cret-{STAMP}"
VAULT_PASSWORD = "lab-vault-password"
KEY = "/run/keys/disnix/api/db-password"
STATE = {"stamp": STAMP + "-db", "apiStamp": "2"}


def vault_vars(lab, tmp_path, value: str) -> list[str]:
    """-e @file arguments whose disnix_keys value for api is encrypted with Ansible Vault."""
    password = tmp_path / "vault-password"
    password.write_text(VAULT_PASSWORD + "\n")
    encrypted = lab.run("ansible-vault", "encrypt_string", "--vault-password-file", str(password), value,
                        "--name", "value").stdout
    body = "\n".join("      " + line for line in encrypted.splitlines())
    path = tmp_path / "keys.yml"
    path.write_text("disnix_keys:\n  api:\n    - name: db-password\n" + body + "\n")
    return ["-e", f"@{path}", "--vault-password-file", str(password)]


def key_file(lab, host: str, path: str = KEY) -> tuple[str, str] | None:
    """(mode owner, content) of a key file on a host, None when there is none."""
    proc = lab.ssh(host, f"stat -c '%a %U' {path} && cat {path}", check=False)
    if proc.returncode != 0:
        return None
    meta, content = proc.stdout.split("\n", 1)
    return meta, content


def test_a_secret_from_vault_reaches_its_target_private_and_nowhere_else(lab, coordinator, tmp_path):
    run = deploy(lab, coordinator, "-vvvv", *vault_vars(lab, tmp_path, SECRET), models=STATE)
    assert run.rc == 0, run.out[-3000:]
    assert key_file(lab, "test2") == ("600 root", SECRET)
    assert "keys on test2: create db-password of api" in run.out, run.out[run.out.find("disnix plan"):][:1500]
    # not in the output at -vvvv, not in any target's store, profile, journal or log
    assert SECRET not in run.out
    for host in HOSTS:
        found = lab.ssh(host, f"grep -rlF {SECRET} /nix/store /nix/var/nix/profiles /tmp /var/log /var/lib/disnix "
                              "2>/dev/null || true").stdout
        assert found.strip() == "", (host, found)
    # not in the controller's generations (the manifests and profiles they name)
    for gen in generations(coordinator):
        found = lab.run("sh", "-c", f"grep -rlF {SECRET} $(readlink -f {os.path.join(coordinator, gen)}) || true").stdout
        assert found.strip() == "", found
    # the same secret again: nothing to do
    again = deploy(lab, coordinator, *vault_vars(lab, tmp_path, SECRET), models=STATE)
    assert again.rc == 0 and again.changed == 0, again


def test_a_failed_activation_puts_the_previous_keys_back(lab, coordinator, tmp_path):
    web_key = "/run/keys/disnix/web/token"
    keys = {"api": [{"name": "db-password", "value": SECRET + "-new"}], "web": [{"name": "token", "value": "web-" + SECRET}]}
    run = deploy(lab, coordinator, models=dict(STATE, variant="unhealthy"), disnix_keys=keys)
    assert run.rc != 0 and "failed, rolled back" in run.out, run
    assert "Undo the keys" in run.out
    assert key_file(lab, "test2") == ("600 root", SECRET)
    assert key_file(lab, "test3", web_key) is None
    assert SECRET not in run.out
    assert lab.ssh("test2", "ls -a /run/keys/disnix/api").stdout.split() == [".", "..", "db-password"]


def test_undeploy_removes_the_keys(lab, coordinator, tmp_path):
    run = lab.playbook("undeploy.yml", INVENTORY, *vault_vars(lab, tmp_path, SECRET),
                       extra_vars={"disnix_coordinator_profile_dir": coordinator})
    assert run.rc == 0, run
    assert key_file(lab, "test2") is None
    assert lab.ssh("test2", "ls /var/lib/disnix/keys", check=False).stdout.strip() == ""
