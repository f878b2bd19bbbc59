"""``caselake lineage``: where a fact came from, traced back to the landing file, ids and hashes only."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.common import fail, read_settings


def lineage(
    kind: Annotated[str, typer.Argument(help="edge, mention, hit (a search chunk) or row (a mart row).")],
    ident: Annotated[str, typer.Argument(help="The edge_id, mention_id or chunk_id; for a row, the mart's name.")],
    key: Annotated[list[str] | None, typer.Argument(help="For a row: its key as column=value (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the chain as JSON.")] = False,
) -> None:
    """Where a fact came from: an ecomap edge, an entity mention, a search hit or a mart row, back through the
    enterprise and staging rows to the landing file (SHA-256, row number), with the Delta versions and runs
    that wrote each, and for text the page, span, method and model. Shows ids and hashes, never content."""
    import json

    from lake.ops.lineage import LineageError, Tracer

    settings = read_settings()
    tracer = Tracer(settings.lake(), settings.warehouse(), settings.landing())
    pairs = [k.partition("=") for k in key or []]
    try:
        if any(not sep for _, sep, _ in pairs):
            raise LineageError("a mart row's key is column=value")
        found = tracer.trace(
            kind, ident, {c: v for c, _, v in pairs}, settings.lancedb(), dict(settings.storage_options)
        )
    except LineageError as exc:
        fail(str(exc))
    print(json.dumps(found.to_dict(), indent=2) if as_json else found.as_text())
