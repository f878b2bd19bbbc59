"""The ecomap as data: nodes from the ``child_network`` mart, the filters a worker sets, a layout computed here
(never by the browser: a force layout of 5,000 nodes took 114 s in Chromium, this takes milliseconds), the
ECharts option that draws it, and the GraphML/JSON exports. No Panel here, so all of it is testable alone.

The drawing is a classic ecomap: the child in the middle, one sector per kind of node (people, organisations,
schools, addresses, and other children when a person is expanded), and the distance from the child saying how
sure we are: high-confidence nodes on the inner ring, low on the outer. Colour, shape and line style each
carry the same meaning, so nothing depends on colour alone (Okabe–Ito palette, safe for colour blindness).

It opens with the people first: organisations and addresses (a child's map held up to 200 of them) are drawn as
one counted node per kind and band until the worker opens them (decision 0043). What the canvas draws — the
title, the key, the chosen node's highlight — is all in the option, so the PNG saved from it is the screen.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field, replace

KINDS = ("person", "organisation", "school", "address", "child")
BANDS = ("high", "medium", "low")

# kind -> (Okabe–Ito colour, ECharts symbol, words for the key)
KIND_STYLE = {
    "person": ("#0072B2", "circle", "person (circle)"),
    "organisation": ("#E69F00", "rect", "organisation (square)"),
    "school": ("#009E73", "triangle", "school (triangle)"),
    "address": ("#CC79A7", "diamond", "address (diamond)"),
    "child": ("#D55E00", "roundRect", "another child (rounded square)"),
}
CENTRE_STYLE = ("#000000", "pin")
# confidence band -> (ring radius, line type, words for the key)
BAND_STYLE = {
    "high": (1.0, "solid", "high: solid line, inner ring"),
    "medium": (1.7, "dashed", "medium: dashed line, middle ring"),
    "low": (2.4, "dotted", "low: dotted line, outer ring"),
}
LABELS_UP_TO = 150  # above this many nodes, names show on hover only (they would cover each other)
# Kinds a worker may fold into counted groups, and those folded when the map opens: a child's map held 76–324
# nodes, mostly organisations found in the text, which buried the few people that matter (issue 42).
GROUPABLE = ("organisation", "school", "address")
GROUPED_AT_FIRST = ("organisation", "address")
GROUP_PREFIX = "group:"
FONT_PX = 13  # the canvas's text, as the page's smallest (issue 42: nothing under 13 px)


@dataclass(frozen=True)
class Node:
    node_id: str
    kind: str
    label: str
    relation: str | None
    evidence: str
    mentions: int
    first_seen: dt.date | None
    last_seen: dt.date | None
    band: str
    probability: float | None
    source_ids: tuple[str, ...] = ()
    around: str | None = None  # for an expanded node: the node it hangs from
    members: tuple[str, ...] = ()  # for a group: the nodes it counts

    @property
    def is_group(self) -> bool:
        return self.node_id.startswith(GROUP_PREFIX)

    def describe(self) -> str:
        """One line of plain text about the node (tooltips, the node list)."""
        if self.is_group:
            return (
                f"{self.label} · {self.band} confidence · {self.mentions} mention{'s' * (self.mentions != 1)}"
                " · click to show them one by one"
            )
        parts = [self.label, self.kind]
        if self.relation:
            parts.append(self.relation)
        parts.append(f"{self.band} confidence")
        parts.append(f"{self.mentions} mention{'s' * (self.mentions != 1)}")
        if self.first_seen or self.last_seen:
            parts.append(f"seen {_iso(self.first_seen) or '?'} to {_iso(self.last_seen) or 'now'}")
        return " · ".join(parts)


def _iso(value) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else (str(value) if value else None)


def _date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def nodes_from_edges(edges: list[dict]) -> list[Node]:
    """One node per ``child_network`` edge (the mart has one edge per node around a child)."""
    out = []
    for e in edges:
        ids = e.get("source_ids") or ()
        out.append(
            Node(
                node_id=str(e["node_id"]),
                kind=e.get("node_type") or "person",
                label=str(e.get("node_label") or e["node_id"]),
                relation=e.get("relation"),
                evidence=e.get("evidence") or "recorded",
                mentions=int(e.get("mention_count") or 0),
                first_seen=_date(e.get("first_seen")),
                last_seen=_date(e.get("last_seen")),
                band=e.get("confidence_band") or "low",
                probability=e.get("match_probability"),
                source_ids=tuple(ids) if not isinstance(ids, str) else (ids,),
            )
        )
    return out


def children_as_nodes(around: str, children: list[dict]) -> list[Node]:
    """Other children a node appears around (from the service's ``node_children``), as nodes hanging from it."""
    return [
        Node(
            node_id=c["child_id"],
            kind="child",
            label=f"{c.get('name') or c['child_id']} ({c.get('age', '?')}, {c.get('locality') or 'locality unknown'})",
            relation=c.get("relation"),
            evidence="text" if c.get("mention_count") else "recorded",
            mentions=int(c.get("mention_count") or 0),
            first_seen=None,
            last_seen=None,
            band=c.get("confidence_band") or "low",
            probability=None,
            around=around,
        )
        for c in children
    ]


@dataclass
class Filters:
    kinds: list[str] = field(default_factory=lambda: list(KINDS))
    bands: list[str] = field(default_factory=lambda: list(BANDS))
    seen_from: dt.date | None = None
    seen_to: dt.date | None = None
    hidden: list[str] = field(default_factory=list)
    grouped: list[str] = field(default_factory=lambda: list(GROUPED_AT_FIRST))

    def keeps(self, node: Node) -> bool:
        if node.kind not in self.kinds or node.band not in self.bands or node.node_id in self.hidden:
            return False
        # a node is in the date range when the time it was seen overlaps it (undated nodes always are)
        if self.seen_from and node.last_seen and node.last_seen < self.seen_from:
            return False
        return not (self.seen_to and node.first_seen and node.first_seen > self.seen_to)


def visible(nodes: list[Node], filters: Filters) -> list[Node]:
    kept = [n for n in nodes if filters.keeps(n)]
    shown = {n.node_id for n in kept if n.around is None}
    return [n for n in kept if n.around is None or n.around in shown]  # an expansion goes with its node


def group_id(kind: str, band: str) -> str:
    return f"{GROUP_PREFIX}{kind}:{band}"


def kind_of_group(node_id: str) -> str | None:
    """The kind a group node counts (``group:organisation:low`` -> ``organisation``), None for any other node."""
    return node_id.removeprefix(GROUP_PREFIX).split(":", 1)[0] if node_id.startswith(GROUP_PREFIX) else None


def _plural(kind: str, count: int) -> str:
    return kind if count == 1 else {"address": "addresses"}.get(kind, f"{kind}s")


def grouped(nodes: list[Node], kinds: list[str]) -> list[Node]:
    """The nodes as drawn: those of ``kinds`` (only the groupable ones) folded into one counted node per kind and
    band, placed where the kind and band put their members; the rest unchanged. A node that hangs from a folded
    node hangs from its group."""
    folded = {k for k in kinds if k in GROUPABLE}
    members: dict[tuple[str, str], list[Node]] = {}
    for n in nodes:
        if n.kind in folded and n.around is None:
            members.setdefault((n.kind, n.band), []).append(n)
    into = {m.node_id: group_id(*key) for key, ms in members.items() for m in ms}
    out = [n if n.around not in into else replace(n, around=into[n.around]) for n in nodes if n.node_id not in into]
    for (kind, band), ms in sorted(members.items(), key=lambda kv: (KINDS.index(kv[0][0]), BANDS.index(kv[0][1]))):
        seen = [d for m in ms for d in (m.first_seen, m.last_seen) if d]
        out.append(
            Node(
                node_id=group_id(kind, band),
                kind=kind,
                label=f"{len(ms)} {_plural(kind, len(ms))}",
                relation=None,
                evidence="group",
                mentions=sum(m.mentions for m in ms),
                first_seen=min(seen, default=None),
                last_seen=max(seen, default=None),
                band=band,
                probability=None,
                members=tuple(m.node_id for m in ms),
            )
        )
    return out


def drawn(nodes: list[Node], filters: Filters) -> list[Node]:
    """What the map draws: the nodes the filters keep, with the grouped kinds folded."""
    return grouped(visible(nodes, filters), filters.grouped)


def layout(nodes: list[Node], spacing: float | None = None) -> dict[str, tuple[float, float]]:
    """Positions on a unit scale: sector by kind, ring by band, more rows outward when a ring is full. Other
    children sit just beyond the node they hang from. Deterministic: the same nodes always land in the same
    place (sorted by mentions, then name)."""
    main = [n for n in nodes if n.around is None]
    spacing = spacing or (0.22 if len(nodes) <= LABELS_UP_TO else 0.05)  # room for names when they are shown
    kinds = [k for k in KINDS if any(n.kind == k for n in main)]
    total = max(len(main), 1)
    weights = [max(sum(n.kind == k for n in main), 0.12 * total) for k in kinds]
    at, positions = -math.pi / 2, {}
    for kind, weight in zip(kinds, weights, strict=True):
        width = 2 * math.pi * weight / sum(weights)
        lo, hi = at + 0.06 * width, at + width - 0.06 * width
        for band in BANDS:
            ring = sorted(
                (n for n in main if n.kind == kind and n.band == band), key=lambda n: (-n.mentions, n.label, n.node_id)
            )
            radius, placed = BAND_STYLE[band][0], 0
            while placed < len(ring):
                fits = max(1, int((hi - lo) * radius / spacing))
                row = ring[placed : placed + fits]
                for i, node in enumerate(row):
                    # a ring's only node (a group, most often) sits off the middle by its band, so one kind's
                    # groups do not line up on one ray with their names on top of each other
                    at_frac = (i + 0.5) / len(row) if len(row) > 1 else (0.3, 0.5, 0.7)[BANDS.index(band)]
                    angle = lo + (hi - lo) * at_frac
                    positions[node.node_id] = (radius * math.cos(angle), radius * math.sin(angle))
                placed += len(row)
                radius += spacing * 0.8
        at += width
    for parent in {n.around for n in nodes if n.around}:
        px, py = positions.get(parent, (0.0, 0.0))
        hanging = [n for n in nodes if n.around == parent]
        base = math.atan2(py, px)
        for i, node in enumerate(hanging):
            angle = base + (i - (len(hanging) - 1) / 2) * 0.12
            r = math.hypot(px, py) + 0.5
            positions[node.node_id] = (r * math.cos(angle), r * math.sin(angle))
    return positions


def summary(filters: Filters, shown: list[Node], total: int) -> str:
    """The words above the map and in its PNG: how many nodes the filters keep, which are grouped, and the filters
    that are set (plain text: it is drawn on the canvas and escaped for the page)."""
    groups = [n for n in grouped(shown, filters.grouped) if n.is_group]
    parts = [f"Showing {len(shown)} of {total} nodes"]
    if groups:
        folded = sorted({g.kind for g in groups}, key=KINDS.index)
        parts.append(
            f"{' and '.join(_plural(k, 2) for k in folded)} in {len(groups)} counted group{'s' * (len(groups) > 1)}"
        )
    if list(filters.kinds) != list(KINDS):
        parts.append("kinds: " + (", ".join(filters.kinds) or "none"))
    if list(filters.bands) != list(BANDS):
        parts.append("confidence: " + (", ".join(filters.bands) or "none"))
    if filters.seen_from or filters.seen_to:
        parts.append(f"seen {_iso(filters.seen_from) or 'any time'} to {_iso(filters.seen_to) or 'now'}")
    if filters.hidden:
        parts.append(f"{len(filters.hidden)} hidden")
    return " · ".join(parts)


def _plain(text: str) -> str:
    """Record text for the canvas: ECharts reads ``{name|…}`` in a string as rich-text markup, so braces go."""
    return str(text).replace("{", "(").replace("}", ")")


def _tooltip(node: Node) -> str:
    """Short lines, so the tooltip fits inside the canvas (``confine`` keeps it in; a long line cannot be)."""
    return "\n".join(_plain(part) for part in node.describe().split(" · "))


_DASH = {"solid": None, "dashed": [6, 4], "dotted": [1, 4]}


def _band_key() -> dict:
    """The bands' line styles drawn on the canvas (the kinds are its legend), so a saved PNG carries its key."""
    children, x = [], 0
    for _radius, line, words in BAND_STYLE.values():
        children.append(
            {
                "type": "line",
                "shape": {"x1": x, "y1": 8, "x2": x + 30, "y2": 8},
                "style": {"stroke": "#333", "lineWidth": 2, "lineDash": _DASH[line]},
            }
        )
        children.append(
            {"type": "text", "x": x + 36, "y": 1, "style": {"text": words, "fontSize": FONT_PX, "fill": "#222"}}
        )
        x += 42 + 7 * len(words)
    return {"type": "group", "id": "band-key", "left": 12, "bottom": 10, "children": children}


def echarts_option(
    child_id: str,
    child_label: str,
    nodes: list[Node],
    scale: float = 300.0,
    selected: str | None = None,
    subtitle: str = "",
) -> dict:
    """The ECharts option for the drawn ``nodes`` (see :func:`drawn`): a ``graph`` series with ``layout: 'none'``
    (positions from :func:`layout`), the title, the kinds as its legend and the bands as lines on the canvas, and
    the ``selected`` node marked in the data itself. Nothing here is a hover state: ECharts' adjacency focus faded
    the rest of the map and stayed faded when a filter redrew it mid-hover (issue 42), in the PNG too. Tooltips are
    rich text (never HTML: the names come from the records), in short lines and confined to the canvas."""
    positions = layout(nodes)
    many = len(nodes) > LABELS_UP_TO
    size = 9 if many else 16
    kinds = [k for k in KINDS if any(n.kind == k for n in nodes)]
    data = [
        {
            "id": child_id,
            "name": _plain(child_label),
            "x": 0,
            "y": 0,
            "symbol": CENTRE_STYLE[1],
            "symbolSize": 30,
            "itemStyle": {"color": CENTRE_STYLE[0]},
            "label": {"show": True, "fontWeight": "bold", "fontSize": FONT_PX + 1},
            "tooltip": {"formatter": f"{_plain(child_label)}\n(the child)"},
        }
    ]
    links = []
    for node in nodes:
        colour, symbol, _ = KIND_STYLE.get(node.kind, KIND_STYLE["person"])
        x, y = positions[node.node_id]
        item = {
            "id": node.node_id,
            "name": _plain(node.label),
            "category": kinds.index(node.kind),
            "x": round(x * scale, 1),
            "y": round(y * scale, 1),
            "symbol": symbol,
            "symbolSize": size + (min(node.mentions, 20) / 2 if not many else 0),
            "itemStyle": {"color": colour},
            "tooltip": {"formatter": _tooltip(node)},
            # names point away from the child, so they run outwards rather than across the ring
            "label": {"position": "left" if x < -1e-9 else "right"},
        }
        line = {"type": BAND_STYLE[node.band][1], "width": 1 if many else 1.5, "color": "#555"}
        if node.is_group:  # bigger with its count, a dark edge, and always named
            item["symbolSize"] = min(20 + 3 * math.sqrt(len(node.members)), 46)
            item["itemStyle"] = {"color": colour, "borderColor": "#222", "borderWidth": 2}
            # under the square: a kind's groups sit on one ray, one per ring, and names beside them would collide
            item["label"] = {"position": "bottom", "show": True, "fontWeight": "bold"}
        if node.node_id == selected:  # the highlight: a black ring, larger, the name boxed, its line dark
            item["symbolSize"] += 10
            item["itemStyle"] = {"color": colour, "borderColor": "#000", "borderWidth": 3}
            item["label"] = {
                **item["label"],
                "show": True,
                "fontWeight": "bold",
                "backgroundColor": "#fff",
                "borderColor": "#000",
                "borderWidth": 1,
                "padding": [2, 4],
            }
            item["z"] = 10
            line = {**line, "width": 3, "color": "#000", "opacity": 1}
        data.append(item)
        links.append({"source": node.around or child_id, "target": node.node_id, "lineStyle": line})
    title = f"Ecomap of {_plain(child_label)}"
    return {
        "animation": False,
        "backgroundColor": "#fff",
        "aria": {
            "enabled": True,
            "label": {"description": f"{title}. {subtitle}. The node list beside the map names every node."},
        },
        "title": {
            "text": title,
            "subtext": _plain(subtitle),
            "left": 12,
            "top": 6,
            "textStyle": {"fontSize": FONT_PX + 3},
            "subtextStyle": {"fontSize": FONT_PX, "color": "#333"},
        },
        "legend": {
            "data": [{"name": KIND_STYLE[k][2], "icon": KIND_STYLE[k][1]} for k in kinds],
            "selectedMode": False,  # Panel drops the legend's events: the kinds are filtered in the widgets
            "left": 12,
            "bottom": 34,
            "textStyle": {"fontSize": FONT_PX},
        },
        "graphic": [_band_key()],
        "tooltip": {
            "renderMode": "richText",
            "confine": True,
            "textStyle": {"fontSize": FONT_PX, "color": "#111"},
            "borderColor": "#333",
        },
        "series": [
            {
                "type": "graph",
                "layout": "none",
                "roam": True,
                "draggable": False,
                # room for the title above, the key below and the names to the right of the outermost nodes
                "top": 70,
                "bottom": 76,
                "left": 170,
                "right": 170,
                "categories": [
                    {"name": KIND_STYLE[k][2], "symbol": KIND_STYLE[k][1], "itemStyle": {"color": KIND_STYLE[k][0]}}
                    for k in kinds
                ],
                "data": data,
                "links": links,
                "label": {
                    "show": not many,
                    "fontSize": FONT_PX,
                    "color": "#111",
                    "width": 160,  # a longer name ends in "…" (the tooltip and the details give it whole)
                    "overflow": "truncate",
                },
                "labelLayout": {"hideOverlap": True},
                "emphasis": {"focus": "none", "scale": True, "label": {"show": True}},
                "lineStyle": {"opacity": 0.7},
            }
        ],
    }


# ---- exports ---------------------------------------------------------------------------------------------
GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"
_EXPORTED = ("kind", "label", "relation", "evidence", "mentions", "first_seen", "last_seen", "band", "probability")


def to_graphml(child_id: str, child_label: str, nodes: list[Node]) -> str:
    """GraphML (Gephi, yEd, networkx read it). Built with ElementTree, so every value is escaped as XML text."""
    ET.register_namespace("", GRAPHML_NS)
    root = ET.Element(f"{{{GRAPHML_NS}}}graphml")
    for key in _EXPORTED:
        kind = "int" if key == "mentions" else "double" if key == "probability" else "string"
        ET.SubElement(root, f"{{{GRAPHML_NS}}}key", {"id": key, "for": "node", "attr.name": key, "attr.type": kind})
    graph = ET.SubElement(root, f"{{{GRAPHML_NS}}}graph", {"id": f"ecomap-{child_id}", "edgedefault": "undirected"})

    def node_element(node_id: str, values: dict) -> None:
        element = ET.SubElement(graph, f"{{{GRAPHML_NS}}}node", {"id": node_id})
        for key, value in values.items():
            if value is not None:
                ET.SubElement(element, f"{{{GRAPHML_NS}}}data", {"key": key}).text = str(value)

    node_element(child_id, {"kind": "child", "label": child_label, "band": "high"})
    for n in nodes:
        node_element(n.node_id, {k: _iso(v) if isinstance(v, dt.date) else v for k, v in _export_row(n).items()})
    for i, n in enumerate(nodes):
        ET.SubElement(
            graph, f"{{{GRAPHML_NS}}}edge", {"id": f"e{i}", "source": n.around or child_id, "target": n.node_id}
        )
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _export_row(node: Node) -> dict:
    row = asdict(node)
    return {
        "kind": row["kind"],
        "label": row["label"],
        "relation": row["relation"],
        "evidence": row["evidence"],
        "mentions": row["mentions"],
        "first_seen": row["first_seen"],
        "last_seen": row["last_seen"],
        "band": row["band"],
        "probability": row["probability"],
    }


def to_json(child_id: str, child_label: str, nodes: list[Node], filters: Filters) -> str:
    payload = {
        "child": {"id": child_id, "label": child_label},
        "filters": {**asdict(filters), "seen_from": _iso(filters.seen_from), "seen_to": _iso(filters.seen_to)},
        "nodes": [
            {"id": n.node_id, **{k: _iso(v) if isinstance(v, dt.date) else v for k, v in _export_row(n).items()}}
            for n in nodes
        ],
        "edges": [{"source": n.around or child_id, "target": n.node_id, "band": n.band} for n in nodes],
    }
    return json.dumps(payload, indent=1, ensure_ascii=False)
