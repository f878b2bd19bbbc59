"""Text items, the unit the entity stage reads: one case note, one document page or one form answer, keyed by
``ITEM_KEY`` and hashed, and the two tables the mentions found in them go to.

Extraction writes the tables; resolution, the search, the app and the evaluation read them and the items. All
of them name both from here, so that none needs the model code to find a table.
"""

from __future__ import annotations

import hashlib

import polars as pl
import pyarrow as pa

from lake.storage.delta import ENTERPRISE, Lake

MENTIONS, SOURCES_DONE = "entity_mentions", "entity_sources"

MENTIONS_SCHEMA = pa.schema(
    [
        ("mention_id", pa.string()),
        ("source_type", pa.string()),
        ("source_id", pa.string()),
        ("page", pa.int32()),
        ("child_id", pa.string()),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("text", pa.string()),
        ("label", pa.string()),
        ("score", pa.float64()),
        ("method", pa.string()),
        ("model_id", pa.string()),
        ("model_version", pa.string()),
        ("text_hash", pa.string()),
        ("extracted_at", pa.timestamp("us", tz="UTC")),
    ]
)
SOURCES_SCHEMA = pa.schema(
    [
        ("source_type", pa.string()),
        ("source_id", pa.string()),
        ("page", pa.int32()),
        ("child_id", pa.string()),
        ("text_hash", pa.string()),
        ("model_version", pa.string()),
        ("mentions", pa.int32()),
        ("extracted_at", pa.timestamp("us", tz="UTC")),
    ]
)
ITEM_KEY = ["source_type", "source_id", "page"]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def text_items(lake: Lake, child_ids: list[str] | None = None) -> pl.DataFrame:
    """Every live free text: source_type, source_id, page (0 for texts without pages), child_id, text, hash.
    ``child_ids`` keeps only those children's texts (the app reads one child's at a time)."""
    frames = []
    notes = lake.scan(ENTERPRISE, "case_note")
    if notes is not None:
        frames.append(
            notes.filter(pl.col("_deleted_at").is_null()).select(
                pl.lit("case_note").alias("source_type"),
                pl.col("note_id").alias("source_id"),
                pl.lit(0, pl.Int32).alias("page"),
                "child_id",
                pl.col("note_text").alias("text"),
            )
        )
    forms = lake.scan(ENTERPRISE, "form_response")
    if forms is not None:
        frames.append(
            forms.filter(pl.col("_deleted_at").is_null()).select(
                pl.lit("form_answer").alias("source_type"),
                pl.concat_str("form_id", pl.lit(":"), "question_code").alias("source_id"),
                pl.lit(0, pl.Int32).alias("page"),
                "child_id",
                pl.col("answer_text").alias("text"),
            )
        )
    pages, docs = lake.scan(ENTERPRISE, "document_text"), lake.scan(ENTERPRISE, "document")
    if pages is not None and docs is not None:
        live = docs.filter(pl.col("_deleted_at").is_null()).select("document_id", "child_id")
        frames.append(
            pages.join(live, on="document_id").select(
                pl.lit("document_page").alias("source_type"),
                pl.col("document_id").alias("source_id"),
                pl.col("page").cast(pl.Int32),
                "child_id",
                "text",
            )
        )
    if not frames:
        return pl.DataFrame(
            schema={
                "source_type": pl.String,
                "source_id": pl.String,
                "page": pl.Int32,
                "child_id": pl.String,
                "text": pl.String,
                "text_hash": pl.String,
            }
        )
    if child_ids is not None:
        frames = [f.filter(pl.col("child_id").is_in(child_ids)) for f in frames]
    items = pl.concat([f.collect() for f in frames]).filter(pl.col("text").str.strip_chars().str.len_chars() > 0)
    return items.with_columns(pl.col("text").map_elements(text_hash, return_dtype=pl.String).alias("text_hash"))
