# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Built-in parser and evaluator for the static subset of Nix used by infrastructure models.

It lets the controller read ``infrastructure.nix`` without Nix installed. The subset:
attribute sets (``rec`` too) with nested attribute paths, both string kinds with
interpolation, numbers, ``true``/``false``/``null``, lists, comments, ``let ... in``,
``inherit``, variables and attribute selection. The result is the data that
``nix-instantiate --eval --strict --json`` prints for the same file (Nix 2.8), plus the
position of every attribute as ``builtins.unsafeGetAttrPos`` reports it.

Everything else (functions, ``import``, ``with``, operators, paths, ...) raises
:class:`UnsupportedNixError`, which tells the user to install Nix.

The lexer and the grammar follow Nix's own (src/libexpr/lexer.l and parser.y of Nix 2.8),
including the corner cases that change the result: ``$${`` is literal text, the indentation
stripping of ``''`` strings, the merging of ``a = { ... }; a.b = ...;``, the static scoping
of ``rec`` sets and the float formatting of the JSON output.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.disnix.deploy.plugins.plugin_utils.model_error import ModelError, UnsupportedNixError

# Exact type checks (type(x) is ...) on the hot path are deliberate: faster than isinstance, and
# a bool must not pass for an int. Syntax nodes and values are small slotted records.
# The lexer, parser, evaluator and JSON conversion of one language stay in one module.
# pylint: disable=unidiomatic-typecheck,too-few-public-methods,too-many-lines

__all__ = ["ParseResult", "parse", "parse_file"]

# --------------------------------------------------------------------------------------------
# Lexer
# --------------------------------------------------------------------------------------------

_PATH_CHAR = r"[a-zA-Z0-9._\-+]"
# One regex for the default lexer state. Whitespace and comments are folded into the prefix of
# every match, so each loop iteration yields one token. Alternatives are ordered so that the
# first one that matches is also flex's longest match (paths and URIs before identifiers and
# numbers; atomic groups keep the failed attempts linear).
_TOKEN_RE = re.compile(
    r"(?:[ \t\r\n]++|\#[^\r\n]*+|/\*(?:[^*]|\*++[^*/])*+\*++/)*+"
    r"(?:"
    # fast paths for the commonest tokens: punctuation, and names that cannot go on as a path or URI
    r"(?P<punct>[;{}\[\](),]|=(?!=))"
    r"|(?P<id>[a-zA-Z_][a-zA-Z0-9_'\-]*+)(?![.+/:])"
    r'|"(?P<str>[^"\\$\r]*+)"'
    rf"|(?P<path>(?>{_PATH_CHAR}*)(?:/{_PATH_CHAR}++)++/?+|~(?:/{_PATH_CHAR}++)++/?+|<{_PATH_CHAR}++(?:/{_PATH_CHAR}++)*+>)"
    r"|(?P<uri>(?>[a-zA-Z][a-zA-Z0-9+\-.]*+):[a-zA-Z0-9%/?:@&=+$,\-_.!~*']++)"
    r"|(?P<float>(?:[1-9][0-9]*+\.[0-9]*+|0?\.[0-9]++)(?:[Ee][+-]?[0-9]++)?+)"
    r"|(?P<int>[0-9]++)"
    r"|(?P<id2>[a-zA-Z_][a-zA-Z0-9_'\-]*+)"
    r'|(?P<sopen>")'
    r"|(?P<iopen>''(?: *+\n)?+)"
    r"|(?P<ucomment>/\*)"
    r"|(?P<op>\.\.\.|==|!=|<=|>=|&&|\|\||->|//|\+\+|\$\{|[-+*/<>!?@:.;,=(){}\[\]])"
    r"|(?P<eof>\Z)"
    r"|(?P<bad>[\s\S])"
    r")"
)
# Inside "...": text (Nix's STR rule, including a '$' just before the closing quote), ${, or ".
_STR_PART_RE = re.compile(
    r'(?P<text>(?:[^$"\\]|\$[^{"\\]|\\[\s\S]|\$\\[\s\S])++(?:\$(?="))?+|\$(?="))'
    r'|(?P<interp>\$\{)|(?P<end>")'
)
# Inside ''...'': escapes first (they are longer than the closing ''), then text.
_IND_PART_RE = re.compile(
    r"(?P<esc>''\\[\s\S]|'''|''\$)|(?P<interp>\$\{)|(?P<end>'')"
    r"|(?P<text>(?:[^$']|\$[^{']|'[^'$])++)|(?P<single>[$'])"
)
_LINES_RE = re.compile(r"(\n)")
_ESCAPE_RE = re.compile(r"\\([\s\S])|\r\n?")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}

_KEYWORDS = frozenset(("if", "then", "else", "assert", "with", "let", "in", "rec", "inherit", "or"))
_BINARY_OPS = frozenset(("+", "-", "*", "/", "++", "//", "==", "!=", "<", ">", "<=", ">=", "&&", "||", "->", "?"))
# Names Nix 2.8 binds in the global scope besides true/false/null (plus every __name).
_GLOBALS = frozenset((
    "abort", "baseNameOf", "break", "builtins", "derivation", "derivationStrict", "dirOf", "fetchGit", "fetchMercurial",
    "fetchTarball", "fetchTree", "fromTOML", "import", "isNull", "map", "placeholder", "removeAttrs", "scopedImport",
    "throw", "toString",
))
_CONSTANTS = {"true": True, "false": False, "null": None}
_INT_MAX = 2**63 - 1
_FLOAT_MIN_NORMAL = 2.2250738585072014e-308

