# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pictures' DOT: what is drawn, how changes are coloured, that any name stays data."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.disnix.deploy.plugins.plugin_utils import plan_dot, plan_json
from ansible_collections.disnix.deploy.tests.unit.plugins.plugin_utils.test_plan_json import checked_plan
from ansible_collections.disnix.deploy.tests.unit.plugins.plugin_utils.test_transaction import NEW, mapping, manifest

SVG = "{http://www.w3.org/2000/svg}"


def svg_texts(dot_source: str) -> list[str]:
    if shutil.which("dot") is None:
        pytest.skip("needs Graphviz dot")
    svg = subprocess.run(["dot", "-Tsvg"], input=dot_source, capture_output=True, text=True, check=True).stdout
    root = ET.fromstring(svg)
    return [t.text or "" for t in root.iter(SVG + "text")]


def test_the_deployment_shows_targets_services_types_and_arrows():
    doc = plan_json.manifest_document(NEW)
    source = plan_dot.deployment(doc, "hello")
    texts = svg_texts(source)
    for name in ("t1", "t2", "t3", "db", "api", "tools", "(process)", "(package)"):
        assert name in texts, (name, texts)
    # api on t2 depends on db on t3: an arrow across the targets
    assert '"t2/api/process" -> "t3/db/process";' in source
    assert source.count("subgraph cluster_") == 3


def test_names_are_data_not_dot_syntax():
    evil = manifest(mapping('x"] ; y -> z [label="', "t1"))
    source = plan_dot.deployment(plan_json.manifest_document(evil))
    texts = svg_texts(source)
    assert 'x"] ; y -> z [label="' in texts
    assert plan_dot.quote('a\\"b\nc') == '"a\\\\\\"b\\nc"'


def test_the_plan_colours_moves_rebuilds_and_additions():
    source = plan_dot.plan(checked_plan(), "the plan")
    texts = svg_texts(source)
    # db is drawn twice: where it goes (green, "from t1") and where it was (red, dashed, "to t3")
    assert '"t3/db/process" [label="db\\n(process, from t1)", fillcolor="#d5f0d5"' in source
    assert '"t1/db/process" [label="db\\n(process, to t3)", fillcolor="#fbdcdc"' in source
    assert "style=\"rounded,filled,dashed\"" in source
    assert '"t1/db/process" -> "t3/db/process" [style=dotted' in source
    assert '"t2/api/process" [label="api\\n(process)", fillcolor="#ffe7c2"' in source
    assert "(package)" in texts and "added" in texts and "moved here" in texts and "rebuilt" in texts


def test_fifty_services_on_eight_targets_stay_compact():
    mappings, prev = [], []
    for i in range(50):
        deps = [prev[-1]["id"]] if prev and i % 5 else []
        m = mapping(f"svc{i:02d}", f"node{i % 8 + 1}", deps=deps, type_=("process", "wrapper", "package")[i % 3])
        mappings.append(m)
        prev.append(m)
    doc = plan_json.manifest_document(dict(manifest(*mappings), targets={}))
    source = plan_dot.deployment(doc)
    assert source.count("subgraph cluster_") == 8
    texts = svg_texts(source)
    assert all(f"svc{i:02d}" in texts for i in range(50))
    # busy pictures get tighter spacing, so 50 boxes are not spread over metres
    assert "nodesep=0.25" in source
