"""Span-level scores of entity mentions against the synthetic council's truth.

A predicted mention counts as correct when its source, exact character span and label all match a true
mention (the strict CoNLL-style measure). Used for the pattern finders here and, with the same function,
for the GLiNER model (issue 5).
"""

from __future__ import annotations

import polars as pl

KEYS = ["source_id", "start", "end", "label"]


def span_scores(predicted: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Per label and micro over all labels: true positives, predicted, true, precision, recall, F1."""
    pred = predicted.select(KEYS).unique()
    true = truth.select(KEYS).unique()
    tp = pred.join(true, on=KEYS, how="semi")
    counts = (
        true.group_by("label").len("true")
        .join(pred.group_by("label").len("predicted"), on="label", how="full", coalesce=True)
        .join(tp.group_by("label").len("tp"), on="label", how="full", coalesce=True)
        .fill_null(0)
    )  # fmt: skip
    micro = counts.select(pl.lit("micro").alias("label"), pl.col("true").sum(), pl.col("predicted").sum(),
                          pl.col("tp").sum())  # fmt: skip
    both = pl.concat([counts.sort("label"), micro], how="vertical_relaxed")
    return both.with_columns(
        (pl.col("tp") / pl.col("predicted")).fill_nan(0.0).alias("precision"),
        (pl.col("tp") / pl.col("true")).fill_nan(0.0).alias("recall"),
    ).with_columns(
        (2 * pl.col("precision") * pl.col("recall") / (pl.col("precision") + pl.col("recall")))
        .fill_nan(0.0)
        .alias("f1")
    )
