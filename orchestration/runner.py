"""Run the load from the command line through the same Dagster jobs the sensors launch.

Used by ``caselake load`` and ``make demo``: every complete extract not yet loaded successfully is loaded in
date order, then the stages of :data:`orchestration.automation.STAGES` run once each, in that order. Runs are
recorded in the Dagster instance (``DAGSTER_HOME``), so the UI shows them, with their metadata and checks.
"""

import os
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from assets.partitions import EXTRACT_PARTITIONS
from assets.resources import LakehouseResource
from lake.ingest.landing import find_extracts
from lake.settings import Settings
from orchestration.automation import STAGE_NAMES, STAGES, loaded_partitions


def ensure_dagster_home(settings: Settings) -> Path:
    """The Dagster instance folder (created with its config the first time); ``DAGSTER_HOME`` set to it."""
    home = settings.dagster_home_dir()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    config = home / "dagster.yaml"
    if not config.exists():
        # No telemetry: nothing about a council's runs leaves the machine. The document_text pool bounds how
        # many document buckets a backfill reads at once (OCR is CPU-bound; 2 suits a 2-core machine).
        config.write_text("telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 2\n")
    return home


def load_all(
    instance: dg.DagsterInstance,
    landing: Path | None = None,
    say: Callable[[str], None] = print,
    until: str = STAGE_NAMES[-1],
) -> bool:
    """Load every extract not loaded yet, then run the stages up to and including ``until``. A stage runs
    only when everything before it succeeded."""
    from orchestration.definitions import defs

    if until not in STAGE_NAMES:
        raise ValueError(f"unknown stage {until!r}; the stages are {', '.join(STAGE_NAMES)}")
    # The jobs read the landing folder from their resource: give them the one the extracts came from.
    lakehouse = LakehouseResource(landing_dir=str(landing) if landing else "")
    resources = {"lakehouse": lakehouse}
    ok = True
    for extract in find_extracts(lakehouse.landing()):
        partitions = EXTRACT_PARTITIONS[extract.source]
        job = defs.resolve_job_def(f"load_{extract.source}_extract")
        if extract.partition_key in loaded_partitions(instance, extract.source):
            say(f"{extract.extract_id}: already loaded")
            continue
        if not instance.has_dynamic_partition(partitions.name, extract.partition_key):
            instance.add_dynamic_partitions(partitions.name, [extract.partition_key])
        result = job.execute_in_process(
            partition_key=extract.partition_key, instance=instance, resources=resources, raise_on_error=False
        )
        say(f"{extract.extract_id}: {'loaded' if result.success else 'FAILED'} (run {result.run_id[:8]})")
        ok = ok and result.success
    for stage in STAGES[: STAGE_NAMES.index(until) + 1]:
        label = stage.doing.split(":")[0]
        if not ok:
            say(f"{label}: not run (an earlier step failed)")
            break
        if stage is not STAGES[0]:
            say(stage.doing)
        result = defs.resolve_job_def(stage.name).execute_in_process(
            instance=instance, resources=resources, tags=stage.run_tags(), raise_on_error=False
        )
        say(f"{label}: {stage.done if result.success else 'FAILED'} (run {result.run_id[:8]})")
        ok = result.success
    return ok
