"""The Dagster code location, for real: asset graph, sensor, jobs, metadata and checks."""

from __future__ import annotations

import dagster as dg
import pytest

from assets.resources import LakehouseResource
from lake.contracts.sources import NEUTRAL_TABLES, SOURCES
from orchestration.definitions import defs
from orchestration.runner import load_all
from synth.council import generate, generate_next_day
from tests.conftest import small_options


def test_the_asset_graph_runs_landing_to_staging_to_enterprise():
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    for source in SOURCES:
        assert dg.AssetKey(["landing", source, "files"]) in keys
        for table in NEUTRAL_TABLES:
            staged = dg.AssetKey(["staging", source, table])
            assert dg.AssetKey(["landing", source, "files"]) in graph.get(staged).parent_keys
    person = graph.get(dg.AssetKey(["enterprise", "person"]))
    assert {dg.AssetKey(["staging", s, "person"]) for s in SOURCES} <= set(person.parent_keys)
    episode = graph.get(dg.AssetKey(["enterprise", "episode"]))
    assert dg.AssetKey(["staging", "mosaic", "cp_plan"]) in episode.parent_keys
    checks = {k.name for k in graph.asset_check_keys}
    assert {
        "rows_read_equal_landed_plus_quarantined",
        "rows_read_equal_rows_declared",
        "quarantine_rate",
        "keys_unique",
        "references_resolve",
    } <= checks
    assert {s.name for s in defs.sensors} >= {
        "liquidlogic_new_extracts",
        "mosaic_new_extracts",
        "build_enterprise_after_load",
        "extract_document_text_after_build_enterprise",
        "extract_entities_after_extract_document_text",
        "index_search_after_extract_entities",
    }
    # daily loads; the audit copy; the cost marts after the morning's loads; weekly Delta housekeeping
    assert {s.cron_schedule for s in defs.schedules} == {"0 6 * * *", "*/15 * * * *", "30 7 * * *", "0 3 * * 0"}


def test_one_declared_stage_order_drives_the_sensors_and_the_jobs():
    from orchestration.automation import STAGES

    graph = defs.resolve_asset_graph()
    previous = "load"
    staged: dict[dg.AssetKey, str] = {}
    for stage in STAGES:
        sensor = defs.get_sensor_def(f"{stage.name}_after_{previous}")
        assert sensor.job_name == stage.name
        selected = set(defs.resolve_job_def(stage.name).asset_layer.selected_asset_keys)
        assert selected == {k for k in graph.get_all_asset_keys() if graph.get(k).group_name in stage.groups}
        staged.update(dict.fromkeys(selected, stage.name))
        previous = stage.name
    # Every asset after staging belongs to exactly one stage: none can be left out of the chain unnoticed.
    # Three groups run on their own schedules: the audit log's copy ("ops") follows use of the app, not the
    # loads; the cost marts ("costs") follow every load, whichever stage it stopped at; housekeeping is weekly.
    own_schedule = {"ops": "export_audit_log", "costs": "report_costs", "housekeeping": "delta_housekeeping"}
    for group, job in own_schedule.items():
        selected = set(defs.resolve_job_def(job).asset_layer.selected_asset_keys)
        assert selected == {k for k in graph.get_all_asset_keys() if graph.get(k).group_name == group} != set()
    after_staging = {
        k
        for k in graph.get_all_asset_keys()
        if graph.get(k).is_executable and graph.get(k).group_name not in ("landing", "staging", *own_schedule)
    }
    assert after_staging == set(staged)


