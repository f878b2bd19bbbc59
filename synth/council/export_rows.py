"""Rows as a source system exports them: rendered in its flavour (its column names, codes and date formats), about
``defect_rate`` of them given one deliberate defect each, and written as its CSV bytes.

Each defect is recorded with the file, row, column, original and written value, and what a correct pipeline
does with it (``DEFECT_EXPECTED``: the contract the staging layer is tested against).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lake.contracts.sources import NEUTRAL_TABLES, YES_NO_COLUMNS, SourceSystem

# Characters that the writer encodes in Windows-1252 instead of UTF-8, as a legacy source system would:
# each private-use mark in a cell becomes that one cp1252 byte in the file.
CP1252_MARKS = {"\ue000": ("’", b"\x92"), "\ue001": ("é", b"\xe9")}

DEFECT_KINDS = (
    "duplicate_row",
    "missing_required",
    "malformed_date",
    "future_date",
    "invalid_code",
    "cp1252_char",
    "stray_whitespace",
    "inconsistent_case",
)
# What a correct pipeline does with each defect: the contract the staging layer is tested against.
DEFECT_EXPECTED = {
    "duplicate_row": "deduplicate",
    "missing_required": "quarantine",
    "malformed_date": "quarantine",
    "future_date": "quarantine",
    "invalid_code": "quarantine",
    "cp1252_char": "repair",
    "stray_whitespace": "normalise",
    "inconsistent_case": "normalise",
}
TEXT_COLUMNS = {
    "case_note": "note_text",
    "person": "surname",
    "form_answer": "answer_text",
    "document": "title",
    "adopter_household": "report_text",
    "worker": "surname",
}
# The pathway's own tables get no cell defects: a row of them quarantined leaves its neighbours contradicting each
# other (a CP plan whose conference is gone), which the CIN census check would block on; the errors the census
# must catch are planted by rule instead (synth.council.pathway.CIN_DEFECTS).
NO_DEFECT_TABLES = frozenset(
    {
        "access_restriction",
        "deleted_record",
        "contact",
        "assessment",
        "assessment_factor",
        "s47_enquiry",
        "icpc",
        "cp_review",
        "cin_plan",
    }
)
MALFORMED_DATES = ["31/02/2021", "2021-13-45", "00/00/0000", "unknown", "32-JAN-2020", "1/1/21x"]


def _render_value(flavour: SourceSystem, table: str, col: str, value) -> str:
    spec = NEUTRAL_TABLES[table]
    if value is None:
        return ""
    if col in spec.get("datetimes", ()):
        return flavour.format_datetime(value)
    if col in spec.get("dates", ()):
        return flavour.format_date(value)
    if isinstance(value, bool) or col in YES_NO_COLUMNS:
        return flavour.code("yes_no", str(bool(value)).lower())
    if col in ("sex", "gender", "relation", "person_type"):
        return flavour.code(col, str(value))
    if col == "reason" and table == "person_gender":
        return str(value)
    return str(value)


def render_table(flavour: SourceSystem, table: str, rows: list[dict]) -> list[dict[str, str]]:
    cols = NEUTRAL_TABLES[table]["columns"]
    return [{flavour.column(table, c): _render_value(flavour, table, c, r.get(c)) for c in cols} for r in rows]


@dataclass(frozen=True)
class _Table:
    """What a defect needs to know of the table it is planted in (in neutral column names)."""

    flavour: SourceSystem
    name: str
    as_of: dt.date

    @property
    def spec(self) -> dict:
        return NEUTRAL_TABLES[self.name]

    @property
    def dates(self) -> list[str]:
        return [*self.spec.get("dates", ()), *self.spec.get("datetimes", ())]

    @property
    def codes(self) -> list[str]:
        return list(self.spec.get("codes", ()))

    @property
    def text_column(self) -> str | None:
        return TEXT_COLUMNS.get(self.name)

    def col(self, column: str) -> str:
        """The flavour's name of a neutral column."""
        return self.flavour.column(self.name, column)


# A cell defect plants itself in one row: the (neutral) column and the value written there, drawn from the row's
# own generator; None when the row has no cell it fits (the row is then written as it is, without a defect).
Planted = tuple[str, str] | None
CellDefect = Callable[[_Table, dict[str, str], np.random.Generator], Planted]


def _draw_filled(table: _Table, row: dict[str, str], columns, rng: np.random.Generator) -> str | None:
    """One of ``columns`` that has a value in ``row``, drawn from ``rng``; None (and no draw) when none has."""
    filled = [c for c in columns if row[table.col(c)]]
    return str(rng.choice(filled)) if filled else None


def _missing_required(table: _Table, row: dict[str, str], rng: np.random.Generator) -> Planted:
    return str(rng.choice(table.spec["required"])), ""


def _malformed_date(table: _Table, row: dict[str, str], rng: np.random.Generator) -> Planted:
    column = _draw_filled(table, row, table.dates, rng)
    return None if column is None else (column, str(rng.choice(MALFORMED_DATES)))


def _future_date(table: _Table, row: dict[str, str], rng: np.random.Generator) -> Planted:
    column = _draw_filled(table, row, table.dates, rng)
    if column is None:
        return None
    future = table.as_of + dt.timedelta(days=int(rng.integers(400, 3000)))
    if column in table.spec.get("datetimes", ()):
        return column, table.flavour.format_datetime(dt.datetime(future.year, future.month, future.day, 9, 0))
    return column, table.flavour.format_date(future)


