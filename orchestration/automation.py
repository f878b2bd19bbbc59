"""Jobs, the landing sensor, the daily schedule, and the trigger from staging to enterprise."""

import dagster as dg

from assets.documents import DOCUMENT_BUCKETS, document_text
from assets.enterprise import enterprise_tables
from assets.entities import entity_mentions, entity_model, resolved_people
from lake.landing import find_extracts
from lake.sources import SOURCES
from orchestration.partitions import EXTRACT_PARTITIONS
from orchestration.resources import LakeResource

LOAD_JOBS = {
    source: dg.define_asset_job(
        f"load_{source}_extract",
        selection=dg.AssetSelection.key_prefixes(["landing", source], ["staging", source]),
        partitions_def=EXTRACT_PARTITIONS[source],
        description=f"Land and stage one {source} extract.",
    )
    for source in SOURCES
}
ENTERPRISE_JOB = dg.define_asset_job(
    "build_enterprise",
    # Documents and entities take minutes: they run in their own jobs, triggered after this one.
    selection=dg.AssetSelection.assets(enterprise_tables).downstream()
    - dg.AssetSelection.assets(document_text, entity_model, entity_mentions).downstream(),
    description="Rebuild the enterprise groups touched since the last run, then the dbt models over them.",
)
DOCUMENTS_JOB = dg.define_asset_job(
    "extract_document_text", selection=dg.AssetSelection.assets(document_text), partitions_def=DOCUMENT_BUCKETS,
    description="Read every new or changed manifest document into page texts, errors and search chunks.",
)  # fmt: skip


ENTITIES_JOB = dg.define_asset_job(
    "extract_entities", selection=dg.AssetSelection.assets(entity_model, entity_mentions, resolved_people),
    description="Build or find the entity model, read new and changed texts into entity mentions (Delta and "
                "LanceDB), then resolve the people they name.",
)  # fmt: skip


def all_buckets_tags() -> dict[str, str]:
    """Run tags for one run over every bucket (the daily run; a backfill runs buckets in parallel instead)."""
    keys = DOCUMENT_BUCKETS.get_partition_keys()
    return {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}


def loaded_partitions(instance: dg.DagsterInstance, source: str) -> set[str]:
    """Extracts of ``source`` already loaded by a successful run, whoever launched it (sensor, CLI, backfill)."""
    runs = instance.get_runs(dg.RunsFilter(job_name=LOAD_JOBS[source].name, statuses=[dg.DagsterRunStatus.SUCCESS]))
    return {r.tags.get("dagster/partition") for r in runs}


def _requests_for(
    source: str, lake: LakeResource, instance: dg.DagsterInstance
) -> tuple[list[str], list[dg.RunRequest]]:
    """New partitions to add, and one run for each complete extract not loaded yet (oldest first)."""
    partitions = EXTRACT_PARTITIONS[source]
    extracts = find_extracts(lake.landing(), source)
    known = set(instance.get_dynamic_partitions(partitions.name))
    done = loaded_partitions(instance, source)
    new = [e.partition_key for e in extracts if e.partition_key not in known]
    runs = [
        dg.RunRequest(partition_key=e.partition_key, run_key=e.extract_id)
        for e in extracts
        if e.partition_key not in done
    ]
    return new, runs


def _landing_sensor(source: str) -> dg.SensorDefinition:
    @dg.sensor(name=f"{source}_new_extracts", job=LOAD_JOBS[source], minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Sees each complete {source} extract (control file present) and loads it once, oldest first.")  # fmt: skip
    def new_extracts(context: dg.SensorEvaluationContext, lake: LakeResource):
        new, runs = _requests_for(source, lake, context.instance)
        return dg.SensorResult(
            run_requests=runs,
            dynamic_partitions_requests=[EXTRACT_PARTITIONS[source].build_add_request(new)] if new else [],
        )

    return new_extracts


def _daily_schedule(source: str) -> dg.ScheduleDefinition:
    @dg.schedule(name=f"{source}_daily_sweep", job=LOAD_JOBS[source], cron_schedule="0 6 * * *",
                 execution_timezone="Europe/London", default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="Daily at 06:00: load any extract the sensor has not (a safety net for a stopped sensor).")  # fmt: skip
    def daily(context: dg.ScheduleEvaluationContext, lake: LakeResource):
        new, runs = _requests_for(source, lake, context.instance)
        if new:
            context.instance.add_dynamic_partitions(EXTRACT_PARTITIONS[source].name, new)
        return runs

    return daily


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=list(LOAD_JOBS.values()),
                      request_job=ENTERPRISE_JOB, default_status=dg.DefaultSensorStatus.RUNNING,
                      description="After an extract is staged, rebuild what it touched in the enterprise layer.")  # fmt: skip
def enterprise_after_load(context: dg.RunStatusSensorContext):
    return dg.RunRequest(run_key=context.dagster_run.run_id)


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[ENTERPRISE_JOB],
                      request_job=DOCUMENTS_JOB, default_status=dg.DefaultSensorStatus.RUNNING,
                      description="After the enterprise layer is rebuilt, read the documents its manifest added or changed.")  # fmt: skip
def documents_after_enterprise(context: dg.RunStatusSensorContext):
    return dg.RunRequest(run_key=context.dagster_run.run_id, tags=all_buckets_tags())


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[DOCUMENTS_JOB],
                      request_job=ENTITIES_JOB, default_status=dg.DefaultSensorStatus.RUNNING,
                      description="After documents are read, find the entities in new and changed notes, pages and answers.")  # fmt: skip
def entities_after_documents(context: dg.RunStatusSensorContext):
    return dg.RunRequest(run_key=context.dagster_run.run_id)


defs = dg.Definitions(
    jobs=[*LOAD_JOBS.values(), ENTERPRISE_JOB, DOCUMENTS_JOB, ENTITIES_JOB],
    sensors=[
        *(_landing_sensor(s) for s in SOURCES),
        enterprise_after_load,
        documents_after_enterprise,
        entities_after_documents,
    ],
    schedules=[_daily_schedule(s) for s in SOURCES],
)
