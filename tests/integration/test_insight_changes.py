# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pictures and the JSON plan on the hello-world lab (issue 13), every kind of change.

test_insight.py moves the client and adds a server; this module covers the other kinds of
change and reads the controller's side too. One lab (test1 an i686-linux host, test2 a SOAP
target reached over ssh, test3 an x86_64-cygwin host, as in test_hello_world.py), one
deployment of scenario 1 (drawn; the coordinator's generation, read from its manifest.xml,
must agree with the targets' profile manifests), then two changes in turn, each planned in
check mode with ``disnix_plan_json`` and then deployed for real:

- ``add``: a second client on test2 (client@test2 added, the server and client@test1 untouched);
- ``move``: the server moves from test2 to test1 and the client stays on test2 only
  (server moved, client@test1 removed, client@test2 rebuilt: it bakes in the server's host).

What the plan says is compared with what the targets report afterwards: their profile
manifests, their activation logs and the controller's new generation. The pictures are
parsed as SVG and must name every target and service of what they draw.

``DISNIX_WRITE_PICTURES=<dir>`` copies the pictures of the ``move`` plan to
``<dir>/hello-world-plan-server.{svg,png}`` (docs/pictures, shown in docs/visualize.md).
"""

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
SCHEMA = os.path.join(REPO, "docs", "plan.schema.json")
HOSTS = ("test1", "test2", "test3")
PROFILE = "/nix/var/nix/profiles/disnix/default"
CLIENT = PROFILE + "/bin/hello-world-client"
SVG = "{http://www.w3.org/2000/svg}"
# a port of this run's own, so this run's builds are new
PORT = 20000 + (os.getpid() + 7919) % 20000

CHANGES = {
    "add": "{ infrastructure }:\n\n{\n  hello_world_server = [ infrastructure.test2 ];\n"
           "  hello_world_client = [ infrastructure.test1 infrastructure.test2 ];\n}\n",
    "move": "{ infrastructure }:\n\n{\n  hello_world_server = [ infrastructure.test1 ];\n"
            "  hello_world_client = [ infrastructure.test2 ];\n}\n",
}


@pytest.fixture(scope="module")
def lab(lab_instance):
    lab_instance.up(*HOSTS, systems={"test1": "i686-linux", "test3": "x86_64-cygwin"})
    return lab_instance


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory):
    return str(tmp_path_factory.mktemp("coordinator"))


def deploy(lab, coordinator, distribution: str, *args: str, **extra):
    return lab.playbook("deploy.yml", INVENTORY, *args, extra_vars={
        "disnix_services": os.path.join(EXAMPLE, "services.nix"),
        "disnix_distribution": distribution,
        "disnix_coordinator_profile_dir": coordinator,
        "disnix_extra_params": {"serverPort": PORT}, **extra})


def visualize(lab, coordinator, picture_dir: str, **extra):
    return lab.playbook("visualize.yml", INVENTORY, extra_vars={
        "disnix_picture_dir": picture_dir, "disnix_coordinator_profile_dir": coordinator, **extra})


def ask(lab, host: str) -> str:
    proc = lab.ssh(host, f"printf 'hello\\nquit\\n' | {CLIENT}", check=False)
    return proc.stdout or proc.stderr


def generations(coordinator: str) -> list[str]:
    return sorted(e for e in os.listdir(coordinator) if e.startswith("default-") and e.endswith("-link"))


def current_generation(coordinator: str) -> dict:
    """The controller's current generation (Disnix's manifest.xml), read here with ElementTree:
    its targets and its mappings as (service name, target) -> pkg."""
    root = ET.parse(os.path.join(coordinator, "default")).getroot()
    services = {s.get("name"): (s.findtext("name"), s.findtext("pkg")) for s in root.find("services").findall("service")}
    mappings = {}
    for group in ("serviceMappings", "packageMappings"):
        for m in root.find(group).iter("mapping"):
            name, pkg = services[m.findtext("service")]
            mappings[(name, m.findtext("target"))] = pkg
    return {"targets": sorted(t.get("name") for t in root.find("infrastructure").iter("target")),
            "mappings": mappings}


def profile_manifest(lab, host: str) -> dict | None:
    proc = lab.ssh(host, f"cat {PROFILE}/profilemanifest.json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else None


def state(lab, coordinator: str) -> dict:
    """What the targets and the controller report: each host's profile (its store path and
    manifest) and activation log, the coordinator's generations."""
    return {
        "profiles": {h: lab.ssh(h, f"readlink -f {PROFILE} || true").stdout.strip() for h in HOSTS},
        "manifests": {h: profile_manifest(lab, h) for h in HOSTS},
        "logs": {h: lab.activation_log(h) for h in HOSTS},
        "generations": generations(coordinator),
        "current": current_generation(coordinator) if os.path.exists(os.path.join(coordinator, "default")) else None,
    }


