"""The incremental marts (decision 0038): a next-day build recomputes the children whose records changed, and what
it leaves is the full refresh's marts, row for row."""

from __future__ import annotations

import datetime as dt
import shutil

import dagster as dg
import duckdb
import polars as pl
import pyarrow as pa
import pytest

from assets.dbt_project import DBT_PROJECT, dbt_environment
from assets.enterprise import enterprise_tables
from assets.marts import ProjectDbtCliResource, dbt_models
from assets.resources import LakehouseResource
from lake.entities import extraction, factor_statements, resolution
from lake.entities.items import FACTOR_STATEMENTS, FACTOR_STATEMENTS_SCHEMA
from lake.ingest.landing import find_extracts
from lake.ingest.pipeline import land_extract, stage_extract
from lake.ingest.staging import row_hash
from lake.storage.delta import ENTERPRISE, merge_by_key

pytestmark = pytest.mark.slow
# The marts built for the changed children only, and the view over one of them.
INCREMENTAL = ("child_timeline", "placement_history", "worker_history", "child_factor_statements")
COMPARED = (*INCREMENTAL, "child_factors")


def _snapshot(warehouse) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(warehouse / "caselake.duckdb"), read_only=True) as con:
        return {t: con.sql(f"select * from main.{t} order by all").pl() for t in COMPARED}


def _marks(warehouse) -> dict[str, int | None]:
    with duckdb.connect(str(warehouse / "caselake.duckdb"), read_only=True) as con:
        return dict(con.sql("select model, children_recomputed from dbt_state.builds").fetchall())


def _statements(lake, notes: pl.DataFrame, code: str) -> None:
    """Factor statements for these notes, as the entities stage appends them (the test reads no text)."""
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "statement_id": f"{note['note_id']}:0:10",
            "source_type": "case_note",
            "source_id": note["note_id"],
            "page": 0,
            "child_id": note["child_id"],
            "start": 0,
            "end": 10,
            "statement": note["note_text"][:10],
            "code": code,
            "kind": "factor",
            "status": "current",
            "who": "parent or carer",
            "score": 0.9,
            "model_version": "test",
            "text_hash": "h",
            "coded_at": now,
        }
        for note in notes.iter_rows(named=True)
    ]
    lake.write(
        ENTERPRISE, FACTOR_STATEMENTS, pa.Table.from_pylist(rows, schema=FACTOR_STATEMENTS_SCHEMA), mode="append"
    )


def _move_note(lake, note_id: str, to_child: str) -> str:
    """A note re-sent against another child (recorded on the wrong child's file, corrected): the enterprise row
    keeps its id and changes child, as the enterprise MERGE writes it. Returns the child it left."""
    row = lake.read(ENTERPRISE, "case_note").filter(pl.col("note_id") == note_id)
    business = [c for c in row.columns if not c.startswith("_")]
    moved = row.with_columns(
        pl.lit(to_child).alias("child_id"),
        pl.lit(dt.datetime.now(dt.UTC)).cast(pl.Datetime("us", "UTC")).alias("_updated_at"),
    )
    moved = moved.with_columns(row_hash(moved, [*business, "_deleted_at", "_deletion_reason"]))
    merge_by_key(lake, ENTERPRISE, "case_note", moved.select(row.columns), ("note_id",))
    return row["child_id"][0]


