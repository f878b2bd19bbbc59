"""Staging: one source file -> typed, validated rows in the neutral vocabulary, and quarantined rows.

A file is staged ``ROWS_PER_BATCH`` records at a time into Parquet spools in a scratch folder, so its peak memory
is set by the batch, not by the file (decision 0039); duplicates are found across the whole file.

Every row read is either landed or quarantined with a reason (``rows_read == landed + quarantined``):

* a record whose quoted field runs on over lines that look like rows (an unbalanced quote) is not taken as
  one row: each of its physical lines is quarantined as a row of its own;
* a row with the wrong number of fields, a field over ``MAX_FIELD_CHARS``, a NUL byte or another control
  character (other than tab and line breaks) is quarantined;

* the file's encoding is detected, not guessed (decision 0033): UTF-8 when it is (or when its few bad bytes
  sit among UTF-8 text: those cells are damaged), otherwise the encoding charset-normalizer finds with
  confidence and the whole file decodes in (Windows-1252, Shift-JIS, ...), its non-ASCII cells counted as
  decoded (``repaired_cells``); a cell whose bytes no encoding explains quarantines its row with "undecodable
  text in <column>" — never replaced;
* whitespace is trimmed, coded values are matched case-insensitively and mapped to canonical codes,
  names written in one case are title-cased (all counted as normalised);
* a pandera schema declared from the source contract checks required values, code lists, date and
  integer formats and dates after the extract date; failing rows are quarantined with every reason;
* an exact duplicate is quarantined as a duplicate of the row it repeats, and of two rows with one
  key the later wins and the earlier is quarantined as superseded.

A file that cannot be staged as a whole — missing, a symbolic link, empty, compressed or binary, UTF-16, an
unreadable header,
a duplicate, missing or unknown column, the wrong delimiter — is refused with the reason
(:class:`FileRefused`): its extract fails and stages nothing (:func:`lake.ingest.pipeline.stage_extract`).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pandera.polars as pa
import polars as pl

from lake.contracts.codes import CODE_LISTS
from lake.contracts.sources import NEUTRAL_TABLES, YES_NO_COLUMNS, SourceSystem, column_dtype
from lake.storage.spool import Spool

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


# A field longer than this is quarantined (a long pasted note of a million characters still lands). The CSV
# reader's own limit (131,072 by default) is raised above it, so no field stops a file mid-way.
MAX_FIELD_CHARS = 1_000_000
csv.field_size_limit(8 * MAX_FIELD_CHARS)
# C0 control characters other than tab, line feed and carriage return, and DEL: a row holding one is
# quarantined, never landed with the character altered or dropped (NUL bytes mean a corrupt export).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class FileRefused(ValueError):
    """A file that cannot be staged as a whole (its rows are held with the extract, which fails)."""


@dataclass
class StagedFile:
    table: str  # neutral table name
    source_file: str
    rows_read: int
    landed: Spool  # the rows to MERGE, typed and with lineage, in Parquet files of a batch each
    quarantined: Spool
    repaired_cells: int = 0  # cells decoded from the file's legacy encoding (not UTF-8)
    normalised_cells: int = 0
    file_error: str | None = None
    encoding: str = "utf-8"  # the encoding the file was read in (detected)

    @property
    def rows_landed(self) -> int:
        return self.landed.rows

    @property
    def rows_quarantined(self) -> int:
        return self.quarantined.rows


UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes the file's encoding could not decode, kept as surrogates
WIDE = re.compile("[^\x00-\x7f\udc80-\udcff]")  # characters decoded from more than one byte
# What a compressed or binary file starts with: refused by name, not parsed as a table of garbage.
MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"PK\x03\x04", "zip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"%PDF-", "PDF"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document"),
)
CONFIDENT_CHAOS = 0.2  # charset-normalizer's "mess" ratio above which its guess is not trusted
ENOUGH_EVIDENCE = 8  # non-UTF-8 bytes below which no detector can tell encodings apart
LEGACY_DEFAULT = "cp1252"  # what English councils' legacy exports write, when there is too little to detect
# Encodings a case-management export is written in; others (mac_iceland for one stray byte) are detector noise.
# Latin-1 is read as Windows-1252, which defines printable characters where Latin-1 has control codes.
LEGACY_ENCODINGS = {
    "cp1252", "latin_1", "iso8859_1", "iso8859_15", "cp1250", "iso8859_2", "cp1251", "koi8_r", "iso8859_5",
    "cp1253", "iso8859_7", "cp1254", "iso8859_9", "cp1256", "cp1255", "cp437", "cp850", "cp932", "shift_jis",
    "euc_jp", "gb18030", "gbk", "gb2312", "big5", "euc_kr", "cp949",
}  # fmt: skip


def _decodes(path: Path, encoding: str) -> bool:
    try:
        with path.open(encoding=encoding, errors="strict", newline="") as f:
            for _ in f:
                pass
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def detect_encoding(path: Path) -> str:
    """The encoding to read ``path`` in, never a guess that replaces bytes:

    - "utf-8" when the file is UTF-8, or UTF-8 text with a few damaged bytes (more characters decoded from
      several bytes than bytes that failed): the damaged cells quarantine their rows;
    - with enough non-UTF-8 bytes to tell (``ENOUGH_EVIDENCE``), the first of charset-normalizer's answers that
      is a legacy export encoding, confident, and decodes every byte of the file;
    - with fewer, Windows-1252 when it decodes every byte (what English legacy exports write);
    - else "utf-8": the bytes nothing explains quarantine their rows as undecodable."""
    if _decodes(path, "utf-8"):  # nearly every file: one strict decode, no counting
        return "utf-8"
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    undecodable = wide = 0
    with path.open("rb") as raw:
        while block := raw.read(1 << 20):
            text = decoder.decode(block)
            undecodable += len(UNDECODABLE.findall(text))
            wide += len(WIDE.findall(text))
        undecodable += len(UNDECODABLE.findall(decoder.decode(b"", final=True)))
    if wide >= undecodable:
        return "utf-8"
    if undecodable >= ENOUGH_EVIDENCE:
        import charset_normalizer

        for match in charset_normalizer.from_path(path):
            encoding = "cp1252" if match.encoding in ("latin_1", "iso8859_1") else match.encoding
            if encoding in LEGACY_ENCODINGS and match.chaos <= CONFIDENT_CHAOS and _decodes(path, encoding):
                return encoding
        return "utf-8"
    return LEGACY_DEFAULT if _decodes(path, LEGACY_DEFAULT) else "utf-8"


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
            if col in spec.get("earliest", {}):
                checks.append(_earliest_check(spec["earliest"][col], system.strptime_date))
        elif col in spec.get("ints", ()):
            checks.append(
                pa.Check(
                    lambda d: d.lazyframe.select(
                        pl.col(d.key).is_null() | pl.col(d.key).cast(pl.Int64, strict=False).is_not_null()
                    ),
                    name="integer",
                )
            )
            if col in spec.get("ranges", {}):
                checks.append(_range_check(*spec["ranges"][col]))
        elif col in YES_NO_COLUMNS:
            checks.append(pa.Check.isin(["true", "false"], name="yes/no code"))
        elif col in spec["codes"]:
            checks.append(pa.Check.isin(list(CODE_LISTS[col]), name="code list"))
        columns[col] = pa.Column(pl.String, nullable=col not in spec["required"], checks=checks)
    return pa.DataFrameSchema(columns, strict=False, name=f"{system.name}.{system.table(table)}")


def _range_check(low: int | None, high: int | None) -> pa.Check:
    """An integer within its natural range (an age, a count); a non-integer is the integer check's to report."""

    def within(d):
        value = pl.col(d.key).cast(pl.Int64, strict=False)
        ok = value.is_null()
        ok = ok | ((value >= low) if low is not None else True) & ((value <= high) if high is not None else True)
        return d.lazyframe.select(ok)

    name = f"between {low} and {high}" if high is not None else f"at least {low}"
    return pa.Check(within, name=name)


