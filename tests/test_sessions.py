"""The app's server-side sessions and the sign-in throttle (app/sessions.py), on a real SQLite store; the same
store under the real server is in tests/test_app.py."""

from __future__ import annotations

import re
import stat
import time

from app.sessions import LOCK_S, SessionStore, hash_id


def test_a_session_lives_until_it_is_ended_idle_or_too_old(tmp_path):
    store = SessionStore(tmp_path / "s" / "sessions.sqlite", idle_s=0.6, absolute_s=3600)
    first, second = store.start("ana", "social_worker", "password"), store.start("ana", "social_worker", "password")
    assert first != second and store.live(hash_id(first)).login == "ana"
    assert store.live(first) is None, "the store answers to the hash, never to the id itself"
    assert store.end(hash_id(first), "signed out") and store.live(hash_id(first)) is None
    assert not store.end(hash_id(first), "again"), "an ended session stays ended"
    time.sleep(0.8)
    assert store.live(hash_id(second)) is None, "idle past the limit"
    old = SessionStore(tmp_path / "s" / "sessions.sqlite", idle_s=3600, absolute_s=0.3)
    third = old.start("ana", "social_worker", "password")
    time.sleep(0.4)
    assert old.live(hash_id(third)) is None, "older than the absolute limit, however busy"
    others = [old.start("bo", "iro", "password") for _ in range(3)]
    assert old.end_login("bo", "login disabled") == 3 and all(old.live(hash_id(s)) is None for s in others)
    db = tmp_path / "s" / "sessions.sqlite"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600 and stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert first not in db.read_bytes().decode("latin-1"), "no session id is stored, only its hash"


def test_wrong_passwords_lock_the_login_then_the_client_and_each_lock_doubles(tmp_path):
    store = SessionStore(tmp_path / "sessions.sqlite", login_failures=3, client_failures=5, window_s=60)
    assert [store.failed("ana", "10.0.0.1") for _ in range(2)] == [None, None]
    lock = store.failed("ana", "10.0.0.1")
    assert lock.key == "login" and lock.retry_after_s == int(LOCK_S)
    assert store.throttled("ana", "10.0.0.2").key == "login", "the login is locked from every client"
    assert store.throttled("bo", "10.0.0.2") is None
    # a client spraying many logins is locked on its own count
    assert store.failed("cy", "10.0.0.1") is None
    assert store.failed("di", "10.0.0.1").key == "client"
    assert store.throttled("eve", "10.0.0.1").key == "client"
    # the next lock of the same login, earned within a day, lasts twice as long
    store._db().execute("UPDATE sign_in_lock SET until = ? WHERE key = 'login:ana'", (time.time() - 1,))
    store.succeeded("ana")
    assert store.throttled("ana", "10.0.0.9") is None
    for _ in range(2):
        store.failed("ana", "10.0.0.9")
    assert store.failed("ana", "10.0.0.9").retry_after_s == int(2 * LOCK_S)


def _cli(args: list[str]):
    """``caselake`` in this process; the umask its entry point narrows is put back afterwards."""
    import os

    from typer.testing import CliRunner

    from orchestration.cli import app

    before = os.umask(0o022)
    try:
        return CliRunner().invoke(app, args)
    finally:
        os.umask(before)


def test_disabling_a_login_at_the_cli_ends_its_open_sessions_and_is_audited(tmp_path, monkeypatch):
    from app.audit import AuditLog
    from app.users import UserStore

    monkeypatch.setenv("CASELAKE_DATA_ROOT", str(tmp_path))
    UserStore(tmp_path / "users.json").add("ana", "auditor", "Ana", "a long password")
    store = SessionStore(tmp_path / "sessions.sqlite")
    opened = [store.start("ana", "auditor", "password") for _ in range(2)]
    result = _cli(["users", "disable", "ana"])
    assert result.exit_code == 0, result.output
    assert all(store.live(hash_id(s)) is None for s in opened)
    assert UserStore(tmp_path / "users.json").get("ana").disabled
    (row,) = AuditLog(tmp_path / "audit" / "audit.sqlite").rows(login="ana")
    assert row["action"] == "logout" and row["detail"] == "login disabled"


def test_what_a_cli_command_writes_is_its_owners_only(tmp_path):
    result = _cli(["synth", "--out", str(tmp_path / "council"), "--children", "2", "--structured-only"])
    assert result.exit_code == 0, result.output
    written = list((tmp_path / "council").rglob("*"))
    assert written and all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in written), [
        (p.name, oct(p.stat().st_mode)) for p in written if p.stat().st_mode & 0o077
    ][:3]


def test_the_audit_log_names_each_session_by_a_tag_that_opens_nothing(tmp_path):
    from app.sessions import audit_tag, new_session_id

    store = SessionStore(tmp_path / "sessions.sqlite")
    drawn = new_session_id()
    assert store.start("ana", "social_worker", "password", drawn) == drawn, "an id drawn first, for the sign-in's row"
    other = store.start("ana", "social_worker", "password")
    tags = {audit_tag(hash_id(drawn)), audit_tag(hash_id(other))}
    assert len(tags) == 2 and all(re.fullmatch(r"[0-9a-f]{12}", t) for t in tags), "two people on one login differ"
    assert audit_tag(hash_id(drawn)) not in (drawn, hash_id(drawn)) and store.live(audit_tag(hash_id(drawn))) is None
    assert store.find_tag(audit_tag(hash_id(other))).id_hash == hash_id(other), "an administrator can follow it back"
    assert store.find_tag("000000000000") is None and audit_tag("") == ""
