# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Old generations of Disnix profiles and the garbage collection of what they kept alive.

Only the named profiles lose generations (never every profile of the machine, as
``nix-collect-garbage -d`` would); the current generation and the newest ``keep`` ones stay,
so nothing the current deployment needs becomes garbage. Works on targets (the profiles in
/nix/var/nix/profiles/disnix) and on the controller (its coordinator profiles).

Runs on targets: Python 3.8+, standard library only.
"""

from __future__ import annotations

import os
import re

from ansible_collections.disnix.deploy.plugins.module_utils import nix_tools, profiles
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError, check_profile_name

_GENERATION_LINK = re.compile(r"-\d+-link$")


def profile_names(directory: str) -> list[str]:
    """The profiles of a profile directory: its symbolic links that are not generation links."""
    try:
        entries = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise TargetError("cannot read the profile directory %s: %s" % (directory, exc.strerror or exc))
    return [e for e in entries if not _GENERATION_LINK.search(e) and os.path.islink(os.path.join(directory, e))]


def old_generations(link: str, keep: int) -> list[int]:
    """Generations of the profile ``link`` that go when ``keep`` are kept: every generation but
    the current one and the newest ``keep`` (the current one counts among them)."""
    if keep < 1:
        raise TargetError("keep must be at least 1 (the current generation always stays), got %d" % keep)
    numbers = profiles.generations(link)
    current = profiles.current_generation(link)
    if current is None:
        kept = set(numbers[-keep:])
    else:
        # the current one counts: keep N is the current one and the N-1 newest others
        others = [n for n in numbers if n != current]
        kept = {current, *(others[-(keep - 1):] if keep > 1 else [])}
    return [n for n in numbers if n not in kept]


def generation_link(link: str, number: int) -> str:
    return "%s-%d-link" % (link, number)


def plan(directory: str, names: list[str] | None, keep: int) -> list[dict]:
    """What deleting old generations would remove: one entry per generation, with its store path."""
    result = []
    for name in names if names is not None else profile_names(directory):
        link = os.path.join(directory, check_profile_name(name))
        for number in old_generations(link, keep):
            path = generation_link(link, number)
            result.append({"profile": name, "generation": number, "link": path,
                           "path": os.path.realpath(path) if os.path.lexists(path) else None})
    return result


def delete(entries: list[dict]) -> None:
    for entry in entries:
        try:
            os.unlink(entry["link"])
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise TargetError("cannot delete generation %s: %s" % (entry["link"], exc.strerror or exc))


def _store_lines(argv: list[str], tmpdir: str | None) -> list[str]:
    return [line for line in nix_tools.run_checked(argv, tmpdir=tmpdir).splitlines() if line.startswith("/")]


def _query(option: str, paths: list[str], tmpdir: str | None) -> list[str]:
    """``nix-store --query <option>`` over any number of paths (in as few calls as ARG_MAX allows)."""
    nix_store = nix_tools.find_tool("nix-store")
    out: list[str] = []
    for chunk in nix_tools._argv_chunks(sorted(set(paths))):  # pylint: disable=protected-access
        if chunk:
            out.extend(nix_tools.run_checked([nix_store, "--query", option, *chunk], tmpdir=tmpdir).split())
    return out


def _top_level(path: str) -> str:
    """The store path a path inside the store belongs to."""
    prefix = nix_tools.store_dir() + "/"
    return prefix + path[len(prefix):].split("/", 1)[0] if path.startswith(prefix) else path


def _sizes(paths: list[str], tmpdir: str | None) -> int:
    return sum(int(x) for x in _query("--size", paths, tmpdir))


def would_be_dead(entries: list[dict], tmpdir: str | None = None) -> list[str]:
    """The store paths a garbage collection would delete once ``entries`` are gone: what is dead
    now, plus what only those generations keep alive."""
    nix_store = nix_tools.find_tool("nix-store")
    dead = set(_store_lines([nix_store, "--gc", "--print-dead"], tmpdir))
    going = {e["link"] for e in entries}
    going_paths = sorted({e["path"] for e in entries if e["path"]})
    if going_paths:
        roots = set()
        for line in nix_tools.run_checked([nix_store, "--gc", "--print-roots"], tmpdir=tmpdir).splitlines():
            root, sep, path = line.rpartition(" -> ")
            if sep and root not in going and path.startswith(nix_tools.store_dir() + "/"):
                roots.add(_top_level(path))
        valid_roots = sorted(roots - set(nix_tools.invalid_paths(sorted(roots), tmpdir=tmpdir)))
        live = set(_query("--requisites", valid_roots, tmpdir))
        dead |= set(_query("--requisites", going_paths, tmpdir)) - live
    return sorted(dead)


def collect(entries: list[dict], check_mode: bool, collect_garbage: bool, tmpdir: str | None = None) -> dict:
    """Deletes the generations ``entries`` and, with ``collect_garbage``, collects the store.
    In check mode only reports what would go and the space it would free."""
    result: dict = {"generations": entries, "dead_paths": [], "freed_bytes": 0}
    if collect_garbage:
        dead = would_be_dead(entries, tmpdir) if check_mode else None
        if not check_mode:
            delete(entries)
            dead = would_be_dead([], tmpdir)
        result["dead_paths"] = dead
        result["freed_bytes"] = _sizes(dead, tmpdir) if dead else 0
        if not check_mode and dead:
            nix_tools.run_checked([nix_tools.find_tool("nix-store"), "--gc"], tmpdir=tmpdir)
    elif not check_mode:
        delete(entries)
    result["changed"] = bool(entries) or bool(result["dead_paths"])
    return result