def _earliest_check(earliest: dt.date, fmt: str) -> pa.Check:
    def after(d):
        parsed = pl.col(d.key).str.strptime(pl.Date(), fmt, strict=False)
        return d.lazyframe.select(parsed.is_null() | (parsed >= earliest))

    return pa.Check(after, name=f"not before {earliest.isoformat()}")


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
    for col in (c for c in spec["columns"] if c in df.columns):
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


def read_text(path: Path) -> str:
    """The file's text, or :class:`FileRefused` with the reason it cannot be read as a table at all.

    Bytes its encoding cannot decode are kept (as surrogates, which quarantine their row); a BOM is dropped."""
    with read_lines(path) as lines:
        return "".join(lines)


class TextLines:
    """A file's lines as they are read, and the encoding they are read in."""

    def __init__(self, lines: Iterator[str], encoding: str):
        self._lines, self.encoding = lines, encoding

    def __iter__(self) -> Iterator[str]:
        return self._lines


@contextmanager
def read_lines(path: Path) -> Iterator[TextLines]:
    """The file's lines, split as a CSV reader splits them (``newline=""``) and read as they are used: a
    file of gigabytes is never in memory whole. :class:`FileRefused` with the reason when it cannot be read
    as a table at all. Read in its detected encoding (:func:`detect_encoding`); bytes that encoding cannot
    decode are kept as surrogates (their row is quarantined); a BOM is dropped."""
    if path.is_symlink():
        raise FileRefused("a symbolic link: only regular files inside the extract are read")
    if not path.exists():
        raise FileRefused("file missing: the control file lists it but the extract does not hold it")
    try:
        with path.open("rb") as raw:
            head = raw.read(4096)
            blank = not head.strip()
            while blank and (block := raw.read(1 << 20)):  # whitespace only so far: is there anything else?
                blank = not block.strip()
        if blank:
            raise FileRefused("empty file: no header and no rows")
        for magic, kind in MAGIC:
            if head.startswith(magic):
                raise FileRefused(f"not a text file ({kind}): a compressed or binary file where a CSV was declared")
        if head[:2] in (b"\xff\xfe", b"\xfe\xff") or head.count(b"\x00") * 10 >= len(head):  # UTF-16 or binary
            raise FileRefused("not UTF-8 text: the file looks like UTF-16 or binary")
        encoding = detect_encoding(path)
        f = path.open(encoding=encoding, errors="surrogateescape", newline="")
    except OSError as exc:
        raise FileRefused(f"unreadable: {exc.strerror or exc}") from exc

    def lines() -> Iterator[str]:
        try:
            first = next(f, None)
            if first is None:
                return
            yield first.removeprefix("\ufeff")
            yield from f
        except OSError as exc:
            raise FileRefused(f"unreadable: {exc.strerror or exc}") from exc

    with f:
        yield TextLines(lines(), encoding)


