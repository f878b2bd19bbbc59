"""The landing zone: extracts as received, one folder per source system and extract date.

An extract is complete when its control file ``_extract.json`` exists (the exporter writes it last);
incomplete folders are ignored, so a sensor never reads a half-written drop.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from lake.contracts.sources import SOURCES

CONTROL_FILE = "_extract.json"


class LandingError(ValueError):
    """An extract that cannot be read at all: its control file is missing or wrong."""


@dataclass(frozen=True)
class Extract:
    source: str
    extract_date: dt.date
    path: Path
    kind: str  # "full" or "delta"
    declared_rows: dict[str, int]  # source table -> rows the exporter says it wrote

    @property
    def extract_id(self) -> str:
        return f"{self.source}-{self.extract_date.isoformat()}"

    @property
    def partition_key(self) -> str:
        return self.extract_date.isoformat()


def read_extract(path: Path) -> Extract:
    """The extract in ``path``, from its control file; a clear error when that cannot be trusted."""
    control_path = path / CONTROL_FILE
    if not control_path.exists():
        raise LandingError(f"{path}: no {CONTROL_FILE}; the extract is incomplete or not an extract")
    try:
        control = json.loads(control_path.read_text(encoding="utf-8"))
        source = control["source_system"]
        date = dt.date.fromisoformat(control["extract_date"])
        tables = {name: int(t["rows"]) for name, t in control["tables"].items()}
        kind = control.get("extract_kind", "full")
    except (ValueError, KeyError, TypeError) as exc:
        raise LandingError(f"{control_path}: unreadable control file ({exc})") from exc
    if source not in SOURCES:
        raise LandingError(f"{control_path}: unknown source system {source!r}; known: {sorted(SOURCES)}")
    if date.isoformat() != path.name:
        raise LandingError(f"{control_path}: extract date {date} does not match its folder {path.name}")
    return Extract(source, date, path, kind, tables)


def find_extracts(root: Path, source: str | None = None) -> list[Extract]:
    """Complete extracts under the landing root, oldest first."""
    found = []
    for system in sorted(SOURCES) if source is None else [source]:
        folder = root / SOURCES[system].source
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if (path / CONTROL_FILE).exists():
                found.append(read_extract(path))
    return sorted(found, key=lambda e: (e.extract_date, e.source))


def extract_for(source: str, partition_key: str, root: Path) -> Extract:
    return read_extract(root / SOURCES[source].source / partition_key)


def inventory(extract: Extract) -> pl.DataFrame:
    """Every file in the extract with its size and SHA-256, and what the control file says of it."""
    rows = []
    seen = set()
    for path in sorted(p for p in extract.path.rglob("*") if p.is_file() and p.name != CONTROL_FILE):
        rel = path.relative_to(extract.path).as_posix()
        seen.add(rel)
        stem = path.stem if path.parent == extract.path else None
        declared = extract.declared_rows.get(stem) if stem else None
        kind = "document" if rel.startswith("documents/") else "table" if declared is not None else "unexpected"
        rows.append(
            {
                "extract_id": extract.extract_id,
                "path": rel,
                "kind": kind,
                "bytes": path.stat().st_size,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "declared_rows": declared,
                "present": True,
            }
        )
    for table, n in extract.declared_rows.items():
        if f"{table}.csv" not in seen:
            rows.append(
                {
                    "extract_id": extract.extract_id,
                    "path": f"{table}.csv",
                    "kind": "table",
                    "bytes": None,
                    "sha256": None,
                    "declared_rows": n,
                    "present": False,
                }
            )
    schema = {
        "extract_id": pl.String,
        "path": pl.String,
        "kind": pl.String,
        "bytes": pl.Int64,
        "sha256": pl.String,
        "declared_rows": pl.Int64,
        "present": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema)
