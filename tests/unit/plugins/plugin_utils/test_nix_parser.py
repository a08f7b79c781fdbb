# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built-in Nix parser: every supported construct, every error, with exact positions.

Expected values were checked against nix-instantiate 2.8 (`--eval --strict --json`,
`builtins.unsafeGetAttrPos`); test_nix_parser_vs_nix.py compares random models with Nix.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.disnix.deploy.plugins.plugin_utils.model_error import ModelError, UnsupportedNixError
from ansible_collections.disnix.deploy.plugins.plugin_utils.nix_parser import parse, parse_file, tokenize


def data(text: str):
    return parse(text, "m.nix").data


def error(text: str) -> ModelError:
    with pytest.raises(ModelError) as info:
        parse(text, "m.nix")
    return info.value


def where(exc: ModelError) -> tuple:
    return exc.line, exc.column


# --- values ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("{ }", {}),
    ("{ a = 1; b = -2; c = 0; }", {"a": 1, "b": -2, "c": 0}),
    ("{ a = true; b = false; c = null; }", {"a": True, "b": False, "c": None}),
    ('[ 1 "two" [ 3 ] { four = 4; } true null ]', [1, "two", [3], {"four": 4}, True, None]),
    ("[ ]", []),
    ('"just a string"', "just a string"),
    ("42", 42),
    ("{ a = -9223372036854775807; b = 9223372036854775807; }", {"a": -9223372036854775807, "b": 9223372036854775807}),
    ("{ a = - 5; b = -(-5); c = - - 5; d = (-5); e = [ (-1) ]; }", {"a": -5, "b": 5, "c": 5, "d": -5, "e": [-1]}),
    ("{ a = 007; }", {"a": 7}),
])
def test_values(text, expected):
    assert data(text) == expected


@pytest.mark.parametrize("literal, expected", [
    # Nix 2.8 prints floats with 6 significant digits, so whole numbers come back as integers
    ("1.0", 1), ("1.5", 1.5), (".5", 0.5), ("3.", 3), ("1.5e3", 1500), ("2.5E-2", 0.025), ("1.e2", 100),
    ("0.1234567891", 0.123457), ("1.0e20", 1e20), ("123456789.5", 123457000.0), ("-1.5", -1.5), ("-0.0", 0),
    ("1.7976931348623157e308", 1.79769e308), ("2.3e-308", 2.3e-308),
])
def test_floats_print_like_nix(literal, expected):
    value = data(f"{{ f = {literal}; }}")["f"]
    assert value == expected and type(value) is type(expected)


def test_identifiers_follow_nix_rules():
    assert data("{ foo-bar = 1; x' = 2; _a = 3; a-b'c-1 = 4; or = 5; true = 6; null = 7; A1 = 8; }") == {
        "foo-bar": 1, "x'": 2, "_a": 3, "a-b'c-1": 4, "or": 5, "true": 6, "null": 7, "A1": 8}


def test_quoted_attribute_names():
    assert data('{ "foo bar" = 1; "a.b" = 2; "x\\"y" = 3; "" = 4; "1st" = 5; a."b c".d = 6; }') == {
        "foo bar": 1, "a.b": 2, 'x"y': 3, "": 4, "1st": 5, "a": {"b c": {"d": 6}}}


def test_comments_of_both_kinds():
    text = """# leading
    { /* block
         comment */ a = /* inline */ 1; # trailing
      b = 2;#
      /**/ c = 3; /* ** */ }  # end"""
    assert data(text) == {"a": 1, "b": 2, "c": 3}


# --- strings --------------------------------------------------------------------------------

@pytest.mark.parametrize("literal, expected", [
    (r'"a\nb\tc\rd"', "a\nb\tc\rd"),
    (r'"\\ \" \$ \q \{"', '\\ " $ q {'),
    (r'"\${x}"', "${x}"),
    ('"$${x}"', "$${x}"),
    ('"cost: $5 $"', "cost: $5 $"),
    ('"a$"', "a$"),
    ('"$$"', "$$"),
    ('"multi\nline"', "multi\nline"),
    ('"cr\r\nlf\rx"', "cr\nlf\nx"),
    ('"é€"', "é€"),
    ('"a${"b"}c${"${"d"}"}"', "abcd"),
])
def test_double_quoted_strings(literal, expected):
    assert data(literal) == expected


