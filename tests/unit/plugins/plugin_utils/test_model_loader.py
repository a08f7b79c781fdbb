# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""load_model for Nix (both ways), JSON and YAML files; ModelError's format."""

from __future__ import annotations

import os
import pickle

import pytest

from ansible_collections.disnix.deploy.plugins.plugin_utils.model_error import ModelError, UnsupportedNixError
from ansible_collections.disnix.deploy.plugins.plugin_utils.model_loader import LoadedModel, load_model
from ansible_collections.disnix.deploy.plugins.plugin_utils.nix_eval import NixNotFoundError

from ansible_collections.disnix.deploy.tests.unit.plugins.plugin_utils.nix_model_support import HAVE_NIX

MODELS = os.path.join(os.path.dirname(__file__), "models")
needs_nix = pytest.mark.skipif(not HAVE_NIX, reason="needs nix-instantiate")


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- ModelError -----------------------------------------------------------------------------

@pytest.mark.parametrize("args, text", [
    (("boom", "infrastructure.nix", 12, 5), "infrastructure.nix:12:5: boom"),
    (("boom", "infrastructure.nix", 12), "infrastructure.nix:12: boom"),
    (("boom", "infrastructure.nix"), "infrastructure.nix: boom"),
    (("boom", None, 3, 4), "3:4: boom"),
    (("boom",), "boom"),
])
def test_model_error_is_one_readable_line(args, text):
    exc = ModelError(*args)
    assert str(exc) == text
    assert exc.message == "boom"


def test_model_error_survives_pickling():
    exc = pickle.loads(pickle.dumps(UnsupportedNixError("x", "m.nix", 1, 2)))
    assert isinstance(exc, UnsupportedNixError) and str(exc) == "m.nix:1:2: x"


# --- Nix ------------------------------------------------------------------------------------

def test_builtin_parser(tmp_path):
    path = write(tmp_path, "infrastructure.nix", '{\n  test1.properties.hostname = "test1";\n}\n')
    model = load_model(path, nix="never")
    assert model.source == "builtin-parser" and model.path == path
    assert model.data == {"test1": {"properties": {"hostname": "test1"}}}
    assert model.locate(("test1", "properties", "hostname")) == (2, 3)
    assert model.locate(("test2",)) is None


@needs_nix
def test_nix_instantiate(tmp_path):
    path = write(tmp_path, "infrastructure.nix", '{\n  test1.properties.hostname = "test1";\n}\n')
    for mode in ("auto", "always"):
        model = load_model(path, nix=mode)
        assert model.source == "nix-instantiate"
        assert model.data == {"test1": {"properties": {"hostname": "test1"}}}
        assert model.locate(("test1", "properties", "hostname")) == (2, 3)
        assert model.locate(("test2",)) is None


