"""Documents to text, measured against the synthetic council's truth: pages recovered exactly and the
character error rate per format (``caselake eval documents``, the documents benchmark, the tests)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from lake.documents.pipeline import TEXT
from lake.storage.delta import ENTERPRISE, Lake


def evaluate(lake: Lake, truth_dir: Path, read_only: bool = False) -> pl.DataFrame:
    """Per truth format: documents, pages compared, pages recovered exactly, character error rate.

    Text is compared with whitespace collapsed (line wrapping differs by renderer, not content). CER is
    edit distance over truth length, summed over pages. Documents the generator made faulty, and
    documents not in the manifest (row quarantined or deleted), are left out; ``read_only`` also leaves
    out documents not read yet.
    """
    from rapidfuzz.distance import Levenshtein

    truth_pages = pl.read_parquet(truth_dir / "pages.parquet")
    truth_docs = pl.read_parquet(truth_dir / "documents.parquet").filter(pl.col("fault").is_null())
    # Only documents in the manifest: a manifest row quarantined in staging (a planted defect) has no file to read.
    live = lake.read(ENTERPRISE, "document")
    if live is not None:
        truth_docs = truth_docs.join(
            live.filter(pl.col("_deleted_at").is_null()).select("document_id"), on="document_id", how="semi"
        )
    got = lake.read(ENTERPRISE, TEXT)
    if got is None:
        got = pl.DataFrame(schema={"document_id": pl.String, "page": pl.Int32, "text": pl.String, "method": pl.String})
    if read_only:  # a sample run (the benchmark reads some buckets): compare only the documents it read
        truth_docs = truth_docs.join(got.select("document_id").unique(), on="document_id", how="semi")
    truth = truth_pages.join(truth_docs.select("document_id"), on="document_id", how="semi").select(
        "document_id", "format", pl.col("page").cast(pl.Int32), pl.col("text").alias("truth")
    )
    pages = truth.join(got.select("document_id", "page", "text", "method"), on=["document_id", "page"], how="left")

    def norm(s: str | None) -> str:
        return " ".join((s or "").split())

    rows = [
        (f, d, norm(t), norm(x), m)
        for f, d, t, x, m in pages.select("format", "document_id", "truth", "text", "method").iter_rows()
    ]
    frame = pl.DataFrame(
        {
            "format": [r[0] for r in rows],
            "document_id": [r[1] for r in rows],
            "truth_chars": [len(r[2]) for r in rows],
            "edits": [Levenshtein.distance(r[2], r[3]) for r in rows],
            "exact": [r[2] == r[3] for r in rows],
            "has_text": [r[4] is not None for r in rows],
        },
        schema={
            "format": pl.String,
            "document_id": pl.String,
            "truth_chars": pl.Int64,
            "edits": pl.Int64,
            "exact": pl.Boolean,
            "has_text": pl.Boolean,
        },
    )
    return (
        frame.group_by("format")
        .agg(
            pl.col("document_id").n_unique().alias("documents"),
            pl.len().alias("pages"),
            pl.col("has_text").sum().alias("pages_with_text"),
            pl.col("exact").sum().alias("pages_exact"),
            (pl.col("edits").sum() / pl.col("truth_chars").sum()).alias("cer"),
        )
        .sort("format")
    )


def report(quality: pl.DataFrame) -> str:
    """The table per format, and the pages that have any text at all."""
    return f"{quality}\npages with text {quality['pages_with_text'].sum()}/{quality['pages'].sum()}"
