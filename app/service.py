"""The query service: the one way people read case data. The app, the CLI and the tests call it; it signs
people in, works out what their role lets them see, runs the read with that scope built into the query,
and writes the audit row before anything is returned (if the row can't be written, the call fails).

Every call that reads case data takes a :class:`Session` and:

1. refuses (and audits the refusal) when the role reads no case text, or the child is not in scope;
   a child out of scope and a child that does not exist get the same answer, so nothing reveals that a
   hidden record exists;
2. reads with the scope as a filter inside the query (LanceDB prefilter, Delta/DuckDB predicates);
3. audits the call with what was asked and the ids returned, then returns.

All three steps have one shape: ``with self._audited(session, Action.X, ...) as call:`` checks the scope as it
is entered, lets the body fill in what the row will say, and writes that one :class:`~app.audit.AuditEvent`
as the body hands its result back (or, for a refusal, before the refusal is raised).

Application logs never carry query text, names or record text: the audit journal is the only place a
query is written down.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

import polars as pl

from app.access import SCOPE_TABLES, Scope, hidden_children, scope_for
from app.audit import Action, AuditEvent, AuditFilter, AuditLog, Outcome, to_csv
from app.sessions import SessionStore, audit_tag, hash_id, new_session_id
from app.users import Role, User, UserStore
from lake import disclosure
from lake.contracts.codes import factor_meaning
from lake.disclosure import store as disclosure_store
from lake.disclosure.bundle import DisclosureRequest
from lake.documents.pipeline import TEXT, manifest, processed_keys
from lake.embedding import Embedder
from lake.entities.items import text_items
from lake.insights import analysis as adopter_analysis
from lake.ops.lineage import LineageError, Provenance, Tracer
from lake.search.index import SOURCE_TYPES, open_table
from lake.search.people import PeopleDirectory
from lake.search.query import ID, InvalidRequest, Searcher, SearchRequest, SearchResult, snippet
from lake.settings import Settings
from lake.storage.delta import ENTERPRISE
from lake.storage.serving import read_served, served_file

log = logging.getLogger("caselake.service")

# Marts an analyst may read: no free text in any column. Rows about a child are still subject to the
# child's access restriction.
ANALYST_MARTS = ("adoption_journey", "adopter_features", "placement_history")


class AccessDenied(PermissionError):
    """The role or the scope does not allow this read. The message never says whether the record exists."""


class NotSignedIn(PermissionError):
    pass


class SignInThrottled(NotSignedIn):
    """Too many wrong passwords for this login or from this client: refused before the password is checked."""

    def __init__(self, retry_after_s: int):
        super().__init__("too many attempts")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Session:
    user: User
    via: str  # password | oidc | cli
    id_hash: str = ""  # the app session's (kept by the server); "" for the CLI, whose operator is signed in

    @property
    def login(self) -> str:
        return self.user.login

    @property
    def role(self) -> Role:
        return self.user.role

    @property
    def tag(self) -> str:
        """The session as the audit log names it: a tag of the app session (two people on one login differ), or
        "cli" for a session the CLI or a test opened without one."""
        return audit_tag(self.id_hash) if self.id_hash else "cli"


@dataclass(frozen=True)
class StillReading:
    """What the pipeline has not read yet, counted from the lake itself (so it holds however the stages are run:
    ``make demo``, Dagster's sensors, a backfill). Counts only: no id, name or text."""

    documents: int  # live documents not yet read into text (nor found unreadable)
    documents_total: int
    people: bool  # the people, places and organisations in the records are not read yet (no ecomap marts)
    index: bool  # the search index is not built yet


class Sight(StrEnum):
    """What a user may see of a person or a child."""

    RECORDS = "records"  # a child in their scope: named, drawn, listed, and its records opened
    AS_WRITTEN = "as written"  # anyone else who is not a child out of scope: named as the records they read name them
    NOTHING = "nothing"  # a child out of scope (a restricted child included): no node, mention, name, id or link


def sight(scope: Scope, person_id: str | None) -> Sight:
    """The one access policy for people: every path that could show a person or a child — the search page's people
    line and its hits, the ecomap's nodes, a node's mentions, a node's expansion, a traced fact — asks this, so no
    path shows what another hides. A child out of scope is unreachable, whatever the path and however the name
    was typed; its name may still stand in the text of a record the user may read (their sibling's note), as
    written there, never resolved to it."""
    if person_id in scope.children:
        return Sight.RECORDS
    if person_id in scope.unseen:
        return Sight.NOTHING
    return Sight.AS_WRITTEN


def _named_id(line: str) -> str:
    """The id on a people line ("Jonathan Hill (P0000123)")."""
    return line.rsplit("(", 1)[-1].rstrip(")")


_NOT_ASKED = object()  # ``_audited(child_id=...)`` left out: no child to check (``None`` is a child id refused)


class AuditedCall:
    """One call of the service on its way to the journal. Its :attr:`event` starts as the row a refusal would
    write (who, the action, the target and request as asked); the checks and the body change it with
    :meth:`note`, and :meth:`QueryService._audited` writes it once, when the call ends."""

    def __init__(self, service: QueryService, session: Session | None, event: AuditEvent):
        self._service, self.session, self.event = service, session, event
        self.scope: Scope | None = None  # the user's scope, once a check has read it
        self.record: dict | None = None  # the record checked by ``_audited(record=...)``
        self.settled = False  # the outcome is decided, and written even though the call raises
        self.unrecorded = False

    def note(self, **fields) -> None:
        """Change what the row will say: the target as found, the result, an outcome other than ok."""
        self.event = replace(self.event, **fields)

    def fail(self, outcome: Outcome, detail: str) -> None:
        """The call is about to raise: write this outcome for it on the way out."""
        self.note(outcome=outcome, detail=detail)
        self.settled = True

    def leave_unrecorded(self) -> None:
        """The call returns nothing (no such page image): it leaves no row."""
        self.unrecorded = True

    def deny(self, why: str) -> AccessDenied:
        """Refuse the call; the caller raises what this returns (and the row says why)."""
        self.fail("denied", why)
        return AccessDenied("not available to you")  # the same words whether or not the record exists

    # ---- the scope checks: each refuses, audited, before anything is read ----------------------------------
    def require(self, allowed: bool, why_not: str) -> None:
        if not allowed:
            raise self.deny(why_not)

    def scope_of_case_reader(self) -> Scope:
        """The scope of a role that reads case text (no check: the caller asked the role)."""
        self.scope = self._service.scope(self.session)
        return self.scope

    def case_reader(self) -> Scope:
        self.require(self.session.role.reads_case_text, f"role {self.session.role} reads no case records")
        return self.scope_of_case_reader()

    def child_in_scope(self, child_id: str) -> Scope:
        self.note(target={"child_id": str(child_id)[:64]})
        scope = self.case_reader()
        if not isinstance(child_id, str) or not ID.match(child_id) or child_id not in scope.children:
            raise self.deny("child not in scope")
        return scope

    def record_in_scope(self, table: str, key: str, record_id: str) -> dict:
        """The live record if its child is in scope; otherwise the same refusal whether it exists or not."""
        self.note(target={key: str(record_id)[:64]})
        scope = self.case_reader()
        row = self._service.live_record(table, key, record_id)
        if row is None or row["child_id"] not in scope.children:
            raise self.deny("record not found or child not in scope")
        self.record = row
        return row


class QueryService:
    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self.lake = settings.lake()
        self.users = UserStore(settings.users_file())
        self.audit = AuditLog(settings.audit_db())
        access = settings.access
        self.sessions = SessionStore(
            settings.sessions_db(),
            idle_s=access.idle_minutes * 60,
            absolute_s=access.absolute_hours * 3600,
            login_failures=access.login_failures_per_minute,
            client_failures=access.client_failures_per_minute,
        )
        self.embedder = embedder or Embedder(settings.search)
        self._lock = threading.Lock()
        self._scopes: dict[tuple, Scope] = {}
        self._people: PeopleDirectory | None = None
        self._index = None
        self._current_searcher: Searcher | None = None
        self._still_reading: tuple[float, StillReading | None] = (0.0, None)

    def still_reading(self, session: Session) -> StillReading:
        """What is still being read, for the banner every page shows while a load is under way. Not audited: it
        counts the council's documents, and reads nothing about any child. Counted at most every 15 seconds."""
        if session.id_hash and self.app_session(session.id_hash) is None:
            raise NotSignedIn("this session has ended")
        with self._lock:
            at, reading = self._still_reading
            if time.monotonic() - at < 15.0 and reading is not None:
                return reading
        # by document id alone: a document whose file changed since it was read is not counted (it is re-read)
        docs = self.lake.scan(ENTERPRISE, "document")
        live = (
            pl.DataFrame(schema={"document_id": pl.String})
            if docs is None
            else docs.filter(pl.col("_deleted_at").is_null()).select("document_id").unique().collect()
        )
        waiting = live.join(processed_keys(self.lake).select("document_id"), on="document_id", how="anti")
        reading = StillReading(
            documents=waiting.height,
            documents_total=live.height,
            people=not served_file(self.settings.served_dir(), "child_network").exists(),
            index=self._table is None,
        )
        with self._lock:
            self._still_reading = (time.monotonic(), reading)
        return reading

    def warm(self) -> None:
        """Load the embedding model and open the index and the people directory now, so the first person to
        search does not wait for them (the app calls this before it listens)."""
        self.embedder.encode(["warm up"])
        table = self._table
        if table is not None:
            self._searcher(table).item_types()

    # ---- signing in ----------------------------------------------------------------------------------
    def login(self, login: str, password: str, client: str = "cli", session_tag: str = "cli") -> Session:
        """Check a password, throttled per login and per client (the lock doubles each time it is earned).
        ``session_tag``: the audit tag of the app session a successful sign-in opens (its row names it)."""
        with self._audited(login[:64], Action.LOGIN, request={"via": "password", "client": client[:64]}) as call:
            throttled = self.sessions.throttled(login[:64], client[:64])
            if throttled is not None:
                call.fail("denied", f"throttled: this {throttled.key} is locked for {throttled.retry_after_s} s")
                raise SignInThrottled(throttled.retry_after_s)
            user = self.users.authenticate(login, password)
            if user is None:
                lock = self.sessions.failed(login[:64], client[:64])
                locked = f"; the {lock.key} is now locked for {lock.retry_after_s} s" if lock else ""
                call.fail("denied", "wrong login or password" + locked)
                raise NotSignedIn("wrong login or password")
            self.sessions.succeeded(user.login)
            call.note(login=user.login, role=str(user.role), session=session_tag)
            return Session(user, "password")

    def session_for(self, login: str, via: str, session_tag: str = "cli") -> Session:
        """A session for a login someone else has proven (the identity provider, or the operator at the CLI)."""
        with self._audited(login[:64], Action.LOGIN, request={"via": via}) as call:
            user = self.users.get(login)
            if user is None or user.disabled:
                call.fail("denied", "unknown login")
                raise NotSignedIn(f"no user {login!r} in the users file")
            call.note(login=user.login, role=str(user.role), session=session_tag)
            return Session(user, via)

    def sign_in(self, login: str, password: str, client: str) -> tuple[Session, str]:
        """The app's sign-in: :meth:`login`, then a new server session whose id (returned once, for the cookie)
        is the only way back into it."""
        session_id = new_session_id()  # drawn first, so the sign-in's row names the session it opens
        session = self.login(login, password, client, audit_tag(hash_id(session_id)))
        self.sessions.start(session.login, str(session.role), "password", session_id)
        return replace(session, id_hash=hash_id(session_id)), session_id

    def start_session(self, login: str, via: str) -> tuple[Session, str]:
        """A server session for a login the identity provider has proven; returns it and its id."""
        session_id = new_session_id()
        session = self.session_for(login, via, audit_tag(hash_id(session_id)))
        self.sessions.start(session.login, str(session.role), via, session_id)
        return replace(session, id_hash=hash_id(session_id)), session_id

    def app_session(self, id_hash: str, *, touch: bool = True) -> Session | None:
        """The live app session with this hash, or None. Its user must still exist, be enabled and hold the role
        they signed in with: otherwise the session ends here (so an open page loses its scope at once)."""
        found = self.sessions.live(id_hash, touch=touch) if id_hash else None
        if found is None:
            return None
        user = self.users.get(found.login)
        why = "login removed" if user is None else "login disabled" if user.disabled else ""
        if user is not None and not why and str(user.role) != found.role:
            why = "role changed"
        if why:
            self.sessions.end(id_hash, why)
            return None
        return Session(user, found.via, id_hash)

    def open_page(self, id_hash: str, page: str) -> tuple[Session, list[dict]]:
        """A page opened in a live app session: one audited row, which lists the children the page may offer
        (for roles that read case text). Raises :class:`NotSignedIn` when the session has ended."""
        session = self.app_session(id_hash)
        if session is None:
            raise NotSignedIn("this session has ended")
        with self._audited(session, Action.SESSION, target={"page": page[:32]}) as call:
            people = (
                self._profiles(sorted(call.scope_of_case_reader().children)) if session.role.reads_case_text else []
            )
            call.note(result={"ids": [p["child_id"] for p in people]})
            return session, people

    def sign_out(self, id_hash: str) -> None:
        """End this app session (the cookie and every page open in it)."""
        session = self.app_session(id_hash)
        if self.sessions.end(id_hash, "signed out") and session is not None:
            with self._audited(session.login, Action.LOGOUT) as call:
                call.note(role=str(session.role), session=session.tag)

    # ---- scope -----------------------------------------------------------------------------------------
    def _versions(self) -> tuple:
        return tuple(self.lake.version(ENTERPRISE, t) for t in SCOPE_TABLES)

    def scope(self, session: Session) -> Scope:
        key = (session.user.worker_id, session.role, dt.date.today(), self._versions())
        with self._lock:
            if key not in self._scopes:
                self._scopes = {key: scope_for(self.lake, session.user)} | dict(list(self._scopes.items())[-64:])
            return self._scopes[key]

    @contextmanager
    def _audited(
        self,
        who: Session | str,
        action: Action,
        *,
        target: dict | None = None,
        request: dict | None = None,
        allowed: bool = True,
        why_not: str = "",
        case_reader: bool = False,
        child_id: object = _NOT_ASKED,
        record: tuple[str, str, str] | None = None,
    ) -> Iterator[AuditedCall]:
        """One audited call. Entering checks the scope asked for, in this order: ``allowed`` (else refused with
        ``why_not``), a ``case_reader`` role, a ``child_id`` in scope, a ``record`` (table, key, id) whose
        child is in scope; each refusal writes its row and raises :class:`AccessDenied`. The body then fills
        in the row (``call.note``) and returns; the row is written on the way out, before the caller gets
        anything, and ``AuditWriteFailed`` fails the call. A body that raises leaves no row unless it settled
        an outcome first (``call.fail``). ``who`` is a session, or a login not signed in (no role)."""
        started = time.perf_counter()
        if isinstance(who, Session):
            call = AuditedCall(self, who, AuditEvent(who.login, str(who.role), action, session=who.tag))
        else:
            call = AuditedCall(self, None, AuditEvent(who, "", action))
        call.note(target=target or {}, request=request or {})
        try:
            if call.session is not None and call.session.id_hash and self.app_session(call.session.id_hash) is None:
                call.fail("denied", "the app session has ended")  # signed out, idle, disabled: its open pages too
                raise NotSignedIn("this session has ended")
            call.require(allowed, why_not)
            if case_reader:
                call.case_reader()
            if child_id is not _NOT_ASKED:
                call.child_in_scope(child_id)
            if record is not None:
                call.record_in_scope(*record)
            yield call
        except Exception:
            if call.settled:
                self._write(call, started)
            raise
        if not call.unrecorded:
            self._write(call, started)

    def _write(self, call: AuditedCall, started: float) -> None:
        """The row of one call; raises ``AuditWriteFailed`` (so the call fails) if it can't be written."""
        self.audit.record(call.event)
        if call.session is not None and call.event.outcome == "denied":
            log.info("denied %s for role %s", call.event.action, call.session.role)  # no ids or text in logs
        took_ms = (time.perf_counter() - started) * 1000
        log.debug("%s by role %s: %s in %.1f ms", call.event.action, call.event.role, call.event.outcome, took_ms)

    # ---- search ----------------------------------------------------------------------------------------
    @property
    def _table(self):
        """The search index, opened once it exists; it sees the asset's new versions within 5 seconds."""
        if self._index is None:
            self._index = open_table(self.settings.lancedb(), dict(self.settings.storage_options), refresh_s=5.0)
        return self._index

    def people(self) -> PeopleDirectory:
        with self._lock:
            fresh = PeopleDirectory(self.lake)
            if self._people is None or self._people.versions != fresh.versions:
                self._people = fresh
            return self._people

    def _factor_records(self, code: str) -> list[str]:
        """The records (note, document and form ids, as the index names them) with a current statement of
        ``code``: the search's factor filter. The search restricts them to the caller's children."""
        frame = self._mart(
            "child_factor_statements",
            "select distinct source_id from main.child_factor_statements where code = ? and status = 'current'",
            [code],
        )
        # a form answer is "form_id:question": the index's record is the form
        return sorted({r.split(":", 1)[0] for r in frame["source_id"].to_list()}) if frame.height else []

    def _searcher(self, table) -> Searcher:
        """One searcher while the resolved people are unchanged: it keeps its cache of the index's types."""
        people = self.people()
        with self._lock:
            if self._current_searcher is None or self._current_searcher.people is not people:
                self._current_searcher = Searcher(table, self.embedder, people, self._factor_records)
            return self._current_searcher

    def search(self, session: Session, request: SearchRequest) -> SearchResult:
        asked = {
            "text": request.text[:2000],
            "mode": request.mode,
            "sort": request.sort,
            "filters": request.filters.describe(),
            "limit": request.limit,
            "offset": request.offset,
            "read_names": request.read_names,
        }
        with self._audited(session, Action.SEARCH, request=asked, case_reader=True) as call:
            table = self._table
            if table is None:
                call.note(result={"ids": []}, detail="no index yet")
                return SearchResult([], [], request.mode, request.sort)
            try:
                result = self._searcher(table).search(request, call.scope.children, call.scope.unseen)
            except InvalidRequest as exc:
                call.fail("invalid", str(exc)[:500])
                raise
            result = self._as_seen(call.scope, result)
            call.note(
                result={
                    "ids": [h.chunk_id for h in result.hits],
                    "people": [_named_id(p) for p in result.people],
                    "children": sorted({h.child_id for h in result.hits}),
                    "scoped": result.scoped,  # the children the query named, which scoped it
                    "total": result.total,
                }
            )
            return result

    @staticmethod
    def _as_seen(scope: Scope, result: SearchResult) -> SearchResult:
        """A search's result as :func:`sight` allows: hits only in the records of children in scope, people named
        only when they are not a child out of scope. The searcher already reads with the scope as a prefilter;
        this is the same policy every other path applies, checked where the result leaves the service."""
        return replace(
            result,
            hits=[h for h in result.hits if sight(scope, h.child_id) is Sight.RECORDS],
            people=[p for p in result.people if sight(scope, _named_id(p)) is not Sight.NOTHING],
        )

    def search_options(self, session: Session) -> dict:
        """What the search page's filters may offer: the source types and the note/document/form types indexed.
        Only a refusal is written down: the options are the same for everyone who may search."""
        with self._audited(session, Action.SEARCH_OPTIONS, case_reader=True) as call:
            call.leave_unrecorded()
            table = self._table
            searcher = self._searcher(table) if table is not None else None
            types = sorted(searcher.item_types()) if searcher else []
            # the list a reader sees: types that differ only in case or wording as one label ("Safety plan")
            groups = searcher.type_groups() if searcher else {}
            return {"source_types": list(SOURCE_TYPES), "item_types": types, "type_groups": groups}

    # ---- opening records ---------------------------------------------------------------------------------
    def live_record(self, table: str, key: str, value: str) -> dict | None:
        if not isinstance(value, str) or not ID.match(value):
            return None
        rows = self.lake.read(ENTERPRISE, table, filters=[(key, "=", value)])
        if rows is None:
            return None
        rows = rows.filter(pl.col("_deleted_at").is_null())
        return rows.row(0, named=True) if rows.height else None

    def open_note(self, session: Session, note_id: str) -> dict:
        with self._audited(session, Action.OPEN_NOTE, record=("case_note", "note_id", note_id)) as call:
            row = call.record
            call.note(target={"note_id": note_id, "child_id": row["child_id"]})
            return {k: v for k, v in row.items() if not k.startswith("_")}

    def open_form(self, session: Session, form_id: str) -> dict:
        with self._audited(session, Action.OPEN_FORM, record=("form_response", "form_id", form_id)) as call:
            row = call.record
            answers = self.lake.read(ENTERPRISE, "form_response", filters=[("form_id", "=", form_id)]).filter(
                pl.col("_deleted_at").is_null()
            )
            call.note(target={"form_id": form_id, "child_id": row["child_id"]})
            return {
                "form_id": form_id,
                "child_id": row["child_id"],
                "form_type": row["form_type"],
                "form_date": row["form_date"],
                "worker_id": row["worker_id"],
                "outcome": row["outcome"],
                "answers": answers.select("question_code", "question", "answer_text").sort("question_code").to_dicts(),
            }

    def _current_file(self, document_id: str) -> tuple[str | None, str | None]:
        """The document's landed file (path) and its SHA-256, as the documents stage read it."""
        current = manifest(self.lake, self.settings.landing(), document_ids=[document_id])
        return (current["path"][0], current["content_hash"][0]) if current.height else (None, None)

    def open_document_page(self, session: Session, document_id: str, page: int) -> dict:
        with self._audited(session, Action.OPEN_DOCUMENT, record=("document", "document_id", document_id)) as call:
            row = call.record
            pages = self.lake.read(ENTERPRISE, TEXT, filters=[("document_id", "=", document_id)])
            _, content_hash = self._current_file(document_id)
            pages = pages.filter(pl.col("content_hash") == content_hash) if pages is not None else pl.DataFrame()
            text = pages.filter(pl.col("page") == int(page)) if pages.height else pages
            call.note(target={"document_id": document_id, "page": int(page), "child_id": row["child_id"]})
            return {
                "document_id": document_id,
                "child_id": row["child_id"],
                "document_type": row["document_type"],
                "title": row["title"],
                "created_date": row["created_date"],
                "file_name": row["file_name"],
                "page": int(page),
                "pages": pages.height,
                "text": text["text"][0] if text.height else None,
                "method": text["method"][0] if text.height else None,  # text layer, OCR or converted .doc
                **_ocr_reading(text),
            }

    def download(self, session: Session, document_id: str) -> tuple[str, bytes]:
        """The original file as landed: (file name, bytes)."""
        with self._audited(session, Action.DOWNLOAD, record=("document", "document_id", document_id)) as call:
            row = call.record
            path, content_hash = self._current_file(document_id)
            if path is None or not Path(path).is_file():
                call.note(target={"document_id": document_id})
                call.fail("error", "file not landed")
                raise FileNotFoundError("the original file of this document was never landed")
            data = Path(path).read_bytes()
            call.note(
                target={"document_id": document_id, "child_id": row["child_id"]},
                result={"bytes": len(data), "sha256": content_hash},
            )
            return Path(row["file_name"]).name, data

    def page_image(self, session: Session, document_id: str, page: int, scale: float = 1.5) -> bytes | None:
        """The page as the scanner saw it (PNG), for PDFs; ``None`` for files without pages (.doc, .docx).
        Only an image returned is written down (and a refusal)."""
        with self._audited(session, Action.PAGE_IMAGE, record=("document", "document_id", document_id)) as call:
            row = call.record
            path, content_hash = self._current_file(document_id)
            image = _page_png(path, page, scale)
            if image is None:
                call.leave_unrecorded()
                return None
            call.note(
                target={"document_id": document_id, "page": int(page), "child_id": row["child_id"]},
                result={"sha256": content_hash},
            )
            return image

    # ---- the child's pages ---------------------------------------------------------------------------------
    def children(self, session: Session) -> list[dict]:
        """The children this user may see, with what tells two of the same name apart (age, locality)."""
        with self._audited(session, Action.LIST_CHILDREN, case_reader=True) as call:
            people = self._profiles(sorted(call.scope.children))
            call.note(result={"ids": [p["child_id"] for p in people]})
            return people

    def _profiles(self, child_ids: list[str]) -> list[dict]:
        if not child_ids:
            return []
        live = pl.col("_deleted_at").is_null()
        person = self.lake.scan(ENTERPRISE, "person").filter(live & pl.col("person_id").is_in(child_ids))
        child = self.lake.scan(ENTERPRISE, "child").filter(live).select("person_id", "dob", "ethnicity", "disability")
        address = (
            self.lake.scan(ENTERPRISE, "person_address")
            .filter(live & pl.col("valid_to").is_null() & pl.col("person_id").is_in(child_ids))
            .sort("valid_from")
            .group_by("person_id")
            .last()
            .select("person_id", pl.col("town").alias("locality"))
        )
        today = dt.date.today()
        rows = (
            person.select("person_id", "first_name", "surname", "sex", "gender")
            .join(child, on="person_id", how="left")
            .join(address, on="person_id", how="left")
            .collect()
        )
        out = []
        for r in rows.sort("person_id").iter_rows(named=True):
            dob = r["dob"]
            age = (today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))) if dob else None
            out.append(
                {
                    "child_id": r["person_id"],
                    "name": f"{r['first_name']} {r['surname']}",
                    "age": age,
                    "dob": dob,
                    "locality": r["locality"],
                    "gender": r["gender"],
                    "ethnicity": r["ethnicity"],
                    "disability": r["disability"],
                }
            )
        # a child whose person row is missing or quarantined is still in scope: listed by id until it lands
        found = {p["child_id"] for p in out}
        out += [{"child_id": cid, "name": None, "age": None, "locality": None} for cid in child_ids if cid not in found]
        return sorted(out, key=lambda p: p["child_id"])

    def child_profile(self, session: Session, child_id: str) -> dict:
        with self._audited(session, Action.CHILD_PROFILE, child_id=child_id):
            profiles = self._profiles([child_id])
            live = pl.col("_deleted_at").is_null()

            def rows(table: str, key: str = "person_id", sort: str = "valid_from") -> list[dict]:
                frame = self.lake.read(ENTERPRISE, table, filters=[(key, "=", child_id)])
                if frame is None:
                    return []
                frame = frame.filter(live).sort(sort)
                return frame.select([c for c in frame.columns if not c.startswith("_")]).to_dicts()

            involvements = rows("involvement", "child_id")
            workers = self.lake.read(ENTERPRISE, "worker")
            names = (
                {w["worker_id"]: f"{w['first_name']} {w['surname']}" for w in workers.to_dicts()}
                if workers is not None
                else {}
            )
            current = [i for i in involvements if i["valid_to"] is None]
            profile = {
                **(profiles[0] if profiles else {"child_id": child_id}),
                "names": rows("person_name", sort="name_seq"),  # every name held, with the dates each changed
                "genders": rows("person_gender", sort="gender_seq"),
                "episodes": rows("episode", "child_id", "start_date"),
                "placements": rows("placement", "child_id", "start_date"),
                "allocated_worker": names.get(current[-1]["worker_id"]) if current else None,
            }
            return profile

    def _mart(self, mart: str, sql: str, params: list) -> pl.DataFrame:
        """``sql`` over the copy of ``mart`` published for the app (decision 0046: the app never opens the
        warehouse dbt writes); empty before the mart's first build."""
        table = read_served(self.settings.served_dir(), mart, sql, params)
        return pl.DataFrame() if table is None else pl.from_arrow(table)

    def child_timeline(self, session: Session, child_id: str, kinds: tuple[str, ...] = ()) -> list[dict]:
        asked = {"kinds": list(kinds)}
        with self._audited(session, Action.CHILD_TIMELINE, child_id=child_id, request=asked) as call:
            sql, params = "select * from main.child_timeline where child_id = ?", [child_id]
            if kinds:
                sql += f" and event_type in ({', '.join('?' * len(kinds))})"
                params += list(kinds)
            frame = self._mart(
                "child_timeline", sql + " order by timeline_date desc nulls last, timeline_event_id", params
            )
            events = frame.to_dicts()
            call.note(result={"events": len(events)})
            return events

    def child_network(self, session: Session, child_id: str) -> dict:
        with self._audited(session, Action.CHILD_NETWORK, child_id=child_id) as call:
            frame = self._mart(
                "child_network", "select * from main.child_network where child_id = ? order by edge_id", [child_id]
            )
            # another child in the network is a node only for someone who may see that child
            edges = [e for e in frame.to_dicts() if sight(call.scope, e["node_id"]) is not Sight.NOTHING]
            call.note(result={"nodes": sorted({e["node_id"] for e in edges})})
            return {"child_id": child_id, "edges": edges}

    def _with_snippets(self, child_id: str, rows: list[dict], start: str, end: str) -> list[dict]:
        """``rows`` (each a span in one of the child's text items) with ``snippet_html``: the escaped text around
        the span with the span marked, or None where the text is no longer live."""
        if not rows:
            return rows
        items = text_items(self.lake, [child_id])
        texts = {(r["source_type"], r["source_id"], r["page"]): r["text"] for r in items.iter_rows(named=True)}
        for r in rows:
            text = texts.get((r["source_type"], r["source_id"], r["page"]))
            r["snippet_html"] = snippet(text, [(r[start], r[end])]) if text else None
        return rows

    def node_mentions(self, session: Session, child_id: str, node_id: str, limit: int = 200) -> list[dict]:
        """Every mention behind one ecomap node in this child's records, newest first, each with its source, date,
        span and an escaped snippet with the mention marked. A node that is a child the user may not see has
        none (it is not on their ecomap either)."""
        node = {"node_id": str(node_id)[:64]}
        with self._audited(session, Action.NODE_MENTIONS, child_id=child_id, request=node) as call:
            if sight(call.scope, str(node_id)) is Sight.NOTHING:
                call.note(target={"child_id": child_id, **node}, request={}, result={"ids": []})
                return []
            frame = self._mart(
                "child_network_mentions",
                "select * from main.child_network_mentions where child_id = ? and node_id = ?"
                " order by mention_date desc nulls last, mention_id limit ?",
                [child_id, str(node_id), int(limit)],
            )
            mentions = self._with_snippets(child_id, frame.to_dicts(), "start", "end")
            # once the child is granted, the row names the node as its target
            call.note(
                target={"child_id": child_id, **node}, request={}, result={"ids": [m["mention_id"] for m in mentions]}
            )
            return mentions

    def node_children(self, session: Session, child_id: str, node_id: str) -> list[dict]:
        """The other children this node appears around, among those the user may see (the ecomap's "expand")."""
        node = {"node_id": str(node_id)[:64]}
        with self._audited(session, Action.NODE_CHILDREN, child_id=child_id, request=node) as call:
            frame = self._mart(
                "child_network",
                "select child_id, relation, mention_count, confidence_band from main.child_network"
                " where node_id = ? and child_id <> ?",
                [str(node_id), child_id],
            )
            rows = [r for r in frame.to_dicts() if sight(call.scope, r["child_id"]) is Sight.RECORDS]
            profiles = {p["child_id"]: p for p in self._profiles(sorted({r["child_id"] for r in rows}))}
            out = [{**r, **profiles.get(r["child_id"], {})} for r in rows]
            # once the child is granted, the row names the node as its target
            call.note(target={"child_id": child_id, **node}, request={}, result={"ids": [r["child_id"] for r in out]})
            return out

    def child_factors(self, session: Session, child_id: str) -> list[dict]:
        """The CIN census factors and strengths the child's records state as current (the ``child_factors`` mart),
        each with the census's words for it. An aid to reading the file, never a decision."""
        with self._audited(session, Action.CHILD_FACTORS, child_id=child_id) as call:
            frame = self._mart(
                "child_factors",
                "select * from main.child_factors where child_id = ? order by kind, current_statements desc, code",
                [child_id],
            )
            rows = [{**r, "meaning": factor_meaning(r["code"])} for r in frame.to_dicts()] if frame.height else []
            call.note(result={"codes": [r["code"] for r in rows]})
            return rows

    def factor_statements(self, session: Session, child_id: str, code: str, limit: int = 200) -> list[dict]:
        """The statements behind one code in this child's records, newest first, current ones before the rest,
        each with its source, date, span and an escaped snippet with the statement marked."""
        asked = {"code": str(code)[:16]}
        with self._audited(session, Action.FACTOR_STATEMENTS, child_id=child_id, request=asked) as call:
            frame = self._mart(
                "child_factor_statements",
                "select * from main.child_factor_statements where child_id = ? and code = ?"
                " order by status <> 'current', record_date desc nulls last, statement_label_id limit ?",
                [child_id, str(code), int(limit)],
            )
            rows = self._with_snippets(child_id, frame.to_dicts() if frame.height else [], "span_start", "span_end")
            call.note(result={"ids": [r["statement_label_id"] for r in rows]})
            return rows

    # ---- analysts and auditors ---------------------------------------------------------------------------------
    def mart(self, session: Session, name: str) -> pl.DataFrame:
        with self._audited(
            session,
            Action.MART,
            target={"mart": str(name)[:64]},
            allowed=session.role.reads_marts and name in ANALYST_MARTS,
            why_not="role or mart not allowed",
        ) as call:
            frame = self._mart(name, f"select * from main.{name}", [])  # name is one of ANALYST_MARTS
            if "child_id" in frame.columns:
                hidden = hidden_children(self.lake, session.user.worker_id)
                frame = frame.filter(~pl.col("child_id").is_in(list(hidden)))
            call.note(target={"mart": name}, result={"rows": frame.height})
            return frame

    def adopter_insights(self, session: Session) -> adopter_analysis.AdopterInsights | None:
        """The latest adopter analysis (None before the first). Analysts get the aggregates only; the list of
        approved households, by household id, and its fairness audit are for family finders."""
        with self._audited(
            session,
            Action.ADOPTER_INSIGHTS,
            allowed=session.role.reads_adopter_insights,
            why_not=f"role {session.role} does not read adopter insights",
        ) as call:
            result = adopter_analysis.read(self.lake)
            if result is not None and not session.role.reads_adopter_list:
                result.candidates = result.candidates.clear()
                result.fairness = result.fairness.clear()
            households = [] if result is None else result.candidates["household_id"].unique().sort().to_list()
            call.note(result={"effects": 0 if result is None else result.effects.height, "households": households})
            return result

    def provenance(self, session: Session, kind: str, ident: str, key: dict[str, str] | None = None) -> Provenance:
        """Where one fact came from (``lake.ops.lineage``): an ecomap ``edge``, an entity ``mention``, a search
        ``hit`` or a mart ``row`` (``ident`` the mart, ``key`` its key columns). Auditors may trace any fact; a
        case reader only a fact about a child they may see. The chain holds ids and hashes, never content."""
        request = {
            "kind": str(kind)[:16],
            "id": str(ident)[:64],
            "key": {str(k)[:64]: str(v)[:64] for k, v in (key or {}).items()},
        }
        with self._audited(
            session,
            Action.PROVENANCE,
            request=request,
            allowed=session.role.reads_audit or session.role.reads_case_text,
            why_not=f"role {session.role} traces no facts",
        ) as call:
            tracer = Tracer(self.lake, self.settings.warehouse(), self.settings.landing(), self.settings.served_dir())
            try:
                if kind == "row" and not ID.match(str(ident)):
                    raise LineageError("not a mart's name")
                found = tracer.trace(kind, ident, key, self.settings.lancedb(), dict(self.settings.storage_options))
            except LineageError:
                raise call.deny("no such fact") from None
            if not session.role.reads_audit:
                call.child_in_scope(found.child_id or "")
                # an edge whose node is a child out of scope is not on the user's ecomap: nor is its trace
                node = found.links[0].detail.get("node_id") if kind == "edge" and found.links else None
                if node is not None and sight(call.scope, str(node)) is Sight.NOTHING:
                    raise call.deny("no such fact")
            call.note(
                target={"child_id": found.child_id} if found.child_id else {},
                result={"links": len(found.links), "files": [f.key["path"] for f in found.landing_files()]},
            )
            return found

    def audit_log(
        self,
        session: Session,
        where: AuditFilter | None = None,
        *,
        since_seq: int = 0,
        limit: int = 1000,
        newest: bool = False,
    ) -> list[dict]:
        """The journal's rows that match (oldest first; ``newest``: the last ``limit`` of them), for auditors."""
        where = where or AuditFilter()
        asked = {"since_seq": since_seq, "limit": limit, **where.describe()}
        with self._audited(
            session,
            Action.AUDIT_LOG,
            request=asked,
            allowed=session.role.reads_audit,
            why_not=f"role {session.role} does not read the audit log",
        ) as call:
            rows = self.audit.rows(since_seq=since_seq, limit=limit, where=where, newest=newest)
            call.note(result={"rows": len(rows)})
            return rows

    def audit_export(self, session: Session, where: AuditFilter | None = None) -> bytes:
        """Every row that matches, as CSV (:func:`app.audit.to_csv`). The export is itself a row: it names the
        filter, how many rows left and the last one they reach, and is written before the file is returned."""
        where = where or AuditFilter()
        with self._audited(
            session,
            Action.AUDIT_EXPORT,
            request=where.describe(),
            allowed=session.role.reads_audit,
            why_not=f"role {session.role} does not export the audit log",
        ) as call:
            rows = self.audit.rows(limit=10**12, where=where)
            data = to_csv(rows)
            call.note(result={"rows": len(rows), "last_seq": rows[-1]["seq"] if rows else 0, "bytes": len(data)})
            return data

    def ecomap_export(self, session: Session, child_id: str, fmt: str, node_ids: list[str]) -> None:
        """Record an ecomap leaving the app (PNG, GraphML or JSON) before the browser gets it: the child, the
        format and the nodes drawn. Refused, with no file, for a child out of scope or an ended session."""
        asked = {"format": str(fmt)[:16]}
        with self._audited(session, Action.ECOMAP_EXPORT, child_id=child_id, request=asked) as call:
            call.require(fmt in ("png", "graphml", "json"), "not an export format")
            nodes = sorted({str(n)[:64] for n in node_ids})
            # what the view draws came from child_network, which the policy already filtered; an export naming a
            # node the policy hides is refused rather than trusted
            call.require(all(sight(call.scope, n) is not Sight.NOTHING for n in nodes), "a node out of scope")
            call.note(result={"nodes": nodes})

    # ---- disclosure officers (issue 39) ----------------------------------------------------------------------
    def _disclosure_call(self, session: Session, action: Action, **asked):
        """An audited call a disclosure officer alone may make; the officer's restricted children left out."""
        return self._audited(
            session,
            action,
            request={k: str(v)[:64] for k, v in asked.items() if v is not None},
            allowed=session.role.answers_disclosures,
            why_not=f"role {session.role} answers no subject access requests",
        )

    def disclosure_request(
        self,
        session: Session,
        subject_id: str,
        requester_id: str | None = None,
        received: dt.date | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> DisclosureRequest:
        """A subject access request checked against the lake (the subject exists; a parent asking for a child is
        recorded as their parent) and kept in the lake's disclosure layer."""
        asked = {"subject_id": subject_id, "requester_id": requester_id}
        with self._disclosure_call(session, Action.DISCLOSURE_REQUEST, **asked) as call:
            try:
                request = disclosure.new_request(self.lake, subject_id, requester_id, received, date_from, date_to)
            except disclosure.RequestError as exc:
                call.fail("invalid", str(exc)[:200])
                raise InvalidRequest(str(exc)) from exc
            disclosure_store.save_request(self.lake, request, session.login)
            call.note(target={"request_id": request.request_id}, result={"due": str(request.due)})
            return request

    def disclosure_propose(self, session: Session, request_id: str) -> dict:
        """Compile the request's records and propose redactions (replacing the last proposals); a summary back."""
        with self._disclosure_call(session, Action.DISCLOSURE_PROPOSE, request_id=request_id) as call:
            request = self._disclosure_request_of(call, request_id)
            compiled = disclosure.compile_items(self.lake, request, self._out_of_sight(session))
            proposals = disclosure.propose(self.lake, request, compiled)
            disclosure_store.save_proposals(self.lake, request_id, compiled, proposals)
            summary = {
                "items": compiled.items.height,
                "proposals": proposals.height,
                "to_redact": int((proposals["action"] == "redact").sum()),
                "to_review": int((proposals["action"] == "review").sum()),
                "kept": int((proposals["action"] == "keep").sum()),
                "outside_dates": compiled.skipped_outside_range,
                "restricted_left_out": compiled.restricted_left_out,
            }
            call.note(target={"request_id": request_id, "subject_id": request.subject_id}, result=summary)
            return summary

    def disclosure_proposals(self, session: Session, request_id: str) -> pl.DataFrame:
        """The request's proposals with the officer's latest decision on each (``decision``, null if none)."""
        with self._disclosure_call(session, Action.DISCLOSURE_STATUS, request_id=request_id) as call:
            self._disclosure_request_of(call, request_id)
            proposals = disclosure_store.load_proposals(self.lake, request_id)
            decided = disclosure_store.latest_decisions(self.lake, request_id).select("proposal_id", "decision")
            call.note(target={"request_id": request_id}, result={"proposals": proposals.height})
            return proposals.join(decided, on="proposal_id", how="left")

    def disclosure_decide(self, session: Session, request_id: str, decisions: dict[str, str]) -> int:
        """Record the officer's decisions (proposal id -> redact | keep); returns how many were recorded."""
        with self._disclosure_call(session, Action.DISCLOSURE_DECIDE, request_id=request_id) as call:
            self._disclosure_request_of(call, request_id)
            known = set(disclosure_store.load_proposals(self.lake, request_id)["proposal_id"])
            bad = [p for p, d in decisions.items() if p not in known or d not in ("redact", "keep")]
            if bad:
                call.fail("invalid", f"{len(bad)} decision(s) name no proposal of this request or no decision")
                raise InvalidRequest(f"{len(bad)} decision(s) are not redact/keep on a proposal of {request_id}")
            disclosure_store.save_decisions(self.lake, request_id, decisions, session.login)
            call.note(target={"request_id": request_id}, result={"decisions": len(decisions)})
            return len(decisions)

    def disclosure_export(self, session: Session, request_id: str, out: Path) -> dict:
        """Write the bundle (the proposals as decided) to ``out`` as a PDF, recorded in the lake with its hash."""
        with self._disclosure_call(session, Action.DISCLOSURE_EXPORT, request_id=request_id) as call:
            request = self._disclosure_request_of(call, request_id)
            proposals = disclosure_store.load_proposals(self.lake, request_id)
            if proposals.is_empty():
                call.fail("invalid", "nothing proposed yet")
                raise InvalidRequest(f"{request_id} has no proposals yet: propose first")
            compiled = disclosure.compile_items(self.lake, request, self._out_of_sight(session))
            stale = set(compiled.items["item_id"]) ^ set(disclosure_store.items_of(self.lake, request_id))
            if stale:
                # a record changed, arrived or was deleted at source since the proposals: propose again first
                call.fail("invalid", f"{len(stale)} record(s) changed since the proposals")
                raise InvalidRequest(f"{len(stale)} record(s) changed since the proposals were made: propose again")
            decided = disclosure_store.latest_decisions(self.lake, request_id)
            removed = disclosure.redactions(proposals, decided)
            subject = self.lake.read(ENTERPRISE, "person", filters=[("person_id", "=", request.subject_id)])
            name = " ".join(x for x in subject.select("first_name", "surname").row(0) if x) if subject.height else ""
            exported = disclosure.export_pdf(
                request,
                name,
                compiled.items,
                removed,
                out,
                disclosure.scanned_pages(self.lake, self.settings.landing()),
            )
            digest = disclosure_store.record_export(self.lake, request_id, out, exported, session.login)
            result = {
                "pages": exported.pages,
                "redactions": exported.redactions,
                "images_embedded": exported.images_embedded,
                "images_withheld": exported.images_withheld,
                "sha256": digest,
            }
            call.note(target={"request_id": request_id}, result=result)
            return result

    def disclosure_status(self, session: Session) -> list[dict]:
        """Every request with its due date, days left, proposals to review and its last export."""
        with self._disclosure_call(session, Action.DISCLOSURE_STATUS) as call:
            requests = disclosure_store.requests(self.lake)
            proposals = self.lake.read(disclosure_store.DISCLOSURE, disclosure_store.PROPOSALS)
            exports = disclosure_store.exports(self.lake)
            today = dt.date.today()
            rows = []
            for r in requests.iter_rows(named=True):
                mine = proposals.filter(pl.col("request_id") == r["request_id"]) if proposals is not None else None
                done = exports.filter(pl.col("request_id") == r["request_id"]).sort("exported_at")
                rows.append(
                    {
                        **r,
                        "days_left": (r["due"] - today).days,
                        "proposals": 0 if mine is None else mine.height,
                        "to_review": 0 if mine is None else int((mine["action"] == "review").sum()),
                        "exported_at": done["exported_at"][-1] if done.height else None,
                    }
                )
            call.note(result={"requests": len(rows)})
            return rows

    def _out_of_sight(self, session: Session) -> frozenset[str]:
        """The restricted children whose records this officer's bundles leave out (a restriction not naming them)."""
        user = self.users.get(session.login)
        return hidden_children(self.lake, user.worker_id if user else None)

    def _disclosure_request_of(self, call: AuditedCall, request_id: str) -> DisclosureRequest:
        request = disclosure_store.load_request(self.lake, request_id)
        if request is None:
            call.fail("invalid", "no such request")
            raise InvalidRequest(f"no request {request_id!r}: make it first (caselake disclosure new)")
        return request


def _page_png(path: str | None, page: int, scale: float) -> bytes | None:
    """One page of a landed PDF as PNG; ``None`` for a file without pages (.doc, .docx), a page it does not
    have, or a PDF pdfium cannot open (unreadable or password-protected: the text side says why)."""
    if path is None or not str(path).lower().endswith(".pdf") or not Path(path).is_file():
        return None
    import io

    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(path)
        if not 1 <= int(page) <= len(pdf):
            return None
        image = pdf[int(page) - 1].render(scale=scale).to_pil()
    except pypdfium2.PdfiumError:
        return None
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _ocr_reading(page: pl.DataFrame) -> dict:
    """A scanned page's OCR confidence, whether it was read, flagged or unreadable, and what was flagged."""
    if not page.height or "ocr_confidence" not in page.columns:
        return {"ocr_confidence": None, "reading": None, "flags": {}}
    row = page.row(0, named=True)
    kinds: dict[str, int] = {}
    for flag in json.loads(row.get("ocr_flags") or "[]"):
        kinds[flag["kind"]] = kinds.get(flag["kind"], 0) + 1
    return {"ocr_confidence": row["ocr_confidence"], "reading": row.get("reading"), "flags": kinds}
