# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nix store work on the controller: building, profiles, closures, exports, generations.

Controller generations are a Nix profile of manifests, as Disnix's coordinator profile:
`<dir>/<profile>-<N>-link` points to a manifest whose references keep the whole deployment
(target profiles and their closures) alive, so rollback can always deploy it again.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import subprocess
import tempfile
from typing import Any

from ansible_collections.disnix.deploy.plugins.module_utils import disnix_xml
from ansible_collections.disnix.deploy.plugins.plugin_utils import manifest as manifest_lib
from ansible_collections.disnix.deploy.plugins.plugin_utils.deployment_nix import MANIFEST, PROFILES


# options of doc fragment disnix.deploy.controller (every controller-side action)
CONTROLLER_ARGSPEC = {"nix_bin_dir": {"type": "path"}}

# ... and of disnix.deploy.controller.transfer (distribute, fetch_closure)
TRANSFER_ARGSPEC = {
    "paths": {"type": "list", "elements": "str", "required": True},
    "nix_store": {"type": "str", "default": "nix-store"},
    **CONTROLLER_ARGSPEC,
}


class DeployError(Exception):
    """A deployment step on the controller failed; the message says which and why."""


def _run(cmd: list[str], what: str, stdin: str | None = None, timeout: int = 3600) -> str:
    try:
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise DeployError(f"{what}: {cmd[0]} not found on the controller (install Nix: make setup)") from None
    except subprocess.TimeoutExpired:
        raise DeployError(f"{what}: {cmd[0]} did not finish within {timeout} s") from None
    if proc.returncode != 0:
        raise DeployError(f"{what} failed: {proc.stderr.strip()[-4000:]}")
    return proc.stdout


def check_store_paths(paths: list[str]) -> list[str]:
    """The non-empty entries, each a store path that is safe to put on a command line."""
    paths = [p for p in paths if p]
    for p in paths:
        if not p.startswith("/nix/store/") or any(c.isspace() for c in p):
            raise DeployError(f"not a store path: {p!r}")
    return paths


def tool(name: str, nix_bin_dir: str | None = None) -> str:
    return os.path.join(nix_bin_dir, name) if nix_bin_dir else name


# derivations per nix-store --realise call: Nix's scheduler slows down with thousands of
# goals in one call (2,000 trivial builds: 141 s at once, 24 s in chunks of 250), while a
# chunk is still big enough for every build slot (docs/performance.md)
BUILD_CHUNK = 250


def realise(drvs: list[str], nix_bin_dir: str | None = None, chunk: int = BUILD_CHUNK) -> list[str]:
    """Builds derivations, ``chunk`` per nix-store call (Nix runs a call's builds in parallel);
    the outputs, in the order of the sorted derivations."""
    unique = sorted(set(drvs))
    out: list[str] = []
    for start in range(0, len(unique), chunk):
        out += _run([tool("nix-store", nix_bin_dir), "--realise", "--quiet", *unique[start:start + chunk]],
                    "building the services").split()
    return out


def write_private(path: str, text: str) -> str:
    """Creates ``path`` (a new file, mode 0600, never through a symbolic link) holding ``text``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def evaluate_json(expression: str, args: dict[str, str], what: str, nix_bin_dir: str | None = None,
                  files: dict[str, str] | None = None) -> Any:
    """Evaluates ``expression`` with ``args`` (short strings, --argstr) and ``files`` (text of any
    size: written to private files whose paths the expression gets, never on the command line)."""
    with tempfile.TemporaryDirectory(prefix="disnix-") as tmp:
        path = write_private(os.path.join(tmp, "expr.nix"), expression)
        cmd = [tool("nix-instantiate", nix_bin_dir), "--eval", "--strict", "--json", "--read-write-mode", path]
        for k, v in args.items():
            cmd += ["--argstr", k, v]
        for i, (k, v) in enumerate(sorted((files or {}).items())):
            cmd += ["--argstr", k, write_private(os.path.join(tmp, f"arg-{i}"), v)]
        return json.loads(_run(cmd, what))


# in every profilemanifest.json: a profile built by other expressions is never reused
BUILDER = hashlib.sha256((PROFILES + MANIFEST).encode("utf-8")).hexdigest()[:16]


def profile_files(manifest: dict[str, Any], target: str) -> dict[str, str]:
    """The files of a target's profile manifest directory: name -> text."""
    ours = manifest_lib.profile_manifest(manifest, target)
    return {"profilemanifest.json": json.dumps(dict(ours, builder=BUILDER), sort_keys=True, indent=1),
            disnix_xml.PROFILE_MANIFEST_XML: disnix_xml.profile_manifest_xml(target, ours["services"])}


