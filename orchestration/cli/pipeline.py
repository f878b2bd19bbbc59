"""``caselake load`` and the pipeline's stages one file at a time: ``extract-text``, ``build-entity-model``,
``extract-entities`` (each the asset's own code path)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestration.cli.common import console, progress_bars, read_settings, stage_runner


def load(
    landing: Annotated[
        Path | None, typer.Option(help="Landing folder (default: CASELAKE_LANDING_DIR or lake/data/landing).")
    ] = None,
    documents: Annotated[bool, typer.Option(help="Also read new and changed documents into text.")] = True,
    entities: Annotated[bool, typer.Option(help="Also extract entities and resolve people (after documents).")] = True,
    search: Annotated[bool, typer.Option(help="Also bring the search index up to date (after entities).")] = True,
    insights: Annotated[bool, typer.Option(help="Also analyse the adopters (after search).")] = True,
) -> None:
    """Land and stage every extract not yet loaded, then run the stages in their declared order (enterprise
    and marts, documents, entities, search index, adopter insights), through the Dagster jobs."""
    import dagster as dg

    from orchestration.automation import STAGE_NAMES
    from orchestration.runner import ensure_dagster_home, load_all

    home = ensure_dagster_home(read_settings())
    wanted = (
        True,
        documents,
        documents and entities,
        documents and entities and search,
        documents and entities and search and insights,
    )
    until = STAGE_NAMES[max(i for i, on in enumerate(wanted) if on)]
    with dg.DagsterInstance.get() as instance:
        ok = load_all(
            instance, landing, say=console.print, until=until, running=stage_runner(home / "logs" / "load.log")
        )
    console.print(f"Dagster runs recorded in {home}")
    if not ok:
        raise typer.Exit(1)


def extract_text(
    files: Annotated[
        list[Path], typer.Argument(help="Document files (PDF, DOCX, DOC, HTML, Markdown, PNG, JPEG, TIFF).")
    ],
    timeout_s: Annotated[float | None, typer.Option(help="Per-file time limit in seconds (default 120).")] = None,
    max_mb: Annotated[int | None, typer.Option(help="Larger files are refused as oversized (default 100).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Print one JSON line per file: its page texts and method, or the error (the document asset's code path)."""
    import json

    from lake.documents.formats import ExtractionSettings
    from lake.documents.pipeline import extract_files

    defaults = read_settings().documents
    settings = ExtractionSettings(
        timeout_s=timeout_s or defaults.timeout_s, max_bytes=(max_mb or defaults.max_mb) * 1024 * 1024
    )
    failed = 0
    for result in extract_files(files, settings, workers):
        failed += "error" in result
        print(json.dumps(result, ensure_ascii=False), flush=True)
    if failed:
        console.print(f"{failed} of {len(files)} files had no text")
        raise typer.Exit(1)


def build_entity_model(
    steps: Annotated[int | None, typer.Option(help="Training steps (default: the project's build config).")] = None,
) -> None:
    """Build (or find cached) the offline GLiNER model from the packaged MiniLM encoder and the synthetic
    council's train split; prints the model directory."""
    import dataclasses

    from lake.entities.model import BuildConfig
    from synth.training import project_model

    cfg = BuildConfig() if steps is None else dataclasses.replace(BuildConfig(), steps=steps)
    with progress_bars() as progress:
        path = project_model(read_settings().entities, cfg, progress=progress)
    print(path)


def extract_entities(
    files: Annotated[list[Path], typer.Argument(help="Text files (.txt) or documents (PDF, DOCX, DOC, images...).")],
    threshold: Annotated[float | None, typer.Option(help="GLiNER score threshold (default 0.5).")] = None,
) -> None:
    """Print one JSON line per file with its entity mentions (the entity asset's code path)."""
    import json

    from lake.entities.extraction import EntityExtractor, extract_files
    from synth.training import entity_model

    settings = read_settings().entities
    failed = 0
    extractor = EntityExtractor.load(entity_model(settings), settings, threshold=threshold)
    for result in extract_files(files, extractor):
        failed += "error" in result
        print(json.dumps(result, ensure_ascii=False), flush=True)
    if failed:
        console.print(f"{failed} of {len(files)} files could not be read")
        raise typer.Exit(1)
