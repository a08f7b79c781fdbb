# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's manifest rebuilt from the targets' profile manifests (disnix-reconstruct)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.disnix.deploy.plugins.module_utils import disnix_xml
from ansible_collections.disnix.deploy.plugins.plugin_utils import manifest as manifest_lib
from ansible_collections.disnix.deploy.plugins.plugin_utils import reconstruct

from ansible_collections.disnix.deploy.tests.unit.plugins.plugin_utils.test_manifest_xml import sample


def infrastructure(manifest):
    return {name: {k: v for k, v in t.items() if k != "profile"} for name, t in manifest["targets"].items()}


def states(manifest):
    """What disnix.deploy.target_state reports on each target of the manifest's deployment."""
    return {name: {"profile_path": t["profile"], "profile_manifest":
                   json.loads(json.dumps(manifest_lib.profile_manifest(manifest, name)))}
            for name, t in manifest["targets"].items()}


def test_the_reconstructed_manifest_is_the_deployed_one():
    deployed = sample()
    hosts = {t: t for t in deployed["targets"]}
    rebuilt = reconstruct.compose(infrastructure(deployed), hosts, states(deployed), "default")
    assert manifest_lib.to_xml(rebuilt) == manifest_lib.to_xml(deployed)
    assert rebuilt == deployed


def test_from_upstream_profile_manifests_the_xml_is_read():
    deployed = sample()
    hosts = {t: t for t in deployed["targets"]}
    got = states(deployed)
    for name, state in got.items():
        text = disnix_xml.profile_manifest_xml(name, state["profile_manifest"]["services"])
        state["profile_manifest"] = disnix_xml.parse_profile_manifest_xml(text, name, "profilemanifest.xml")
    rebuilt = reconstruct.compose(infrastructure(deployed), hosts, got, "default")
    # upstream's profile manifests list no package services: the rest is the same
    assert [m for m in deployed["mappings"] if m["type"] != "package"] == rebuilt["mappings"]


def test_a_target_without_a_profile_records_nothing_there():
    deployed = sample()
    got = states(deployed)
    got["test1"] = {"profile_path": None, "profile_manifest": None}
    rebuilt = reconstruct.compose(infrastructure(deployed), {t: t for t in deployed["targets"]}, got, "default")
    assert rebuilt["targets"]["test1"]["profile"] is None
    assert {m["target"] for m in rebuilt["mappings"]} == {"test2"}
    assert reconstruct.lines(rebuilt) == ["test1: nothing", "test2: db, hello_world_server"]


@pytest.mark.parametrize("state, problem", [
    (None, "did not report its profile"),
    ({"unreachable": True, "msg": "ssh: no route"}, "did not report its profile: ssh: no route"),
    ({"failed": True, "msg": "nix-store not found"}, "nix-store not found"),
    ({"profile_path": "/nix/store/x", "profile_manifest": {"services": [{"service": "s"}]}}, "a service without key"),
])
def test_a_target_that_cannot_be_read_fails_naming_it(state, problem):
    deployed = sample()
    got = states(deployed)
    got["h2"] = got.pop("test2") and state
    with pytest.raises(reconstruct.ReconstructError) as err:
        reconstruct.compose(infrastructure(deployed), {"test1": "test1", "test2": "h2"}, got, "default")
    assert str(err.value).startswith("target test2 (host h2)") and problem in str(err.value)
    assert "nothing was recorded" in str(err.value)
