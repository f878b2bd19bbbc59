"""The audit log: one row per call of the query service, written durably before any result is returned.

Store: an SQLite journal in WAL mode with ``synchronous=FULL`` (each row is on disk when the call returns),
chosen by measurement over a Delta append per call (docs/decisions/0012). It is append-only and
tamper-evident:

- triggers refuse UPDATE and DELETE, so honest code cannot change history;
- each row carries ``row_hash = sha256(prev_hash, seq, every field)``, chained to the row before, so a
  changed, removed or inserted row breaks the chain where it happened (:func:`verify`). The ``session``
  column came later (docs/decisions/0041): a row's session enters its hash when it has one, so the rows written
  before it (and the CLI's rows, which have none) hash, and verify, exactly as they did;
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
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

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
    row_hash TEXT NOT NULL,
    session TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


SHOWN_IN = ZoneInfo("Europe/London")  # an auditor reads the council's own clock, not UTC


class AuditWriteFailed(RuntimeError):
    """The audit row could not be written: the call it records must not return anything."""


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def row_hash(prev_hash: str, row: dict) -> str:
    """The row's link in the chain. A session, when the row has one, is the last field hashed: a row without one
    hashes as every row did before the column existed, and removing or adding a session changes the hash."""
    session = row.get("session") or ""
    body = _canonical([prev_hash, *[row[f] for f in FIELDS], *([session] if session else [])])
    return hashlib.sha256(body.encode()).hexdigest()


def migrate(con: sqlite3.Connection) -> None:
    """Bring a journal written before the ``session`` column up to date: the column is added with '' for the old
    rows (an ALTER, not an UPDATE: no row and no hash changes). Safe when two processes race to do it."""
    columns = {r[1] for r in con.execute("PRAGMA table_info(audit)")}
    if "session" not in columns:
        try:
            con.execute("ALTER TABLE audit ADD COLUMN session TEXT NOT NULL DEFAULT ''")
        except sqlite3.OperationalError as exc:  # another process added it first
            if "duplicate column" not in str(exc):
                raise


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
    AUDIT_EXPORT = "audit_export"  # the audit log downloaded as CSV
    ECOMAP_EXPORT = "ecomap_export"  # an ecomap saved as PNG, GraphML or JSON
    DISCLOSURE_REQUEST = "disclosure_request"  # a subject access request made
    DISCLOSURE_PROPOSE = "disclosure_propose"  # its records compiled and redactions proposed
    DISCLOSURE_DECIDE = "disclosure_decide"  # an officer's decisions on proposals
    DISCLOSURE_EXPORT = "disclosure_export"  # the bundle written as a PDF
    DISCLOSURE_STATUS = "disclosure_status"  # the requests listed


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
    session: str = ""  # a tag of the app session (app.sessions.audit_tag), "cli", or "" before one exists


@dataclass
class VerifyReport:
    rows: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class AuditFilter:
    """What an auditor narrows the log to. ``subject``: a child's or a person's id, matched wherever a row names
    it as a whole value (the record asked for, a node, a filter, an id returned); ``day_from`` / ``day_to``:
    days on the council's clock, both included."""

    login: str | None = None
    action: str | None = None
    subject: str | None = None
    day_from: dt.date | None = None
    day_to: dt.date | None = None
    session: str | None = None

    def sql(self) -> tuple[list[str], list]:
        clauses: list[str] = []
        args: list = []
        for column in ("login", "action", "session"):
            if getattr(self, column):
                clauses.append(f"{column} = ?")
                args.append(getattr(self, column))
        if self.subject:
            clauses.append(
                "("
                + " OR ".join(f"EXISTS (SELECT 1 FROM json_tree(audit.{c}) WHERE atom = ?)" for c in JSON_COLUMNS)
                + ")"
            )
            args += [self.subject] * len(JSON_COLUMNS)
        if self.day_from:
            clauses.append("at >= ?")
            args.append(_utc_start(self.day_from))
        if self.day_to:
            clauses.append("at < ?")
            args.append(_utc_start(self.day_to + dt.timedelta(days=1)))
        return clauses, args

    def describe(self) -> dict:
        """The filter as the audit row of a reading or an export records it."""
        return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in self.__dict__.items() if v}


JSON_COLUMNS = ("target", "request", "result")


