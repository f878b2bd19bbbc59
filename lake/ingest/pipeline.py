"""The load, as plain functions: land an extract, stage it, build the enterprise layer.

Dagster assets are thin wrappers around these; :func:`load_landing` runs the whole loop in-process for the
evaluation, the benchmarks and the tests.
Each returns per-table metrics (rows read, landed, quarantined, inserted, updated, unchanged, bytes,
seconds, Delta version) that the assets publish as metadata.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from lake import metering
from lake.contracts.sources import NEUTRAL_TABLES, SOURCES
from lake.ingest import enterprise, identity
from lake.ingest.landing import Extract, LandingError, find_extracts, inventory
from lake.ingest.staging import (
    NATURAL_KEYS,
    QUARANTINE_SCHEMA,
    StagedFile,
    count_records,
    empty_staging_frame,
    stage_file,
)
from lake.storage.delta import ENTERPRISE, LANDING, STAGING, Lake, MergeStats, ensure_table, merge_by_key

QUARANTINE = "quarantine"


@dataclass
class TableLoad:
    table: str
    rows_read: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    repaired_cells: int = 0
    normalised_cells: int = 0
    stats: MergeStats = field(default_factory=MergeStats)
    bytes_written: int = 0
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    rows_held: int = 0  # rows of a failed extract: still in its landing files, staged when it is resolved
    file_error: str | None = None
    notes: dict = field(default_factory=dict)  # what else a step reports (the crosswalk: ids renamed)

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_landed + self.rows_quarantined + self.rows_held

    def metadata(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "rows_landed": self.rows_landed,
            "rows_quarantined": self.rows_quarantined,
            "rows_inserted": self.stats.inserted,
            "rows_updated": self.stats.updated,
            "rows_unchanged": self.stats.unchanged,
            "cells_repaired": self.repaired_cells,
            "cells_normalised": self.normalised_cells,
            "bytes_written": self.bytes_written,
            "wall_seconds": round(self.wall_seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "delta_version": self.stats.version if self.stats.version is not None else -1,
            "delta_committed": self.stats.committed,
            **({"rows_held": self.rows_held} if self.rows_held else {}),
            **({"file_error": self.file_error} if self.file_error else {}),
            **self.notes,
        }


class ExtractFailed(LandingError):
    """An extract that staged nothing, and why: every reason, and its tables' counts (rows held)."""

    def __init__(self, extract: Extract, reasons: list[str], tables: dict[str, TableLoad]):
        super().__init__(f"{extract.extract_id}: " + "; ".join(reasons))
        self.extract, self.reasons, self.tables = extract, reasons, tables


def _regular_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _rows_in_files(extract: Extract) -> int:
    """Refused at landing, nothing was staged: the rows its files hold are held. For each table file there, the
    rows its control file declares, or (when the control file could not be read, or does not name the file)
    the records the file holds, counted as staging would split them."""
    total = 0
    for path in sorted(extract.path.glob("*.csv")) if extract.path.is_dir() else []:
        if not _regular_file(path):
            continue
        declared = extract.declared_rows.get(path.stem)
        total += declared if declared is not None else count_records(path, SOURCES[extract.source].delimiter)
    return total


def _bookkeeping_hash(columns: list[str]) -> pl.Expr:
    """The row hash a landing bookkeeping row is merged by: its columns joined (a re-run that changes nothing
    commits nothing)."""
    return pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in columns], separator="|").alias("_row_hash")


EXTRACTS = "extracts"  # landing/extracts: one row per extract, its status and every row accounted for


def _record_extract(lake: Lake, extract: Extract, status: str, reasons: list[str], tables: dict[str, TableLoad]):
    """Upsert the extract's row in ``landing/extracts`` (no commit when nothing about it changed)."""
    loads = tables.values()
    held = sum(t.rows_held for t in loads) if tables else _rows_in_files(extract)
    row = {
        "extract_id": extract.extract_id,
        "source": extract.source,
        "extract_date": extract.extract_date,
        "status": status,
        "reason": "; ".join(reasons) or None,
        "rows_read": sum(t.rows_read for t in loads),
        "rows_landed": sum(t.rows_landed for t in loads),
        "rows_quarantined": sum(t.rows_quarantined for t in loads),
        "rows_held": held,
        "recorded_at": dt.datetime.now(dt.UTC),
    }
    frame = pl.DataFrame([row], schema=EXTRACTS_SCHEMA)
    hashed = [c for c in EXTRACTS_SCHEMA if c != "recorded_at"]
    merge_by_key(lake, LANDING, EXTRACTS, frame.with_columns(_bookkeeping_hash(hashed)), ("extract_id",))


