"""``caselake lake``: the lake's Delta tables (history, time travel, housekeeping). A module named for the
tables, not ``lake``, so that ``lake`` here always means the library."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from orchestration.cli.common import console, fail, read_settings

lake_app = typer.Typer(
    help="The lake's Delta tables: history, time travel, housekeeping, lineage.", no_args_is_help=True
)


@lake_app.command("history")
def lake_history(
    table: Annotated[str, typer.Argument(help="layer/name, e.g. enterprise/child")],
    limit: Annotated[int, typer.Option(help="Newest versions shown.")] = 20,
) -> None:
    """A table's versions: when, what operation, and the Dagster run and step that made each."""
    from rich.table import Table

    layer, _, name = table.partition("/")
    dt_ = read_settings().lake().table(layer, name)
    if dt_ is None:
        fail(f"no Delta table {table}")
    out = Table("version", "committed (UTC)", "operation", "run", "step", title=table)
    for c in dt_.history(limit):
        at = dt.datetime.fromtimestamp(c["timestamp"] / 1000, dt.UTC).isoformat(timespec="seconds")
        out.add_row(
            str(c["version"]), at, c["operation"], (c.get("caselake.run_id") or "")[:8], c.get("caselake.step", "")
        )
    Console().print(out)


@lake_app.command("snapshot")
def lake_snapshot(
    table: Annotated[str, typer.Argument(help="layer/name, e.g. enterprise/child")],
    out: Annotated[Path, typer.Option(help="A Parquet file to write the table as it was to.")],
    version: Annotated[int | None, typer.Option(help="A version (caselake lake history lists them).")] = None,
    as_of: Annotated[str | None, typer.Option(help="Or a moment, ISO 8601 (e.g. 2026-11-30T18:00:00Z).")] = None,
) -> None:
    """Time travel: the table as it was at a version or a moment inside the retention, written to Parquet."""
    from deltalake import DeltaTable

    layer, _, name = table.partition("/")
    lake = read_settings().lake()
    if lake.table(layer, name) is None or (version is None) == (as_of is None):
        fail("give an existing table and exactly one of --version or --as-of", 2)
    dt_ = DeltaTable(lake.uri(layer, name), storage_options=lake.storage_options or None)
    dt_.load_as_version(version if version is not None else as_of)
    import pyarrow.parquet as pq

    data = dt_.to_pyarrow_table()
    pq.write_table(data, out)
    console.print(f"{table} at version {dt_.version()}: {data.num_rows} rows written to {out}")


@lake_app.command("housekeep")
def lake_housekeep() -> None:
    """Compact and vacuum every Delta table now, keeping CASELAKE_DELTA_RETENTION_DAYS of history (the weekly
    delta_housekeeping job does the same)."""
    from lake.ops.housekeeping import housekeep

    settings = read_settings()
    done = housekeep(settings.lake(), settings.ops.delta_retention_days)
    console.print(
        f"{done.height} tables: {int(done['files_compacted'].sum())} small files compacted, "
        f"{int(done['files_vacuumed'].sum())} old files vacuumed; history kept {settings.ops.delta_retention_days} days"
    )
