"""Staging: one source file -> typed, validated rows in the neutral vocabulary, and quarantined rows.

Every row read is either landed or quarantined with a reason (``rows_read == landed + quarantined``):

* the file is read as UTF-8; a cell holding bytes that are not UTF-8 is decoded as Windows-1252
  (what legacy exports write) and counted as repaired;
* whitespace is trimmed, coded values are matched case-insensitively and mapped to canonical codes,
  names written in one case are title-cased (all counted as normalised);
* a pandera schema declared from the source contract checks required values, code lists, date and
  integer formats and dates after the extract date; failing rows are quarantined with every reason;
* an exact duplicate is quarantined as a duplicate of the row it repeats, and of two rows with one
  key the later wins and the earlier is quarantined as superseded.

A file that cannot be read as a whole (empty, wrong delimiter, missing columns) quarantines every row
it holds, or records one file-level row (row number 0) when there are none.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandera.polars as pa
import polars as pl

from lake.contracts.codes import CODE_LISTS
from lake.contracts.sources import NEUTRAL_TABLES, YES_NO_COLUMNS, SourceSystem, column_dtype

NAME_COLUMNS = frozenset({"first_name", "middle_name", "surname"})
OTHER_DELIMITERS = (",", "|", ";", "\t")
LINEAGE_COLUMNS = (
    "_source",
    "_extract_id",
    "_extract_date",
    "_ingested_at",
    "_source_file",
    "_row_number",
    "_row_hash",
)
QUARANTINE_SCHEMA = {
    "_source": pl.String,
    "_extract_id": pl.String,
    "source_table": pl.String,
    "source_file": pl.String,
    "row_number": pl.Int64,
    "raw": pl.String,
    "reason": pl.String,
    "_ingested_at": pl.Datetime("us", "UTC"),
}


@dataclass
class StagedFile:
    table: str  # neutral table name
    source_file: str
    rows_read: int
    landed: pl.DataFrame
    quarantined: pl.DataFrame
    repaired_cells: int = 0
    normalised_cells: int = 0
    warnings: list[str] = field(default_factory=list)
    file_error: str | None = None

    @property
    def rows_quarantined(self) -> int:
        """Quarantined data rows; a file-level record (row number 0) stands for no row."""
        return self.quarantined.filter(pl.col("row_number") > 0).height


def _repair(cell: str) -> tuple[str, bool]:
    """Undecodable bytes (kept as surrogates) read as Windows-1252, as legacy exports write them."""
    try:
        cell.encode("utf-8")
        return cell, False
    except UnicodeEncodeError:
        raw = cell.encode("utf-8", "surrogateescape")
        return raw.decode("cp1252", errors="replace"), True


def _detect_delimiter(header_line: str, expected: list[str], used: str) -> str | None:
    for d in OTHER_DELIMITERS:
        if d != used and set(expected) <= {h.strip() for h in header_line.split(d)}:
            return d
    return None


def _quarantine_frame(
    rows: list[dict],
    system: SourceSystem,
    extract_id: str,
    source_table: str,
    source_file: str,
    ingested_at: dt.datetime,
) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "_source": system.name,
                "_extract_id": extract_id,
                "source_table": source_table,
                "source_file": source_file,
                "row_number": r["row_number"],
                "raw": r["raw"],
                "reason": r["reason"],
                "_ingested_at": ingested_at,
            }
            for r in rows
        ],
        schema=QUARANTINE_SCHEMA,
    )


def empty_staging_frame(table: str) -> pl.DataFrame:
    cols = {c: column_dtype(table, c) for c in NEUTRAL_TABLES[table]["columns"]}
    cols.update(
        {
            "_source": pl.String,
            "_extract_id": pl.String,
            "_extract_date": pl.Date(),
            "_ingested_at": pl.Datetime("us", "UTC"),
            "_source_file": pl.String,
            "_row_number": pl.Int64,
            "_row_hash": pl.String,
        }
    )
    return pl.DataFrame(schema=cols)


def contract_schema(system: SourceSystem, table: str, extract_date: dt.date) -> pa.DataFrameSchema:
    """The pandera schema a source table's rows must meet, declared from the contract."""
    spec = NEUTRAL_TABLES[table]
    columns = {}
    for col in spec["columns"]:
        checks = []
        if col in spec.get("datetimes", ()):
            checks += _date_checks(col, system.strptime_datetime, pl.Datetime("us", "UTC"), extract_date)
        elif col in spec.get("dates", ()):
            checks += _date_checks(col, system.strptime_date, pl.Date(), extract_date)
        elif col in spec.get("ints", ()):
            checks.append(
                pa.Check(
                    lambda d: d.lazyframe.select(
                        pl.col(d.key).is_null() | pl.col(d.key).cast(pl.Int64, strict=False).is_not_null()
                    ),
                    name="integer",
                )
            )
        elif col in YES_NO_COLUMNS:
            checks.append(pa.Check.isin(["true", "false"], name="yes/no code"))
        elif col in spec["codes"]:
            checks.append(pa.Check.isin(list(CODE_LISTS[col]), name="code list"))
        columns[col] = pa.Column(pl.String, nullable=col not in spec["required"], checks=checks)
    return pa.DataFrameSchema(columns, strict=False, name=f"{system.name}.{system.table(table)}")


