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


def read_extract(path: Path, system: str | None = None) -> Extract:
    """The extract in ``path`` (in ``system``'s landing folder, when given), from its control file; a clear
    error when that cannot be trusted at all. A control file that can be read but declares what the contract
    refuses gives an extract with problems."""
    control_path = path / CONTROL_FILE
    if path.is_symlink():
        raise LandingError(f"{path}: a symbolic link; an extract is a folder inside the landing zone")
    if not os.path.lexists(control_path):
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
    except (ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise LandingError(f"{control_path}: unreadable control file ({type(exc).__name__}: {exc})") from exc
    if source not in SOURCES:
        raise LandingError(f"{control_path}: unknown source system {source!r}; known: {sorted(SOURCES)}")
    if system is not None and source != system:
        raise LandingError(f"{control_path}: says source system {source!r} but lies in the {system} folder")
    if date.isoformat() != path.name:
        raise LandingError(f"{control_path}: extract date {date} does not match its folder {path.name}")
    if kind not in ("full", "delta"):
        raise LandingError(f"{control_path}: extract_kind {kind!r}; known: full, delta")
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
            if not os.path.lexists(path / CONTROL_FILE):
                continue  # not complete yet: the exporter writes the control file last
            try:
                found.append(read_extract(path, system))
            except LandingError as exc:
                failed = _failed_extract(system, path, str(exc))
                if failed is not None:
                    found.append(failed)
    return sorted(found, key=lambda e: (e.extract_date, e.source))


def fingerprint(extract: Extract) -> str:
    """What the extract holds now — every entry's path, size, modification time and kind, and the control
    file — so an extract delivered again (a file replaced, even by one of the same size) differs."""
    h = hashlib.sha256()
    try:
        entries = list(_walk(extract.path))
    except LandingError as exc:
        return f"unreadable:{exc}"[:64]
    for path in entries:
        st = path.lstat()
        h.update(
            f"{path.relative_to(extract.path).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_mode}\n".encode()
        )
    return h.hexdigest()[:16]


def extract_for(source: str, partition_key: str, root: Path) -> Extract:
    """The extract of one partition; one whose control file cannot be read comes back with that problem."""
    path = root / SOURCES[source].source / partition_key
    try:
        return read_extract(path, source)
    except LandingError as exc:
        failed = _failed_extract(source, path, str(exc))
        if failed is None or not os.path.lexists(path / CONTROL_FILE):
            raise
        return failed


def _walk(folder: Path):
    """Every entry under ``folder``, never following a symbolic link."""

    def unreadable(error: OSError) -> None:
        raise LandingError(f"{error.filename}: unreadable folder ({error.strerror})") from error

    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False, onerror=unreadable):
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
        try:
            with path.open("rb") as f:  # hashed as read: a file of gigabytes is never in memory
                digest = hashlib.file_digest(f, "sha256")
            size = path.stat().st_size
        except OSError as exc:
            rows.append(
                {
                    **row,
                    "kind": "refused",
                    "bytes": None,
                    "sha256": None,
                    "problem": f"unreadable: {exc.strerror or exc}",
                }
            )
            continue
        rows.append({**row, "kind": kind, "bytes": size, "sha256": digest.hexdigest(), "problem": None})
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