EXTRACTS_SCHEMA = {
    "extract_id": pl.String,
    "source": pl.String,
    "extract_date": pl.Date(),
    "status": pl.String,  # "staged" or "failed"
    "reason": pl.String,
    "rows_read": pl.Int64,
    "rows_landed": pl.Int64,
    "rows_quarantined": pl.Int64,
    "rows_held": pl.Int64,
    "recorded_at": pl.Datetime("us", "UTC"),
}


def land_extract(lake: Lake, extract: Extract) -> pl.DataFrame:
    """Record every file of the extract (size, SHA-256, declared rows, present, why refused) in
    ``landing/files``. An extract that cannot be staged as delivered — its control file unreadable or
    declaring what the contract refuses, a declared file missing, a file refused (a symbolic link) — is
    recorded as failed in ``landing/extracts`` and raises :class:`ExtractFailed`."""
    if extract.kind == "unknown":  # the control file could not be read: there is nothing to inventory
        _record_extract(lake, extract, "failed", list(extract.problems), {})
        raise ExtractFailed(extract, list(extract.problems), {})
    try:
        files = inventory(extract)
    except LandingError as exc:  # a folder inside the extract cannot be listed
        _record_extract(lake, extract, "failed", [str(exc)], {})
        raise ExtractFailed(extract, [str(exc)], {}) from None
    merge_by_key(
        lake,
        LANDING,
        "files",
        files.with_columns(
            pl.concat_str(
                [pl.col("sha256").fill_null(""), pl.col("present").cast(pl.String), pl.col("problem").fill_null("")]
            ).alias("_row_hash")
        ),
        ("extract_id", "path"),
    )
    metering.record_items("files", files.height)
    refused = files.filter(pl.col("problem").is_not_null())
    reasons = [*extract.problems, *(f"{r['path']}: {r['problem']}" for r in refused.iter_rows(named=True))]
    if reasons:
        _record_extract(lake, extract, "failed", reasons, {})
        raise ExtractFailed(extract, reasons, {})
    return files


def stage_extract(
    lake: Lake,
    extract: Extract,
    ingested_at: dt.datetime | None = None,
    on_table: Callable[[TableLoad], None] | None = None,
    *,
    batch_rows: int | None = None,
) -> dict[str, TableLoad]:
    """Stage every table of the extract into ``staging/<source>/<table>``, bad rows to the quarantine —
    all of it or nothing.

    Every file is read and checked first; the extract is staged only when the control file is sound, every
    file it declares is there and readable as a table, and each file holds the rows the control file
    declares. Otherwise nothing is written to staging, the extract is recorded as failed in
    ``landing/extracts`` with every reason (its rows counted as held), and :class:`ExtractFailed` is raised.

    Tables the extract does not hold (a change extract) are reported with zero rows. Each table is MERGEd by
    key, updating a row only when its hash changed and the extract is not older than the row's own, so a
    re-run or a late-arriving older extract changes nothing.
    """
    unchanged = _unchanged_delivery(lake, extract)
    if unchanged is not None:  # delivered again byte for byte: nothing to read, nothing to commit
        for load in unchanged.values():
            if on_table:
                on_table(load)
        return unchanged
    ingested_at = ingested_at or dt.datetime.now(dt.UTC)
    # Each file is staged a batch at a time into Parquet in a scratch folder, deduplicated across its batches
    # there, and MERGEd from it: memory is set by ``batch_rows``, not by the file. Nothing reaches the lake
    # before every file is checked; a process killed mid-way leaves only the scratch folder behind.
    with tempfile.TemporaryDirectory(prefix="caselake-staging-") as scratch:
        known = _staged_natural_keys(lake, extract.source)
        staged, loads, reasons = _read_and_check(extract, ingested_at, known, Path(scratch), batch_rows)
        if not reasons:
            _commit(lake, extract, staged, loads, on_table)
    if reasons:
        system = SOURCES[extract.source]
        for table, load in loads.items():
            # Held: the rows read; for a file there but unreadable as a table, the rows its control file declares.
            path = extract.path / f"{system.table(table)}.csv"
            unread = load.file_error and not load.rows_read and _regular_file(path) and path.stat().st_size
            declared = extract.declared_rows.get(system.table(table), 0)
            load.rows_held = declared if unread else load.rows_read
            load.rows_landed = load.rows_quarantined = 0
        _record_extract(lake, extract, "failed", reasons, loads)
        raise ExtractFailed(extract, reasons, loads)
    _record_staged_files(lake, extract, loads)
    _record_extract(lake, extract, "staged", [], loads)
    return loads