def _invalid_code(table: _Table, row: dict[str, str], rng: np.random.Generator) -> Planted:
    column = _draw_filled(table, row, table.codes, rng)
    return None if column is None else (column, "ZZ9")


def _cp1252_char(table: _Table, row: dict[str, str], rng: np.random.Generator) -> Planted:
    """A quote or an ``e`` of the text marked to be written as its one cp1252 byte (or a marked quote added)."""
    column = table.text_column
    if not column or not row[table.col(column)]:
        return None
    v = row[table.col(column)]
    if "'" in v:
        return column, v.replace("'", "\ue000", 1)
    if "e" in v:
        i = v.rindex("e")
        return column, v[:i] + "\ue001" + v[i + 1 :]
    return column, v + "\ue000"


def _stray_whitespace(table: _Table, row: dict[str, str], rng: np.random.Generator) -> Planted:
    dates = table.dates
    column = str(rng.choice([c for c in table.spec["columns"] if row[table.col(c)] and c not in dates]))
    return column, f"  {row[table.col(column)]} "


def _inconsistent_case(table: _Table, row: dict[str, str], rng: np.random.Generator) -> Planted:
    names = [c for c in (*table.codes, "surname", "first_name") if c in table.spec["columns"]]
    has_case = [c for c in names if row[table.col(c)].upper() != row[table.col(c)].lower()]
    column = _draw_filled(table, row, has_case, rng)
    if column is None:
        return None
    v = row[table.col(column)]
    return column, v.lower() if v != v.lower() else v.upper()


# Every defect but the duplicate row (which copies the whole row) changes one cell.
_CELL_DEFECTS: dict[str, CellDefect] = {
    "missing_required": _missing_required,
    "malformed_date": _malformed_date,
    "future_date": _future_date,
    "invalid_code": _invalid_code,
    "cp1252_char": _cp1252_char,
    "stray_whitespace": _stray_whitespace,
    "inconsistent_case": _inconsistent_case,
}
# What a table must have for a defect to be planted in it at all.
_NEEDS: dict[str, Callable[[_Table], object]] = {
    "malformed_date": lambda t: t.dates,
    "future_date": lambda t: t.dates,
    "invalid_code": lambda t: t.codes,
    "cp1252_char": lambda t: t.text_column,
}


def inject_defects(
    flavour: SourceSystem,
    table: str,
    rows: list[dict[str, str]],
    rng: np.random.Generator,
    rate: float,
    as_of: dt.date,
    start: int = 0,
) -> tuple[list[dict[str, str]], list[dict]]:
    """Mess up about ``rate`` of the rows, one defect each, and say exactly where and what. ``start``: the data
    rows of the file written before these (a table written in chunks continues ``rng`` and the row numbers)."""
    shape = _Table(flavour, table, as_of)
    applicable = [k for k in DEFECT_KINDS if k not in _NEEDS or _NEEDS[k](shape)]
    out: list[dict[str, str]] = []
    marks: list[tuple[int, dict]] = []
    for row in rows:
        out.append(row)
        if table in NO_DEFECT_TABLES or rng.random() >= rate:
            continue
        # The defect's kind and column come from the row's own generator: a choice that one export shape
        # cannot make (Mosaic's 1/0 codes have no case) must not shift the defects of later rows.
        rng_row = np.random.default_rng([int(rng.integers(0, 2**32)), start + len(out)])
        kind = applicable[int(rng_row.integers(0, len(applicable)))]
        record = {
            "table": table,
            "source_table": flavour.table(table),
            "defect": kind,
            "expected": DEFECT_EXPECTED[kind],
            "key": "|".join(row[shape.col(k)] for k in shape.spec["key"]),
        }
        if kind == "duplicate_row":
            out.append(dict(row))
            marks.append((len(out) - 1, record))
            continue
        planted = _CELL_DEFECTS[kind](shape, row, rng_row)
        if planted is None:
            continue
        column, value = planted
        original = row[shape.col(column)]
        row[shape.col(column)] = value
        record.update(
            {"column": column, "source_column": shape.col(column), "original": original, "value": decode_marks(value)}
        )
        marks.append((len(out) - 1, record))
    defects = []
    for index, record in marks:
        record["row_number"] = start + index + 1  # 1-based data row, header excluded
        defects.append(record)
    return out, defects


def write_csv(path: Path, flavour: SourceSystem, rows: list[dict[str, str]], columns: list[str]) -> None:
    """UTF-8 CSV, except cells marked for cp1252, whose marked character is written as one cp1252 byte."""
    path.write_bytes(csv_bytes(flavour, rows, columns, header=True))


def csv_bytes(flavour: SourceSystem, rows: list[dict[str, str]], columns: list[str], header: bool) -> bytes:
    """Rows (after the header line when ``header``) as :func:`write_csv` writes them."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=flavour.delimiter, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    if header:
        w.writerow(columns)
    for r in rows:
        w.writerow([r[c] for c in columns])
    data = buf.getvalue().encode("utf-8")
    for mark, (_, byte) in CP1252_MARKS.items():
        data = data.replace(mark.encode("utf-8"), byte)
    return data


def decode_marks(value: str) -> str:
    """The value as a reader that falls back to cp1252 would see it."""
    for mark, (char, _) in CP1252_MARKS.items():
        value = value.replace(mark, char)
    return value
