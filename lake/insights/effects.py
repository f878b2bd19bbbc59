"""Who adopts the children who wait longest: for each cohort, the association of each household characteristic
with adopting a child of that cohort, among the households that adopted.

One Firth-penalised logistic regression per cohort with every characteristic in it (adjusted odds ratios),
because the data are small and some cells nearly empty: Firth's penalty keeps estimates finite and reduces
their small-sample bias. Profile-likelihood 95% intervals and likelihood-ratio p-values (both better than Wald
at this size), Benjamini–Hochberg q-values across every characteristic × cohort, and a flag where a cell of
the 2×2 table is too small to say anything. Each model is fitted twice: without the households' stated
preferences (the association the agency asked about) and with them (stated preferences are nearly the
outcome, so what is left beside them is small — both are reported).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl
from firthmodels import FirthLogisticRegression
from scipy.special import expit
from statsmodels.stats.multitest import multipletests

from lake.insights.characteristics import Characteristic, household_matrix
from lake.insights.contract import COHORTS, MATCHED

MIN_CELL = 5  # fewer households than this in any cell of the 2×2 table: too few to say anything
FDR = 0.05
WITHOUT_PREFERENCES, WITH_PREFERENCES = "without stated preferences", "with stated preferences"

EFFECT_SCHEMA = {
    "model": pl.String,
    "cohort": pl.String,
    "characteristic": pl.String,
    "label": pl.String,
    "source": pl.String,
    "protected": pl.String,
    "households_with": pl.Int64,
    "adopted_with": pl.Int64,
    "households_without": pl.Int64,
    "adopted_without": pl.Int64,
    "odds_ratio": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "p_value": pl.Float64,
    "q_value": pl.Float64,
    "too_small": pl.Boolean,
    "finding": pl.String,
}


@dataclass
class FirthModel:
    """A fitted Firth logistic regression: coefficients with the intercept last, and its covariance."""

    model: FirthLogisticRegression
    beta: np.ndarray
    cov: np.ndarray
    converged: bool


def fit_firth(X: np.ndarray, y: np.ndarray) -> FirthModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-convergence is reported through ``converged``, not a warning
        model = FirthLogisticRegression(backend="numpy", max_iter=100).fit(X, y.astype(int))
    beta = np.append(model.coef_, model.intercept_)
    design = np.column_stack([X, np.ones(len(X))])
    p = expit(design @ beta)
    info = design.T @ (design * (p * (1 - p))[:, None])
    return FirthModel(model, beta, np.linalg.pinv(info), bool(model.converged_))


def varying_columns(X: np.ndarray) -> list[int]:
    """The columns some households have and some do not: a constant one says nothing and would make the model
    singular."""
    return [j for j in range(X.shape[1]) if 0 < X[:, j].sum() < len(X)]


def enough_to_model(X: np.ndarray, y: np.ndarray) -> bool:
    """A model is fitted only with more households than parameters and at least ``MIN_CELL`` households that
    adopted such a child and ``MIN_CELL`` that did not; below that every row says "too few to say"."""
    events = int(y.sum())
    return len(y) > X.shape[1] + 1 and min(events, len(y) - events) >= MIN_CELL


def _inference(fit: FirthModel, columns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Likelihood-ratio p-values and profile-likelihood 95% intervals (log odds) for ``columns``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit.model.lrt(columns)
        ci = fit.model.conf_int(method="pl", features=columns)
    return fit.model.lrt_pvalues_[columns], ci[columns] if len(ci) > len(columns) else ci


def _cells(x: np.ndarray, y: np.ndarray) -> tuple[int, int, int, int]:
    has = x > 0.5
    return int(has.sum()), int((has & y).sum()), int((~has).sum()), int((~has & y).sum())


def cohort_effects(
    features: pl.DataFrame, themes: pl.DataFrame, characteristics: list[Characteristic], *, with_preferences: bool
) -> pl.DataFrame:
    """The rows of every cohort for one model variant, before the q-values."""
    matched = features.filter(pl.col("status") == MATCHED)
    X_all = household_matrix(matched, themes, characteristics)
    rows = []
    for cohort in COHORTS:
        y = matched[cohort.outcome].fill_null(False).to_numpy().astype(bool)
        usable = varying_columns(X_all)
        X = X_all[:, usable]
        if with_preferences:
            X = np.column_stack([X, matched[cohort.preference].fill_null(False).cast(pl.Float64).to_numpy()])
        estimates: dict[int, tuple[float, float, float, float]] = {}
        if enough_to_model(X, y):
            fit = fit_firth(X, y)
            p_values, ci = _inference(fit, list(range(len(usable))))
            for k, j in enumerate(usable):
                estimates[j] = (fit.beta[k], ci[k][0], ci[k][1], p_values[k])
        for j, c in enumerate(characteristics):
            n_with, y_with, n_without, y_without = _cells(X_all[:, j], y)
            beta, low, high, p = estimates.get(j, (np.nan, np.nan, np.nan, np.nan))
            too_small = min(y_with, n_with - y_with, y_without, n_without - y_without) < MIN_CELL
            rows.append(
                {
                    "model": WITH_PREFERENCES if with_preferences else WITHOUT_PREFERENCES,
                    "cohort": cohort.name,
                    "characteristic": c.name,
                    "label": c.label,
                    "source": c.source,
                    "protected": c.protected,
                    "households_with": n_with,
                    "adopted_with": y_with,
                    "households_without": n_without,
                    "adopted_without": y_without,
                    "odds_ratio": float(np.exp(beta)),
                    "ci_low": float(np.exp(low)),
                    "ci_high": float(np.exp(high)),
                    "p_value": float(p),
                    "too_small": too_small or not np.isfinite(p),
                }
            )
    return pl.DataFrame(rows, schema={k: v for k, v in EFFECT_SCHEMA.items() if k not in ("q_value", "finding")})


CLEAR_FINDINGS = ("more likely", "less likely")


def could_be_chance(direction: str, compared: int) -> str:
    """The words for a difference whose interval excludes 1 but which the Benjamini–Hochberg step does not keep:
    named in words, because that step is what changes the call."""
    return f"{direction}, but could be chance among the {compared} things compared"


def calls_a_difference(finding: str | None) -> bool:
    """Whether the report calls a row a difference: its 95% interval excludes 1 with enough households, whether
    or not it survives the correction for many comparisons. The list's reasons use only these."""
    return bool(finding) and finding.startswith(CLEAR_FINDINGS)


