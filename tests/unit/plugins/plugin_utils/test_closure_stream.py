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


def fake_target_store(tmp_path, has: list[str]) -> str:
    """A target's nix-store for the asked copy: valid are the paths in ``has``; an import
    keeps what it reads in ``imported``."""
    script = tmp_path / "target-nix-store"
    have = tmp_path / "have"
    have.write_text("".join(p + "\n" for p in has))
    script.write_text(f"""#!/bin/sh
case "$1" in
  --check-validity) shift 2; printf '%s\\n' "$@" | grep -vxF -f {have} || true ;;
  --import) cat > {tmp_path / "imported"} ;;
  *) exit 9 ;;
esac
""")
    script.chmod(0o755)
    return str(script)


def asked(tmp_path, paths, has, compression="none"):
    nix_store = fake_target_store(tmp_path, has)
    cmd = [b"/bin/sh", b"-c", cs.ask_script(nix_store, f"{nix_store} --import").encode()]
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    return cs.ask_and_stream(cmd, paths, lambda missing: cs.SharedExport(str(spool), missing, compression),
                             lambda sent: None)


def test_an_asked_copy_sends_only_what_the_target_lacks_on_one_command(tmp_path):
    paths = [add(tmp_path, f"p{i}", f"{i}" * 1000) for i in range(5)]
    rc, err, missing = asked(tmp_path, paths, has=paths[:3])
    assert rc == 0, err
    assert missing == paths[3:]
    expected = subprocess.run(["nix-store", "--export", *paths[3:]], capture_output=True, check=True).stdout
    assert (tmp_path / "imported").read_bytes() == expected


def test_an_asked_copy_to_a_target_that_has_everything_imports_nothing(tmp_path):
    paths = [add(tmp_path, "q", "q")]
    rc, err, missing = asked(tmp_path, paths, has=paths)
    assert (rc, missing) == (0, []), err
    assert not (tmp_path / "imported").exists()


def test_an_asked_copy_reads_exactly_the_paths_before_the_stream(tmp_path):
    # many paths: the shell's reads must stop at the last one, or the stream would lose bytes
    for i in range(300):
        (tmp_path / f"n{i}").write_text(str(i))
    paths = subprocess.run(["nix-store", "--add", *(str(tmp_path / f"n{i}") for i in range(300))], capture_output=True,
                           text=True, check=True).stdout.split()
    rc, err, missing = asked(tmp_path, paths, has=paths[::2])
    assert rc == 0, err
    assert missing == paths[1::2]
    expected = subprocess.run(["nix-store", "--export", *paths[1::2]], capture_output=True, check=True).stdout
    assert (tmp_path / "imported").read_bytes() == expected


def test_a_target_that_cannot_answer_gives_no_answer(tmp_path):
    cmd = [b"/bin/sh", b"-c", cs.ask_script("/nonexistent/nix-store", "cat > /dev/null").encode()]
    rc, err, missing = cs.ask_and_stream(cmd, [add(tmp_path, "r", "r")], lambda m: None, lambda sent: None)
    assert rc != 0 and missing is None and b"nix-store" in err
