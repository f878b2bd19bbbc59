"""When things run: one load job per source system, then the stages after it in one declared order.

``STAGES`` is the order. The run-status sensors that chain the stages in a deployment are generated from it,
and ``caselake load`` (:mod:`orchestration.runner`) walks the same list in-process, so the order lives here
only. Each stage's job selects whole asset groups: a new asset joins a stage by its group, never by falling
out of a subtraction. Why a declared chain and not automation conditions: docs/decisions/0010.

Every job, schedule and sensor of the code location is declared here, those of the side jobs too (the cost
marts, Delta housekeeping, the audit log's copy), each over one asset group on its own schedule; ``assets/``
declares the assets and their checks only.
"""

from dataclasses import dataclass

import dagster as dg

from assets.documents import DOCUMENT_BUCKETS
from assets.partitions import EXTRACT_PARTITIONS
from assets.resources import EXTRACT_FAILED_TAG, LakehouseResource
from lake.contracts.sources import SOURCES
from lake.ingest.landing import Extract, find_extracts, fingerprint

LONDON = "Europe/London"  # the council's clock: the daily and weekly schedules run by it

LOAD_JOBS = {
    source: dg.define_asset_job(
        f"load_{source}_extract",
        selection=dg.AssetSelection.key_prefixes(["landing", source], ["staging", source]),
        description=f"Land and stage one {source} extract.",
    )
    for source in SOURCES
}


def all_buckets_tags() -> dict[str, str]:
    """Run tags for one run over every bucket (the daily run; a backfill runs buckets in parallel instead)."""
    keys = DOCUMENT_BUCKETS.get_partition_keys()
    return {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}


@dataclass(frozen=True)
class Stage:
    """One step after the extracts are staged: a job over whole asset groups."""

    name: str  # the job's name, and what ``caselake load`` stops after
    groups: tuple[str, ...]
    description: str
    doing: str  # what the CLI says while it runs
    done: str  # ... and when it succeeded
    all_buckets: bool = False  # one run over every document bucket (a partition range), not one per bucket

    @property
    def job(self):
        return _JOBS[self.name]

    def run_tags(self) -> dict[str, str]:
        return all_buckets_tags() if self.all_buckets else {}


STAGES: tuple[Stage, ...] = (
    Stage(
        "build_enterprise",
        ("enterprise", "dbt_staging", "dbt_intermediate", "marts"),
        "Rebuild the enterprise groups touched since the last run, then the dbt models over them.",
        doing="enterprise: rebuilding what the new extracts touched, then the dbt marts",
        done="built",
    ),
    Stage(
        "extract_document_text",
        ("documents",),
        "Read every new or changed manifest document into page texts, errors and search chunks.",
        doing="documents: reading new and changed documents (OCR and .doc conversion take minutes)",
        done="read",
        all_buckets=True,
    ),
    Stage(
        "extract_entities",
        # marts_from_text: the dbt models over the entity tables (the ecomap marts). They depend on the entity
        # assets, so in this job they run after them, on the mentions and people just resolved; in
        # build_enterprise they would run before the first mentions exist.
        ("entities", "marts_from_text"),
        "Build or find the entity model, read new and changed texts into entity mentions (Delta and LanceDB), "
        "resolve the people they name, then rebuild the ecomap marts over them.",
        doing="entities: building or finding the entity model, reading new and changed texts, then the ecomap marts",
        done="extracted and resolved; ecomap marts built",
    ),
    Stage(
        "index_search",
        ("search",),
        "Bring the search index in step with the lake: embed new and changed chunks, drop those of deleted "
        "or superseded sources.",
        doing="search: embedding new and changed chunks into the index",
        done="indexed",
    ),
    Stage(
        "analyse_adopters",
        ("insights",),
        "Analyse who adopts the children who wait longest and list the approved households not yet matched.",
        doing="insights: analysing the adopters and listing waiting households",
        done="analysed",
    ),
)
STAGE_NAMES = tuple(s.name for s in STAGES)


def _groups_job(name: str, groups: tuple[str, ...], description: str):
    """A job over whole asset groups: an asset joins it by its group."""
    return dg.define_asset_job(name, selection=dg.AssetSelection.groups(*groups), description=description)