def count_records(path: Path, delimiter: str) -> int:
    """The data records a file holds, split as a CSV reader splits them (0 when it cannot be read as text)."""
    try:
        with read_lines(path) as lines:
            return max(0, sum(1 for _ in csv.reader(iter(lines), delimiter=delimiter)) - 1)
    except (FileRefused, csv.Error):
        return 0


class RecordReader:
    """A file's records as they are read (never all at once): each with its data row number (header excluded)
    and its raw fields, and the rows that could not be split safely, with their reasons (:attr:`bad`, drained
    by the caller batch by batch).

    An unbalanced quote makes a CSV reader swallow the following lines into one field. A record that spans
    several physical lines is taken as written only when its field count is right and its quotes close
    within it (a note with line breaks); otherwise each of its physical lines is quarantined as a row, so
    the rows swallowed are counted and kept, not merged. A quote that never closes can run past the reader's
    field limit: every line from there on is quarantined as a row the same way. A run-on field whose count
    happens to come out right still shows in the rows read, which must equal the rows declared."""

    def __init__(self, text: str | Iterable[str], delimiter: str):
        self._source = iter(io.StringIO(text, newline="") if isinstance(text, str) else text)
        self._taken: list[str] = []  # the physical lines the reader took since the last record (its span)
        self._delimiter = delimiter
        self._reader = csv.reader(self._feed(), delimiter=delimiter)
        try:
            self.header = [h.strip() for h in next(self._reader)]
        except (StopIteration, csv.Error) as exc:
            raise FileRefused(f"unreadable header: {exc}") from exc
        self.header_line = self._taken[0].split("\n", 1)[0] if self._taken else ""
        self._taken.clear()
        self.bad: list[dict] = []
        self.rows = 0  # data rows read so far, good and bad
        self._done = False

    def _feed(self) -> Iterator[str]:
        for line in self._source:
            self._taken.append(line)
            yield line

    def _quarantine_lines(self, span: Iterable[str], reason: str) -> None:
        for line in span:
            self.rows += 1
            self.bad.append({"row_number": self.rows, "raw": json.dumps(line.rstrip("\r\n")), "reason": reason})

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        width = len(self.header)
        while not self._done:
            try:
                record = next(self._reader)
            except StopIteration:
                break
            except csv.Error as exc:  # a field past the reader's limit: an unbalanced quote ran on
                reason = f"unparseable from this line on ({exc}): a quote never closed"
                self._quarantine_lines([*self._taken, *self._source], reason)
                break
            span = self._taken[:]
            self._taken.clear()
            if len(span) > 1 and (len(record) != width or not _quotes_close(span, self._delimiter)):
                self._quarantine_lines(span, UNBALANCED)
                continue
            self.rows += 1
            if len(record) != width:
                reason = f"wrong number of fields: {len(record)}, expected {width}"
                self.bad.append({"row_number": self.rows, "raw": json.dumps(record), "reason": reason})
                continue
            yield self.rows, record
        self._done = True

    def batches(self, size: int) -> Iterator[list[tuple[int, list[str]]]]:
        """The records, ``size`` at a time (the last batch may be empty: the bad rows after it are drained)."""
        batch: list[tuple[int, list[str]]] = []
        for entry in self:
            batch.append(entry)
            if len(batch) == size:
                yield batch
                batch = []
        yield batch

    def count_rest(self) -> int:
        """Read what is left without keeping it (a refused file's rows are still counted); the rows read."""
        for _ in self:
            pass
        self.bad.clear()
        return self.rows


