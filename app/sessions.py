"""The app's sessions, kept by the server: a signed-in browser holds only a random session id; what it may do
is decided here, on every call, so signing out, disabling a login or changing its role ends every cookie and
every open page at once, in every app process (they share this SQLite file).

It also keeps the sign-in throttle: wrong passwords counted per login and per client, with a lock that doubles
each time it is earned again (OWASP ASVS 2.2.1). Only hashes of session ids are stored: a copy of this file
opens no session."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from app.audit import thread_connection

SCHEMA = """
CREATE TABLE IF NOT EXISTS app_session (
    id_hash TEXT PRIMARY KEY,
    login TEXT NOT NULL,
    role TEXT NOT NULL,
    via TEXT NOT NULL,
    started REAL NOT NULL,
    last_seen REAL NOT NULL,
    ended REAL,
    end_reason TEXT
);
CREATE INDEX IF NOT EXISTS app_session_login ON app_session (login);
CREATE TABLE IF NOT EXISTS sign_in_failure (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sign_in_failure_key ON sign_in_failure (key, at);
CREATE TABLE IF NOT EXISTS sign_in_lock (key TEXT PRIMARY KEY, until REAL NOT NULL, level INTEGER NOT NULL);
"""

TOUCH_EVERY_S = 15.0  # last_seen is written at most this often per session: a busy page is not a write per click
LOCK_S = 60.0  # the first lock; each lock earned within a day of the last one lasts twice as long
LOCK_MAX_S = 3600.0


def hash_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def audit_tag(id_hash: str) -> str:
    """The session as the audit log names it: 12 hex digits of a hash of the stored hash. Two people on one login
    get two tags; the tag opens nothing and is not the stored hash, yet an administrator holding the store can find
    the session it names (:meth:`SessionStore.find_tag`)."""
    return hashlib.sha256(f"audit-tag:{id_hash}".encode()).hexdigest()[:12] if id_hash else ""


@dataclass(frozen=True)
class AppSession:
    id_hash: str
    login: str
    role: str
    via: str
    started: float
    last_seen: float


@dataclass(frozen=True)
class Throttled:
    """Why a sign-in is refused before its password is checked, and for how long."""

    key: str  # "login" or "client"
    retry_after_s: int


class SessionStore:
    def __init__(
        self,
        path: Path,
        idle_s: float = 30 * 60,
        absolute_s: float = 12 * 3600,
        login_failures: int = 10,
        client_failures: int = 30,
        window_s: float = 60.0,
    ):
        self.path = Path(path)
        self.idle_s, self.absolute_s = idle_s, absolute_s
        self.login_failures, self.client_failures, self.window_s = login_failures, client_failures, window_s
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        return thread_connection(self._local, self.path, SCHEMA)

    # ---- sessions ------------------------------------------------------------------------------------------
    def start(self, login: str, role: str, via: str, session_id: str | None = None) -> str:
        """A new session; returns its id (the only copy: the store keeps its hash). ``session_id``: one drawn by
        :func:`new_session_id` beforehand, so the sign-in's audit row can name the session it opens."""
        session_id = session_id or new_session_id()
        now = time.time()
        self._db().execute(
            "INSERT INTO app_session VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
            (hash_id(session_id), login, role, via, now, now),
        )
        return session_id

    def live(self, id_hash: str, *, touch: bool = True) -> AppSession | None:
        """The session if it has not ended, been idle too long or lived too long (those end it now)."""
        con = self._db()
        row = con.execute(
            "SELECT id_hash, login, role, via, started, last_seen FROM app_session WHERE id_hash = ? AND ended IS NULL",
            (id_hash,),
        ).fetchone()
        if row is None:
            return None
        found, now = AppSession(*row), time.time()
        if now - found.last_seen > self.idle_s:
            self.end(id_hash, "idle")
            return None
        if now - found.started > self.absolute_s:
            self.end(id_hash, "expired")
            return None
        if touch and now - found.last_seen > TOUCH_EVERY_S:
            con.execute("UPDATE app_session SET last_seen = ? WHERE id_hash = ?", (now, id_hash))
        return found

    def find_tag(self, tag: str) -> AppSession | None:
        """The session an audit row's tag names (ended or not), for an administrator following a row back."""
        rows = self._db().execute("SELECT id_hash, login, role, via, started, last_seen FROM app_session").fetchall()
        return next((AppSession(*r) for r in rows if tag and audit_tag(r[0]) == tag), None)

    def end(self, id_hash: str, reason: str) -> bool:
        cur = self._db().execute(
            "UPDATE app_session SET ended = ?, end_reason = ? WHERE id_hash = ? AND ended IS NULL",
            (time.time(), reason, id_hash),
        )
        return cur.rowcount > 0

    def end_login(self, login: str, reason: str) -> int:
        """End every open session of a login (disabled, role changed, password reset); returns how many."""
        cur = self._db().execute(
            "UPDATE app_session SET ended = ?, end_reason = ? WHERE login = ? AND ended IS NULL",
            (time.time(), reason, login),
        )
        return cur.rowcount

    # ---- the sign-in throttle ------------------------------------------------------------------------------
    def _counted(self, login: str, client: str) -> tuple[tuple[str, str, int], ...]:
        """What an attempt is counted against: (kind, key in the tables, failures a minute before a lock)."""
        return ("login", f"login:{login}", self.login_failures), ("client", f"client:{client}", self.client_failures)

    def throttled(self, login: str, client: str) -> Throttled | None:
        """Refuse the attempt (before any password is checked) while its login or its client is locked."""
        now = time.time()
        for kind, key, _ in self._counted(login, client):
            row = self._db().execute("SELECT until FROM sign_in_lock WHERE key = ?", (key,)).fetchone()
            if row and row[0] > now:
                return Throttled(kind, int(row[0] - now) + 1)
        return None

    def failed(self, login: str, client: str) -> Throttled | None:
        """Count a wrong password; returns the lock it earned, if this failure reached a limit."""
        con, now = self._db(), time.time()
        earned = None
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute("DELETE FROM sign_in_failure WHERE at < ?", (now - 86400,))
            for kind, key, limit in self._counted(login, client):
                con.execute("INSERT INTO sign_in_failure VALUES (?, ?)", (key, now))
                (recent,) = con.execute(
                    "SELECT count(*) FROM sign_in_failure WHERE key = ? AND at > ?", (key, now - self.window_s)
                ).fetchone()
                if recent >= limit:
                    lock = con.execute("SELECT until, level FROM sign_in_lock WHERE key = ?", (key,)).fetchone()
                    level = lock[1] + 1 if lock and now - lock[0] < 86400 else 1
                    seconds = min(LOCK_S * 2 ** (level - 1), LOCK_MAX_S)
                    con.execute("INSERT OR REPLACE INTO sign_in_lock VALUES (?, ?, ?)", (key, now + seconds, level))
                    con.execute("DELETE FROM sign_in_failure WHERE key = ?", (key,))
                    earned = earned or Throttled(kind, int(seconds))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return earned

    def succeeded(self, login: str) -> None:
        """A right password clears that login's count of failures (not a lock: a locked login was refused)."""
        self._db().execute("DELETE FROM sign_in_failure WHERE key = ?", (f"login:{login}",))
