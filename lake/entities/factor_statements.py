"""Factor statements in every free text the council holds: each statement of a note, document page or form
answer coded with the CIN census factors and strengths it carries (issue 37, decision 0037).

Incremental by content like the entity extraction (the same bookkeeping, :mod:`lake.entities.items`): an item is
coded again only when its text or the coder changes. Delta ``enterprise/factor_statements`` holds one row per
label of a statement, with the statement's span into its source, so the app opens the source at it. The
``child_factors`` mart (dbt) reads it. A factor is an aid to reading, never a decision.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from lake import metering
from lake.entities.coding import FactorCoder
from lake.entities.items import (
    FACTOR_SOURCES,
    FACTOR_SOURCES_SCHEMA,
    FACTOR_STATEMENTS,
    FACTOR_STATEMENTS_SCHEMA,
    ITEM_KEY,
    audit_reader,
    pending_items,
    prune_stale,
    text_items,
)
from lake.entities.statements import split_statements
from lake.progress import Progress, no_progress
from lake.storage.delta import ENTERPRISE, Lake, ensure_table


@dataclass
class FactorRun:
    text_items: int = 0
    pending_items: int = 0
    statements: int = 0
    labels: int = 0
    current: int = 0
    pruned_rows: int = 0
    commits: int = 0
    model_seconds: float = 0.0
    wall_seconds: float = 0.0
    model_version: str = ""

    def metadata(self) -> dict:
        return {
            "text_items": self.text_items,
            "pending_items": self.pending_items,
            "statements_read": self.statements,
            "labels": self.labels,
            "current_labels": self.current,
            "pruned_rows": self.pruned_rows,
            "delta_commits": self.commits,
            "model_seconds": round(self.model_seconds, 2),
            "wall_seconds": round(self.wall_seconds, 2),
            "model_version": self.model_version,
        }


def ensure_tables(lake: Lake) -> None:
    ensure_table(lake, ENTERPRISE, FACTOR_STATEMENTS, FACTOR_STATEMENTS_SCHEMA)
    ensure_table(lake, ENTERPRISE, FACTOR_SOURCES, FACTOR_SOURCES_SCHEMA)


def statement_id(item: dict, start: int, end: int) -> str:
    key = f"{item['source_type']}|{item['source_id']}|{item['page']}|{start}|{end}|{item['text_hash']}"
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def code_items(
    lake: Lake,
    coder: FactorCoder,
    *,
    commit_every: int = 2_048,
    progress: Progress = no_progress,
    items: pl.DataFrame | None = None,
) -> FactorRun:
    """Code every pending text item into ``factor_statements``; see the module doc."""
    t0 = time.perf_counter()
    ensure_tables(lake)
    items = text_items(lake) if items is None else items
    run = FactorRun(text_items=items.height, model_version=coder.version)
    run.pruned_rows = prune_stale(lake, items, coder.version, FACTOR_SOURCES, (FACTOR_STATEMENTS, FACTOR_SOURCES))
    rows = pending_items(lake, items, coder.version, FACTOR_SOURCES).to_dicts()
    run.pending_items = len(rows)
    for b in range(0, len(rows), commit_every):
        batch = rows[b : b + commit_every]
        spans = [split_statements(r["text"]) for r in batch]
        texts = [r["text"][s:e] for r, found in zip(batch, spans, strict=True) for s, e in found]
        m0 = time.perf_counter()
        coded = iter(coder.code(texts))
        run.model_seconds += time.perf_counter() - m0
        _commit(lake, batch, spans, coded, coder.version, run)
        progress("factors", b + len(batch), len(rows))
    run.wall_seconds = time.perf_counter() - t0
    metering.record_model_seconds("factors", run.model_seconds)
    return run


def _commit(lake: Lake, batch: list[dict], spans: list, coded, version: str, run: FactorRun) -> None:
    """Append a batch's labels, then its log rows (a run killed between the two reads those items again)."""
    now = dt.datetime.now(dt.UTC)
    labels, done = [], []
    for item, found in zip(batch, spans, strict=True):
        n_labels = 0
        for start, end in found:
            for c in next(coded):
                labels.append(
                    {
                        "statement_id": statement_id(item, start, end),
                        **{k: item[k] for k in (*ITEM_KEY, "child_id")},
                        "start": start,
                        "end": end,
                        "statement": item["text"][start:end],
                        "code": c.code,
                        "kind": "strength" if c.is_strength else "factor",
                        "status": c.status,
                        "who": c.who,
                        "score": c.score,
                        "model_version": version,
                        "text_hash": item["text_hash"],
                        "coded_at": now,
                    }
                )
                n_labels += 1
                run.current += c.status == "current"
        run.statements += len(found)
        run.labels += n_labels
        done.append(
            {
                **{k: item[k] for k in (*ITEM_KEY, "child_id", "text_hash")},
                "model_version": version,
                "statements": len(found),
                "labels": n_labels,
                "coded_at": now,
            }
        )
    for name, rows, schema in (
        (FACTOR_STATEMENTS, labels, FACTOR_STATEMENTS_SCHEMA),
        (FACTOR_SOURCES, done, FACTOR_SOURCES_SCHEMA),
    ):
        if rows:
            lake.write(ENTERPRISE, name, pa.Table.from_pylist(rows, schema=schema), mode="append")
            run.commits += 1


def audit(lake: Lake, version: str, items: pl.DataFrame) -> dict[str, int]:
    """What the checks assert: every live text item coded by this coder, and every statement's text equal to its
    source text at its span."""
    found = audit_reader(lake, items, FACTOR_SOURCES, FACTOR_STATEMENTS, "statement", version)
    return {
        "text_items": items.height,
        "items_coded": items.height - found["unread"],
        "items_uncoded": found["unread"],
        "labels": found["rows"],
        "spans_mismatched": found["mismatched"],
    }
