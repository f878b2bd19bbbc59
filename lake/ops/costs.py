"""The cost of each asset materialization: what its step used (:mod:`lake.metering`), its share of it, and
pounds from stated prices, appended to the Delta table ``ops/asset_costs``.

A step may materialize several assets (a multi-asset, the dbt project, a range of partitions). Its measured
time, CPU and model time are split between them by weight — each dbt model's own execution time where dbt
reports one, equal shares otherwise — so summing a step's rows gives the step. Rows and bytes written are
exact where an asset is a Delta table the step wrote (asset key ``enterprise/child`` ↔ table
``enterprise/child``); writes to other tables are split like the time. Peak memory and the items processed
(documents, notes, chunks, ...) belong to the step and are repeated on each of its rows: the cost mart takes
them once per step. Why these choices: docs/decisions/0016.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from lake.metering import Usage
from lake.storage.delta import OPS, Lake, ensure_table

TABLE = "asset_costs"
# What steps count (lake.metering.record_items): documents read into text and their pages, text items (notes,
# document pages, form answers) read for entities, chunks embedded, landing files received.
ITEM_UNITS = ("documents", "pages", "text_items", "chunks", "files")
# Every materialization carries these as Dagster metadata (the UI plots them over time); a test checks it.
COST_FIELDS = (
    "cost_wall_seconds",
    "cost_cpu_seconds",
    "cost_worker_cpu_seconds",
    "cost_peak_memory_mb",
    "cost_model_seconds",
    "cost_rows_read",
    "cost_rows_written",
    "cost_bytes_written",
    "cost_compute_gbp",
    "cost_storage_gbp_month",
)
SCHEMA = {
    "run_id": pl.String,
    "step": pl.String,
    "asset_key": pl.String,
    "partition": pl.String,
    "status": pl.String,  # "materialized", or "failed": a failed step costs too
    "started_at": pl.Datetime("us", "UTC"),
    "share": pl.Float64,
    "step_assets": pl.Int64,
    "wall_seconds": pl.Float64,
    "cpu_seconds": pl.Float64,
    "worker_cpu_seconds": pl.Float64,
    "peak_memory_mb": pl.Float64,
    "model_seconds": pl.Float64,
    "model_seconds_by_kind": pl.String,  # JSON: {"ocr": 12.5, ...}
    "rows_read": pl.Int64,
    "rows_written": pl.Int64,
    "bytes_written": pl.Int64,
    **{f"step_{unit}": pl.Int64 for unit in ITEM_UNITS},
    "delta_versions": pl.String,  # JSON: {"enterprise/child": 4, ...}, the versions this asset's commits made
    "price_vcpu_hour_gbp": pl.Float64,
    "price_gb_month_gbp": pl.Float64,
    "compute_gbp": pl.Float64,
    "storage_gbp_month": pl.Float64,
}


@dataclass(frozen=True)
class Prices:
    """Stated prices (docs/costs.md gives the defaults' source): compute per vCPU-hour, storage per GB-month."""

    vcpu_hour_gbp: float
    gb_month_gbp: float

    def compute(self, cpu_seconds: float) -> float:
        """CPU seconds (the process and its workers) as vCPU-hours at the stated price."""
        return cpu_seconds / 3600 * self.vcpu_hour_gbp

    def storage(self, bytes_: int) -> float:
        """A month of keeping ``bytes_`` (decimal GB, as clouds bill)."""
        return bytes_ / 1e9 * self.gb_month_gbp


@dataclass(frozen=True)
class Materialization:
    """One asset (and partition) a step materialized, with its weight for the split (1.0 unless known)."""

    asset_key: str  # "enterprise/child"
    partition: str | None = None
    weight: float = 1.0


def cost_rows(
    usage: Usage,
    materializations: Sequence[Materialization],
    prices: Prices,
    *,
    run_id: str,
    step: str,
    started_at: dt.datetime,
    status: str = "materialized",
) -> list[dict]:
    """One row per materialization: the step's usage split by weight, its own Delta writes exact."""
    if not materializations:
        return []
    total_weight = sum(m.weight for m in materializations)
    shares = [m.weight / total_weight if total_weight > 0 else 1 / len(materializations) for m in materializations]
    keys = {m.asset_key for m in materializations}
    own = [w for w in usage.writes if w.table in keys]
    shared = [w for w in usage.writes if w.table not in keys]
    items = {f"step_{unit}": int(usage.items.get(unit, 0)) for unit in ITEM_UNITS}
    per_key_partitions = {k: sum(1 for m in materializations if m.asset_key == k) for k in keys}
    rows = []
    for m, share in zip(materializations, shares, strict=True):
        mine = [w for w in own if w.table == m.asset_key]
        split = 1 / per_key_partitions[m.asset_key]  # an asset's own writes, split over its partitions
        rows_written = round(sum(w.rows for w in mine) * split + sum(w.rows for w in shared) * share)
        bytes_written = round(sum(w.bytes for w in mine) * split + sum(w.bytes for w in shared) * share)
        cpu = usage.cpu_seconds * share
        worker_cpu = usage.worker_cpu_seconds * share
        versions = {w.table: w.version for w in (*mine, *shared) if w.version is not None}
        rows.append(
            {
                "run_id": run_id,
                "step": step,
                "asset_key": m.asset_key,
                "partition": m.partition,
                "status": status,
                "started_at": started_at,
                "share": share,
                "step_assets": len(materializations),
                "wall_seconds": usage.wall_seconds * share,
                "cpu_seconds": cpu,
                "worker_cpu_seconds": worker_cpu,
                "peak_memory_mb": usage.peak_memory_bytes / 2**20,
                "model_seconds": sum(usage.model_seconds.values()) * share,
                "model_seconds_by_kind": json.dumps(
                    {k: round(v * share, 3) for k, v in sorted(usage.model_seconds.items())}
                ),
                "rows_read": round(usage.rows_read * share),
                "rows_written": rows_written,
                "bytes_written": bytes_written,
                **items,
                "delta_versions": json.dumps(versions, sort_keys=True),
                "price_vcpu_hour_gbp": prices.vcpu_hour_gbp,
                "price_gb_month_gbp": prices.gb_month_gbp,
                "compute_gbp": prices.compute(cpu + worker_cpu),
                "storage_gbp_month": prices.storage(bytes_written),
            }
        )
    return rows


def as_metadata(row: Mapping) -> dict[str, float | int]:
    """A cost row as the Dagster metadata of its materialization (:data:`COST_FIELDS`)."""
    return {
        "cost_wall_seconds": round(row["wall_seconds"], 3),
        "cost_cpu_seconds": round(row["cpu_seconds"], 3),
        "cost_worker_cpu_seconds": round(row["worker_cpu_seconds"], 3),
        "cost_peak_memory_mb": round(row["peak_memory_mb"], 1),
        "cost_model_seconds": round(row["model_seconds"], 3),
        "cost_rows_read": row["rows_read"],
        "cost_rows_written": row["rows_written"],
        "cost_bytes_written": row["bytes_written"],
        "cost_compute_gbp": round(row["compute_gbp"], 6),
        "cost_storage_gbp_month": round(row["storage_gbp_month"], 9),
    }


def append(lake: Lake, rows: list[dict]) -> None:
    """Append a step's cost rows to ``ops/asset_costs`` in one commit."""
    if rows:
        # add_columns: a newer caselake may record more fields than the table has
        lake.write(OPS, TABLE, pl.DataFrame(rows, schema=SCHEMA), mode="append", add_columns=True)


def read(lake: Lake) -> pl.DataFrame:
    """Every cost row recorded (an empty frame of the schema before the first)."""
    frame = lake.read(OPS, TABLE)
    return pl.DataFrame(schema=SCHEMA) if frame is None else frame


def ensure(lake: Lake) -> None:
    """The table exists (empty), so dbt's source over it resolves before the first cost is recorded."""
    ensure_table(lake, OPS, TABLE, pl.DataFrame(schema=SCHEMA).to_arrow().schema)


# ---- the report -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CostReport:
    unit_rates: pl.DataFrame  # the mart cost_unit_rates
    backlog: pl.DataFrame  # the mart cost_backlog_estimate
    by_asset: pl.DataFrame  # asset_costs_daily over the last days, summed per asset, costliest first
    stored_bytes: int  # the lake's Delta tables now (current versions)
    prices: Prices

    @property
    def storage_gbp_year(self) -> float:
        return self.prices.storage(self.stored_bytes) * 12


def report(lake: Lake, duckdb_path: Path, prices: Prices, days: int = 7) -> CostReport:
    """The cost marts (built by the ``report_costs`` job) and what the lake stores now."""
    if not duckdb_path.exists():
        raise FileNotFoundError(f"no warehouse at {duckdb_path}: run `caselake load` first")
    with duckdb.connect(str(duckdb_path), read_only=True) as con:

        def frame(sql: str) -> pl.DataFrame:
            return pl.from_arrow(con.sql(sql).to_arrow_table())

        rates = frame("select * from main.cost_unit_rates order by work")
        backlog = frame("select * from main.cost_backlog_estimate order by scope, work")
        by_asset = frame(
            "select asset_key, sum(runs) as runs, sum(wall_seconds) as wall_seconds, sum(cpu_seconds) as cpu_seconds,"
            " sum(model_seconds) as model_seconds, cast(sum(bytes_written) as double) as bytes_written,"
            " sum(compute_gbp) as compute_gbp"
            " from main.asset_costs_daily"
            f" where cost_date > (select max(cost_date) from main.asset_costs_daily) - {int(days)}"
            " group by asset_key order by compute_gbp desc"
        )
    return CostReport(rates, backlog, by_asset, stored_bytes(lake), prices)


def stored_bytes(lake: Lake) -> int:
    """The bytes of every Delta table's current version (older versions kept for time travel are not counted)."""
    return sum(lake.size(layer, name)[1] for layer, name in lake.tables())
