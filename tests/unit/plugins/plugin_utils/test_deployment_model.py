# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Services and distribution models evaluated with the real nix-instantiate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap

import pytest

from ansible_collections.disnix.deploy.plugins.plugin_utils import manifest
from ansible_collections.disnix.deploy.plugins.plugin_utils.deployment_model import evaluate, find_cycle
from ansible_collections.disnix.deploy.plugins.plugin_utils.model_error import ModelError

pytestmark = pytest.mark.skipif(shutil.which("nix-instantiate") is None, reason="needs Nix")

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "examples", "hello-world")


def infra(*names: str, system: str = "x86_64-linux") -> dict:
    return {n: {"properties": {"hostname": n}, "containers": {"process": {"runtimeDir": "/run"}}, "system": system,
                "numOfCores": 1, "clientInterface": "disnix-ssh-client", "targetProperty": "hostname"} for n in names}


# a derivation that is only instantiated, never built, in these tests
PKG = 'derivation { name = "x"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; }'


def models(tmp_path, services: str, distribution: str) -> tuple[str, str]:
    s, d = tmp_path / "services.nix", tmp_path / "distribution.nix"
    s.write_text(textwrap.dedent(services))
    d.write_text(textwrap.dedent(distribution))
    return str(s), str(d)


def test_hello_world_client_is_rebuilt_when_the_server_moves():
    services = os.path.join(EXAMPLE, "services.nix")
    one = evaluate(services, os.path.join(EXAMPLE, "distribution-scenario1.nix"), infra("test1", "test2", "test3"))
    two = evaluate(services, os.path.join(EXAMPLE, "distribution-scenario2.nix"), infra("test1", "test2", "test3"))
    assert [(m.service, m.target, m.container, m.type) for m in one.mappings] == [
        ("hello_world_client", "test1", "package", "package"),
        ("hello_world_server", "test2", "process", "process"),
    ]
    assert all(m.drv.endswith(".drv") and m.out.startswith("/nix/store/") for m in one.mappings)
    clients = [m.out for m in two.mappings_of("hello_world_client")]
    assert len(clients) == 2 and clients[0] == clients[1] == one.mappings_of("hello_world_client")[0].out

    moved = infra("test1", "test2", "test3")
    moved["test2"]["properties"]["hostname"] = "elsewhere"
    three = evaluate(services, os.path.join(EXAMPLE, "distribution-scenario1.nix"), moved)
    assert three.mappings_of("hello_world_client")[0].out != one.mappings_of("hello_world_client")[0].out
    assert three.mappings_of("hello_world_server")[0].out == one.mappings_of("hello_world_server")[0].out


def test_manifest_orders_and_keys(tmp_path):
    s, d = models(tmp_path, f"""\
        {{ system, ... }}:
        rec {{
          db = {{ name = "db"; type = "process"; pkg = {PKG}; }};
          api = {{ name = "api"; type = "process"; dependsOn = {{ inherit db; }};
                  pkg = {{ db }}: {PKG} // {{ name = "api-" + db.target.properties.hostname; }}; }};
        }}
        """, """\
        { infrastructure }:
        { db = [ infrastructure.a ]; api = { targets = [ { target = infrastructure.b; container = "process"; } ]; }; }
        """)
    m = manifest.compose(evaluate(s, d, infra("a", "b")), infra("a", "b"), "default")
    api = next(x for x in m["mappings"] if x["service"] == "api")
    db = next(x for x in m["mappings"] if x["service"] == "db")
    assert api["dependsOn"] == [db["id"]]
    assert api["properties"] == {"runtimeDir": "/run"}
    assert api["key"] != db["key"] and len(api["key"]) == 64


