"""Entity assets: the offline GLiNER model, entity mentions in every free text (Delta + LanceDB), and people
resolved with Splink. Thin wrappers: the work is in ``lake.entities.model``, ``lake.entities.extraction`` and
``lake.entities.resolution``."""

import json

import dagster as dg

from assets.documents import TEXT_KEY
from assets.enterprise import enterprise_key
from assets.metering import metered
from assets.resources import LakehouseResource
from lake.compute import workers as compute
from lake.entities import extraction, factor_statements, resolution
from lake.entities.coding import FactorCoder
from lake.entities.items import FACTOR_SOURCES, FACTOR_STATEMENTS, MENTIONS, SOURCES_DONE, text_items
from synth.training import entity_model as find_or_build_model
from synth.training import project_factor_coder, project_model

MODEL_KEY = dg.AssetKey(["models", "entity_model"])
MENTIONS_KEY = enterprise_key(MENTIONS)
SOURCES_KEY = enterprise_key(SOURCES_DONE)
INDEX_KEY = dg.AssetKey(["lancedb", MENTIONS])
RESOLVED_KEY, LINKS_KEY = enterprise_key(resolution.RESOLVED), enterprise_key(resolution.MENTION_PERSON)
FACTORS_KEY, FACTOR_SOURCES_KEY = enterprise_key(FACTOR_STATEMENTS), enterprise_key(FACTOR_SOURCES)


@dg.asset(
    key=MODEL_KEY,
    group_name="entities",
    kinds={"pytorch"},
    description="The offline GLiNER model: the packaged all-MiniLM-L6-v2 encoder trained on the synthetic "
    "council's train split, cached by a hash of its config and training data (or the model "
    "CASELAKE_GLINER_MODEL names).",
)
@metered
def entity_model(context: dg.AssetExecutionContext, lakehouse: LakehouseResource) -> dg.MaterializeResult:
    settings = lakehouse.settings().entities
    if settings.gliner_model:
        return dg.MaterializeResult(metadata={"model": settings.gliner_model, "source": "CASELAKE_GLINER_MODEL"})
    last = {"step": 0}

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "train" and (done == total or done - last["step"] >= 100):
            last["step"] = done
            context.log.info(f"training step {done}/{total}")

    path = project_model(settings, progress=progress)
    info = json.loads((path / "caselake_build.json").read_text())
    return dg.MaterializeResult(
        metadata={
            "path": str(path),
            "model_id": info["model_id"],
            "train_seconds": info["train_seconds"],
            "training_examples": info["examples"],
        }
    )


@dg.multi_asset(
    name="entity_mentions",
    group_name="entities",
    specs=[
        dg.AssetSpec(
            MENTIONS_KEY,
            deps=[MODEL_KEY, enterprise_key("case_note"), enterprise_key("form_response"), TEXT_KEY],
            kinds={"delta", "gliner"},
            description="Every entity mention in case notes, document pages and form answers: source, "
            "child, character span, text, label, score, method and model version.",
        ),
        dg.AssetSpec(
            SOURCES_KEY,
            deps=[MENTIONS_KEY],
            kinds={"delta"},
            description="Each text item read, with its text hash and model version (what makes the "
            "extraction incremental).",
        ),
        dg.AssetSpec(
            INDEX_KEY,
            deps=[MENTIONS_KEY],
            kinds={"lancedb"},
            description="The mentions mirrored into LanceDB with a full-text index, for the app.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "every_text_item_read",
            asset=MENTIONS_KEY,
            blocking=True,
            description="Every live note, page and answer has been read by the current model.",
        ),
        dg.AssetCheckSpec(
            "spans_match_source_text",
            asset=MENTIONS_KEY,
            blocking=True,
            description="Each mention's text equals its source text at its character span.",
        ),
    ],
    can_subset=False,
)
@metered
def entity_mentions(context: dg.AssetExecutionContext, lakehouse: LakehouseResource):
    settings = lakehouse.settings()
    lake = settings.lake()

    def progress(stage: str, done: int, total: int) -> None:
        context.log.info(f"text items read: {done}/{total}")  # counts only: no names or text in logs

    items = text_items(lake)  # read once: the extraction and its checks see the same texts
    # The model asset upstream has built it: this finds it in the cache (or takes the configured one). It runs
    # here, or in actors on a Ray cluster that each hold it.
    with compute.entity_extractor(settings, find_or_build_model(settings.entities)) as extractor:
        run = extraction.extract_entities(
            lake, extractor, progress=progress, items=items, gazetteer=settings.entities.gazetteer
        )
    rows = extraction.sync_lancedb(lake, settings.lancedb(), changed=run.commits > 0 or run.pruned_rows > 0)
    audit = extraction.audit(lake, extractor.model_version, items)
    yield dg.MaterializeResult(asset_key=MENTIONS_KEY, metadata={**run.metadata(), "dagster/row_count": rows})
    yield dg.MaterializeResult(asset_key=SOURCES_KEY, metadata={"dagster/row_count": audit["items_read"]})
    yield dg.MaterializeResult(asset_key=INDEX_KEY, metadata={"rows": rows, "uri": settings.lancedb()})
    yield dg.AssetCheckResult(
        check_name="every_text_item_read", asset_key=MENTIONS_KEY, passed=audit["items_unread"] == 0, metadata=audit
    )
    yield dg.AssetCheckResult(
        check_name="spans_match_source_text",
        asset_key=MENTIONS_KEY,
        passed=audit["spans_mismatched"] == 0,
        metadata=audit,
    )


