"""The ecomap as data (app/ecomap.py): nodes from mart rows, filters, the layout, the ECharts option, exports."""

from __future__ import annotations

import datetime as dt
import json
import math
import xml.etree.ElementTree as ET

from app.ecomap import (
    BAND_STYLE,
    KIND_STYLE,
    Filters,
    children_as_nodes,
    echarts_option,
    layout,
    nodes_from_edges,
    to_graphml,
    to_json,
    visible,
)

HOSTILE = 'Mr <img src=x onerror="alert(1)"> & "Sons"'


def edges() -> list[dict]:
    def edge(node_id, kind, band, first, last, mentions=2, label=None, evidence="text"):
        return {
            "edge_id": f"E-{node_id}",
            "child_id": "P0000001",
            "node_id": node_id,
            "node_type": kind,
            "node_label": label or node_id,
            "relation": "mother" if kind == "person" else None,
            "evidence": evidence,
            "mention_count": mentions,
            "first_seen": first,
            "last_seen": last,
            "match_probability": 0.9,
            "confidence_band": band,
            "source_ids": [f"case_note:N{node_id}"],
        }

    return [
        edge("P1", "person", "high", dt.date(2020, 1, 1), None, 9, evidence="recorded and text"),
        edge("ORG-1", "organisation", "medium", dt.date(2021, 1, 1), dt.date(2021, 6, 1), label=HOSTILE),
        edge("SCH-1", "school", "low", dt.date(2023, 1, 1), dt.date(2024, 1, 1), 1),
        edge("ADR-1", "address", "high", None, None, 3),
    ]


def test_filters_keep_kinds_bands_dates_and_hidden_nodes():
    nodes = nodes_from_edges(edges())
    assert [n.node_id for n in visible(nodes, Filters())] == ["P1", "ORG-1", "SCH-1", "ADR-1"]
    assert [n.node_id for n in visible(nodes, Filters(bands=["high"]))] == ["P1", "ADR-1"]
    assert [n.node_id for n in visible(nodes, Filters(kinds=["school", "address"]))] == ["SCH-1", "ADR-1"]
    assert [n.node_id for n in visible(nodes, Filters(hidden=["P1"]))] == ["ORG-1", "SCH-1", "ADR-1"]
    # seen in 2022 or later: ORG-1 (last seen 2021) drops; the undated address and the open-ended person stay
    assert [n.node_id for n in visible(nodes, Filters(seen_from=dt.date(2022, 1, 1)))] == ["P1", "SCH-1", "ADR-1"]
    assert [n.node_id for n in visible(nodes, Filters(seen_to=dt.date(2020, 12, 31)))] == ["P1", "ADR-1"]
    # an expansion hangs from its node and leaves with it
    more = nodes + children_as_nodes("P1", [{"child_id": "P0000002", "name": "Sam", "age": 7, "locality": "Goole"}])
    assert "P0000002" in {n.node_id for n in visible(more, Filters())}
    assert "P0000002" not in {n.node_id for n in visible(more, Filters(hidden=["P1"]))}


def test_layout_puts_bands_on_rings_and_is_deterministic():
    nodes = nodes_from_edges(edges())
    positions = layout(nodes)
    assert positions == layout(list(reversed(nodes)))
    for n in nodes:
        radius = math.hypot(*positions[n.node_id])
        assert abs(radius - BAND_STYLE[n.band][0]) < 1e-9
    big = nodes_from_edges([{**edges()[1], "node_id": f"ORG-{i}", "confidence_band": "low"} for i in range(5000)])
    spots = layout(big)
    assert len({(round(x, 6), round(y, 6)) for x, y in spots.values()}) == 5000  # nobody on top of anybody


def test_echarts_option_carries_kind_by_shape_and_band_by_line_and_no_markup():
    option = echarts_option("P0000001", "Child <b>", nodes_from_edges(edges()))
    series = option["series"][0]
    assert series["layout"] == "none" and option["tooltip"]["renderMode"] == "richText"
    data = {d["id"]: d for d in series["data"]}
    assert data["ORG-1"]["symbol"] == KIND_STYLE["organisation"][1]
    assert data["SCH-1"]["itemStyle"]["color"] == KIND_STYLE["school"][0]
    lines = {link["target"]: link["lineStyle"]["type"] for link in series["links"]}
    assert lines == {"P1": "solid", "ORG-1": "dashed", "SCH-1": "dotted", "ADR-1": "solid"}
    assert "saveAsImage" in option["toolbox"]["feature"]


def test_graphml_and_json_exports_are_valid_and_escape_what_the_records_say():
    nodes = nodes_from_edges(edges())
    root = ET.fromstring(to_graphml("P0000001", "Child", nodes).split("?>", 1)[1])
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    assert len(root.findall(".//g:node", ns)) == 5 and len(root.findall(".//g:edge", ns)) == 4
    labels = [d.text for d in root.findall(".//g:data[@key='label']", ns)]
    assert HOSTILE in labels  # the value comes back intact: it was escaped, not altered
    payload = json.loads(to_json("P0000001", "Child", nodes, Filters(hidden=["P1"])))
    assert payload["filters"]["hidden"] == ["P1"] and len(payload["nodes"]) == 4
    assert {e["target"] for e in payload["edges"]} == {"P1", "ORG-1", "SCH-1", "ADR-1"}