@pytest.mark.parametrize("literal, expected", [
    ("''\n    x\n      y\n  ''", "x\n  y\n"),
    ("''  a\n   b''", "a\n b"),
    ("''\n  ${\"q\"}\n    r''", "q\n  r"),
    ("''\n     ''\\ x\n   y\n  ''", "   x\ny\n"),
    ("''\n  a\n  ''\\n  b\n ''", "a\n\nb\n"),
    ("''$''", "$"),
    ("''''$''", "$"),
    ("''a'''b''", "a''b"),
    ("''''\\n''\\t''\\q''", "\n\tq"),
    ("''${\"x\"}''", "x"),
    ("''$${x}''", "$${x}"),
    ("''it's''", "it's"),
    ("''''", ""),
    ("''\n''", ""),
    ("''\n\n  a\n\n  b\n''", "\na\n\nb\n"),
    ("''\n\ta\n  b''", "\ta\n  b"),
    ("''\r\n  p\r\n  q''", "\r\n  p\r\n  q"),
    ("''\n    one\n  two\n    ''", "  one\ntwo\n"),
])
def test_indented_strings(literal, expected):
    assert data(literal) == expected


def test_interpolation_of_variables_and_selections():
    text = 'let host = "test1"; net = { domain = "example.org"; }; in { fqdn = "${host}.${net.domain}"; }'
    assert data(text) == {"fqdn": "test1.example.org"}


def test_interpolation_of_a_set_with_out_path():
    assert data('{ a = "${{ outPath = "/nix/store/x"; }}"; b = { outPath = "y"; z = 1; }; }') == {"a": "/nix/store/x", "b": "y"}


# --- sets, paths, merging -------------------------------------------------------------------

def test_nested_attribute_paths_merge_like_nix():
    text = "{ a.b.c = 1; a.b.d = 2; x = { y = 1; }; x.z = 2; p.q = 1; p = { r = 2; }; s = { t = 1; }; s = { u = 2; }; }"
    assert data(text) == {"a": {"b": {"c": 1, "d": 2}}, "x": {"y": 1, "z": 2}, "p": {"q": 1, "r": 2}, "s": {"t": 1, "u": 2}}


def test_merging_into_a_rec_set_sees_its_attributes():
    assert data("{ a = rec { x = 1; }; a.y = x; }") == {"a": {"x": 1, "y": 1}}


def test_a_rec_set_merged_into_a_plain_one_loses_rec():
    exc = error("{ a.y = 2; a = rec { x = 1; z = x; }; }")
    assert exc.message == "undefined variable 'x'" and where(exc) == (1, 33)


def test_rec_sets_and_let():
    text = """let
      domain = "example.org";
      base = { system = "x86_64-linux"; };
    in rec {
      test1 = { properties.hostname = "test1.${domain}"; inherit (base) system; };
      test2 = test1 // { };
    }"""
    with pytest.raises(UnsupportedNixError):
        parse(text)
    text = text.replace("test1 // { }", "{ properties.hostname = test1.properties.hostname; }")
    assert data(text) == {"test1": {"properties": {"hostname": "test1.example.org"}, "system": "x86_64-linux"},
                          "test2": {"properties": {"hostname": "test1.example.org"}}}


def test_inherit_forms():
    text = "let a = 1; s = { b = 2; c = 3; }; in { inherit a; inherit (s) b c; d = let inherit (s) c; in c; }"
    assert data(text) == {"a": 1, "b": 2, "c": 3, "d": 3}


def test_inherit_in_rec_set_looks_outside():
    assert data("let x = 1; in rec { inherit x; y = x; }") == {"x": 1, "y": 1}
    assert data("let x = 1; in let inherit x; in x") == 1


def test_let_bindings_are_lazy_and_recursive():
    assert data('let a = b; b = "x"; unused = { }; in a') == "x"


def test_selection_through_nested_sets():
    assert data('let m = { a.b.c = "deep"; }; in [ m.a.b.c m."a".b ]') == ["deep", {"c": "deep"}]


def test_true_false_null_can_be_shadowed():
    assert data("let true = 3; in true") == 3
    assert data("rec { null = 1; x = null; }") == {"null": 1, "x": 1}


def test_set_with_out_path_is_printed_as_that_string():
    assert data('{ drv = { outPath = "/nix/store/abc"; name = "x"; }; }') == {"drv": "/nix/store/abc"}


# --- positions ------------------------------------------------------------------------------

POSITIONS_MODEL = """rec {
  a.b.c = 1;
  a.b.d = 2;
  x = { y = 1; };
  x.z = 2;
  "q r" = 3;
  inherit (x) y;
  list = [ 1 { k = 2; } ];
}
"""