@dg.multi_asset(
    name="resolved_people",
    group_name="entities",
    specs=[
        dg.AssetSpec(
            RESOLVED_KEY,
            deps=[
                MENTIONS_KEY,
                *(
                    enterprise_key(t)
                    for t in ("person", "person_name", "relationship", "child", "worker", "involvement")
                ),
            ],
            kinds={"delta", "splink"},
            description="People resolved from person mentions and recorded people (Splink, DuckDB).",
        ),
        dg.AssetSpec(
            LINKS_KEY,
            deps=[RESOLVED_KEY],
            kinds={"delta"},
            description=(
                "Each person mention's resolved person, and each kinship-only mention's ('Mum said') recorded"
                " person, with match probability and method."
            ),
        ),
    ],
    can_subset=False,
)
@metered
def resolved_people(context: dg.AssetExecutionContext, lakehouse: LakehouseResource):
    settings = lakehouse.settings()
    run = resolution.resolve_people(settings.lake(), settings.resolution)
    yield dg.MaterializeResult(
        asset_key=RESOLVED_KEY, metadata={**run.metadata(), "dagster/row_count": run.resolved_people}
    )
    yield dg.MaterializeResult(
        asset_key=LINKS_KEY, metadata={"dagster/row_count": run.person_mentions + run.kinship_links}
    )


@dg.multi_asset(
    name="factor_statements",
    group_name="entities",
    specs=[
        dg.AssetSpec(
            FACTORS_KEY,
            deps=[enterprise_key("case_note"), enterprise_key("form_response"), TEXT_KEY],
            kinds={"delta", "scikitlearn"},
            description="Each statement of every note, document page and form answer coded with the CIN census "
            "factors and strengths it carries: current, historic, negated or hypothetical, whom it concerns, "
            "score, coder version and the statement's span in its source. An aid to reading, never a decision.",
        ),
        dg.AssetSpec(
            FACTOR_SOURCES_KEY,
            deps=[FACTORS_KEY],
            kinds={"delta"},
            description="Each text item coded, with its text hash and coder version (what makes the coding "
            "incremental).",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "every_text_item_coded",
            asset=FACTORS_KEY,
            blocking=True,
            description="Every live note, page and answer has been coded by the current coder.",
        ),
        dg.AssetCheckSpec(
            "statements_match_source_text",
            asset=FACTORS_KEY,
            blocking=True,
            description="Each statement equals its source text at its character span.",
        ),
    ],
    can_subset=False,
)
@metered
def factor_statements_asset(context: dg.AssetExecutionContext, lakehouse: LakehouseResource):
    settings = lakehouse.settings()
    lake = settings.lake()
    items = text_items(lake)
    # Trained in seconds from the hand-written training statements, cached by their digest and the config.
    coder = FactorCoder.load(project_factor_coder(settings.entities), threads=settings.entities.threads)

    def progress(stage: str, done: int, total: int) -> None:
        context.log.info(f"text items coded: {done}/{total}")  # counts only: no names or text in logs

    run = factor_statements.code_items(lake, coder, progress=progress, items=items)
    audit = factor_statements.audit(lake, coder.version, items)
    yield dg.MaterializeResult(asset_key=FACTORS_KEY, metadata={**run.metadata(), "dagster/row_count": audit["labels"]})
    yield dg.MaterializeResult(asset_key=FACTOR_SOURCES_KEY, metadata={"dagster/row_count": audit["items_coded"]})
    yield dg.AssetCheckResult(
        check_name="every_text_item_coded", asset_key=FACTORS_KEY, passed=audit["items_uncoded"] == 0, metadata=audit
    )
    yield dg.AssetCheckResult(
        check_name="statements_match_source_text",
        asset_key=FACTORS_KEY,
        passed=audit["spans_mismatched"] == 0,
        metadata=audit,
    )


defs = dg.Definitions(assets=[entity_model, entity_mentions, resolved_people, factor_statements_asset])