# A token: (kind, value, start offset, end offset). Kinds: 'id', 'int', 'float', 'str' (a
# string without interpolation), 'sopen'/'text'/'send' and 'iopen'/'itext'/'iend' (strings with
# parts), 'interp' (the ${ inside a string), 'path', 'uri', 'eof', a keyword, or an operator.
Token = tuple


_REF_RE = re.compile("\x00([0-9]+)\x00")


def _ref(offset: int) -> str:
    """A place in a message, written as line:column once the source is known (NUL cannot
    occur in Nix text, so names in messages never look like one)."""
    return f"\x00{offset}\x00"


class _Fail(Exception):
    """An error at a source offset; turned into a ModelError with line and column at the top."""

    def __init__(self, message: str, offset: int, unsupported: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.unsupported = unsupported


def _unescape(text: str) -> str:
    """Nix's unescapeStr: backslash escapes and CR/CRLF normalisation."""
    if "\\" not in text and "\r" not in text:
        return text
    return _ESCAPE_RE.sub(lambda m: "\n" if m.group(1) is None else _ESCAPES.get(m.group(1), m.group(1)), text)


def tokenize(text: str) -> list[Token]:
    """The tokens of a Nix text, following the lexer states of Nix (default, "...", ''...'').

    The last token is always 'eof'. A lexical error ends the tokens early: that 'eof' then
    carries the error as its value, raised only if the parser gets that far (as Nix's parser,
    which pulls tokens one at a time, reports an earlier syntax error first).
    """
    toks: list[Token] = []
    # lexer state stack: 'D' for { and ${ (default state), 'S'/'I' inside strings
    stack: list[str] = []
    pos = 0
    try:
        while True:
            pos = _lex_default(text, pos, toks, stack)
            if pos < 0:
                return toks
            pos = _lex_string(text, pos, toks, stack)
    except _Fail as fail:
        toks.append(("eof", fail, fail.offset, fail.offset))
        return toks


def _lex_default(text: str, pos: int, toks: list[Token], stack: list[str]) -> int:
    """Tokens up to the end of the text (returns -1) or up to where a string state resumes."""
    append = toks.append
    for m in _TOKEN_RE.finditer(text, pos):
        kind = m.lastgroup
        start, end = m.span(kind)
        if kind in ("punct", "op"):
            op = text[start:end]
            append((op, op, start, end))
            if op in ("{", "${"):
                stack.append("D")
            elif op == "}" and stack:
                stack.pop()
                if stack and stack[-1] != "D":
                    return end
        elif kind in ("id", "id2"):
            name = text[start:end]
            append((name if name in _KEYWORDS else "id", name, start, end))
        elif kind == "str":
            append(("str", text[start:end], start - 1, end + 1))  # the position of a string is its quote
        else:
            resume = _other_token(m, text, toks, stack)
            if resume is not None:
                return resume
    raise AssertionError("the token regex always matches")  # pragma: no cover


def _other_token(m: re.Match, text: str, toks: list[Token], stack: list[str]) -> int | None:
    """The less common tokens; returns where to resume when the lexer state changes."""
    kind = m.lastgroup
    start, end = m.span(kind)
    literal = text[start:end]
    if kind == "int":
        toks.append(("int", _int_value(literal, start), start, end))
    elif kind == "float":
        toks.append(("float", _float_value(literal, start), start, end))
    elif kind in ("sopen", "iopen"):
        stack.append("S" if kind == "sopen" else "I")
        toks.append((kind, None, start, end))
        return end
    elif kind == "eof":
        toks.append(("eof", None, start, start))
        return -1
    elif kind in ("path", "uri"):
        toks.append((kind, literal, start, end))
    elif kind == "ucomment":
        raise _Fail("unterminated comment: '/*' without a closing '*/'", start)
    else:
        raise _Fail(f"unexpected character {literal!r}", start)
    return None


def _lex_string(text: str, pos: int, toks: list[Token], stack: list[str]) -> int:
    """The parts of the string on top of the stack, up to its end or to an interpolation."""
    indented = stack[-1] == "I"
    part_re = _IND_PART_RE if indented else _STR_PART_RE
    append = toks.append
    while True:
        m = part_re.match(text, pos)
        if m is None:
            opener = _string_opener(toks)
            raise _Fail("unterminated string: it is not closed before the end of the file", opener)
        kind = m.lastgroup
        start, pos = m.span()
        if kind == "text":
            value = m.group(kind)
            append(("itext", (value, True), start, pos) if indented else ("text", _unescape(value), start, pos))
        elif kind == "esc":
            esc = m.group(kind)
            value = "''" if esc == "'''" else "$" if esc == "''$" else _unescape(esc[2:])
            append(("itext", (value, False), start, pos))
        elif kind == "single":
            append(("itext", (m.group(kind), False), start, pos))
        elif kind == "interp":
            append(("interp", None, start, pos))
            stack.append("D")
            return pos
        else:
            stack.pop()
            append(("iend" if indented else "send", None, start, pos))
            return pos


def _string_opener(toks: list[Token]) -> int:
    """Offset of the innermost string that is still open (for 'unterminated string')."""
    depth = 0
    for kind, _value, start, _end in reversed(toks):
        if kind in ("send", "iend"):
            depth += 1
        elif kind in ("sopen", "iopen"):
            if depth == 0:
                return start
            depth -= 1
    return toks[-1][2] if toks else 0


def _int_value(digits: str, offset: int) -> int:
    value = int(digits)
    if value > _INT_MAX:
        raise _Fail(f"invalid integer '{digits}': it does not fit in 64 bits", offset)
    return value


def _float_value(literal: str, offset: int) -> float:
    value = float(literal)
    # Nix uses std::stod, which rejects overflow and (glibc) underflow
    mantissa_nonzero = any(c in "123456789" for c in literal.split("e")[0].split("E")[0])
    if value == float("inf") or (value < _FLOAT_MIN_NORMAL and mantissa_nonzero):
        raise _Fail(f"invalid float '{literal}': it is out of range", offset)
    return value


# --------------------------------------------------------------------------------------------
# Syntax tree and evaluation
# --------------------------------------------------------------------------------------------


class _Node:
    __slots__ = ("off",)

    def ev(self, env: _Env | None) -> Any:  # pragma: no cover - every node overrides it
        """The value of this expression in `env`."""
        raise NotImplementedError

    def bind(self, scope: tuple | None) -> _Node:  # pragma: no cover - every node overrides it
        """Resolve the variables against the static scope (see _bind_var)."""
        raise NotImplementedError


class _Const(_Node):
    __slots__ = ("value",)

    def __init__(self, value: Any, off: int) -> None:
        self.value = value
        self.off = off

    def ev(self, env: _Env | None) -> Any:
        return self.value

    def bind(self, scope: tuple | None) -> _Node:
        return self


class _Var(_Node):
    __slots__ = ("name",)

    def __init__(self, name: str, off: int) -> None:
        self.name = name
        self.off = off

    def ev(self, env: _Env | None) -> Any:
        name = self.name
        while env is not None:
            vals = env.vals
            if name in vals:
                value = vals[name]
                return value.force() if type(value) is _Thunk else value
            env = env.up
        raise _Fail(f"undefined variable '{name}'", self.off)  # pragma: no cover - the binder checks this

    def bind(self, scope: tuple | None) -> _Node:
        return _bind_var(self, scope)


class _Select(_Node):
    __slots__ = ("base", "names")

    def __init__(self, base: _Node, names: list[str], off: int) -> None:
        self.base = base
        self.names = names
        self.off = off

    def ev(self, env: _Env | None) -> Any:
        value = self.base.ev(env)
        for name in self.names:
            if type(value) is not _Attrs:
                raise _Fail(f"cannot select attribute '{name}': value is {_type_name(value)} while a set was expected", self.off)
            try:
                value = value.vals[name]
            except KeyError:
                raise _Fail(f"attribute '{name}' missing", self.off) from None
            if type(value) is _Thunk:
                value = value.force()
        return value

    def bind(self, scope: tuple | None) -> _Node:
        self.base = self.base.bind(scope)
        return self


class _Neg(_Node):
    __slots__ = ("expr",)

    def __init__(self, expr: _Node, off: int) -> None:
        self.expr = expr
        self.off = off

    def ev(self, env: _Env | None) -> Any:
        value = self.expr.ev(env)
        if type(value) not in (int, float):
            raise _Fail(f"cannot negate {_type_name(value)}: an integer or a float was expected", self.off)
        return 0 - value  # Nix's -x is __sub 0 x (so -0.0 is 0.0)

    def bind(self, scope: tuple | None) -> _Node:
        self.expr = self.expr.bind(scope)
        return self


class _Concat(_Node):
    """A string with interpolations: parts are str or (node, offset of its ${)."""

    __slots__ = ("parts",)

    def __init__(self, parts: list, off: int) -> None:
        self.parts = parts
        self.off = off

    def ev(self, env: _Env | None) -> Any:
        out = []
        for part in self.parts:
            if type(part) is str:
                out.append(part)
            else:
                node, off = part
                out.append(_coerce_to_string(node.ev(env), off))
        return "".join(out)

    def bind(self, scope: tuple | None) -> _Node:
        self.parts = [p if type(p) is str else (p[0].bind(scope), p[1]) for p in self.parts]
        return self


class _List(_Node):
    __slots__ = ("items",)

    def __init__(self, items: list[_Node], off: int) -> None:
        self.items = items
        self.off = off

    def ev(self, env: _Env | None) -> Any:
        return _ListValue([item.value if type(item) is _Const else _Thunk(item, env) for item in self.items], self)

    def bind(self, scope: tuple | None) -> _Node:
        self.items = [item.bind(scope) for item in self.items]
        return self


class _Set(_Node):
    """An attribute set literal; attrs maps a name to (expr, offset of the name, inherited)."""

    __slots__ = ("rec", "attrs")

    def __init__(self, rec: bool, off: int) -> None:
        self.rec = rec
        self.attrs: dict[str, tuple] = {}
        self.off = off

    def ev(self, env: _Env | None) -> Any:
        vals: dict[str, Any] = {}
        inner = _Env(vals, env) if self.rec else env
        for name, (expr, _pos, inherited) in self.attrs.items():
            vals[name] = expr.value if type(expr) is _Const else _Thunk(expr, env if inherited else inner)
        return _Attrs(vals, self.attrs)

    def bind(self, scope: tuple | None) -> _Node:
        _bind_defs(self.attrs, scope, (self.attrs, scope) if self.rec else scope)
        return self


class _Let(_Node):
    __slots__ = ("attrs", "body")

    def __init__(self, attrs: dict[str, tuple], body: _Node, off: int) -> None:
        self.attrs = attrs
        self.body = body
        self.off = off

    def ev(self, env: _Env | None) -> Any:
        vals: dict[str, Any] = {}
        inner = _Env(vals, env)
        for name, (expr, _pos, inherited) in self.attrs.items():
            vals[name] = expr.value if type(expr) is _Const else _Thunk(expr, env if inherited else inner)
        return self.body.ev(inner)

    def bind(self, scope: tuple | None) -> _Node:
        inner = (self.attrs, scope)
        _bind_defs(self.attrs, scope, inner)
        self.body = self.body.bind(inner)
        return self


class _Env:
    __slots__ = ("vals", "up")

    def __init__(self, vals: dict[str, Any], up: _Env | None) -> None:
        self.vals = vals
        self.up = up


class _Thunk:
    """A delayed value; re-entering one that is being evaluated is Nix's infinite recursion."""

    __slots__ = ("expr", "env", "value", "busy")

    def __init__(self, expr: _Node, env: _Env | None) -> None:
        self.expr = expr
        self.env = env
        self.value = None
        self.busy = False

    def force(self) -> Any:
        """The value, evaluated on first use."""
        expr = self.expr
        if expr is None:
            return self.value
        if self.busy:
            raise _Fail("infinite recursion encountered: this value depends on itself", expr.off)
        self.busy = True
        value = expr.ev(self.env)
        self.value = value
        self.expr = self.env = None
        return value


class _Attrs:
    """An attribute set value: values (or thunks) by name, and the definitions they came from."""

    __slots__ = ("vals", "defs")

    def __init__(self, vals: dict[str, Any], defs: dict[str, tuple]) -> None:
        self.vals = vals
        self.defs = defs


class _ListValue:
    __slots__ = ("items", "node")

    def __init__(self, items: list, node: _List) -> None:
        self.items = items
        self.node = node


def _type_name(value: Any) -> str:
    """Nix's showType wording."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is bool:
        return "a Boolean"
    if kind is int:
        return "an integer"
    return {float: "a float", str: "a string", _Attrs: "a set", _ListValue: "a list"}.get(kind, "a value")


def _coerce_to_string(value: Any, off: int) -> str:
    """What ${...} accepts: strings, and sets with an outPath (as Nix's coerceToString)."""
    if type(value) is str:
        return value
    if type(value) is _Attrs:
        if "__toString" in value.vals:
            raise _Fail("a set with '__toString' in an interpolation needs function calls", off, unsupported=True)
        if "outPath" in value.vals:
            return _coerce_to_string(_force(value.vals["outPath"]), off)
    raise _Fail(f"cannot coerce {_type_name(value)} to a string", off)


def _force(value: Any) -> Any:
    return value.force() if type(value) is _Thunk else value


def _nix_float(value: float) -> int | float:
    """A float as Nix 2.8 prints it in JSON (C++ ostream default: 6 significant digits)."""
    return json.loads(f"{value:g}")


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------

# an attribute path element: (name, offset); name None marks a dynamic (unsupported) element
_PathElem = tuple


class _Parser:
    """Recursive descent over the tokens, with Nix's grammar for the supported subset."""

    def __init__(self, toks: list[Token]) -> None:
        self.toks = toks
        self.i = 0

    # --- helpers ---------------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        """The token `ahead` places on (the last one is always eof)."""
        toks = self.toks
        return toks[min(self.i + ahead, len(toks) - 1)]

    def next(self) -> Token:
        """Consume a token."""
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, problem: str) -> Token:
        """Consume a token of `kind`, or fail with `problem`."""
        tok = self.toks[self.i]
        if tok[0] != kind:
            raise _Fail(f"{problem}, found {_describe(tok)}", tok[2])
        self.i += 1
        return tok

    def unsupported(self, what: str, off: int) -> _Fail:
        """The error for a construct outside the subset."""
        return _Fail(what, off, unsupported=True)

    # --- expressions -----------------------------------------------------------------------

    def parse_top(self) -> _Node:
        """The whole file: one expression."""
        if self.toks[self.i][0] == "eof":
            raise _Fail("the file is empty: expected an expression", self.toks[self.i][2])
        node = self.parse_expr()
        tok = self.toks[self.i]
        if tok[0] != "eof":
            raise _Fail(f"unexpected {_describe(tok)} after the end of the expression", tok[2])
        return node

    def parse_expr(self) -> _Node:
        """An expression: let, or a value with no operator after it."""
        tok = self.toks[self.i]
        kind = tok[0]
        if self._starts_function():
            raise self.unsupported("a function", tok[2])
        if kind == "let":
            return self.parse_let()
        if kind in ("with", "if", "assert"):
            raise self.unsupported(f"'{kind}'", tok[2])
        node = self.parse_unary()
        self._no_operator_after(node)
        return node

    def _starts_function(self) -> bool:
        """Lambdas: x: ..., x@{...}: ..., {...}: ... (looked at before parsing a set)."""
        k0 = self.toks[self.i][0]
        if k0 not in ("id", "{"):
            return False
        k1 = self.peek(1)[0]
        if k0 == "id":
            return k1 in (":", "@")
        if k1 == "...":
            return True
        if k1 == "}":
            return self.peek(2)[0] in (":", "@")
        if k1 == "id":
            k2 = self.peek(2)[0]
            return k2 in (",", "?") or (k2 == "}" and self.peek(3)[0] in (":", "@"))
        return False

    def _no_operator_after(self, node: _Node) -> None:
        tok = self.toks[self.i]
        kind = tok[0]
        if kind in _BINARY_OPS:
            raise self.unsupported(f"the operator '{kind}'", tok[2])
        if kind in _ARG_START and not self._looks_like_binding():
            if type(node) is _Var and (node.name in _GLOBALS or node.name.startswith("__")):
                raise self.unsupported(f"the builtin '{node.name}'", node.off)
            raise self.unsupported("a function call", tok[2])

    def _looks_like_binding(self) -> bool:
        """Does an attribute path and '=' start here (the ';' before it was forgotten)?"""
        j = 0
        while True:
            if self.peek(j)[0] not in ("id", "str", "or"):
                return False
            j += 1
            kind = self.peek(j)[0]
            if kind == "=":
                return True
            if kind != ".":
                return False
            j += 1

    def parse_unary(self) -> _Node:
        """Unary minus (which Nix applies to selections)."""
        tok = self.toks[self.i]
        if tok[0] == "-":
            self.i += 1
            return _Neg(self.parse_unary(), tok[2])
        if tok[0] == "!":
            raise self.unsupported("the operator '!'", tok[2])
        return self.parse_select()

    def parse_select(self) -> _Node:
        """A value with attribute selections: x.a."b".c"""
        node = self.parse_simple()
        if self.toks[self.i][0] == ".":
            off = node.off
            names = []
            while self.toks[self.i][0] == ".":
                self.i += 1
                name, name_off = self.parse_attr_name("after '.'")
                if name is None:
                    raise self.unsupported("a dynamic attribute name", name_off)
                names.append(name)
            node = _Select(node, names, off)
        tok = self.toks[self.i]
        if tok[0] == "or":
            raise self.unsupported("the 'or' operator (a default for a missing attribute)", tok[2])
        return node

    def parse_simple(self) -> _Node:
        """A value that needs no operator: name, literal, string, list, set, (expr)."""
        tok = self.next()
        kind, value, off = tok[0], tok[1], tok[2]
        if kind == "id":
            return _Var(value, off)
        if kind in ("str", "int", "float"):
            return _Const(value, off)
        if kind in ("{", "rec"):
            return self.parse_set(kind == "rec", self.expect("{", "expected '{' after 'rec'")[2] if kind == "rec" else off)
        if kind in ("sopen", "iopen"):
            return self.parse_string(off) if kind == "sopen" else self.parse_indented_string(off)
        if kind == "[":
            return self.parse_list(off)
        if kind == "(":
            node = self.parse_expr()
            self.expect(")", f"expected ')' to close the '(' at {_ref(off)}")
            return node
        raise self.not_a_value(tok)

    def not_a_value(self, tok: Token) -> _Fail:
        """The error for a token where a value should start."""
        kind, value, off = tok[0], tok[1], tok[2]
        if kind == "path":
            return self.unsupported(f"the path {value}", off)
        if kind == "uri":
            return self.unsupported(f"the unquoted URL {value} (write it as a string)", off)
        if kind == "${":
            return self.unsupported("a dynamic attribute name", off)
        if kind == "let" and self.toks[self.i][0] == "{":
            return self.unsupported("the old 'let { ... }' syntax", off)
        if kind in ("let", "with", "if", "assert"):
            return self.unsupported(f"'{kind}' here (it needs parentheses)", off)
        self.i -= 1
        return _Fail(f"unexpected {_describe(tok)}: expected a value", off)

    def parse_list(self, off: int) -> _Node:
        """The elements of a list up to ']' (elements are selections in Nix's grammar)."""
        items = []
        while True:
            kind = self.toks[self.i][0]
            if kind == "]":
                self.i += 1
                return _List(items, off)
            if kind == "eof":
                raise _Fail(f"unexpected end of file: the list opened at {_ref(off)} is not closed with ']'", self.toks[self.i][2])
            if kind == ",":
                raise _Fail("unexpected ',' in a list: list elements are separated by whitespace", self.toks[self.i][2])
            if kind == "-":
                raise _Fail("unexpected '-' in a list: write a negative number in a list in parentheses, like (-1)", self.toks[self.i][2])
            if kind in _BINARY_OPS:
                raise self.unsupported(f"the operator '{kind}'", self.toks[self.i][2])
            if self._starts_function():
                raise self.unsupported("a function", self.toks[self.i][2])
            if kind in ("let", "with", "if", "assert"):
                raise self.unsupported(f"{_describe(self.toks[self.i])} as a list element", self.toks[self.i][2])
            items.append(self.parse_select())

    def parse_string(self, off: int) -> _Node:
        """A "..." string with interpolations."""
        parts: list = []
        while True:
            tok = self.next()
            kind = tok[0]
            if kind == "text":
                parts.append(tok[1])
            elif kind == "interp":
                parts.append((self.parse_interpolation(), tok[2]))
            elif kind == "send":
                break
            else:
                raise _Fail("unterminated string: it is not closed before the end of the file", off)
        if all(type(p) is str for p in parts):
            return _Const("".join(parts), off)
        return _Concat(parts, off)

    def parse_interpolation(self) -> _Node:
        """The expression of ${...}."""
        node = self.parse_expr()
        self.expect("}", "expected '}' to close '${'")
        return node

    def parse_indented_string(self, off: int) -> _Node:
        """An ''...'' string: its parts with the indentation stripped."""
        parts: list = []
        while True:
            tok = self.next()
            kind = tok[0]
            if kind == "itext":
                parts.append(tok[1])
            elif kind == "interp":
                parts.append((self.parse_interpolation(), tok[2]))
            elif kind == "iend":
                break
            else:
                raise _Fail("unterminated string: it is not closed before the end of the file", off)
        parts = _strip_indentation(parts)
        if not parts:
            return _Const("", off)
        if len(parts) == 1 and type(parts[0]) is str:
            return _Const(parts[0], off)
        return _Concat(parts, off)

    def parse_let(self) -> _Node:
        """let <bindings> in <expr>"""
        let_tok = self.next()
        if self.toks[self.i][0] == "{":
            raise self.unsupported("the old 'let { ... }' syntax", let_tok[2])  # pylint: disable=raising-format-tuple
        attrs: dict[str, tuple] = {}
        self.parse_binds(attrs, "in", let_tok[2])
        return _Let(attrs, self.parse_expr(), let_tok[2])

    def parse_set(self, rec: bool, off: int) -> _Node:
        """An attribute set literal, after its '{'."""
        node = _Set(rec, off)
        self.parse_binds(node.attrs, "}", off)
        return node

    # --- bindings --------------------------------------------------------------------------

    def parse_binds(self, attrs: dict[str, tuple], closer: str, opener_off: int) -> None:
        """Bindings up to `closer` ('}' of a set or 'in' of a let), which is consumed."""
        while True:
            tok = self.toks[self.i]
            kind = tok[0]
            if kind == closer:
                self.i += 1
                return
            if kind == "inherit":
                self.parse_inherit(attrs)
                continue
            if kind in ("id", "str", "sopen", "or", "${"):
                self.parse_binding(attrs)
                continue
            raise _Fail(self._binds_problem(tok, closer, opener_off), tok[2])

    @staticmethod
    def _binds_problem(tok: Token, closer: str, opener_off: int) -> str:
        what = "attribute set" if closer == "}" else "'let'"
        if tok[0] == "eof":
            close = "'}'" if closer == "}" else "'in'"
            return f"unexpected end of file: the {what} opened at {_ref(opener_off)} is not closed with {close}"
        if tok[0] in _KEYWORDS:
            return f"unexpected keyword '{tok[0]}' where an attribute name was expected (quote it: \"{tok[0]}\")"
        if closer == "in" and tok[0] == "}":
            return f"unexpected '}}': the bindings of the 'let' at {_ref(opener_off)} must be followed by 'in'"
        return f"unexpected {_describe(tok)} where an attribute name was expected"

    def parse_attr_name(self, context: str) -> _PathElem:
        """One attribute name: identifier, 'or', or a string (None for a dynamic one)."""
        tok = self.next()
        kind = tok[0]
        if kind in ("id", "or", "str"):
            return tok[1], tok[2]
        if kind == "sopen":
            node = self.parse_string(tok[2])
            return (node.value if type(node) is _Const else None), tok[2]
        if kind == "${":
            raise self.unsupported("a dynamic attribute name '${...}'", tok[2])  # pylint: disable=raising-format-tuple
        self.i -= 1
        if kind in _KEYWORDS:
            raise _Fail(f"unexpected keyword '{kind}' where an attribute name was expected {context} (quote it: \"{kind}\")", tok[2])
        raise _Fail(f"expected an attribute name {context}, found {_describe(tok)}", tok[2])

    def parse_binding(self, attrs: dict[str, tuple]) -> None:
        """attrpath = expr;"""
        start = self.toks[self.i][2]
        path = [self.parse_attr_name("")]
        while self.toks[self.i][0] == ".":
            self.i += 1
            path.append(self.parse_attr_name("after '.'"))
        for name, off in path:
            if name is None:
                raise self.unsupported("a dynamic attribute name", off)
        dotted = ".".join(name for name, _off in path)
        tok = self.toks[self.i]
        if tok[0] != "=":
            raise _Fail(f"expected '=' after the attribute name '{dotted}', found {_describe(tok)}", tok[2])
        self.i += 1
        value = self.parse_expr()
        tok = self.toks[self.i]
        if tok[0] != ";":
            last_end = self.toks[self.i - 1][3]
            raise _Fail(f"expected ';' after the value of attribute '{dotted}', found {_describe(tok)}", last_end)
        self.i += 1
        _add_attr(attrs, path, value, start)

    def parse_inherit(self, attrs: dict[str, tuple]) -> None:
        """inherit a b; or inherit (expr) a b;"""
        # Nix gives every inherited name one position: the end of 'inherit' or of its ')'
        # (the location of the empty start of bison's 'attrs' rule)
        pos = self.next()[3]
        source = None
        if self.toks[self.i][0] == "(":
            paren = self.next()
            source = self.parse_expr()
            pos = self.expect(")", f"expected ')' to close the '(' of 'inherit' at {_ref(paren[2])}")[3]
        names: list[_PathElem] = []
        while self.toks[self.i][0] != ";":
            tok = self.toks[self.i]
            if tok[0] not in ("id", "or", "str", "sopen", "${"):
                raise _Fail(f"expected an attribute name or ';' in 'inherit', found {_describe(tok)}", tok[2])
            name, off = self.parse_attr_name("in 'inherit'")
            if name is None:
                raise self.unsupported("a dynamic attribute name in 'inherit'", off)
            names.append((name, off))
        self.i += 1
        for name, off in names:
            if name in attrs:
                raise _Fail(_duplicate_message(name, attrs[name][1]), off)
            if source is None:
                attrs[name] = (_Var(name, off), pos, True)
            else:
                attrs[name] = (_Select(source, [name], off), pos, False)


_ARG_START = frozenset(("id", "int", "float", "str", "sopen", "iopen", "(", "[", "{", "rec", "path", "uri"))


def _describe(tok: Token) -> str:
    """A token as messages show it."""
    kind = tok[0]
    if kind in ("eof", "str", "sopen", "iopen"):
        return "the end of the file" if kind == "eof" else "a string"
    if kind in ("int", "float"):
        return f"the number {tok[1]}"
    if kind in ("id", "path", "uri"):
        return f"'{tok[1]}'"
    return f"the keyword '{kind}'" if kind in _KEYWORDS else f"'{kind}'"


def _duplicate_message(dotted: str, first_off: int) -> str:
    return f"attribute '{dotted}' is already defined at {_ref(first_off)}"


def _add_attr(attrs: dict[str, tuple], path: list[_PathElem], value: _Node, pos: int) -> None:
    """Insert ``a.b.c = value`` like Nix's addAttr: descend into (or create) nested set
    literals, merge two set literals, and refuse any other redefinition."""
    dotted = ".".join(name for name, _off in path)
    for name, _off in path[:-1]:
        existing = attrs.get(name)
        if existing is None:
            nested = _Set(False, pos)
            attrs[name] = (nested, pos, False)
            attrs = nested.attrs
        elif type(existing[0]) is _Set and not existing[2]:
            attrs = existing[0].attrs
        else:
            raise _Fail(_duplicate_message(dotted, existing[1]), pos)
    name = path[-1][0]
    existing = attrs.get(name)
    if existing is None:
        attrs[name] = (value, pos, False)
    elif type(existing[0]) is _Set and type(value) is _Set and not existing[2]:
        target = existing[0].attrs
        for inner, definition in value.attrs.items():
            if inner in target:
                raise _Fail(_duplicate_message(f"{dotted}.{inner}", target[inner][1]), definition[1])
            target[inner] = definition
    else:
        raise _Fail(_duplicate_message(dotted, existing[1]), pos)


def _strip_indentation(parts: list) -> list:
    """Nix's stripIndentation for ''...'' strings. Text parts are (text, has_indentation);
    interpolations are (node, offset). Escapes have has_indentation False: they end the
    leading whitespace of a line for the minimum indentation, yet are stripped like text
    (as Nix 2.8 does). Returns the strings and interpolations to concatenate."""
    min_indent = _min_indentation(parts)
    out: list = []
    state = [True, 0]  # at the start of a line, spaces dropped on it so far
    for index, part in enumerate(parts):
        if type(part[0]) is not str:
            state = [False, 0]
            out.append(part)
            continue
        text = _strip_text(part[0], state, min_indent)
        if index == len(parts) - 1:
            # drop the last line if it holds only spaces
            last_nl = text.rfind("\n")
            if last_nl >= 0 and not text[last_nl + 1:].strip(" "):
                text = text[:last_nl + 1]
        if out and type(out[-1]) is str:
            out[-1] += text
        else:
            out.append(text)
    return [part for part in out if part != ""]


def _min_indentation(parts: list) -> int:
    """The least indentation of the lines with content (spaces only; blank lines ignored)."""
    at_start, min_indent, cur = True, 1000000, 0
    for part in parts:
        if type(part[0]) is not str or not part[1]:
            if at_start:
                at_start = False
                min_indent = min(min_indent, cur)
            continue
        for line in _LINES_RE.split(part[0]):
            if line == "\n":
                at_start, cur = True, 0
            elif at_start and line:
                stripped = line.lstrip(" ")
                cur += len(line) - len(stripped)
                if stripped:
                    at_start = False
                    min_indent = min(min_indent, cur)
    return min_indent


def _strip_text(text: str, state: list, min_indent: int) -> str:
    """Drop up to min_indent leading spaces of each line; `state` carries over between parts."""
    at_start, dropped = state
    chunks = []
    for line in _LINES_RE.split(text):
        if line == "\n":
            chunks.append(line)
            at_start, dropped = True, 0
        elif at_start and line:
            stripped = line.lstrip(" ")
            spaces = len(line) - len(stripped)
            chunks.append(" " * max(0, dropped + spaces - max(min_indent, dropped)) + stripped)
            dropped += spaces
            if stripped:
                at_start, dropped = False, 0
        else:
            chunks.append(line)
    state[:] = [at_start, dropped]
    return "".join(chunks)


# --------------------------------------------------------------------------------------------
# Static scoping (Nix's bindVars): undefined variables are errors even in unused bindings.
# A scope is (names, enclosing scope); bind() returns the node to use in place of the old one.
# --------------------------------------------------------------------------------------------


def _bind_defs(attrs: dict[str, tuple], outer: tuple | None, inner: tuple | None) -> None:
    """Inherited names are looked up outside the set or let, the other values inside."""
    for name, (expr, pos, inherited) in attrs.items():
        bound = expr.bind(outer if inherited else inner)
        if bound is not expr:
            attrs[name] = (bound, pos, inherited)


def _bind_var(node: _Var, scope: tuple | None) -> _Node:
    """A variable of the model, a constant (true, false, null) unless rebound, or an error."""
    name = node.name
    while scope is not None:
        if name in scope[0]:
            return node
        scope = scope[1]
    if name in _CONSTANTS:
        return _Const(_CONSTANTS[name], node.off)
    if name in _GLOBALS or name.startswith("__"):
        raise _Fail(f"the builtin '{name}'", node.off, unsupported=True)
    raise _Fail(f"undefined variable '{name}'", node.off)


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass
class _Source:
    """Offsets to Nix's line and column (1-based; columns count UTF-8 bytes, as Nix does)."""

    text: str
    line_starts: list[int] = field(init=False)
    ascii: bool = field(init=False)

    def __post_init__(self) -> None:
        # Nix's lexer ends a line at \n, \r\n and a lone \r
        self.line_starts = [0] + [m.end() for m in re.finditer("\r\n?|\n", self.text)]
        self.ascii = self.text.isascii()

    def line_col(self, offset: int) -> tuple[int, int]:
        """(line, column) of an offset."""
        line = bisect.bisect_right(self.line_starts, offset) - 1
        start = self.line_starts[line]
        column = offset - start if self.ascii else len(self.text[start:offset].encode("utf-8"))
        return line + 1, column + 1


@dataclass
class ParseResult:
    """The data of a Nix file and where each attribute (and list element) is defined."""

    data: Any
    offsets: dict[tuple, int]
    source: _Source

    def position(self, attr_path: tuple) -> tuple[int, int] | None:
        """(line, column) of the attribute at attr_path (list elements by index), or None."""
        offset = self.offsets.get(tuple(attr_path))
        return None if offset is None else self.source.line_col(offset)

    @property
    def positions(self) -> dict[tuple, tuple[int, int]]:
        """Every recorded position (computed on demand)."""
        return {path: self.source.line_col(offset) for path, offset in self.offsets.items()}


class _Converter:
    """Deep forcing into plain data (like --strict --json), recording attribute offsets."""

    def __init__(self) -> None:
        self.offsets: dict[tuple, int] = {}
        self.active: set[int] = set()

    def convert(self, value: Any, path: tuple) -> Any:
        """Plain data for a value found at `path`."""
        if type(value) is _Thunk:
            value = value.force()
        kind = type(value)
        if kind is _Attrs:
            return self.convert_attrs(value, path)
        if kind is _ListValue:
            return self.convert_list(value, path)
        if kind is float:
            return _nix_float(value)
        return value

    def convert_attrs(self, value: _Attrs, path: tuple) -> Any:
        """A set as a dict sorted by name, recording where each attribute is defined."""
        vals = value.vals
        if "__toString" in vals or "outPath" in vals:
            return self.convert_special(value, path)
        key = id(value)
        if key in self.active:
            raise self._cycle(path)
        self.active.add(key)
        offsets, defs, out = self.offsets, value.defs, {}
        for name in sorted(vals):
            sub = path + (name,)
            offsets[sub] = defs[name][1]
            out[name] = self.convert(vals[name], sub)
        self.active.discard(key)
        return out

    def convert_list(self, value: _ListValue, path: tuple) -> list:
        """A list, recording where each element starts."""
        key = id(value)
        if key in self.active:
            raise self._cycle(path)
        self.active.add(key)
        out = []
        offsets, nodes = self.offsets, value.node.items
        for index, item in enumerate(value.items):
            sub = path + (index,)
            offsets[sub] = nodes[index].off
            out.append(self.convert(item, sub))
        self.active.discard(key)
        return out

    def convert_special(self, value: _Attrs, path: tuple) -> Any:
        """Nix prints a set with __toString or outPath as that string."""
        if "__toString" in value.vals:
            raise _Fail("a set with '__toString' needs a function call to become JSON", self._offset(path), unsupported=True)
        return self.convert(value.vals["outPath"], path)

    def _offset(self, path: tuple) -> int:
        return self.offsets.get(path, 0)

    def _cycle(self, path: tuple) -> _Fail:
        dotted = ".".join(str(p) for p in path)
        return _Fail(f"the value of '{dotted}' contains itself (a cycle), which cannot be written as data", self._offset(path))


def _resolve_refs(message: str, source: _Source) -> str:
    """Replace the _ref() markers in messages by line:column."""
    return _REF_RE.sub(lambda m: ":".join(map(str, source.line_col(int(m.group(1))))), message)


def _parse_tokens(toks: list[Token]) -> _Node:
    """The syntax tree; a lexical error counts only where the parser reaches it."""
    lexer_fail = toks[-1][1]
    parser = _Parser(toks)
    try:
        tree = parser.parse_top()
    except _Fail:
        if lexer_fail is not None and parser.i >= len(toks) - 1:
            raise lexer_fail from None
        raise
    if lexer_fail is not None:
        raise lexer_fail
    return tree


def parse(text: str, path: str | None = None) -> ParseResult:
    """Evaluate a Nix expression of the supported subset to plain data.

    Raises ModelError (UnsupportedNixError for constructs outside the subset) with the
    path, line and column of the problem.
    """
    source = _Source(text)
    try:
        tree = _parse_tokens(tokenize(text)).bind(None)
        converter = _Converter()
        data = converter.convert(tree.ev(None), ())
    except _Fail as fail:
        line, column = source.line_col(fail.offset)
        message = _resolve_refs(fail.message, source)
        if fail.unsupported:
            raise UnsupportedNixError.construct(message, path, line, column) from None
        raise ModelError(message, path, line, column) from None
    except RecursionError:
        raise ModelError("the expression is nested too deeply for the built-in parser", path) from None
    return ParseResult(data, converter.offsets, source)


def parse_file(path: str) -> ParseResult:
    """parse() on the contents of a file (UTF-8)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read the model: {exc}", path) from None
    return parse(text, path)
