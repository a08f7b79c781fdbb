# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Services and distribution models: evaluation with Nix and Disnix's validation rules.

Evaluation has two phases. The structure phase reads names, types, dependency edges
and distribution without touching any package; the packages phase gives each mapping's
derivation and output path, evaluated for the system of its target. One nix-instantiate
evaluates both; when it fails, the structure phase runs alone, so that a model that
breaks one of Disnix's rules gets that rule's error rather than whatever the packages
phase ran into first.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.disnix.deploy.plugins.plugin_utils import guard
from ansible_collections.disnix.deploy.plugins.plugin_utils.deployment_nix import EVALUATE
from ansible_collections.disnix.deploy.plugins.module_utils.activation_types import SNAPSHOT_TYPES, can_snapshot
from ansible_collections.disnix.deploy.plugins.plugin_utils.model_error import ModelError
from ansible_collections.disnix.deploy.plugins.plugin_utils.nix_eval import translate_error

EDGE_KINDS = ("dependsOn", "connectsTo", "activatesAfter")


@dataclass
class Mapping:
    """One service deployed to one target, in one container."""

    service: str
    target: str
    container: str
    type: str
    drv: str = ""
    out: str = ""
    # Disnix's service key (sha256 of builtins.toXML { name type pkg dependsOn })
    key: str = ""


@dataclass
class Architecture:
    """The evaluated deployment: services, their edges and where each one runs."""

    services: dict[str, dict[str, Any]]
    mappings: list[Mapping] = field(default_factory=list)

    def mappings_of(self, service: str) -> list[Mapping]:
        return [m for m in self.mappings if m.service == service]


def _where(position: dict | None, fallback: str) -> dict[str, Any]:
    if position:
        return {"path": position["file"], "line": position["line"], "column": position["column"]}
    return {"path": fallback}


def target_name_problem(name: object) -> str | None:
    """Why a target name cannot be used (it names files and directories on the controller and
    store paths), or None when it can."""
    if not isinstance(name, str) or not name:
        return "a target name must be a non-empty string"
    if "\0" in name:
        return "it contains a NUL character"
    if "/" in name or "\\" in name:
        return "it contains a path separator ('/' or '\\'); an absolute or relative path cannot be a target name"
    if name in (".", ".."):
        return "'.' and '..' are not target names"
    if name.startswith("-"):
        return "it starts with '-', which commands would read as an option"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "it contains a control character (such as a newline)"
    return None


def check_target_names(infrastructure: dict[str, dict], source: str | None = None) -> None:
    """Refuses target names that could become paths outside the controller's temporary
    directory (``../x``, ``/etc/x``), options (``-x``) or carry NUL or newlines."""
    for name in sorted(infrastructure, key=str):
        problem = target_name_problem(name)
        if problem:
            raise ModelError(f"target {name!r} of the infrastructure model cannot be used: {problem}. Nothing was changed.",
                             source or "the infrastructure model (inventory)")
        target = infrastructure[name]
        prop = target.get("targetProperty") or "hostname"
        address = (target.get("properties") or {}).get(prop)
        if isinstance(address, str) and address.startswith("-"):
            raise ModelError(f"target {name!r}: its address (properties.{prop}) {address!r} starts with '-', which ssh "
                             "would read as an option. Nothing was changed.", source or "the infrastructure model (inventory)")


def _nul_path(value: Any, path: str = "") -> str | None:
    """The place (``a.b[2]``) of the first string (key or value) in ``value`` holding a NUL."""
    if isinstance(value, str):
        return (path or "(the value)") if "\0" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            here = f"{path}.{k}" if path else str(k)
            if isinstance(k, str) and "\0" in k:
                return here
            found = _nul_path(v, here)
            if found:
                return found
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _nul_path(v, f"{path}[{i}]")
            if found:
                return found
    return None


