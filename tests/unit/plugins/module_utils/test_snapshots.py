# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Dysnomia snapshot store, with a real wrapper that snapshots and restores a counter."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.disnix.deploy.plugins.module_utils import snapshots
from ansible_collections.disnix.deploy.plugins.module_utils.activation_types import Operation
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError
from ansible_collections.disnix.deploy.tests.unit.plugins.module_utils.target_fixtures import write_script

# the counter of tests/integration/models/lifecycle, with its state below $stateDir
COUNTER = r"""#!/bin/sh -e
snapshots=$DYSNOMIA_STATEDIR/snapshots/$2/counter
generations=$DYSNOMIA_STATEDIR/generations/$2/counter
case "$1" in
  snapshot)
    hash=$(sha256sum < "$stateDir/state" | cut -c1-64)
    mkdir -p "$snapshots/$hash" "$generations"
    cp "$stateDir/state" "$snapshots/$hash/state"
    last=$(ls "$generations" | sort -n | tail -1)
    if [ -z "$last" ] || [ "$(readlink "$generations/$last")" != "../../../snapshots/$2/counter/$hash" ]; then
      ln -s "../../../snapshots/$2/counter/$hash" "$generations/$(( ${last:-0} + 1 ))"
    fi ;;
  restore)
    [ ! -e "$stateDir/restore-fails" ] || { echo "restore refused" >&2; exit 1; }
    last=$(ls "$generations" | sort -n | tail -1)
    cp "$generations/$last/state" "$stateDir/state" ;;
esac
"""


@pytest.fixture
def counter(lab):
    pkg = lab.path("pkgs", "counter")
    write_script(os.path.join(pkg, "bin", "wrapper"), COUNTER)
    return Operation(op="snapshot", pkg=pkg, type="wrapper", container="wrapper", service="counter",
                     properties={"stateDir": lab.state_dir})


def set_counter(lab, value: str) -> None:
    with open(os.path.join(lab.state_dir, "state"), "w", encoding="utf-8") as handle:
        handle.write(value + "\n")


def get_counter(lab) -> str:
    with open(os.path.join(lab.state_dir, "state"), encoding="utf-8") as handle:
        return handle.read().strip()


def test_take_restore_and_the_dysnomia_layout(lab, counter):
    store = snapshots.Store(lab.path("dysnomia"))
    set_counter(lab, "1")
    first = snapshots.take(store, counter)
    assert first["changed"] and first["snapshot"].startswith("wrapper/counter/")
    again = snapshots.take(store, counter)
    assert not again["changed"] and again["snapshot"] == first["snapshot"]   # identical: no generation
    set_counter(lab, "2")
    second = snapshots.take(store, counter)
    assert store.query_all() == [first["snapshot"], second["snapshot"]]
    assert os.readlink(lab.path("dysnomia", "generations", "wrapper", "counter", "2")) == "../../../snapshots/" + second["snapshot"]

    set_counter(lab, "9")
    assert snapshots.restore(store, counter)["snapshot"] == second["snapshot"]
    assert get_counter(lab) == "2"
    # a named one becomes the newest generation, then restore takes it
    assert snapshots.restore(store, counter, first["snapshot"])["snapshot"] == first["snapshot"]
    assert get_counter(lab) == "1"
    assert store.query_all()[-1] == first["snapshot"] and len(store.query_all()) == 3


def test_restore_failures_name_the_service(lab, counter):
    store = snapshots.Store(lab.path("dysnomia"))
    with pytest.raises(TargetError, match="no snapshot of wrapper/counter"):
        snapshots.restore(store, counter)
    set_counter(lab, "1")
    snapshots.take(store, counter)
    open(os.path.join(lab.state_dir, "restore-fails"), "w", encoding="utf-8").close()
    with pytest.raises(TargetError, match="service 'counter'.*restore failed.*restore refused"):
        snapshots.restore(store, counter)
    with pytest.raises(TargetError, match="not in the store"):
        snapshots.restore(store, counter, "wrapper/counter/" + "0" * 64)