def build_profiles(manifest: dict[str, Any], nix_bin_dir: str | None = None) -> dict[str, str]:
    """Builds every target's profile and records it in the manifest: {target: store path}."""
    with tempfile.TemporaryDirectory(prefix="disnix-profiles-") as tmp:
        spec = {}
        for number, target in enumerate(sorted(manifest["targets"])):
            # numbered, not named after the target: a name never becomes a path
            mdir = os.path.join(tmp, str(number))
            os.mkdir(mdir, 0o700)
            for name, text in profile_files(manifest, target).items():
                write_private(os.path.join(mdir, name), text)
            spec[target] = {"services": manifest_lib.services_on(manifest, target), "manifestDir": mdir,
                            "name": profile_store_name(target)}
        profiles = evaluate_json(PROFILES, {}, "instantiating the target profiles", nix_bin_dir,
                                 files={"specFile": json.dumps(spec)})
    realise([p["drv"] for p in profiles.values()], nix_bin_dir)
    for target, p in profiles.items():
        manifest["targets"][target]["profile"] = p["out"]
    return {t: p["out"] for t, p in profiles.items()}


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


def reuse_generation(manifest: dict[str, Any], old: dict[str, Any] | None, old_path: str | None) -> bool:
    """Whether ``manifest`` (composed, no profiles yet) is the generation at ``old_path``:
    every target's profile manifest files and the manifest's own text as they would be
    written now, byte for byte, with the same expressions (BUILDER). Then its profiles and
    manifest are old's, which the generation keeps in the store (a garbage collector root),
    and nothing needs building: a no-op is spared four Nix processes. The manifest gets
    old's profiles when it is."""
    if not old or not old_path or set(old.get("targets") or {}) != set(manifest["targets"]):
        return False
    profiles = {}
    for target in manifest["targets"]:
        profile = old["targets"][target].get("profile")
        if not profile or not os.path.basename(profile).endswith("-" + profile_store_name(target)):
            return False
        for name, text in profile_files(manifest, target).items():
            if _read(os.path.join(profile, name)) != text:
                return False
        profiles[target] = profile
    candidate = dict(manifest, targets={t: dict(v, profile=profiles[t]) for t, v in manifest["targets"].items()})
    if _read(old_path) != manifest_lib.to_xml(candidate):
        return False
    for target, profile in profiles.items():
        manifest["targets"][target]["profile"] = profile
    return True


def profile_store_name(target: str) -> str:
    """The store path name of a target's profile: the target's name, as upstream names it
    (upstream's --set only switches to a path of the same length), with characters a store
    path name cannot hold replaced by '_'."""
    name = re.sub(r"[^A-Za-z0-9+\-._?=]", "_", target)
    return ("_" + name[1:] if name.startswith(".") else name)[:200]


def add_manifest(manifest: dict[str, Any], nix_bin_dir: str | None = None) -> str:
    """The manifest as a store path (Disnix's manifest.xml) that references every target profile."""
    refs = sorted(t["profile"] for t in manifest["targets"].values() if t["profile"])
    return evaluate_json(MANIFEST, {}, "adding the manifest to the store", nix_bin_dir,
                         files={"textFile": manifest_lib.to_xml(manifest), "refsFile": json.dumps(refs)})


def closure(path: str, nix_bin_dir: str | None = None) -> list[str]:
    """The closure of a path, dependencies before dependants (the order nix-store --import needs)."""
    return closures([path], nix_bin_dir)[path]


def closures(paths: list[str], nix_bin_dir: str | None = None) -> dict[str, list[str]]:
    """The closure of each path, dependencies before dependants, from one query of the
    store's reference graph (``nix path-info --json --recursive``) rather than a
    ``nix-store --query --requisites`` per path."""
    roots = sorted(set(paths))
    if not roots:
        return {}
    out = _run([tool("nix", nix_bin_dir), "--extra-experimental-features", "nix-command", "path-info", "--json",
                "--recursive", *roots], "querying closures")
    refs = reference_graph(json.loads(out))
    return {root: dependency_order(root, refs) for root in roots}


def reference_graph(info: Any) -> dict[str, list[str]]:
    """path -> its references but itself, from ``nix path-info --json``: a list of objects
    with ``path`` (Nix before 2.19) or an object keyed by path (later)."""
    items = info.items() if isinstance(info, dict) else ((i.get("path"), i) for i in info)
    refs: dict[str, list[str]] = {}
    for path, entry in items:
        if not isinstance(entry, dict) or entry.get("valid") is False:
            raise DeployError(f"querying closures: {path} is not in the controller's store")
        refs[path] = sorted(r for r in entry.get("references", []) if r != path)
    return refs


