"""The Dagster code location as one committed text: a moved, renamed or regrouped asset, job, schedule or sensor
shows in review as a diff of ``tests/snapshots/definitions.json``, as dagster-open-platform keeps its own.

What is kept: every asset key with its deps, group, kinds, owners and tags (when set), partitions, the op that
computes it and its checks; every job with the asset keys it selects; every schedule (cron, timezone, job) and
sensor (job, the jobs a run-status sensor watches); the resource keys. Descriptions and dbt's metadata are left
out: they change with every edit of a model's docs and say nothing of how the graph is wired.

After a change meant to alter the definitions: ``CASELAKE_UPDATE_SNAPSHOTS=1 uv run pytest
tests/test_definitions_snapshot.py`` rewrites the file; review its diff and commit it with the change.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

from orchestration.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"
UPDATE = "CASELAKE_UPDATE_SNAPSHOTS"


def _key(key: dg.AssetKey) -> str:
    return key.to_user_string()


def _keys(keys) -> list[str]:
    return sorted(_key(k) for k in keys)


def _partitions(partitions_def: dg.PartitionsDefinition | None) -> str | None:
    """A partitions definition as one line: a dynamic one by its name, a static one by its keys."""
    if partitions_def is None:
        return None
    if isinstance(partitions_def, dg.DynamicPartitionsDefinition):
        return f"dynamic: {partitions_def.name}"
    if isinstance(partitions_def, dg.StaticPartitionsDefinition):
        keys = partitions_def.get_partition_keys()
        return f"static: {keys[0]}..{keys[-1]} ({len(keys)} keys)"
    return type(partitions_def).__name__


def _assets(repository: dg.RepositoryDefinition) -> dict[str, dict[str, Any]]:
    graph = repository.asset_graph
    checks_by_asset: dict[str, list[str]] = {}
    for check_key in graph.asset_check_keys:
        spec = graph.get_check_spec(check_key)
        checks_by_asset.setdefault(_key(check_key.asset_key), []).append(
            spec.name + (" (blocking)" if spec.blocking else "")
        )
    assets: dict[str, dict[str, Any]] = {}
    for assets_def in graph.assets_defs:
        for spec in assets_def.specs:
            node = graph.get(spec.key)
            tags = {k: v for k, v in spec.tags.items() if not k.startswith("dagster/kind/")}  # kinds are kept apart
            entry: dict[str, Any] = {
                "group": spec.group_name,
                "deps": _keys(node.parent_keys),
                "kinds": sorted(spec.kinds),
                "partitions": _partitions(assets_def.partitions_def),
                "op": assets_def.node_def.name if assets_def.is_executable else None,
                "checks": sorted(checks_by_asset.get(_key(spec.key), [])),
            }
            if not assets_def.is_executable:
                entry["executable"] = False
            if spec.owners:
                entry["owners"] = sorted(spec.owners)
            if tags:
                entry["tags"] = tags
            assets[_key(spec.key)] = entry
    return dict(sorted(assets.items()))


def _jobs(repository: dg.RepositoryDefinition) -> dict[str, dict[str, Any]]:
    return {
        job.name: {"assets": _keys(job.asset_layer.selected_asset_keys)}
        for job in sorted(repository.get_all_jobs(), key=lambda j: j.name)
        if not job.name.startswith("__")  # Dagster's own implicit job over every asset
    }


def _schedules(repository: dg.RepositoryDefinition) -> dict[str, dict[str, Any]]:
    return {
        s.name: {
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "job": s.job_name,
            "default_status": s.default_status.value,
        }
        for s in sorted(repository.schedule_defs, key=lambda s: s.name)
    }


def _sensors(repository: dg.RepositoryDefinition) -> dict[str, dict[str, Any]]:
    sensors = {}
    for s in sorted(repository.sensor_defs, key=lambda s: s.name):
        entry: dict[str, Any] = {
            "type": s.sensor_type.value,
            "jobs": sorted(t.job_name for t in s.targets),
            "minimum_interval_seconds": s.minimum_interval_seconds,
            "default_status": s.default_status.value,
        }
        if isinstance(s, dg.RunStatusSensorDefinition):
            # The chain of stages lives here. Dagster keeps the watched jobs private; should it rename the
            # attribute, this reads None and the diff says so.
            monitored = getattr(s, "_monitored_jobs", None)
            entry["monitored_jobs"] = sorted(j.name for j in monitored) if monitored is not None else None
        sensors[s.name] = entry
    return sensors


def render(definitions: dg.Definitions) -> str:
    """The definitions as stable, sorted JSON: the same code gives the same bytes."""
    repository = definitions.get_repository_def()
    snapshot = {
        "assets": _assets(repository),
        "jobs": _jobs(repository),
        "schedules": _schedules(repository),
        "sensors": _sensors(repository),
        "resources": sorted(repository.get_top_level_resources()),
    }
    return json.dumps(snapshot, indent=2, sort_keys=True) + "\n"


def test_the_definitions_match_the_committed_snapshot():
    actual = render(defs)
    if os.environ.get(UPDATE) == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(actual)
    expected = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"{SNAPSHOT.name} (committed)",
                tofile="orchestration.definitions.defs (now)",
            )
        )
        raise AssertionError(
            "The Dagster definitions differ from the committed snapshot. If the change is meant, rewrite it with "
            f"`{UPDATE}=1 uv run pytest tests/test_definitions_snapshot.py`, review the diff and commit it.\n\n" + diff
        )