@pytest.mark.parametrize("path, position", [
    # as builtins.unsafeGetAttrPos: a nested path gives every level the start of the binding
    (("a",), (2, 3)), (("a", "b"), (2, 3)), (("a", "b", "c"), (2, 3)), (("a", "b", "d"), (3, 3)),
    (("x",), (4, 3)), (("x", "y"), (4, 9)), (("x", "z"), (5, 3)), (("q r",), (6, 3)),
    # inherit: the end of 'inherit' or of its ')'
    (("y",), (7, 14)),
    (("list",), (8, 3)), (("list", 0), (8, 12)), (("list", 1), (8, 14)), (("list", 1, "k"), (8, 16)),
    (("missing",), None),
])
def test_positions_match_unsafe_get_attr_pos(path, position):
    assert parse(POSITIONS_MODEL).position(path) == position


def test_positions_of_plain_inherit_and_of_values_reached_by_reference():
    result = parse('let s = { inner = 1; }; in { inherit   s; t = s; }')
    assert result.position(("s",)) == (1, 37)
    assert result.position(("t", "inner")) == (1, 11)


def test_positions_count_utf8_bytes_and_every_kind_of_line_end():
    assert parse('{ "é" = 1; b = 2; }').position(("b",)) == (1, 13)
    result = parse("{\r  a = 1;\r\n  b = 2;\r\r  c = 3; }")
    assert [result.position((n,)) for n in "abc"] == [(2, 3), (3, 3), (5, 3)]


def test_positions_mapping():
    assert parse("{ a = { b = 1; }; }").positions == {("a",): (1, 3), ("a", "b"): (1, 9)}


# --- syntax errors --------------------------------------------------------------------------

@pytest.mark.parametrize("text, position, message", [
    ('{\n  system = "i686-linux"\n  numOfCores = 2;\n}', (2, 24),
     "expected ';' after the value of attribute 'system', found 'numOfCores'"),
    ("{ a = 1; b = 2 }", (1, 15), "expected ';' after the value of attribute 'b', found '}'"),
    ("{ a.b = 1 }", (1, 10), "expected ';' after the value of attribute 'a.b', found '}'"),
    ("{ a 1; }", (1, 5), "expected '=' after the attribute name 'a', found the number 1"),
    ('{ "a": 1 }', (1, 6), "expected '=' after the attribute name 'a', found ':'"),
    ("{\n  a = 1;\n", (3, 1), "unexpected end of file: the attribute set opened at 1:1 is not closed with '}'"),
    ("{ a = ; }", (1, 7), "unexpected ';': expected a value"),
    ("{ a = 1; } }", (1, 12), "unexpected '}' after the end of the expression"),
    ("", (1, 1), "the file is empty: expected an expression"),
    ('{\n  a = "abc;\n}\n', (2, 7), "unterminated string: it is not closed before the end of the file"),
    ("{ a = ''abc; }", (1, 7), "unterminated string: it is not closed before the end of the file"),
    ('{ a = "x${"y"; }', (1, 14), "expected '}' to close '${', found ';'"),
    ('{ a = "x${"y"}', (1, 7), "unterminated string: it is not closed before the end of the file"),
    ('{ a = 1 }\n"', (1, 8), "expected ';' after the value of attribute 'a', found '}'"),
    ("{ a = 1; /* never closed }", (1, 10), "unterminated comment: '/*' without a closing '*/'"),
    ("{ a = 1; % }", (1, 10), "unexpected character '%'"),
    ("{ a = 9223372036854775808; }", (1, 7), "invalid integer '9223372036854775808': it does not fit in 64 bits"),
    ("{ a = 1.0e309; }", (1, 7), "invalid float '1.0e309': it is out of range"),
    ("{ a = 2.0e-308; }", (1, 7), "invalid float '2.0e-308': it is out of range"),
    ("[ 1, 2 ]", (1, 4), "unexpected ',' in a list: list elements are separated by whitespace"),
    ("[ -1 ]", (1, 3), "unexpected '-' in a list: write a negative number in a list in parentheses, like (-1)"),
    ("[ 1 ", (1, 5), "unexpected end of file: the list opened at 1:1 is not closed with ']'"),
    ("{ if = 1; }", (1, 3), "unexpected keyword 'if' where an attribute name was expected (quote it: \"if\")"),
    ("{ a.in = 1; }", (1, 5), "unexpected keyword 'in' where an attribute name was expected after '.' (quote it: \"in\")"),
    ("(1", (1, 3), "expected ')' to close the '(' at 1:1, found the end of the file"),
    ("let a = 1; }", (1, 12), "unexpected '}': the bindings of the 'let' at 1:1 must be followed by 'in'"),
    ("let a = 1;", (1, 11), "unexpected end of file: the 'let' opened at 1:1 is not closed with 'in'"),
    ("rec a", (1, 5), "expected '{' after 'rec', found 'a'"),
    ('{ a = "${"x"; }', (1, 13), "expected '}' to close '${', found ';'"),
    ("{ inherit a 1; }", (1, 13), "expected an attribute name or ';' in 'inherit', found the number 1"),
])
def test_syntax_errors(text, position, message):
    exc = error(text)
    assert (exc.message, where(exc)) == (message, position)
    assert not isinstance(exc, UnsupportedNixError)
    assert str(exc) == f"m.nix:{position[0]}:{position[1]}: {message}"


