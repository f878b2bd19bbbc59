"""The ecomap as data: nodes from the ``child_network`` mart, the filters a worker sets, a layout computed here
(never by the browser: a force layout of 5,000 nodes took 114 s in Chromium, this takes milliseconds), the
ECharts option that draws it, and the GraphML/JSON exports. No Panel here, so all of it is testable alone.

The drawing is a classic ecomap: the child in the middle, one sector per kind of node (people, organisations,
schools, addresses, and other children when a person is expanded), and the distance from the child saying how
sure we are: high-confidence nodes on the inner ring, low on the outer. Colour, shape and line style each
carry the same meaning, so nothing depends on colour alone (Okabe–Ito palette, safe for colour blindness).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field

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

    def describe(self) -> str:
        """One line of plain text about the node (tooltips, the node list)."""
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
                    angle = lo + (hi - lo) * (i + 0.5) / len(row)
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


def echarts_option(child_id: str, child_label: str, nodes: list[Node], scale: float = 300.0) -> dict:
    """The ECharts option: a ``graph`` series with ``layout: 'none'`` (positions from :func:`layout`), tooltips as
    rich text (never HTML: the names come from the records), and a toolbox that saves the drawing as PNG."""
    positions = layout(nodes)
    many = len(nodes) > LABELS_UP_TO
    size = 9 if many else 16
    data = [
        {
            "id": child_id,
            "name": child_label,
            "x": 0,
            "y": 0,
            "symbol": CENTRE_STYLE[1],
            "symbolSize": 28,
            "itemStyle": {"color": CENTRE_STYLE[0]},
            "label": {"show": True, "fontWeight": "bold"},
            "tooltip": {"formatter": f"{child_label} (the child)"},
        }
    ]
    links = []
    for node in nodes:
        colour, symbol, _ = KIND_STYLE.get(node.kind, KIND_STYLE["person"])
        x, y = positions[node.node_id]
        data.append(
            {
                "id": node.node_id,
                "name": node.label,
                "x": round(x * scale, 1),
                "y": round(y * scale, 1),
                "symbol": symbol,
                "symbolSize": size + (min(node.mentions, 20) / 2 if not many else 0),
                "itemStyle": {"color": colour},
                "tooltip": {"formatter": node.describe().replace("{", "(").replace("}", ")")},
            }
        )
        links.append(
            {
                "source": node.around or child_id,
                "target": node.node_id,
                "lineStyle": {"type": BAND_STYLE[node.band][1], "width": 1 if many else 1.5, "color": "#555"},
            }
        )
    return {
        "animation": False,
        "tooltip": {"renderMode": "richText", "confine": True},
        "toolbox": {
            "right": 10,
            "feature": {"saveAsImage": {"name": f"ecomap-{child_id}", "title": "Save as PNG", "pixelRatio": 2}},
        },
        "series": [
            {
                "type": "graph",
                "layout": "none",
                "roam": True,
                "draggable": False,
                "data": data,
                "links": links,
                "label": {"show": not many, "position": "right", "fontSize": 11},
                "emphasis": {"focus": "adjacency", "label": {"show": True}},
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
