# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading of model files (Nix, JSON, YAML) into plain data that knows where it came from."""

from __future__ import annotations

import bisect
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml

from ansible_collections.disnix.deploy.plugins.plugin_utils import nix_eval, nix_parser
from ansible_collections.disnix.deploy.plugins.plugin_utils.model_error import ModelError

NIX_MODES = ("auto", "always", "never")
_EXTENSIONS = {".nix": "nix", ".json": "json", ".yml": "yaml", ".yaml": "yaml"}


@dataclass
class LoadedModel:
    """A model's data, its file, how it was read, and a way to find where an attribute is."""

    data: Any
    path: str
    source: str  # "nix-instantiate" | "builtin-parser" | "json" | "yaml"
    locator: Callable[[tuple], tuple[int, int] | None] | None = field(default=None, repr=False, compare=False)
    _located: dict[tuple, tuple[int, int] | None] = field(default_factory=dict, repr=False, compare=False)

    def locate(self, attr_path: tuple) -> tuple[int, int] | None:
        """(line, column) where the attribute at attr_path is defined (list elements by
        index), or None when unknown. For nix-instantiate models this runs Nix (error paths only)."""
        key = tuple(attr_path)
        if key not in self._located:
            self._located[key] = self.locator(key) if self.locator is not None else None
        return self._located[key]


def load_model(path: str, *, nix: str = "auto", nix_instantiate: str | None = None) -> LoadedModel:
    """Read a model file by its extension: .nix (nix-instantiate or the built-in parser, as
    `nix` says: auto, always, never), .json or .yml/.yaml."""
    if nix not in NIX_MODES:
        raise ValueError(f"nix must be one of {', '.join(NIX_MODES)}, not {nix!r}")
    kind = _EXTENSIONS.get(os.path.splitext(path)[1].lower())
    if kind is None:
        raise ModelError("unknown kind of model file: the name must end in .nix, .json, .yml or .yaml", path)
    if kind == "nix":
        return _load_nix(path, nix, nix_instantiate)
    text = _read(path, "utf-8-sig")
    return _load_json(path, text) if kind == "json" else _load_yaml(path, text)


def _read(path: str, encoding: str | None = "utf-8") -> str:
    """The text of a model file (encoding None: only check that it can be read)."""
    try:
        with open(path, encoding=encoding, mode="r" if encoding else "rb") as handle:
            return handle.read() if encoding else ""
    except FileNotFoundError:
        raise ModelError("cannot read the model: no such file", path) from None
    except IsADirectoryError:
        raise ModelError("cannot read the model: it is a directory", path) from None
    except OSError as exc:
        raise ModelError(f"cannot read the model: {exc.strerror or exc}", path) from None
    except UnicodeDecodeError as exc:
        raise ModelError(f"cannot read the model: it is not UTF-8 text ({exc.reason} at byte {exc.start})", path) from None


# --- Nix ------------------------------------------------------------------------------------


def _load_nix(path: str, mode: str, nix_instantiate: str | None) -> LoadedModel:
    binary = None
    if mode == "always" or (mode == "auto" and nix_instantiate):
        # an explicitly configured nix-instantiate that is missing is a configuration error
        binary = nix_eval.require_nix_instantiate(nix_instantiate, path)
    elif mode == "auto":
        binary = nix_eval.find_nix_instantiate()
    if binary is None:
        result = nix_parser.parse(_read(path), path)
        return LoadedModel(result.data, path, "builtin-parser", result.position)
    _read(path, None)  # a clear error for a missing or unreadable file before Nix runs
    data = nix_eval.evaluate_file(path, nix_instantiate=binary)

    def locate(attr_path: tuple) -> tuple[int, int] | None:
        return nix_eval.attr_position(path, attr_path, nix_instantiate=binary)

    return LoadedModel(data, path, "nix-instantiate", locate)


# --- JSON -----------------------------------------------------------------------------------

