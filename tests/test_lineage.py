"""The provenance of a single fact, followed on the loaded council back to the exact landing file and row."""

import csv
import hashlib
from pathlib import Path

import duckdb
import polars as pl
import pytest

from lake.ops.lineage import LineageError, Provenance, Tracer
from lake.storage.delta import ENTERPRISE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tracer(read_council) -> Tracer:
    settings = read_council.settings
    return Tracer(read_council.lake, settings.warehouse(), read_council.council.out / "landing")


@pytest.fixture(scope="module")
def network(read_council) -> pl.DataFrame:
    with duckdb.connect(str(read_council.settings.duckdb_path()), read_only=True) as con:
        return pl.from_arrow(con.sql("select * from main.child_network order by edge_id").to_arrow_table())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_reaches_the_file_and_row(found: Provenance) -> None:
    """Every staging row of the chain is the row its landing file holds at that row number, and every landing
    file is on disk with the recorded SHA-256."""
    files = found.landing_files()
    assert files, found.as_text()
    for link in files:
        assert _sha256(Path(link.detail["location"])) == link.detail["sha256"], link
    staged = [link for link in found.links if link.what == "staging row"]
    for link in staged:
        file = next(
            f for f in files if f.key == {"extract_id": link.detail["extract_id"], "path": link.detail["source_file"]}
        )
        with open(file.detail["location"], newline="", encoding="utf-8", errors="replace") as handle:
            rows = list(csv.reader(handle))
        row = rows[link.detail["row_number"]]  # row numbers count data rows from 1, after the header
        assert set(str(v) for v in link.key.values()) <= set(row), (link, row)


def test_a_recorded_ecomap_edge_leads_to_the_relationship_row_of_its_extract_file(tracer, network, read_council):
    edge = network.filter(pl.col("evidence").str.starts_with("recorded")).row(0, named=True)
    found = tracer.edge(edge["edge_id"])
    assert found.child_id == edge["child_id"]
    relationship = next(link for link in found.links if link.table == "enterprise/relationship")
    assert relationship.key["relationship_id"] in edge["source_ids"]
    assert relationship.version == read_council.lake.version(ENTERPRISE, "relationship")
    assert relationship.written_in is not None and relationship.run_id  # the version and run that wrote it
    _assert_reaches_the_file_and_row(found)
    assert any(f.key["path"] == "RELATIONSHIP.csv" for f in found.landing_files())
    # ids and hashes only: the person's name and the notes' words are not in the chain
    text = found.as_text()
    assert edge["node_label"] and edge["node_label"] not in text


def test_a_text_ecomap_edge_leads_to_its_mentions_spans_models_and_source_files(tracer, network):
    edge = network.filter((pl.col("evidence") == "text") & (pl.col("mention_count") >= 2)).row(0, named=True)
    found = tracer.edge(edge["edge_id"])
    mentions = [link for link in found.links if link.what == "entity mention"]
    assert 1 <= len(mentions) <= 5
    for m in mentions:
        assert {"start", "end", "label", "method", "model_version", "source_type", "source_id"} <= set(m.detail)
        assert m.run_id  # the extraction run that wrote it
    _assert_reaches_the_file_and_row(found)


def test_a_document_mention_reaches_the_document_file_by_its_hash(tracer, read_council):
    mentions = read_council.lake.read(ENTERPRISE, "entity_mentions")
    mention = mentions.filter(pl.col("source_type") == "document_page").sort("mention_id").row(0, named=True)
    found = tracer.mention(mention["mention_id"])
    page = next(link for link in found.links if link.what == "document page text")
    assert page.key == {"document_id": mention["source_id"], "page": mention["page"]}
    assert {"method", "tool", "content_hash"} <= set(page.detail)
    document = next(f for f in found.landing_files() if f.detail["kind"] == "document")
    assert document.detail["sha256"] == page.detail["content_hash"]
    _assert_reaches_the_file_and_row(found)  # and the manifest row in DOCUMENT_MANIFEST.csv


def test_a_mart_row_and_a_search_hit_lead_to_their_extract_files(tracer, read_council):
    with duckdb.connect(str(read_council.settings.duckdb_path()), read_only=True) as con:
        involvement = con.sql("select min(involvement_id) from main.worker_history").fetchall()[0][0]
        event = con.sql("select min(timeline_event_id) from main.child_timeline where source_table = 'case_note'")
        event = event.fetchall()[0][0]
    found = tracer.mart_row("worker_history", {"involvement_id": involvement})
    assert {link.table for link in found.links} >= {"enterprise/involvement", "enterprise/worker"}
    _assert_reaches_the_file_and_row(found)
    found = tracer.mart_row("child_timeline", {"timeline_event_id": event})
    assert any(f.key["path"] == "CASE_NOTE.csv" for f in found.landing_files())
    _assert_reaches_the_file_and_row(found)

    from lake.search.index import open_table

    settings = read_council.settings
    chunk = open_table(settings.lancedb()).search().where("source_type = 'case_note'").limit(1).to_list()[0]
    found = tracer.search_hit(chunk["chunk_id"], settings.lancedb())
    assert found.links[0].what == "search chunk" and found.links[1].key == {"note_id": chunk["source_id"]}
    _assert_reaches_the_file_and_row(found)


def test_a_fact_that_is_not_there_is_a_clear_error(tracer):
    with pytest.raises(LineageError, match="no ecomap edge"):
        tracer.edge("E-0000000000000000")
    with pytest.raises(LineageError, match="no mart"):
        tracer.mart_row("no_such_mart", {"id": "1"})
    with pytest.raises(LineageError, match="has no column"):
        tracer.mart_row("worker_history", {"nonsense": "1"})
