"""Text items, the unit the entity stage reads: one case note, one document page or one form answer, keyed by
``ITEM_KEY`` and hashed, and the two tables the mentions found in them go to.

Extraction writes the tables; resolution, the search, the app and the evaluation read them and the items. All
of them name both from here, so that none needs the model code to find a table.
"""

from __future__ import annotations

import hashlib

import polars as pl
import pyarrow as pa

from lake.storage.delta import ENTERPRISE, Lake, sql_literal

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
# The key as one column, "source_type|source_id|page" (a disclosure bundle's items and the truth's are keyed so).
ITEM_ID = pl.concat_str("source_type", "source_id", pl.col("page").cast(pl.String), separator="|").alias("item_id")

# Factor coding (issue 37): one row per label of a statement, and the log of items coded.
FACTOR_STATEMENTS, FACTOR_SOURCES = "factor_statements", "factor_sources"
FACTOR_STATEMENTS_SCHEMA = pa.schema(
    [
        ("statement_id", pa.string()),
        ("source_type", pa.string()),
        ("source_id", pa.string()),
        ("page", pa.int32()),
        ("child_id", pa.string()),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("statement", pa.string()),
        ("code", pa.string()),  # a CIN census factor code ("3B") or a strength ("S:recovery")
        ("kind", pa.string()),  # factor / strength
        ("status", pa.string()),  # current / historic / negated / hypothetical
        ("who", pa.string()),  # child / parent or carer / other household member, where the code says
        ("score", pa.float64()),
        ("model_version", pa.string()),
        ("text_hash", pa.string()),
        ("coded_at", pa.timestamp("us", tz="UTC")),
    ]
)
FACTOR_SOURCES_SCHEMA = pa.schema(
    [
        ("source_type", pa.string()),
        ("source_id", pa.string()),
        ("page", pa.int32()),
        ("child_id", pa.string()),
        ("text_hash", pa.string()),
        ("model_version", pa.string()),
        ("statements", pa.int32()),
        ("labels", pa.int32()),
        ("coded_at", pa.timestamp("us", tz="UTC")),
    ]
)


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


# ---- incremental by content: which items a reader has read, with which version ------------------------------
# A reader (the entity extraction, the factor coding) keeps a log table of the items it read, with their text
# hash and its model version, beside the tables it writes; these three functions are its whole bookkeeping.
def items_done(lake: Lake, log: str) -> pl.DataFrame:
    return lake.scan(ENTERPRISE, log).select(*ITEM_KEY, "text_hash", "model_version").collect()


def pending_items(lake: Lake, items: pl.DataFrame, model_version: str, log: str) -> pl.DataFrame:
    done = items_done(lake, log).filter(pl.col("model_version") == model_version)
    return items.join(done, on=[*ITEM_KEY, "text_hash"], how="anti")


PRUNE_BY_PREDICATE = 2_000  # stale items up to this many are deleted by key; more (a new model) rewrite the tables


def prune_stale(lake: Lake, items: pl.DataFrame, model_version: str, log: str, tables: tuple[str, ...]) -> int:
    """Remove the rows of ``tables`` (the reader's output and its ``log``) for items whose text changed, that
    were deleted at source, or that an older model read. Commits only when there is something to remove. A
    day's few changed items are deleted by their keys, which rewrites only the files holding them (the whole
    table was rewritten before: 2.2 MB for one changed document on a 20-child council, and growing with the
    council); a new model makes every item stale, and then one rewrite of each table is cheaper than a predicate
    listing them all."""
    current = items.select(*ITEM_KEY, "text_hash").with_columns(pl.lit(model_version).alias("model_version"))
    stale = items_done(lake, log).join(current, on=[*ITEM_KEY, "text_hash", "model_version"], how="anti")
    if stale.is_empty():
        return 0
    keys = stale.select(*ITEM_KEY, "text_hash").unique()
    removed = 0
    for name in tables:
        if keys.height <= PRUNE_BY_PREDICATE:
            removed += lake.delete(ENTERPRISE, name, _keys_predicate(keys))
            continue
        table = lake.read(ENTERPRISE, name)
        keep = table.join(keys, on=[*ITEM_KEY, "text_hash"], how="anti")
        removed += table.height - keep.height
        lake.write(ENTERPRISE, name, keep.to_arrow().cast(table.to_arrow().schema), keep_schema=True)
    return removed


def _keys_predicate(keys: pl.DataFrame) -> str:
    """A Delta predicate matching exactly these (source_type, source_id, page, text_hash) rows; ids come from
    source systems, so every string is quoted."""
    return " OR ".join(
        f"(source_type = {sql_literal(t)} AND source_id = {sql_literal(i)} AND page = {int(p)}"
        f" AND text_hash = {sql_literal(h)})"
        for t, i, p, h in keys.iter_rows()
    )


def audit_reader(
    lake: Lake, items: pl.DataFrame, log: str, table: str, text_column: str, model_version: str | None = None
) -> dict[str, int]:
    """What a reader's checks assert: the live items its ``log`` has not read (by ``model_version`` when given),
    its ``table``'s rows, and the rows whose ``text_column`` is not their source text at their span."""
    done = items_done(lake, log)
    if model_version is not None:
        done = done.filter(pl.col("model_version") == model_version)
    unread = items.join(done, on=[*ITEM_KEY, "text_hash"], how="anti").height
    rows = lake.scan(ENTERPRISE, table).select(*ITEM_KEY, "text_hash", "start", "end", text_column).collect()
    joined = rows.join(
        items.select(*ITEM_KEY, "text_hash", pl.col("text").alias("source_text")),
        on=[*ITEM_KEY, "text_hash"],
        how="left",
    )
    at_span = pl.col("source_text").str.slice(pl.col("start"), pl.col("end") - pl.col("start"))
    mismatched = joined.filter(pl.col("source_text").is_null() | (at_span != pl.col(text_column))).height
    return {"unread": unread, "rows": rows.height, "mismatched": mismatched}