_JSON_TOKEN_RE = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|([{}\[\]:,])|([^\s{}\[\]:,"]+))', re.DOTALL)


def _line_index(text: str) -> Callable[[int], tuple[int, int]]:
    """Offsets to 1-based (line, column), columns in characters."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_col(offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(starts, offset) - 1
        return line + 1, offset - starts[line] + 1

    return line_col


def _load_json(path: str, text: str) -> LoadedModel:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"invalid JSON: {exc.msg}", path, exc.lineno, exc.colno) from None
    except RecursionError:
        raise ModelError("invalid JSON: nested too deeply", path) from None
    positions = _JsonPositions(text, path).scan()
    return LoadedModel(data, path, "json", positions.get)


class _JsonPositions:
    """Where each key (and list element) of a valid JSON text is; duplicate keys are errors
    (json.loads would silently keep the last one)."""

    def __init__(self, text: str, path: str) -> None:
        self.toks = [(m.group(1) or m.group(2) or m.group(3), m.start(m.lastindex)) for m in _JSON_TOKEN_RE.finditer(text)]
        self.line_col = _line_index(text)
        self.path = path
        self.positions: dict[tuple, tuple[int, int]] = {}

    def scan(self) -> dict[tuple, tuple[int, int]]:
        """The positions by attribute path (list elements by index)."""
        if self.toks:
            self.value(0, ())
        return self.positions

    def value(self, i: int, path: tuple) -> int:
        """Walks the value at token i; returns the index after it."""
        tok = self.toks[i][0]
        if tok == "{":
            return self.object(i + 1, path)
        if tok == "[":
            return self.array(i + 1, path)
        return i + 1

    def object(self, i: int, path: tuple) -> int:
        """Walks the members of an object whose '{' is before token i."""
        seen: dict[str, int] = {}
        if self.toks[i][0] == "}":
            return i + 1
        while True:
            raw, offset = self.toks[i]
            key = json.loads(raw)
            if key in seen:
                line, column = self.line_col(offset)
                first_line, first_column = self.line_col(seen[key])
                first = f"{first_line}:{first_column}"
                raise ModelError(f"duplicate key {raw}: it is already defined at {first}", self.path, line, column)
            seen[key] = offset
            self.positions[path + (key,)] = self.line_col(offset)
            i = self.value(i + 2, path + (key,))  # skip the key and ':'
            if self.toks[i][0] != ",":
                return i + 1  # '}'
            i += 1

    def array(self, i: int, path: tuple) -> int:
        """Walks the elements of an array whose '[' is before token i."""
        if self.toks[i][0] == "]":
            return i + 1
        index = 0
        while True:
            self.positions[path + (index,)] = self.line_col(self.toks[i][1])
            i = self.value(i, path + (index,))
            index += 1
            if self.toks[i][0] != ",":
                return i + 1  # ']'
            i += 1


# --- YAML -----------------------------------------------------------------------------------

_YAML_MERGE_TAG = "tag:yaml.org,2002:merge"


def _load_yaml(path: str, text: str) -> LoadedModel:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_yaml_duplicates(node, path)
        data = loader.construct_document(node) if node is not None else None
        positions: dict[tuple, tuple[int, int]] = {}
        if node is not None:
            _yaml_positions(loader, node, (), positions, set())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid document"
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        raise ModelError(f"invalid YAML: {problem}{context}", path,
                         mark.line + 1 if mark else None, mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ModelError(f"invalid YAML: {exc}", path) from None
    finally:
        loader.dispose()
    return LoadedModel(data, path, "yaml", positions.get)


def _check_yaml_duplicates(root: yaml.Node, path: str) -> None:
    """Duplicate keys are an error, as in Nix (PyYAML would keep the last one)."""
    stack, visited = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple, yaml.Node] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != _YAML_MERGE_TAG:
                    ident = (key.tag, key.value)
                    if ident in seen:
                        first = seen[ident].start_mark
                        raise ModelError(f"duplicate key '{key.value}': it is already defined at {first.line + 1}:{first.column + 1}",
                                         path, key.start_mark.line + 1, key.start_mark.column + 1)
                    seen[ident] = key
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _yaml_positions(loader: yaml.SafeLoader, node: yaml.Node, path: tuple, out: dict, active: set[int]) -> None:
    if id(node) in active:  # an alias that contains itself
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = loader.construct_object(key_node, deep=True)
            out[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _yaml_positions(loader, value, path + (key,), out, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[path + (index,)] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _yaml_positions(loader, item, path + (index,), out, active)
    active.discard(id(node))