def _date_checks(col: str, fmt: str, dtype: pl.DataType, extract_date: dt.date) -> list[pa.Check]:
    parsed = lambda d: pl.col(d.key).str.strptime(dtype, fmt, strict=False)  # noqa: E731
    limit = dt.datetime.combine(extract_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    bound = limit if isinstance(dtype, pl.Datetime) else extract_date
    return [
        pa.Check(
            lambda d: d.lazyframe.select(pl.col(d.key).is_null() | parsed(d).is_not_null()), name=f"date format {fmt}"
        ),
        pa.Check(
            lambda d: d.lazyframe.select(parsed(d).is_null() | (parsed(d) <= bound)), name="not after the extract date"
        ),
    ]


def _normalise(df: pl.DataFrame, system: SourceSystem, table: str) -> tuple[pl.DataFrame, int]:
    """Trim, map coded values case-insensitively to canonical codes, title-case one-case names."""
    spec = NEUTRAL_TABLES[table]
    before = df
    exact_codes = {c for c in spec["columns"] if c in YES_NO_COLUMNS or c in spec["codes"]}
    exprs = []
    for col in spec["columns"]:
        c = pl.col(col).str.strip_chars()
        c = pl.when(c == "").then(None).otherwise(c)
        source_map = system.source_codes(col)
        if col in YES_NO_COLUMNS or col in spec["codes"]:
            canonical = list(CODE_LISTS.get(col, ("true", "false")))
            lookup = {v.lower(): v for v in canonical}
            lookup.update({k.lower(): v for k, v in source_map.items()})
            lowered = c.str.to_lowercase()
            c = pl.when(lowered.is_in(list(lookup))).then(lowered.replace_strict(lookup, default=None)).otherwise(c)
        elif col in NAME_COLUMNS:
            one_case = (c == c.str.to_uppercase()) | (c == c.str.to_lowercase())
            c = pl.when(one_case & (c.str.len_chars() > 1)).then(c.str.to_titlecase()).otherwise(c)
        exprs.append(c.alias(col))
    after = df.with_columns(exprs)
    # Normalised = a cell that needed trimming or a case fix; mapping a source code to its canonical
    # code is translation, not repair, and is not counted.
    changed = 0
    for col in spec["columns"]:
        raw = before[col]
        exact = set(system.source_codes(col)) | set(CODE_LISTS.get(col, ())) if col in exact_codes else None
        needs = raw.is_not_null() & (raw.str.strip_chars() != "")
        needs = needs & ~raw.is_in(list(exact)) if exact is not None else needs & (raw != after[col]).fill_null(True)
        changed += int(needs.sum())
    return after, changed


def _typed(df: pl.DataFrame, system: SourceSystem, table: str) -> pl.DataFrame:
    spec = NEUTRAL_TABLES[table]
    exprs = []
    for col in spec["columns"]:
        dtype = column_dtype(table, col)
        if col in spec.get("datetimes", ()):
            exprs.append(pl.col(col).str.strptime(dtype, system.strptime_datetime, strict=False))
        elif col in spec.get("dates", ()):
            exprs.append(pl.col(col).str.strptime(dtype, system.strptime_date, strict=False))
        elif dtype == pl.Int64:
            exprs.append(pl.col(col).cast(pl.Int64, strict=False))
        elif dtype == pl.Boolean:
            exprs.append(pl.col(col) == "true")
    return df.with_columns(exprs)


def row_hash(df: pl.DataFrame, columns: list[str]) -> pl.Series:
    """SHA-256 of a row's business columns: stable across polars versions, unlike ``DataFrame.hash_rows``."""
    joined = df.select(
        pl.concat_str([pl.col(c).cast(pl.String).fill_null("\x00") for c in columns], separator="\x1f").alias("j")
    )["j"]
    return pl.Series("_row_hash", [hashlib.sha256(v.encode("utf-8")).hexdigest() for v in joined], dtype=pl.String)


def stage_file(
    path: Path, system: SourceSystem, table: str, extract_id: str, extract_date: dt.date, ingested_at: dt.datetime
) -> StagedFile:
    """Stage one source file; never raises for bad content, only records it."""
    spec = NEUTRAL_TABLES[table]
    source_table = system.table(table)
    source_file = path.name
    expected = [system.column(table, c) for c in spec["columns"]]
    q = lambda rows: _quarantine_frame(rows, system, extract_id, source_table, source_file, ingested_at)  # noqa: E731

    def file_error(reason: str, records: list[list[str]] | None = None, header: list[str] | None = None) -> StagedFile:
        rows = [
            {
                "row_number": i,
                "raw": json.dumps(dict(zip(header or [], r, strict=False)) if header else r),
                "reason": reason,
            }
            for i, r in enumerate(records or [], start=1)
        ]
        n = len(rows)
        if not rows:
            rows = [{"row_number": 0, "raw": "", "reason": reason}]
        return StagedFile(table, source_file, n, empty_staging_frame(table), q(rows), file_error=reason)

    if not path.exists():
        return file_error("file missing: the control file lists it but the extract does not hold it")
    data = path.read_bytes()
    if not data.strip():
        return file_error("empty file: no header and no rows")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:200]:
        return file_error("not UTF-8 text: the file looks like UTF-16 or binary")
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=system.delimiter))
    header, body = [h.strip() for h in records[0]], records[1:]
    missing = [c for c in expected if c not in header]
    if missing:
        other = _detect_delimiter(text.split("\n", 1)[0], expected, system.delimiter)
        reason = (
            f"wrong delimiter: {system.name} files use {system.delimiter!r}, this one uses {other!r}"
            if other
            else f"missing column(s) {', '.join(missing)}"
        )
        return file_error(reason, body, header)
    warnings = (
        [f"extra column(s) ignored: {', '.join(c for c in header if c not in expected)}"]
        if set(header) - set(expected)
        else []
    )
    index = [header.index(c) for c in expected]
    good_rows: list[list[str | None]] = []
    bad: list[dict] = []
    repaired = 0
    for number, record in enumerate(body, start=1):
        if len(record) != len(header):
            bad.append(
                {
                    "row_number": number,
                    "raw": json.dumps(record),
                    "reason": f"wrong number of fields: {len(record)}, expected {len(header)}",
                }
            )
            continue
        cells = [_repair(c) for c in record]  # once per cell: the landed columns and the raw JSON share it
        repaired += sum(cells[i][1] for i in index)
        raw = json.dumps(dict(zip(header, (c for c, _ in cells), strict=True)))
        good_rows.append([*(cells[i][0] for i in index), number, raw])
    frame = pl.DataFrame(
        good_rows,
        schema={**{c: pl.String for c in spec["columns"]}, "_row_number": pl.Int64, "_raw": pl.String},
        orient="row",
    )
    frame, normalised = _normalise(frame, system, table)
    # Validate against the declared contract; pandera reports every failure with its row index.
    reasons: dict[int, list[str]] = {}
    try:
        contract_schema(system, table, extract_date).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        for fc in exc.failure_cases.iter_rows(named=True):
            if fc["index"] is None:  # a failure of the whole table: no row can be trusted
                return file_error(
                    f"contract failure for the whole file: {fc['check']} ({fc['failure_case']})", body, header
                )
            check = fc["check"] or "invalid"
            what = "missing required value" if check == "not_nullable" else check
            source_col = system.column(table, fc["column"]) if fc["column"] in spec["columns"] else fc["column"]
            reasons.setdefault(int(fc["index"]), []).append(f"{what} in {source_col}: {fc['failure_case']!r}")
    frame = frame.with_row_index("_i")
    invalid = frame.filter(pl.col("_i").is_in(list(reasons)))
    for r in invalid.iter_rows(named=True):
        bad.append({"row_number": r["_row_number"], "raw": r["_raw"], "reason": "; ".join(reasons[r["_i"]])})
    valid = frame.filter(~pl.col("_i").is_in(list(reasons))).drop("_i")
    # Duplicates within the batch: exact copies, then keys seen twice (the later row wins).
    cols = list(spec["columns"])
    first_seen = valid.group_by(cols, maintain_order=True).agg(pl.col("_row_number").min().alias("_first"))
    valid = valid.join(first_seen, on=cols, how="left", nulls_equal=True)
    for r in valid.filter(pl.col("_row_number") != pl.col("_first")).iter_rows(named=True):
        bad.append(
            {"row_number": r["_row_number"], "raw": r["_raw"], "reason": f"exact duplicate of row {r['_first']}"}
        )
    valid = valid.filter(pl.col("_row_number") == pl.col("_first")).drop("_first")
    keys = list(spec["key"])
    last = valid.group_by(keys, maintain_order=True).agg(pl.col("_row_number").max().alias("_last"))
    valid = valid.join(last, on=keys, how="left")
    for r in valid.filter(pl.col("_row_number") != pl.col("_last")).iter_rows(named=True):
        bad.append(
            {
                "row_number": r["_row_number"],
                "raw": r["_raw"],
                "reason": f"superseded by row {r['_last']} with the same key",
            }
        )
    valid = valid.filter(pl.col("_row_number") == pl.col("_last")).drop("_last", "_raw")
    landed = _typed(valid, system, table)
    landed = landed.with_columns(
        row_hash(landed, cols),
        pl.lit(system.name).alias("_source"),
        pl.lit(extract_id).alias("_extract_id"),
        pl.lit(extract_date).alias("_extract_date"),
        pl.lit(ingested_at).cast(pl.Datetime("us", "UTC")).alias("_ingested_at"),
        pl.lit(source_file).alias("_source_file"),
    ).select(*cols, *LINEAGE_COLUMNS)
    quarantined = q(sorted(bad, key=lambda r: r["row_number"]))
    return StagedFile(table, source_file, len(body), landed, quarantined, repaired, normalised, warnings)
