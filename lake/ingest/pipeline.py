"""The load, as plain functions: land an extract, stage it, build the enterprise layer.

Dagster assets are thin wrappers around these; :func:`load_landing` runs the whole loop in-process for the
evaluation, the benchmarks and the tests.
Each returns per-table metrics (rows read, landed, quarantined, inserted, updated, unchanged, bytes,
seconds, Delta version) that the assets publish as metadata.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from lake.contracts.sources import NEUTRAL_TABLES, SOURCES
from lake.ingest import enterprise
from lake.ingest.landing import Extract, find_extracts, inventory
from lake.ingest.staging import QUARANTINE_SCHEMA, empty_staging_frame, stage_file
from lake.storage.delta import ENTERPRISE, LANDING, STAGING, Lake, MergeStats, ensure_table, merge_by_key

QUARANTINE = "quarantine"


@dataclass
class TableLoad:
    table: str
    rows_read: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    repaired_cells: int = 0
    normalised_cells: int = 0
    stats: MergeStats = field(default_factory=MergeStats)
    bytes_written: int = 0
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    file_error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_landed + self.rows_quarantined

    def metadata(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "rows_landed": self.rows_landed,
            "rows_quarantined": self.rows_quarantined,
            "rows_inserted": self.stats.inserted,
            "rows_updated": self.stats.updated,
            "rows_unchanged": self.stats.unchanged,
            "cells_repaired": self.repaired_cells,
            "cells_normalised": self.normalised_cells,
            "bytes_written": self.bytes_written,
            "wall_seconds": round(self.wall_seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "delta_version": self.stats.version if self.stats.version is not None else -1,
            "delta_committed": self.stats.committed,
            **({"file_error": self.file_error} if self.file_error else {}),
            **({"warnings": "; ".join(self.warnings)} if self.warnings else {}),
        }


def _table_bytes(lake: Lake, layer: str, name: str) -> int:
    dt_ = lake.table(layer, name)
    if dt_ is None:
        return 0
    actions = pa.table(dt_.get_add_actions(flatten=True))
    return int(pc.sum(actions["size_bytes"]).as_py() or 0) if actions.num_rows else 0


def land_extract(lake: Lake, extract: Extract) -> pl.DataFrame:
    """Record every file of the extract (size, SHA-256, declared rows, present) in ``landing/files``."""
    files = inventory(extract)
    merge_by_key(
        lake,
        LANDING,
        "files",
        files.with_columns((pl.col("sha256").fill_null("") + pl.col("present").cast(pl.String)).alias("_row_hash")),
        ("extract_id", "path"),
    )
    return files


def stage_extract(
    lake: Lake,
    extract: Extract,
    ingested_at: dt.datetime | None = None,
    on_table: Callable[[TableLoad], None] | None = None,
) -> dict[str, TableLoad]:
    """Stage every table of the extract into ``staging/<source>/<table>``, bad rows to the quarantine.

    Tables the extract does not hold (a change extract) are reported with zero rows. Each table is
    MERGEd by key, updating a row only when its hash changed and the extract is not older than the
    row's own, so a re-run or a late-arriving older extract changes nothing.
    """
    system = SOURCES[extract.source]
    ingested_at = ingested_at or dt.datetime.now(dt.UTC)
    loads: dict[str, TableLoad] = {}
    for table in NEUTRAL_TABLES:
        t0, c0 = time.perf_counter(), time.process_time()
        load = TableLoad(table)
        name = enterprise.staging_name(extract.source, table)
        path = extract.path / f"{system.table(table)}.csv"
        if system.table(table) in extract.declared_rows or path.exists():
            staged = stage_file(path, system, table, extract.extract_id, extract.extract_date, ingested_at)
            before = _table_bytes(lake, STAGING, name)
            load.stats = merge_by_key(
                lake,
                STAGING,
                name,
                staged.landed,
                NEUTRAL_TABLES[table]["key"],
                update_when="s._row_hash <> t._row_hash AND s._extract_date >= t._extract_date",
            )
            merge_by_key(
                lake,
                STAGING,
                f"{extract.source}/{QUARANTINE}",
                staged.quarantined.with_columns(pl.col("reason").alias("_row_hash")),
                ("_extract_id", "source_table", "row_number"),
            )
            load.bytes_written = max(0, _table_bytes(lake, STAGING, name) - before)
            load.rows_read, load.rows_landed = staged.rows_read, staged.landed.height
            load.rows_quarantined = staged.rows_quarantined
            load.repaired_cells, load.normalised_cells = staged.repaired_cells, staged.normalised_cells
            load.file_error, load.warnings = staged.file_error, staged.warnings
        ensure_table(lake, STAGING, name, empty_staging_frame(table).to_arrow().schema)
        load.stats.version = lake.version(STAGING, name)
        load.wall_seconds, load.cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        loads[table] = load
        if on_table:
            on_table(load)
    ensure_table(
        lake,
        STAGING,
        f"{extract.source}/{QUARANTINE}",
        pl.DataFrame(schema={**QUARANTINE_SCHEMA, "_row_hash": pl.String}).to_arrow().schema,
    )
    return loads


def build_enterprise(lake: Lake, on_table: Callable[[TableLoad], None] | None = None) -> dict[str, TableLoad]:
    """Rebuild the enterprise groups touched since the last run; watermarks move only after each MERGE."""
    now = dt.datetime.now(dt.UTC)
    marks = enterprise.read_watermarks(lake)
    deletions = enterprise.read_deletions(lake)
    loads = {}
    for table in enterprise.TABLES:
        t0, c0 = time.perf_counter(), time.process_time()
        before = _table_bytes(lake, ENTERPRISE, table.name)
        built = enterprise.build_table(lake, table, now, marks, deletions)
        enterprise.write_watermarks(lake, table.name, built.watermarks)
        load = TableLoad(table.name, rows_read=built.rows, rows_landed=built.rows, stats=built.stats)
        load.bytes_written = max(0, _table_bytes(lake, ENTERPRISE, table.name) - before)
        load.wall_seconds, load.cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        loads[table.name] = load
        if on_table:
            on_table(load)
    return loads


@dataclass
class LandingLoad:
    """What :func:`load_landing` did: per extract id, its staged tables; then the enterprise build (if any)."""

    staged: dict[str, dict[str, TableLoad]] = field(default_factory=dict)
    enterprise: dict[str, TableLoad] = field(default_factory=dict)


def load_landing(lake: Lake, landing: Path, build: bool = True) -> LandingLoad:
    """Land and stage every complete extract under ``landing`` (oldest first), then build the enterprise
    layer once (``build``): what the Dagster jobs do, in one process, without the instance."""
    done = LandingLoad()
    for extract in find_extracts(landing):
        land_extract(lake, extract)
        done.staged[extract.extract_id] = stage_extract(lake, extract)
    if build:
        done.enterprise = build_enterprise(lake)
    return done