STAGED_FILES = "staged_files"  # landing/staged_files: each table file of a staged extract, its SHA-256 and counts
STAGED_FILES_SCHEMA = {
    "extract_id": pl.String,
    "path": pl.String,
    "table": pl.String,
    "sha256": pl.String,
    "rows_read": pl.Int64,
    "rows_landed": pl.Int64,
    "rows_quarantined": pl.Int64,
    "cells_repaired": pl.Int64,
    "cells_normalised": pl.Int64,
}


def _table_hashes(lake: Lake, extract: Extract) -> dict[str, str | None]:
    """Each table file of the extract (by path) and its SHA-256 as landing recorded it in this delivery."""
    files = lake.read(LANDING, "files", filters=[("extract_id", "=", extract.extract_id)])
    if files is None:
        return {}
    return dict(files.filter(pl.col("kind") == "table").select("path", "sha256").iter_rows())


def _record_staged_files(lake: Lake, extract: Extract, loads: dict[str, TableLoad]) -> None:
    """What each table file of a staged extract was (its SHA-256) and what staging made of it."""
    system, hashes = SOURCES[extract.source], _table_hashes(lake, extract)
    rows = [
        {
            "extract_id": extract.extract_id,
            "path": path,
            "table": table,
            "sha256": hashes[path],
            "rows_read": load.rows_read,
            "rows_landed": load.rows_landed,
            "rows_quarantined": load.rows_quarantined,
            "cells_repaired": load.repaired_cells,
            "cells_normalised": load.normalised_cells,
        }
        for table, load in loads.items()
        if (path := f"{system.table(table)}.csv") in hashes
    ]
    frame = pl.DataFrame(rows, schema=STAGED_FILES_SCHEMA).with_columns(_bookkeeping_hash(list(STAGED_FILES_SCHEMA)))
    merge_by_key(lake, LANDING, STAGED_FILES, frame, ("extract_id", "path"))


def _unchanged_delivery(lake: Lake, extract: Extract) -> dict[str, TableLoad] | None:
    """The table loads of an extract staged before from files byte-identical to those landed now (every table
    file's SHA-256 the same), or None. Reads hashes and counts, never rows: re-delivering a staged extract
    costs its hashing at landing, and commits nothing."""
    record = lake.read(LANDING, EXTRACTS, filters=[("extract_id", "=", extract.extract_id)])
    staged = lake.read(LANDING, STAGED_FILES, filters=[("extract_id", "=", extract.extract_id)])
    if record is None or staged is None or record.height != 1 or record["status"][0] != "staged":
        return None
    now = _table_hashes(lake, extract)
    if not now or None in now.values() or now != dict(staged.select("path", "sha256").iter_rows()):
        return None
    loads = {table: TableLoad(table) for table in NEUTRAL_TABLES}
    for row in staged.iter_rows(named=True):
        load = loads[row["table"]]
        load.rows_read, load.rows_landed, load.rows_quarantined = (
            row["rows_read"],
            row["rows_landed"],
            row["rows_quarantined"],
        )
        load.repaired_cells, load.normalised_cells = row["cells_repaired"], row["cells_normalised"]
        load.notes["unchanged_delivery"] = True
    for table, load in loads.items():
        name = enterprise.staging_name(extract.source, table)
        load.stats = MergeStats(unchanged=load.rows_landed, version=lake.version(STAGING, name))
    return loads


def _staged_natural_keys(lake: Lake, source: str) -> dict[str, pl.DataFrame]:
    """Per table with a natural key, the id and natural key of every row this source has staged."""
    known = {}
    for table, natural in NATURAL_KEYS.items():
        scan = lake.scan(STAGING, enterprise.staging_name(source, table))
        if scan is not None:
            known[table] = scan.select(*NEUTRAL_TABLES[table]["key"], *natural).collect()
    return known


