# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dysnomia's snapshot store, so that upstream's dysnomia-snapshots reads what this writes:

    <statedir>/snapshots/<container>/<component>/<id>/      a snapshot (id: hash of its dump)
    <statedir>/generations/<container>/<component>/<N>      -> ../../../snapshots/<c>/<comp>/<id>
    <statedir>/checksums/<container>/<component>/<id>       sha256:<hash> of the snapshot

Snapshots are taken and restored by the activation type's ``snapshot`` and ``restore``
operations (a wrapper computes the paths itself from DYSNOMIA_STATEDIR, as Dysnomia's modules
do); restore takes the newest generation, so restoring a named snapshot adds a generation
for it first, as dysnomia-snapshots --import does. Snapshots travel as tar files (export,
import). Used on targets and, for the controller's own store, on the controller.

Runs on targets: Python 3.8+, standard library only.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import tempfile

from ansible_collections.disnix.deploy.plugins.module_utils.activation_types import (
    Operation, can_snapshot, run_operation)
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError, hostname

DEFAULT_STATEDIR = "/var/state/dysnomia"
STORE_DIR = os.environ.get("NIX_STORE_DIR", "/nix/store")
# a name in the store is one path component, never . or ..
_NAME = re.compile(r"^[A-Za-z0-9+_.:=-]+$")


def default_statedir() -> str:
    """Dysnomia's default: DYSNOMIA_STATEDIR, else /var/state/dysnomia for root, else ~/.dysnomia."""
    if os.environ.get("DYSNOMIA_STATEDIR"):
        return os.environ["DYSNOMIA_STATEDIR"]
    if os.geteuid() == 0:
        return DEFAULT_STATEDIR
    return os.path.join(os.path.expanduser("~"), ".dysnomia")


def component_name(pkg: str) -> str:
    """Dysnomia's component name: a store path's name without its hash."""
    name = os.path.basename(pkg.rstrip("/"))
    if pkg.startswith(STORE_DIR.rstrip("/") + "/") and len(name) > 33:
        return name[33:]
    return name


def check_name(what: str, name: str) -> str:
    if not _NAME.match(name or "") or name in (".", ".."):
        raise TargetError("invalid %s name %r in the snapshot store" % (what, name))
    return name


def parse_name(name: str) -> tuple[str, str, str]:
    """``container/component/id`` (dysnomia-snapshots' relative name) as its three parts."""
    parts = (name or "").strip("/").split("/")
    if len(parts) != 3:
        raise TargetError("invalid snapshot name %r: expected <container>/<component>/<id>" % (name,))
    return check_name("container", parts[0]), check_name("component", parts[1]), check_name("snapshot", parts[2])


def _numbers(directory: str) -> list[int]:
    try:
        return sorted(int(n) for n in os.listdir(directory) if n.isdigit())
    except FileNotFoundError:
        return []


def _listdir(directory: str) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except FileNotFoundError:
        return []


