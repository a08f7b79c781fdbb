# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostile model values on two lab hosts: shell metacharacters, newlines, quotes, $(...),
backticks, Jinja, ../ and absolute target names, a 1 MiB value, NUL; and symbolic links
planted at the lock and journal paths of a target.

Every hostile string tries to create a canary file; none may appear, on the controller or
on a target. Each case is either a clear error before anything changes (no lock, no profile
change, no activation on any target) or deployed as plain data, read back on the target.
The tests run in file order on one lab: the first deploys the data the others compare with.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import time

import pytest

from conftest import REPO, needs_lab, write_inventory

pytestmark = needs_lab

MODELS = os.path.join(REPO, "tests", "integration", "models", "hostile")
HOSTS = ("test1", "test2")
CANARY = "/tmp/disnix-hostile-canary"
PROFILE = "/nix/var/nix/profiles/disnix/default"
STAMP = f"{os.getpid()}-{time.time_ns()}"
SECRET = f"hunter2-{STAMP}"
BIG = ("0123456789abcdef" * 65536)[:1 << 20]  # 1 MiB: beyond Linux's 128 KiB limit for one argument
ODD_SERVICE = ("odd $(touch /tmp/disnix-hostile-canary-name1) `touch /tmp/disnix-hostile-canary-name2`; "
               "{{ lookup('pipe', 'touch /tmp/disnix-hostile-canary-name3') }}")


def hostile(tag: str, jinja: bool = True) -> str:
    """Text that would create canary files if a shell ran it or Jinja rendered it."""
    text = (f"a; touch {CANARY}-{tag}-1 | $(touch {CANARY}-{tag}-2) `touch {CANARY}-{tag}-3` && "
            f"echo \"double\" 'single' \\ back\\slash\nsecond line\ttab ${{HOME}} ../../etc/passwd /etc/shadow")
    if jinja:
        text += (f" {{{{ lookup('pipe', 'touch {CANARY}-{tag}-4') }}}}"
                 f" {{% for x in [1] %}}{{{{ lookup('pipe', 'touch {CANARY}-{tag}-5') }}}}{{% endfor %}} {{# c #}}")
    return text


