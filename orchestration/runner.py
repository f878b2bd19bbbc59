"""Run the load from the command line through the same Dagster jobs the sensor launches.

Used by ``caselake load`` and ``make demo``: every complete extract not yet loaded successfully is
loaded in date order, then the enterprise layer is rebuilt once. Runs are recorded in the Dagster
instance (``DAGSTER_HOME``), so the UI shows them, with their metadata and checks.
"""

import os
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from lake.landing import find_extracts
from lake.storage import DEFAULT_DATA_ROOT
from orchestration.automation import all_buckets_tags, loaded_partitions
from orchestration.partitions import EXTRACT_PARTITIONS
from orchestration.resources import LakeResource


def ensure_dagster_home() -> Path:
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(DEFAULT_DATA_ROOT / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
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
    documents: bool = True,
    entities: bool = True,
) -> bool:
    from orchestration.definitions import defs

    # The jobs read the landing folder from their resource: give them the one the extracts came from.
    resources = {"lake": LakeResource(landing_dir=str(landing) if landing else "")}
    ok = True
    for extract in find_extracts(resources["lake"].landing()):
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
    result = defs.resolve_job_def("build_enterprise").execute_in_process(
        instance=instance, resources=resources, raise_on_error=False
    )
    say(f"enterprise: {'built' if result.success else 'FAILED'} (run {result.run_id[:8]})")
    ok = ok and result.success
    if documents:
        say("documents: reading new and changed documents (OCR and .doc conversion take minutes)")
        result = defs.resolve_job_def("extract_document_text").execute_in_process(
            instance=instance, resources=resources, tags=all_buckets_tags(), raise_on_error=False
        )
        say(f"documents: {'read' if result.success else 'FAILED'} (run {result.run_id[:8]})")
        ok = ok and result.success
    if entities and ok:
        say("entities: building or finding the entity model, then reading new and changed texts")
        result = defs.resolve_job_def("extract_entities").execute_in_process(
            instance=instance, resources=resources, raise_on_error=False
        )
        say(f"entities: {'extracted and resolved' if result.success else 'FAILED'} (run {result.run_id[:8]})")
        ok = ok and result.success
    return ok