def check_no_nul(value: Any, what: str, source: str | None) -> None:
    """Nix cuts strings at a NUL character without a word, so a value holding one would not
    arrive as written: refused, naming where it is."""
    found = _nul_path(value)
    if found:
        raise ModelError(f"{what}: {found!r} contains a NUL character, which Nix strings cannot hold. Nothing was changed.",
                         source)


def check_model_file(path: str, what: str) -> None:
    """Refuses a model file with a NUL byte (Nix would silently drop the rest of that string)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ModelError(f"cannot read the {what}: {exc.strerror or exc}", path) from None
    at = data.find(b"\0")
    if at >= 0:
        line = data.count(b"\n", 0, at) + 1
        column = at - (data.rfind(b"\n", 0, at) + 1) + 1
        raise ModelError(f"the {what} contains a NUL byte, which Nix strings cannot hold. Nothing was changed.", path, line, column)


def _private_json(directory: str, name: str, data: Any) -> str:
    """Writes ``data`` as JSON to a new 0600 file in ``directory`` (never through a link)."""
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return path


def _run_nix(nix_instantiate: str, args: list[str], models: str) -> Any:
    cmd = [nix_instantiate, "--eval", "--strict", "--json", "--read-write-mode"] + args
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except FileNotFoundError:
        raise ModelError(f"{nix_instantiate} not found: evaluating services and distribution models needs Nix on the controller") from None
    if proc.returncode != 0:
        error = translate_error(proc.stderr)
        if error.path is None or error.path == args[0]:
            # raised by our own driver (its messages name the service): point at the models
            error = ModelError(error.message, models)
        raise error
    return json.loads(proc.stdout)


def evaluate(services_file: str, distribution_file: str, infrastructure: dict[str, dict], *,
             nixpkgs: str = "", extra_params: dict | None = None,
             nix_instantiate: str = "nix-instantiate", infrastructure_source: str | None = None) -> Architecture:
    """Evaluates and validates the models; raises ModelError naming file, line and problem.
    ``infrastructure_source`` names where the infrastructure came from, for its errors."""
    check_target_names(infrastructure, infrastructure_source)
    for path, what in ((services_file, "services model"), (distribution_file, "distribution model")):
        if not os.path.isfile(path):
            raise ModelError(f"{what} not found", path=path)
        check_model_file(path, what)
    check_no_nul(infrastructure, "the infrastructure model", infrastructure_source or "the infrastructure model (inventory)")
    check_no_nul(extra_params or {}, "the extra params (disnix_extra_params)", None)
    with tempfile.TemporaryDirectory(prefix="disnix-eval-") as tmp:
        # mkdtemp's directory is 0700; the data files go to Nix by path, not on the command
        # line, so a model larger than the argument limit still evaluates
        driver = os.path.join(tmp, "evaluate.nix")
        fd = os.open(driver, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(EVALUATE)
        base = [driver,
                "--argstr", "servicesFile", os.path.abspath(services_file),
                "--argstr", "distributionFile", os.path.abspath(distribution_file),
                "--argstr", "infrastructureFile", _private_json(tmp, "infrastructure.json", infrastructure),
                "--argstr", "nixpkgs", nixpkgs or "",
                "--argstr", "extraParamsFile", _private_json(tmp, "extra-params.json", extra_params or {})]
        models = f"{services_file}, {distribution_file}"
        # both phases in one nix-instantiate; when that fails, the structure alone says
        # whether the models break a rule, which is the error to report (as if the packages
        # had not been evaluated: only derivations in the controller's store were written)
        try:
            both = _run_nix(nix_instantiate, base + ["--argstr", "phase", "both"], models)
        except ModelError:
            structure = _run_nix(nix_instantiate, base + ["--argstr", "phase", "structure"], models)
            validate(structure, infrastructure, services_file, distribution_file)
            raise
        arch = validate(both["structure"], infrastructure, services_file, distribution_file)
        packages = both["packages"]
    for mapping in arch.mappings:
        built = next(p for p in packages[mapping.service] if p["target"] == mapping.target)
        mapping.drv, mapping.out, mapping.key = built["drv"], built["out"], built["key"]
    return arch


def validate(structure: dict, infrastructure: dict[str, dict], services_file: str,
             distribution_file: str) -> Architecture:
    """Disnix's rules on the evaluated structure; the first problem found is raised."""
    services: dict[str, dict] = structure["services"]
    distribution: dict[str, dict] = structure["distribution"]

    for attr in sorted(services):
        s = services[attr]
        where = _where(s.get("position") or s.get("attrPosition"), services_file)
        if s["name"] is None:
            raise ModelError(f"service '{attr}' has no name attribute (it must be \"{attr}\")",
                             **_where(s.get("attrPosition"), services_file))
        if s["name"] != attr:
            raise ModelError(f"service '{attr}' has name \"{s['name']}\": a service's name must equal its attribute name", **where)
        if s["type"] is None:
            raise ModelError(f"service '{attr}' has no type (process, wrapper, echo, package or a Dysnomia module)",
                             **_where(s.get("attrPosition"), services_file))
        if not s["hasPkg"]:
            raise ModelError(f"service '{attr}' has no pkg", **_where(s.get("attrPosition"), services_file))
        if s.get("deployState") and not can_snapshot(s["type"]):
            raise ModelError(f"service '{attr}' has deployState = true, but its type '{s['type']}' cannot snapshot or "
                             f"restore state (types that can: {', '.join(SNAPSHOT_TYPES)}). Nothing was changed.", **where)
        s["healthCheck"] = guard.check_health(attr, s.get("healthCheck"), where)
        s["tags"] = guard.check_tags(attr, s.get("tags"), where)
        for kind in EDGE_KINDS:
            for param, dep in sorted(s[kind].items()):
                if dep not in services:
                    raise ModelError(f"service '{attr}': {kind}.{param} refers to '{dep}', which is not in the services model", **where)

    for name in sorted(distribution):
        d = distribution[name]
        where = _where(d.get("position"), distribution_file)
        if name not in services:
            raise ModelError(f"the distribution maps '{name}', which is not a service of {services_file}", **where)
        if not d["mappings"]:
            continue
        for m in d["mappings"]:
            if m["target"] not in infrastructure:
                raise ModelError(f"'{name}' is distributed to '{m['target']}', which is not a target of the infrastructure", **where)

    distributed = {n for n, d in distribution.items() if d["mappings"]}
    for attr in sorted(distributed):
        s = services[attr]
        where = _where(s.get("position") or s.get("attrPosition"), services_file)
        for kind in ("dependsOn", "connectsTo"):
            for param, dep in sorted(s[kind].items()):
                if dep not in distributed:
                    raise ModelError(f"service '{attr}' depends on '{dep}' ({kind}.{param}), but '{dep}' is not distributed to any target", **where)
                if kind == "dependsOn" and s["type"] != "package" and services[dep]["type"] == "package":
                    raise ModelError(f"service '{attr}' of type '{s['type']}' depends on '{dep}', a package: "
                                     "only package services may depend on packages", **where)

    cycle = find_cycle({a: sorted(set(services[a]["dependsOn"].values()) | set(services[a]["activatesAfter"].values()))
                        for a in sorted(distributed)})
    if cycle:
        s = services[cycle[0]]
        raise ModelError("dependsOn cycle: " + " -> ".join(cycle), **_where(s.get("position") or s.get("attrPosition"), services_file))

    arch = Architecture(services={a: services[a] for a in sorted(distributed)})
    for name in sorted(distributed):
        for m in distribution[name]["mappings"]:
            container = m["container"] or services[name]["type"]
            arch.mappings.append(Mapping(service=name, target=m["target"], container=container, type=services[name]["type"]))
    return arch


def find_cycle(graph: dict[str, list[str]]) -> list[str]:
    """A dependency cycle as [a, b, ..., a], or [] when the graph has none."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep in graph and state.get(dep) is None:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return []
