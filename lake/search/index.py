"""The search index: one LanceDB row per chunk of every live case note, document page and form answer.

Delta is the system of record; this table is derived from it and kept in step incrementally:

- every run computes the chunks the lake holds now (:func:`search_chunks`), each with a ``row_hash`` over its
  text and every column a filter or a hit shows;
- rows whose ``row_hash`` is already indexed are left alone, so an unchanged re-run embeds nothing and
  writes nothing;
- a changed row whose text is unchanged (a note's type corrected, say) keeps its vector: only text never
  embedded before (keyed by ``content_hash``) goes through the model;
- chunks of deleted or superseded sources are deleted from the index in the same run.

The columns a query filters on carry scalar indexes, the text a full-text index (with positions, for
phrases). A vector index is built only from ``vector_index_rows`` chunks: below that an exact scan is fast
(measured in benchmarks/bench_search.py).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from lake import metering
from lake.documents.pipeline import CHUNKS, chunk_page
from lake.embedding import DIMENSIONS, Embedder
from lake.progress import Progress, no_progress
from lake.storage.delta import ENTERPRISE, Lake, sql_literal

TABLE = "search_chunks"
SOURCE_TYPES = ("case_note", "document_page", "form_answer")  # as entity mentions name them

# The columns a hit carries, in order; ``vector`` is added when the chunk is embedded.
COLUMNS = {
    "chunk_id": pl.String,
    "child_id": pl.String,
    "source_type": pl.String,  # case_note | document_page | form_answer
    "source_id": pl.String,  # note id, document id, or form_id:question_code (as entity mentions name it)
    "record_id": pl.String,  # note id, document id or form id: what the service opens
    "page": pl.Int32,  # 1-based for document pages, 0 for notes and answers
    "char_start": pl.Int32,  # the chunk's span in its note, page or answer text
    "char_end": pl.Int32,
    "text": pl.String,
    "event_date": pl.Date,  # when it happened (notes and forms); null for documents
    "recorded_date": pl.Date,  # when it was recorded (notes) or the document's date; null for forms
    "author_id": pl.String,  # the worker who wrote it
    "author": pl.String,
    "item_type": pl.String,  # note type, document type or form type
    "title": pl.String,  # document title, form question, or the note type
    "content_hash": pl.String,  # of the chunk text: what an embedding is keyed by
    "row_hash": pl.String,  # of every column above: what makes a re-run a no-op
}
FILTER_INDEXES = {  # column -> index kind; Bitmap for few distinct values, BTree for many
    "child_id": "btree",
    "source_type": "bitmap",
    "item_type": "bitmap",
    "author_id": "btree",
    "event_date": "btree",
    "recorded_date": "btree",
    "record_id": "btree",
}


_ARROW = {pl.String: pa.string(), pl.Int32: pa.int32(), pl.Date: pa.date32()}  # plain utf8: BTree refuses large_utf8


def schema() -> pa.Schema:
    fields = [pa.field(name, _ARROW[dtype]) for name, dtype in COLUMNS.items()]
    return pa.schema([*fields, pa.field("vector", pa.list_(pa.float32(), DIMENSIONS))])


def _hash(*parts: object) -> str:
    return hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()[:32]


def _live(lake: Lake, name: str) -> pl.LazyFrame | None:
    table = lake.scan(ENTERPRISE, name)
    return None if table is None else table.filter(pl.col("_deleted_at").is_null())


def _authors(lake: Lake) -> pl.LazyFrame:
    workers = lake.scan(ENTERPRISE, "worker")
    if workers is None:
        return pl.LazyFrame(schema={"author_id": pl.String, "author": pl.String})
    return workers.select(
        pl.col("worker_id").alias("author_id"),
        pl.concat_str("first_name", pl.lit(" "), "surname").alias("author"),
    ).unique("author_id")


def _chunked(items: pl.DataFrame) -> pl.DataFrame:
    """Split each item's ``text`` into chunks (``chunk_page``'s spans, as documents are chunked)."""
    rows = []
    for item in items.iter_rows(named=True):
        for start, end in chunk_page(item["text"]):
            rows.append(
                {**item, "char_start": start, "char_end": end, "text": item["text"][start:end], "chunk_id": None}
            )
    return pl.DataFrame(
        rows, schema={**items.schema, "char_start": pl.Int32, "char_end": pl.Int32, "chunk_id": pl.String}
    )


def search_chunks(lake: Lake) -> pl.DataFrame:
    """Every chunk the lake holds now, with the columns of :data:`COLUMNS` (no vectors)."""
    frames: list[pl.DataFrame] = []
    notes = _live(lake, "case_note")
    if notes is not None:
        items = notes.select(
            "child_id",
            pl.lit("case_note").alias("source_type"),
            pl.col("note_id").alias("source_id"),
            pl.col("note_id").alias("record_id"),
            pl.lit(0, pl.Int32).alias("page"),
            pl.col("note_text").alias("text"),
            pl.col("event_date").cast(pl.Date),
            pl.col("recorded_at").dt.date().alias("recorded_date"),
            pl.col("worker_id").alias("author_id"),
            pl.col("note_type").alias("item_type"),
            pl.col("note_type").alias("title"),
        ).collect()
        frames.append(_chunked(items))
    forms = _live(lake, "form_response")
    if forms is not None:
        items = forms.select(
            "child_id",
            pl.lit("form_answer").alias("source_type"),
            pl.concat_str("form_id", pl.lit(":"), "question_code").alias("source_id"),
            pl.col("form_id").alias("record_id"),
            pl.lit(0, pl.Int32).alias("page"),
            pl.col("answer_text").alias("text"),
            pl.col("form_date").cast(pl.Date).alias("event_date"),
            pl.lit(None, pl.Date).alias("recorded_date"),
            pl.col("worker_id").alias("author_id"),
            pl.col("form_type").alias("item_type"),
            pl.col("question").alias("title"),
        ).collect()
        frames.append(_chunked(items))
    docs, chunks = _live(lake, "document"), lake.scan(ENTERPRISE, CHUNKS)
    if docs is not None and chunks is not None:
        # document_chunks holds only the current content of each document (superseded text is pruned there)
        frames.append(
            chunks.join(docs, on="document_id")
            .select(
                "chunk_id",
                "child_id",
                pl.lit("document_page").alias("source_type"),
                pl.col("document_id").alias("source_id"),
                pl.col("document_id").alias("record_id"),
                pl.col("page").cast(pl.Int32),
                "char_start",
                "char_end",
                "text",
                pl.lit(None, pl.Date).alias("event_date"),
                pl.col("created_date").cast(pl.Date).alias("recorded_date"),
                pl.col("worker_id").alias("author_id"),
                pl.col("document_type").alias("item_type"),
                "title",
            )
            .collect()
        )
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema=COLUMNS)
    authors = _authors(lake).collect()
    data = pl.concat(frames, how="diagonal").filter(pl.col("text").str.strip_chars().str.len_chars() > 0)
    data = data.join(authors, on="author_id", how="left")
    data = data.with_columns(
        pl.col("text").map_elements(lambda t: _hash(t), return_dtype=pl.String).alias("content_hash"),
    )
    data = data.with_columns(
        pl.when(pl.col("chunk_id").is_null())
        .then(
            pl.struct("source_type", "source_id", "page", "char_start", "content_hash").map_elements(
                lambda r: _hash(r["source_type"], r["source_id"], r["page"], r["char_start"], r["content_hash"])[:20],
                return_dtype=pl.String,
            )
        )
        .otherwise(pl.col("chunk_id"))
        .alias("chunk_id")
    )
    data = data.select([pl.col(c).cast(t) for c, t in COLUMNS.items() if c != "row_hash"])
    row_hash = pl.concat_str([pl.col(c).cast(pl.String).fill_null("\x00") for c in data.columns], separator="\x1f")
    data = data.with_columns(row_hash.map_elements(lambda s: _hash(s), return_dtype=pl.String).alias("row_hash"))
    return data.unique("chunk_id", keep="first").sort("chunk_id")


# ---- the LanceDB table ----------------------------------------------------------------------------------
def connect(uri: str, storage_options: dict[str, str] | None = None, refresh_s: float | None = None):
    """``refresh_s``: how stale a long-lived reader may be before it looks for a newer table version (the
    app and the service); None for a writer, which reads the latest version when it opens the table."""
    import datetime as dt

    import lancedb

    interval = dt.timedelta(seconds=refresh_s) if refresh_s is not None else None
    return lancedb.connect(uri, storage_options=storage_options or None, read_consistency_interval=interval)


def open_table(uri: str, storage_options: dict[str, str] | None = None, refresh_s: float | None = None):
    """The index table, or None before the first build."""
    db = connect(uri, storage_options, refresh_s)
    if TABLE not in db.list_tables().tables:
        return None
    return db.open_table(TABLE)


@dataclass
class IndexRun:
    chunks: int = 0  # in the index after the run
    embedded: int = 0  # chunks whose text went through the model
    reused_vectors: int = 0  # changed rows whose text was already embedded
    upserted: int = 0
    deleted: int = 0
    embed_seconds: float = 0.0
    seconds: float = 0.0
    vector_index: bool = False
    version: int | None = None

    @property
    def wrote(self) -> bool:
        return bool(self.upserted or self.deleted)

    def metadata(self) -> dict:
        return {
            "chunks": self.chunks,
            "chunks_embedded": self.embedded,
            "vectors_reused": self.reused_vectors,
            "rows_upserted": self.upserted,
            "rows_deleted": self.deleted,
            "embed_seconds": round(self.embed_seconds, 2),
            "chunks_per_second": round(self.embedded / self.embed_seconds, 1) if self.embed_seconds else 0.0,
            "seconds": round(self.seconds, 2),
            "vector_index": self.vector_index,
            "lancedb_version": self.version,
        }


def _data_bytes(table) -> int:
    """The bytes of the table's live data (LanceDB's own statistics); what a write added is the growth, which
    undercounts a write that replaced rows. Measured only when a meter is open."""
    return int(table.stats()["total_bytes"]) if table is not None and metering.metering() else 0


def sql_in(column: str, values) -> str:
    """``column IN ('a', 'b', ...)``, in the order given, each value quoted. Callers validate values that came
    from a person (:mod:`lake.search.query`); ids this package made are quoted defensively all the same."""
    return f"{column} IN ({', '.join(sql_literal(v) for v in values)})"


def _existing(table) -> pl.DataFrame:
    if table is None:
        return pl.DataFrame(schema={"chunk_id": pl.String, "row_hash": pl.String, "content_hash": pl.String})
    return pl.from_arrow(table.to_arrow().select(["chunk_id", "row_hash", "content_hash"]))


def _vectors_for(table, content_hashes: list[str]) -> dict[str, list[float]]:
    """Vectors already in the index for these texts (one per hash)."""
    found: dict[str, list[float]] = {}
    for i in range(0, len(content_hashes), 500):
        batch = content_hashes[i : i + 500]
        rows = (
            table.search()
            .where(sql_in("content_hash", batch))
            .select(["content_hash", "vector"])
            .limit(len(batch) * 50)
            .to_arrow()
        )
        for h, v in zip(rows["content_hash"].to_pylist(), rows["vector"].to_pylist(), strict=True):
            found.setdefault(h, v)
    return found


def _create_indexes(table) -> None:
    from lancedb.index import FTS, Bitmap, BTree

    table.create_index("text", config=FTS(with_position=True), replace=True)
    for column, kind in FILTER_INDEXES.items():
        table.create_index(column, config=Bitmap() if kind == "bitmap" else BTree(), replace=True)


def build_index(
    lake: Lake,
    uri: str,
    embedder: Embedder,
    *,
    storage_options: dict[str, str] | None = None,
    vector_index_rows: int = 1_000_000,
    progress: Progress = no_progress,
    batch: int | None = None,
    wanted: pl.DataFrame | None = None,
) -> IndexRun:
    """Bring the LanceDB index in step with the lake (see the module docstring). Returns what it did.
    ``wanted``: :func:`search_chunks` of the lake when the caller has it already."""
    started = time.perf_counter()
    run = IndexRun()
    wanted = search_chunks(lake) if wanted is None else wanted
    db = connect(uri, storage_options)
    table = db.open_table(TABLE) if TABLE in db.list_tables().tables else None
    have = _existing(table)
    bytes_before = _data_bytes(table)
    todo = wanted.join(have.select("chunk_id", "row_hash"), on=["chunk_id", "row_hash"], how="anti")
    gone = have.join(wanted.select("chunk_id"), on="chunk_id", how="anti")["chunk_id"].to_list()
    known = _vectors_for(table, todo["content_hash"].unique().to_list()) if table is not None and todo.height else {}

    new_texts = todo.filter(~pl.col("content_hash").is_in(list(known))).unique("content_hash", keep="first")
    total = new_texts.height
    batch = batch or embedder.batch  # on Ray, enough per call to keep every actor busy
    progress("embed chunks", 0, total)
    t0 = time.perf_counter()
    vectors = dict(known)
    for i in range(0, total, batch):
        part = new_texts.slice(i, batch)
        for h, v in zip(part["content_hash"], embedder.encode(part["text"].to_list()), strict=True):
            vectors[h] = v
        progress("embed chunks", min(i + batch, total), total)
    run.embed_seconds = time.perf_counter() - t0
    run.embedded = total
    metering.record_model_seconds("embedding", run.embed_seconds)
    metering.record_items("chunks", total)
    run.reused_vectors = todo.filter(pl.col("content_hash").is_in(list(known))).height

    if todo.height:
        data = todo.to_arrow().append_column(
            "vector",
            pa.array([vectors[h] for h in todo["content_hash"]], type=pa.list_(pa.float32(), DIMENSIONS)),
        )
        data = data.cast(schema())
        if table is None:
            table = db.create_table(TABLE, data=data, schema=schema())
        else:
            table.merge_insert("chunk_id").when_matched_update_all().when_not_matched_insert_all().execute(data)
        run.upserted = todo.height
    if gone and table is not None:
        for i in range(0, len(gone), 1000):
            table.delete(sql_in("chunk_id", gone[i : i + 1000]))
        run.deleted = len(gone)

    if table is not None:
        indexed = {ix.columns[0] for ix in table.list_indices()}
        rows = table.count_rows()
        if rows and ("text" not in indexed or not set(FILTER_INDEXES) <= indexed):
            _create_indexes(table)  # first build: FTS can't be built on an empty table
        elif run.wrote:
            table.optimize()  # fold the new rows into the indexes, or they are searched by a slow scan
        if rows >= vector_index_rows and "vector" not in indexed:
            table.create_index(metric="cosine", vector_column_name="vector", index_type="IVF_PQ")
        run.vector_index = rows >= vector_index_rows or "vector" in indexed
        run.chunks = rows
        run.version = table.version
        if run.wrote:
            metering.record_write(
                metering.Write(
                    "lancedb",
                    f"lancedb/{TABLE}",  # as its asset is keyed, so the write counts as the asset's own
                    table.version,
                    "merge",
                    run.upserted,
                    max(0, _data_bytes(table) - bytes_before),
                )
            )
    run.seconds = time.perf_counter() - started
    return run


def compare_with_lake(wanted: pl.DataFrame, uri: str, storage_options: dict[str, str] | None = None) -> dict[str, int]:
    """How the index differs from the chunks the lake holds (``wanted``, :func:`search_chunks`): all zero when
    it holds exactly them, each row current."""
    wanted = wanted.select("chunk_id", "row_hash")
    table = open_table(uri, storage_options)
    have = pl.from_arrow(table.to_arrow().select(["chunk_id", "row_hash"])) if table is not None else wanted.clear()
    return {
        "chunks_missing": wanted.join(have, on="chunk_id", how="anti").height,
        "chunks_not_in_lake": have.join(wanted, on="chunk_id", how="anti").height,
        "chunks_stale": have.join(wanted, on="chunk_id").filter(pl.col("row_hash") != pl.col("row_hash_right")).height,
    }
