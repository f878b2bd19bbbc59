"""The warehouse's copy of the lake tables dbt reads, kept in step file by file (decision 0045).

dbt-duckdb's delta plugin copied every source table whole into the warehouse on every build: at 100,000 children
that was 42 s and most of the build's memory for the case notes alone, every day, for a day that changed a few
hundred of them. A Delta table is the set of Parquet files its log names (this lake writes no deletion vectors), and
a MERGE replaces the files that held a changed key with new ones. So each copied row carries the file it came from,
and bringing the copy up to a new version is a set difference: delete the rows of the files the table no longer
names, insert the rows of the files it names that the copy lacks. The result is the table at that version, row for
row, whatever the commits between were (merges, deletes, compaction, an overwrite). A table whose schema or lake
changed is copied whole. Each table is brought up to date in one DuckDB transaction, so a reader (or a crash) sees the
old copy or the new one, never half.

The rows stream from the Parquet files one batch at a time into DuckDB, which holds them on disk under its memory
limit: memory is set by the batch and the limit, not by the table.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from lake import metering
from lake.storage.delta import Lake

FILE_COLUMN = "_source_file"
"""The Delta data file (relative to its table) a copied row came from."""
STATE = "mirror_state.tables"
"""One row per copied table: the lake table and version it holds, the schema it was copied with."""
BATCH_ROWS = 50_000


@dataclass(frozen=True)
class Mirrored:
    """What bringing one table's copy up to date did."""

    table: str  # layer.name, as the warehouse names it
    version: int | None  # the Delta version the copy now holds; None where the lake has no such table
    mode: str  # "unchanged", "files" (the differing files only), "full" (copied whole), "missing"
    files_added: int = 0
    files_removed: int = 0
    rows_inserted: int = 0
    rows_deleted: int = 0
    seconds: float = 0.0


def mirror_tables(
    lake: Lake, database: Path, tables: Iterable[tuple[str, str]], memory_limit: str | None = None
) -> list[Mirrored]:
    """Bring the warehouse's copies of ``tables`` ((layer, name) pairs) up to the lake's current versions."""
    database.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(database)) as con:
        if memory_limit:
            con.execute(f"set memory_limit = '{memory_limit}'")
        con.execute("create schema if not exists mirror_state")
        con.execute(
            f"create table if not exists {STATE} (table_name varchar primary key, lake_uri varchar,"
            " delta_version bigint, schema_text varchar, mirrored_at timestamptz)"
        )
        return [mirror_table(con, lake, layer, name) for layer, name in tables]


def mirror_table(con: duckdb.DuckDBPyConnection, lake: Lake, layer: str, name: str) -> Mirrored:
    started = time.perf_counter()
    table = f"{layer}.{name}"
    dt = lake.table(layer, name)
    if dt is None:
        return Mirrored(table, None, "missing")
    version, uri = dt.version(), lake.uri(layer, name)
    held = _one(con, f"select lake_uri, delta_version, schema_text from {STATE} where table_name = ?", [table])
    copied = bool(
        con.execute(
            "select 1 from information_schema.tables where table_schema = ? and table_name = ?", [layer, name]
        ).fetchall()
    )
    # the copy is of this very lake table (a warehouse pointed at another lake is copied whole)
    ours = copied and held is not None and held[0] == uri
    if ours and held[1] == version:
        return Mirrored(table, version, "unchanged", seconds=time.perf_counter() - started)

    dataset = dt.to_pyarrow_dataset()
    fragments = {fragment.path: fragment for fragment in dataset.get_fragments()}
    schema_text = dataset.schema.to_string(show_field_metadata=False, show_schema_metadata=False)
    incremental = ours and held[2] == schema_text
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {layer}")
        if incremental:
            have = {path for (path,) in con.execute(f"select distinct {FILE_COLUMN} from {table}").fetchall()}
            removed = sorted(have - fragments.keys())
            added = [fragments[path] for path in sorted(fragments.keys() - have)]
            deleted = 0
            if removed:
                deleted = _one(
                    con, f"delete from {table} where {FILE_COLUMN} in (select unnest(?::varchar[]))", [removed]
                )[0]
            inserted = _insert(con, table, dataset.schema, added, create=False)
            mode = "files"
        else:
            removed, added = [], list(fragments.values())
            deleted = _one(con, f"select count(*) from {table}")[0] if copied else 0
            inserted = _insert(con, table, dataset.schema, added, create=True)
            mode = "full"
        con.execute(f"insert or replace into {STATE} values (?, ?, ?, ?, now())", [table, uri, version, schema_text])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    metering.record_rows_read(inserted)
    metering.record_write(metering.Write("duckdb", f"{layer}/{name}", version, f"mirror {mode}", inserted, 0))
    return Mirrored(
        table, version, mode, len(added), len(removed), inserted, deleted, seconds=time.perf_counter() - started
    )


def _insert(
    con: duckdb.DuckDBPyConnection, table: str, schema: pa.Schema, fragments: list[ds.Fragment], create: bool
) -> int:
    """Stream the rows of ``fragments`` into ``table`` (created, replacing any, where ``create``); rows inserted."""
    if not fragments and not create:
        return 0
    reader = _rows_with_their_file(schema, fragments)
    con.register("mirror_rows", reader)
    try:
        if create:
            con.execute(f"create or replace table {table} as select * from mirror_rows").fetchall()
            return _one(con, f"select count(*) from {table}")[0]
        return _one(con, f"insert into {table} by name select * from mirror_rows")[0]
    finally:
        con.unregister("mirror_rows")


def _one(con: duckdb.DuckDBPyConnection, sql: str, parameters: list | None = None) -> tuple | None:
    """The first row of a statement's result, the result drained: DuckDB 2.0 refuses the next statement on a
    connection whose last result was only partly fetched."""
    rows = con.execute(sql, parameters or []).fetchall()
    return rows[0] if rows else None


def _rows_with_their_file(schema: pa.Schema, fragments: list[ds.Fragment]) -> pa.RecordBatchReader:
    out = schema.append(pa.field(FILE_COLUMN, pa.string()))

    def batches() -> Iterator[pa.RecordBatch]:
        for fragment in fragments:
            path = pa.array([fragment.path], pa.string())
            # the table's schema, not the file's: a file written before a column was added reads it as nulls
            for batch in fragment.to_batches(schema=schema, batch_size=BATCH_ROWS):
                files = path.take(np.zeros(batch.num_rows, dtype=np.int32))
                yield pa.RecordBatch.from_arrays([*batch.columns, files], schema=out)

    return pa.RecordBatchReader.from_batches(out, batches())