def nix_str(text: str) -> str:
    """A Nix string literal of ``text``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


ECHO_PROPERTIES = {"shellish": hostile("echo"), "quotes": "it's \"quoted\"", "dbPassword": SECRET,
                   "apiKey": SECRET + "-key", "port": "5432"}


def infrastructure(data_extra: str = "", other: str = "other", other_host: str = "test2") -> str:
    echo = " ".join(f"{k} = {nix_str(v)};" for k, v in ECHO_PROPERTIES.items())
    return f"""{{
  data = {{
    properties.hostname = "test1";
    properties.motd = {nix_str(hostile("motd"))};
    containers.echo = {{ {echo} }};
    containers.package = {{ big = {nix_str(BIG)}; }};
    {data_extra}
  }};
  {nix_str(other)} = {{ properties.hostname = {nix_str(other_host)}; }};
}}
"""


@pytest.fixture(scope="module")
def lab(lab_instance):
    lab_instance.up(*HOSTS)
    return lab_instance


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory):
    return str(tmp_path_factory.mktemp("coordinator"))


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    return write_inventory(str(tmp_path_factory.mktemp("inventory")), infrastructure())


def deploy(lab, coordinator, inventory, *args, services=os.path.join(MODELS, "services.nix"), note=None, **extra):
    extra_vars = {"disnix_services": services, "disnix_distribution": os.path.join(os.path.dirname(services), "distribution.nix"),
                  "disnix_coordinator_profile_dir": coordinator,
                  "disnix_extra_params": {"stamp": STAMP, "note": hostile("note") if note is None else note}, **extra}
    return lab.playbook("deploy.yml", inventory, *args, extra_vars=extra_vars)


def canaries(lab) -> dict[str, list[str]]:
    found = {"controller": sorted(glob.glob(CANARY + "*"))}
    for host in HOSTS:
        found[host] = lab.ssh(host, f"ls -d {CANARY}* 2>/dev/null || true").stdout.split()
    return {k: v for k, v in found.items() if v}


def target_state(lab) -> dict:
    """What must not change on a target when a deploy is refused."""
    state = {}
    for host in HOSTS:
        state[host] = {
            "profile": lab.ssh(host, f"readlink -f {PROFILE} || true").stdout.strip(),
            "tmp": lab.ssh(host, "ls -a /tmp | grep disnix- || true").stdout.split(),
            "log": lab.ssh(host, "cat /var/log/disnix/activations.log 2>/dev/null || true").stdout,
        }
    return state


def profile_manifest(lab, host: str = "test1") -> dict:
    return json.loads(lab.ssh(host, f"cat {PROFILE}/profilemanifest.json").stdout)


def section(out: str, task: str) -> str:
    """The output of one task (from its TASK line to the next)."""
    start = out.index(f"TASK [{task}")
    end = out.find("\nTASK [", start + 1)
    return out[start:end if end > 0 else len(out)]


def test_hostile_values_are_deployed_as_plain_data(lab, coordinator, inventory):
    run = deploy(lab, coordinator, inventory, "-v")
    assert run.rc == 0, run
    assert canaries(lab) == {}

    services = {s["service"]: s for s in profile_manifest(lab)["services"]}
    assert sorted(services) == sorted(["blob", "echoer", ODD_SERVICE])
    assert services["echoer"]["properties"] == ECHO_PROPERTIES          # the secrets reach the target
    assert services["blob"]["properties"] == {"big": BIG}               # 1 MiB, through files, not argv
    assert lab.ssh("test1", f"cat {PROFILE}/share/echoer/note").stdout == hostile("note")

    log = [e for e in lab.activation_log("test1") if e["op"] == "activate"]
    assert {e["service"] for e in log if e["ok"]} == {"echoer", ODD_SERVICE}
    echoed = next(e["msg"] for e in log if e["service"] == "echoer")
    assert f"shellish={hostile('echo')}" in echoed                     # as its environment, verbatim

    # the plan as shown, even with -v, names every service but no secret value; the results of
    # the evaluation and the judging tasks, which carry the real properties, are not printed
    plan = run.out[run.out.index("disnix plan:"):]
    plan = plan[:plan.index("\n\n")]
    assert "activate echoer (echo) on data" in plan and ODD_SERVICE in plan
    controller_side = [section(run.out, "disnix.deploy.deploy : Evaluate the models")] + [
        section(run.out, f"disnix.deploy.deploy : {t}") for t in ("Judge the query", "Judge the locks", "Judge wave 0",
                                                                  "Judge the profiles", "Report")]
    for text in [plan] + controller_side:
        assert SECRET not in text and BIG[:64] not in text
    for text in controller_side:
        assert "=> {" not in text, text


@pytest.mark.parametrize("case, change, expected", [
    ("relative target name", dict(other="../escape"), ["'../escape'", "path separator", "lab.disnix.yml"]),
    ("absolute target name", dict(other="/etc/evil"), ["'/etc/evil'", "path separator"]),
    ("option-like target name", dict(other="-rf"), ["'-rf'", "starts with '-'"]),
    ("option-like address", dict(other_host=f"-oProxyCommand=touch {CANARY}-ssh"), ["properties.hostname", "ssh would read"]),
    ("NUL in an extra param", dict(note="before\0after"), ["'note' contains a NUL", "disnix_extra_params"]),
    ("NUL in the services model", dict(nul_model=True), ["services.nix:", "NUL byte"]),
])
def test_hostile_models_are_refused_before_anything_changes(lab, coordinator, tmp_path, case, change, expected):
    before = target_state(lab)
    kwargs = {}
    if "note" in change:
        kwargs["note"] = change["note"]
    if change.get("nul_model"):
        for name in ("services.nix", "distribution.nix"):
            shutil.copy(os.path.join(MODELS, name), tmp_path / name)
        with open(tmp_path / "services.nix", "ab") as f:
            f.write(b'# "\0"\n')
        kwargs["services"] = str(tmp_path / "services.nix")
    infra = {k: v for k, v in change.items() if k in ("other", "other_host")}
    inventory = write_inventory(str(tmp_path / "inventory"), infrastructure(**infra))
    run = deploy(lab, coordinator, inventory, **kwargs)
    assert run.rc != 0, run
    assert "invalid model" in run.out and "Nothing was changed" in run.out, run
    for fragment in expected:
        assert fragment in run.out, (case, fragment, run)
    assert target_state(lab) == before
    assert canaries(lab) == {}


@pytest.mark.parametrize("planted", ["disnix-default.lock", "disnix-default.journal"])
def test_symlinks_planted_at_the_lock_and_journal_are_not_followed(lab, coordinator, inventory, planted):
    victim = "/tmp/victim-of-" + planted
    lab.ssh("test1", f"printf 'victim content {STAMP}\\n' > {victim} && chmod 644 {victim} && ln -s {victim} /tmp/{planted}")
    before = target_state(lab)
    try:
        # a real change, so the deploy would lock and activate
        run = deploy(lab, coordinator, inventory, note=hostile("note") + " v2")
        assert run.rc != 0, run
        assert f"/tmp/{planted}" in run.out and "symbolic link" in run.out, run
        assert f"victim content {STAMP}" not in run.out
        assert lab.ssh("test1", f"cat {victim}").stdout == f"victim content {STAMP}\n"
        assert lab.ssh("test1", f"stat -c %a {victim}").stdout.strip() == "644"
        assert lab.ssh("test1", f"readlink /tmp/{planted}").stdout.strip() == victim
        assert target_state(lab) == before                                   # no lock, no profile change
    finally:
        lab.ssh("test1", f"rm -f /tmp/{planted} {victim}")
    assert canaries(lab) == {}


def test_the_next_normal_deploy_succeeds(lab, coordinator, inventory):
    run = deploy(lab, coordinator, inventory, note="v3")
    assert run.rc == 0, run
    assert lab.ssh("test1", f"cat {PROFILE}/share/echoer/note").stdout == "v3"
    for host in HOSTS:
        assert lab.ssh(host, "ls /tmp | grep -cE '^disnix-default[.](lock|journal)' || true").stdout.strip() == "0"
        mode = lab.ssh(host, "stat -c %a /var/log/disnix/activations.log 2>/dev/null || true").stdout.strip()
        assert mode in ("", "600"), (host, mode)
    assert canaries(lab) == {}
