"""The landing zone: extracts as received, one folder per source system and extract date.

An extract is complete when its control file ``_extract.json`` exists (the exporter writes it last);
incomplete folders are ignored, so a sensor never reads a half-written drop.

Containment: only regular files inside the extract folder are read. A symbolic link (wherever it points)
is refused and never followed, and a control file that names a file outside the folder (``../``, an
absolute path, a sub-folder) or a table the contract does not know makes the extract fail with that
reason. An extract whose control file cannot be read is still found (its folder names the date), so it is
recorded as failed instead of stopping every other extract.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
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
    problems: tuple[str, ...] = ()  # why the extract cannot be loaded as it stands (empty: it can)

    @property
    def extract_id(self) -> str:
        return f"{self.source}-{self.extract_date.isoformat()}"

    @property
    def partition_key(self) -> str:
        return self.extract_date.isoformat()


def read_extract(path: Path) -> Extract:
    """The extract in ``path``, from its control file; a clear error when that cannot be trusted at all.
    A control file that can be read but declares what the contract refuses gives an extract with problems."""
    control_path = path / CONTROL_FILE
    if not control_path.exists():
        raise LandingError(f"{path}: no {CONTROL_FILE}; the extract is incomplete or not an extract")
    if control_path.is_symlink():
        raise LandingError(f"{control_path}: a symbolic link; only files inside the extract are read")
    try:
        control = json.loads(control_path.read_text(encoding="utf-8"))
        source = control["source_system"]
        date = dt.date.fromisoformat(control["extract_date"])
        entries = control["tables"]
        tables = {str(name): int(t["rows"]) for name, t in entries.items()}
        files = {str(name): str(t.get("file", f"{name}.csv")) for name, t in entries.items()}
        kind = control.get("extract_kind", "full")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LandingError(f"{control_path}: unreadable control file ({type(exc).__name__}: {exc})") from exc
    if source not in SOURCES:
        raise LandingError(f"{control_path}: unknown source system {source!r}; known: {sorted(SOURCES)}")
    if date.isoformat() != path.name:
        raise LandingError(f"{control_path}: extract date {date} does not match its folder {path.name}")
    if any(n < 0 for n in tables.values()):
        raise LandingError(f"{control_path}: a negative row count")
    known = set(SOURCES[source].tables.values())
    problems = [
        f"table {name} is declared in the control file but is not in the {source} contract"
        for name in sorted(tables)
        if name not in known
    ]
    problems += [
        f"table {name} names file {file!r}: only {name}.csv inside the extract folder is read"
        for name, file in sorted(files.items())
        if file != f"{name}.csv"
    ]
    return Extract(source, date, path, kind, tables, tuple(problems))


def _failed_extract(system: str, path: Path, reason: str) -> Extract | None:
    """An extract that cannot be read, as a record of its failure: its folder names the date."""
    try:
        date = dt.date.fromisoformat(path.name)
    except ValueError:
        return None  # not an extract folder (extracts are named by date): nothing to record
    return Extract(system, date, path, "unknown", {}, (reason,))


def find_extracts(root: Path, source: str | None = None) -> list[Extract]:
    """Complete extracts under the landing root, oldest first; one whose control file cannot be read is
    returned with that problem, so it is recorded as failed and the others still load."""
    found = []
    for system in sorted(SOURCES) if source is None else [source]:
        folder = root / SOURCES[system].source
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if not (path / CONTROL_FILE).exists() or path.is_symlink():
                continue
            try:
                found.append(read_extract(path))
            except LandingError as exc:
                failed = _failed_extract(system, path, str(exc))
                if failed is not None:
                    found.append(failed)
    return sorted(found, key=lambda e: (e.extract_date, e.source))


def fingerprint(extract: Extract) -> str:
    """What the extract holds now (control file, file names and sizes): a re-delivered extract differs."""
    h = hashlib.sha256()
    for entry in sorted(os.scandir(extract.path), key=lambda e: e.name):
        size = entry.stat(follow_symlinks=False).st_size
        h.update(f"{entry.name}\0{size}\0{entry.is_symlink()}\n".encode())
    control = extract.path / CONTROL_FILE
    if control.is_file() and not control.is_symlink():
        h.update(control.read_bytes())
    return h.hexdigest()[:16]


def extract_for(source: str, partition_key: str, root: Path) -> Extract:
    """The extract of one partition; one whose control file cannot be read comes back with that problem."""
    path = root / SOURCES[source].source / partition_key
    try:
        return read_extract(path)
    except LandingError as exc:
        failed = _failed_extract(source, path, str(exc))
        if failed is None or not (path / CONTROL_FILE).exists():
            raise
        return failed


def _walk(folder: Path):
    """Every entry under ``folder``, never following a symbolic link."""
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in sorted(dirnames + filenames):
            yield Path(dirpath) / name


def inventory(extract: Extract) -> pl.DataFrame:
    """Every file in the extract with its size and SHA-256, what the control file says of it, and why a file
    is refused (``problem``): symbolic links are recorded, never read."""
    rows = []
    seen = set()
    for path in _walk(extract.path):
        if (path.name == CONTROL_FILE and path.parent == extract.path) or (path.is_dir() and not path.is_symlink()):
            continue
        rel = path.relative_to(extract.path).as_posix()
        seen.add(rel)
        stem = path.stem if path.parent == extract.path else None
        declared = extract.declared_rows.get(stem) if stem else None
        row = {"extract_id": extract.extract_id, "path": rel, "declared_rows": declared, "present": True}
        if path.is_symlink() or not path.is_file():
            what = "a symbolic link" if path.is_symlink() else "not a regular file"
            rows.append(
                {
                    **row,
                    "kind": "refused",
                    "bytes": None,
                    "sha256": None,
                    "problem": f"{what}: only regular files inside the extract are read",
                }
            )
            continue
        kind = "document" if rel.startswith("documents/") else "table" if declared is not None else "unexpected"
        data = path.read_bytes()
        rows.append(
            {**row, "kind": kind, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "problem": None}
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
                    "problem": "declared in the control file but not in the extract",
                }
            )
    return pl.DataFrame(rows, schema=FILES_SCHEMA)


FILES_SCHEMA = {
    "extract_id": pl.String,
    "path": pl.String,
    "kind": pl.String,
    "bytes": pl.Int64,
    "sha256": pl.String,
    "declared_rows": pl.Int64,
    "present": pl.Boolean,
    "problem": pl.String,
}