@pytest.mark.parametrize("services,distribution,message,where", [
    ("{ system, ... }: { a = { name = \"b\"; type = \"echo\"; pkg = PKG; }; }",
     "{ infrastructure }: { a = [ infrastructure.t ]; }",
     "service 'a' has name \"b\"", "services.nix:1:"),
    ("{ system, ... }: { a = { name = \"a\"; type = \"echo\"; pkg = PKG; }; }",
     "{ infrastructure }: {\n  a = [ infrastructure.t ];\n  zz = [ infrastructure.t ];\n}",
     "'zz', which is not a service", "distribution.nix:3:3"),
    ("{ system, ... }: { a = { name = \"a\"; type = \"echo\"; pkg = PKG; }; }",
     "{ infrastructure }: {\n  a = [ infrastructure.nowhere ];\n}",
     "nowhere", "distribution.nix:2:"),
    ("{ system, ... }: rec {\n  a = { name = \"a\"; type = \"echo\"; pkg = PKG; dependsOn = { inherit b; }; };\n"
     "  b = { name = \"b\"; type = \"echo\"; pkg = PKG; };\n}",
     "{ infrastructure }: { a = [ infrastructure.t ]; }",
     "depends on 'b' (dependsOn.b), but 'b' is not distributed", "services.nix:2:"),
    ("{ system, ... }: rec {\n  a = { name = \"a\"; type = \"echo\"; pkg = PKG; dependsOn = { inherit b; }; };\n"
     "  b = { name = \"b\"; type = \"echo\"; pkg = PKG; dependsOn = { inherit a; }; };\n}",
     "{ infrastructure }: { a = [ infrastructure.t ]; b = [ infrastructure.t ]; }",
     "dependsOn cycle: a -> b -> a", "services.nix:2:"),
    ("{ system, ... }: rec {\n  a = { name = \"a\"; type = \"process\"; pkg = PKG; dependsOn = { inherit b; }; };\n"
     "  b = { name = \"b\"; type = \"package\"; pkg = PKG; };\n}",
     "{ infrastructure }: { a = [ infrastructure.t ]; b = [ infrastructure.t ]; }",
     "only package services may depend on packages", "services.nix:2:"),
    ("{ system, ... }: {\n  a = { name = \"a\"; type = \"process\"; pkg = PKG; deployState = true; };\n}",
     "{ infrastructure }: { a = [ infrastructure.t ]; }",
     "service 'a' has deployState = true, but its type 'process' cannot snapshot or restore state", "services.nix:2:"),
])
def test_model_errors_name_the_file_and_place(tmp_path, services, distribution, message, where):
    s, d = models(tmp_path, services.replace("PKG", PKG), distribution)
    with pytest.raises(ModelError) as err:
        evaluate(s, d, infra("t"))
    assert message in str(err.value)
    assert where in str(err.value)


def test_pkgs_is_only_needed_when_used(tmp_path, monkeypatch):
    monkeypatch.setenv("NIX_PATH", "")
    s, d = models(tmp_path, "{ system, pkgs, ... }: { a = { name = \"a\"; type = \"echo\"; pkg = pkgs.hello; }; }",
                  "{ infrastructure }: { a = [ infrastructure.t ]; }")
    with pytest.raises(ModelError) as err:
        evaluate(s, d, infra("t"), nixpkgs="")
    assert "no nixpkgs" in str(err.value)


def test_nixpkgs_not_given_is_looked_up_in_the_search_path(tmp_path, monkeypatch):
    fake = tmp_path / "nixpkgs"
    fake.mkdir()
    (fake / "default.nix").write_text("{ system }: { hello = %s // { name = \"hello-\" + system; }; }" % PKG)
    monkeypatch.setenv("NIX_PATH", f"nixpkgs={fake}")
    s, d = models(tmp_path, "{ system, pkgs, ... }: { a = { name = \"a\"; type = \"echo\"; pkg = pkgs.hello; }; }",
                  "{ infrastructure }: { a = [ infrastructure.t ]; }")
    arch = evaluate(s, d, infra("t"), nixpkgs="")
    assert arch.mappings[0].out.startswith("/nix/store/") and arch.mappings[0].drv.endswith(".drv")


def test_a_broken_rule_is_reported_rather_than_what_the_packages_ran_into(tmp_path):
    # both phases are evaluated at once; the rule's error must still be the one reported
    s, d = models(tmp_path, "{ system, ... }: { a = { name = \"b\"; type = \"echo\"; pkg = throw \"boom\"; }; }",
                  "{ infrastructure }: { a = [ infrastructure.t ]; }")
    with pytest.raises(ModelError) as err:
        evaluate(s, d, infra("t"))
    assert "service 'a' has name \"b\"" in str(err.value) and "boom" not in str(err.value)
    # and a model that breaks no rule gets the packages' error
    s, d = models(tmp_path, "{ system, ... }: { a = { name = \"a\"; type = \"echo\"; pkg = throw \"boom\"; }; }",
                  "{ infrastructure }: { a = [ infrastructure.t ]; }")
    with pytest.raises(ModelError, match="boom"):
        evaluate(s, d, infra("t"))


def test_find_cycle():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) == []
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": ["x"]}) == ["x", "x"]