def test_types_that_cannot_snapshot_are_refused(lab):
    op = Operation(op="snapshot", pkg=lab.process_pkg("loop"), type="process", service="loop")
    with pytest.raises(TargetError, match="type 'process' cannot snapshot"):
        snapshots.take(snapshots.Store(lab.path("dysnomia")), op)


def test_gc_keeps_the_newest_generations(lab, counter):
    store = snapshots.Store(lab.path("dysnomia"))
    names = []
    for value in "123":
        set_counter(lab, value)
        names.append(snapshots.take(store, counter)["snapshot"])
    assert store.gc(2, dry_run=True) == sorted([names[0]]) and store.query_all() == names
    assert store.gc(2) == [names[0]]
    assert store.query_all() == names[1:] and not os.path.exists(store.path(names[0]))
    assert store.gc(0) == sorted(names[1:])
    assert store.query_all() == [] and not os.path.exists(lab.path("dysnomia", "snapshots", "wrapper"))


def test_export_import_between_stores(lab, counter, tmp_path):
    old, new = snapshots.Store(lab.path("old")), snapshots.Store(lab.path("new"))
    set_counter(lab, "41")
    name = snapshots.take(old, counter)["snapshot"]
    tar, size = old.export(name, lab.tmpdir)
    assert size > 0
    assert new.import_tar(name, tar)
    assert not new.import_tar(name, tar)                 # already there and newest
    assert new.query_all() == [name]
    with open(os.path.join(new.path(name), "state"), encoding="utf-8") as handle:
        assert handle.read() == "41\n"
    # the checksum is Dysnomia's computeOutputHash of the snapshot directory
    with open(lab.path("new", "checksums", name), encoding="utf-8") as handle:
        assert handle.read() == snapshots.checksum(new.path(name))
    script = ('cd "$1"; { find .; echo; find . -type f | while read f; do cat "$f"; done; } | sha256sum | cut -c1-64')
    shell = subprocess.run(["sh", "-c", script, "sh", new.path(name)], check=True, stdout=subprocess.PIPE, universal_newlines=True)
    assert snapshots.checksum(new.path(name)) == "sha256:" + shell.stdout.strip()


def test_import_refuses_foreign_tar_members(lab, tmp_path):
    import tarfile
    evil = tmp_path / "evil.tar.gz"
    (tmp_path / "x").write_text("x")
    with tarfile.open(str(evil), "w:gz") as tar:
        tar.add(str(tmp_path / "x"), arcname="../x")
    with pytest.raises(TargetError, match="is not an exported snapshot"):
        snapshots.Store(lab.path("s")).import_tar("wrapper/counter/abc", str(evil))
    assert snapshots.Store(lab.path("s")).query_all() == []


def test_names():
    assert snapshots.component_name("/nix/store/" + "a" * 32 + "-counter") == "counter"
    assert snapshots.parse_name("wrapper/counter/abc") == ("wrapper", "counter", "abc")
    for bad in ("wrapper/counter", "wrapper/../abc", "a/b/c/d"):
        with pytest.raises(TargetError):
            snapshots.parse_name(bad)


def test_a_journaled_import_is_taken_back_by_the_rollback(lab, counter):
    from ansible_collections.disnix.deploy.plugins.module_utils.transition_journal import Journal
    from ansible_collections.disnix.deploy.plugins.module_utils.transition_steps import Context, rollback

    old, new = snapshots.Store(lab.path("old")), snapshots.Store(lab.path("new"))
    set_counter(lab, "3")
    name = snapshots.take(old, counter)["snapshot"]
    tar, _size = old.export(name, lab.tmpdir)
    journal = Journal(lab.path("tmp", "disnix-default.journal"))
    added, generation = new.import_snapshot(name, tar)
    assert added and generation == 1
    journal.snapshot_import("run1", 2, counter, new.statedir, name, added, generation)
    result = rollback(Context(run_id="run1", journal=journal, log_dir=lab.log_dir, timeout=5), 2)
    assert [r["op"] for r in result["restored"]] == ["unimport snapshot"]
    assert new.query_all() == [] and not os.path.exists(new.path(name))
    assert journal.pending_undo("run1") == []
