"""Descriptive groups of households: Gower distance over mixed data (categories, yes/no, numbers) and HDBSCAN,
with each group's stability measured by bootstrap (Hennig's clusterboot: the mean Jaccard similarity between
a group and its best match when the households are resampled and grouped again).

Description only: the groups say which kinds of households the agency has approved, not who will adopt whom.
A group below 0.6 stability is labelled as not to be read into (Hennig's rule of thumb; 0.75 and over: stable).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.cluster import HDBSCAN

CATEGORICAL = ("household_type", "region", "religion", "occupation_sector")
BINARY = ("is_minority_ethnic_household", "prior_fostering")
NUMERIC = ("oldest_adult_age", "birth_children", "years_fostering")
STABLE, SOME_PATTERN = 0.75, 0.6

CLUSTER_SCHEMA = {
    "cluster": pl.Int64,
    "households": pl.Int64,
    "stability": pl.Float64,
    "reading": pl.String,
    "description": pl.String,
    "adopted_share": pl.String,
}


def gower(frame: pl.DataFrame, themes: list[str]) -> np.ndarray:
    """Gower distance: the mean over variables of 0/1 mismatch (categories, yes/no) or |a-b|/range (numbers)."""
    n = frame.height
    total = np.zeros((n, n))
    count = 0
    for col in CATEGORICAL:
        v = frame[col].fill_null("").to_numpy()
        total += v[:, None] != v[None, :]
        count += 1
    for col in (*BINARY, *themes):
        v = frame[col].fill_null(False).to_numpy().astype(bool)
        total += v[:, None] != v[None, :]
        count += 1
    for col in NUMERIC:
        v = frame[col].cast(pl.Float64).fill_null(strategy="mean").to_numpy()
        span = v.max() - v.min() if n else 0
        if span > 0:
            total += np.abs(v[:, None] - v[None, :]) / span
        count += 1
    return total / max(count, 1)


def _groups(distance: np.ndarray, min_size: int) -> np.ndarray:
    if len(distance) <= min_size:
        return np.full(len(distance), -1)
    return HDBSCAN(metric="precomputed", min_cluster_size=min_size, min_samples=10, copy=True).fit_predict(distance)


def _describe(frame: pl.DataFrame, members: np.ndarray, themes: list[str], theme_labels: dict[str, str]) -> str:
    """The three ways the group differs most from all households, in words."""
    facts = []
    for col in CATEGORICAL:
        for value, share_all in frame[col].value_counts(normalize=True).iter_rows():
            share = float((frame[col].to_numpy()[members] == value).mean())
            facts.append((share - share_all, f"{share:.0%} {col.replace('_', ' ')} {value}"))
    for col in (*BINARY, *themes):
        v = frame[col].fill_null(False).to_numpy().astype(bool)
        name = theme_labels.get(col, col.replace("_", " ").replace("is ", ""))
        facts.append((float(v[members].mean() - v.mean()), f"{v[members].mean():.0%} {name}"))
    age = np.median(frame["oldest_adult_age"].to_numpy()[members])
    top = sorted(facts, key=lambda f: -abs(f[0]))[:3]
    return "; ".join(text for _, text in top) + f"; oldest adult {age:.0f} (median)"


def household_groups(
    features: pl.DataFrame,
    themes: pl.DataFrame,
    theme_labels: dict[str, str],
    outcomes: dict[str, str],
    *,
    bootstrap: int = 30,
    seed: int = 0,
) -> tuple[pl.DataFrame, np.ndarray]:
    """The groups with their stability and description, and each household's group (-1: none)."""
    frame = features.join(themes, on="household_id", how="left")
    names = [c for c in themes.columns if c != "household_id"]
    distance = gower(frame, names)
    min_size = max(10, frame.height // 10)  # a "kind" of household is at least a tenth of them
    labels = _groups(distance, min_size)
    rng = np.random.default_rng(seed)
    found = [k for k in sorted(set(labels.tolist())) if k >= 0]
    jaccard = {k: [] for k in found}
    for _ in range(bootstrap):
        sample = rng.choice(frame.height, size=frame.height, replace=True)
        boot = _groups(distance[np.ix_(sample, sample)], min_size)
        drawn = set(sample.tolist())
        boot_sets = [set(sample[boot == b].tolist()) for b in set(boot.tolist()) if b >= 0]
        for k in found:
            original = set(np.flatnonzero(labels == k).tolist()) & drawn
            if not original:
                continue
            best = max((len(original & b) / len(original | b) for b in boot_sets), default=0.0)
            jaccard[k].append(best)
    matched = frame["status"].to_numpy() == "Matched"
    rows = []
    for k in found:
        members = labels == k
        stability = float(np.mean(jaccard[k])) if jaccard[k] else float("nan")
        reading = (
            "stable"
            if stability >= STABLE
            else "some pattern"
            if stability >= SOME_PATTERN
            else "unstable: do not read into it"
        )
        adopted = []
        for cohort, column in outcomes.items():
            v = frame[column].fill_null(False).to_numpy().astype(bool)
            m = members & matched
            adopted.append(f"{cohort} {v[m].mean():.0%}" if m.any() else f"{cohort} -")
        rows.append(
            {
                "cluster": k,
                "households": int(members.sum()),
                "stability": stability,
                "reading": reading,
                "description": _describe(frame, members, names, theme_labels),
                "adopted_share": ", ".join(adopted),
            }
        )
    return pl.DataFrame(rows, schema=CLUSTER_SCHEMA), labels
