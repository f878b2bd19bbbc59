"""The ecomap marts after one ``caselake load``: text-found nodes of every type, each text edge's mentions at
their true spans, and confidence bands measured against the synthetic truth (evaluation/ecomap.py)."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from evaluation import ecomap as ecomap_quality
from lake.entities.items import MENTIONS, text_items
from lake.entities.resolution import MENTION_PERSON
from lake.storage.delta import ENTERPRISE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def marts(read_council) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(read_council.settings.duckdb_path()), read_only=True) as con:
        return {t: con.sql(f"select * from {t}").pl() for t in ("child_network", "child_network_mentions")}


def test_one_load_gives_text_found_nodes_of_every_type_from_the_entity_tables(read_council, marts):
    network, mentions = marts["child_network"], marts["child_network_mentions"]
    text = network.filter(pl.col("evidence") != "recorded")
    assert set(text["node_type"]) == {"person", "organisation", "school", "address"}
    assert {"text", "recorded and text"} <= set(network["evidence"])
    lake = read_council.lake
    entity = lake.read(ENTERPRISE, MENTIONS)
    assert mentions.join(entity, on="mention_id", how="anti").height == 0
    linked = lake.read(ENTERPRISE, MENTION_PERSON)
    people = mentions.filter(pl.col("node_type") == "person")
    assert people.join(linked, on="mention_id", how="anti").height == 0
    keyed = entity.with_columns(
        pl.when(pl.col("source_type") == "document_page")
        .then(pl.concat_str("source_type", pl.lit(":"), "source_id", pl.lit("#"), pl.col("page").cast(pl.String)))
        .otherwise(pl.concat_str("source_type", pl.lit(":"), "source_id"))
        .alias("source_key")
    )
    text_sources = set(text["source_ids"].explode().to_list())
    relationship_ids = set(lake.read(ENTERPRISE, "relationship")["relationship_id"].to_list())
    assert text_sources - relationship_ids <= set(keyed["source_key"].to_list())
    # no child is a node on their own map; no label but people and places becomes a node, and a kinship word
    # ("Mum said") only as the recorded person resolution linked it to
    assert network.filter(pl.col("node_id") == pl.col("child_id")).height == 0
    assert set(mentions["label"]) <= {"person", "kinship_role", "organisation", "school", "address"}
    kin = mentions.filter(pl.col("label") == "kinship_role")
    assert kin.height > 0 and (kin["node_type"] == "person").all()
    kin_links = kin.select("mention_id").join(linked, on="mention_id")
    assert kin_links.height == kin.height and kin_links["method"].str.starts_with("kinship").all()
    # a place is one node across the council: the same node id around two children
    places = network.filter(pl.col("node_type") != "person")
    assert places.group_by("node_id").len()["len"].max() > 1


def test_edges_are_unique_and_each_text_edge_has_its_mentions_at_their_spans(read_council, marts):
    network, mentions = marts["child_network"], marts["child_network_mentions"]
    assert network["edge_id"].n_unique() == network.height
    assert network.select("child_id", "node_id").n_unique() == network.height
    text = network.filter(pl.col("evidence") != "recorded")
    counts = mentions.group_by("edge_id").len()
    joined = text.join(counts, on="edge_id", how="left")
    assert joined["len"].null_count() == 0
    assert (joined["len"] == joined["mention_count"]).all()
    items = text_items(read_council.lake)
    source = {(r["source_type"], r["source_id"], r["page"]): r["text"] for r in items.iter_rows(named=True)}
    for m in mentions.iter_rows(named=True):
        body = source[(m["source_type"], m["source_id"], m["page"])]
        assert body[m["start"] : m["end"]] == m["mention_text"], m["mention_id"]
    assert mentions["mention_date"].null_count() == 0
    assert (text["first_seen"] <= text["last_seen"]).all()


def test_confidence_bands_are_ordered_by_measured_precision(read_council):
    result = ecomap_quality.evaluate(read_council.settings, read_council.council.out / "truth")
    print(ecomap_quality.report(result))
    bands = result["bands"]
    assert all(bands[b]["nodes"] > 0 for b in ("high", "medium", "low"))
    # Ordered within one node: on twelve children the high and medium bands are both about 99.6% right, one
    # wrong node each in 268 and 386, so a strict order would test which of the two drew its one error.
    one_node = {b: 1 / bands[b]["nodes"] for b in ("high", "medium")}
    assert bands["high"]["precision"] + one_node["high"] >= bands["medium"]["precision"]
    assert bands["medium"]["precision"] + one_node["medium"] >= bands["low"]["precision"]
    assert bands["high"]["precision"] >= 0.95
    assert bands["high"]["distinct_precision"] > bands["low"]["distinct_precision"]
    assert result["per_child"]["true_people_shown"]["min"] > 0
