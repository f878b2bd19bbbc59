"""``caselake costs``: the cost marts as tables on the terminal, beside the council pilot's prices."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from orchestration.cli.common import fail, read_settings


def costs(
    days: Annotated[int, typer.Option(help="Sum the per-asset costs over this many recent days.")] = 7,
) -> None:
    """What the platform costs: measured unit costs beside the council pilot's cloud prices, the pilot's backlog
    and a year of its new data at those rates, the costliest assets, and what the lake stores now. Reads the
    cost marts that ``caselake load`` (and the daily report_costs job) rebuild."""
    from rich.table import Table

    from lake.ops import costs as cost_report

    settings = read_settings()
    prices = cost_report.Prices(settings.ops.price_vcpu_hour_gbp, settings.ops.price_gb_month_gbp)
    try:
        r = cost_report.report(settings.lake(), settings.duckdb_path(), prices, days)
    except FileNotFoundError as exc:
        fail(str(exc))

    def money(v) -> str:
        return "—" if v is None else f"£{v:,.2f}" if v >= 1 else f"£{v:.4f}"

    out = Console(width=max(Console().width, 120))  # tables this wide wrap badly in a log or a pipe
    out.print(f"Prices: £{prices.vcpu_hour_gbp} per vCPU-hour, £{prices.gb_month_gbp} per GB-month (docs/costs.md)")
    rates = Table("work", "unit", "runs", "items", "CPU s per 1,000", "£ per 1,000", "pilot £ per 1,000",
                  title="Measured unit costs")  # fmt: skip
    for row in r.unit_rates.iter_rows(named=True):
        rates.add_row(row["work"], row["unit"], str(row["runs"]), f"{row['items']:,}",
                      f"{row['cpu_seconds_per_1000']:,.0f}", money(row["gbp_per_1000"]),
                      money(row["pilot_gbp_per_1000"]))  # fmt: skip
    out.print(rates)
    backlog = Table("scope", "work", "items", "vCPU-hours", "£ here", "£ pilot",
                    title="The pilot council's backlog and new data, at these rates")  # fmt: skip
    for row in r.backlog.iter_rows(named=True):
        backlog.add_row(row["scope"], row["work"], f"{row['items'] or 0:,.0f}",
                        "—" if row["cpu_hours"] is None else f"{row['cpu_hours']:,.0f}",
                        money(row["estimated_gbp"]), money(row["pilot_gbp"]))  # fmt: skip
    out.print(backlog)
    assets = Table("asset", "runs", "wall s", "CPU s", "model s", "MB written", "£ compute",
                   title=f"Costliest assets, last {days} days")  # fmt: skip
    for row in r.by_asset.head(12).iter_rows(named=True):
        assets.add_row(row["asset_key"], str(row["runs"]), f"{row['wall_seconds']:,.1f}", f"{row['cpu_seconds']:,.1f}",
                       f"{row['model_seconds']:,.1f}", f"{(row['bytes_written'] or 0) / 1e6:,.2f}",
                       money(row["compute_gbp"]))  # fmt: skip
    out.print(assets)
    out.print(
        f"Stored now: {r.stored_bytes / 1e6:,.1f} MB of Delta tables = {money(r.storage_gbp_year)} a year "
        "(the pilot's standing cost: £1,657 a year)"
    )
