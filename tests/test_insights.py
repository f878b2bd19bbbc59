"""The adopter insights on generated agencies, with the real sentence model: the planted effects recovered with
intervals that cover them, nothing invented, the text-only effect read from the text, protected characteristics
kept out of the score, the list's recall of truly fitting households, and the outputs people read."""

from __future__ import annotations

import time

import numpy as np
import polars as pl
import pytest

from evaluation import insights as simulation_study
from lake.embedding import Embedder
from lake.insights import analysis
from lake.insights.candidates import rank_candidates
from lake.insights.characteristics import record_characteristics, theme_characteristics
from lake.insights.clusters import household_groups
from lake.insights.contract import InsightsInputError, checked
from lake.insights.effects import WITH_PREFERENCES, WITHOUT_PREFERENCES
from lake.insights.report import html_report
from lake.insights.themes import THEMES, ThemeFinder, sentences
from lake.storage.delta import INSIGHTS, Lake
from synth.agency import generate_agency, write_agency
from synth.world import NULL_TEXT_THEMES, PLANTED_EFFECTS, TEXT_ONLY_CHARACTERISTICS

FOUND = ("more likely", "less likely")


@pytest.fixture(scope="module")
def finder() -> ThemeFinder:
    return ThemeFinder(Embedder().encode)


@pytest.fixture(scope="module")
def agency():
    # A large agency (1,500 households over six years, a regional adoption agency's size over a decade's
    # approvals): at 500 households most planted effects have low power, as the simulation study reports.
    return generate_agency(1500, seed=1)


@pytest.fixture(scope="module")
def result(agency, finder):
    return analysis.analyse(agency.features, agency.reports, finder, bootstrap=10)


def _main(result) -> pl.DataFrame:
    return result.effects.filter(pl.col("model") == WITHOUT_PREFERENCES)


def test_the_agency_generator_is_fast_and_keeps_the_text_only_trait_out_of_the_fields(agency):
    t0 = time.perf_counter()
    small = generate_agency(500, seed=2)
    assert time.perf_counter() - t0 < 30  # hundreds of agencies must fit a simulation study on 2 cores
    assert small.features.height == 500 and set(small.reports.columns) == {"household_id", "report_text"}
    checked(small.features, small.reports)  # the export meets the input contract
    assert not {*TEXT_ONLY_CHARACTERISTICS, *NULL_TEXT_THEMES} & set(agency.features.columns)
    carers = agency.traits.filter(pl.col("cared_for_disabled_relative"))["household_id"]
    texts = agency.reports.filter(pl.col("household_id").is_in(carers.implode()))["report_text"].to_list()
    caring = {s for t in texts for s in sentences(t) if "care" in s.lower() or "carer" in s.lower()}
    assert len(caring) > 50, "the trait is written in many different ways"
    assert generate_agency(50, seed=3).features.equals(generate_agency(50, seed=3).features)


def test_planted_effects_are_recovered_with_the_right_sign_and_covering_intervals(agency, result):
    main = _main(result)
    for cohort, effects in PLANTED_EFFECTS.items():
        for characteristic, odds_ratio in effects.items():
            row = main.filter((pl.col("cohort") == cohort) & (pl.col("characteristic") == characteristic)).row(
                0, named=True
            )
            assert row["odds_ratio"] > 1, (cohort, characteristic, row)
            assert row["ci_low"] <= odds_ratio <= row["ci_high"], (cohort, characteristic, row)
            assert 0 <= row["p_value"] <= row["q_value"] <= 1


def test_no_effect_characteristics_are_not_reported_as_effects(result):
    planted = {(c, f) for c, fx in PLANTED_EFFECTS.items() for f in fx}
    found = _main(result).filter(pl.col("finding").is_in(FOUND))
    invented = [(c, f) for c, f in found.select("cohort", "characteristic").iter_rows() if (c, f) not in planted]
    assert not invented
    assert found.height >= 5  # and most planted effects are found at this size