def _read_and_check(
    extract: Extract,
    ingested_at: dt.datetime,
    known: dict[str, pl.DataFrame],
    scratch: Path,
    batch_rows: int | None = None,
) -> tuple[dict[str, StagedFile], dict[str, TableLoad], list[str]]:
    """Every table file of the extract staged into ``scratch``, its counts, and every reason not to commit it."""
    system = SOURCES[extract.source]
    staged: dict[str, StagedFile] = {}
    loads: dict[str, TableLoad] = {}
    reasons = list(extract.problems)
    for table in NEUTRAL_TABLES:
        t0, c0 = time.perf_counter(), time.process_time()
        path = extract.path / f"{system.table(table)}.csv"
        load = loads[table] = TableLoad(table)
        if system.table(table) in extract.declared_rows or path.exists() or path.is_symlink():
            staged[table] = file = stage_file(
                path,
                system,
                table,
                extract.extract_id,
                extract.extract_date,
                ingested_at,
                scratch / table,
                known.get(table),
                batch_rows,
            )
            load.rows_read, load.rows_landed = file.rows_read, file.rows_landed
            metering.record_rows_read(file.rows_read)  # the extract's CSV rows: what staging reads
            load.rows_quarantined, load.file_error = file.rows_quarantined, file.file_error
            load.repaired_cells, load.normalised_cells = file.repaired_cells, file.normalised_cells
            if file.encoding != "utf-8":
                load.notes["encoding"] = file.encoding
            declared = extract.declared_rows.get(system.table(table))
            if file.file_error:
                reasons.append(f"{file.source_file}: {file.file_error}")
            elif not load.balanced:  # a defect of ours, not of the file: never commit on it
                reasons.append(f"{file.source_file}: rows read {file.rows_read} != landed + quarantined")
            elif declared is None:
                reasons.append(f"{file.source_file}: in the extract but not declared in the control file")
            elif file.rows_read != declared:
                reasons.append(f"{file.source_file}: {file.rows_read} rows read, the control file declares {declared}")
        load.wall_seconds, load.cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    return staged, loads, reasons


def _commit(
    lake: Lake,
    extract: Extract,
    staged: dict[str, StagedFile],
    loads: dict[str, TableLoad],
    on_table: Callable[[TableLoad], None] | None,
) -> None:
    """MERGE each checked table and its quarantined rows into staging (every table exists afterwards)."""
    for table, load in loads.items():
        t0, c0 = time.perf_counter(), time.process_time()
        name = enterprise.staging_name(extract.source, table)
        if table in staged:
            before = lake.size(STAGING, name)[1]
            load.stats = merge_by_key(
                lake,
                STAGING,
                name,
                staged[table].landed.stream(),
                NEUTRAL_TABLES[table]["key"],
                update_when="s._row_hash <> t._row_hash AND s._extract_date >= t._extract_date",
            )
            merge_by_key(
                lake,
                STAGING,
                f"{extract.source}/{QUARANTINE}",
                staged[table].quarantined.stream(lambda rows: rows.with_columns(pl.col("reason").alias("_row_hash"))),
                ("_extract_id", "source_table", "row_number"),
            )
            load.bytes_written = max(0, lake.size(STAGING, name)[1] - before)
        ensure_table(lake, STAGING, name, empty_staging_frame(table).to_arrow().schema)
        load.stats.version = lake.version(STAGING, name)
        load.wall_seconds += time.perf_counter() - t0
        load.cpu_seconds += time.process_time() - c0
        if on_table:
            on_table(load)
    ensure_table(
        lake,
        STAGING,
        f"{extract.source}/{QUARANTINE}",
        pl.DataFrame(schema={**QUARANTINE_SCHEMA, "_row_hash": pl.String}).to_arrow().schema,
    )


def build_enterprise(lake: Lake, on_table: Callable[[TableLoad], None] | None = None) -> dict[str, TableLoad]:
    """Rebuild the enterprise groups touched since the last run, all or nothing: the new ids get their
    enterprise ids (:mod:`lake.ingest.identity`), every table's rows are rebuilt and checked, and only when no
    two source rows would land on one key is anything MERGEd (:class:`EnterpriseCollision` otherwise, naming the
    ids, with every enterprise table as it was). Watermarks move only after each MERGE."""
    now = dt.datetime.now(dt.UTC)
    marks = enterprise.read_watermarks(lake)
    with tempfile.TemporaryDirectory(prefix="caselake-enterprise-") as scratch:
        crosswalk_marks = {staging: at for (table, staging), at in marks.items() if table == identity.CROSSWALK}
        assigned = identity.assign_ids(lake, crosswalk_marks, now, Path(scratch))
        enterprise.write_watermarks(lake, identity.CROSSWALK, assigned.marks)
        ids = identity.IdMap(assigned.renamed_ids)
        deletions = enterprise.read_deletions(lake, ids)
        loads = _plan_and_commit(lake, now, marks, deletions, ids, Path(scratch), on_table)
    loads[identity.CROSSWALK] = TableLoad(
        identity.CROSSWALK,
        rows_read=assigned.new,
        rows_landed=assigned.new,
        stats=MergeStats(
            inserted=assigned.new, version=lake.version(ENTERPRISE, identity.CROSSWALK), committed=assigned.new > 0
        ),
        notes={"ids_renamed": assigned.renamed, "crosswalk_rows": assigned.crosswalk_rows},
    )
    loads[identity.PERSON_LINK] = _write_person_links(lake)
    return loads