def with_q_values(effects: pl.DataFrame) -> pl.DataFrame:
    """Benjamini–Hochberg q-values across every characteristic × cohort of a model variant, and the finding in
    words. Cells too small to say anything stay in the family (so leaving them out cannot flatter the rest).

    The finding follows the interval first, so the words never contradict the numbers beside them: "no clear
    difference" only where the 95% interval includes 1; an interval that excludes 1 is "more likely" or "less
    likely" when q < 0.05 too, else the same words saying it could be chance among the things compared."""
    parts = []
    for (_,), part in effects.group_by(["model"], maintain_order=True):
        p = part["p_value"].to_numpy()
        q = np.full(len(p), np.nan)
        finite = np.isfinite(p)
        if finite.any():
            q[finite] = multipletests(p[finite], alpha=FDR, method="fdr_bh")[1]
        compared = int(finite.sum())
        # NaN compares greater than any number in polars: a missing bound must say nothing, so it becomes null
        low, high = pl.col("ci_low").fill_nan(None), pl.col("ci_high").fill_nan(None)
        clear = pl.col("q_value").fill_nan(None) < FDR
        parts.append(
            part.with_columns(pl.Series("q_value", q)).with_columns(
                pl.when(pl.col("too_small"))
                .then(pl.lit("too few to say"))
                .when((low > 1) & clear)
                .then(pl.lit("more likely"))
                .when((high < 1) & clear)
                .then(pl.lit("less likely"))
                .when(low > 1)
                .then(pl.lit(could_be_chance("more likely", compared)))
                .when(high < 1)
                .then(pl.lit(could_be_chance("less likely", compared)))
                .otherwise(pl.lit("no clear difference"))
                .alias("finding")
            )
        )
    return pl.concat(parts).select(list(EFFECT_SCHEMA))


def association_table(
    features: pl.DataFrame,
    themes: pl.DataFrame,
    characteristics: list[Characteristic],
    with_preferences: tuple[bool, ...] = (False, True),
) -> pl.DataFrame:
    """Both model variants (or those asked for), with q-values computed within each."""
    return with_q_values(
        pl.concat(cohort_effects(features, themes, characteristics, with_preferences=w) for w in with_preferences)
    )