def _utc_start(day: dt.date) -> str:
    """The journal's timestamp (UTC ISO, comparable as text) of midnight on the council's clock."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=SHOWN_IN).astimezone(dt.UTC)
    return start.isoformat(timespec="microseconds")


# ---- the log as an auditor reads it ---------------------------------------------------------------------------
ACTION_WORDS = {
    Action.LOGIN: "signed in",
    Action.SESSION: "opened a page",
    Action.LOGOUT: "signed out",
    Action.SEARCH: "searched",
    Action.SEARCH_OPTIONS: "read the search options",
    Action.LIST_CHILDREN: "listed their children",
    Action.OPEN_NOTE: "opened a case note",
    Action.OPEN_FORM: "opened a form",
    Action.OPEN_DOCUMENT: "opened a document page",
    Action.DOWNLOAD: "downloaded a document's file",
    Action.PAGE_IMAGE: "viewed a scanned page",
    Action.CHILD_PROFILE: "opened a child's profile",
    Action.CHILD_TIMELINE: "opened a child's timeline",
    Action.CHILD_NETWORK: "opened a child's ecomap",
    Action.NODE_MENTIONS: "read the mentions behind an ecomap node",
    Action.NODE_CHILDREN: "listed the children around an ecomap node",
    Action.CHILD_FACTORS: "opened a child's concerns and strengths",
    Action.FACTOR_STATEMENTS: "read the statements behind a code",
    Action.MART: "read a mart",
    Action.ADOPTER_INSIGHTS: "opened adopter insights",
    Action.PROVENANCE: "traced where a fact came from",
    Action.AUDIT_LOG: "read the audit log",
    Action.AUDIT_EXPORT: "exported the audit log (CSV)",
    Action.ECOMAP_EXPORT: "exported an ecomap",
    Action.DISCLOSURE_REQUEST: "made a subject access request",
    Action.DISCLOSURE_PROPOSE: "compiled a subject access bundle",
    Action.DISCLOSURE_DECIDE: "decided on proposed redactions",
    Action.DISCLOSURE_EXPORT: "exported a subject access bundle",
    Action.DISCLOSURE_STATUS: "listed subject access requests",
}
OUTCOME_WORDS = {"ok": "done", "denied": "refused", "invalid": "invalid request", "error": "failed"}
FIELD_WORDS = {"child_id": "child", "node_id": "node", "text": "words", "ids": "ids returned"}


def readable_time(at: str) -> str:
    """``2026-12-07T17:50:22.123456+00:00`` as ``7 Dec 2026 17:50:22`` on the council's clock."""
    try:
        when = dt.datetime.fromisoformat(at).astimezone(SHOWN_IN)
    except (TypeError, ValueError):
        return str(at)
    return f"{when.day} {when:%b %Y %H:%M:%S}"


def _value_words(value: object, *, longest: int | None) -> str:
    if isinstance(value, list):
        shown = value if longest is None else value[:longest]
        more = "" if len(shown) == len(value) else f" … ({len(value)} in all)"
        return ", ".join(_value_words(v, longest=longest) for v in shown) + more if value else "none"
    if isinstance(value, dict):
        return "; ".join(
            f"{_words(k)} {_value_words(v, longest=longest)}" for k, v in value.items() if v not in (None, [], {}, "")
        )
    return str(value)


def _words(key: str) -> str:
    return FIELD_WORDS.get(key, key.replace("_", " "))