def _quotes_close(span: list[str], delimiter: str) -> bool:
    """Whether the quoted fields of a record spread over ``span`` close within it (strict CSV)."""
    try:
        list(csv.reader(io.StringIO("".join(span), newline=""), delimiter=delimiter, strict=True))
    except csv.Error:
        return False
    return True


UNBALANCED = "unbalanced quote: a quoted field runs on over the following lines"


def check_header(header: list[str], expected: list[str], system: SourceSystem, header_line: str) -> None:
    """Refuse a header that does not match the contract: every column once, none missing, none unknown.
    ``header_line``: the file's first line as written (to name another delimiter it uses)."""
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise FileRefused(f"duplicate column(s) in the header: {', '.join(duplicated)}")
    missing = [c for c in expected if c not in header]
    if missing:
        other = _detect_delimiter(header_line.split("\n", 1)[0], expected, system.delimiter)
        if other:
            raise FileRefused(f"wrong delimiter: {system.name} files use {system.delimiter!r}, this one uses {other!r}")
        raise FileRefused(f"missing column(s) {', '.join(missing)}")
    unknown = [c for c in header if c not in expected]
    if unknown:
        raise FileRefused(f"unknown column(s) {', '.join(unknown)}: not in the {system.name} contract")


def _cell_problem(cell: str, column: str) -> str | None:
    """Why one cell cannot be landed as it is: a NUL or other control character, or a field too long."""
    if len(cell) > MAX_FIELD_CHARS:
        return f"field over {MAX_FIELD_CHARS:,} characters in {column} ({len(cell):,})"
    if UNDECODABLE.search(cell):
        return f"undecodable text in {column}"
    bad = CONTROL_CHARACTERS.search(cell)
    if bad:
        return f"control character U+{ord(bad.group()):04X} in {column}"
    return None


