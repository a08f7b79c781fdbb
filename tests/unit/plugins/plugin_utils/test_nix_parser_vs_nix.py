# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests: random models in the supported Nix subset give the same data and the same
attribute positions with the built-in parser as with the real nix-instantiate."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.disnix.deploy.plugins.plugin_utils.model_error import ModelError
from ansible_collections.disnix.deploy.plugins.plugin_utils.nix_parser import parse

from ansible_collections.disnix.deploy.tests.unit.plugins.plugin_utils.nix_model_support import HAVE_NIX, nix_evaluate

pytestmark = pytest.mark.skipif(not HAVE_NIX, reason="needs nix-instantiate")

# Reproducible by default; DISNIX_PARSER_EXAMPLES=500 (say) runs many random examples instead.
THOROUGH = int(os.environ.get("DISNIX_PARSER_EXAMPLES", "0"))
SETTINGS = settings(max_examples=THOROUGH or 60, deadline=None, database=None, derandomize=not THOROUGH,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ("true" and "null" as names are tested by hand: in a rec set they shadow the constants, which
# here would make values that contain themselves)
IDENTIFIERS = ["a", "b", "c", "hostname", "system", "numOfCores", "foo-bar", "x'", "_p", "or", "properties",
               "containers", "A1", "a-b'c", "false_"]
QUOTED_NAMES = ['"foo bar"', '"a.b"', '"x\\"y"', '"é"', '""', '"1st"', '"with\\nnewline"']
WHITESPACE = [" ", " ", " ", "\n", "\n    ", "\t", " # a comment\n", " /* block\n comment */ ", "/**/", "\r\n"]


@dataclass
class Scope:
    """What a generated expression may refer to without an error."""

    strings: list[str] = field(default_factory=list)  # string-valued expressions (variables, selections)
    ints: list[str] = field(default_factory=list)
    sets: dict[str, list[str]] = field(default_factory=dict)  # set variable -> its attribute names

    def with_strings(self, *names: str) -> Scope:
        return Scope(self.strings + list(names), list(self.ints), dict(self.sets))


def sp(draw) -> str:
    return draw(st.sampled_from(WHITESPACE))


# --- scalars --------------------------------------------------------------------------------

def render_float(value: float) -> str:
    text = repr(value)
    mantissa, _e, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + ("e" + exponent if exponent else "")


@st.composite
def number(draw) -> str:
    kind = draw(st.sampled_from(["int", "int", "float", "literal_float"]))
    if kind == "int":
        return str(draw(st.integers(min_value=0, max_value=2**63 - 1)))
    if kind == "float":
        return render_float(draw(st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False)))
    return draw(st.sampled_from(["1.5", ".5", "3.", "0.0", "1.5e3", "2.5E-2", "0.001", "123456.789", "1.e2", "0.1234567891"]))


@st.composite
def neg_number(draw) -> str:
    inner = draw(number())
    form = draw(st.sampled_from(["-{}", "- {}", "-({})", "(-{})", "-(-{})"]))
    return form.format(inner)


# --- strings --------------------------------------------------------------------------------

DQ_FRAGMENTS = ["a", "Z", " ", "é", "€", "\n", "\\n", "\\t", "\\r", "\\\\", '\\"', "\\$", "\\q", "$", "$$", "$${", "{", "}",
                "'", "''", "#", "/*", "\\${x}", "\t"]


@st.composite
def dq_string(draw, scope: Scope, depth: int = 2) -> str:
    parts = draw(st.lists(st.sampled_from(DQ_FRAGMENTS + ["<interp>"] * 2), max_size=8))
    out = []
    for part in parts:
        if part == "<interp>":
            part = "${" + sp(draw) + draw(string_expr(scope, depth - 1)) + sp(draw) + "}" if depth > 0 else "x"
        if out and out[-1].endswith("$") and part.startswith(("{", "$")):
            part = " " + part  # joined, the '$'s could pair up differently and start (or hide) an interpolation
        out.append(part)
    return '"' + "".join(out) + '"'


IND_FRAGMENTS = ["a", "b c", " ", "  ", "\t", "é", "''$", "'''", "''\\n", "''\\t", "''\\ ", "''\\q", "$", "$$", "'", "x'y",
                 "\\n", '"', "{", "}"]


@st.composite
def ind_string(draw, scope: Scope, depth: int = 2) -> str:
    lines = draw(st.lists(st.tuples(st.integers(0, 6), st.lists(st.sampled_from(IND_FRAGMENTS + ["<interp>"]), max_size=4)),
                          max_size=5))
    first_newline = draw(st.booleans())
    trailing_indent = draw(st.integers(0, 4))
    text_lines = []
    for indent, parts in lines:
        out = []
        for part in parts:
            if part == "<interp>":
                part = "${" + draw(string_expr(scope, depth - 1)) + "}" if depth > 0 else "i"
            if out and out[-1].endswith("$") and part.startswith(("{", "$")):
                part = "_" + part
            if out and out[-1].endswith("'") and part.startswith("'"):
                part = "_" + part  # '' would end the string
            out.append(part)
        text_lines.append(" " * indent + "".join(out))
    body = "\n".join(text_lines)
    if body.endswith("'"):
        body += "_"
    opener = "''" + (draw(st.sampled_from(["", "  "])) + "\n" if first_newline else "")
    closer = ("\n" + " " * trailing_indent if draw(st.booleans()) else "") + "''"
    return opener + body + closer


@st.composite
def string_expr(draw, scope: Scope, depth: int = 1) -> str:
    """An expression whose value is a string."""
    options = ["dq", "ind"] + (["ref"] * 3 if scope.strings else [])
    kind = draw(st.sampled_from(options))
    if kind == "ref":
        return draw(st.sampled_from(scope.strings))
    if kind == "ind":
        return draw(ind_string(scope, depth))
    return draw(dq_string(scope, depth))


# --- values and sets ------------------------------------------------------------------------

def scalar(scope: Scope) -> st.SearchStrategy[str]:
    """Numbers, constants, strings, and references to what is in scope."""
    refs = scope.strings + scope.ints + [f"{s}.{a}" for s, attrs in scope.sets.items() for a in attrs] + list(scope.sets)
    options = [number(), neg_number(), st.sampled_from(["true", "false", "null"]), string_expr(scope, 1), string_expr(scope, 1)]
    return st.one_of(options + ([st.sampled_from(refs)] if refs else []))


@st.composite
def value(draw, scope: Scope, depth: int) -> str:
    if depth <= 0 or draw(st.integers(0, 11)) < 7:
        return draw(scalar(scope))
    kind = draw(st.sampled_from(["set", "set", "list", "let", "paren"]))
    if kind == "set":
        return draw(attr_set(scope, depth - 1))
    if kind == "list":
        items = draw(st.lists(value(scope, depth - 1), max_size=4))
        # list elements are selections in Nix's grammar: anything else needs parentheses
        items = [f"({item})" if item.startswith(("-", "let")) else item for item in items]
        return "[" + sp(draw) + sp(draw).join(items) + sp(draw) + "]"
    if kind == "paren":
        return "(" + draw(value(scope, depth - 1)) + ")"
    # let: a string variable visible only in its body
    name = draw(st.sampled_from(["ls", "ls2"]))
    binding = draw(string_expr(scope, 1))
    body = draw(value(scope.with_strings(name), depth - 1))
    return f"let {name} = {binding};{sp(draw)}in{sp(draw)}{body}"


@st.composite
def attr_name(draw) -> str:
    return draw(st.sampled_from(IDENTIFIERS + QUOTED_NAMES))


def name_key(name: str) -> str:
    """The attribute name a rendered name stands for."""
    return json.loads(name.replace("\\$", "$")) if name.startswith('"') else name


@st.composite
def attr_set(draw, scope: Scope, depth: int) -> str:
    """A set literal rendered in one of the styles Nix merges (braces, dotted paths, split)."""
    rec = draw(st.booleans()) and depth >= 0
    names = draw(st.lists(attr_name(), max_size=5, unique_by=name_key))
    inner_scope = scope
    bindings: list[str] = []
    if rec:
        # rec attributes that later values may use (unique names, so nothing shadows them)
        count = draw(st.integers(0, 2))
        rec_names = [f"r{depth}x{i}" for i in range(count)]  # depth falls with nesting: no shadowing
        for rec_name in rec_names:
            bindings.append(f"{rec_name} = {draw(string_expr(scope, 1))};")
        inner_scope = scope.with_strings(*rec_names)
    for name in names:
        bindings.extend(draw(binding(name, inner_scope, depth)))
    if draw(st.booleans()) and (scope.strings or scope.sets):
        bindings.append(draw(inherit(scope, {name_key(n) for n in names})))
    order = draw(st.permutations(range(len(bindings)))) if not rec else range(len(bindings))
    body = sp(draw).join(bindings[i] for i in order)
    return ("rec " if rec else "") + "{" + sp(draw) + body + sp(draw) + "}"


@st.composite
def inherit(draw, scope: Scope, taken: set[str]) -> str:
    if scope.sets and draw(st.booleans()):
        source = draw(st.sampled_from(sorted(scope.sets)))
        attrs = [a for a in scope.sets[source] if a not in taken]
        if attrs:
            picked = draw(st.lists(st.sampled_from(attrs), min_size=1, unique=True))
            return f"inherit ({source}) {' '.join(picked)};"
    variables = [s for s in scope.strings + scope.ints if s.isidentifier() and s not in taken]
    if not variables:
        return ""
    picked = draw(st.lists(st.sampled_from(variables), min_size=1, unique=True))
    return f"inherit {' '.join(picked)};"


@st.composite
def binding(draw, name: str, scope: Scope, depth: int) -> list[str]:
    """`name = value;` or, for a nested set, dotted paths and split definitions that merge."""
    style = draw(st.sampled_from(["plain", "plain", "dotted", "split"])) if depth > 0 else "plain"
    if style == "plain":
        return [f"{name}{sp(draw)}={sp(draw)}{draw(value(scope, depth))};"]
    children = draw(st.lists(attr_name(), min_size=1, max_size=3, unique_by=name_key))
    per_child = [draw(binding(child, scope, depth - 1)) for child in children]
    if style == "dotted":
        return [f"{name}.{b}" for bindings in per_child for b in bindings]
    # the set literal and the dotted paths merge; they may not define the same child twice
    cut = draw(st.integers(0, len(per_child)))
    literal = f"{name} = {{ {' '.join(b for bindings in per_child[:cut] for b in bindings)} }};"
    dotted = [f"{name}.{b}" for bindings in per_child[cut:] for b in bindings]
    return [literal] + dotted if draw(st.booleans()) else dotted + [literal]


@st.composite
def model(draw) -> str:
    """A whole file: an optional top-level let with string, int and set variables, then a set."""
    scope = Scope()
    lets = []
    if draw(st.booleans()):
        lets.append(f"v0 = {draw(dq_string(Scope(), 1))};")
        lets.append(f"v1 = {draw(number())};")
        lets.append('v2 = { s = "in v2"; i = 3; n.s = ' + draw(dq_string(Scope(), 0)) + "; };")
        lets.append('v3 = "${v0}-${v2.n.s}";')
        scope = Scope(strings=["v0", "v2.s", "v2.n.s", "v3"], ints=["v1", "v2.i"], sets={"v2": ["s", "i", "n"]})
    top = draw(attr_set(scope, 3))
    text = (f"let{sp(draw)}" + sp(draw).join(lets) + f"{sp(draw)}in{sp(draw)}" + top) if lets else top
    return draw(st.sampled_from(["", "# header\n", "/* header */ "])) + text + draw(st.sampled_from(["", "\n", " # end"]))


def recorded_paths(result, limit: int = 12) -> list[tuple]:
    """A sample of the attribute paths the parser recorded (the last element a name)."""
    paths = [p for p in result.offsets if isinstance(p[-1], str)]
    step = max(1, len(paths) // limit)
    return paths[::step][:limit]


def check_same_as_nix(texts: list[str]) -> None:
    mine = []
    for text in texts:
        try:
            mine.append(parse(text, "m.nix"))
        except ModelError as exc:
            mine.append(exc)
    paths = [recorded_paths(r) if not isinstance(r, ModelError) else [] for r in mine]
    theirs = nix_evaluate(texts, paths)
    for text, result, reference, wanted in zip(texts, mine, theirs, paths):
        if isinstance(result, ModelError):
            assert not reference.ok, f"the built-in parser failed ({result}) where Nix did not:\n{text}"
            continue
        assert reference.ok, f"Nix failed ({reference.error}) where the built-in parser did not:\n{text}"
        assert json.dumps(result.data, sort_keys=True) == json.dumps(reference.data, sort_keys=True), text
        for path, position in zip(wanted, reference.positions):
            assert result.position(path) == position, f"position of {path} in:\n{text}"


@SETTINGS
@given(st.lists(model(), min_size=1, max_size=3))
def test_random_models_evaluate_like_nix(texts):
    check_same_as_nix(texts)


@SETTINGS
@given(st.lists(st.one_of(dq_string(Scope(strings=['"s"']), 2), ind_string(Scope(strings=['"s"']), 2)), min_size=1, max_size=12))
def test_random_strings_evaluate_like_nix(strings):
    text = "{\n" + "".join(f"  s{i} = {s};\n" for i, s in enumerate(strings)) + "}\n"
    check_same_as_nix([text])