def _on_schedule(
    job,
    name: str,
    cron: str,
    timezone: str | None = LONDON,
    description: str | None = None,
) -> dg.ScheduleDefinition:
    """Run ``job`` on ``cron``, from the moment the code location loads."""
    return dg.ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
    )


_JOBS = {s.name: _groups_job(s.name, s.groups, s.description) for s in STAGES}


# The side jobs: each over one group, on its own schedule, not a link of the chain.
# The cost marts read what every stage recorded (ops/asset_costs), so they run after a load, whichever stage it
# stopped at (orchestration.runner), and daily after the morning's loads.
REPORT_COSTS = _groups_job(
    "report_costs",
    ("costs",),
    "Rebuild the cost marts: cost per asset per day, unit costs, the backlog at the pilot's scale.",
)
REPORT_COSTS_DAILY = _on_schedule(
    REPORT_COSTS,
    "report_costs_daily",
    "30 7 * * *",
    description="Daily at 07:30, after the 06:00 loads: rebuild the cost marts.",
)
DELTA_HOUSEKEEPING = _groups_job(
    "delta_housekeeping",
    ("housekeeping",),
    "Compact and vacuum every Delta table, keeping the retention's history.",
)
# Weekly, at night: compaction rewrites files, best done while no load runs (a conflicting commit retries).
DELTA_HOUSEKEEPING_WEEKLY = _on_schedule(DELTA_HOUSEKEEPING, "delta_housekeeping_weekly", "0 3 * * 0")
EXPORT_AUDIT_LOG = _groups_job("export_audit_log", ("ops",), "Copy new audit rows to the lake.")
# Every 15 minutes, whatever the clock (no timezone): the copy outside the journal should trail it by little
# (decision 0012).
EXPORT_AUDIT_LOG_EVERY_15_MINUTES = _on_schedule(
    EXPORT_AUDIT_LOG, "export_audit_log_every_15_minutes", "*/15 * * * *", timezone=None
)
SIDE_JOBS = (REPORT_COSTS, DELTA_HOUSEKEEPING, EXPORT_AUDIT_LOG)
SIDE_SCHEDULES = (REPORT_COSTS_DAILY, DELTA_HOUSEKEEPING_WEEKLY, EXPORT_AUDIT_LOG_EVERY_15_MINUTES)


def loaded_partitions(instance: dg.DagsterInstance, source: str) -> set[str]:
    """Extracts of ``source`` already loaded by a successful run, whoever launched it (sensor, CLI, backfill)."""
    runs = instance.get_runs(dg.RunsFilter(job_name=LOAD_JOBS[source].name, statuses=[dg.DagsterRunStatus.SUCCESS]))
    return {r.tags.get("dagster/partition") for r in runs}


FINGERPRINT_TAG = "caselake/extract_fingerprint"
MAX_ATTEMPTS = 3  # runs of one delivery that failed for another reason (a lost worker, a commit conflict)


def next_extract(instance: dg.DagsterInstance, extracts: list[Extract]) -> tuple[Extract | None, int, str]:
    """The one extract of a source to load next (oldest not loaded) and its attempt number, or None and why
    the source waits.

    A source's extracts load one at a time in date order: a change extract applied without the one before it
    would leave the source inconsistent. An extract that failed its checks is tried again only once it was
    delivered again (its fingerprint changed); one whose run failed for another reason is retried up to
    ``MAX_ATTEMPTS`` times; a cancelled one waits for a person. Until then the later extracts of its source
    wait for it."""
    if not extracts:
        return None, 0, ""
    loaded = loaded_partitions(instance, extracts[0].source)
    job = LOAD_JOBS[extracts[0].source].name
    for extract in extracts:
        if extract.partition_key in loaded:
            continue
        mark = fingerprint(extract)
        runs = instance.get_runs(dg.RunsFilter(job_name=job, tags={"dagster/partition": extract.partition_key}))
        same = [r for r in runs if r.tags.get(FINGERPRINT_TAG) == mark]  # this delivery's runs, newest first
        if not same:
            return extract, 1, ""
        last = same[0]
        why = f"{extract.extract_id} {{}} (run {last.run_id[:8]}); its later extracts wait until it is resolved"
        if not last.is_finished:
            return None, 0, why.format("is loading")
        if last.status == dg.DagsterRunStatus.CANCELED:
            return None, 0, why.format("was cancelled")
        if last.tags.get(EXTRACT_FAILED_TAG) or len(same) >= MAX_ATTEMPTS:
            return None, 0, why.format(f"failed after {len(same)} attempt(s)")
        return extract, len(same) + 1, ""
    return None, 0, ""


