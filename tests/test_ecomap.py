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
    drawn,
    echarts_option,
    kind_of_group,
    layout,
    nodes_from_edges,
    summary,
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
    assert "<" not in json.dumps(option["title"]) or "Child <b>" in option["title"]["text"]  # plain canvas text


def many_edges() -> list[dict]:
    """A map like the test council's busiest: a few people, many organisations, some addresses, one school."""
    base = edges()
    rows = [{**base[0], "node_id": f"P{i}", "node_label": f"Person {i}"} for i in range(6)]
    for i in range(40):
        rows.append({**base[1], "node_id": f"ORG-{i}", "confidence_band": ("high", "medium", "low")[i % 3]})
    rows += [{**base[3], "node_id": f"ADR-{i}", "mention_count": 2} for i in range(5)]
    return [*rows, base[2]]


def test_the_map_opens_with_the_people_first_and_the_rest_in_counted_groups():
    nodes = nodes_from_edges(many_edges())
    shown = drawn(nodes, Filters())
    people = [n for n in shown if n.kind == "person"]
    groups = {n.node_id: n for n in shown if n.is_group}
    assert len(people) == 6 and not any(n.kind == "person" for n in groups.values())
    # organisations and addresses: one counted node per band, named with its count, holding every member
    assert set(groups) == {
        "group:organisation:high",
        "group:organisation:medium",
        "group:organisation:low",
        "group:address:high",
    }
    assert groups["group:organisation:low"].label == "13 organisations"
    assert groups["group:address:high"].label == "5 addresses" and len(groups["group:address:high"].members) == 5
    assert sum(len(g.members) for g in groups.values()) == 45 and len(shown) == 6 + 4 + 1  # and the school
    assert kind_of_group("group:address:high") == "address" and kind_of_group("ORG-1") is None
    # asked for: drawn one by one; the filters still apply to what a group counts
    assert len(drawn(nodes, Filters(grouped=[]))) == len(nodes)
    only_low = {n.node_id: n for n in drawn(nodes, Filters(bands=["low"], hidden=["ORG-2"]))}
    assert only_low["group:organisation:low"].label == "12 organisations"
    # a child found around a grouped node hangs from its group (never from a node that is not drawn)
    more = nodes + children_as_nodes("ORG-0", [{"child_id": "P0000009", "name": "Kim", "age": 9, "locality": "Selby"}])
    child = next(n for n in drawn(more, Filters()) if n.node_id == "P0000009")
    assert child.around == "group:organisation:high"
    words = summary(Filters(bands=["low"]), visible(nodes, Filters(bands=["low"])), len(nodes))
    assert words.startswith("Showing 14 of 52 nodes") and "organisations in 1 counted group ·" in words  # + school
    assert "confidence: low" in words


def test_one_kinds_groups_are_not_drawn_on_one_ray():
    shown = drawn(nodes_from_edges(many_edges()), Filters())
    spots = layout(shown)
    angles = {round(math.atan2(y, x), 3) for key, (x, y) in spots.items() if key.startswith("group:organisation")}
    assert len(angles) == 3


def test_the_highlight_is_in_the_data_and_follows_the_selection_and_the_filters():
    nodes = nodes_from_edges(many_edges())

    def marked(option) -> set[str]:
        return {d["id"] for d in option["series"][0]["data"] if d.get("itemStyle", {}).get("borderWidth") == 3}

    option = echarts_option("P0000001", "Child", drawn(nodes, Filters()), selected="P1")
    assert marked(option) == {"P1"}
    dark = [link for link in option["series"][0]["links"] if link["lineStyle"]["color"] == "#000"]
    assert [link["target"] for link in dark] == ["P1"]
    # no hover state that fades the rest of the map (it stayed faded after a redraw, and in the PNG)
    assert "adjacency" not in json.dumps(option) and option["series"][0]["emphasis"]["focus"] == "none"
    # the node filtered out: nothing is marked, nothing left faded
    hidden = echarts_option("P0000001", "Child", drawn(nodes, Filters(hidden=["P1"])), selected="P1")
    assert marked(hidden) == set()
    assert all("opacity" not in d.get("itemStyle", {}) for d in hidden["series"][0]["data"])
    assert marked(echarts_option("P0000001", "Child", drawn(nodes, Filters()), selected=None)) == set()


def test_the_canvas_carries_its_title_key_and_tooltips_that_fit_inside_it():
    nodes = nodes_from_edges(edges())
    option = echarts_option("P0000001", "Child {a|b}", nodes, subtitle="Showing 4 of 4 nodes")
    assert option["title"]["text"] == "Ecomap of Child (a|b)"  # braces would be read as rich-text markup
    assert option["title"]["subtext"] == "Showing 4 of 4 nodes" and option["backgroundColor"] == "#fff"
    legend = option["legend"]
    assert legend["selectedMode"] is False
    assert [item["icon"] for item in legend["data"]] == [KIND_STYLE[k][1] for k in KIND_STYLE if k != "child"]
    bands = [c["style"]["text"] for c in option["graphic"][0]["children"] if c["type"] == "text"]
    assert bands == [words for _r, _l, words in BAND_STYLE.values()]
    assert option["tooltip"]["confine"] is True
    for item in option["series"][0]["data"]:
        assert max(len(line) for line in item["tooltip"]["formatter"].split("\n")) <= 60
    texts = [option["title"]["textStyle"], option["title"]["subtextStyle"], legend["textStyle"]]
    assert min(t["fontSize"] for t in [*texts, option["series"][0]["label"]]) >= 13


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
