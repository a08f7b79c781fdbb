# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared export stream, with the controller's real Nix."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ansible_collections.disnix.deploy.plugins.plugin_utils import closure_stream as cs
from ansible_collections.disnix.deploy.plugins.plugin_utils.controller_store import DeployError

pytestmark = pytest.mark.skipif(shutil.which("nix-store") is None, reason="needs Nix")


def add(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return subprocess.run(["nix-store", "--add", str(path)], capture_output=True, text=True, check=True).stdout.strip()


def receive(spool, paths, compression, out) -> int:
    with open(out, "wb") as f:
        return cs.SharedExport(str(spool), paths, compression).send(f.fileno(), lambda n: None)


def test_every_reader_gets_the_one_export(tmp_path):
    paths = [add(tmp_path, "a", "a" * 100000), add(tmp_path, "b", "b")]
    expected = subprocess.run(["nix-store", "--export", *paths], capture_output=True, check=True).stdout
    spool = tmp_path / "spool"
    spool.mkdir()
    first = receive(spool, paths, "none", tmp_path / "one")
    second = receive(spool, paths, "none", tmp_path / "two")  # reads the first one's export
    assert first == second == len(expected)
    assert (tmp_path / "one").read_bytes() == (tmp_path / "two").read_bytes() == expected
    assert len(list(spool.glob("*.data"))) == 1
    assert cs.nar_sizes(paths) == [int(s) for s in subprocess.run(
        ["nix-store", "--query", "--size", *paths], capture_output=True, text=True, check=True).stdout.split()]


@pytest.mark.skipif(shutil.which("zstd") is None, reason="needs zstd")
def test_compressed_export_decompresses_to_the_export(tmp_path):
    paths = [add(tmp_path, "c", "c" * 300000)]
    expected = subprocess.run(["nix-store", "--export", *paths], capture_output=True, check=True).stdout
    receive(tmp_path, paths, "zstd", tmp_path / "z")
    data = (tmp_path / "z").read_bytes()
    assert len(data) < len(expected) / 10
    assert subprocess.run(["zstd", "-d", "-c"], input=data, capture_output=True, check=True).stdout == expected


def test_failed_export_is_an_error_for_every_reader(tmp_path):
    missing = ["/nix/store/00000000000000000000000000000000-not-there"]
    for out in ("x", "y"):
        with pytest.raises(DeployError, match="exporting 1 store path"):
            receive(tmp_path, missing, "none", tmp_path / out)
