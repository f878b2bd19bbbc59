"""Landing assets: one per source system, partitioned by extract; records every file received."""

from collections.abc import Callable
from typing import TypeVar

import dagster as dg

from assets.metering import metered
from assets.partitions import EXTRACT_PARTITIONS
from assets.resources import EXTRACT_FAILED_TAG, LakehouseResource
from lake.contracts.sources import SOURCES
from lake.ingest.landing import Extract, extract_for
from lake.ingest.pipeline import ExtractFailed, land_extract
from lake.storage.delta import Lake

StepResult = TypeVar("StepResult")


def landing_key(source: str) -> dg.AssetKey:
    return dg.AssetKey(["landing", source, "files"])


def run_on_extract(
    context: dg.AssetExecutionContext,
    lakehouse: LakehouseResource,
    source: str,
    step: Callable[[Lake, Extract], StepResult],
) -> tuple[Extract, StepResult]:
    """The run's extract of ``source`` (its partition) and what ``step`` made of it: landing and staging alike.

    An extract that fails its own checks fails the run with its reasons (and, from staging, the rows each table
    held back); nothing of it was written. The run is tagged so the sensor waits for the extract to be delivered
    again instead of retrying it."""
    extract = extract_for(source, context.partition_key, lakehouse.landing())
    try:
        return extract, step(lakehouse.lake(), extract)
    except ExtractFailed as failed:
        context.instance.add_run_tags(context.run_id, {EXTRACT_FAILED_TAG: "true"})
        held = {f"rows_held_{t}": load.rows_held for t, load in failed.tables.items() if load.rows_held}
        raise dg.Failure(description=str(failed), metadata={"reasons": "\n".join(failed.reasons), **held}) from None


def _landing_asset(source: str) -> dg.AssetsDefinition:
    key = landing_key(source)

    @dg.asset(
        key=key,
        partitions_def=EXTRACT_PARTITIONS[source],
        group_name="landing",
        kinds={"delta", "csv"},
        description=f"Every file of each {source} extract as received: size, SHA-256, rows the control file "
        "declares, and why a file is refused. An extract that cannot be staged as delivered fails here, "
        "recorded in landing/extracts with its reasons.",
    )
    @metered
    def landing_files(context: dg.AssetExecutionContext, lakehouse: LakehouseResource):
        extract, files = run_on_extract(context, lakehouse, source, land_extract)
        return dg.MaterializeResult(
            metadata={
                "extract_id": extract.extract_id,
                "extract_kind": extract.kind,
                "files": files.height,
                "documents": int((files["kind"] == "document").sum()),
                "unexpected_files": int((files["kind"] == "unexpected").sum()),
                "bytes_received": int(files["bytes"].fill_null(0).sum()),
                "dagster/row_count": files.height,
            }
        )

    return landing_files


defs = dg.Definitions(assets=[_landing_asset(source) for source in SOURCES])
