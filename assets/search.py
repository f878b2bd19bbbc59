"""The search asset: every live note, document page and form answer as chunks in LanceDB, with embeddings,
a full-text index and filter indexes. A thin wrapper: the work is in ``lake.search.index``."""

import dagster as dg

from assets.documents import CHUNKS_KEY
from assets.enterprise import enterprise_key
from assets.entities import LINKS_KEY
from assets.metering import metered
from assets.resources import LakehouseResource
from lake.compute import workers as compute
from lake.search import index

SEARCH_KEY = dg.AssetKey(["lancedb", index.TABLE])


@dg.asset(
    key=SEARCH_KEY,
    # after the people are resolved: person-aware search reads the index and the resolved mentions together
    deps=[CHUNKS_KEY, LINKS_KEY, *(enterprise_key(t) for t in ("case_note", "form_response", "document", "worker"))],
    group_name="search",
    kinds={"lancedb", "sentence_transformers"},
    description="One row per chunk of every live case note, document page and form answer: child, source, "
    "page and character span, event and recorded dates, author, type, content hash and a 384-d embedding; "
    "full-text and scalar indexes. Incremental: only text never embedded goes through the model.",
    check_specs=[
        dg.AssetCheckSpec(
            "index_matches_the_lake",
            asset=SEARCH_KEY,
            blocking=True,
            description="The index holds exactly the chunks of the live sources: none missing, none of a "
            "deleted or superseded source, every row current.",
        )
    ],
)
@metered
def search_chunks(context: dg.AssetExecutionContext, lakehouse: LakehouseResource):
    settings = lakehouse.settings()
    lake = settings.lake()

    def progress(stage: str, done: int, total: int) -> None:
        if done == total or done % 2048 == 0:
            context.log.info(f"{stage}: {done}/{total}")  # counts only: no text in logs

    wanted = index.search_chunks(lake)  # once: the build and its check see the same chunks
    with compute.embedder(settings) as embedder:  # here, or actors on a Ray cluster
        run = index.build_index(
            lake,
            settings.lancedb(),
            embedder,
            storage_options=dict(settings.storage_options),
            vector_index_rows=settings.search.vector_index_rows,
            progress=progress,
            wanted=wanted,
        )
    check = index.compare_with_lake(wanted, settings.lancedb(), dict(settings.storage_options))
    yield dg.MaterializeResult(metadata={**run.metadata(), "dagster/row_count": run.chunks, "uri": settings.lancedb()})
    yield dg.AssetCheckResult(check_name="index_matches_the_lake", passed=not any(check.values()), metadata=check)


defs = dg.Definitions(assets=[search_chunks])