def checksum(path: str) -> str:
    """Dysnomia's computeOutputHash: sha256 of a file, or of a directory serialised as
    `find .`, an empty line, then every file's content in find's order."""
    digest = hashlib.sha256()
    if os.path.isfile(path):
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return "sha256:" + digest.hexdigest()
    names: list[str] = ["."]
    files: list[str] = []

    def walk(rel: str) -> None:
        with os.scandir(os.path.join(path, rel)) as entries:
            for entry in entries:
                child = rel + "/" + entry.name
                names.append(child)
                if entry.is_dir(follow_symlinks=False):
                    walk(child)
                elif entry.is_file(follow_symlinks=False):
                    files.append(child)

    walk(".")
    digest.update("".join(n + "\n" for n in names).encode() + b"\n")
    for rel in files:
        with open(os.path.join(path, rel), "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


class Store:
    """One machine's snapshot store below ``statedir``."""

    def __init__(self, statedir: str) -> None:
        self.statedir = statedir

    def _dir(self, kind: str, container: str, component: str) -> str:
        return os.path.join(self.statedir, kind, container, component)

    def generations(self, container: str, component: str) -> list[tuple[int, str]]:
        """(generation, snapshot id) of one component, oldest first."""
        directory = self._dir("generations", container, component)
        out = []
        for number in _numbers(directory):
            try:
                out.append((number, os.path.basename(os.readlink(os.path.join(directory, str(number))))))
            except OSError:
                continue
        return out

    def _pairs(self, container: str | None, component: str | None) -> list[tuple[str, str]]:
        containers = [container] if container else _listdir(os.path.join(self.statedir, "generations"))
        pairs = []
        for c in containers:
            components = [component] if component else _listdir(os.path.join(self.statedir, "generations", c))
            pairs += [(c, comp) for comp in components if os.path.isdir(self._dir("generations", c, comp))]
        return pairs

    def query_all(self, container: str | None = None, component: str | None = None) -> list[str]:
        """Relative names of every generation's snapshot, as dysnomia-snapshots --query-all."""
        return ["%s/%s/%s" % (c, comp, sid) for c, comp in self._pairs(container, component)
                for _n, sid in self.generations(c, comp)]

    def latest(self, container: str, component: str) -> str | None:
        gens = self.generations(container, component)
        return "%s/%s/%s" % (container, component, gens[-1][1]) if gens else None

    def path(self, name: str) -> str:
        container, component, sid = parse_name(name)
        return os.path.join(self._dir("snapshots", container, component), sid)

    def exists(self, name: str) -> bool:
        return os.path.isdir(self.path(name))

    def add_generation(self, name: str) -> int | None:
        """Make ``name`` the newest generation unless it already is (createGenerationSymlink);
        writes its checksum. The generation added, or None."""
        container, component, sid = parse_name(name)
        gens = self.generations(container, component)
        if gens and gens[-1][1] == sid:
            return None
        directory = self._dir("generations", container, component)
        os.makedirs(directory, exist_ok=True)
        number = (gens[-1][0] if gens else 0) + 1
        os.symlink("../../../snapshots/%s/%s/%s" % (container, component, sid), os.path.join(directory, str(number)))
        sums = self._dir("checksums", container, component)
        os.makedirs(sums, exist_ok=True)
        with open(os.path.join(sums, sid), "w", encoding="utf-8") as handle:
            handle.write(checksum(self.path(name)))
        return number

    def undo_import(self, name: str, generation: int | None, snapshot_added: bool) -> None:
        """Take back what :meth:`import_snapshot` added: its generation link and, if it brought
        the snapshot, the snapshot and its checksum (a migration rolled back)."""
        container, component, sid = parse_name(name)
        if generation is not None:
            link = os.path.join(self._dir("generations", container, component), str(generation))
            if os.path.islink(link) and os.path.basename(os.readlink(link)) == sid:
                os.unlink(link)
        if snapshot_added and sid not in {s for _n, s in self.generations(container, component)}:
            shutil.rmtree(self.path(name), ignore_errors=True)
            _remove(os.path.join(self._dir("checksums", container, component), sid))
        for kind in ("generations", "snapshots", "checksums"):
            _rmdir_empty(self._dir(kind, container, component))
            _rmdir_empty(os.path.join(self.statedir, kind, container))

    def gc(self, keep: int, container: str | None = None, component: str | None = None,
           dry_run: bool = False) -> list[str]:
        """Delete all but the newest ``keep`` generations and the snapshots only they name
        (dysnomia-snapshots --gc --keep N). The relative names of the snapshots removed."""
        if keep < 0:
            raise TargetError("keep must be 0 or more, not %d" % keep)
        removed = []
        for c, comp in self._pairs(container, component):
            gens = self.generations(c, comp)
            if len(gens) <= keep:
                continue
            kept = {sid for _n, sid in (gens[len(gens) - keep:] if keep else [])}
            snapshots = _listdir(self._dir("snapshots", c, comp))
            removed += ["%s/%s/%s" % (c, comp, s) for s in snapshots if s not in kept]
            if dry_run:
                continue
            for number, _sid in gens[:len(gens) - keep]:
                os.unlink(os.path.join(self._dir("generations", c, comp), str(number)))
            for s in snapshots:
                if s not in kept:
                    shutil.rmtree(os.path.join(self._dir("snapshots", c, comp), s), ignore_errors=True)
                    _remove(os.path.join(self._dir("checksums", c, comp), s))
            for kind in ("generations", "snapshots", "checksums"):
                _rmdir_empty(self._dir(kind, c, comp))
                _rmdir_empty(os.path.join(self.statedir, kind, c))
        return removed

    def export(self, name: str, directory: str) -> tuple[str, int]:
        """The snapshot as a tar file in ``directory``; (its path, its size in bytes)."""
        source = self.path(name)
        if not os.path.isdir(source):
            raise TargetError("snapshot %s is not in the store %s on %s" % (name, self.statedir, hostname()))
        handle, tar_path = tempfile.mkstemp(prefix="disnix-snapshot.", suffix=".tar.gz", dir=directory)
        os.close(handle)
        with tarfile.open(tar_path, "w:gz") as tar:
            tar.add(source, arcname=parse_name(name)[2])
        return tar_path, os.path.getsize(tar_path)

    def import_tar(self, name: str, tar_path: str) -> bool:
        """Put an exported snapshot into the store as ``name`` and make it the newest
        generation; whether anything changed."""
        added, generation = self.import_snapshot(name, tar_path)
        return added or generation is not None

    def import_snapshot(self, name: str, tar_path: str) -> tuple[bool, int | None]:
        """:meth:`import_tar`, saying what it added: (the snapshot was new, the generation added)."""
        container, component, sid = parse_name(name)
        changed = False
        if not self.exists(name):
            parent = self._dir("snapshots", container, component)
            os.makedirs(parent, exist_ok=True)
            unpack = tempfile.mkdtemp(prefix=".import-", dir=parent)
            try:
                with tarfile.open(tar_path, "r:*") as tar:
                    members = tar.getmembers()
                    for member in members:
                        # only plain files and directories below the snapshot's own name
                        parts = member.name.split("/")
                        if parts[0] != sid or ".." in parts or not (member.isfile() or member.isdir()):
                            raise TargetError("%s is not an exported snapshot %s: it holds %r" % (tar_path, name, member.name))
                    tar.extractall(unpack, members=members)  # noqa: S202 (members checked above)
                os.rename(os.path.join(unpack, sid), self.path(name))
            except (tarfile.TarError, OSError) as exc:
                raise TargetError("cannot import %s as snapshot %s on %s: %s" % (tar_path, name, hostname(), exc))
            finally:
                shutil.rmtree(unpack, ignore_errors=True)
            changed = True
        return changed, self.add_generation(name)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _rmdir_empty(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass


def service_names(operation: Operation) -> tuple[str, str]:
    """(container, component) of a service in the store."""
    return check_name("container", operation.container_name), check_name("component", component_name(operation.pkg))


def check_capable(operation: Operation) -> None:
    if not can_snapshot(operation.type):
        raise TargetError("%s: type '%s' cannot snapshot or restore state (types that can: wrapper and Dysnomia's "
                          "database, fileset and repository modules)" % (operation.describe(), operation.type))


def take(store: Store, operation: Operation) -> dict:
    """Snapshot one service with its type's ``snapshot`` operation; the newest snapshot
    afterwards and whether the store changed (an identical snapshot adds nothing)."""
    check_capable(operation)
    container, component = service_names(operation)
    before = store.generations(container, component)
    result = run_operation(Operation(**dict(_fields(operation), op="snapshot", statedir=store.statedir)))
    if not result.ok:
        raise TargetError(result.output)
    latest = store.latest(container, component)
    if latest is None:
        raise TargetError("%s: its snapshot operation succeeded on %s but left no generation in %s"
                          % (operation.describe(), hostname(), os.path.join(store.statedir, "generations", container, component)))
    return {"service": operation.service, "snapshot": latest, "changed": store.generations(container, component) != before,
            "output": result.output}


def restore(store: Store, operation: Operation, name: str | None = None) -> dict:
    """Restore one service from snapshot ``name`` (its newest when None) with its type's
    ``restore`` operation."""
    check_capable(operation)
    container, component = service_names(operation)
    if name:
        c, comp, _sid = parse_name(name)
        if (c, comp) != (container, component):
            raise TargetError("snapshot %s is not one of %s (%s/%s)" % (name, operation.describe(), container, component))
        if not store.exists(name):
            raise TargetError("snapshot %s is not in the store %s on %s" % (name, store.statedir, hostname()))
        store.add_generation(name)
    latest = store.latest(container, component)
    if latest is None:
        raise TargetError("%s: no snapshot of %s/%s in %s on %s to restore"
                          % (operation.describe(), container, component, store.statedir, hostname()))
    result = run_operation(Operation(**dict(_fields(operation), op="restore", statedir=store.statedir)))
    if not result.ok:
        raise TargetError(result.output)
    return {"service": operation.service, "snapshot": latest, "changed": True, "output": result.output}


def _fields(operation: Operation) -> dict:
    return {f: getattr(operation, f) for f in ("op", "pkg", "type", "container", "properties", "service", "key",
                                               "timeout", "command_timeout", "statedir")}
