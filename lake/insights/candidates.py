"""The list the agency asked for: approved households not yet matched, open to a child of a waiting cohort,
ranked by the estimated chance that such a household adopts such a child — with its uncertainty, the reasons in
plain words (only characteristics the analysis calls a difference), and how often each household was listed before (so the same families are not pointed at again
and again without anyone seeing it).

The score never uses a protected characteristic: it is a Firth logistic regression on the other recorded
characteristics and the report themes, fitted on the households that adopted. Protected characteristics are
used only to audit the list against the pool it was drawn from. The list supports a family finder's judgement;
it decides nothing.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.special import expit
from scipy.stats import hypergeom

from lake.insights.characteristics import Characteristic, household_matrix
from lake.insights.contract import COHORTS, MATCHED, pool
from lake.insights.effects import (
    CLEAR_FINDINGS,
    WITHOUT_PREFERENCES,
    calls_a_difference,
    enough_to_model,
    fit_firth,
    varying_columns,
)

TOP_K = 20
Z95 = 1.959963984540054
# A share in the list this far from the pool's (ratio below 0.8 or above 1.25, the "four-fifths" rule of thumb)
# is flagged for a person to look at when drawing the list at random from the pool would rarely be that far off
# (hypergeometric, two-sided p < 0.05); a list of 20 is small, so most gaps are chance and are shown as such.
FAIRNESS_LOW, FAIRNESS_HIGH, CHANCE = 0.8, 1.25, 0.05

CANDIDATE_SCHEMA = {
    "cohort": pl.String,
    "rank": pl.Int64,
    "household_id": pl.String,
    "estimate": pl.Float64,
    "estimate_low": pl.Float64,
    "estimate_high": pl.Float64,
    "reasons": pl.String,
    "times_listed_before": pl.Int64,
}
FAIRNESS_SCHEMA = {
    "cohort": pl.String,
    "characteristic": pl.String,
    "protected": pl.String,
    "pool_households": pl.Int64,
    "pool_share": pl.Float64,
    "list_households": pl.Int64,
    "list_share": pl.Float64,
    "ratio": pl.Float64,
    "p_value": pl.Float64,
    "flag": pl.String,
}


NO_REASON = (
    "Nothing the analysis calls a difference for this cohort: the rank comes from weaker signs, so treat it as a "
    "weak prompt."
)


def _differences(effects: pl.DataFrame | None, cohort: str) -> dict[str, str]:
    """The characteristics the report calls a difference for ``cohort`` (main model), with the finding in words."""
    if effects is None:
        return {}
    rows = effects.filter((pl.col("model") == WITHOUT_PREFERENCES) & (pl.col("cohort") == cohort))
    return {r["characteristic"]: r["finding"] for r in rows.iter_rows(named=True) if calls_a_difference(r["finding"])}


def _reasons(
    x: np.ndarray, beta: np.ndarray, characteristics: list[Characteristic], differences: dict[str, str]
) -> str:
    """What this household shares with the adopters of the cohort, largest pull on its estimate first: only the
    characteristics the report calls a difference, and only where the score leans the same way, so the list
    never gives as a reason what the analysis beside it says it cannot tell."""
    up, down = [], []
    for b, c in sorted(((beta[j], c) for j, c in enumerate(characteristics) if x[j] > 0.5), key=lambda t: -abs(t[0])):
        finding = differences.get(c.name, "")
        words = c.label + ("" if finding in CLEAR_FINDINGS else " (could be chance)")
        if b > 0 and finding.startswith("more likely"):
            up.append(words)
        elif b < 0 and finding.startswith("less likely"):
            down.append(words)
    parts = []
    if up:
        parts.append("More common among these adopters: " + "; ".join(up) + ".")
    if down:
        parts.append("Less common among them: " + "; ".join(down) + ".")
    return " ".join(parts) or NO_REASON


def rank_candidates(
    features: pl.DataFrame,
    themes: pl.DataFrame,
    characteristics: list[Characteristic],
    *,
    history: pl.DataFrame | None = None,
    effects: pl.DataFrame | None = None,
    top_k: int = TOP_K,
    include_protected: bool = False,
) -> pl.DataFrame:
    """The top ``top_k`` waiting households open to each cohort. ``include_protected`` exists only so the
    evaluation can state what leaving protected characteristics out of the score costs; the product never
    sets it. ``effects`` is the association table the report shows: the reasons name only what it calls a
    difference (without it, none)."""
    used = [c for c in characteristics if include_protected or c.protected is None]
    matched = features.filter(pl.col("status") == MATCHED)
    X_train = household_matrix(matched, themes, used)
    keep = varying_columns(X_train)
    used = [used[j] for j in keep]
    X_train = X_train[:, keep]
    listed = (
        history.group_by("household_id", "cohort").len("times")
        if history is not None and history.height
        else pl.DataFrame(schema={"household_id": pl.String, "cohort": pl.String, "times": pl.UInt32})
    )
    rows = []
    for cohort in COHORTS:
        y = matched[cohort.outcome].fill_null(False).to_numpy().astype(bool)
        drawn_from = pool(features, cohort)
        if not drawn_from.height or not enough_to_model(X_train, y):
            continue
        fit = fit_firth(X_train, y)
        X = household_matrix(drawn_from, themes, used)
        ids = drawn_from["household_id"].to_list()
        design = np.column_stack([X, np.ones(len(X))])
        eta = design @ fit.beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", design, fit.cov, design))
        order = sorted(range(len(eta)), key=lambda i: (-eta[i], ids[i]))[:top_k]
        differences = _differences(effects, cohort.name)
        times = dict(listed.filter(pl.col("cohort") == cohort.name).select("household_id", "times").iter_rows())
        for rank, i in enumerate(order, start=1):
            hid = ids[i]
            rows.append(
                {
                    "cohort": cohort.name,
                    "rank": rank,
                    "household_id": hid,
                    "estimate": float(expit(eta[i])),
                    "estimate_low": float(expit(eta[i] - Z95 * se[i])),
                    "estimate_high": float(expit(eta[i] + Z95 * se[i])),
                    "reasons": _reasons(X[i], fit.beta, used, differences),
                    "times_listed_before": int(times.get(hid, 0)),
                }
            )
    return pl.DataFrame(rows, schema=CANDIDATE_SCHEMA)


def _as_far_by_chance(pool: int, pool_with: int, listed: int, listed_with: int) -> float:
    """Two-sided p-value: how often a list drawn at random from the pool has a count at least this unlikely."""
    dist = hypergeom(pool, pool_with, listed)
    support = np.arange(max(0, listed - (pool - pool_with)), min(listed, pool_with) + 1)
    probs = dist.pmf(support)
    return float(min(1.0, probs[probs <= dist.pmf(listed_with) * (1 + 1e-9)].sum()))


def fairness_audit(
    features: pl.DataFrame, candidates: pl.DataFrame, characteristics: list[Characteristic]
) -> pl.DataFrame:
    """For each cohort and protected characteristic: its share in the list against its share in the pool the
    list was drawn from (waiting households open to the cohort)."""
    protected = [c for c in characteristics if c.protected is not None]
    rows = []
    for cohort in COHORTS:
        drawn_from = pool(features, cohort)
        listed = drawn_from.filter(
            pl.col("household_id").is_in(candidates.filter(pl.col("cohort") == cohort.name)["household_id"].implode())
        )
        if not listed.height:
            continue
        for c in protected:
            in_pool, in_list = int(c.value(drawn_from).sum()), int(c.value(listed).sum())
            pool_share, list_share = in_pool / drawn_from.height, in_list / listed.height
            ratio = list_share / pool_share if pool_share else float("nan")
            p_value = _as_far_by_chance(drawn_from.height, in_pool, listed.height, in_list)
            flag = ""
            if pool_share and not FAIRNESS_LOW <= ratio <= FAIRNESS_HIGH:
                side = (
                    "fewer in the list than in the pool"
                    if ratio < FAIRNESS_LOW
                    else "more in the list than in the pool"
                )
                flag = side if p_value < CHANCE else f"{side}, within what chance gives"
            rows.append(
                {
                    "cohort": cohort.name,
                    "characteristic": c.label,
                    "protected": c.protected,
                    "pool_households": in_pool,
                    "pool_share": pool_share,
                    "list_households": in_list,
                    "list_share": list_share,
                    "ratio": ratio,
                    "p_value": p_value,
                    "flag": flag,
                }
            )
    return pl.DataFrame(rows, schema=FAIRNESS_SCHEMA)