ROWS_PER_BATCH = 50_000  # records staged at a time: a file's peak memory is set by this, not by its size


def _rows_frame(
    batch: list[tuple[int, list[str]]], header: list[str], columns: list[str], source_columns: list[str], decoded: bool
) -> tuple[pl.DataFrame, list[dict], int]:
    """The contract's columns of a batch of records as strings, the rows refused by cell, and how many landed
    cells hold text decoded from a legacy encoding (``decoded``: the file was not UTF-8)."""
    index = [header.index(c) for c in source_columns]
    schema = {**{c: pl.String for c in columns}, "_row_number": pl.Int64, "_raw": pl.String}
    good: list[list[str | None]] = []
    bad: list[dict] = []
    repaired = 0
    for number, record in batch:
        raw = json.dumps(dict(zip(header, record, strict=True)))
        problems = [p for h, c in zip(header, record, strict=True) if (p := _cell_problem(c, h))]
        if problems:
            bad.append({"row_number": number, "raw": raw, "reason": "; ".join(problems)})
            continue
        if decoded:
            repaired += sum(1 for i in index if not record[i].isascii())
        good.append([*(record[i] for i in index), number, raw])
    return pl.DataFrame(good, schema=schema, orient="row"), bad, repaired


def _contract_failures(
    frame: pl.DataFrame, system: SourceSystem, table: str, extract_date: dt.date
) -> dict[int, list[str]]:
    """Row index -> every reason the pandera contract gives against that row."""
    spec = NEUTRAL_TABLES[table]
    reasons: dict[int, list[str]] = {}
    try:
        contract_schema(system, table, extract_date).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        for fc in exc.failure_cases.iter_rows(named=True):
            if fc["index"] is None:  # a failure of the whole table: no row can be trusted
                raise FileRefused(f"contract failure for the whole file: {fc['check']} ({fc['failure_case']})") from exc
            check = fc["check"] or "invalid"
            what = "missing required value" if check == "not_nullable" else check
            source_col = system.column(table, fc["column"]) if fc["column"] in spec["columns"] else fc["column"]
            reasons.setdefault(int(fc["index"]), []).append(f"{what} in {source_col}: {fc['failure_case']!r}")
    return reasons


def _deduplicated(valid: pl.DataFrame, table: str) -> tuple[pl.DataFrame, list[dict]]:
    """Exact copies quarantined as duplicates; of two rows with one key the later wins, the earlier is
    quarantined as superseded."""
    spec = NEUTRAL_TABLES[table]
    bad: list[dict] = []
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
        reason = f"superseded by row {r['_last']} with the same key"
        bad.append({"row_number": r["_row_number"], "raw": r["_raw"], "reason": reason})
    return valid.filter(pl.col("_row_number") == pl.col("_last")).drop("_last"), bad


# A record's natural key beside its id: a second record with the same natural key under another id is a copy
# (an episode re-keyed by a migration, a review entered twice), quarantined where it enters, so the marts'
# uniqueness tests never meet it.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "cin_episode": ("child_id", "start_date"),
    "cp_plan": ("child_id", "start_date"),
    "cla_episode": ("child_id", "start_date"),
    "cla_review": ("child_id", "review_date"),
}


