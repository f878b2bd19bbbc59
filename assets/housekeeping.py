"""Delta housekeeping as a scheduled asset: compaction and a vacuum that keeps history for audit. A thin wrapper:
the work is in ``lake.ops.housekeeping``."""

import dagster as dg

from assets.metering import metered
from assets.resources import LakehouseResource
from lake.ops import housekeeping
from lake.storage.delta import OPS

HOUSEKEEPING_KEY = dg.AssetKey([OPS, housekeeping.TABLE])


@dg.asset(
    key=HOUSEKEEPING_KEY,
    group_name="housekeeping",
    kinds={"delta"},
    description="Every Delta table compacted (small files rewritten into one) and vacuumed of files no version "
    "inside the retention (CASELAKE_DELTA_RETENTION_DAYS) needs; each table's log and file retention set to it, "
    "so time travel reaches back that far. One row per table per run: versions, files and rows before and after.",
    check_specs=[
        dg.AssetCheckSpec(
            "every_row_kept",
            asset=HOUSEKEEPING_KEY,
            blocking=True,
            description="Each table holds the same rows after compaction and vacuum as before.",
        )
    ],
)
@metered
def delta_housekeeping(context: dg.AssetExecutionContext, lakehouse: LakehouseResource):
    settings = lakehouse.settings()
    done = housekeeping.housekeep(settings.lake(), settings.ops.delta_retention_days, context.run_id)
    changed = done.filter(done["rows_before"] != done["rows_after"])
    yield dg.MaterializeResult(
        metadata={
            "tables": done.height,
            "files_compacted": int(done["files_compacted"].sum()),
            "files_vacuumed": int(done["files_vacuumed"].sum()),
            "retention_days": settings.ops.delta_retention_days,
            "dagster/row_count": done.height,
        }
    )
    yield dg.AssetCheckResult(
        check_name="every_row_kept",
        passed=changed.height == 0,
        metadata={"tables_with_rows_changed": ", ".join(changed["table_name"]) or "none"},
    )


defs = dg.Definitions(assets=[delta_housekeeping])
