"""Every asset's cost, measured once, here: ``@metered`` wraps an asset's compute function.

It opens a meter (:mod:`lake.metering`) around the whole step, labelled with the run and step so every Delta
commit names them; then it adds the cost fields to each materialization's metadata (the Dagster UI plots them
over time) and appends one row per materialization and partition to ``ops/asset_costs``
(:mod:`lake.ops.costs`). A failed step is recorded too, with status ``failed``. The events of the step are
held until it ends, because its cost is known only then: logs still stream, materializations arrive together.

Why a decorator and not a hook or a resource: Dagster's hooks run after a step with no handle on its
resources in flight, and a resource is set up once per run, not per step; a decorator sees the step from
start to end in its own process. A test fails any asset in the graph whose materializations lack the fields.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
from collections.abc import Callable, Iterator

import dagster as dg

from lake import metering
from lake.ops import costs

METERED = "__caselake_metered__"  # set on a metered compute function (a test checks every asset has it)


def metered(fn: Callable) -> Callable:
    """Measure the asset step ``fn`` and record its cost. ``fn`` takes ``context`` first and a ``lakehouse``
    resource (the prices and the lake come from its settings)."""
    params = inspect.signature(fn).parameters
    if "lakehouse" not in params:
        raise TypeError(f"{fn.__name__}: a metered asset takes the `lakehouse` resource (its prices and lake)")

    @functools.wraps(fn)
    def wrapper(context: dg.AssetExecutionContext, *args, **kwargs) -> Iterator:
        settings = kwargs["lakehouse"].settings()
        started = dt.datetime.now(dt.UTC)
        step = context.op_def.name
        events: list = []
        failed = True
        try:
            with metering.meter(run_id=context.run_id, step=step) as usage:
                out = fn(context, *args, **kwargs)
                events = list(out) if inspect.isgenerator(out) else [] if out is None else [out]
            failed = False
        finally:
            materializations = _materializations(context, events, failed)
            rows = costs.cost_rows(
                usage,
                materializations,
                costs.Prices(settings.ops.price_vcpu_hour_gbp, settings.ops.price_gb_month_gbp),
                run_id=context.run_id,
                step=step,
                started_at=started,
                status="failed" if failed else "materialized",
            )
            costs.append(settings.lake(), rows)
        by_key: dict[str, dict] = {}
        for row in rows:  # the metadata of a range of partitions: the sum of its rows
            meta = costs.as_metadata(row)
            seen = by_key.setdefault(row["asset_key"], dict.fromkeys(meta, 0))
            for k, v in meta.items():
                seen[k] = v if k == "cost_peak_memory_mb" else seen[k] + v
        yield from (_with_metadata(context, event, by_key) for event in events)

    setattr(wrapper, METERED, True)
    return wrapper


def _asset_key(context: dg.AssetExecutionContext, event) -> dg.AssetKey | None:
    """The asset an event materializes, or None for a check result or a log event."""
    if isinstance(event, dg.MaterializeResult):
        return event.asset_key or context.asset_key
    if isinstance(event, dg.Output):
        return context.asset_key_for_output(event.output_name)
    if isinstance(event, dg.AssetMaterialization):
        return event.asset_key
    return None


def _materializations(context: dg.AssetExecutionContext, events: list, failed: bool) -> list[costs.Materialization]:
    """What the step materialized, per partition, weighted by dbt's own execution time where it gives one. A
    failed step is charged to every asset it was to materialize."""
    keys_and_weights: list[tuple[dg.AssetKey, float | None]] = []
    for event in events:
        key = _asset_key(context, event)
        if key is not None:
            duration = (event.metadata or {}).get("Execution Duration")
            value = getattr(duration, "value", duration)
            keys_and_weights.append((key, float(value) if isinstance(value, int | float) else None))
    if failed and not keys_and_weights:
        keys_and_weights = [(k, None) for k in sorted(context.selected_asset_keys, key=str)]
    weighted = all(w is not None for _, w in keys_and_weights)
    partitions = (
        list(context.partition_keys) if context.has_partition_key_range or context.has_partition_key else [None]
    )
    return [
        costs.Materialization("/".join(key.path), partition, (weight if weighted else 1.0) or 0.0)
        for key, weight in keys_and_weights
        for partition in partitions
    ]


def _with_metadata(context: dg.AssetExecutionContext, event, by_key: dict[str, dict]):
    key = _asset_key(context, event)
    extra = by_key.get("/".join(key.path)) if key is not None else None
    if not extra:
        return event
    if isinstance(event, dg.Output):
        return event.with_metadata({**event.metadata, **extra})
    return event._replace(metadata={**(event.metadata or {}), **extra})
