"""A small writer of hostile extracts: each test builds the one bad thing it is about, in either export shape.

Rows are given in the neutral vocabulary and written in the source system's own table, column and code names
and delimiter, so the same hostile case can be delivered as LiquidLogic or Mosaic.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from lake.contracts.sources import NEUTRAL_TABLES, SOURCES

WORKERS = [
    {
        "worker_id": "W1",
        "first_name": "Ann",
        "surname": "Lee",
        "role": "Social Worker",
        "team": "Selby",
        "email": "ann@example.org",
        "phone": "0113 496 0001",
    },
    {
        "worker_id": "W2",
        "first_name": "Bob",
        "surname": "Ray",
        "role": "Team Manager",
        "team": "Selby",
        "email": "bob@example.org",
        "phone": "0113 496 0002",
    },
    {
        "worker_id": "W3",
        "first_name": "Cat",
        "surname": "Orr",
        "role": "Social Worker",
        "team": "Goole",
        "email": "cat@example.org",
        "phone": "0113 496 0003",
    },
    {
        "worker_id": "W4",
        "first_name": "Dan",
        "surname": "Ash",
        "role": "Social Worker",
        "team": "Goole",
        "email": "dan@example.org",
        "phone": "0113 496 0004",
    },
]


def table_text(source: str, table: str, rows: list[dict], columns: list[str] | None = None) -> str:
    """``rows`` (neutral names and codes) as the source system writes the table's file; ``columns`` (source
    names) overrides the header, for duplicated or unknown columns."""
    system = SOURCES[source]
    neutral = list(NEUTRAL_TABLES[table]["columns"])
    header = columns or [system.column(table, c) for c in neutral]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=system.delimiter, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        values = [system.code(c, row[c]) if c in NEUTRAL_TABLES[table]["codes"] else row[c] for c in neutral]
        writer.writerow(values + [""] * (len(header) - len(values)))
    return out.getvalue()


def write_extract(
    root: Path,
    date: str,
    files: dict[str, str | bytes],
    source: str = "liquidlogic",
    declared: dict[str, int] | None = None,
    control: str | None = None,
    entries: dict[str, str] | None = None,
) -> Path:
    """An extract folder ``root/<source>/<date>/`` holding ``files`` (by source table name, as text or bytes)
    and a control file declaring each table's data lines (``declared`` overrides; ``control`` replaces the
    whole control file; ``entries`` overrides a table's ``file`` entry). Returns the folder."""
    folder = root / SOURCES[source].source / date
    folder.mkdir(parents=True)
    counts = {}
    for name, data in files.items():
        raw = data.encode() if isinstance(data, str) else data
        (folder / f"{name}.csv").write_bytes(raw)
        counts[name] = max(0, raw.count(b"\n") - 1)
    counts = declared if declared is not None else counts
    tables = {n: {"file": (entries or {}).get(n, f"{n}.csv"), "rows": r} for n, r in counts.items()}
    body = {"source_system": source, "extract_date": date, "extract_kind": "delta", "tables": tables}
    (folder / "_extract.json").write_text(control if control is not None else json.dumps(body))
    return folder


def workers(source: str = "liquidlogic", rows: list[dict] | None = None) -> dict[str, str]:
    """A one-table extract of workers, keyed by the source's file name."""
    return {SOURCES[source].table("worker"): table_text(source, "worker", rows or WORKERS)}
