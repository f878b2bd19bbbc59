"""Run the load from the command line through the same Dagster jobs the sensors launch.

Used by ``caselake load`` and ``make demo``: every complete extract not yet loaded successfully is loaded in
date order, then the stages of :data:`orchestration.automation.STAGES` run once each, in that order. Runs are
recorded in the Dagster instance (``DAGSTER_HOME``), so the UI shows them, with their metadata and checks.
"""

import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import dagster as dg

from assets.partitions import EXTRACT_PARTITIONS
from assets.resources import LakehouseResource
from lake.contracts.sources import SOURCES
from lake.ingest.landing import find_extracts, fingerprint
from lake.settings import Settings
from orchestration.automation import (
    FINGERPRINT_TAG,
    REPORT_COSTS,
    STAGE_NAMES,
    STAGES,
    loaded_partitions,
    next_extract,
)


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


# What a run prints to the terminal: Dagster's console logger at DEBUG wrote 525 lines for one demo load, every
# step's start, output and handled event. Warnings and errors still print; the runs keep every event in the
# Dagster instance, where the UI shows them.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _running(_: str) -> AbstractContextManager:
    return nullcontext()


def load_all(
    instance: dg.DagsterInstance,
    landing: Path | None = None,
    say: Callable[[str], None] = print,
    until: str = STAGE_NAMES[-1],
    first: str | None = None,
    running: Callable[[str], AbstractContextManager] = _running,
) -> bool:
    """Load every extract not loaded yet — per source one at a time in date order, the later extracts of a
    source waiting behind a failed one — then run the stages up to and including ``until`` (a stage runs only
    when the stage before it succeeded). True when everything loaded and ran.

    ``first`` names a stage to start from instead: the extracts are not looked at, and the stages from ``first``
    to ``until`` run (``make demo`` serves the app after the enterprise stage, then reads the rest). ``running``
    wraps each stage's run (the CLI shows a spinner with the time so far)."""
    from orchestration.definitions import defs

    for stage in (until, first):
        if stage is not None and stage not in STAGE_NAMES:
            raise ValueError(f"unknown stage {stage!r}; the stages are {', '.join(STAGE_NAMES)}")
    # The jobs read the landing folder from their resource: give them the one the extracts came from.
    lakehouse = LakehouseResource(landing_dir=str(landing) if landing else "")
    resources = {"lakehouse": lakehouse}
    ok = True
    for source in SOURCES if first is None else ():
        extracts = find_extracts(lakehouse.landing(), source)
        done = loaded_partitions(instance, source)
        for extract in extracts:
            if extract.partition_key in done:
                say(f"{extract.extract_id}: already loaded")
        job = defs.resolve_job_def(f"load_{source}_extract")
        tried: set[str] = set()
        while True:
            extract, _, waiting = next_extract(instance, extracts)
            if extract is None or extract.extract_id in tried:  # once per call: a retry is the next call's
                break
            tried.add(extract.extract_id)
            if not instance.has_dynamic_partition(EXTRACT_PARTITIONS[source].name, extract.partition_key):
                instance.add_dynamic_partitions(EXTRACT_PARTITIONS[source].name, [extract.partition_key])
            with running(f"{extract.extract_id}: landing and staging"):
                result = job.execute_in_process(
                    partition_key=extract.partition_key,
                    instance=instance,
                    resources=resources,
                    tags={FINGERPRINT_TAG: fingerprint(extract)},
                    run_config=QUIET,
                    raise_on_error=False,
                )
            _stop_if_interrupted(result)
            outcome = "loaded" if result.success else f"FAILED: {_failure(result)}"
            say(f"{extract.extract_id}: {outcome} (run {result.run_id[:8]})")
            waiting = "" if result.success else f"{extract.extract_id} failed; its later extracts wait"
            if not result.success:
                break
        if waiting:
            say(f"{source}: waiting — {waiting}")
            ok = False
    # The stages see only what was staged: a failed extract staged nothing, so they run all the same.
    for stage in STAGES[STAGE_NAMES.index(first or STAGE_NAMES[0]) : STAGE_NAMES.index(until) + 1]:
        started = time.monotonic()
        with running(stage.doing):
            result = defs.resolve_job_def(stage.name).execute_in_process(
                instance=instance, resources=resources, tags=stage.run_tags(), run_config=QUIET, raise_on_error=False
            )
        _stop_if_interrupted(result)
        label, duration = stage.doing.split(":")[0], took(time.monotonic() - started)
        say(f"{label}: {stage.done if result.success else 'FAILED'} in {duration} (run {result.run_id[:8]})")
        if not result.success:
            ok = False
            break  # a stage after a failed one would read what the failed one left
    # The cost marts, whatever happened: a failed stage cost something too.
    with running("costs: recording what each asset cost"):
        result = defs.resolve_job_def(REPORT_COSTS.name).execute_in_process(
            instance=instance, resources=resources, run_config=QUIET, raise_on_error=False
        )
    say(f"costs: {'reported' if result.success else 'FAILED'} (run {result.run_id[:8]})")
    return ok and result.success


def took(seconds: float) -> str:
    """A duration as a person reads it: "48 s", "3 min 12 s"."""
    return f"{int(seconds // 60)} min {int(seconds % 60)} s" if seconds >= 60 else f"{seconds:.0f} s"


def _stop_if_interrupted(result: dg.ExecuteInProcessResult) -> None:
    """Ctrl-C during a run: Dagster turns it into the step's failure and returns; the person meant to stop, not
    to go on to the next stage."""
    for event in result.all_events:
        errors = [event.step_failure_data.error] if event.is_step_failure else []
        while errors:  # the interrupt can be the cause or the context of what the step raised while stopping
            error = errors.pop()
            if error is None:
                continue
            if error.cls_name in ("DagsterExecutionInterruptedError", "KeyboardInterrupt"):
                raise KeyboardInterrupt
            errors += [error.cause, error.context]


def _failure(result: dg.ExecuteInProcessResult) -> str:
    """The reason a load run failed, as the failing step reported it (the extract's reasons)."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.user_failure_data:
            return event.step_failure_data.user_failure_data.description or "see the run in the Dagster UI"
    return "see the run in the Dagster UI"
