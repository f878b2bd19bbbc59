"""Span-level scores of entity mentions against the synthetic council's truth.

A predicted mention counts as correct when its source, exact character span and label all match a true
mention (the strict CoNLL-style measure). Used for the pattern finders here and, with the same function,
for the GLiNER model.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

KEYS = ["source_id", "start", "end", "label"]


def span_scores(predicted: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Per label and micro over all labels: true positives, predicted, true, precision, recall, F1."""
    pred = predicted.select(KEYS).unique()
    true = truth.select(KEYS).unique()
    tp = pred.join(true, on=KEYS, how="semi")
    counts = (
        true.group_by("label")
        .len("true")
        .join(pred.group_by("label").len("predicted"), on="label", how="full", coalesce=True)
        .join(tp.group_by("label").len("tp"), on="label", how="full", coalesce=True)
        .fill_null(0)
    )
    micro = counts.select(
        pl.lit("micro").alias("label"), pl.col("true").sum(), pl.col("predicted").sum(), pl.col("tp").sum()
    )
    both = pl.concat([counts.sort("label"), micro], how="vertical_relaxed")
    return both.with_columns(
        (pl.col("tp") / pl.col("predicted")).fill_nan(0.0).alias("precision"),
        (pl.col("tp") / pl.col("true")).fill_nan(0.0).alias("recall"),
    ).with_columns(
        (2 * pl.col("precision") * pl.col("recall") / (pl.col("precision") + pl.col("recall")))
        .fill_nan(0.0)
        .alias("f1")
    )


def pairwise_scores(predicted: pl.Series, truth: pl.Series) -> dict[str, float]:
    """Pairwise precision/recall/F1 of a clustering against the true clusters, and cluster purity.

    Items are aligned by position (one predicted and one true cluster id each). A pair of items is a
    predicted match when they share a predicted cluster and a true match when they share a true one; pairs
    are counted from cluster sizes (n choose 2), never enumerated. Purity: the share of items in the majority
    true cluster of their predicted cluster.
    """
    df = pl.DataFrame({"p": predicted, "t": truth})

    def pairs(sizes: pl.Series) -> int:
        return int((sizes * (sizes - 1) // 2).sum())

    tp = pairs(df.group_by("p", "t").len()["len"])
    pred = pairs(df.group_by("p").len()["len"])
    true = pairs(df.group_by("t").len()["len"])
    precision = tp / pred if pred else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    majority = df.group_by("p", "t").len().group_by("p").agg(pl.col("len").max())["len"].sum()
    return {
        "items": df.height,
        "predicted_clusters": df["p"].n_unique(),
        "true_clusters": df["t"].n_unique(),
        "pairs_tp": tp,
        "pairs_predicted": pred,
        "pairs_true": true,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "purity": majority / df.height if df.height else 1.0,
    }


def unmarked_regions(truth_dir: Path | str) -> pl.DataFrame:
    """The spans of the council's text that carry no entity truth: the hand-written factor statements the
    generator put into notes (corpus/factors marks no entity). source_type, source_id, start, end; empty for a
    council without them."""
    path = Path(truth_dir) / "factor_statements.parquet"
    columns = {"source_type": pl.String, "source_id": pl.String, "start": pl.Int64, "end": pl.Int64}
    if not path.exists():
        return pl.DataFrame(schema=columns)
    return pl.read_parquet(path).select(list(columns)).cast(columns)


def outside(mentions: pl.DataFrame, regions: pl.DataFrame, start: str = "start", end: str = "end") -> pl.DataFrame:
    """The ``mentions`` (with source_type, source_id and a span) that overlap none of ``regions``: a prediction
    inside a span without truth is neither right nor wrong, so it is not scored."""
    if regions.is_empty() or mentions.is_empty():
        return mentions
    inside = (
        mentions.with_row_index("_row")
        .join(regions.rename({"start": "_rs", "end": "_re"}), on=["source_type", "source_id"])
        .filter((pl.col(start) < pl.col("_re")) & (pl.col("_rs") < pl.col(end)))
        .select("_row")
        .unique()
    )
    return mentions.with_row_index("_row").join(inside, on="_row", how="anti").drop("_row")
