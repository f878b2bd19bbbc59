"""Staging assets: one Delta table per source table, per source system, partitioned by extract.

One multi-asset per source system reads an extract once and writes all its tables, so a partition
is one consistent load — or none: every file is checked before anything is written, and an extract that
fails (a file refused, rows read differing from the rows declared) stages nothing and fails the run, so
nothing of it reaches the enterprise layer or the marts. The inline checks report what was verified before
the commit (rows read = landed + quarantined, rows read = rows declared) and warn on the quarantine rate.
"""

import dagster as dg

from assets.landing import landing_key, run_on_extract
from assets.metering import metered
from assets.partitions import EXTRACT_PARTITIONS
from assets.resources import LakehouseResource
from lake.contracts.sources import NEUTRAL_TABLES, SOURCES
from lake.ingest.pipeline import QUARANTINE, stage_extract

QUARANTINE_RATE_WARN = 0.05


def staging_key(source: str, table: str) -> dg.AssetKey:
    return dg.AssetKey(["staging", source, table])


def _staging_assets(source: str) -> dg.AssetsDefinition:
    system = SOURCES[source]
    specs = [
        dg.AssetSpec(
            staging_key(source, table),
            deps=[landing_key(source)],
            kinds={"delta", "polars"},
            description=f"{system.table(table)} from {source}: typed, validated, in caselake's vocabulary.",
            metadata={"source_table": system.table(table), "key": ", ".join(NEUTRAL_TABLES[table]["key"])},
        )
        for table in NEUTRAL_TABLES
    ]
    quarantine = dg.AssetSpec(
        dg.AssetKey(["staging", source, QUARANTINE]),
        deps=[landing_key(source)],
        kinds={"delta"},
        description=f"Rows of {source} extracts that could not be landed, with the file, row number, raw values and reason.",
    )
    checks = []
    for table in NEUTRAL_TABLES:
        key = staging_key(source, table)
        checks += [
            dg.AssetCheckSpec("rows_read_equal_landed_plus_quarantined", asset=key, blocking=True),
            dg.AssetCheckSpec("rows_read_equal_rows_declared", asset=key, blocking=True),
            dg.AssetCheckSpec("quarantine_rate", asset=key),
        ]

    @dg.multi_asset(
        name=f"staging_{source}",
        group_name="staging",
        specs=[*specs, quarantine],
        check_specs=checks,
        partitions_def=EXTRACT_PARTITIONS[source],
        can_subset=False,
    )
    @metered
    def staging(context: dg.AssetExecutionContext, lakehouse: LakehouseResource):
        # An extract that fails stages nothing and fails here, before any materialization.
        batch_rows = lakehouse.settings().ops.staging_batch_rows
        extract, loads = run_on_extract(
            context, lakehouse, source, lambda lake, extract: stage_extract(lake, extract, batch_rows=batch_rows)
        )
        quarantined = 0
        for table, load in loads.items():
            key = staging_key(source, table)
            declared = extract.declared_rows.get(system.table(table), 0)
            quarantined += load.rows_quarantined
            yield dg.MaterializeResult(
                asset_key=key, metadata={**load.metadata(), "dagster/row_count": load.rows_landed}
            )
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name="rows_read_equal_landed_plus_quarantined",
                passed=load.balanced,
                metadata={
                    "rows_read": load.rows_read,
                    "rows_landed": load.rows_landed,
                    "rows_quarantined": load.rows_quarantined,
                },
            )
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name="rows_read_equal_rows_declared",
                passed=load.rows_read == declared,
                metadata={
                    "rows_read": load.rows_read,
                    "rows_declared": declared,
                    "file_error": load.file_error or "none",
                },
            )
            rate = load.rows_quarantined / load.rows_read if load.rows_read else 0.0
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name="quarantine_rate",
                passed=rate <= QUARANTINE_RATE_WARN,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"rate": round(rate, 4), "threshold": QUARANTINE_RATE_WARN},
            )
        yield dg.MaterializeResult(
            asset_key=dg.AssetKey(["staging", source, QUARANTINE]), metadata={"rows_quarantined": quarantined}
        )

    return staging


defs = dg.Definitions(assets=[_staging_assets(source) for source in SOURCES])
