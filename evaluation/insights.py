"""The adopter analysis checked against the planted truth by simulation: many synthetic agencies of a realistic
size, each analysed exactly as the product analyses an export, and the results compared with the planted odds
ratios (``synth.world.PLANTED_EFFECTS``) and with which waiting households truly fit each cohort.

Reported: for every planted effect, the coverage of its 95% interval (goal 93–97%) and the power to detect it
(q < 0.05 with the right sign); the false-discovery rate among characteristics with no effect (goal ≤ 5%); how
often the text-only effect is found and the null text theme is not; how well the theme finder reads the text;
and the list's recall of truly fitting households, with and without protected characteristics in the score.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from lake.insights.candidates import rank_candidates
from lake.insights.characteristics import record_characteristics, theme_characteristics
from lake.insights.contract import checked
from lake.insights.effects import FDR, association_table
from lake.insights.themes import ThemeFinder
from synth.agency import generate_agency
from synth.world import NULL_TEXT_THEMES, TEXT_ONLY_CHARACTERISTICS

COVERAGE_GOAL = (0.93, 0.97)
FDR_GOAL = 0.05


@dataclass
class SimulationReport:
    seeds: int
    households: int
    top_k: int
    effects: pl.DataFrame  # one row per planted effect: coverage, power, mean odds ratio
    fdr: float  # mean false-discovery proportion among the no-effect characteristics
    null_false_positive_rate: float  # share of no-effect tests called an effect
    null_text_theme_found: float  # share of agencies where the null text theme was called an effect (any cohort)
    theme_reading: pl.DataFrame  # precision and recall of the theme finder for the planted text traits
    recall: pl.DataFrame  # per cohort: recall of fitting households in the top k, with and without protected
    seconds: float


def _truth_effects(agency) -> dict[tuple[str, str], float]:
    return {(r["cohort"], r["characteristic"]): r["odds_ratio"] for r in agency.planted_effects.iter_rows(named=True)}


def evaluate(
    seeds: int = 200, households: int = 500, top_k: int = 20, encode=None, first_seed: int = 1000
) -> SimulationReport:
    """``seeds`` agencies of ``households`` each (held-out name pools, seeds from ``first_seed``)."""
    t0 = time.perf_counter()
    if encode is None:
        from lake.embedding import Embedder

        encode = Embedder().encode
    finder = ThemeFinder(encode)
    effect_rows, null_rows, theme_rows, recall_rows, fdp, null_theme = [], [], [], [], [], []
    for seed in range(first_seed, first_seed + seeds):
        agency = generate_agency(households, seed=seed, split="eval")
        features, reports = checked(agency.features, agency.reports)
        flags, _ = finder.household_themes(reports)
        characteristics = record_characteristics(features) + theme_characteristics()
        effects = association_table(features, flags, characteristics, with_preferences=(False,))
        truth = _truth_effects(agency)
        discoveries = false = 0
        for r in effects.iter_rows(named=True):
            planted = truth.get((r["cohort"], r["characteristic"]))
            found = r["q_value"] is not None and r["q_value"] < FDR and not r["too_small"]
            discoveries += found
            if planted is None:
                false += found
                null_rows.append(found)
                continue
            effect_rows.append(
                {
                    "cohort": r["cohort"],
                    "characteristic": r["characteristic"],
                    "planted_odds_ratio": planted,
                    "odds_ratio": r["odds_ratio"],
                    "covered": r["ci_low"] <= planted <= r["ci_high"],
                    "detected": found and r["odds_ratio"] > 1,
                }
            )
        fdp.append(false / discoveries if discoveries else 0.0)
        null_theme.append(
            effects.filter(pl.col("characteristic").is_in(NULL_TEXT_THEMES) & (pl.col("q_value") < FDR)).height > 0
        )
        joined = flags.join(agency.traits, on="household_id", suffix="_true")
        for trait in (*TEXT_ONLY_CHARACTERISTICS, *NULL_TEXT_THEMES):
            found, true = joined[trait].to_numpy(), joined[f"{trait}_true"].to_numpy()
            theme_rows.append(
                {
                    "theme": trait,
                    "tp": int((found & true).sum()),
                    "fp": int((found & ~true).sum()),
                    "fn": int((~found & true).sum()),
                }
            )
        recall_rows += _recall(features, flags, characteristics, agency.cohort_fit, top_k)
    effects = (
        pl.DataFrame(effect_rows)
        .group_by("cohort", "characteristic", "planted_odds_ratio", maintain_order=True)
        .agg(
            pl.col("covered").mean().alias("coverage"),
            pl.col("detected").mean().alias("power"),
            pl.col("odds_ratio").median().alias("median_odds_ratio"),
        )
        .with_columns(
            pl.col("characteristic").is_in(TEXT_ONLY_CHARACTERISTICS).alias("text_only"),
            pl.col("coverage").is_between(*COVERAGE_GOAL).alias("coverage_goal_met"),
        )
    )
    themes = (
        pl.DataFrame(theme_rows)
        .group_by("theme", maintain_order=True)
        .agg(pl.col("tp").sum(), pl.col("fp").sum(), pl.col("fn").sum())
        .with_columns(
            (pl.col("tp") / (pl.col("tp") + pl.col("fp"))).alias("precision"),
            (pl.col("tp") / (pl.col("tp") + pl.col("fn"))).alias("recall"),
        )
        .select("theme", "precision", "recall")
    )
    recall = (
        pl.DataFrame(recall_rows)
        .group_by("cohort", maintain_order=True)
        .agg(
            pl.col("fitting").mean().alias("fitting_in_pool"),
            pl.col("pool").mean().alias("pool"),
            pl.col("recall_without_protected").mean(),
            pl.col("recall_with_protected").mean(),
            pl.col("recall_random").mean(),
        )
        .with_columns(
            (pl.col("recall_with_protected") - pl.col("recall_without_protected")).alias("cost_of_leaving_out")
        )
    )
    return SimulationReport(
        seeds=seeds,
        households=households,
        top_k=top_k,
        effects=effects,
        fdr=float(np.mean(fdp)),
        null_false_positive_rate=float(np.mean(null_rows)),
        null_text_theme_found=float(np.mean(null_theme)),
        theme_reading=themes,
        recall=recall,
        seconds=time.perf_counter() - t0,
    )


def _recall(features, flags, characteristics, cohort_fit: pl.DataFrame, top_k: int) -> list[dict]:
    """Recall of the truly fitting waiting households in the top k, with and without protected characteristics
    in the score, and what a list drawn at random from the same pool would get."""
    lists = {
        flag: rank_candidates(features, flags, characteristics, top_k=top_k, include_protected=flag)
        for flag in (False, True)
    }
    rows = []
    for (cohort,), fit in cohort_fit.group_by(["cohort"], maintain_order=True):
        pool = fit.filter(pl.col("open_to_cohort"))
        fitting = set(pool.filter(pl.col("fits"))["household_id"].to_list())
        if not fitting:
            continue
        recall = {}
        for flag, frame in lists.items():
            listed = set(frame.filter(pl.col("cohort") == cohort)["household_id"].to_list())
            recall[flag] = len(listed & fitting) / len(fitting)
        rows.append(
            {
                "cohort": cohort,
                "pool": pool.height,
                "fitting": len(fitting),
                "recall_without_protected": recall[False],
                "recall_with_protected": recall[True],
                "recall_random": min(top_k, pool.height) / pool.height,
            }
        )
    return rows


def report(r: SimulationReport) -> str:
    lines = [
        f"Adopter insights checked by simulation: {r.seeds} agencies of {r.households} households "
        f"(held-out names), {r.seconds:.0f} s",
        "",
        "| cohort | characteristic | planted OR | median estimate | 95% CI coverage (goal 93–97%) | power |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for e in r.effects.iter_rows(named=True):
        mark = "" if e["coverage_goal_met"] else " (not met)"
        text = " (text only)" if e["text_only"] else ""
        lines.append(
            f"| {e['cohort']} | {e['characteristic']}{text} | {e['planted_odds_ratio']:.1f} | "
            f"{e['median_odds_ratio']:.2f} | {e['coverage']:.1%}{mark} | {e['power']:.1%} |"
        )
    fdr_mark = "met" if r.fdr <= FDR_GOAL else "not met"
    lines += [
        "",
        f"False-discovery rate among no-effect characteristics: {r.fdr:.1%} (goal ≤ 5%: {fdr_mark}); "
        f"{r.null_false_positive_rate:.2%} of no-effect tests called an effect.",
        f"Null text theme called an effect in {r.null_text_theme_found:.1%} of agencies.",
        "",
        "| theme read from the text | precision | recall |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {t['theme']} | {t['precision']:.3f} | {t['recall']:.3f} |" for t in r.theme_reading.iter_rows(named=True)
    ]
    lines += [
        "",
        f"| cohort | waiting & open (mean) | truly fitting | recall in top {r.top_k}: score without protected | with protected | random list | cost of leaving them out |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {c['cohort']} | {c['pool']:.0f} | {c['fitting_in_pool']:.1f} | {c['recall_without_protected']:.3f} | "
        f"{c['recall_with_protected']:.3f} | {c['recall_random']:.3f} | {c['cost_of_leaving_out']:+.3f} |"
        for c in r.recall.iter_rows(named=True)
    ]
    return "\n".join(lines)
