"""The audit log: one row per call of the query service, written durably before any result is returned.

Store: an SQLite journal in WAL mode with ``synchronous=FULL`` (each row is on disk when the call returns),
chosen by measurement over a Delta append per call (docs/decisions/0012). It is append-only and
tamper-evident:

- triggers refuse UPDATE and DELETE, so honest code cannot change history;
- each row carries ``row_hash = sha256(prev_hash, seq, every field)``, chained to the row before, so a
  changed, removed or inserted row breaks the chain where it happened (:func:`verify`);
- the last sequence number and hash are also written to an anchor file beside the journal, so cutting rows
  off the end is found too.

Someone who can rewrite both the journal and the anchor can rebuild a consistent chain: the export to Delta
(:meth:`AuditLog.export`, ``ops/audit_log``, for auditors and dbt) is a copy outside the journal, and
:meth:`AuditLog.verify` compares every exported row with the journal.
Concurrent sessions and processes serialise on SQLite's write lock (``BEGIN IMMEDIATE``): none loses a row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal

import polars as pl

from lake.storage.delta import OPS, Lake
from lake.storage.private import private_dir

GENESIS = "0" * 64
EXPORT_TABLE = "audit_log"
FIELDS = ("seq", "at", "login", "role", "action", "target", "request", "result", "outcome", "detail")
SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    login TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    request TEXT NOT NULL,
    result TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


class AuditWriteFailed(RuntimeError):
    """The audit row could not be written: the call it records must not return anything."""


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def row_hash(prev_hash: str, row: dict) -> str:
    body = _canonical([prev_hash, *[row[f] for f in FIELDS]])
    return hashlib.sha256(body.encode()).hexdigest()


class Action(StrEnum):
    """What a row records: one value per call of the query service (the journal's ``action`` column)."""

    LOGIN = "login"
    SESSION = "session"  # an app session resumed from the signed cookie, not a second login
    LOGOUT = "logout"
    SEARCH = "search"
    SEARCH_OPTIONS = "search_options"
    LIST_CHILDREN = "list_children"
    OPEN_NOTE = "open_note"
    OPEN_FORM = "open_form"
    OPEN_DOCUMENT = "open_document"
    DOWNLOAD = "download"
    PAGE_IMAGE = "page_image"
    CHILD_PROFILE = "child_profile"
    CHILD_TIMELINE = "child_timeline"
    CHILD_NETWORK = "child_network"
    NODE_MENTIONS = "node_mentions"
    NODE_CHILDREN = "node_children"
    CHILD_FACTORS = "child_factors"
    FACTOR_STATEMENTS = "factor_statements"
    MART = "mart"
    ADOPTER_INSIGHTS = "adopter_insights"
    PROVENANCE = "provenance"
    AUDIT_LOG = "audit_log"


Outcome = Literal["ok", "denied", "invalid", "error"]


@dataclass(frozen=True)
class AuditEvent:
    """One row of the journal, typed before it is written (as datasette types its events): who, which action,
    about what (``target``), what was asked (``request``), what came back (``result``: ids and counts, never
    record text) and how it ended. :meth:`AuditLog.record` writes it; the row's columns are these fields."""

    login: str
    role: str
    action: Action
    target: dict = field(default_factory=dict)
    request: dict = field(default_factory=dict)
    result: dict = field(default_factory=dict)
    outcome: Outcome = "ok"
    detail: str = ""


@dataclass
class VerifyReport:
    rows: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def thread_connection(local: threading.local, path: Path, schema: str, synchronous_full: bool = False):
    """This thread's connection to a SQLite file of the app's (made once per thread): the file 0600 in a 0700
    folder, WAL so readers never wait for the writer, autocommit (callers open their own transactions)."""
    con = getattr(local, "con", None)
    if con is None:
        private_dir(path.parent)
        con = sqlite3.connect(path, timeout=30, isolation_level=None)
        path.chmod(0o600)
        con.execute("PRAGMA journal_mode=WAL")
        if synchronous_full:  # the journal: a row acknowledged is a row on disk
            con.execute("PRAGMA synchronous=FULL")
        con.executescript(schema)
        local.con = con
    return con


class AuditLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.anchor = self.path.with_suffix(".head")
        self._local = threading.local()

    def _connect(self) -> sqlite3.Connection:
        return thread_connection(self._local, self.path, SCHEMA, synchronous_full=True)

    def write(
        self,
        *,
        login: str,
        role: str,
        action: str,
        target: dict | None = None,
        request: dict | None = None,
        result: dict | None = None,
        outcome: str = "ok",
        detail: str = "",
    ) -> int:
        """Append one row; returns its sequence number. Raises :class:`AuditWriteFailed` on any failure."""
        try:
            con = self._connect()
            con.execute("BEGIN IMMEDIATE")  # the write lock: the chain's tail can't move under us
            try:
                last = con.execute("SELECT seq, row_hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
                row = {
                    "seq": seq,
                    "at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
                    "login": login,
                    "role": role,
                    "action": action,
                    "target": _canonical(target or {}),
                    "request": _canonical(request or {}),
                    "result": _canonical(result or {}),
                    "outcome": outcome,
                    "detail": detail,
                }
                digest = row_hash(prev, row)
                con.execute(
                    f"INSERT INTO audit ({', '.join(FIELDS)}, prev_hash, row_hash) VALUES ({', '.join('?' * (len(FIELDS) + 2))})",
                    [*[row[f] for f in FIELDS], prev, digest],
                )
                self._write_anchor(seq, digest)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return seq
        except Exception as exc:  # a full disk, a locked or read-only journal, a missing folder
            raise AuditWriteFailed(f"audit log {self.path}: {type(exc).__name__}: {exc}") from exc

    def record(self, event: AuditEvent) -> int:
        """Append the row ``event`` describes (see :meth:`write`)."""
        return self.write(
            login=event.login,
            role=event.role,
            action=str(event.action),
            target=event.target,
            request=event.request,
            result=event.result,
            outcome=event.outcome,
            detail=event.detail,
        )

    def _write_anchor(self, seq: int, digest: str) -> None:
        tmp = self.anchor.with_suffix(".head.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"{seq} {digest}\n")
        tmp.replace(self.anchor)

    def rows(
        self, *, since_seq: int = 0, limit: int = 1000, login: str | None = None, action: str | None = None
    ) -> list[dict]:
        con = self._connect()
        sql, args = "SELECT * FROM audit WHERE seq > ?", [since_seq]
        if login:
            sql, args = sql + " AND login = ?", [*args, login]
        if action:
            sql, args = sql + " AND action = ?", [*args, action]
        cur = con.execute(sql + " ORDER BY seq LIMIT ?", [*args, limit])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def export(self, lake: Lake) -> int:
        """Append the rows not yet in ``ops/audit_log`` (Delta) to it; returns how many. Idempotent."""
        exported = lake.read(OPS, EXPORT_TABLE)
        since = int(exported["seq"].max()) if exported is not None and exported.height else 0
        total = 0
        while rows := self.rows(since_seq=since, limit=50_000):
            frame = pl.DataFrame(rows).with_columns(pl.col("at").str.to_datetime(time_zone="UTC"))
            lake.write(OPS, EXPORT_TABLE, frame, mode="append")
            since, total = rows[-1]["seq"], total + len(rows)
        return total

    def verify(self, lake: Lake | None = None) -> VerifyReport:
        """Walk the chain: every changed, removed or inserted row, and a cut-off tail, is a problem. With a
        ``lake``, each row already exported to ``ops/audit_log`` must also be in the journal unchanged."""
        report = VerifyReport()
        exported = lake.read(OPS, EXPORT_TABLE) if lake is not None else None
        if exported is not None and exported.height:
            journal = pl.DataFrame(self.rows(limit=10**12)).select("seq", "row_hash") if self.path.exists() else None
            if journal is None or journal.is_empty():
                report.problems.append(f"{exported.height} rows were exported but the journal is empty or missing")
            else:
                compared = exported.select("seq", "row_hash").join(journal, on="seq", how="left", suffix="_journal")
                for seq, digest, now in compared.sort("seq").iter_rows():
                    if now is None:
                        report.problems.append(f"row {seq} was exported but is gone from the journal")
                    elif now != digest:
                        report.problems.append(f"row {seq} differs from its exported copy")
        if not self.path.exists():
            return report
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            cur = con.execute(f"SELECT {', '.join(FIELDS)}, prev_hash, row_hash FROM audit ORDER BY seq")
            prev, expected_seq = GENESIS, 1
            for values in cur:
                row = dict(zip([*FIELDS, "prev_hash", "row_hash"], values, strict=True))
                report.rows += 1
                if row["seq"] != expected_seq:
                    report.problems.append(f"rows {expected_seq}..{row['seq'] - 1} are missing (removed)")
                if row["prev_hash"] != prev:
                    report.problems.append(
                        f"row {row['seq']}: does not follow the row before it (a row removed or inserted)"
                    )
                if row_hash(row["prev_hash"], row) != row["row_hash"]:
                    report.problems.append(f"row {row['seq']}: its contents were changed")
                prev, expected_seq = row["row_hash"], row["seq"] + 1
        finally:
            con.close()
        if self.anchor.exists():
            seq, digest = self.anchor.read_text().split()
            if int(seq) != expected_seq - 1 or digest != prev:
                report.problems.append(
                    f"the last row is {expected_seq - 1} but the anchor says {seq}: rows cut off the end, or the anchor changed"
                )
        elif report.rows:
            report.problems.append("the anchor file is missing")
        return report

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None