@pytest.mark.slow
def test_sensor_adds_each_extract_once_and_the_jobs_materialize_with_metadata_and_checks(council, tmp_path):
    lakehouse = LakehouseResource(lake_uri=str(tmp_path / "lake"), landing_dir=str(council.out / "landing"))
    with dg.instance_for_test() as instance:
        sensor = defs.get_sensor_def("liquidlogic_new_extracts")
        result = sensor(dg.build_sensor_context(instance=instance, resources={"lakehouse": lakehouse}))
        # One extract at a time, oldest first; every extract found becomes a partition.
        assert [r.partition_key for r in result.run_requests] == ["2026-11-01"]
        assert result.run_requests[0].run_key.startswith("liquidlogic-2026-11-01:")
        assert result.dynamic_partitions_requests[0].partition_keys == ["2026-11-01", "2026-11-02", "2026-11-03"]
        assert not defs.get_sensor_def("mosaic_new_extracts")(
            dg.build_sensor_context(instance=instance, resources={"lakehouse": lakehouse})
        ).run_requests

        instance.add_dynamic_partitions("liquidlogic_extracts", ["2026-11-01"])
        job = defs.resolve_job_def("load_liquidlogic_extract")
        run = job.execute_in_process(
            partition_key="2026-11-01",
            instance=instance,
            resources={"lakehouse": lakehouse},
            tags=result.run_requests[0].tags,
        )
        assert run.success
        mats = {m.asset_key.to_user_string(): m for m in run.asset_materializations_for_node("staging_liquidlogic")}
        person = mats["staging/liquidlogic/person"].metadata
        assert person["rows_read"].value == person["rows_landed"].value + person["rows_quarantined"].value > 0
        for field in (
            "rows_inserted",
            "rows_updated",
            "rows_unchanged",
            "bytes_written",
            "wall_seconds",
            "cpu_seconds",
            "delta_version",
        ):
            assert field in person, field
        evaluations = [e.event_specific_data for e in run.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
        balance = [e for e in evaluations if e.check_name.startswith("rows_read")]
        assert len(balance) == 2 * len(NEUTRAL_TABLES) and all(e.passed for e in balance)

        again = sensor(dg.build_sensor_context(instance=instance, resources={"lakehouse": lakehouse}))
        assert [r.partition_key for r in again.run_requests] == ["2026-11-02"], "a loaded extract is not re-run"

        enterprise_run = defs.resolve_job_def("build_enterprise").execute_in_process(
            instance=instance, resources={"lakehouse": lakehouse}
        )
        assert enterprise_run.success
        evaluations = [
            e.event_specific_data for e in enterprise_run.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
        ]
        assert all(e.passed for e in evaluations if e.check_name == "keys_unique")


@pytest.mark.slow
def test_caselake_load_runs_every_extract_once_then_only_the_enterprise(tmp_path, monkeypatch):
    # The runner's bookkeeping is under test, not the data: a small council of its own, three extracts. It did
    # not make the test faster (160 s either way: Dagster's and dbt's overhead, not the rows; 101 s since
    # decision 0026), but it no longer depends on the shared council's fixture.
    council = small_options(tmp_path / "council", structured_only=True)
    generate(council)
    generate_next_day(council)
    generate_next_day(council)
    monkeypatch.setenv("CASELAKE_LAKE_URI", str(tmp_path / "lake"))
    monkeypatch.setenv("CASELAKE_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    lines: list[str] = []
    with dg.instance_for_test() as instance:
        # Documents and entities off: the shared read_council fixture runs those jobs through load_all.
        assert load_all(instance, council.out / "landing", say=lines.append, until="build_enterprise")
        assert load_all(instance, council.out / "landing", say=lines.append, until="build_enterprise")
    outcomes = [line.split(": ")[1].split(" ")[0] for line in lines]
    expected = ["loaded", "loaded", "loaded", "built", "reported", "already", "already", "already", "built", "reported"]
    assert outcomes == expected, lines


@pytest.mark.slow
def test_after_a_failed_extract_the_sensor_waits_until_it_is_delivered_again(tmp_path):
    from tests.hostile import WORKERS, workers, write_extract

    landing = tmp_path / "landing"
    write_extract(landing, "2026-11-04", workers(rows=WORKERS[:1]))
    bad = write_extract(landing, "2026-11-05", workers(), declared={"WORKER": 9})  # rows missing: fails
    write_extract(landing, "2026-11-06", workers(rows=WORKERS[1:2]))
    lakehouse = LakehouseResource(lake_uri=str(tmp_path / "lake"), landing_dir=str(landing))
    resources = {"lakehouse": lakehouse}
    sensor, job = defs.get_sensor_def("liquidlogic_new_extracts"), defs.resolve_job_def("load_liquidlogic_extract")

    def tick():
        result = sensor(dg.build_sensor_context(instance=instance, resources=resources))
        for request in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        return result

    def run(request):
        return job.execute_in_process(
            partition_key=request.partition_key,
            instance=instance,
            resources=resources,
            tags=request.tags,
            raise_on_error=False,
        )

    with dg.instance_for_test() as instance:
        assert run(tick().run_requests[0]).success  # 11-04
        (request,) = tick().run_requests
        assert request.partition_key == "2026-11-05"
        failed = run(request)
        assert not failed.success
        waiting = tick()
        assert not waiting.run_requests and "liquidlogic-2026-11-05 failed" in waiting.skip_reason.skip_message
        assert lakehouse.lake().read("staging", "liquidlogic/worker")["worker_id"].to_list() == ["W1"]
        # Delivered again with the right row count: tried again, then the extract that waited.
        (bad / "_extract.json").write_text((bad / "_extract.json").read_text().replace('"rows": 9', '"rows": 4'))
        (request,) = tick().run_requests
        assert request.partition_key == "2026-11-05" and run(request).success
        (request,) = tick().run_requests
        assert request.partition_key == "2026-11-06" and run(request).success
        assert not tick().run_requests