def test_auto_uses_the_builtin_parser_without_nix(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    path = write(tmp_path, "infrastructure.nix", "{ }")
    assert load_model(path).source == "builtin-parser"
    with pytest.raises(NixNotFoundError, match="not found on PATH"):
        load_model(path, nix="always")


def test_an_explicit_nix_instantiate_must_exist(tmp_path):
    path = write(tmp_path, "infrastructure.nix", "{ }")
    with pytest.raises(NixNotFoundError, match="not found at /no/such/nix-instantiate"):
        load_model(path, nix_instantiate="/no/such/nix-instantiate")


@needs_nix
def test_the_builtin_parser_gives_what_nix_gives():
    for name in sorted(os.listdir(MODELS)):
        if name.endswith(".nix"):
            path = os.path.join(MODELS, name)
            assert load_model(path, nix="never").data == load_model(path, nix="always").data, name


def test_outside_the_subset_without_nix(tmp_path):
    path = write(tmp_path, "infrastructure.nix", "{ test1 = import ./test1.nix; }")
    with pytest.raises(UnsupportedNixError) as info:
        load_model(path, nix="never")
    assert str(info.value).startswith(f"{path}:1:11: the builtin 'import' is outside the subset")


def test_bad_mode_and_unknown_file_kind(tmp_path):
    with pytest.raises(ValueError, match="nix must be one of auto, always, never"):
        load_model(write(tmp_path, "m.nix", "{ }"), nix="sometimes")
    path = write(tmp_path, "infrastructure.xml", "<infrastructure/>")
    with pytest.raises(ModelError, match=r"infrastructure\.xml: unknown kind of model file"):
        load_model(path)


@pytest.mark.parametrize("name", ["missing.nix", "missing.json", "missing.yml", "missing.yaml"])
@pytest.mark.parametrize("mode", ["never", "auto"])
def test_missing_file_names_the_file(tmp_path, name, mode):
    path = str(tmp_path / name)
    with pytest.raises(ModelError) as info:
        load_model(path, nix=mode)
    assert str(info.value) == f"{path}: cannot read the model: no such file"


def test_unreadable_files(tmp_path):
    directory = tmp_path / "dir.json"
    directory.mkdir()
    with pytest.raises(ModelError, match="it is a directory"):
        load_model(str(directory))
    binary = tmp_path / "bin.nix"
    binary.write_bytes(b"{ a = \"\xff\"; }")
    with pytest.raises(ModelError, match=r"bin\.nix: cannot read the model: it is not UTF-8 text"):
        load_model(str(binary), nix="never")


# --- JSON -----------------------------------------------------------------------------------

JSON_MODEL = """{
  "test1": {
    "properties": { "hostname": "test1" },
    "list": [1, {"k": "v"}],
    "esc\\"aped": true
  }
}
"""


def test_json_data_and_positions(tmp_path):
    model = load_model(write(tmp_path, "infrastructure.json", JSON_MODEL))
    assert model.source == "json"
    assert model.data == {"test1": {"properties": {"hostname": "test1"}, "list": [1, {"k": "v"}], 'esc"aped': True}}
    assert model.locate(("test1",)) == (2, 3)
    assert model.locate(("test1", "properties", "hostname")) == (3, 21)
    assert model.locate(("test1", "list", 1)) == (4, 17)
    assert model.locate(("test1", "list", 1, "k")) == (4, 18)
    assert model.locate(("test1", 'esc"aped')) == (5, 5)
    assert model.locate(("nope",)) is None


@pytest.mark.parametrize("text, position, message", [
    ('{\n  "a": 1,\n}\n', (3, 1), "invalid JSON: Expecting property name enclosed in double quotes"),
    ('{"a": 1 "b": 2}', (1, 9), "invalid JSON: Expecting ',' delimiter"),
    ("", (1, 1), "invalid JSON: Expecting value"),
    ('{\n  "a": 1,\n  "a": 2\n}', (3, 3), 'duplicate key "a": it is already defined at 2:3'),
])
def test_json_errors(tmp_path, text, position, message):
    path = write(tmp_path, "m.json", text)
    with pytest.raises(ModelError) as info:
        load_model(path)
    assert ((info.value.line, info.value.column), info.value.message) == (position, message)
    assert str(info.value).startswith(f"{path}:{position[0]}:{position[1]}: ")


def test_json_with_byte_order_mark_and_scalars(tmp_path):
    path = tmp_path / "m.json"
    path.write_bytes(b'\xef\xbb\xbf{"a": [NaN, -1.5e3, null, "x"], "b": {}}')
    model = load_model(str(path))
    assert model.data["a"][1:] == [-1500.0, None, "x"] and model.data["b"] == {}
    assert model.locate(("a", 3)) == (1, 27)


# --- YAML -----------------------------------------------------------------------------------

YAML_MODEL = """# comment
test1:
  properties:
    hostname: test1
  containers:
    - &proc {runtimeDir: /run}
test2:
  properties: {hostname: test2}
  base: &base
    system: x86_64-linux
  merged:
    <<: *base
    numOfCores: 2
"""


def test_yaml_data_and_positions(tmp_path):
    model = load_model(write(tmp_path, "infrastructure.yml", YAML_MODEL))
    assert model.source == "yaml"
    assert model.data["test2"]["merged"] == {"system": "x86_64-linux", "numOfCores": 2}
    assert model.locate(("test1",)) == (2, 1)
    assert model.locate(("test1", "properties", "hostname")) == (4, 5)
    assert model.locate(("test1", "containers", 0)) == (6, 7)
    assert model.locate(("test1", "containers", 0, "runtimeDir")) == (6, 14)
    assert model.locate(("test2", "properties", "hostname")) == (8, 16)
    assert model.locate(("test2", "merged", "numOfCores")) == (13, 5)
    assert model.locate(("test2", "merged", "system")) == (10, 5)  # where the merged value is written


@pytest.mark.parametrize("text, position, message", [
    ("a:\n  b: 1\n c: 2\n", (3, 2), "invalid YAML: expected <block end>, but found '<block mapping start>' (while parsing a block mapping)"),
    ("a: [1, 2\n", (2, 1), "invalid YAML: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence)"),
    ("a: 1\n---\nb: 2\n", (2, 1), "invalid YAML: but found another document (expected a single document in the stream)"),
    ("a: !!python/object:os.system x\n", (1, 4),
     "invalid YAML: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object:os.system'"),
    ("a: 1\nb:\n  c: 1\n  c: 2\n", (4, 3), "duplicate key 'c': it is already defined at 3:3"),
])
def test_yaml_errors(tmp_path, text, position, message):
    path = write(tmp_path, "m.yaml", text)
    with pytest.raises(ModelError) as info:
        load_model(path)
    assert ((info.value.line, info.value.column), info.value.message) == (position, message)
    assert info.value.path == path


def test_yaml_empty_and_recursive_documents(tmp_path):
    assert load_model(write(tmp_path, "empty.yml", "# nothing\n")).data is None
    model = load_model(write(tmp_path, "rec.yml", "a: &a\n  self: *a\n"))
    assert model.data["a"]["self"] is model.data["a"]
    assert model.locate(("a", "self")) == (2, 3)


def test_loaded_model_caches_locations():
    calls = []

    def locator(path):
        calls.append(path)
        return (1, 1)

    model = LoadedModel({}, "m.nix", "nix-instantiate", locator)
    assert model.locate(("a",)) == model.locate(["a"]) == (1, 1)
    assert calls == [("a",)]
    assert LoadedModel({}, "m.json", "json").locate(("a",)) is None