def on_targets(st: dict) -> dict[tuple[str, str], str]:
    """(service, target) -> pkg, from the hosts' own profile manifests."""
    return {(s["service"], m["target"]): s["pkg"]
            for m in st["manifests"].values() if m for s in m["services"]}


def svg_texts(path: str) -> list[str]:
    root = ET.parse(path).getroot()                  # valid XML, or this raises
    assert root.tag == SVG + "svg", root.tag
    return [t for el in root.iter(SVG + "text") for t in ["".join(el.itertext())] if t.strip()]


def assert_names(path: str, names: set[str]) -> None:
    texts = svg_texts(path)
    missing = sorted(n for n in names if not any(n in t for t in texts))
    assert not missing, f"{path} lacks {missing}; its texts: {texts}"


def copy_picture(src_dir: str, src: str, name: str) -> None:
    dest = os.environ.get("DISNIX_WRITE_PICTURES")
    if dest:
        os.makedirs(dest, exist_ok=True)
        for ext in ("svg", "png"):
            shutil.copyfile(os.path.join(src_dir, f"{src}.{ext}"), os.path.join(dest, f"{name}.{ext}"))


@pytest.fixture(scope="module")
def scenario1(lab, coordinator):
    run = deploy(lab, coordinator, os.path.join(EXAMPLE, "distribution-scenario1.nix"))
    assert run.rc == 0, run
    assert ask(lab, "test1") == "Hello world!\n"
    return state(lab, coordinator)


@pytest.fixture(scope="module")
def deployment_pictures(lab, coordinator, scenario1, tmp_path_factory):
    pictures = str(tmp_path_factory.mktemp("pictures"))
    first = visualize(lab, coordinator, pictures)
    mtime = os.stat(os.path.join(pictures, "deployment.svg")).st_mtime_ns
    second = visualize(lab, coordinator, pictures)
    return pictures, first, second, mtime


def change(lab, coordinator, tmp_path_factory, name: str) -> dict:
    """Plan a change in check mode, draw the plan, deploy it; what each step left."""
    work = tmp_path_factory.mktemp(name)
    distribution = str(work / f"distribution-{name}.nix")
    with open(distribution, "w", encoding="utf-8") as f:
        f.write(CHANGES[name])
    plan_file = str(work / "plan.json")
    before = state(lab, coordinator)
    check = deploy(lab, coordinator, distribution, "--check", disnix_plan_json=plan_file)
    after_check = state(lab, coordinator)
    with open(plan_file, encoding="utf-8") as f:
        plan = json.load(f)
    pictures = str(work / "pictures")
    drawn = visualize(lab, coordinator, pictures, disnix_plan_json=plan_file, disnix_draw_deployment=False)
    real = deploy(lab, coordinator, distribution)
    after = state(lab, coordinator)
    answers = {t: ask(lab, t) for s, t in on_targets(after) if s == "hello_world_client"}
    return {"name": name, "check": check, "plan": plan, "before": before, "after_check": after_check,
            "pictures": pictures, "drawn": drawn, "real": real, "after": after, "answers": answers}


