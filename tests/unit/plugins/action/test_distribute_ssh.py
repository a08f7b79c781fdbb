# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the copy can go through Ansible's shared ssh connection: only when that
connection compresses as the copy wants (action/distribute.py)."""

from __future__ import annotations

from ansible_collections.disnix.deploy.plugins.action.distribute import _compresses


def test_compression_is_read_from_the_ssh_command_as_ssh_reads_it():
    assert _compresses([b"ssh", b"-C", b"-o", b"ControlMaster=auto", b"host"])
    assert not _compresses([b"ssh", b"-o", b"ControlMaster=auto", b"-o", b"ControlPersist=60s", b"host"])
    assert _compresses([b"ssh", b"-o", b"Compression=yes", b"host"])
    assert _compresses([b"ssh", b"-oCompression=YES", b"host"])
    # the first Compression option wins
    assert not _compresses([b"ssh", b"-o", b"Compression=no", b"-o", b"Compression=yes", b"host"])
    # -C sets it whatever the options say
    assert _compresses([b"ssh", b"-o", b"Compression=no", b"-C", b"host"])
