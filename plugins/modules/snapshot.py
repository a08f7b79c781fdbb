#!/usr/bin/python
# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module disnix.deploy.snapshot: Dysnomia snapshots of deployed services."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: snapshot
short_description: Take, list, restore, clean, export and import Dysnomia snapshots of services
version_added: 0.3.0
description:
  - Works on a Dysnomia snapshot store (V(<statedir>/snapshots/<container>/<component>/<id>),
    V(generations/<container>/<component>/<N>) symlinks, V(checksums)), the layout upstream's
    C(dysnomia-snapshots) reads, on a target or, for the controller's own store, on the controller.
  - Snapshots are taken and restored by the activation type's C(snapshot) and C(restore) operations
    (C(wrapper) runs V($pkg/bin/wrapper snapshot|restore <container>) with E(DYSNOMIA_STATEDIR) set to
    O(statedir); other snapshot-capable types go to the target's C(dysnomia)). Restore uses the newest
    generation; restoring a named snapshot makes it the newest generation first, as
    C(dysnomia-snapshots --import) does.
  - The services are O(services) when given, else those of the deployed profile manifest with
    C(deployState) (every non-package service with O(all_services=true)), narrowed by O(component)
    and O(container). A selected service whose type cannot snapshot is an error before anything runs.
options:
  state:
    description:
      - V(taken) snapshots the services; V(restored) restores them (from O(snapshot) when given);
        V(query) lists the store's snapshots; V(cleaned) deletes all but the newest O(keep) generations
        (C(dysnomia-snapshots --gc --keep)); V(exported) writes snapshot O(snapshot) (default the newest of
        O(container)/O(component) when both are given without O(services), else of the one selected
        service) as a tar file into O(dest_dir); V(imported) puts the tar file O(src)
        into the store as O(snapshot) and makes it the newest generation.
    type: str
    choices: [taken, restored, query, cleaned, exported, imported]
    default: query
  statedir:
    description: Dysnomia's state directory; default E(DYSNOMIA_STATEDIR), else V(/var/state/dysnomia) for root, else V(~/.dysnomia).
    type: path
  services:
    description: The services (as in a profile manifest; C(service), C(pkg), C(type), C(container), C(properties)).
    type: list
    elements: dict
  all_services:
    description: Select every non-package service of the profile manifest, not only those with C(deployState) (C(disnix_deploy_state)).
    type: bool
    default: false
  component:
    description: Only this component (the package name without its hash, usually the service name).
    type: str
  container:
    description: Only this container.
    type: str
  snapshot:
    description: A snapshot's relative name, V(<container>/<component>/<id>) (as C(dysnomia-snapshots --query-all) prints it).
    type: str
  keep:
    description: With O(state=cleaned), the generations kept per component.
    type: int
    default: 1
  src:
    description: With O(state=imported), the tar file made by O(state=exported).
    type: path
  imports:
    description:
      - With O(state=restored), a migration's transferred tar files (made with O(export=true)), one per
        service of O(services) in the same order, imported before the restore under the snapshot names
        O(migrations) gives.
    type: list
    elements: path
  migrations:
    description: With O(imports), the deployment's migrations by id, each with its C(snapshot) (relative name).
    type: dict
  dest_dir:
    description: With O(state=exported) or O(export=true), where the tar files go (default the temporary directory).
    type: path
  export:
    description: With O(state=taken), also export each snapshot taken as a tar file (RV(exports)), for a transfer.
    type: bool
    default: false
  run_id:
    description:
      - With O(state=restored) and O(imports), the deployment this import belongs to (a migration); the import
        is journaled in the profile's transition journal under O(wave), so rolling the transition back
        takes the snapshot back out, and it is refused unless O(run_id) holds the profile's lock.
    type: str
  wave:
    description: With O(run_id), the migrate wave.
    type: int
  fenced:
    description: With O(run_id), check that the run holds the profile's lock (false with C(disnix_no_lock)).
    type: bool
    default: true
  timeout:
    description: Seconds one snapshot or restore operation may take.
    type: int
    default: 300
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - disnix.deploy.target
attributes:
  check_mode:
    support: full
    description: Says what would be snapshotted, restored, deleted or imported, and changes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
author:
  - disnix.deploy developers (@disnix-deploy)
"""

EXAMPLES = r"""
- name: Snapshot the deployed services with deployState
  disnix.deploy.snapshot:
    state: taken

- name: Keep the newest two snapshot generations of every component
  disnix.deploy.snapshot:
    state: cleaned
    keep: 2

- name: Restore a named snapshot of the counter
  disnix.deploy.snapshot:
    state: restored
    component: counter
    snapshot: wrapper/counter/0b1c...
"""

RETURN = r"""
statedir:
  description: The store's state directory.
  returned: always
  type: str
snapshots:
  description:
    - V(query), V(cleaned) (what is left) and V(imported), the relative names of every snapshot generation, oldest first;
      V(taken) and V(restored), one entry per service with C(service), C(snapshot) and C(changed).
  returned: always
  type: list
removed:
  description: With O(state=cleaned), the snapshots deleted (would be, in check mode).
  returned: when O(state=cleaned)
  type: list
  elements: str
path:
  description: With O(state=exported), the tar file; C(bytes) is its size.
  returned: when O(state=exported)
  type: str
bytes:
  description: With O(state=exported), the size of the tar file in bytes.
  returned: when O(state=exported)
  type: int
exports:
  description:
    - With O(state=taken) and O(export=true), one entry per snapshot taken - C(service), C(name), C(path),
      C(bytes) and C(migration) (copied from the service entry, if it has one).
  returned: when O(export=true)
  type: list
  elements: dict
name:
  description: With O(state=exported), the relative name of the snapshot exported.
  returned: when O(state=exported)
  type: str
services:
  description:
    - With O(state=query), the selected services (as for V(taken)), each with C(service), C(container) and
      C(component); what a restore from another store (the controller's) has to bring.
  returned: when O(state=query)
  type: list
  elements: dict
lines:
  description: What was done, one line each, for a person.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.disnix.deploy.plugins.module_utils import locking, profiles, snapshots
from ansible_collections.disnix.deploy.plugins.module_utils.transition_journal import Journal, journal_path
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import (
    TargetError, resolve_tmpdir, target_argument_spec)


def selected(params: dict) -> list:
    """The operations of the services selected by the parameters."""
    return [o for o, _service in selected_services(params)]


def selected_services(params: dict) -> list:
    """(operation, service entry) of each service selected by the parameters."""
    if params["services"] is not None:
        services = params["services"]
    else:
        link = profiles.profile_link(params["profile"])
        manifest = profiles.read_manifest(profiles.current_path(link))
        services = [s for s in profiles.manifest_services(manifest)
                    if s.get("type") != "package" and (params["all_services"] or s.get("deployState"))]
    pairs = [(profiles.service_operation(s, "snapshot", params["timeout"]), s) for s in services]
    if params["component"]:
        pairs = [(o, s) for o, s in pairs if snapshots.component_name(o.pkg) == params["component"]]
    if params["container"]:
        pairs = [(o, s) for o, s in pairs if o.container_name == params["container"]]
    for o, _s in pairs:
        o.command_timeout = params["timeout"]
        snapshots.check_capable(o)
        snapshots.service_names(o)
    return pairs


def _import_for_migration(params: dict, store: snapshots.Store, operation, entry: dict) -> None:
    """Import a migrated snapshot; under a deployment (run_id) it is journaled, so the
    transition's rollback takes it back out, and fenced by the run's lock like its steps."""
    if not params["run_id"]:
        store.import_tar(entry["snapshot"], entry["src"])
        return
    tmpdir = resolve_tmpdir(params["tmpdir"])
    journal = Journal(journal_path(params["profile"], tmpdir))
    with locking.owner_guard(params["profile"], tmpdir, params["run_id"], fenced=params["fenced"]) as check:
        check()
        added, generation = store.import_snapshot(entry["snapshot"], entry["src"])
        journal.snapshot_import(params["run_id"], params["wave"] or 0, operation, store.statedir, entry["snapshot"],
                                added, generation)


def run(module: AnsibleModule) -> dict:
    params = module.params
    store = snapshots.Store(params["statedir"] or snapshots.default_statedir())
    state, check = params["state"], module.check_mode
    out = {"statedir": store.statedir, "changed": False, "snapshots": [], "lines": []}
    if state == "query":
        out["snapshots"] = store.query_all(params["container"], params["component"])
        out["lines"] = out["snapshots"]
        out["services"] = [dict(zip(("container", "component"), snapshots.service_names(o)), service=o.service)
                           for o in selected(params)]
    elif state == "cleaned":
        out["removed"] = store.gc(params["keep"], params["container"], params["component"], dry_run=check)
        out["changed"] = bool(out["removed"])
        out["snapshots"] = [s for s in store.query_all(params["container"], params["component"]) if s not in out["removed"]]
        out["lines"] = ["%s %s" % ("would remove" if check else "removed", s) for s in out["removed"]]
    elif state == "imported":
        if not params["snapshot"] or not params["src"]:
            raise TargetError("state=imported needs snapshot and src")
        snapshots.parse_name(params["snapshot"])
        latest = store.latest(*snapshots.parse_name(params["snapshot"])[:2])
        if check:
            out["changed"] = latest != params["snapshot"]
        else:
            out["changed"] = store.import_tar(params["snapshot"], params["src"])
        out["lines"] = ["%s %s" % ("imported" if out["changed"] else "already newest:", params["snapshot"])]
        out["snapshots"] = store.query_all(*snapshots.parse_name(params["snapshot"])[:2])
    elif state == "exported":
        name = params["snapshot"]
        if not name and params["container"] and params["component"] and params["services"] is None:
            # the newest of one container and component (the controller's store has no profile)
            name = store.latest(params["container"], params["component"])
            if name is None:
                raise TargetError("no snapshot of %s/%s in %s" % (params["container"], params["component"], store.statedir))
        if not name:
            ops = selected(params)
            if len(ops) != 1:
                raise TargetError("state=exported without snapshot needs exactly one selected service, not %d" % len(ops))
            name = store.latest(*snapshots.service_names(ops[0]))
            if name is None:
                raise TargetError("%s has no snapshot in %s" % (ops[0].describe(), store.statedir))
        path, size = store.export(name, params["dest_dir"] or resolve_tmpdir(params["tmpdir"]))
        out.update(path=path, bytes=size, name=name, lines=["exported %s (%d bytes) to %s" % (name, size, path)])
    else:
        pairs = selected_services(params)
        ops = [o for o, _s in pairs]
        if state == "restored" and params["snapshot"] and not params["src"]:
            # a named snapshot names its service: the one of its container and component here
            ops = [o for o in ops if snapshots.service_names(o) == snapshots.parse_name(params["snapshot"])[:2]]
            if len(ops) > 1:
                raise TargetError("snapshot %s fits %d services here; restore it with a container filter"
                                  % (params["snapshot"], len(ops)))
            if ops and not store.exists(params["snapshot"]):
                raise TargetError("snapshot %s is not in the store %s" % (params["snapshot"], store.statedir))
        imports = {}
        if state == "restored" and params["imports"] is not None:
            # a migration: each service's own transferred snapshot, imported first
            if len(params["imports"]) != len(pairs):
                raise TargetError("imports: %d file(s) for %d service(s)" % (len(params["imports"]), len(pairs)))
            for (o, service), src in zip(pairs, params["imports"]):
                name = ((params["migrations"] or {}).get(str(service.get("migration"))) or {}).get("snapshot")
                if not name:
                    raise TargetError("%s: no snapshot was taken for migration %s" % (o.describe(), service.get("migration")))
                snapshots.parse_name(name)
                imports[id(o)] = {"snapshot": name, "src": src}
            if not check:
                for o in ops:
                    _import_for_migration(params, store, o, imports[id(o)])
        if state == "restored" and not (check and imports):
            for o in ops:  # every one must have something to restore before any is restored
                if not params["snapshot"] and store.latest(*snapshots.service_names(o)) is None:
                    raise TargetError("%s: no snapshot in %s to restore" % (o.describe(), store.statedir))
        for o in ops:
            if check:
                entry = {"service": o.service, "snapshot": params["snapshot"] or store.latest(*snapshots.service_names(o)),
                         "changed": True}
            elif state == "taken":
                entry = snapshots.take(store, o)
            else:
                entry = snapshots.restore(store, o, imports[id(o)]["snapshot"] if imports else params["snapshot"])
            out["snapshots"].append(entry)
            out["lines"].append("%s%s %s: %s" % ("would " if check else "", "snapshot" if state == "taken" else "restore",
                                                 o.service, entry["snapshot"] or "(new)"))
        out["changed"] = any(e["changed"] for e in out["snapshots"])
        if state == "taken" and params["export"] and not check:
            out["exports"] = []
            for (o, service), entry in zip(pairs, out["snapshots"]):
                path, size = store.export(entry["snapshot"], params["dest_dir"] or resolve_tmpdir(params["tmpdir"]))
                out["exports"].append({"service": o.service, "name": entry["snapshot"], "path": path, "bytes": size,
                                       "migration": service.get("migration")})
        if not ops:
            out["lines"].append("no service with deployState selected")
    return out


def main() -> None:
    module = AnsibleModule(argument_spec=target_argument_spec(
        state=dict(type="str", default="query", choices=["taken", "restored", "query", "cleaned", "exported", "imported"]),
        statedir=dict(type="path"),
        services=dict(type="list", elements="dict"),
        all_services=dict(type="bool", default=False),
        component=dict(type="str"),
        container=dict(type="str"),
        snapshot=dict(type="str"),
        keep=dict(type="int", default=1),
        src=dict(type="path"),
        dest_dir=dict(type="path"),
        export=dict(type="bool", default=False),
        imports=dict(type="list", elements="path"),
        migrations=dict(type="dict"),
        run_id=dict(type="str"),
        wave=dict(type="int"),
        fenced=dict(type="bool", default=True),
        timeout=dict(type="int", default=300),
    ), supports_check_mode=True)
    try:
        result = run(module)
    except TargetError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    except OSError as exc:
        module.fail_json(msg="snapshot store: %s" % exc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