def test_the_text_only_effect_is_found_in_the_text_and_the_null_theme_is_not(result):
    main = _main(result)
    caring = main.filter(
        (pl.col("cohort") == "disability") & (pl.col("characteristic") == "cared_for_disabled_relative")
    )
    assert caring["finding"].to_list() == ["more likely"]
    assert caring["source"].to_list() == ["report text"]
    null = main.filter(pl.col("characteristic").is_in(NULL_TEXT_THEMES))
    assert null.height == 4 and not null["finding"].is_in(FOUND).any()
    themes = result.themes.filter(pl.col("theme") == "cared_for_disabled_relative").row(0, named=True)
    assert themes["households"] > 0 and themes["examples"] and themes["borderline"]


def test_both_models_are_reported_and_too_small_cells_say_so(agency, finder):
    small = generate_agency(60, seed=4)
    effects = analysis.analyse(small.features, small.reports, finder, bootstrap=0).effects
    assert set(effects["model"].unique()) == {WITHOUT_PREFERENCES, WITH_PREFERENCES}
    too_small = effects.filter(pl.col("too_small"))
    assert too_small.height and (too_small["finding"] == "too few to say").all()


def test_protected_characteristics_never_move_the_score(agency, result):
    features, reports = checked(agency.features, agency.reports)
    flags, _ = ThemeFinder(Embedder().encode).household_themes(reports)
    characteristics = record_characteristics(features) + theme_characteristics()
    before = rank_candidates(features, flags, characteristics)
    waiting = pl.col("status") == "Approved - waiting"
    # Every protected characteristic of every waiting household changed: the list must not move.
    changed = features.with_columns(
        pl.when(waiting)
        .then(~pl.col("is_minority_ethnic_household"))
        .otherwise("is_minority_ethnic_household")
        .alias("is_minority_ethnic_household"),
        pl.when(waiting).then(100 - pl.col("oldest_adult_age")).otherwise("oldest_adult_age").alias("oldest_adult_age"),
        pl.when(waiting).then(pl.lit("Single adopter")).otherwise("household_type").alias("household_type"),
        pl.when(waiting).then(pl.lit("Muslim")).otherwise("religion").alias("religion"),
        pl.when(waiting).then(pl.lit("ZZZZ")).otherwise("ethnicity").alias("ethnicity"),
    )
    after = rank_candidates(changed, flags, characteristics)
    assert before.height == 80 and before.select("cohort", "household_id", "estimate").equals(
        after.select("cohort", "household_id", "estimate")
    )
    protected_words = [c.label for c in characteristics if c.protected]
    assert not any(word in reasons for reasons in result.candidates["reasons"] for word in protected_words)
    # ... and the fairness audit is where they are used
    assert set(result.fairness["protected"].unique()) >= {"age", "race and ethnicity", "religion or belief"}


def test_the_list_finds_truly_fitting_households_well_above_chance(agency, result):
    fit = agency.cohort_fit
    for cohort in ("sibling_group", "age_5_plus", "disability"):  # cohorts whose fit needs no protected characteristic
        pool = fit.filter((pl.col("cohort") == cohort) & pl.col("open_to_cohort"))
        fitting = set(pool.filter(pl.col("fits"))["household_id"].to_list())
        listed = result.candidates.filter(pl.col("cohort") == cohort)
        assert listed.height == 20
        assert set(listed["household_id"].to_list()) <= set(pool["household_id"].to_list())  # waiting and open only
        hit_rate, base_rate = len(set(listed["household_id"]) & fitting) / 20, len(fitting) / pool.height
        assert hit_rate >= 1.5 * base_rate, (cohort, hit_rate, base_rate)
        assert (listed["estimate_low"] <= listed["estimate"]).all() and (
            listed["estimate"] <= listed["estimate_high"]
        ).all()
        assert listed["reasons"].str.len_chars().min() > 0


