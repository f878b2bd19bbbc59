"""The dbt project on a tiny lake, through Dagster: marts built twice, checked against the truth."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.dbt_project import DBT_PROJECT, dbt_environment
from assets.enterprise import enterprise_tables
from assets.marts import ProjectDbtCliResource, dbt_models, ssda903_dfe_validation
from assets.resources import LakehouseResource
from lake.entities import extraction, factor_statements, resolution
from lake.ingest.landing import find_extracts
from lake.ingest.pipeline import land_extract, load_landing, stage_extract
from lake.returns.ssda903 import collection_year, export_return, validate_folder
from synth.council import SynthOptions, generate

pytestmark = pytest.mark.slow
MARTS = (
    "adoption_journey",
    "adopter_features",
    "child_timeline",
    "child_network",
    "worker_history",
    "placement_history",
)


def _no_text_read_yet(lake) -> None:
    """The ecomap marts read the entity tables, which the entities stage writes: empty here (no text is read),
    so child_network holds the recorded relationships only (tests/test_ecomap_mart.py has the text)."""
    extraction.ensure_tables(lake)
    resolution.ensure_tables(lake)
    factor_statements.ensure_tables(lake)


@pytest.fixture(scope="module")
def marts(council, tmp_path_factory):
    root = tmp_path_factory.mktemp("dbt")
    lakehouse = LakehouseResource(lake_uri=str(root / "lake"), warehouse_dir=str(root / "warehouse"))
    day0 = find_extracts(council.out / "landing")[0]
    land_extract(lakehouse.lake(), day0)
    stage_extract(lakehouse.lake(), day0)
    _no_text_read_yet(lakehouse.lake())
    resources = {"lakehouse": lakehouse, "dbt": ProjectDbtCliResource(project_dir=DBT_PROJECT)}
    runs, snapshots = [], []
    for _ in range(2):
        runs.append(dg.materialize([enterprise_tables, dbt_models, ssda903_dfe_validation], resources=resources))
        with duckdb.connect(str(lakehouse.warehouse() / "caselake.duckdb"), read_only=True) as con:
            snapshots.append({t: con.sql(f"select * from {t} order by all").pl() for t in MARTS})
    return {"lakehouse": lakehouse, "runs": runs, "snapshots": snapshots, "council": council, "resources": resources}


def test_dbt_models_materialize_with_checks_and_row_counts(marts):
    run = marts["runs"][0]
    assert run.success
    keys = {m.asset_key.to_user_string(): m for m in run.get_asset_materialization_events()}
    journey = keys["marts/adoption_journey"].event_specific_data.materialization.metadata
    assert journey["dagster/row_count"].value > 0
    assert "dagster/column_schema" in journey
    checks = run.get_asset_check_evaluations()
    manifest = json.loads(DBT_PROJECT.manifest_path.read_text())
    data_tests = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "test"}
    dbt_checks = [c for c in checks if c.check_name in data_tests]
    assert len(dbt_checks) == len(data_tests) > 30 and all(c.passed for c in dbt_checks)


def test_second_run_with_no_changes_leaves_the_marts_unchanged(marts):
    assert marts["runs"][1].success
    first, second = marts["snapshots"]
    for table in first:
        assert first[table].equals(second[table]), table


def test_marts_agree_with_the_truth(marts):
    journey, adopters = marts["snapshots"][0]["adoption_journey"], marts["snapshots"][0]["adopter_features"]
    truth = pl.read_parquet(marts["council"].out / "truth" / "persons.parquet")
    checked = journey.join(
        truth.select(pl.col("person_id").alias("child_id"), "minority_ethnic", "disability"), on="child_id", how="inner"
    )
    assert checked.height == journey.height > 0
    assert (checked["is_minority_ethnic"] == checked["minority_ethnic"]).all()
    assert (checked["is_disabled"] == checked["disability"].is_not_null()).all()
    assert (journey["a1_days"] == (journey["placed"] - journey["entered_care"]).dt.total_days()).all()
    assert (journey["a10_days"] <= journey["a1_days"]).all() and (journey["a2_days"] > 0).all()
    summary = json.loads((marts["council"].out / "truth" / "council.json").read_text())
    assert adopters.height <= summary["households"]
    matched = adopters.filter(pl.col("status") == "Matched")
    assert (matched["children_adopted"] > 0).all(), "every matched household adopted a child"
    assert (adopters.filter(pl.col("status") != "Matched")["children_adopted"] == 0).all()


def test_timeline_network_and_histories_cover_the_enterprise_layer(marts):
    lake, snap = marts["lakehouse"].lake(), marts["snapshots"][0]
    relationships = lake.read("enterprise", "relationship").filter(pl.col("_deleted_at").is_null())
    assert snap["child_network"].height == relationships.select("child_id", "person_id").n_unique()
    assert set(snap["child_network"]["confidence_band"]) == {"high"}
    assert set(snap["child_network"]["evidence"]) == {"recorded"}
    notes = lake.read("enterprise", "case_note").filter(pl.col("_deleted_at").is_null())
    timeline = snap["child_timeline"]
    assert timeline.filter(pl.col("event_type") == "case note").height == notes.height
    documents = timeline.filter(pl.col("event_type") == "document")
    assert (
        set(documents["timeline_date_is"]) == {"recording date"}
        and documents["event_date"].null_count() == documents.height
    )
    workers = lake.read("enterprise", "involvement").group_by("child_id").agg(pl.col("worker_id").n_unique().alias("n"))
    history = snap["worker_history"].select("child_id", "workers_in_total").unique()
    assert history.join(workers, on="child_id").filter(pl.col("n") != pl.col("workers_in_total")).height == 0
    moves = snap["placement_history"]
    assert (moves.filter(~pl.col("is_a_move"))["reason_new"] == "L").all()


def test_the_unit_tests_run_and_pass(marts):
    lakehouse = marts["lakehouse"]
    with dbt_environment(str(lakehouse.warehouse())):
        invocation = marts["resources"]["dbt"].cli(["test", "--select", "test_type:unit"], raise_on_error=False).wait()
    results = {
        r["unique_id"].split(".")[-1]: r["status"] for r in invocation.get_artifact("run_results.json")["results"]
    }
    manifest = json.loads(DBT_PROJECT.manifest_path.read_text())
    declared = {u["name"] for u in manifest.get("unit_tests", {}).values()}
    assert "scorecard_measures_and_cohorts_on_hand_made_journeys" in declared
    assert len(declared) >= 9, "the scorecard and the SSDA903 rules each have unit tests"
    assert results == dict.fromkeys(declared, "pass")


def test_the_ssda903_return_is_checked_by_the_dfe_rules_and_a_planted_error_is_caught(marts, tmp_path):
    evaluation = next(
        e for e in marts["runs"][0].get_asset_check_evaluations() if e.check_name == "ssda903_dfe_validation"
    )
    assert evaluation.metadata["rules_run"].value > 100
    assert evaluation.metadata["rows_ssda903_episodes"].value > 0
    export_return(marts["lakehouse"].warehouse() / "caselake.duckdb", tmp_path)
    clean = validate_folder(tmp_path, collection_year())["errors_by_rule"]
    lines = (tmp_path / "ssda903_header.csv").read_text().splitlines()
    cells = lines[1].split(",")
    cells[3] = "XXXX"  # ETHNIC must be a DfE ethnicity code: rule 103
    lines[1] = ",".join(cells)
    (tmp_path / "ssda903_header.csv").write_text("\n".join(lines) + "\n")
    planted = validate_folder(tmp_path, collection_year())["errors_by_rule"]
    assert planted.get("103", 0) == clean.get("103", 0) + 1, (clean, planted)


def _dfe_errors_for_council(root, children: int, defect_rate: float) -> tuple[dict, pl.DataFrame]:
    """A council without documents (the 903 return needs none), loaded, built, and checked by the DfE rules."""
    opts = SynthOptions(
        out=root / "council",
        children=children,
        seed=5,
        defect_rate=defect_rate,
        documents_per_child=0.0,
        notes_per_child=3.0,
    )
    generate(opts)
    lakehouse = LakehouseResource(lake_uri=str(root / "lake"), warehouse_dir=str(root / "warehouse"))
    load_landing(lakehouse.lake(), opts.out / "landing", build=False)
    _no_text_read_yet(lakehouse.lake())
    run = dg.materialize(
        [enterprise_tables, dbt_models, ssda903_dfe_validation],
        resources={"lakehouse": lakehouse, "dbt": ProjectDbtCliResource(project_dir=DBT_PROJECT)},
    )
    evaluation = next(e for e in run.get_asset_check_evaluations() if e.check_name == "ssda903_dfe_validation")
    assert evaluation.metadata["rows_ssda903_episodes"].value > 10
    planted = pl.read_parquet(opts.out / "truth" / "ssda903_defects.parquet")
    return evaluation.metadata["errors_by_rule"].value, planted


def test_a_clean_council_files_a_903_return_with_zero_dfe_errors(tmp_path):
    errors, planted = _dfe_errors_for_council(tmp_path, children=150, defect_rate=0.0)
    assert planted.is_empty()
    assert errors == {}, errors


def test_each_deliberate_903_defect_is_caught_by_its_dfe_rule(tmp_path):
    errors, planted = _dfe_errors_for_council(tmp_path, children=60, defect_rate=0.05)
    assert set(planted["kind"]) == {"upn_letter_o_for_zero", "placement_postcode_not_real", "mother_under_11"}
    for kind, rule in planted.select("kind", "rule").iter_rows():
        assert errors.get(rule, 0) >= 1, (kind, rule, errors)


def test_a_failing_mart_test_holds_back_only_what_it_tested(tmp_path):
    """A duplicate that slipped past staging (planted straight into enterprise) fails one dbt test: the step
    succeeds, that check fails, dbt skips the models built on the tested one, and every other mart is built."""
    opts = SynthOptions(
        out=tmp_path / "council", children=4, seed=5, documents_per_child=0.0, notes_per_child=3.0, defect_rate=0.0
    )
    generate(opts)
    lakehouse = LakehouseResource(lake_uri=str(tmp_path / "lake"), warehouse_dir=str(tmp_path / "warehouse"))
    lake = lakehouse.lake()
    load_landing(lake, opts.out / "landing")
    _no_text_read_yet(lake)
    reviews = lake.read("enterprise", "cla_review")
    assert reviews.height, "the council needs a review to copy"
    lake.write("enterprise", "cla_review", pl.concat([reviews, reviews.head(1)]))
    run = dg.materialize(
        [dbt_models], resources={"lakehouse": lakehouse, "dbt": ProjectDbtCliResource(project_dir=DBT_PROJECT)}
    )
    assert run.success
    failed = [(e.asset_key.path[-1], e.check_name) for e in run.get_asset_check_evaluations() if not e.passed]
    assert failed == [("stg_enterprise__cla_review", "unique_stg_enterprise__cla_review_review_id")]
    with duckdb.connect(str(lakehouse.warehouse() / "caselake.duckdb"), read_only=True) as con:
        built = {r[0] for r in con.sql("select table_name from information_schema.tables").fetchall()}
    assert "ssda903_reviews" not in built, "built on the failed test's model: skipped"
    assert set(MARTS) <= built, "every other mart is built"
