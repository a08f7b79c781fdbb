# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disnix's version-2 manifest.xml and profilemanifest.xml, written and read."""

from __future__ import annotations

import os

import pytest

from ansible_collections.disnix.deploy.plugins.module_utils import disnix_xml, profiles
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError
from ansible_collections.disnix.deploy.plugins.plugin_utils import controller_store as store
from ansible_collections.disnix.deploy.plugins.plugin_utils import manifest as manifest_lib

K1, K2, K3 = "1" * 64, "2" * 64, "3" * 64
SERVER = "/nix/store/" + "a" * 32 + "-hello-world-server"
CLIENT = "/nix/store/" + "b" * 32 + "-hello-world-client"
DB = "/nix/store/" + "c" * 32 + "-db"


def mapping(key, service, target, container, type_, pkg, deps=(), connects=(), state=False, props=None):
    return {"id": f"{key}:{target}:{container}", "key": key, "service": service, "target": target, "container": container,
            "type": type_, "pkg": pkg, "drv": "", "properties": props or {},
            "dependsOn": sorted(f"{d['service']}:{d['target']}:{d['container']}" for d in deps),
            "dependsOnRefs": list(deps), "connectsToRefs": list(connects), "deployState": state}


def target(hostname, profile):
    return {"system": "x86_64-linux", "numOfCores": 2, "clientInterface": "disnix-ssh-client", "targetProperty": "hostname",
            "properties": {"hostname": hostname, "mem": 1024, "tags": ["a", "b"], "ssd": True},
            "containers": {"process": {"runtimeDir": "/run"}, "empty": {}}, "profile": profile}


def sample() -> dict:
    server = {"service": K1, "target": "test2", "container": "process"}
    return {"version": 1, "profile": "default", "targets": {
        "test1": target("test1", "/nix/store/" + "d" * 32 + "-test1"),
        "test2": target("test2", "/nix/store/" + "e" * 32 + "-test2")},
        "mappings": sorted([
            mapping(K1, "hello_world_server", "test2", "process", "process", SERVER, props={"runtimeDir": "/run"}),
            mapping(K2, "hello_world_client", "test1", "package", "package", CLIENT, deps=[server]),
            mapping(K3, "db", "test2", "process", "process", DB, connects=[server], state=True, props={"runtimeDir": "/run"}),
        ], key=lambda x: (x["target"], x["service"], x["container"]))}


def test_coordinator_manifest_round_trip():
    m = sample()
    text = manifest_lib.to_xml(m)
    assert text.startswith('<?xml version="1.0"?>\n<manifest version="2">')
    assert f'<profile name="test1">/nix/store/{"d" * 32}-test1</profile>' in text
    assert '<property name="mem" type="int">1024</property>' in text
    assert '<container name="process" type="attrs">' in text
    assert manifest_lib.from_xml(text, "m.xml") == m


def test_upstream_manifest_without_our_additions_is_read(tmp_path):
    """As upstream writes it: no packageMappings (package services are only in profiles)."""
    text = manifest_lib.to_xml(sample())
    start, end = text.index("<packageMappings>"), text.index("</packageMappings>") + len("</packageMappings>")
    upstream = text[:start] + text[end:]
    upstream = upstream.replace(text[text.index("<disnixDeploy"):text.index("/>", text.index("<disnixDeploy")) + 2], "")
    path = tmp_path / "manifest.xml"
    path.write_text(upstream)
    m = store.load_manifest(str(path))
    assert sorted(x["service"] for x in m["mappings"]) == ["db", "hello_world_server"]
    db = next(x for x in m["mappings"] if x["service"] == "db")
    assert db["deployState"] and db["properties"] == {"runtimeDir": "/run"}
    assert m["targets"]["test2"]["properties"]["tags"] == ["a", "b"]


@pytest.mark.parametrize("text,problem", [
    ("", "not XML"),
    ("<manifest><profiles/></manifest>", "not a version-2 Disnix manifest"),
    ('<manifest version="2"><serviceMappings><mapping><service>x</service><target>t</target>'
     '<container>c</container></mapping></serviceMappings></manifest>', "names a service or target it does not define"),
    ("{ not json", "not JSON"),
])
def test_unreadable_coordinator_manifest_names_the_file(tmp_path, text, problem):
    path = tmp_path / "manifest.xml"
    path.write_text(text)
    with pytest.raises(store.DeployError) as err:
        store.load_manifest(str(path))
    assert str(path) in str(err.value) and problem in str(err.value)


def test_profile_manifest_xml_as_upstream_lays_it_out(tmp_path):
    m = sample()
    ours = manifest_lib.profile_manifest(m, "test2")
    text = disnix_xml.profile_manifest_xml("test2", ours["services"])
    assert text.count("<service name=") == 2  # no package services
    assert "<target>" not in text  # mappings on this target name none
    assert "<component>db</component>" in text
    # a profile upstream made (only the XML): read with the target from the store path name
    profile = tmp_path / ("f" * 32 + "-test2")
    profile.mkdir()
    (profile / "profilemanifest.xml").write_text(text)
    read = profiles.read_manifest(str(profile))
    assert read is not None
    by_service = {s["service"]: s for s in read["services"]}
    assert by_service["hello_world_server"]["key"] == K1
    assert by_service["db"]["connectsToRefs"] == [{"service": K1, "target": "test2", "container": "process"}]
    assert by_service["db"]["deployState"] and by_service["db"]["properties"] == {}
    # ours has both: the JSON (with properties and package services) wins
    (profile / "profilemanifest.json").write_text('{"services": [{"service": "x"}]}')
    assert profiles.read_manifest(str(profile)) == {"services": [{"service": "x"}]}


def test_unreadable_profile_manifest_xml_names_the_file(tmp_path):
    (tmp_path / "profilemanifest.xml").write_text("<profilemanifest version='1'/>")
    with pytest.raises(TargetError) as err:
        profiles.read_manifest(str(tmp_path))
    assert os.path.join(str(tmp_path), "profilemanifest.xml") in str(err.value)


def test_profile_store_names_are_target_names():
    assert store.profile_store_name("test1") == "test1"
    assert store.profile_store_name("web 1@x") == "web_1_x"