def test_history_shows_how_often_each_household_was_listed(agency, finder, tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    first = analysis.analyse(agency.features, agency.reports, finder, history=analysis.history(lake), bootstrap=0)
    assert (first.candidates["times_listed_before"] == 0).all()
    analysis.write(lake, first, "run-1")
    analysis.write(lake, first, "run-2")
    again = analysis.analyse(agency.features, agency.reports, finder, history=analysis.history(lake), bootstrap=0)
    assert (again.candidates["times_listed_before"] == 2).all()
    assert lake.read(INSIGHTS, analysis.LISTINGS).height == 2 * first.candidates.height
    kept = analysis.read(lake)
    assert kept.candidates.height == first.candidates.height and set(kept.effects["run_id"]) == {"run-2"}


def test_the_input_contract_names_every_problem(agency, tmp_path):
    with pytest.raises(InsightsInputError, match=r"missing column\(s\) region, prior_fostering"):
        checked(agency.features.drop("prior_fostering", "region"), agency.reports)
    bad = agency.features.with_columns(pl.lit("Maybe").alias("status"))
    with pytest.raises(InsightsInputError, match="status must be"):
        checked(bad, agency.reports)
    with pytest.raises(InsightsInputError, match="duplicate household_id"):
        checked(pl.concat([agency.features, agency.features.head(1)]), agency.reports)
    write_agency(generate_agency(30, seed=1), tmp_path / "export")
    features, reports = analysis.export_inputs(tmp_path / "export")
    assert features.height == reports.height == 30
    (tmp_path / "export" / "adopter_reports.parquet").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks adopter_reports\.parquet"):
        analysis.export_inputs(tmp_path / "export")


def test_groups_are_found_where_households_differ_and_not_invented_where_they_do_not(agency):
    # Structureless data (the generator draws traits independently): no stable group may be claimed.
    traits = agency.traits.select("household_id", *[t.name for t in THEMES if t.name in agency.traits.columns])
    flags = traits.with_columns(pl.lit(False).alias("support_network"), pl.lit(False).alias("reflective_about_loss"))
    groups, _ = household_groups(agency.features.head(600), flags, {}, {"disabled": "adopted_disabled"}, bootstrap=10)
    assert not (groups["reading"] == "stable").any()
    # Two planted kinds of household: experienced foster carers in one region, young first-timers in another.
    n = 300
    kinds = np.arange(n) % 2 == 0
    planted = agency.features.head(n).with_columns(
        pl.Series("prior_fostering", kinds),
        pl.Series("region", np.where(kinds, "Cumbria", "Teesside")),
        pl.Series("household_type", np.where(kinds, "Married couple", "Single adopter")),
        pl.Series("occupation_sector", np.where(kinds, "Health and care", "Retail")),
        pl.Series("religion", np.where(kinds, "Christian", "None")),
        pl.Series("oldest_adult_age", np.where(kinds, 55, 30)),
    )
    groups, labels = household_groups(planted, flags.head(n), {}, {"disabled": "adopted_disabled"}, bootstrap=10)
    assert groups.height == 2 and (groups["reading"] == "stable").all()
    assert len(set(labels[kinds].tolist())) == 1 and len(set(labels[~kinds].tolist())) == 1


def test_the_report_draws_forest_plots_and_renders_report_text_as_text(agency, finder):
    hostile = agency.reports.with_columns(
        pl.when(pl.col("household_id") == agency.reports["household_id"][0])
        .then(pl.lit('<img src=x onerror="alert(1)"> One applicant helped care for an uncle who has <b>autism</b>.'))
        .otherwise("report_text")
        .alias("report_text")
    )
    page = html_report(analysis.analyse(agency.features, hostile, finder, bootstrap=0), "| a | b |")
    assert page.count("<svg") == 4 and "Read this first" in page and "| a | b |" in page
    assert "<img src=x" not in page and "<b>autism</b>" not in page


def test_the_simulation_study_reports_every_planted_effect():
    report = simulation_study.evaluate(seeds=3, households=300, top_k=10)
    planted = {(c, f) for c, fx in PLANTED_EFFECTS.items() for f in fx}
    assert set(report.effects.select("cohort", "characteristic").iter_rows()) == planted
    assert report.effects["coverage"].is_between(0, 1).all() and 0 <= report.fdr <= 1
    assert set(report.recall["cohort"]) == set(PLANTED_EFFECTS)
    text = simulation_study.report(report)
    assert "coverage" in text and "cared_for_disabled_relative (text only)" in text


def test_the_loaded_council_is_analysed_and_says_when_it_is_too_small(read_council):
    """The shared test council has 40 approved households and only a couple matched: the analysis runs in the
    load, its check passes, and every finding says there are too few households to say anything."""
    assert read_council.checks["every_listed_household_explained"] == "SUCCEEDED"
    effects = read_council.lake.read(INSIGHTS, analysis.EFFECTS)
    assert effects.height and (effects["finding"] == "too few to say").all()