@pytest.mark.parametrize("name, problem", [
    ("../escape", "path separator"), ("/etc/evil", "path separator"), ("a\\b", "path separator"), ("..", "'..'"),
    (".", "'.'"), ("-rf", "starts with '-'"), ("a\0b", "NUL"), ("a\nb", "control character"), ("", "non-empty"),
])
def test_target_names_that_could_become_paths_are_refused(tmp_path, name, problem):
    s, d = models(tmp_path, f"""\
        {{ system, ... }}:
        {{ db = {{ name = "db"; type = "process"; pkg = {PKG}; }}; }}
        """, """\
        { infrastructure }:
        { db = [ infrastructure.good ]; }
        """)
    with pytest.raises(ModelError) as failure:
        evaluate(s, d, infra("good", name), infrastructure_source="inventory.disnix.yml")
    assert failure.value.path == "inventory.disnix.yml"
    assert repr(name) in failure.value.message and problem in failure.value.message


def test_an_address_that_ssh_would_read_as_an_option_is_refused(tmp_path):
    s, d = models(tmp_path, f"""\
        {{ system, ... }}:
        {{ db = {{ name = "db"; type = "process"; pkg = {PKG}; }}; }}
        """, """\
        { infrastructure }:
        { db = [ infrastructure.t ]; }
        """)
    targets = infra("t")
    targets["t"]["properties"]["hostname"] = "-oProxyCommand=touch /tmp/x"
    with pytest.raises(ModelError) as failure:
        evaluate(s, d, targets, infrastructure_source="inv.yml")
    assert "properties.hostname" in failure.value.message and "option" in failure.value.message


def test_model_data_beyond_the_argument_limit_goes_through_files(tmp_path):
    big = "x" * (1 << 20)  # one argument may hold at most 128 KiB on Linux
    s, d = models(tmp_path, f"""\
        {{ system, bigParam, ... }}:
        {{ db = {{ name = "db"; type = if builtins.stringLength bigParam == 1048576 then "process" else "short"; pkg = {PKG}; }}; }}
        """, """\
        { infrastructure }:
        { db = if builtins.stringLength infrastructure.t.containers.process.blob == 1048576 then [ infrastructure.t ] else [ ]; }
        """)
    targets = infra("t")
    targets["t"]["containers"]["process"]["blob"] = big
    arch = evaluate(s, d, targets, extra_params={"bigParam": big})
    assert [(m.service, m.target, m.type) for m in arch.mappings] == [("db", "t", "process")]  # both arrived whole


def test_nul_characters_are_refused_before_nix_drops_them(tmp_path):
    s, d = models(tmp_path, f"""\
        {{ system, ... }}:
        {{ db = {{ name = "db"; type = "process"; pkg = {PKG}; }}; }}
        """, """\
        { infrastructure }:
        { db = [ infrastructure.t ]; }
        """)
    targets = infra("t")
    targets["t"]["containers"]["process"]["note"] = ["ok", "a\0b"]
    with pytest.raises(ModelError) as failure:
        evaluate(s, d, targets, infrastructure_source="inv.yml")
    assert failure.value.path == "inv.yml" and "'t.containers.process.note[1]' contains a NUL" in failure.value.message
    with pytest.raises(ModelError) as failure:
        evaluate(s, d, infra("t"), extra_params={"fine": "x", "bad": {"x\0": 1}})
    assert "extra params" in failure.value.message and "'bad.x\\x00'" in failure.value.message
    with open(s, "a", encoding="utf-8") as f:
        f.write('# "\0"\n')
    with pytest.raises(ModelError) as failure:
        evaluate(s, d, infra("t"))
    assert failure.value.path == s and failure.value.line == 3 and failure.value.column == 4
    assert "NUL byte" in failure.value.message


# A small stand-in for Nixpkgs' callPackage: makeOverridable turns the result into an
# attribute set with `override` and, for a function result, `__functor` (so it stays callable)
CALL_PACKAGE = """
  makeOverridable = f: args:
    let result = f args;
        override = newArgs: makeOverridable f (args // newArgs);
    in if builtins.isFunction result
       then { inherit override; __functor = self: depArgs: makeOverridable result depArgs; }
       else result // { inherit override; };
  callPackage = fn: args: makeOverridable fn (builtins.intersectAttrs (builtins.functionArgs fn) { inherit system; } // args);
"""


def test_pkg_from_callpackage_with_override_wrapping(tmp_path):
    """pkg as Nixpkgs makes it: an attribute set with __functor (called with the
    inter-dependencies), and an overridable derivation when there are none."""
    s, d = models(tmp_path, f"""\
        {{ system, ... }}:
        let
          {CALL_PACKAGE}
          serverFn = {{ system, port }}: derivation {{
            name = "server-${{toString port}}"; inherit system; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; }};
          clientFn = {{ system }}: {{ server }}: derivation {{
            name = "client-at-" + server.target.properties.hostname + "-" + toString server.port;
            inherit system; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; }};
        in rec {{
          server = {{ name = "server"; type = "process"; port = 7; pkg = (callPackage serverFn {{ port = 6; }}).override {{ port = 7; }}; }};
          client = {{ name = "client"; type = "process"; dependsOn = {{ inherit server; }}; pkg = callPackage clientFn {{ }}; }};
        }}
        """, """\
        { infrastructure }: { server = [ infrastructure.a ]; client = [ infrastructure.b ]; }
        """)
    arch = evaluate(s, d, infra("a", "b"))
    assert arch.mappings_of("server")[0].out.endswith("-server-7")
    assert arch.mappings_of("client")[0].out.endswith("-client-at-a-7")


