"""Document text assets: every manifest document as page texts, errors and search chunks (enterprise Delta).

Partitioned by a stable hash bucket of the document id, not by extract: the first full extract of a
council's file store holds millions of documents, and buckets let a backfill read them in parallel,
bounded by the ``document_text`` concurrency pool (``DAGSTER_HOME/dagster.yaml``). The daily run covers
every bucket in one run (a partition range), and reads only documents whose content hash is new.
"""

import dagster as dg

from assets.enterprise import enterprise_key
from assets.metering import metered
from assets.resources import LakehouseResource
from lake.compute import workers as compute
from lake.documents import pipeline as documents
from lake.documents.formats import ExtractionSettings

DOCUMENT_BUCKETS = dg.StaticPartitionsDefinition([str(b) for b in range(documents.DEFAULT_BUCKETS)])
TEXT_KEY, ERRORS_KEY, CHUNKS_KEY = (enterprise_key(n) for n in (documents.TEXT, documents.ERRORS, documents.CHUNKS))


class DocumentTextConfig(dg.Config):
    """A run's overrides of the documents settings (``CASELAKE_TEXT_*``); unset means the setting."""

    workers: int | None = None
    timeout_s: float | None = None
    max_mb: int | None = None


@dg.multi_asset(
    name="document_text",
    group_name="documents",
    specs=[
        dg.AssetSpec(
            TEXT_KEY,
            deps=[enterprise_key("document")],
            kinds={"delta", "docling"},
            description="Each manifest document's text, page by page, with the method (text layer, "
            "docling, OCR), OCR confidence, content hash and tool versions.",
        ),
        dg.AssetSpec(
            ERRORS_KEY,
            deps=[enterprise_key("document")],
            kinds={"delta"},
            description="Documents with no text and the reason: empty, corrupt, password, unsupported, "
            "oversized, timeout, missing file.",
        ),
        dg.AssetSpec(
            CHUNKS_KEY,
            deps=[TEXT_KEY],
            kinds={"delta"},
            description="Search chunks of the page texts with stable ids, page and character offsets.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "every_document_accounted_for",
            asset=TEXT_KEY,
            blocking=True,
            description="Manifest documents = documents with text + documents with an error.",
        )
    ],
    partitions_def=DOCUMENT_BUCKETS,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
    pool="document_text",
    can_subset=False,
)
@metered
def document_text(context: dg.AssetExecutionContext, lakehouse: LakehouseResource, config: DocumentTextConfig):
    settings = lakehouse.settings()
    lake, defaults = settings.lake(), settings.documents
    buckets = {int(k) for k in context.partition_keys}
    extraction = ExtractionSettings(
        timeout_s=config.timeout_s or defaults.timeout_s, max_bytes=(config.max_mb or defaults.max_mb) * 1024 * 1024
    )

    def progress(stage: str, done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            context.log.info(f"documents read: {done}/{total}")  # counts only: no names or text in logs

    workers = config.workers or defaults.workers
    run = documents.extract_documents(
        lake,
        settings.landing(),
        buckets=buckets,
        settings=extraction,
        progress=progress,
        pool=compute.document_reader(settings, extraction, workers),  # local processes, or a Ray cluster
    )
    meta = run.metadata()
    pages_per_s = {f"pages_per_second_{m}": round(run.pages[m] / s, 2) for m, s in run.page_seconds.items() if s}
    yield dg.MaterializeResult(
        asset_key=TEXT_KEY,
        metadata={**meta, **pages_per_s, "dagster/row_count": documents.row_count(lake, documents.TEXT)},
    )
    yield dg.MaterializeResult(
        asset_key=ERRORS_KEY,
        metadata={
            **{k: v for k, v in meta.items() if k.startswith("errors_")},
            "documents_with_error": run.documents_with_error,
            "dagster/row_count": documents.row_count(lake, documents.ERRORS),
        },
    )
    yield dg.MaterializeResult(
        asset_key=CHUNKS_KEY,
        metadata={"chunks_written": run.chunks, "dagster/row_count": documents.row_count(lake, documents.CHUNKS)},
    )
    yield dg.AssetCheckResult(
        check_name="every_document_accounted_for",
        asset_key=TEXT_KEY,
        passed=run.account["unaccounted"] == 0,
        metadata=run.account,
    )


defs = dg.Definitions(assets=[document_text])