def _requests_for(
    source: str, lakehouse: LakehouseResource, instance: dg.DagsterInstance
) -> tuple[list[str], list[dg.RunRequest], str]:
    """New partitions to add, the run for the next extract to load (if any), and why none (if so)."""
    partitions = EXTRACT_PARTITIONS[source]
    extracts = find_extracts(lakehouse.landing(), source)
    known = set(instance.get_dynamic_partitions(partitions.name))
    new = [e.partition_key for e in extracts if e.partition_key not in known]
    extract, attempt, waiting = next_extract(instance, extracts)
    if extract is None:
        return new, [], waiting
    mark = fingerprint(extract)
    run = dg.RunRequest(
        partition_key=extract.partition_key,
        run_key=f"{extract.extract_id}:{mark}:{attempt}",
        tags={FINGERPRINT_TAG: mark},
    )
    return new, [run], ""


def _landing_sensor(source: str) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{source}_new_extracts",
        job=LOAD_JOBS[source],
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Sees each complete {source} extract (control file present) and loads it once, one at a time "
        "in date order; after a failed extract the later ones wait until it is delivered again.",
    )
    def new_extracts(context: dg.SensorEvaluationContext, lakehouse: LakehouseResource):
        new, runs, waiting = _requests_for(source, lakehouse, context.instance)
        return dg.SensorResult(
            run_requests=runs,
            dynamic_partitions_requests=[EXTRACT_PARTITIONS[source].build_add_request(new)] if new else [],
            skip_reason=waiting if waiting and not runs else None,
        )

    return new_extracts


def _daily_schedule(source: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"{source}_daily_sweep",
        job=LOAD_JOBS[source],
        cron_schedule="0 6 * * *",
        execution_timezone=LONDON,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Daily at 06:00: load any extract the sensor has not (a safety net for a stopped sensor).",
    )
    def daily(context: dg.ScheduleEvaluationContext, lakehouse: LakehouseResource):
        new, runs, waiting = _requests_for(source, lakehouse, context.instance)
        if new:
            context.instance.add_dynamic_partitions(EXTRACT_PARTITIONS[source].name, new)
        return runs or dg.SkipReason(waiting or "no extract to load")

    return daily


def _after(previous: list, stage: Stage, sensor_name: str) -> dg.SensorDefinition:
    """Run ``stage`` once after each successful run of any of the ``previous`` jobs."""

    @dg.run_status_sensor(
        name=sensor_name,
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=previous,
        request_job=stage.job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"After {' or '.join(j.name for j in previous)} succeeds: {stage.description}",
    )
    def next_stage(context: dg.RunStatusSensorContext):
        return dg.RunRequest(run_key=context.dagster_run.run_id, tags=stage.run_tags())

    return next_stage


# The chain: any load job -> STAGES[0] -> STAGES[1] -> ... (a failed run stops it there).
STAGE_SENSORS = [
    _after(
        list(LOAD_JOBS.values()) if i == 0 else [STAGES[i - 1].job],
        stage,
        f"{stage.name}_after_" + ("load" if i == 0 else STAGES[i - 1].name),
    )
    for i, stage in enumerate(STAGES)
]

defs = dg.Definitions(
    jobs=[*LOAD_JOBS.values(), *(s.job for s in STAGES), *SIDE_JOBS],
    sensors=[*(_landing_sensor(s) for s in SOURCES), *STAGE_SENSORS],
    schedules=[*(_daily_schedule(s) for s in SOURCES), *SIDE_SCHEDULES],
)
