# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pictures and the JSON plan (issue 13) on the hello-world lab of test_hello_world.py:
test1 an i686-linux host, test2 a SOAP target reached over ssh, test3 an x86_64-cygwin host.

In file order: scenario 1 is deployed and drawn (every target and service the targets' own
profile manifests name is in the SVG; a second drawing changes nothing); a check-mode run of
a change (the client moves from test1 to test2) writes a plan that fits the schema and
changes nothing; the plan is drawn; the change is deployed for real and what the targets run
and activated afterwards is compared with the plan; then the same for a change with an
activation (a second server on test1), where the first plan must not match.

With DISNIX_WRITE_PICTURES=<dir> the pictures made here are copied into <dir>
(docs/pictures/ holds the ones the documentation shows)."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET

import pytest

from conftest import REPO, needs_lab

pytestmark = needs_lab

EXAMPLE = os.path.join(REPO, "examples", "hello-world")
INVENTORY = os.path.join(EXAMPLE, "lab.disnix.yml")
HOSTS = ("test1", "test2", "test3")
PROFILE = "/nix/var/nix/profiles/disnix/default"
SCHEMA = os.path.join(REPO, "docs", "plan.schema.json")
SVG = "{http://www.w3.org/2000/svg}"
# a port of this run's own: new builds, as in test_hello_world.py
PORT = 20000 + os.getpid() % 20000
# the change: the client leaves test1 for test2, the server stays on test2
MOVE_CLIENT = """{ infrastructure }:

{
  hello_world_server = [ infrastructure.test2 ];
  hello_world_client = [ infrastructure.test2 ];
}
"""
# then a second server on test1 (the client keeps talking to the first target, test2)
SECOND_SERVER = """{ infrastructure }:

{
  hello_world_server = [ infrastructure.test2 infrastructure.test1 ];
  hello_world_client = [ infrastructure.test2 ];
}
"""
PLAN_KEYS = ("version", "run_id", "profile", "generation", "changed", "outcome", "changes", "waves", "targets",
             "before", "after", "notes")
CHANGE_KINDS = ("added", "removed", "moved", "rebuilt", "untouched")


@pytest.fixture(scope="module")
def lab(lab_instance):
    lab_instance.up(*HOSTS, systems={"test1": "i686-linux", "test3": "x86_64-cygwin"})
    return lab_instance


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory):
    return str(tmp_path_factory.mktemp("coordinator"))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Shared between the tests of this module: pictures, the plan, the distribution."""
    path = tmp_path_factory.mktemp("insight")
    (path / "pictures").mkdir()
    (path / "distribution-move-client.nix").write_text(MOVE_CLIENT)
    return path


@pytest.fixture(scope="module")
def state():
    return {}


def deploy(lab, coordinator, distribution: str, *args: str, **extra):
    return lab.playbook("deploy.yml", INVENTORY, *args, extra_vars={
        "disnix_services": os.path.join(EXAMPLE, "services.nix"),
        "disnix_distribution": distribution,
        "disnix_coordinator_profile_dir": coordinator,
        "disnix_extra_params": {"serverPort": PORT}, **extra})


def visualize(lab, coordinator, pictures, **extra):
    return lab.playbook("visualize.yml", INVENTORY, extra_vars={
        "disnix_picture_dir": str(pictures), "disnix_coordinator_profile_dir": coordinator, **extra})


def profile_manifests(lab) -> dict[str, dict | None]:
    """Each target's own profile manifest (None where it has no profile)."""
    out = {}
    for host in HOSTS:
        text = lab.ssh(host, f"cat {PROFILE}/profilemanifest.json 2>/dev/null || true").stdout
        out[host] = json.loads(text) if text.strip() else None
    return out


def deployed(manifests: dict[str, dict | None]) -> set[tuple[str, str]]:
    """(service, target) of every service the targets say they run."""
    return {(s["service"], host) for host, m in manifests.items() if m for s in m["services"]}


def svg_texts(path) -> set[str]:
    """The text of every <text> element of an SVG file (it must parse as SVG)."""
    root = ET.parse(path).getroot()
    assert root.tag == SVG + "svg", root.tag
    return {"".join(t.itertext()).strip() for t in root.iter(SVG + "text")}


