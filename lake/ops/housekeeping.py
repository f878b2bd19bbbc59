"""Delta housekeeping that keeps history for audit: compact small files, then vacuum only what no version
inside the retention needs.

Every incremental commit adds a file (the entity stage commits every 512 texts, the audit copy every 15
minutes), so tables fill with small files and reads slow down. Compaction rewrites them into fewer files in a
new version: rows and history stay, and every earlier version still reads its own files. Vacuum then deletes
files that only versions older than the retention need. The retention (``CASELAKE_DELTA_RETENTION_DAYS``) is
also set as each table's log and deleted-file retention, so time travel and lineage reach back that far on
every table (docs/lakehouse.md shows the command). What was done is appended to ``ops/housekeeping``.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from lake.storage.delta import OPS, Lake

TABLE = "housekeeping"
SMALL_FILES = 2  # a table with more data files than this is compacted
SCHEMA = {
    "run_id": pl.String,
    "at": pl.Datetime("us", "UTC"),
    "table_name": pl.String,
    "version_before": pl.Int64,
    "version_after": pl.Int64,
    "rows_before": pl.Int64,
    "rows_after": pl.Int64,
    "files_before": pl.Int64,
    "files_after": pl.Int64,
    "files_compacted": pl.Int64,
    "files_vacuumed": pl.Int64,
    "retention_days": pl.Int64,
    "history_properties_set": pl.Boolean,
}


def housekeep(
    lake: Lake, retention_days: int, run_id: str = "", skip: tuple[str, ...] = (f"{OPS}/{TABLE}",)
) -> pl.DataFrame:
    """Compact and vacuum every Delta table of the lake; one row per table of what was done, also appended to
    ``ops/housekeeping``. ``skip``: tables left alone (this job's own record, written after)."""
    if retention_days < 1:
        raise ValueError(
            "the retention must be at least one day: vacuum would otherwise delete files of versions that readers still read"
        )
    rows = []
    now = dt.datetime.now(dt.UTC)
    for layer, name in lake.tables():
        if f"{layer}/{name}" in skip:
            continue
        table = lake.table(layer, name)
        before, files_before, (rows_before, _) = table.version(), len(table.file_uris()), lake.size(layer, name)
        properties_set = lake.keep_history(layer, name, retention_days)
        compacted = 0
        if files_before > SMALL_FILES:
            compacted = int(lake.compact(layer, name).get("numFilesRemoved", 0))
        vacuumed = len(lake.vacuum(layer, name, retention_days))
        table = lake.table(layer, name)
        rows.append(
            {
                "run_id": run_id,
                "at": now,
                "table_name": f"{layer}/{name}",
                "version_before": before,
                "version_after": table.version(),
                "rows_before": rows_before,
                "rows_after": lake.size(layer, name)[0],
                "files_before": files_before,
                "files_after": len(table.file_uris()),
                "files_compacted": compacted,
                "files_vacuumed": vacuumed,
                "retention_days": retention_days,
                "history_properties_set": properties_set,
            }
        )
    done = pl.DataFrame(rows, schema=SCHEMA)
    if done.height:
        lake.write(OPS, TABLE, done, mode="append", add_columns=True)
    return done
