"""The children-in-need pathway and the CIN census (issue 40): the synthetic council's pathway at national rates,
the census written from the lake as the DfE's XML, and the DfE's CIN rules over it: no error for a clean child,
each deliberate defect named by its rule."""

from __future__ import annotations

import datetime as dt
import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from assets.cin_census import cin_census_dfe_validation
from assets.dbt_project import DBT_PROJECT
from assets.marts import ProjectDbtCliResource, dbt_models
from assets.resources import LakehouseResource
from lake.entities import extraction, factor_statements, resolution
from lake.ingest.pipeline import load_landing
from lake.returns import cin
from orchestration.cli import app
from synth.council import SynthOptions, build_world
from synth.council.pathway import CIN_DEFECTS, census_year_end
from synth.council.writing import generate

needs_validator = pytest.mark.skipif(
    not cin.VALIDATOR_PYTHON.exists(), reason="the CIN validator's environment (.venv-cin) is missing: run make setup"
)


def test_the_pathway_follows_national_rates_and_the_census_rules_by_construction(tmp_path):
    world = build_world(SynthOptions(out=tmp_path, children=1000, seed=3))
    referrals = [e for e in world.episodes if e.kind == "CIN"]
    plans = [e for e in world.episodes if e.kind == "CP"]
    by_child: dict[str, list] = {}
    for e in sorted(referrals, key=lambda e: e.start):
        by_child.setdefault(e.child_id, []).append(e)
    again = sum(
        1 for es in by_child.values() for a, b in itertools.pairwise(es) if a.end and (b.start - a.end).days <= 365
    )
    assert 0.17 <= again / len(referrals) <= 0.28, "re-referrals within 12 months: about 22% nationally"
    done = [a for a in world.pathway["assessment"] if a["authorised_date"]]
    on_time = np.mean([np.busday_count(a["start_date"], a["authorised_date"]) <= 45 for a in done])
    assert 0.8 <= on_time <= 0.9, "assessments within 45 working days: about 85% nationally"
    neglect = sum(p.code == "NEG" for p in plans) / len(plans)
    assert 0.4 <= neglect <= 0.6, "neglect is about half of all plans"
    conferences = {c["icpc_id"]: c for c in world.pathway["icpc"]}
    for p in plans:  # a plan starts on its conference's day, a weekday, inside its referral
        assert p.start == conferences[p.icpc_id]["icpc_date"] and p.start.weekday() < 5
        referral = next(r for r in referrals if r.episode_id == p.referral_id)
        assert referral.start <= p.start and (referral.end is None or (p.end and p.end <= referral.end))
    for es in by_child.values():  # one referral open at a time
        assert all(a.end is not None and a.end < b.start for a, b in itertools.pairwise(es))
    factors = pl.DataFrame(world.pathway["assessment_factor"])
    alone = factors.group_by("assessment_id").agg(pl.col("factor")).filter(pl.col("factor").list.contains("21"))
    assert (alone["factor"].list.len() == 1).all(), "21 (no factors) stands alone"


# Large enough that every CIN defect finds a child in the census year; no documents (the census needs none).
COUNCIL = {"children": 300, "seed": 7, "structured_only": True, "notes_per_child": 2.0, "forms_per_child": 0.0}


def _census_of_council(root: Path, **options) -> tuple[dg.ExecuteInPlaceResult, pl.DataFrame, LakehouseResource]:
    """A structured-only council of 300 children, loaded, built, and its census checked by its DfE check."""
    opts = SynthOptions(out=root / "council", **(COUNCIL | options))
    generate(opts)
    lakehouse = LakehouseResource(lake_uri=str(root / "lake"), warehouse_dir=str(root / "warehouse"))
    load_landing(lakehouse.lake(), opts.out / "landing")
    for stage in (extraction, resolution, factor_statements):  # the text-built marts read these: empty here
        stage.ensure_tables(lakehouse.lake())
    run = dg.materialize(
        [dbt_models, cin_census_dfe_validation],
        resources={"lakehouse": lakehouse, "dbt": ProjectDbtCliResource(project_dir=DBT_PROJECT)},
        raise_on_error=False,
    )
    return run, pl.read_parquet(opts.out / "truth" / "cin_defects.parquet"), lakehouse


def _evaluation(run: dg.ExecuteInPlaceResult) -> dg.AssetCheckEvaluation:
    return next(e for e in run.get_asset_check_evaluations() if e.check_name == "cin_census_dfe_validation")


@pytest.mark.slow
@needs_validator
def test_a_clean_council_with_the_usual_cell_defects_files_a_census_with_no_dfe_error(tmp_path):
    """The default council: no CIN defect planted, the staging layer's cell defects (2%) quarantining rows of the
    other tables (a referral, a person, a plan): what is left is still a census without errors, so the check
    passes."""
    run, planted, _ = _census_of_council(tmp_path, defect_rate=0.02)
    assert planted.is_empty()
    evaluation = _evaluation(run)
    assert evaluation.metadata["errors_by_rule"].value == {}
    assert evaluation.passed and run.success
    assert evaluation.metadata["rows_cin_census_children"].value > 100
    assert evaluation.metadata["rows_cin_census_cp_plans"].value > 10


@pytest.mark.slow
@needs_validator
def test_the_dfe_rules_find_no_error_in_a_clean_child_and_name_each_planted_cin_defect(tmp_path):
    # no cell defects: a referral quarantined in staging would take a planted defect out of the census with it
    run, planted, lakehouse = _census_of_council(tmp_path, defect_rate=0.0, cin_defects=True)
    assert dict(zip(planted["kind"], planted["rule"], strict=True)) == CIN_DEFECTS, "every defect planted once"
    assert not _evaluation(run).passed and run.success, "a census with errors fails its check, not the day's build"
    result = cin.validate_return(lakehouse.warehouse() / "caselake.duckdb")
    assert result["rows"]["cin_census_children"] > 100 and result["rules_failed_to_run"] == []
    named = result["children_by_rule"]
    for kind, rule, child in planted.select("kind", "rule", "child_id").iter_rows():
        assert child.replace(":", "") in named.get(rule, []), (kind, rule, named.get(rule))
    errors = {child for rule in result["errors_by_rule"] for child in named[rule]}
    assert errors <= set(planted["child_id"]), "no error for a child without a planted defect"
    # `caselake returns cin` writes the same census, names the rules and exits 1 on errors
    cli = CliRunner().invoke(
        app,
        ["returns", "cin", "--out", str(tmp_path / "out")],
        env={"CASELAKE_DATA_ROOT": str(tmp_path), "CASELAKE_WAREHOUSE_DIR": str(lakehouse.warehouse())},
    )
    assert cli.exit_code == 1 and "8866 (1 child)" in " ".join(cli.output.split()), cli.output
    # the census's shape: one Child per child, every date in the DfE's form, the header's reference date
    root = ET.parse(tmp_path / "out" / cin.FILE_NAME).getroot()
    assert root.findtext("Header/CollectionDetails/ReferenceDate") == "2026-03-31"
    assert len(root.findall("Children/Child")) == result["rows"]["cin_census_children"]
    for start in root.iter("CINreferralDate"):
        assert dt.date.fromisoformat(start.text) <= census_year_end(dt.date(2026, 11, 1))