def plain_picture(path) -> None:
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", f"{path} is no PNG"


def keep(path, name: str) -> None:
    directory = os.environ.get("DISNIX_WRITE_PICTURES")
    if directory:
        os.makedirs(directory, exist_ok=True)
        shutil.copyfile(path, os.path.join(directory, name))


def activations(lab, host: str, since: int) -> list[dict]:
    return [e for e in lab.activation_log(host)[since:] if e["op"] in ("activate", "deactivate")]


def test_deployment_picture_names_every_target_and_service(lab, coordinator, work, state):
    run = deploy(lab, coordinator, os.path.join(EXAMPLE, "distribution-scenario1.nix"))
    assert run.rc == 0, run
    manifests = profile_manifests(lab)
    running = deployed(manifests)
    # what scenario 1 deploys, seen by the targets themselves
    assert {t for _s, t in running} == {"test1", "test2"}, manifests
    state["manifests"] = manifests

    pictures = work / "pictures"
    run = visualize(lab, coordinator, pictures)
    assert run.rc == 0, run
    assert run.changed > 0, run
    plain_picture(pictures / "deployment.png")
    texts = svg_texts(pictures / "deployment.svg")
    for service, target in sorted(running):
        assert service in texts, (service, sorted(texts))
        assert target in texts, (target, sorted(texts))
    # test3 runs nothing but is a target of the infrastructure: drawn empty
    assert "test3" in texts and "(no services)" in texts, sorted(texts)
    keep(pictures / "deployment.svg", "hello-world-deployment.svg")
    keep(pictures / "deployment.png", "hello-world-deployment.png")

    mtime = os.stat(pictures / "deployment.svg").st_mtime_ns
    again = visualize(lab, coordinator, pictures)
    assert again.rc == 0, again
    assert list(again.recap) == ["localhost"] and again.recap["localhost"]["changed"] == 0, again
    assert os.stat(pictures / "deployment.svg").st_mtime_ns == mtime