def test_dependency_argument_carries_transitive_connects_to(tmp_path):
    """As in Disnix, a dependency's own connectsTo/dependsOn reach the dependant's pkg as the
    dependency's `connectsTo`, in the same form (targets, selected container)."""
    s, d = models(tmp_path, """\
        { system, ... }:
        let drv = name: derivation { inherit name system; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; };
        in rec {
          db = { name = "db"; type = "process"; pkg = drv "db"; };
          api = { name = "api"; type = "process"; connectsTo = { store = db; }; pkg = { store }: drv "api"; };
          web = { name = "web"; type = "process"; dependsOn = { inherit api; };
                  pkg = { api }: drv ("web-" + api.connectsTo.store.target.properties.hostname + "-"
                    + api.target.selectedContainer + (if api.connectsTo.store ? connectsTo then "-deep" else "")
                    + (if api ? dependsOn then "-raw" else "")); };
        }
        """, """\
        { infrastructure }: { db = [ infrastructure.a ]; api = [ infrastructure.b ]; web = [ infrastructure.b ]; }
        """)
    assert evaluate(s, d, infra("a", "b")).mappings_of("web")[0].out.endswith("-web-a-process")


@pytest.mark.parametrize("pkg,message", [
    # no inter-dependencies: Disnix uses pkg as it is, so an inner header stays a function
    ("{ }: PKG", "pkg is still a function after Disnix used it as it is"),
    ("{ x = 1; }", "pkg must be a derivation, got an attribute set without outPath/drvPath"),
])
def test_classic_pkg_mistakes_name_the_service_and_file(tmp_path, pkg, message):
    s, d = models(tmp_path, "{ system, ... }:\n{\n  a = { name = \"a\"; type = \"echo\"; pkg = " + pkg.replace("PKG", PKG) + "; };\n}\n",
                  "{ infrastructure }: { a = [ infrastructure.t ]; }")
    with pytest.raises(ModelError) as err:
        evaluate(s, d, infra("t"))
    assert message in str(err.value)
    assert "service 'a' (" + s + ":3)" in str(err.value)


def test_a_pkg_that_cannot_take_its_dependencies_is_named(tmp_path):
    s, d = models(tmp_path, f"""\
        {{ system, ... }}: rec {{
          b = {{ name = "b"; type = "echo"; pkg = {PKG}; }};
          a = {{ name = "a"; type = "echo"; dependsOn = {{ inherit b; }}; pkg = {PKG}; }};
        }}
        """, "{ infrastructure }: { a = [ infrastructure.t ]; b = [ infrastructure.t ]; }")
    with pytest.raises(ModelError) as err:
        evaluate(s, d, infra("t"))
    assert "service 'a'" in str(err.value) and "write pkg = { b }: ..." in str(err.value)


def test_keys_are_disnix_keys(tmp_path):
    """The key is Disnix's: sha256 of builtins.toXML { name type pkg dependsOn }, computed
    here independently with nix-instantiate from the evaluated paths."""
    s, d = models(tmp_path, f"""\
        {{ system, ... }}: rec {{
          db = {{ name = "db"; type = "process"; pkg = {PKG}; }};
          api = {{ name = "api"; type = "echo"; dependsOn = {{ inherit db; }}; pkg = {{ db }}: {PKG}; }};
        }}
        """, "{ infrastructure }: { db = [ infrastructure.a ]; api = [ infrastructure.b ]; }")
    arch = evaluate(s, d, infra("a", "b"))
    db, api = arch.mappings_of("db")[0], arch.mappings_of("api")[0]
    expr = (f'let h = x: builtins.hashString "sha256" (builtins.toXML x); '
            f'db = h {{ name = "db"; type = "process"; pkg = "{db.out}"; dependsOn = [ ]; }}; '
            f'in [ db (h {{ name = "api"; type = "echo"; pkg = "{api.out}"; '
            f'dependsOn = [ {{ service = db; target = "a"; container = "process"; }} ]; }}) ]')
    out = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "-E", expr], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [db.key, api.key]
