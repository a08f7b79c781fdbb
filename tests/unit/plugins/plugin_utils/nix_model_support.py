# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helpers: evaluate several Nix texts, and attribute positions in them, with one call
of the real nix-instantiate (the reference the built-in parser is compared with)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any

HAVE_NIX = shutil.which("nix-instantiate") is not None

# For each request: the file's value and the unsafeGetAttrPos of each attribute path.
# tryEval cannot catch every error, so a batch that fails is retried one text at a time.
_BATCH_EXPR = """{ requests }:
let
  posOf = value: path:
    let
      step = acc: key:
        if acc == null then null
        else if builtins.isInt key then
          (if builtins.isList acc.v && key < builtins.length acc.v then { v = builtins.elemAt acc.v key; pos = null; } else null)
        else if builtins.isAttrs acc.v && builtins.hasAttr key acc.v
        then { v = builtins.getAttr key acc.v; pos = builtins.unsafeGetAttrPos key acc.v; }
        else null;
      result = builtins.foldl' step { v = value; pos = null; } path;
    in if result == null || result.pos == null then null else [ result.pos.line result.pos.column ];
in map (r: let value = import r.file; in { data = value; positions = map (posOf value) r.paths; })
  (builtins.fromJSON (builtins.readFile requests))
"""


@dataclass
class NixResult:
    """What Nix made of one text: data and positions, or the first line of its error."""

    ok: bool
    data: Any = None
    positions: list | None = None
    error: str = ""


def _run(requests: list[dict], tmp: str) -> subprocess.CompletedProcess:
    req_file = os.path.join(tmp, "requests.json")
    with open(req_file, "w", encoding="utf-8") as handle:
        json.dump(requests, handle)
    proc = subprocess.run(
        ["nix-instantiate", "--eval", "--strict", "--json", "-E", _BATCH_EXPR, "--argstr", "requests", req_file],
        capture_output=True, timeout=120, check=False,
    )
    # a failed run may stop in the middle of a UTF-8 sequence
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                                       proc.stderr.decode("utf-8", "replace"))


def nix_evaluate(texts: list[str], paths: list[list[tuple]] | None = None) -> list[NixResult]:
    """Evaluate each text with Nix, and the positions of the given attribute paths in it."""
    paths = paths or [[] for _text in texts]
    with tempfile.TemporaryDirectory() as tmp:
        requests = []
        for index, text in enumerate(texts):
            file = os.path.join(tmp, f"m{index}.nix")
            with open(file, "w", encoding="utf-8") as handle:
                handle.write(text)
            requests.append({"file": file, "paths": [list(p) for p in paths[index]]})
        proc = _run(requests, tmp)
        if proc.returncode == 0:
            return [NixResult(True, r["data"], [tuple(p) if p else None for p in r["positions"]]) for r in json.loads(proc.stdout)]
        if len(texts) == 1:
            return [NixResult(False, error=_first_error_line(proc.stderr))]
        return [nix_evaluate([text], [p])[0] for text, p in zip(texts, paths)]


def _first_error_line(stderr: str) -> str:
    for line in stderr.splitlines():
        if line.startswith("error:"):
            return line
    return stderr.strip()