def _plan_and_commit(
    lake: Lake,
    now: dt.datetime,
    marks: dict,
    deletions: pl.DataFrame,
    ids: identity.IdMap,
    scratch: Path,
    on_table: Callable[[TableLoad], None] | None,
) -> dict[str, TableLoad]:
    """Every enterprise table's touched groups rebuilt into spools under ``scratch`` and checked; then, only when
    no plan has a collision, each MERGEd from its spool and its watermarks moved."""
    plans, timing = [], {}
    for table in enterprise.TABLES:
        t0, c0 = time.perf_counter(), time.process_time()
        plans.append(enterprise.plan_table(lake, table, now, marks, deletions, ids, scratch))
        timing[table.name] = (time.perf_counter() - t0, time.process_time() - c0)
    problems = [problem for plan in plans for problem in enterprise.collisions(plan)]
    if problems:
        raise enterprise.EnterpriseCollision(problems)
    loads = {}
    for plan in plans:
        name = plan.table.name
        t0, c0 = time.perf_counter(), time.process_time()
        before = lake.size(ENTERPRISE, name)[1]
        built = enterprise.commit_table(lake, plan)
        enterprise.write_watermarks(lake, name, built.watermarks)
        load = TableLoad(name, rows_read=built.rows, rows_landed=built.rows, stats=built.stats)
        load.bytes_written = max(0, lake.size(ENTERPRISE, name)[1] - before)
        load.wall_seconds = timing[name][0] + time.perf_counter() - t0
        load.cpu_seconds = timing[name][1] + time.process_time() - c0
        loads[name] = load
        if on_table:
            on_table(load)
    return loads


def _write_person_links(lake: Lake) -> TableLoad:
    """The cross-source person links, rewritten whole when they changed (a link whose evidence went goes too)."""
    links = identity.person_links(lake)
    old = lake.read(ENTERPRISE, identity.PERSON_LINK)
    changed = old is None or not old.select(links.columns).sort(links.columns).equals(links.sort(links.columns))
    if changed:
        lake.write(ENTERPRISE, identity.PERSON_LINK, links)
    load = TableLoad(identity.PERSON_LINK, rows_read=links.height, rows_landed=links.height)
    load.stats = MergeStats(version=lake.version(ENTERPRISE, identity.PERSON_LINK), committed=changed)
    return load


@dataclass
class LandingLoad:
    """What :func:`load_landing` did: per extract id, its staged tables; the extracts that failed (with their
    reasons) and those that waited behind one; then the enterprise build (if any)."""

    staged: dict[str, dict[str, TableLoad]] = field(default_factory=dict)
    failed: dict[str, list[str]] = field(default_factory=dict)
    waiting: dict[str, str] = field(default_factory=dict)  # extract id -> the failed extract it waits for
    enterprise: dict[str, TableLoad] = field(default_factory=dict)


def load_landing(lake: Lake, landing: Path, build: bool = True, *, batch_rows: int | None = None) -> LandingLoad:
    """Land and stage every complete extract under ``landing`` (oldest first), then build the enterprise
    layer once (``build``): what the Dagster jobs do, in one process, without the instance. A failed extract
    stops nothing but the later extracts of its own source, which wait for it (a change extract applied
    without the one before it would leave the source inconsistent)."""
    done = LandingLoad()
    blocked: dict[str, str] = {}
    for extract in find_extracts(landing):
        if extract.source in blocked:
            done.waiting[extract.extract_id] = blocked[extract.source]
            continue
        try:
            land_extract(lake, extract)
            done.staged[extract.extract_id] = stage_extract(lake, extract, batch_rows=batch_rows)
        except ExtractFailed as failed:
            done.failed[extract.extract_id] = failed.reasons
            blocked[extract.source] = extract.extract_id
    if build:
        done.enterprise = build_enterprise(lake)
    return done