@pytest.fixture(scope="module")
def add(lab, coordinator, scenario1, tmp_path_factory):
    return change(lab, coordinator, tmp_path_factory, "add")


@pytest.fixture(scope="module")
def move(lab, coordinator, add, tmp_path_factory):
    return change(lab, coordinator, tmp_path_factory, "move")


@pytest.fixture(scope="module", params=["add", "move"])
def changed(request):
    return request.getfixturevalue(request.param)


# -- 1. the deployment as a picture ---------------------------------------------------------


def test_visualize_draws_every_deployed_target_and_service(scenario1, deployment_pictures):
    pictures, first = deployment_pictures[:2]
    assert first.rc == 0, first
    assert first.changed > 0, first
    assert sorted(os.listdir(pictures)) == ["deployment.png", "deployment.svg"]
    with open(os.path.join(pictures, "deployment.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # what was deployed, from two sources that must agree: the coordinator's generation and
    # the targets' own profile manifests
    generation = scenario1["current"]
    deployed = generation["mappings"]
    assert deployed == on_targets(scenario1)
    assert deployed.keys() == {("hello_world_server", "test2"), ("hello_world_client", "test1")}
    names = set(generation["targets"]) | {name for mapping in deployed for name in mapping}
    assert set(generation["targets"]) >= set(HOSTS)
    assert_names(os.path.join(pictures, "deployment.svg"), names)
    # test3 runs nothing but is a target of the infrastructure: drawn empty
    assert "(no services)" in svg_texts(os.path.join(pictures, "deployment.svg"))


def test_a_second_visualize_changes_nothing(deployment_pictures):
    pictures, second, mtime = deployment_pictures[0], deployment_pictures[2], deployment_pictures[3]
    assert second.rc == 0, second
    assert second.changed == 0, second
    assert os.stat(os.path.join(pictures, "deployment.svg")).st_mtime_ns == mtime


# -- 2. check mode: the plan as JSON, validated, drawn; nothing changes -----------------------


def test_check_mode_writes_a_plan_that_follows_the_schema(changed):
    assert changed["check"].rc == 0, changed["check"]
    plan = changed["plan"]
    try:
        import jsonschema  # pylint: disable=import-outside-toplevel
    except ImportError:
        with open(SCHEMA, encoding="utf-8") as f:
            required = json.load(f)["required"]
        assert sorted(required) == sorted(set(required) & set(plan)), plan
    else:
        with open(SCHEMA, encoding="utf-8") as f:
            jsonschema.Draft202012Validator(json.load(f)).validate(plan)
    assert plan["version"] == 1 and plan["changed"] is True and plan["outcome"] == "check mode"
    # the plan starts from what the targets ran
    assert {(m["service"], m["target"]): m["pkg"] for m in plan["before"]} == on_targets(changed["before"])
    expected = {
        "add": {"added": {("hello_world_client", "test2")},
                "untouched": {("hello_world_server", "test2"), ("hello_world_client", "test1")},
                "removed": set(), "moved": set(), "rebuilt": set()},
        "move": {"moved": {("hello_world_server", "test1")}, "removed": {("hello_world_client", "test1")},
                 "rebuilt": {("hello_world_client", "test2")}, "added": set(), "untouched": set()},
    }[changed["name"]]
    assert {k: {(e["service"], e["target"]) for e in v} for k, v in plan["changes"].items()} == expected
    assert [e["from"] for e in plan["changes"]["moved"]] == {"add": [], "move": ["test2"]}[
        changed["name"]]


def test_check_mode_changes_nothing(changed):
    assert changed["after_check"] == changed["before"]


def test_the_plan_picture_names_every_target_and_service(changed):
    drawn, pictures, plan = changed["drawn"], changed["pictures"], changed["plan"]
    assert drawn.rc == 0, drawn
    assert sorted(os.listdir(pictures)) == ["plan.png", "plan.svg"]
    names = set(plan["targets"]) | {m[k] for m in plan["before"] + plan["after"] for k in ("service", "target")}
    assert_names(os.path.join(pictures, "plan.svg"), names)
    # the key names the kinds of change the plan has
    key = {"add": {"added", "untouched"}, "move": {"moved here", "moved away", "rebuilt", "removed"}}[changed["name"]]
    assert key <= set(svg_texts(os.path.join(pictures, "plan.svg")))
    if changed["name"] == "move":
        copy_picture(pictures, "plan", "hello-world-plan-server")


# -- 3. the real run does what the plan said ------------------------------------------------


def new_log_entries(plan: dict, before: dict, after: dict) -> list[tuple[str, str, str, str]]:
    """(op, service, target, pkg) of each successful (de)activation the real run logged."""
    target_of = {t["host"]: name for name, t in plan["targets"].items() if t["host"]}
    entries = []
    for host in HOSTS:
        old = before["logs"][host]
        assert after["logs"][host][:len(old)] == old
        entries += [(e["op"], e["service"], target_of.get(host, host), e["pkg"])
                    for e in after["logs"][host][len(old):] if e["ok"] and e["op"] in ("activate", "deactivate")]
    return entries


def compare(plan: dict, before: dict, after: dict) -> None:
    """Raises AssertionError where a real run (what the targets and the controller reported
    before and after it) differs from a plan."""
    was, now = on_targets(before), on_targets(after)
    # the targets now run what the plan's "after" says, and the controller's generation agrees
    assert now == {(m["service"], m["target"]): m["pkg"] for m in plan["after"]}
    assert after["current"]["mappings"] == now
    assert len(after["generations"]) == len(before["generations"]) + 1
    changes = plan["changes"]
    for e in changes["added"]:
        assert now.get((e["service"], e["target"])) == e["pkg"], e
        assert (e["service"], e["target"]) not in was, e
    for e in changes["removed"]:
        assert (e["service"], e["target"]) in was, e
        assert (e["service"], e["target"]) not in now, e
    for e in changes["moved"]:
        assert (e["service"], e["from"]) in was and (e["service"], e["from"]) not in now, e
        assert now.get((e["service"], e["target"])) == e["pkg"], e
    for e in changes["rebuilt"]:
        assert was[(e["service"], e["target"])] != e["pkg"] == now[(e["service"], e["target"])], e
    for e in changes["untouched"]:
        assert was[(e["service"], e["target"])] == e["pkg"] == now[(e["service"], e["target"])], e
    # the activations the targets logged are the plan's waves, and only those
    logged = new_log_entries(plan, before, after)
    planned = [(w["op"], s["service"], s["target"], s["pkg"]) for w in plan["waves"] for s in w["steps"]
               if w["op"] in ("activate", "deactivate")]
    assert sorted(logged) == sorted(planned)
    # untouched services were not re-activated; what the plan moves or adds was activated
    touched = {(entry[1], entry[2]) for entry in logged}
    assert not touched & {(e["service"], e["target"]) for e in changes["untouched"]}
    processes = [e for e in changes["added"] + changes["moved"] if e["type"] == "process"]
    for e in processes:
        assert ("activate", e["service"], e["target"], e["pkg"]) in logged, e
    for e in changes["moved"]:
        if e["type"] == "process":
            assert ("deactivate", e["service"], e["from"]) in {x[:3] for x in logged}, e


def test_the_real_run_does_what_the_plan_said(changed):
    assert changed["real"].rc == 0, changed["real"]
    compare(changed["plan"], changed["before"], changed["after"])


def test_a_plan_does_not_match_another_run(add, move):
    # the comparison reads real data: each plan checked against the other change's run fails
    for plan, run in ((add["plan"], move), (move["plan"], add)):
        with pytest.raises(AssertionError):
            compare(plan, run["before"], run["after"])


def test_the_clients_answer_after_each_change(changed):
    assert changed["answers"] and set(changed["answers"].values()) == {"Hello world!\n"}, changed["answers"]