@pytest.mark.parametrize("text, position, message", [
    ("{ a.x = 1; a.x = 2; }", (1, 12), "attribute 'a.x' is already defined at 1:3"),
    ("{ a.x = 1; a.x.y = 2; }", (1, 12), "attribute 'a.x.y' is already defined at 1:3"),
    ("{ a = 1;\n  a = 2; }", (2, 3), "attribute 'a' is already defined at 1:3"),
    ("{ a = { x = 1; }; a = { x = 2; }; }", (1, 25), "attribute 'a.x' is already defined at 1:9"),
    ("{ a = let z = 1; in { x = z; }; a.y = 2; }", (1, 33), "attribute 'a.y' is already defined at 1:3"),
    ("let a = 1; a = 2; in a", (1, 12), "attribute 'a' is already defined at 1:5"),
    ("{ inherit ({ x = 1; }) x; x = 2; }", (1, 27), "attribute 'x' is already defined at 1:23"),
    ("let x = 1; in { x = 2; inherit x; }", (1, 32), "attribute 'x' is already defined at 1:17"),
])
def test_duplicate_attributes_name_both_places(text, position, message):
    exc = error(text)
    assert (exc.message, where(exc)) == (message, position)


# --- evaluation errors ----------------------------------------------------------------------

@pytest.mark.parametrize("text, position, message", [
    ("{ a = b; }", (1, 7), "undefined variable 'b'"),
    ("let unused = foo; in { }", (1, 14), "undefined variable 'foo'"),
    ("rec { a = { x = 1; }; a.y = x; }", (1, 29), "undefined variable 'x'"),
    ("rec { a = b; b = a; }", (1, 11), "infinite recursion encountered: this value depends on itself"),
    ("let a = a; in { x = a; }", (1, 9), "infinite recursion encountered: this value depends on itself"),
    ("let s = { a = 1; }; in s.b", (1, 24), "attribute 'b' missing"),
    ('let s = "x"; in s.b', (1, 17), "cannot select attribute 'b': value is a string while a set was expected"),
    ('{ a = "${1}"; }', (1, 8), "cannot coerce an integer to a string"),
    ('{ a = "x${null}"; }', (1, 9), "cannot coerce null to a string"),
    ('{ a = "${true}"; }', (1, 8), "cannot coerce a Boolean to a string"),
    ('{ a = "${[ ]}"; }', (1, 8), "cannot coerce a list to a string"),
    ('{ a = "${{ }}"; }', (1, 8), "cannot coerce a set to a string"),
    ('{ a = "${1.5}"; }', (1, 8), "cannot coerce a float to a string"),
    ("{ a = ''${1}''; }", (1, 9), "cannot coerce an integer to a string"),
    ('{ a = -"s"; }', (1, 7), "cannot negate a string: an integer or a float was expected"),
    ("rec { a = { b = a; }; }", (1, 13), "the value of 'a.b' contains itself (a cycle), which cannot be written as data"),
])
def test_evaluation_errors(text, position, message):
    exc = error(text)
    assert (exc.message, where(exc)) == (message, position)
    assert not isinstance(exc, UnsupportedNixError)


def test_only_used_values_are_evaluated():
    assert data('let broken = "${1}"; in { ok = 1; }') == {"ok": 1}


# --- outside the subset ---------------------------------------------------------------------