def _natural_duplicates(frame: pl.DataFrame, table: str, known: pl.DataFrame | None) -> tuple[pl.DataFrame, list[dict]]:
    """Typed rows with their natural key's later copies (in this file, or of a row staged before under another
    id) taken out, and those copies as quarantined rows with the id they copy."""
    natural = NATURAL_KEYS.get(table)
    if not natural or frame.is_empty():
        return frame, []
    id_col = NEUTRAL_TABLES[table]["key"][0]
    what = " and ".join(c.removesuffix("_id").replace("_", " ") for c in natural)
    first = (
        frame.sort("_row_number")
        .group_by(natural, maintain_order=True)
        .agg(pl.col(id_col).first().alias("_first_id"), pl.col("_row_number").first().alias("_first_row"))
    )
    frame = frame.join(first, on=list(natural), how="left", nulls_equal=True)
    bad = [
        {
            "row_number": r["_row_number"],
            "raw": r["_raw"],
            "reason": f"a copy under a new id: {id_col} {r['_first_id']} (row {r['_first_row']}) has the same {what}",
        }
        for r in frame.filter(pl.col("_row_number") != pl.col("_first_row")).iter_rows(named=True)
    ]
    frame = frame.filter(pl.col("_row_number") == pl.col("_first_row")).drop("_first_id", "_first_row")
    if known is not None and not known.is_empty():
        clash = (
            frame.join(known.select(*natural, pl.col(id_col).alias("_known_id")), on=list(natural), how="inner")
            .filter(pl.col("_known_id") != pl.col(id_col))
            .group_by("_row_number", maintain_order=True)
            .agg(pl.col("_known_id").min(), pl.col("_raw").first())
        )
        bad += [
            {
                "row_number": r["_row_number"],
                "raw": r["_raw"],
                "reason": f"a copy under a new id: {id_col} {r['_known_id']}, staged before, has the same {what}",
            }
            for r in clash.iter_rows(named=True)
        ]
        frame = frame.filter(~pl.col("_row_number").is_in(clash["_row_number"].implode()))
    return frame, bad


def _duplicates(checked: Spool, table: str) -> tuple[pl.Series, list[dict]]:
    """The row numbers to drop as exact duplicates or superseded rows, and their quarantine rows. Only rows whose
    key appears more than once are read whole (an exact copy shares its key): the rest are read as keys."""
    keys = list(NEUTRAL_TABLES[table]["key"])
    repeated = (
        checked.scan()
        .group_by(keys)
        .agg(pl.len().alias("_n"))
        .filter(pl.col("_n") > 1)
        .select(keys)
        .collect(engine="streaming")
    )
    if repeated.is_empty():
        return pl.Series("_row_number", [], pl.Int64), []
    candidates = checked.each(lambda rows: rows.join(repeated, on=keys, how="semi", nulls_equal=True))
    kept, bad = _deduplicated(candidates, table)
    dropped = candidates.filter(~pl.col("_row_number").is_in(kept["_row_number"].implode()))["_row_number"]
    return dropped, bad


def _natural_copies(
    checked: Spool, system: SourceSystem, table: str, dropped: pl.Series, known: pl.DataFrame | None
) -> tuple[pl.Series, list[dict]]:
    """The row numbers of copies of a natural key (:data:`NATURAL_KEYS`), and their quarantine rows; reads the
    key, the natural key and the raw row of the rows not already dropped."""
    natural = NATURAL_KEYS.get(table)
    if not natural:
        return pl.Series("_row_number", [], pl.Int64), []
    id_col = NEUTRAL_TABLES[table]["key"][0]
    frame = checked.each(
        lambda rows: rows.filter(~pl.col("_row_number").is_in(dropped.implode())).select(
            id_col, *natural, "_row_number", "_raw"
        )
    )
    _, copies = _natural_duplicates(_typed(frame, system, table), table, known)
    return pl.Series("_row_number", [c["row_number"] for c in copies], pl.Int64), copies


