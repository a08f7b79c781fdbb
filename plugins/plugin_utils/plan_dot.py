# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pictures of a deployment and of a plan, as Graphviz DOT (what disnix-visualize draws).

Each target is a cluster (its name, system and core count in the label), each mapping a
box inside it (the service name and its type), and each dependency an arrow from the
dependant to what it depends on, also across targets. The plan picture draws the union of
before and after: added and moved-here services green, removed and moved-away ones red and
dashed, rebuilt ones orange, untouched ones grey; a move also gets a dotted blue arrow from
the old place to the new one. Input is the plan document of plan_json (or a manifest put in
its vocabulary with plan_json.manifest_document), so nothing here sees container properties.

Pure logic: no Ansible, no I/O; rendering is ``dot -Tsvg`` / ``-Tpng`` in the action.
"""

from __future__ import annotations

from typing import Any, Iterable

# fill, border, font colours per kind of change; a legend explains them in the picture
STYLES = {
    "untouched": ("#f2f2f2", "#7f7f7f", "black", "solid"),
    "deployed": ("#dbe9f6", "#2f5f8f", "black", "solid"),
    "added": ("#d5f0d5", "#2e7d32", "black", "bold"),
    "moved": ("#d5f0d5", "#2e7d32", "black", "bold"),
    "rebuilt": ("#ffe7c2", "#e07b00", "black", "bold"),
    "removed": ("#fbdcdc", "#c62828", "#7f1d1d", "dashed"),
    "moved away": ("#fbdcdc", "#c62828", "#7f1d1d", "dashed"),
}
# fills per activation type in the deployment picture (the plan's colours are the changes)
TYPE_FILLS = {"process": "#dbe9f6", "wrapper": "#e6dcf5", "package": "#fff4c2", "echo": "#dff2e8"}
OTHER_TYPE_FILL = "#ffffff"
LABELS = {"added": "added", "moved": "moved here", "rebuilt": "rebuilt", "removed": "removed",
          "moved away": "moved away", "untouched": "untouched"}


def quote(text: Any) -> str:
    """A DOT double-quoted string: any text is data, never DOT syntax."""
    s = str(text)
    for a, b in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "")):
        s = s.replace(a, b)
    return '"' + s + '"'


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _node_id(service: str, target: str, container: str) -> str:
    return quote(f"{target}/{service}/{container}")


def _header(title: str, nodes: int) -> list[str]:
    # left to right reads best for chains of dependencies; more ranks apart once it gets busy
    return [
        "digraph disnix {",
        f"  graph [label={quote(title)}, labelloc=t, fontsize=20, fontname=\"Helvetica\", rankdir=LR,"
        f" compound=true, newrank=true, nodesep={0.25 if nodes > 20 else 0.4}, ranksep={1.2 if nodes > 20 else 0.9},"
        " pad=0.3];",
        "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=12, margin=\"0.15,0.06\"];",
        "  edge [color=\"#404040\", arrowsize=0.7, fontname=\"Helvetica\"];",
    ]


def _target_label(name: str, info: dict[str, Any]) -> str:
    """A quoted label, every line left-justified (DOT's \\l ends such a line)."""
    details = [str(info[k]) for k in ("system",) if info.get(k)]
    if info.get("numOfCores"):
        details.append(f"{info['numOfCores']} core{'s' if info['numOfCores'] != 1 else ''}")
    lines = [name] + ([", ".join(details)] if details else [])
    return '"' + "".join(quote(line)[1:-1] + "\\l" for line in lines) + '"'


def _cluster(index: int, name: str, info: dict[str, Any], nodes: list[str]) -> list[str]:
    lines = [f"  subgraph cluster_{index} {{",
             f"    label={_target_label(name, info)}; labeljust=l; fontsize=15; fontname=\"Helvetica-Bold\";",
             "    style=\"rounded,filled\"; fillcolor=\"#fbfbfb\"; color=\"#5a5a5a\"; penwidth=1.5;"]
    if not nodes:
        # an empty target still shows, as a small note
        lines.append(f"    {quote('empty/' + name)} [label=\"(no services)\", shape=plaintext, style=\"\", fontcolor=\"#7f7f7f\"];")
    lines += ["    " + n for n in nodes]
    lines.append("  }")
    return lines


def _node(m: dict[str, Any], kind: str, note: str = "") -> str:
    fill, border, font, style = STYLES[kind]
    if kind == "deployed":
        fill = TYPE_FILLS.get(m["type"], OTHER_TYPE_FILL)
    label = f"{m['service']}\n({m['type']}{', ' + note if note else ''})"
    return (f"{_node_id(m['service'], m['target'], m.get('container') or '')} [label={quote(label)}, fillcolor=\"{fill}\","
            f" color=\"{border}\", fontcolor=\"{font}\", style=\"rounded,filled,{style}\","
            f" penwidth={2 if kind not in ('untouched', 'deployed') else 1}];")


def _edges(mappings: Iterable[dict[str, Any]], present: set[tuple[str, str]], nodes_of: dict[tuple[str, str], str],
           style: str = "") -> list[str]:
    lines = []
    for m in mappings:
        for dep in m.get("dependsOn") or []:
            key = (dep["service"], dep["target"])
            if key in present:
                lines.append(f"  {nodes_of[(m['service'], m['target'])]} -> {nodes_of[key]}{style};")
    return lines


def _legend(entries: list[tuple[str, str]]) -> list[str]:
    """A key of the colours: (fill, text) rows."""
    rows = "".join(f"<TR><TD BGCOLOR=\"{fill}\" WIDTH=\"18\"></TD><TD ALIGN=\"LEFT\">{_html(text)}</TD></TR>"
                   for fill, text in entries)
    return ["  legend [shape=plaintext, style=\"\", label=<<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\""
            f" CELLPADDING=\"4\">{rows}</TABLE>>];"]


def deployment(document: dict[str, Any], title: str = "deployment") -> str:
    """The picture of what runs: a manifest document (plan_json.manifest_document)."""
    mappings = document.get("mappings") or []
    targets = document.get("targets") or {}
    nodes_of = {(m["service"], m["target"]): _node_id(m["service"], m["target"], m.get("container") or "") for m in mappings}
    lines = _header(title, len(mappings))
    for i, name in enumerate(sorted(set(targets) | {m["target"] for m in mappings})):
        nodes = [_node(m, "deployed") for m in mappings if m["target"] == name]
        lines += _cluster(i, name, targets.get(name) or {}, nodes)
    lines += _edges(mappings, set(nodes_of), nodes_of)
    types = sorted({m["type"] for m in mappings})
    if types:
        lines += _legend([(TYPE_FILLS.get(t, OTHER_TYPE_FILL), "type " + t) for t in types])
    lines.append("}")
    return "\n".join(lines) + "\n"


def plan(document: dict[str, Any], title: str = "plan") -> str:
    """The picture of a change: a plan document (plan_json.build)."""
    changes = document.get("changes") or {}
    shown: dict[tuple[str, str], tuple[dict[str, Any], str, str]] = {}
    for kind in ("untouched", "rebuilt", "added"):
        for m in changes.get(kind) or []:
            shown[(m["service"], m["target"])] = (m, kind, "")
    for m in changes.get("moved") or []:
        shown[(m["service"], m["target"])] = (m, "moved", "from " + m["from"])
    for m in changes.get("removed") or []:
        shown[(m["service"], m["target"])] = (m, "removed", "")
    after_targets = {(m["service"], m["target"]): m for m in document.get("after") or []}
    before_targets = {(m["service"], m["target"]): m for m in document.get("before") or []}
    for m in changes.get("moved") or []:
        old = before_targets.get((m["service"], m["from"])) or dict(m, target=m["from"])
        shown[(m["service"], m["from"])] = (old, "moved away", "to " + m["target"])
    nodes_of = {k: _node_id(m["service"], m["target"], m.get("container") or "") for k, (m, _kind, _n) in shown.items()}
    targets = document.get("targets") or {}
    lines = _header(title, len(shown))
    for i, name in enumerate(sorted(set(targets) | {t for _s, t in shown})):
        nodes = [_node(m, kind, note) for (s, t), (m, kind, note) in sorted(shown.items()) if t == name]
        lines += _cluster(i, name, targets.get(name) or {}, nodes)
    # dependencies as they will be; those that go away dashed and red
    lines += _edges(after_targets.values(), set(after_targets) & set(nodes_of), nodes_of)
    gone = [m for k, m in before_targets.items() if k not in after_targets]
    lines += _edges(gone, set(before_targets) & set(nodes_of), nodes_of, " [style=dashed, color=\"#c62828\"]")
    for m in changes.get("moved") or []:
        lines.append(f"  {nodes_of[(m['service'], m['from'])]} -> {nodes_of[(m['service'], m['target'])]}"
                     " [style=dotted, color=\"#1565c0\", penwidth=2, constraint=false, label=\"moves\", fontcolor=\"#1565c0\","
                     " fontsize=10];")
    kinds = [k for k in ("added", "moved", "moved away", "rebuilt", "removed", "untouched")
             if any(kind == k for _m, kind, _n in shown.values())]
    lines += _legend([(STYLES[k][0], LABELS[k]) for k in kinds])
    lines.append("}")
    return "\n".join(lines) + "\n"