@pytest.mark.parametrize("text, position, construct", [
    ("x: x", (1, 1), "a function"),
    ("{ system, pkgs, ... }: { }", (1, 1), "a function"),
    ("{ ... }: { }", (1, 1), "a function"),
    ("{ }: { }", (1, 1), "a function"),
    ("args@{ a }: a", (1, 1), "a function"),
    ("{ a = x: x; }", (1, 7), "a function"),
    ("import ./infrastructure.nix", (1, 1), "the builtin 'import'"),
    ("{ a = builtins.currentSystem; }", (1, 7), "the builtin 'builtins'"),
    ('{ a = toString 1; }', (1, 7), "the builtin 'toString'"),
    ("{ a = __currentSystem; }", (1, 7), "the builtin '__currentSystem'"),
    ("with { a = 1; }; a", (1, 1), "'with'"),
    ("{ a = if true then 1 else 2; }", (1, 7), "'if'"),
    ("assert true; { }", (1, 1), "'assert'"),
    ("{ a = 1 + 2; }", (1, 9), "the operator '+'"),
    ("{ a = { } // { }; }", (1, 11), "the operator '//'"),
    ("{ a = [ ] ++ [ ]; }", (1, 11), "the operator '++'"),
    ("{ a = 1 == 1; }", (1, 9), "the operator '=='"),
    ("{ a = true -> false; }", (1, 12), "the operator '->'"),
    ("{ a = 1 - 2; }", (1, 9), "the operator '-'"),
    ("{ a = { } ? b; }", (1, 11), "the operator '?'"),
    ("{ a = !true; }", (1, 7), "the operator '!'"),
    ("[ 1 + 2 ]", (1, 5), "the operator '+'"),
    ("{ a = ./file.nix; }", (1, 7), "the path ./file.nix"),
    ("{ a = <nixpkgs>; }", (1, 7), "the path <nixpkgs>"),
    ("{ a = ~/x; }", (1, 7), "the path ~/x"),
    ("{ a = http://example.org/x; }", (1, 7), "the unquoted URL http://example.org/x (write it as a string)"),
    ("let s = { }; in { a = s.b or 1; }", (1, 27), "the 'or' operator (a default for a missing attribute)"),
    ('{ ${"a"} = 1; }', (1, 3), "a dynamic attribute name '${...}'"),
    ('let n = "a"; in { "${n}" = 1; }', (1, 19), "a dynamic attribute name"),
    ('let f = { }; in { a = f 1; }', (1, 25), "a function call"),
    ("let { body = 1; }", (1, 1), "the old 'let { ... }' syntax"),
    ("[ (let a = 1; in a) let ]", (1, 21), "the keyword 'let' as a list element"),
])
def test_constructs_outside_the_subset(text, position, construct):
    exc = error(text)
    assert isinstance(exc, UnsupportedNixError)
    assert where(exc) == position
    assert exc.message.startswith(construct + " is outside the subset of Nix that the built-in parser supports")
    assert "install Nix (nix-instantiate) on the controller" in exc.message


def test_a_forgotten_semicolon_is_not_taken_for_a_function_call():
    exc = error('{\n  a = "x"\n  b.c = 1;\n}')
    assert not isinstance(exc, UnsupportedNixError) and where(exc) == (2, 10)


def test_very_deep_nesting_is_an_error_not_a_crash():
    exc = error("[" * 5000 + "]" * 5000)
    assert "nested too deeply" in exc.message


# --- files and tokens -----------------------------------------------------------------------

def test_parse_file(tmp_path):
    path = tmp_path / "infrastructure.nix"
    path.write_text('{ test1.properties.hostname = "test1"; }', encoding="utf-8")
    assert parse_file(str(path)).data == {"test1": {"properties": {"hostname": "test1"}}}


def test_parse_file_errors_name_the_file(tmp_path):
    missing = str(tmp_path / "missing.nix")
    with pytest.raises(ModelError) as info:
        parse_file(missing)
    assert info.value.path == missing and "cannot read the model" in str(info.value)
    bad = tmp_path / "bad.nix"
    bad.write_text("{ a = 1 }", encoding="utf-8")
    with pytest.raises(ModelError, match=r"bad\.nix:1:8: expected ';'"):
        parse_file(str(bad))


def test_tokens_follow_nix_longest_match():
    kinds = [tok[0] for tok in tokenize("a.b ./p a/b x:y 1.5 .5 1 a-b // / ${ }")]
    assert kinds == ["id", ".", "id", "path", "path", "uri", "float", "float", "int", "id", "//", "/", "${", "}", "eof"]


def test_result_is_json_data():
    text = 'rec { a = [ 1 2.5 "x" null true ]; b = { c = a; }; }'
    assert json.loads(json.dumps(data(text))) == data(text)