def fields(text: str | None, *, longest: int | None = 8) -> list[tuple[str, str]]:
    """A JSON column as (field, value) pairs in words; empty values left out, long lists cut to ``longest``."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return [("", str(text))]
    if not isinstance(value, dict):
        return [("", _value_words(value, longest=longest))]
    return [(_words(k), _value_words(v, longest=longest)) for k, v in value.items() if v not in (None, [], {}, "")]


def readable(row: dict, *, longest: int | None = 8) -> dict:
    """One journal row as an auditor reads it: the time on the council's clock (seconds), the session, who, the
    action and outcome in words, and the target, request and result as fields. Plain text: escape it to show it."""
    action = row.get("action") or ""
    return {
        "seq": row.get("seq"),
        "time": readable_time(row.get("at")),
        "session": row.get("session") or "",
        "login": row.get("login") or "",
        "role": (row.get("role") or "").replace("_", " "),
        "action": ACTION_WORDS.get(action, action.replace("_", " ")),
        "outcome": OUTCOME_WORDS.get(row.get("outcome"), row.get("outcome") or ""),
        "about": fields(row.get("target"), longest=longest),
        "request": fields(row.get("request"), longest=longest),
        "result": fields(row.get("result"), longest=longest),
        "detail": row.get("detail") or "",
    }


CSV_COLUMNS = (
    "seq",
    "time",
    "time_utc",
    "session",
    "login",
    "role",
    "action",
    "outcome",
    "about",
    "request",
    "result",
    "detail",
    "row_hash",
)


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: a value starting like a formula (= + - @, tab, CR) is prefixed with
    ' (OWASP's CSV injection advice): query text is typed by users."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: list[dict]) -> bytes:
    """The rows as CSV for auditors (UTF-8 with a BOM, so a spreadsheet reads names right): readable columns, the
    UTC time to the microsecond and each row's hash, to check a line against the journal."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        r = readable(row, longest=None)
        joined = {k: "; ".join(f"{f}: {v}" if f else v for f, v in r[k]) for k in ("about", "request", "result")}
        values = {**r, **joined, "time_utc": row.get("at") or "", "row_hash": row.get("row_hash") or ""}
        writer.writerow([_cell(str(values[c] if values[c] is not None else "")) for c in CSV_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


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
        fresh = getattr(self._local, "con", None) is None
        con = thread_connection(self._local, self.path, SCHEMA, synchronous_full=True)
        if fresh:
            migrate(con)
        return con

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
        session: str = "",
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
                    "session": session,
                }
                digest = row_hash(prev, row)
                con.execute(
                    f"INSERT INTO audit ({', '.join(FIELDS)}, session, prev_hash, row_hash)"
                    f" VALUES ({', '.join('?' * (len(FIELDS) + 3))})",
                    [*[row[f] for f in FIELDS], session, prev, digest],
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
            session=event.session,
        )

    def _write_anchor(self, seq: int, digest: str) -> None:
        tmp = self.anchor.with_suffix(".head.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"{seq} {digest}\n")
        tmp.replace(self.anchor)

    def rows(
        self,
        *,
        since_seq: int = 0,
        limit: int = 1000,
        login: str | None = None,
        action: str | None = None,
        where: AuditFilter | None = None,
        newest: bool = False,
    ) -> list[dict]:
        """Rows after ``since_seq`` that match (oldest first; with ``newest``, the last ``limit`` of them, still
        oldest first)."""
        where = where or AuditFilter()
        where = replace(where, login=login or where.login, action=action or where.action)
        con = self._connect()
        clauses, args = where.sql()
        sql = f"SELECT * FROM audit WHERE seq > ?{''.join(' AND ' + c for c in clauses)}"
        order = " ORDER BY seq DESC LIMIT ?" if newest else " ORDER BY seq LIMIT ?"
        cur = con.execute(sql + order, [since_seq, *args, limit])
        names = [d[0] for d in cur.description]
        found = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        return found[::-1] if newest else found

    def export(self, lake: Lake) -> int:
        """Append the rows not yet in ``ops/audit_log`` (Delta) to it; returns how many. Idempotent."""
        exported = lake.read(OPS, EXPORT_TABLE)
        since = int(exported["seq"].max()) if exported is not None and exported.height else 0
        total = 0
        while rows := self.rows(since_seq=since, limit=50_000):
            frame = pl.DataFrame(rows).with_columns(pl.col("at").str.to_datetime(time_zone="UTC"))
            # the session column came later: the exported copy gains it (older exported rows read it as null)
            lake.write(OPS, EXPORT_TABLE, frame, mode="append", add_columns=True)
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
            # a journal not yet opened by this version has no session column: its rows hash without one
            has_session = "session" in {r[1] for r in con.execute("PRAGMA table_info(audit)")}
            names = [*FIELDS, "prev_hash", "row_hash", *(["session"] if has_session else [])]
            cur = con.execute(f"SELECT {', '.join(names)} FROM audit ORDER BY seq")
            prev, expected_seq = GENESIS, 1
            for values in cur:
                row = dict(zip(names, values, strict=True))
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
