"""Every document in the enterprise manifest as text, page by page, in Delta; plain functions.

- ``manifest``: each document of ``enterprise/document`` with the file it points at and that file's
  SHA-256 from ``landing/files`` (the latest landed copy of that path for the document's source).
- ``pending``: manifest documents whose (document id, content hash) has no row yet in
  ``document_text`` or ``document_errors``: incremental by content hash, so a document is read once
  and a changed file again.
- ``ExtractionPool``: worker processes that keep docling and EasyOCR loaded, one file at a time
  each, under a per-file timeout; a worker that hangs or dies is killed and replaced, and its file
  lands in ``document_errors`` (``timeout`` / ``worker_crashed``). Legacy ``.doc`` files are converted
  to DOCX by LibreOffice in batches first (one soffice start per batch instead of per file).
- ``extract_documents``: the run: pending files through the pool, pages, errors and search chunks
  appended to Delta every ``commit_every`` documents (a killed run keeps what it committed and
  the next run does the rest), then rows of superseded or deleted documents pruned.

Documents are split into ``buckets`` by a stable hash of their id: the Dagster asset is partitioned
by bucket, so a backfill of a large file store runs buckets in parallel under a concurrency pool.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing as mp
import os
import queue
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa

from lake import metering
from lake.contracts.sources import SOURCES
from lake.documents import formats, libreoffice
from lake.documents.formats import DocumentError, ExtractionSettings, FileText
from lake.progress import Progress, no_progress
from lake.storage.delta import ENTERPRISE, LANDING, Lake, ensure_table, sql_literal

TEXT, ERRORS, CHUNKS = "document_text", "document_errors", "document_chunks"
# The ways of reading a page that run a model, and the model kind their time is metered as (a text layer and
# docling's parsing of Word, HTML and the like run none).
MODEL_METHODS = {formats.METHOD_OCR: "ocr"}
DEFAULT_BUCKETS = 4

TEXT_SCHEMA = pa.schema(
    [
        ("document_id", pa.string()),
        ("content_hash", pa.string()),
        ("bucket", pa.int32()),
        ("page", pa.int32()),
        ("text", pa.string()),
        ("method", pa.string()),
        ("ocr_confidence", pa.float64()),
        ("reading", pa.string()),  # read | flagged | unreadable (lake.documents.ocr); null before OCR flags existed
        ("ocr_flags", pa.string()),  # JSON: the page's handwritten and unclear lines, boxes as page fractions
        ("ocr_rotation", pa.int32()),
        ("char_count", pa.int32()),
        ("detected_format", pa.string()),
        ("tool", pa.string()),
        ("tool_versions", pa.string()),
        ("file_seconds", pa.float64()),
        ("processed_at", pa.timestamp("us", tz="UTC")),
    ]
)
ERRORS_SCHEMA = pa.schema(
    [
        ("document_id", pa.string()),
        ("content_hash", pa.string()),
        ("bucket", pa.int32()),
        ("file_name", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("tool_versions", pa.string()),
        ("processed_at", pa.timestamp("us", tz="UTC")),
    ]
)
CHUNKS_SCHEMA = pa.schema(
    [
        ("chunk_id", pa.string()),
        ("document_id", pa.string()),
        ("content_hash", pa.string()),
        ("bucket", pa.int32()),
        ("page", pa.int32()),
        ("char_start", pa.int32()),
        ("char_end", pa.int32()),
        ("text", pa.string()),
        ("processed_at", pa.timestamp("us", tz="UTC")),
    ]
)
SCHEMAS = {TEXT: TEXT_SCHEMA, ERRORS: ERRORS_SCHEMA, CHUNKS: CHUNKS_SCHEMA}


def bucket_of(document_id: str, buckets: int) -> int:
    return zlib.crc32(document_id.encode()) % buckets


# ---- what to read -------------------------------------------------------------------------------------
def manifest(
    lake: Lake, landing: Path, buckets: int = DEFAULT_BUCKETS, document_ids: list[str] | None = None
) -> pl.DataFrame:
    """Live manifest documents with their file (absolute path), content hash and bucket; only
    ``document_ids`` when given (the query service opening one document).

    A document whose file was never landed gets an empty hash and a null path (it lands in
    ``document_errors`` as ``missing_file`` and is read when the file arrives).
    """
    docs = lake.read(ENTERPRISE, "document", filters=[("document_id", "in", document_ids)] if document_ids else None)
    files = lake.read(LANDING, "files")
    cols = {
        "document_id": pl.String,
        "child_id": pl.String,
        "file_name": pl.String,
        "path": pl.String,
        "content_hash": pl.String,
        "bytes": pl.Int64,
        "bucket": pl.Int32,
    }
    if docs is None or docs.is_empty():
        return pl.DataFrame(schema=cols)
    docs = docs.filter(pl.col("_deleted_at").is_null()).select(
        "document_id", "child_id", "file_name", "_source", pl.col("_extract_id").str.slice(-10).alias("doc_date")
    )
    if files is None:
        files = pl.DataFrame(
            schema={
                "extract_id": pl.String,
                "path": pl.String,
                "sha256": pl.String,
                "bytes": pl.Int64,
                "present": pl.Boolean,
            }
        )
    landed = (
        files.filter(pl.col("present") & pl.col("sha256").is_not_null())
        .with_columns(
            pl.col("extract_id").str.head(-11).alias("_source"), pl.col("extract_id").str.slice(-10).alias("file_date")
        )
        .select("_source", "file_date", pl.col("path").alias("file_name"), "sha256", "bytes")
    )
    # The copy of the file in the document's own extract, or else the latest landed before it.
    joined = (
        docs.join(landed, on=["_source", "file_name"], how="left")
        .filter(pl.col("file_date").is_null() | (pl.col("file_date") <= pl.col("doc_date")))
        .sort("file_date", nulls_last=False)
        .group_by("document_id", maintain_order=True)
        .last()
    )
    joined = docs.select("document_id", "child_id", "file_name", "_source").join(
        joined.select("document_id", "file_date", "sha256", "bytes"), on="document_id", how="left"
    )  # a document with no landed file keeps its own columns (it becomes a missing_file error)
    folder = {name: system.source for name, system in SOURCES.items()}
    return joined.select(
        "document_id",
        "child_id",
        "file_name",
        pl.when(pl.col("sha256").is_not_null())
        .then(
            pl.lit(str(landing))
            + "/"
            + pl.col("_source").replace_strict(folder, default=pl.col("_source"))
            + "/"
            + pl.col("file_date")
            + "/"
            + pl.col("file_name")
        )
        .alias("path"),
        pl.col("sha256").fill_null("").alias("content_hash"),
        "bytes",
        pl.col("document_id").map_elements(lambda d: bucket_of(d, buckets), return_dtype=pl.Int32).alias("bucket"),
    ).cast(cols)


def _read_keys(lake: Lake, name: str) -> pl.DataFrame:
    """The distinct (document_id, content_hash) pairs of one of the document tables (empty if it does not exist)."""
    scan = lake.scan(ENTERPRISE, name)
    if scan is None:
        return pl.DataFrame(schema={"document_id": pl.String, "content_hash": pl.String})
    return scan.select("document_id", "content_hash").unique().collect()


def processed_keys(lake: Lake) -> pl.DataFrame:
    """(document_id, content_hash) already read, with text or with an error."""
    return pl.concat([_read_keys(lake, TEXT), _read_keys(lake, ERRORS)]).unique()


def pending(lake: Lake, docs: pl.DataFrame) -> pl.DataFrame:
    return docs.join(processed_keys(lake), on=["document_id", "content_hash"], how="anti").sort("document_id")


# ---- chunks for search -----------------------------------------------------------------------------
def chunk_page(text: str, size: int = 1000, overlap: int = 150) -> list[tuple[int, int]]:
    """Character spans ``[start, end)`` of a page's chunks: about ``size`` characters, ending at whitespace,
    overlapping by about ``overlap`` so a phrase cut by one chunk is whole in the next."""
    spans, start, n = [], 0, len(text)
    while start < n:
        end = min(n, start + size)
        if end < n:
            cut = text.rfind(" ", start + size // 2, end)
            cut = max(cut, text.rfind("\n", start + size // 2, end))
            end = cut if cut > start else end
        spans.append((start, end))
        if end >= n:
            break
        nxt = end - overlap
        space = text.find(" ", nxt, end)
        start = space + 1 if space != -1 else max(nxt, start + 1)
    return spans


def chunk_id(document_id: str, content_hash: str, page: int, start: int) -> str:
    """Stable: the same file always gives the same chunk ids."""
    return hashlib.sha1(f"{document_id}:{content_hash}:{page}:{start}".encode()).hexdigest()[:20]


# ---- the worker pool ----------------------------------------------------------------------------------
@dataclass
class Job:
    document_id: str
    path: Path | None
    content_hash: str = ""
    bucket: int = 0
    file_name: str = ""
    converted_docx: Path | None = None


@dataclass
class Outcome:
    job: Job
    text: FileText | None = None
    error: DocumentError | None = None


def _worker_main(conn, settings: ExtractionSettings, work_dir: str) -> None:
    """A worker process: load the models once, then read files sent through ``conn`` until told to stop."""
    import warnings

    # torch's deprecation and pin_memory notices, once per worker and page, drown the run's own output.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"torch(\.|$)")
    extractor = formats.TextExtractor(settings, Path(work_dir))
    extractor.warm_up()
    conn.send(("ready", None))
    while True:
        msg = conn.recv()
        if msg is None:
            # Skip interpreter teardown: duckdb's bindings (imported by docling) print reference-leak
            # reports at exit that would interleave with the parent's output. Nothing is left to flush.
            conn.close()
            os._exit(0)
        path, converted = msg
        conn.send(read_one(extractor, Path(path), Path(converted) if converted else None))


def read_one(extractor: formats.TextExtractor, path: Path, converted: Path | None) -> tuple[str, object]:
    """One file in a worker (a local process or a Ray actor): ("ok", the FileText as a dict) or ("error",
    (reason, detail))."""
    try:
        return "ok", extractor.extract(path, converted).to_dict()
    except DocumentError as exc:
        return "error", (exc.reason, exc.detail)
    except Exception as exc:  # an unforeseen parser failure is the file's fault, not the run's
        return "error", (formats.CORRUPT, f"{type(exc).__name__}: {exc}"[:500])


class _Worker:
    STARTUP_TIMEOUT_S = 600.0

    def __init__(self, ctx, settings: ExtractionSettings, work_dir: Path):
        self.ctx, self.settings, self.work_dir = ctx, settings, work_dir
        self.proc = None
        self.conn = None

    def _start(self) -> None:
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker_main, args=(child, self.settings, str(self.work_dir)), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent
        if not parent.poll(self.STARTUP_TIMEOUT_S):
            self.kill()
            raise RuntimeError("a text-extraction worker did not start (docling/EasyOCR failed to load)")
        try:
            parent.recv()  # "ready"
        except EOFError as exc:
            code = self.proc.exitcode
            self.kill()
            raise RuntimeError(f"a text-extraction worker exited while starting (exit {code})") from exc

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join()
        self.proc = self.conn = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            try:
                self.conn.send(None)
                self.proc.join(10)
            except (BrokenPipeError, OSError):
                pass
        self.kill()

    def run(self, job: Job) -> Outcome:
        if job.path is None:
            return Outcome(job, error=DocumentError(formats.MISSING_FILE, f"{job.file_name} was never landed"))
        if self.proc is None or not self.proc.is_alive():
            self._start()
        try:
            self.conn.send((str(job.path), str(job.converted_docx) if job.converted_docx else None))
            if not self.conn.poll(self.settings.timeout_s):
                self.kill()
                return Outcome(
                    job,
                    error=DocumentError(
                        formats.TIMEOUT, f"no result within {self.settings.timeout_s:g} s; the worker was stopped"
                    ),
                )
            status, payload = self.conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError) as exc:
            code = self.proc.exitcode if self.proc else None
            self.kill()
            return Outcome(job, error=DocumentError(formats.WORKER_CRASHED, f"the worker died (exit {code}): {exc}"))
        if status == "ok":
            return Outcome(job, text=FileText.from_dict(payload))
        return Outcome(job, error=DocumentError(*payload))


class ExtractionPool:
    """``workers`` extraction processes fed from one queue; results come back as they finish."""

    def __init__(self, settings: ExtractionSettings | None = None, workers: int = 2):
        self.settings = settings or ExtractionSettings()
        self.workers = max(1, workers)
        # spawn, not fork: torch and docling hold threads that a forked child would inherit half-dead.
        self.ctx = mp.get_context("spawn")

    def map(self, jobs: list[Job]) -> Iterator[Outcome]:
        if not jobs:
            return
        with tempfile.TemporaryDirectory(prefix="caselake-text-") as tmp:
            self._convert_legacy_doc(jobs, Path(tmp) / "converted")
            todo: queue.Queue[Job | None] = queue.Queue()
            for job in jobs:
                todo.put(job)
            done: queue.Queue[Outcome | BaseException] = queue.Queue()
            n = min(self.workers, len(jobs))
            threads = [
                threading.Thread(target=self._drive, args=(Path(tmp) / f"w{i}", todo, done), daemon=True)
                for i in range(n)
            ]
            for _ in threads:
                todo.put(None)
            for t in threads:
                t.start()
            for _ in jobs:
                item = done.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
            for t in threads:
                t.join()

    def _drive(self, work_dir: Path, todo: queue.Queue, done: queue.Queue) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        worker = _Worker(self.ctx, self.settings, work_dir)
        try:
            while (job := todo.get()) is not None:
                done.put(worker.run(job))
        except BaseException as exc:  # a worker that cannot start at all fails the run, loudly
            done.put(exc)
        finally:
            worker.stop()

    def _convert_legacy_doc(self, jobs: list[Job], out_dir: Path) -> None:
        """Batch-convert the ``.doc`` files to DOCX (one soffice start per batch). A file the batch
        misses is converted alone in its worker, under the per-file timeout, which then names the error."""
        legacy = [j for j in jobs if is_legacy_doc(j.path)]
        if not legacy:
            return
        try:
            done = libreoffice.convert(
                [j.path for j in legacy], out_dir, "docx", workers=self.workers, chunk=100, attempts=1
            )
        except libreoffice.LibreOfficeMissing:
            return  # each .doc then fails in its worker with the reason
        for job in legacy:
            job.converted_docx = done.get(job.path)


def is_legacy_doc(path: Path | None) -> bool:
    """A legacy Word (OLE compound) file, by its first bytes."""
    if path is None or not path.is_file():
        return False
    with path.open("rb") as f:
        return f.read(8) == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


# ---- the run ------------------------------------------------------------------------------------------
@dataclass
class DocumentRun:
    manifest_documents: int = 0
    pending_documents: int = 0
    documents_with_text: int = 0
    documents_with_error: int = 0
    pages: dict[str, int] = field(default_factory=dict)  # method -> pages
    page_seconds: dict[str, float] = field(default_factory=dict)  # method -> seconds of file time
    errors: dict[str, int] = field(default_factory=dict)  # reason -> documents
    chunks: int = 0
    pruned_rows: int = 0
    commits: int = 0
    account: dict[str, int] = field(default_factory=dict)  # accounting() after the run
    wall_seconds: float = 0.0

    def metadata(self) -> dict:
        return {
            "manifest_documents": self.manifest_documents,
            "pending_documents": self.pending_documents,
            "documents_with_text": self.documents_with_text,
            "documents_with_error": self.documents_with_error,
            "pages": sum(self.pages.values()),
            **{f"pages_{m}": n for m, n in sorted(self.pages.items())},
            **{f"errors_{r}": n for r, n in sorted(self.errors.items())},
            "chunks": self.chunks,
            "pruned_rows": self.pruned_rows,
            "delta_commits": self.commits,
            "wall_seconds": round(self.wall_seconds, 2),
        }


def ensure_tables(lake: Lake) -> None:
    for name, schema in SCHEMAS.items():
        ensure_table(lake, ENTERPRISE, name, schema)


def extract_documents(
    lake: Lake,
    landing: Path,
    *,
    buckets: set[int] | None = None,
    bucket_count: int = DEFAULT_BUCKETS,
    settings: ExtractionSettings | None = None,
    workers: int = 2,
    commit_every: int = 25,
    progress: Progress = no_progress,
    pool: ExtractionPool | None = None,
) -> DocumentRun:
    """Read every pending manifest document (of ``buckets``, default all) into Delta; see the module doc.
    ``pool``: where the files are read (default a local :class:`ExtractionPool` of ``workers`` processes; a
    :class:`lake.documents.on_ray.RayExtractionPool` on a cluster): this process commits either way."""
    t0 = time.perf_counter()
    ensure_tables(lake)
    docs = manifest(lake, landing, bucket_count)
    if buckets is not None:
        docs = docs.filter(pl.col("bucket").is_in(sorted(buckets)))
    todo = pending(lake, docs)
    run = DocumentRun(manifest_documents=docs.height, pending_documents=todo.height)
    versions = str(formats.tool_versions())
    jobs = [
        Job(r["document_id"], Path(r["path"]) if r["path"] else None, r["content_hash"], r["bucket"], r["file_name"])
        for r in todo.iter_rows(named=True)
    ]
    batch: list[Outcome] = []
    pool = pool or ExtractionPool(settings, workers)
    for n, outcome in enumerate(pool.map(jobs), start=1):
        batch.append(outcome)
        if len(batch) >= commit_every:
            _commit(lake, batch, versions, run)
            batch = []
        progress("documents", n, len(jobs))
    _commit(lake, batch, versions, run)
    run.pruned_rows = prune_superseded(lake, docs, buckets)
    run.account = accounting(lake, docs)
    run.wall_seconds = time.perf_counter() - t0
    metering.record_items("documents", run.pending_documents)
    metering.record_items("pages", sum(run.pages.values()))
    for method, seconds in run.page_seconds.items():  # file time in the workers, by how the text was read
        if method in MODEL_METHODS:
            metering.record_model_seconds(MODEL_METHODS[method], seconds)
    return run


def _commit(lake: Lake, outcomes: list[Outcome], versions: str, run: DocumentRun) -> None:
    """Append one batch's pages, chunks and errors. Pages and chunks go first: a run killed between the
    appends leaves no document marked done without its text."""
    if not outcomes:
        return
    now = dt.datetime.now(dt.UTC)
    pages, chunks, errors = [], [], []
    for o in outcomes:
        j = o.job
        if o.error is not None:
            errors.append(
                {
                    "document_id": j.document_id,
                    "content_hash": j.content_hash,
                    "bucket": j.bucket,
                    "file_name": j.file_name,
                    "reason": o.error.reason,
                    "detail": o.error.detail,
                    "tool_versions": versions,
                    "processed_at": now,
                }
            )
            run.documents_with_error += 1
            run.errors[o.error.reason] = run.errors.get(o.error.reason, 0) + 1
            continue
        run.documents_with_text += 1
        per_page = o.text.seconds / max(1, len(o.text.pages))
        for p in o.text.pages:
            pages.append(
                {
                    "document_id": j.document_id,
                    "content_hash": j.content_hash,
                    "bucket": j.bucket,
                    "page": p.page,
                    "text": p.text,
                    "method": p.method,
                    "ocr_confidence": p.ocr_confidence,
                    "reading": p.reading,
                    "ocr_flags": json.dumps(p.flags) if p.flags else None,
                    "ocr_rotation": p.rotation,
                    "char_count": len(p.text),
                    "detected_format": o.text.detected_format,
                    "tool": o.text.tool,
                    "tool_versions": versions,
                    "file_seconds": round(o.text.seconds, 4),
                    "processed_at": now,
                }
            )
            run.pages[p.method] = run.pages.get(p.method, 0) + 1
            run.page_seconds[p.method] = run.page_seconds.get(p.method, 0.0) + per_page
            for start, end in chunk_page(p.text):
                chunks.append(
                    {
                        "chunk_id": chunk_id(j.document_id, j.content_hash, p.page, start),
                        "document_id": j.document_id,
                        "content_hash": j.content_hash,
                        "bucket": j.bucket,
                        "page": p.page,
                        "char_start": start,
                        "char_end": end,
                        "text": p.text[start:end],
                        "processed_at": now,
                    }
                )
    for name, rows in ((TEXT, pages), (CHUNKS, chunks), (ERRORS, errors)):
        if rows:
            # add_columns: a lake whose document_text predates the OCR flags gains them (older pages read null)
            lake.write(
                ENTERPRISE, name, pa.Table.from_pylist(rows, schema=SCHEMAS[name]), mode="append", add_columns=True
            )
            run.commits += 1
    run.chunks += len(chunks)


def row_count(lake: Lake, name: str) -> int:
    scan = lake.scan(ENTERPRISE, name)
    return 0 if scan is None else int(scan.select(pl.len()).collect().item())


def accounting(lake: Lake, docs: pl.DataFrame) -> dict[str, int]:
    """The manifest documents ``docs`` (current file versions, from :func:`manifest`) against those with text
    and those with an error."""
    keys = docs.select("document_id", "content_hash")
    found = {name: keys.join(_read_keys(lake, name), on=keys.columns, how="semi").height for name in (TEXT, ERRORS)}
    return {
        "manifest_documents": keys.height,
        "documents_with_text": found[TEXT],
        "documents_with_error": found[ERRORS],
        "unaccounted": keys.height - found[TEXT] - found[ERRORS],
    }


def prune_superseded(lake: Lake, docs: pl.DataFrame, buckets: set[int] | None = None) -> int:
    """Delete the rows of a document's older file versions and of documents no longer in the manifest
    (deleted at source: their text must not outlive the record), within ``buckets`` (default all).
    ``docs`` is the current manifest of those buckets. Commits only when there is something to delete."""
    current = docs.select("document_id", "content_hash")
    removed = 0
    for name in SCHEMAS:
        table = lake.table(ENTERPRISE, name)
        if table is None:
            continue
        keys = pl.from_arrow(table.to_pyarrow_table(columns=["document_id", "content_hash", "bucket"])).unique()
        if buckets is not None:
            keys = keys.filter(pl.col("bucket").is_in(sorted(buckets)))
        stale = keys.select("document_id", "content_hash").join(current, on=["document_id", "content_hash"], how="anti")
        if stale.is_empty():
            continue
        pairs = " OR ".join(
            f"(document_id = {sql_literal(d)} AND content_hash = {sql_literal(h)})" for d, h in stale.iter_rows()
        )
        removed += lake.delete(ENTERPRISE, name, pairs)
    return removed


def extract_files(paths: list[Path], settings: ExtractionSettings | None = None, workers: int = 1) -> Iterator[dict]:
    """``caselake extract-text``: each file through the same pool as the asset, as a JSON-ready dict."""
    jobs = [Job(p.name, p, file_name=str(p)) for p in paths]
    for o in ExtractionPool(settings, workers).map(jobs):
        if o.error is not None:
            yield {"file": o.job.file_name, "error": o.error.reason, "detail": o.error.detail}
        else:
            yield {
                "file": o.job.file_name,
                "format": o.text.detected_format,
                "tool": o.text.tool,
                "seconds": round(o.text.seconds, 3),
                "pages": [
                    {
                        "page": p.page,
                        "method": p.method,
                        "ocr_confidence": p.ocr_confidence,
                        "reading": p.reading,
                        "flags": p.flags,
                        "rotation": p.rotation,
                        "engine_seconds": p.engine_seconds,
                        "text": p.text,
                    }
                    for p in o.text.pages
                ],
            }


# ---- quality against the synthetic truth -------------------------------------------------------------
