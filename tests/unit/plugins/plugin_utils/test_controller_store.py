# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Target profiles built with the controller's real Nix."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.disnix.deploy.plugins.plugin_utils import controller_store as store

pytestmark = pytest.mark.skipif(shutil.which("nix-store") is None, reason="needs Nix")


def package(tmp_path, name: str) -> str:
    """A store path with bin/wrapper, as every Dysnomia wrapper service has."""
    root = tmp_path / name
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "wrapper").write_text(f"#!/bin/sh\necho {name} {tmp_path.name}\n")
    return subprocess.run(["nix-store", "--add", str(root)], capture_output=True, text=True, check=True).stdout.strip()


def mapping(service: str, pkg: str) -> dict:
    return {"key": service + "-k", "service": service, "target": "t1", "container": "wrapper", "type": "wrapper",
            "pkg": pkg, "properties": {}, "dependsOn": []}


def test_two_services_shipping_the_same_file_make_one_profile(tmp_path):
    first, second = package(tmp_path, "s1"), package(tmp_path, "s3")
    manifest = {"version": 1, "profile": "default", "targets": {"t1": {"profile": None}},
                "mappings": [mapping("s1", first), mapping("s3", second)]}
    profiles = store.build_profiles(manifest)
    profile = profiles["t1"]
    assert manifest["targets"]["t1"]["profile"] == profile
    # no collision: one of them provides bin/wrapper, both stay in the profile's closure
    assert os.path.realpath(os.path.join(profile, "bin", "wrapper")).startswith((first, second))
    closure = store.closure(profile)
    assert first in closure and second in closure
    assert os.path.exists(os.path.join(profile, "profilemanifest.json"))


def test_closures_of_several_profiles_from_one_query_match_nix_store_and_put_references_first(tmp_path):
    shared, own = package(tmp_path, "shared"), package(tmp_path, "own")
    manifest = {"version": 1, "profile": "default", "targets": {"t1": {"profile": None}, "t2": {"profile": None}},
                "mappings": [mapping("s1", shared), dict(mapping("s1", shared), target="t2"),
                             dict(mapping("s2", own), target="t2")]}
    profiles = store.build_profiles(manifest)
    closures = store.closures(list(profiles.values()))
    assert set(closures) == set(profiles.values())
    for profile, closure in closures.items():
        requisites = subprocess.run(["nix-store", "--query", "--requisites", profile], capture_output=True, text=True,
                                    check=True).stdout.split()
        assert sorted(closure) == sorted(requisites) and len(closure) == len(set(closure))
        assert closure[-1] == profile
        for i, path in enumerate(closure):
            references = subprocess.run(["nix-store", "--query", "--references", path], capture_output=True, text=True,
                                        check=True).stdout.split()
            assert set(references) - {path} <= set(closure[:i]), f"{path} comes before what it references"
    assert own not in closures[profiles["t1"]] and own in closures[profiles["t2"]]


def test_closures_of_a_path_not_in_the_store_is_an_error():
    missing = "/nix/store/" + "0" * 32 + "-missing"
    with pytest.raises(store.DeployError, match="querying closures"):
        store.closures([missing])


@pytest.mark.parametrize("shape", ["list", "object"])
def test_reference_graph_reads_both_json_shapes_of_nix_path_info(shape):
    entries = {"/nix/store/a": ["/nix/store/a", "/nix/store/b"], "/nix/store/b": []}
    info = ([{"path": p, "references": r} for p, r in entries.items()] if shape == "list"
            else {p: {"references": r} for p, r in entries.items()})
    assert store.reference_graph(info) == {"/nix/store/a": ["/nix/store/b"], "/nix/store/b": []}
    with pytest.raises(store.DeployError, match="/nix/store/c is not in"):
        store.reference_graph({"/nix/store/c": None} if shape == "object" else [{"path": "/nix/store/c", "valid": False}])


def test_dependency_order_of_a_deep_chain_needs_no_recursion():
    chain = {f"p{i}": [f"p{i + 1}"] for i in range(5000)}
    order = store.dependency_order("p0", chain)
    assert order[0] == "p5000" and order[-1] == "p0" and len(order) == 5001


def generation(tmp_path) -> tuple[dict, dict, str]:
    """A manifest as compose gives it (no profiles yet), and the generation built from it:
    the manifest read back from the store, and its store path."""
    pkgs = {name: package(tmp_path, name) for name in ("server", "client")}
    targets = {t: {"system": "x86_64-linux", "numOfCores": 1, "clientInterface": "disnix-ssh-client",
                   "targetProperty": "hostname", "properties": {"hostname": t}, "containers": {}, "profile": None}
               for t in ("test1", "test2")}
    mappings = [dict(mapping("server", pkgs["server"]), id="server-k:test2:wrapper", target="test2", drv="",
                     dependsOnRefs=[], connectsToRefs=[], deployState=False),
                dict(mapping("client", pkgs["client"]), id="client-k:test1:wrapper", target="test1", drv="",
                     dependsOnRefs=[], connectsToRefs=[], deployState=False)]
    composed = {"version": 1, "profile": "default", "targets": targets, "mappings": mappings}
    built = json.loads(json.dumps(composed))
    store.build_profiles(built)
    path = store.add_manifest(built)
    return composed, store.load_manifest(path), path


def test_a_manifest_that_is_the_current_generation_reuses_its_profiles_and_store_path(tmp_path):
    composed, old, old_path = generation(tmp_path)
    again = json.loads(json.dumps(composed))
    assert store.reuse_generation(again, old, old_path)
    assert {t: v["profile"] for t, v in again["targets"].items()} == {t: v["profile"] for t, v in old["targets"].items()}
    # what building it again would give: the same profiles and the same manifest path
    rebuilt = json.loads(json.dumps(composed))
    store.build_profiles(rebuilt)
    assert store.add_manifest(rebuilt) == old_path and rebuilt["targets"] == again["targets"]


@pytest.mark.parametrize("change", ["service", "target property", "target set", "no generation"])
def test_a_manifest_that_differs_from_the_current_generation_is_built(tmp_path, change):
    composed, old, old_path = generation(tmp_path)
    other = json.loads(json.dumps(composed))
    if change == "service":
        other["mappings"][0]["pkg"] = package(tmp_path, "server2")
    elif change == "target property":
        other["targets"]["test1"]["properties"]["hostname"] = "elsewhere"
    elif change == "target set":
        other["targets"]["test3"] = dict(other["targets"]["test1"], properties={"hostname": "test3"})
    elif change == "no generation":
        old, old_path = None, None
    assert not store.reuse_generation(other, old, old_path)
    assert all(t["profile"] is None for t in other["targets"].values())


def test_profiles_built_by_other_expressions_are_not_reused(tmp_path, monkeypatch):
    composed, old, old_path = generation(tmp_path)
    monkeypatch.setattr(store, "BUILDER", "0" * 16)
    assert not store.reuse_generation(json.loads(json.dumps(composed)), old, old_path)