@pytest.fixture(scope="module")
def days(council, tmp_path_factory):
    """The shared council day by day through the Dagster assets, as the enterprise stage runs them: the full
    extract, then each next-day extract, the marts built after each (incrementally after the first); then a note
    moved to another child. The marts after each build."""
    root = tmp_path_factory.mktemp("dbt_incremental")
    lakehouse = LakehouseResource(lake_uri=str(root / "lake"), warehouse_dir=str(root / "warehouse"))
    lake = lakehouse.lake()
    resources = {"lakehouse": lakehouse, "dbt": ProjectDbtCliResource(project_dir=DBT_PROJECT)}
    snapshots, marks = [], []
    # The enterprise build (not subsettable), the marts compared and what they are built on, not every mart:
    # dagster-dbt passes the subset to dbt's --select
    compared = [key for key in dbt_models.keys if key.path[-1] in COMPARED]
    selection = dg.AssetSelection.assets(*enterprise_tables.keys) | dg.AssetSelection.assets(*compared).upstream()

    def build():
        assert dg.materialize([enterprise_tables, dbt_models], resources=resources, selection=selection).success
        snapshots.append(_snapshot(lakehouse.warehouse()))
        marks.append(_marks(lakehouse.warehouse()))

    for day, extract in enumerate(find_extracts(council.out / "landing")):
        land_extract(lake, extract)
        stage_extract(lake, extract)
        if day == 0:
            for module in (extraction, resolution, factor_statements):
                module.ensure_tables(lake)  # no text is read here: the statements are written below
        build()
        if day == 0:
            notes = lake.read(ENTERPRISE, "case_note").filter(pl.col("_deleted_at").is_null()).sort("note_id")
            _statements(lake, notes.head(6), "2B")
    assert len(snapshots) == 3, "the shared council has two next-day extracts"
    notes = lake.read(ENTERPRISE, "case_note").filter(pl.col("_deleted_at").is_null()).sort("note_id")
    children = sorted(set(notes["child_id"]))
    moved = notes.head(1)  # it has a statement
    joined = next(c for c in children if c != moved["child_id"][0])
    left = _move_note(lake, moved["note_id"][0], joined)
    build()
    full = root / "full"
    shutil.copytree(lakehouse.warehouse(), full)
    with dbt_environment(str(full)):
        upstream = " ".join(f"+{name}" for name in COMPARED)
        resources["dbt"].cli(["build", "--full-refresh", "--select", upstream], target_path=root / "target-full").wait()
    return {
        "snapshots": snapshots,
        "marks": marks,
        "full": _snapshot(full),
        "full_marks": _marks(full),
        "children": children,
        "moved": moved["note_id"][0],
        "left": left,
        "joined": joined,
    }


def test_an_incremental_day_equals_a_full_refresh_row_for_row(days):
    incremental, full = days["snapshots"][-1], days["full"]
    for table in COMPARED:
        assert incremental[table].height > 0, table
        assert incremental[table].equals(full[table]), table
    assert all(days["full_marks"][t] is None for t in INCREMENTAL), "the full refresh built every child"


def test_the_next_day_builds_recompute_the_changed_children_only(days):
    first, *later = days["marks"]
    assert all(first[t] is None for t in INCREMENTAL), "the first build is a full one"
    for marks in later:
        assert all(marks[t] is not None for t in INCREMENTAL), marks
        assert 0 < marks["child_timeline"] < len(days["children"]), "some children changed, not every one"
    # the next-day extracts did change the marts (so the equality above is not of two untouched tables)
    day0, day2 = days["snapshots"][0], days["snapshots"][2]
    assert not day0["child_timeline"].equals(day2["child_timeline"])
    assert day0["child_factor_statements"].is_empty() and day2["child_factor_statements"].height == 6


def test_a_record_moved_to_another_child_leaves_the_first(days):
    before, after = days["snapshots"][2], days["snapshots"][3]
    note = days["moved"]

    def owners(frame, column="source_id"):
        return set(frame.filter(pl.col(column) == note)["child_id"])

    assert owners(before["child_timeline"]) == {days["left"]}
    assert owners(after["child_timeline"]) == {days["joined"]}
    # its statement still names the first child, so it is in neither child's live records: gone from both
    assert owners(before["child_factor_statements"]) == {days["left"]}
    assert owners(after["child_factor_statements"]) == set()
    assert days["marks"][3]["child_timeline"] == 2  # the child it left and the child it joined