def dependency_order(root: str, refs: dict[str, list[str]]) -> list[str]:
    """The closure of ``root`` with every path after the paths it references (depth first,
    without recursion: closures can be deep)."""
    order: list[str] = []
    seen = {root}
    stack = [(root, iter(refs.get(root, [])))]
    while stack:
        path, pending = stack[-1]
        for ref in pending:
            if ref not in seen:
                seen.add(ref)
                stack.append((ref, iter(refs.get(ref, []))))
                break
        else:
            stack.pop()
            order.append(path)
    return order


def export(paths: list[str], dest: str, nix_bin_dir: str | None = None) -> None:
    """Exports ``paths`` into ``dest``, a new file (0600, O_EXCL, never through a link)."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as out:
        proc = subprocess.run([tool("nix-store", nix_bin_dir), "--export", *paths], stdout=out,
                              stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        raise DeployError("exporting store paths failed: " + proc.stderr.decode(errors="replace").strip())


# ---------------------------------------------------------------------------- generations

def coordinator_profile(profile: str, profile_dir: str | None = None) -> str:
    """Disnix's coordinator profile location, per user."""
    base = profile_dir or os.path.join("/nix/var/nix/profiles/per-user", getpass.getuser(), "disnix-coordinator")
    return os.path.join(base, profile)


def generations(profile_path: str) -> dict[int, str]:
    """{generation number: manifest store path} of a coordinator profile."""
    directory, name = os.path.split(profile_path)
    found: dict[int, str] = {}
    if not os.path.isdir(directory):
        return found
    pattern = re.compile(re.escape(name) + r"-(\d+)-link$")
    for entry in os.listdir(directory):
        match = pattern.match(entry)
        if match:
            found[int(match.group(1))] = os.readlink(os.path.join(directory, entry))
    return found


def current_generation(profile_path: str) -> int | None:
    try:
        link = os.readlink(profile_path)
    except OSError:
        return None
    match = re.search(r"-(\d+)-link$", link)
    return int(match.group(1)) if match else None


def load_manifest(path: str | None, profile: str = "default") -> dict[str, Any] | None:
    """A coordinator generation's manifest: Disnix's manifest.xml (upstream's or ours), or
    the JSON manifest of this collection's earlier versions. A DeployError names the file."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise DeployError(f"cannot read the coordinator manifest {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise DeployError(f"cannot read the coordinator manifest {path}: not JSON ({exc})") from None
    try:
        return manifest_lib.from_xml(text, path, profile)
    except manifest_lib.ManifestFormatError as exc:
        raise DeployError(str(exc)) from None


def set_generation(profile_path: str, manifest_path: str, nix_bin_dir: str | None = None) -> int:
    """Makes the manifest the current generation (a new one unless it already is)."""
    os.makedirs(os.path.dirname(profile_path), exist_ok=True)
    _run([tool("nix-env", nix_bin_dir), "--profile", profile_path, "--set", manifest_path], "setting the controller generation")
    gen = current_generation(profile_path)
    if gen is None:
        raise DeployError(f"{profile_path} has no generation after nix-env --set")
    return gen


def switch_generation(profile_path: str, number: int, nix_bin_dir: str | None = None) -> None:
    _run([tool("nix-env", nix_bin_dir), "--profile", profile_path, "--switch-generation", str(number)],
         f"switching the controller to generation {number}")


def invalid_paths(paths: list[str], nix_bin_dir: str | None = None) -> list[str]:
    """Those of the paths that the controller's store lacks, in the given order."""
    if not paths:
        return []
    proc = subprocess.run([tool("nix-store", nix_bin_dir), "--check-validity", "--print-invalid", *paths],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise DeployError("checking store paths failed: " + proc.stderr.strip())
    invalid = set(proc.stdout.split())
    return [p for p in paths if p in invalid]


def import_file(path: str, nix_bin_dir: str | None = None) -> None:
    with open(path, "rb") as src:
        proc = subprocess.run([tool("nix-store", nix_bin_dir), "--import"], stdin=src, capture_output=True, check=False)
    if proc.returncode != 0:
        raise DeployError("importing store paths failed: " + proc.stderr.decode(errors="replace").strip())


def buildable_systems(nix_bin_dir: str | None = None) -> set[str]:
    """The systems the controller's Nix builds: `system` plus `extra-platforms` (and
    builtin derivations, which build anywhere)."""
    out = _run([tool("nix", nix_bin_dir), "--extra-experimental-features", "nix-command", "show-config"],
               "reading the controller's Nix configuration")
    systems = {"builtin"}
    for line in out.splitlines():
        key, _sep, value = line.partition(" = ")
        if key.strip() in ("system", "extra-platforms"):
            systems.update(value.split())
    return systems


def derivation_closure(drvs: list[str], nix_bin_dir: str | None = None) -> list[str]:
    """What a target needs to build these derivations itself: their closure (.drv files and sources)."""
    if not drvs:
        return []
    return _run([tool("nix-store", nix_bin_dir), "--query", "--requisites", *drvs], "querying derivation closures").split()
