"""The marts the app reads, published out of the warehouse as one DuckDB file each (decision 0046).

DuckDB lets one process write a database file or any number read it, never both at once: while dbt builds in the
warehouse, the app's reads fail ("Conflicting lock is held"), and while the app holds a read, dbt cannot open the
file and the stage fails. Measured on this machine, both ways. So the app never opens the warehouse. After each
dbt build, every mart the app reads (the ``caselake_app`` exposure's ``depends_on``) that the build touched is copied
into a file of its own beside the warehouse, written under a temporary name and renamed over the old one: a reader
opens either the old file or the new, never half of one, and a reader that has the old one open keeps reading it
(the rename leaves its open file alone). A mart not built yet has no file, which the app says in words.

Each copy is sorted by ``child_id`` where the mart has one: the app reads one child at a time, and DuckDB skips the
row groups whose min/max cannot hold that child.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

SERVED_SUFFIX = ".duckdb"


@dataclass(frozen=True)
class Published:
    """One mart copied for the app."""

    mart: str
    rows: int
    seconds: float


def served_file(served_dir: Path, mart: str) -> Path:
    """The file the app reads ``mart`` from (it holds one table, ``main.<mart>``)."""
    if not mart.isidentifier():
        raise ValueError(f"not a mart name: {mart!r}")
    return served_dir / f"{mart}{SERVED_SUFFIX}"


def publish_marts(
    warehouse: Path, served_dir: Path, marts: Iterable[str], memory_limit: str | None = None
) -> list[Published]:
    """Copy each of ``marts`` that the warehouse holds into its served file, replacing the old file whole.

    A mart the warehouse does not hold (dbt skipped it after a failed test, or it is not built yet) keeps the file
    it had: the app goes on reading the last good copy."""
    served_dir.mkdir(parents=True, exist_ok=True)
    published = []
    with duckdb.connect() as con:
        if memory_limit:
            con.execute(f"set memory_limit = '{memory_limit}'")
        con.execute(f"attach {_literal(warehouse)} as warehouse (read_only)")
        held = {
            name: columns
            for name, columns in con.execute(
                "select table_name, list(column_name) from information_schema.columns"
                " where table_catalog = 'warehouse' and table_schema = 'main' group by table_name"
            ).fetchall()
        }
        for mart in marts:
            if mart not in held:
                continue
            started = time.perf_counter()
            final = served_file(served_dir, mart)
            partial = final.with_name(f".{mart}.{os.getpid()}.partial{SERVED_SUFFIX}")
            partial.unlink(missing_ok=True)
            order = " order by child_id" if "child_id" in held[mart] else ""
            con.execute(f"attach {_literal(partial)} as served")
            try:
                con.execute(f"create table served.main.{mart} as select * from warehouse.main.{mart}{order}")
                rows = con.execute(f"select count(*) from served.main.{mart}").fetchone()[0]
                con.execute("checkpoint served")
            finally:
                con.execute("detach served")
            os.replace(partial, final)  # atomic: readers see the old file or the new one
            published.append(Published(mart, rows, time.perf_counter() - started))
    return published


def read_served(served_dir: Path, mart: str, sql: str, params: list) -> pa.Table | None:
    """Rows of ``sql`` (which names ``main.<mart>``) from the mart's served file, or None when the mart has not
    been published yet. The connection is opened read-only for this one query."""
    path = served_file(served_dir, mart)
    if not path.exists():
        return None
    with duckdb.connect(str(path), read_only=True) as con:
        return con.sql(sql, params=params).to_arrow_table()


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