def test_check_mode_writes_a_valid_plan_and_changes_nothing(lab, coordinator, work, state):
    plan_path = work / "plan.json"
    generations = sorted(os.listdir(coordinator))
    logs = {host: len(lab.activation_log(host)) for host in HOSTS}
    run = deploy(lab, coordinator, str(work / "distribution-move-client.nix"), "--check",
                 disnix_plan_json=str(plan_path))
    assert run.rc == 0, run
    plan = json.loads(plan_path.read_text())
    with open(SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    try:
        import jsonschema  # pylint: disable=import-outside-toplevel
    except ImportError:
        for key in PLAN_KEYS:
            assert key in plan, key
        for kind in CHANGE_KINDS:
            assert isinstance(plan["changes"][kind], list), kind
    else:
        jsonschema.validate(plan, schema, cls=jsonschema.Draft202012Validator)

    assert plan["changed"] is True and plan["outcome"] == "check mode", plan
    # the plan starts from what the targets run
    assert {(m["service"], m["target"]) for m in plan["before"]} == deployed(state["manifests"])
    moved = [(m["service"], m["from"], m["target"]) for m in plan["changes"]["moved"]]
    assert moved == [("hello_world_client", "test1", "test2")], plan["changes"]
    assert {(m["service"], m["target"]) for m in plan["after"]} == {
        ("hello_world_server", "test2"), ("hello_world_client", "test2")}

    # check mode: no new generation, no profile switched, nothing (de)activated
    assert sorted(os.listdir(coordinator)) == generations
    assert profile_manifests(lab) == state["manifests"]
    for host in HOSTS:
        assert activations(lab, host, logs[host]) == [], host
    state["plan"] = plan


def test_plan_picture_names_every_target_and_service_of_the_plan(lab, coordinator, work, state):
    plan = state["plan"]
    pictures = work / "pictures"
    run = visualize(lab, coordinator, pictures, disnix_plan_json=str(work / "plan.json"), disnix_draw_deployment=False)
    assert run.rc == 0, run
    plain_picture(pictures / "plan.png")
    texts = svg_texts(pictures / "plan.svg")
    mentioned = {(m["service"], m["target"]) for kind in CHANGE_KINDS for m in plan["changes"][kind]}
    mentioned |= {(m["service"], m["from"]) for m in plan["changes"]["moved"]}
    mentioned |= {(m["service"], m["target"]) for m in plan["before"] + plan["after"]}
    for service, target in sorted(mentioned):
        assert service in texts, (service, sorted(texts))
        assert target in texts, (target, sorted(texts))
    for target in plan["targets"]:
        assert target in texts, (target, sorted(texts))
    # the key names the kinds of change this plan has
    assert {"moved here", "moved away", "untouched"} <= texts, sorted(texts)
    keep(pictures / "plan.svg", "hello-world-plan.svg")
    keep(pictures / "plan.png", "hello-world-plan.png")


def compare(plan: dict, manifests: dict[str, dict | None], done: list[tuple[str, str, str]]) -> None:
    """The plan against what the targets run (their profile manifests) and what they
    (de)activated (their activation logs, ``(op, service, host)``) after the real run."""
    running = deployed(manifests)
    changes = plan["changes"]
    for m in changes["added"] + changes["moved"] + changes["rebuilt"] + changes["untouched"]:
        assert (m["service"], m["target"]) in running, (m, manifests)
    for m in changes["removed"]:
        assert (m["service"], m["target"]) not in running, (m, manifests)
    for m in changes["moved"]:
        assert (m["service"], m["from"]) not in running, (m, manifests)
    # nothing runs that the plan does not have after the change, and each build is the planned one
    assert running == {(m["service"], m["target"]) for m in plan["after"]}, (plan["after"], manifests)
    pkgs = {(s["service"], host): s["pkg"] for host, m in manifests.items() if m for s in m["services"]}
    for m in plan["after"]:
        assert pkgs[(m["service"], m["target"])] == m["pkg"], m
    # what was (de)activated is what the plan's waves said, and nothing it leaves untouched
    planned = sorted((w["op"], s["service"], s["target"]) for w in plan["waves"] for s in w["steps"])
    assert sorted(done) == planned, (done, planned)
    for m in changes["untouched"]:
        assert not [d for d in done if d[1:] == (m["service"], m["target"])], (m, done)


def real_run(lab, coordinator, distribution: str) -> tuple[dict, list]:
    logs = {host: len(lab.activation_log(host)) for host in HOSTS}
    run = deploy(lab, coordinator, distribution)
    assert run.rc == 0, run
    entries = {host: activations(lab, host, logs[host]) for host in HOSTS}
    assert all(e["ok"] for host in HOSTS for e in entries[host]), entries
    return profile_manifests(lab), [(e["op"], e["service"], host) for host in HOSTS for e in entries[host]]


def test_the_real_run_does_what_the_plan_said(lab, coordinator, work, state):
    manifests, done = real_run(lab, coordinator, str(work / "distribution-move-client.nix"))
    compare(state["plan"], manifests, done)
    state["manifests"] = manifests


def test_a_plan_with_activations_matches_its_real_run(lab, coordinator, work, state):
    # a second server on test1: an activation there, the server on test2 left as it is
    distribution = work / "distribution-second-server.nix"
    distribution.write_text(SECOND_SERVER)
    plan_path = work / "plan-second-server.json"
    run = deploy(lab, coordinator, str(distribution), "--check", disnix_plan_json=str(plan_path))
    assert run.rc == 0, run
    plan = json.loads(plan_path.read_text())
    assert [(m["service"], m["target"]) for m in plan["changes"]["added"]] == [("hello_world_server", "test1")], plan
    assert ("hello_world_server", "test2") in {(m["service"], m["target"]) for m in plan["changes"]["untouched"]}, plan
    assert [("activate", "hello_world_server", "test1")] == [
        (w["op"], s["service"], s["target"]) for w in plan["waves"] for s in w["steps"]], plan["waves"]
    assert profile_manifests(lab) == state["manifests"]

    manifests, done = real_run(lab, coordinator, str(distribution))
    compare(plan, manifests, done)
    # the comparison can fail: the first plan does not describe this run
    with pytest.raises(AssertionError):
        compare(state["plan"], manifests, done)
