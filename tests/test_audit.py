"""The audit journal as auditors read it (app/audit.py): a journal written before the session column still verifies
and gains it, a session enters the hash chain, and the rows read as fields with readable times, filtered by person,
child or person id, action and day, and exported as CSV. The journal under the real app is in tests/test_app.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sqlite3

from app.audit import FIELDS, GENESIS, AuditFilter, AuditLog, readable, row_hash, to_csv

OLD_SCHEMA = """
CREATE TABLE audit (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, login TEXT NOT NULL, role TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL, request TEXT NOT NULL, result TEXT NOT NULL, outcome TEXT NOT NULL,
    detail TEXT NOT NULL, prev_hash TEXT NOT NULL, row_hash TEXT NOT NULL);
"""


def _old_journal(path, n: int) -> None:
    """A journal as the version before the session column wrote it (its schema, its hashes, its anchor)."""
    con = sqlite3.connect(path)
    con.executescript(OLD_SCHEMA)
    prev = GENESIS
    for seq in range(1, n + 1):
        row = {
            "seq": seq,
            "at": f"2026-01-0{seq}T09:00:00.123456+00:00",
            "login": "ana",
            "role": "social_worker",
            "action": "search",
            "target": "{}",
            "request": '{"text":"safety plan"}',
            "result": '{"ids":[]}',
            "outcome": "ok",
            "detail": "",
        }
        digest = row_hash(prev, row)
        con.execute(f"INSERT INTO audit VALUES ({', '.join('?' * 12)})", [*[row[f] for f in FIELDS], prev, digest])
        prev = digest
    con.commit()
    con.close()
    path.with_suffix(".head").write_text(f"{n} {prev}\n")


def _tampered(path, tmp_path, sql: str) -> list[str]:
    copy = tmp_path / "copy.sqlite"
    with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    copy.with_suffix(".head").write_text(path.with_suffix(".head").read_text())
    con = sqlite3.connect(copy)
    con.executescript("DROP TRIGGER audit_no_update;" + sql)
    con.close()
    return AuditLog(copy).verify().problems


def test_a_journal_from_before_the_session_column_verifies_and_gains_it(tmp_path):
    path = tmp_path / "audit.sqlite"
    _old_journal(path, 3)
    assert AuditLog(path).verify().ok, "read as it was, before anything opened it for writing"
    log = AuditLog(path)
    log.write(login="ana", role="social_worker", action="search", session="a1b2c3d4e5f6")
    log.write(login="ana", role="social_worker", action="search", session="0f9e8d7c6b5a")
    report = AuditLog(path).verify()
    assert report.ok and report.rows == 5, report.problems
    sessions = [r["session"] for r in log.rows()]
    assert sessions == ["", "", "", "a1b2c3d4e5f6", "0f9e8d7c6b5a"]
    # the session is in the chain: changing it, or blanking it to pass as an old row, breaks the row's hash
    assert any("row 4" in p for p in _tampered(path, tmp_path, "UPDATE audit SET session = 'other' WHERE seq = 4"))
    assert any("row 5" in p for p in _tampered(path, tmp_path, "UPDATE audit SET session = '' WHERE seq = 5"))
    assert any("row 2" in p for p in _tampered(path, tmp_path, "UPDATE audit SET session = 'x' WHERE seq = 2"))


def test_the_log_reads_as_fields_with_readable_times_filters_and_exports(tmp_path):
    log = AuditLog(tmp_path / "audit.sqlite")
    log.write(login="ana", role="social_worker", action="child_network", target={"child_id": "P0000001"}, session="s1")
    log.write(
        login="bo",
        role="social_worker",
        action="search",
        request={"text": "=HYPERLINK(1)", "filters": {"person_id": "P0000009"}},
        result={"ids": ["C1", "C2"], "children": ["P0000002"]},
        session="s2",
        detail="=HYPERLINK(1)",
    )
    log.write(login="bo", role="social_worker", action="open_note", target={"note_id": "N1", "child_id": "P0000002"})

    def seqs(**where) -> list[int]:
        return [r["seq"] for r in log.rows(where=AuditFilter(**where), limit=100)]

    assert seqs(subject="P0000002") == [2, 3], "the child named as the target or among the ids returned"
    assert seqs(subject="P0000009") == [2], "a person named in a filter"
    assert seqs(subject="P000000") == [], "whole values only"
    assert seqs(login="bo", action="search") == [2]
    assert seqs(session="s1") == [1]
    today = dt.date.today()
    assert seqs(day_from=today, day_to=today) == [1, 2, 3]
    assert seqs(day_to=today - dt.timedelta(days=1)) == [] and seqs(day_from=today + dt.timedelta(days=1)) == []
    assert [r["seq"] for r in log.rows(limit=2, newest=True)] == [2, 3], "the last rows, oldest first"

    shown = readable(log.rows()[1])
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d", shown["time"]), shown["time"]
    assert shown["action"] == "searched" and shown["session"] == "s2"
    assert ("words", "=HYPERLINK(1)") in shown["request"] and ("filters", "person id P0000009") in shown["request"]
    assert ("ids returned", "C1, C2") in shown["result"]

    rows = list(csv.DictReader(io.StringIO(to_csv(log.rows()).decode("utf-8-sig"))))
    assert [r["seq"] for r in rows] == ["1", "2", "3"] and rows[1]["session"] == "s2"
    assert rows[1]["detail"] == "'=HYPERLINK(1)", "a formula reaches no spreadsheet as one"
    assert rows[2]["about"] == "child: P0000002; note id: N1" and "{" not in rows[2]["about"]
    assert rows[0]["row_hash"] == log.rows()[0]["row_hash"] and "." in rows[0]["time_utc"]
