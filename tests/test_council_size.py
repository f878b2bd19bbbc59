"""A council's size (issue 38): a day's MERGE rewrites the files that hold the day's keys, not the table; an
extract delivered again byte for byte is recognised by its hashes and commits nothing.

(A file larger than its batch: every hostile-extract test runs in batches of two as well. A process killed
during batched staging: tests/test_lakehouse.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow.parquet as pq

from lake.contracts.sources import SOURCES
from lake.ingest.landing import read_extract
from lake.ingest.pipeline import land_extract, stage_extract
from lake.storage import delta, warehouse
from lake.storage.delta import Lake, merge_by_key
from tests.hostile import WORKERS, table_text, write_extract

LL = SOURCES["liquidlogic"]


def _last_commit(table_uri: str) -> list[dict]:
    log = sorted(Path(table_uri, "_delta_log").glob("*.json"))[-1]
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _notes(ids: range, rng: np.random.Generator) -> pl.DataFrame:
    # Random text: files of a realistic, incompressible size (a note compresses little better than this).
    text = [rng.bytes(120).hex() for _ in ids]
    frame = pl.DataFrame({"note_id": [f"N{i:07d}" for i in ids], "note_text": text})
    return frame.with_columns(pl.col("note_text").alias("_row_hash"))


def test_a_merge_of_ten_changed_keys_rewrites_only_the_files_that_hold_them(tmp_path, monkeypatch):
    monkeypatch.setattr(delta, "TARGET_FILE_BYTES", 256 << 10)  # many files from a small table
    lake, rng = Lake(str(tmp_path)), np.random.default_rng(38)
    notes = _notes(range(60_000), rng)
    merge_by_key(lake, "enterprise", "case_note", notes.sample(fraction=1.0, shuffle=True, seed=1), ("note_id",))
    table = lake.table("enterprise", "case_note")
    files = table.file_uris()
    assert len(files) >= 40, f"{len(files)} files: the table must span many"
    holder = {}  # note id -> the data file that holds it
    for uri in files:
        for note_id in pq.read_table(uri, columns=["note_id"])["note_id"].to_pylist():
            holder[note_id] = Path(uri).name
    changed = notes.sample(10, seed=2).with_columns(pl.lit("edited").alias("note_text"), pl.lit("e").alias("_row_hash"))
    new = _notes(range(60_000, 60_003), rng)

    stats = merge_by_key(lake, "enterprise", "case_note", pl.concat([changed, new]), ("note_id",))

    assert (stats.updated, stats.inserted) == (10, 3)
    actions = _last_commit(lake.uri("enterprise", "case_note"))
    removed = {Path(a["remove"]["path"]).name for a in actions if "remove" in a}
    added = [a["add"] for a in actions if "add" in a]
    assert removed == {holder[k] for k in changed["note_id"]}, "exactly the files holding a changed key"
    assert len(removed) <= 10 < len(files) // 4
    rewritten_rows = sum(json.loads(a["stats"])["numRecords"] for a in added)
    assert rewritten_rows <= len(removed) * notes.height / len(files) * 2 + 3
    after = lake.read("enterprise", "case_note")
    assert after.height == 60_003 and after["note_id"].n_unique() == 60_003
    assert after.filter(pl.col("note_id").is_in(changed["note_id"].implode()))["note_text"].unique().to_list() == [
        "edited"
    ]


def _deliver(root: Path, notes: list[dict], crlf: bool = False) -> Path:
    """The extract delivered (again) into the landing folder."""
    shutil.rmtree(root, ignore_errors=True)
    files = {LL.table(t): table_text("liquidlogic", t, rows) for t, rows in (("worker", WORKERS), ("case_note", notes))}
    if crlf:
        files = {name: text.replace("\n", "\r\n") for name, text in files.items()}
    return write_extract(root, "2026-11-01", files)


def test_an_extract_delivered_again_byte_for_byte_is_known_by_its_hashes_and_commits_nothing(tmp_path):
    notes = [
        {
            "note_id": f"CN{i}",
            "child_id": f"P{i % 7}",
            "worker_id": "W1",
            "note_type": "Home Visit",
            "event_date": "01/11/2026",
            "recorded_at": "01/11/2026 10:00:00",
            "note_text": f"Seen at home, visit {i}.",
        }
        for i in range(300)
    ]
    lake = Lake(str(tmp_path / "lake"))
    folder = _deliver(tmp_path / "landing", notes)
    land_extract(lake, read_extract(folder))
    first = stage_extract(lake, read_extract(folder))
    versions = {name: lake.version(layer, name) for layer, name in lake.tables()}
    assert first["case_note"].rows_landed == 300 and "unchanged_delivery" not in first["case_note"].notes

    land_extract(lake, read_extract(folder))
    again = stage_extract(lake, read_extract(folder))

    assert {name: lake.version(layer, name) for layer, name in lake.tables()} == versions, "no commit anywhere"
    for table, load in again.items():
        assert (load.rows_read, load.rows_landed, load.rows_quarantined) == (
            first[table].rows_read,
            first[table].rows_landed,
            first[table].rows_quarantined,
        ), table
        assert not load.stats.committed
    assert again["case_note"].notes["unchanged_delivery"] and again["worker"].stats.unchanged == 4

    # The same rows with other line endings: the hashes differ, so every row is read again; none changed,
    # so staging commits nothing (only landing records the new hashes).
    folder = _deliver(tmp_path / "landing", notes, crlf=True)
    land_extract(lake, read_extract(folder))
    reread = stage_extract(lake, read_extract(folder))
    assert "unchanged_delivery" not in reread["case_note"].notes
    assert reread["case_note"].rows_read == 300 and reread["case_note"].stats.unchanged == 300
    assert not any(load.stats.committed for load in reread.values())
    for layer, name in lake.tables():
        if layer == "staging":
            assert lake.version(layer, name) == versions[name], name


def test_the_warehouse_copy_follows_each_change_file_by_file(tmp_path, monkeypatch):
    """dbt reads DuckDB's copy of each lake table (decision 0045): a change replaces the copy's rows of the files the
    change removed with the rows of the files it added, and the copy is then the table, row for row."""
    monkeypatch.setattr(delta, "TARGET_FILE_BYTES", 256 << 10)
    lake, rng, database = Lake(str(tmp_path / "lake")), np.random.default_rng(40), tmp_path / "caselake.duckdb"
    notes = _notes(range(20_000), rng)
    merge_by_key(lake, "enterprise", "case_note", notes, ("note_id",))

    def mirror() -> warehouse.Mirrored:
        (done,) = warehouse.mirror_tables(lake, database, [("enterprise", "case_note")])
        with duckdb.connect(str(database), read_only=True) as con:
            copy = con.sql(f"select * exclude ({warehouse.FILE_COLUMN}) from enterprise.case_note").pl()
        table = lake.read("enterprise", "case_note")
        assert copy.sort("note_id").equals(table.select(copy.columns).sort("note_id")), "the copy is the table"
        assert copy.columns == table.columns
        return done

    first = mirror()
    assert (first.mode, first.rows_inserted) == ("full", 20_000) and first.files_added >= 10
    assert mirror().mode == "unchanged"

    changed = notes.sample(5, seed=3).with_columns(pl.lit("edited").alias("note_text"), pl.lit("e").alias("_row_hash"))
    merge_by_key(
        lake, "enterprise", "case_note", pl.concat([changed, _notes(range(20_000, 20_002), rng)]), ("note_id",)
    )
    actions = _last_commit(lake.uri("enterprise", "case_note"))
    removed = [a["remove"] for a in actions if "remove" in a]
    added_rows = sum(json.loads(a["add"]["stats"])["numRecords"] for a in actions if "add" in a)
    day = mirror()
    assert (day.mode, day.files_removed, day.rows_inserted) == ("files", len(removed), added_rows)
    assert day.rows_deleted == added_rows - 2, "the rewritten files' rows out, the same rows (5 edited) and 2 new in"
    assert day.files_removed < first.files_added / 2

    lake.delete("enterprise", "case_note", f"note_id = '{changed['note_id'][0]}'")
    assert mirror().mode == "files"

    wider = lake.read("enterprise", "case_note").with_columns(pl.lit("x").alias("note_type"))
    lake.write("enterprise", "case_note", wider, mode="overwrite")
    assert mirror().mode == "full", "a new column: copied whole"
    assert warehouse.mirror_tables(lake, database, [("enterprise", "missing")])[0].mode == "missing"


def test_a_merge_touching_many_files_commits_in_parts_of_a_few_files_each(tmp_path, monkeypatch):
    """delta-rs holds the files a merge rewrites in memory: a held source is committed in parts, each falling in at
    most MERGE_FILES_PER_COMMIT files, and the table ends as one merge would leave it."""
    monkeypatch.setattr(delta, "TARGET_FILE_BYTES", 256 << 10)
    monkeypatch.setattr(delta, "MERGE_FILES_PER_COMMIT", 4)
    lake, rng = Lake(str(tmp_path)), np.random.default_rng(45)
    notes = _notes(range(30_000), rng)
    merge_by_key(lake, "enterprise", "case_note", notes, ("note_id",))
    first = lake.version("enterprise", "case_note")
    files = len(lake.table("enterprise", "case_note").file_uris())
    changed = notes.sample(24, seed=4).with_columns(pl.lit("edited").alias("note_text"), pl.lit("e").alias("_row_hash"))

    stats = merge_by_key(
        lake, "enterprise", "case_note", pl.concat([changed, _notes(range(30_000, 30_002), rng)]), ("note_id",)
    )

    assert (stats.updated, stats.inserted, stats.unchanged) == (24, 2, 0) and files >= 20
    commits = stats.version - first
    assert commits >= 4, "24 keys over many files: several parts"
    for version in range(first + 1, stats.version + 1):
        log = Path(lake.uri("enterprise", "case_note"), "_delta_log", f"{version:020d}.json")
        removed = [json.loads(line) for line in log.read_text().splitlines() if '"remove"' in line]
        assert len(removed) <= 4, f"version {version} rewrote {len(removed)} files"
    after = lake.read("enterprise", "case_note")
    assert after.height == 30_002 and after["note_id"].n_unique() == 30_002
    edited = after.filter(pl.col("note_id").is_in(changed["note_id"].implode()))
    assert edited["note_text"].unique().to_list() == ["edited"] and edited.height == 24
    again = merge_by_key(lake, "enterprise", "case_note", changed, ("note_id",))
    assert not again.committed and again.unchanged == 24, "a part applied again changes nothing"


def test_a_key_two_source_rows_would_write_is_named_with_its_sources(tmp_path):
    """The collision check groups the keys' hashes first (bounded memory at 8.6 million keys), then names the exact
    keys and the sources of the rows that share one."""
    from lake.ingest import enterprise
    from lake.storage.spool import Spool

    table = next(t for t in enterprise.TABLES if t.name == "case_note")
    rows = Spool(tmp_path / "rows")
    notes = _notes(range(5_000), np.random.default_rng(5)).with_columns(pl.lit("liquidlogic").alias("_source"))
    rows.write(notes)
    assert enterprise.collisions(enterprise.TablePlan(table, rows, {})) == []
    again = notes.filter(pl.col("note_id").is_in(["N0000007", "N0004000"])).with_columns(
        pl.lit("mosaic").alias("_source")
    )
    rows.write(again)
    (problem,) = enterprise.collisions(enterprise.TablePlan(table, rows, {}))
    assert (
        "2 key(s)" in problem and "N0000007 (2 rows from liquidlogic and mosaic)" in problem and "N0004000" in problem
    )