def stage_file(
    path: Path,
    system: SourceSystem,
    table: str,
    extract_id: str,
    extract_date: dt.date,
    ingested_at: dt.datetime,
    scratch: Path,
    known: pl.DataFrame | None = None,
    batch_rows: int | None = None,
) -> StagedFile:
    """Stage one source file into Parquet spools under ``scratch`` (landed rows, quarantined rows); never raises
    for bad content, only records it. ``batch_rows`` records at a time: read them, refuse rows by cell,
    normalise, validate against the contract, spool. Then across the whole file: deduplicate (reading keys,
    and whole rows only where a key repeats), take out copies of a natural key (``known``: this source's rows
    staged before, their id and natural key), type and add lineage, a spooled batch at a time."""
    spec = NEUTRAL_TABLES[table]
    cols = list(spec["columns"])
    batch_rows = batch_rows or ROWS_PER_BATCH
    source_table, source_file = system.table(table), path.name
    expected = [system.column(table, c) for c in spec["columns"]]
    q = lambda rows: _quarantine_frame(rows, system, extract_id, source_table, source_file, ingested_at)  # noqa: E731
    checked = Spool(scratch / "checked", {**dict.fromkeys(cols, pl.String), "_row_number": pl.Int64, "_raw": pl.String})
    quarantined = Spool(scratch / "quarantined", QUARANTINE_SCHEMA)
    landed = Spool(scratch / "landed", dict(empty_staging_frame(table).schema))
    reader, encoding, repaired, normalised = None, "utf-8", 0, 0
    try:
        with read_lines(path) as lines:  # read as staged: the file's text is never held whole
            reader, encoding = RecordReader(lines, system.delimiter), lines.encoding
            try:
                check_header(reader.header, expected, system, reader.header_line)
                for batch in reader.batches(batch_rows):
                    frame, bad, fixed = _rows_frame(batch, reader.header, cols, expected, encoding != "utf-8")
                    frame, changed = _normalise(frame, system, table)
                    reasons = _contract_failures(frame, system, table, extract_date)
                    frame = frame.with_row_index("_i")
                    failing = frame.filter(pl.col("_i").is_in(list(reasons)))
                    bad += [
                        {"row_number": r["_row_number"], "raw": r["_raw"], "reason": "; ".join(reasons[r["_i"]])}
                        for r in failing.iter_rows(named=True)
                    ]
                    checked.write(frame.filter(~pl.col("_i").is_in(list(reasons))).drop("_i"))
                    quarantined.write(q([*reader.bad, *bad]))
                    reader.bad.clear()
                    repaired, normalised = repaired + fixed, normalised + changed
            except FileRefused:
                with suppress(FileRefused):
                    reader.count_rest()  # a refused file's rows are still counted: they are held
                raise
    except FileRefused as refused:
        for spool in (checked, quarantined):
            spool.discard()
        rows = reader.rows if reader else 0
        return StagedFile(table, source_file, rows, landed, quarantined, file_error=str(refused))
    dropped, bad = _duplicates(checked, table)
    copies, copied = _natural_copies(checked, system, table, dropped, known)
    dropped = pl.concat([dropped, copies])
    quarantined.write(q([*bad, *copied]))
    for frame in checked.frames():
        typed = _typed(frame.filter(~pl.col("_row_number").is_in(dropped.implode())), system, table).drop("_raw")
        landed.write(
            typed.with_columns(
                row_hash(typed, cols),
                pl.lit(system.name).alias("_source"),
                pl.lit(extract_id).alias("_extract_id"),
                pl.lit(extract_date).alias("_extract_date"),
                pl.lit(ingested_at).cast(pl.Datetime("us", "UTC")).alias("_ingested_at"),
                pl.lit(source_file).alias("_source_file"),
            )
        )
    checked.discard()
    return StagedFile(table, source_file, reader.rows, landed, quarantined, repaired, normalised, encoding=encoding)
