"""The query service: the one way people read case data. The app, the CLI and the tests call it; it signs
people in, works out what their role lets them see, runs the read with that scope built into the query,
and writes the audit row before anything is returned (if the row can't be written, the call fails).

Every call that reads case data takes a :class:`Session` and:

1. refuses (and audits the refusal) when the role reads no case text, or the child is not in scope;
   a child out of scope and a child that does not exist get the same answer, so nothing reveals that a
   hidden record exists;
2. reads with the scope as a filter inside the query (LanceDB prefilter, Delta/DuckDB predicates);
3. audits the call with what was asked and the ids returned, then returns.

Application logs never carry query text, names or record text: the audit journal is the only place a
query is written down.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from app.access import SCOPE_TABLES, Scope, hidden_children, scope_for
from app.audit import AuditLog
from app.users import Role, User, UserStore
from lake.documents.pipeline import TEXT, manifest
from lake.embedding import Embedder
from lake.entities.extraction import text_items
from lake.insights import analysis as adopter_analysis
from lake.ops.lineage import LineageError, Provenance, Tracer
from lake.search.index import SOURCE_TYPES, open_table
from lake.search.people import PeopleDirectory
from lake.search.query import ID, InvalidRequest, Searcher, SearchRequest, SearchResult, snippet
from lake.settings import Settings
from lake.storage.delta import ENTERPRISE

log = logging.getLogger("caselake.service")

# Marts an analyst may read: no free text in any column. Rows about a child are still subject to the
# child's access restriction.
ANALYST_MARTS = ("adoption_journey", "adopter_features", "placement_history")


class AccessDenied(PermissionError):
    """The role or the scope does not allow this read. The message never says whether the record exists."""


class NotSignedIn(PermissionError):
    pass


@dataclass(frozen=True)
class Session:
    user: User
    via: str  # password | oidc | cli

    @property
    def login(self) -> str:
        return self.user.login

    @property
    def role(self) -> Role:
        return self.user.role


class QueryService:
    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self.lake = settings.lake()
        self.users = UserStore(settings.users_file())
        self.audit = AuditLog(settings.audit_db())
        self.embedder = embedder or Embedder(settings.search)
        self._lock = threading.Lock()
        self._scopes: dict[tuple, Scope] = {}
        self._people: PeopleDirectory | None = None
        self._index = None
        self._current_searcher: Searcher | None = None

    def warm(self) -> None:
        """Load the embedding model and open the index and the people directory now, so the first person to
        search does not wait for them (the app calls this before it listens)."""
        self.embedder.encode(["warm up"])
        table = self._table
        if table is not None:
            self._searcher(table).item_types()

    # ---- signing in ----------------------------------------------------------------------------------
    def login(self, login: str, password: str) -> Session:
        user = self.users.authenticate(login, password)
        if user is None:
            self.audit.write(
                login=login[:64], role="", action="login", outcome="denied", detail="wrong login or password"
            )
            raise NotSignedIn("wrong login or password")
        self.audit.write(login=user.login, role=str(user.role), action="login", request={"via": "password"})
        return Session(user, "password")

    def session_for(self, login: str, via: str) -> Session:
        """A session for a login someone else has proven (the identity provider, or the operator at the CLI)."""
        user = self.users.get(login)
        if user is None or user.disabled:
            self.audit.write(
                login=login[:64],
                role="",
                action="login",
                request={"via": via},
                outcome="denied",
                detail="unknown login",
            )
            raise NotSignedIn(f"no user {login!r} in the users file")
        self.audit.write(login=user.login, role=str(user.role), action="login", request={"via": via})
        return Session(user, via)

    def resume(self, login: str, via: str) -> Session:
        """The session of someone already signed in (the app's signed cookie names them): the user must still
        exist and be enabled. Audited as the start of an app session, not as a second login."""
        user = self.users.get(login)
        if user is None or user.disabled:
            self.audit.write(login=login[:64], role="", action="session", request={"via": via}, outcome="denied")
            raise NotSignedIn("this login is no longer allowed")
        self.audit.write(login=user.login, role=str(user.role), action="session", request={"via": via})
        return Session(user, via)

    def logout(self, login: str) -> None:
        user = self.users.get(login)
        self.audit.write(login=login[:64], role=str(user.role) if user else "", action="logout")

    # ---- scope -----------------------------------------------------------------------------------------
    def _versions(self) -> tuple:
        return tuple(self.lake.version(ENTERPRISE, t) for t in SCOPE_TABLES)

    def scope(self, session: Session) -> Scope:
        key = (session.user.worker_id, session.role, dt.date.today(), self._versions())
        with self._lock:
            if key not in self._scopes:
                self._scopes = {key: scope_for(self.lake, session.user)} | dict(list(self._scopes.items())[-64:])
            return self._scopes[key]

    def _audit(self, session: Session, action: str, **fields) -> int:
        """The audit row of a call by ``session``; raises ``AuditWriteFailed`` (so the call fails) if unwritten."""
        return self.audit.write(login=session.login, role=str(session.role), action=action, **fields)

    def _deny(
        self, session: Session, action: str, target: dict, request: dict | None = None, why: str = ""
    ) -> AccessDenied:
        self._audit(
            session,
            action,
            target=target,
            request=request,
            outcome="denied",
            detail=why,
        )
        log.info("denied %s for role %s", action, session.role)  # no ids or text in logs
        return AccessDenied("not available to you")  # the same words whether or not the record exists

    def _case_reader(self, session: Session, action: str, target: dict, request: dict | None = None) -> Scope:
        if not session.role.reads_case_text:
            raise self._deny(session, action, target, request, f"role {session.role} reads no case records")
        return self.scope(session)

    def _child_in_scope(self, session: Session, action: str, child_id: str, request: dict | None = None) -> Scope:
        target = {"child_id": str(child_id)[:64]}
        scope = self._case_reader(session, action, target, request)
        if not isinstance(child_id, str) or not ID.match(child_id) or child_id not in scope.children:
            raise self._deny(session, action, target, request, "child not in scope")
        return scope

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

    def _searcher(self, table) -> Searcher:
        """One searcher while the resolved people are unchanged: it keeps its cache of the index's types."""
        people = self.people()
        with self._lock:
            if self._current_searcher is None or self._current_searcher.people is not people:
                self._current_searcher = Searcher(table, self.embedder, people)
            return self._current_searcher

    def search(self, session: Session, request: SearchRequest) -> SearchResult:
        asked = {
            "text": request.text[:2000],
            "mode": request.mode,
            "sort": request.sort,
            "filters": request.filters.describe(),
            "limit": request.limit,
        }
        scope = self._case_reader(session, "search", {}, asked)
        table = self._table
        if table is None:
            self._audit(
                session,
                "search",
                request=asked,
                result={"ids": []},
                detail="no index yet",
            )
            return SearchResult([], [], request.mode, request.sort)
        try:
            result = self._searcher(table).search(request, scope.children)
        except InvalidRequest as exc:
            self._audit(
                session,
                "search",
                request=asked,
                outcome="invalid",
                detail=str(exc)[:500],
            )
            raise
        self._audit(
            session,
            "search",
            request=asked,
            result={
                "ids": [h.chunk_id for h in result.hits],
                "people": [p.rsplit("(", 1)[-1].rstrip(")") for p in result.people],
            },
        )
        return result

    def search_options(self, session: Session) -> dict:
        """What the search page's filters may offer: the source types and the note/document/form types indexed."""
        self._case_reader(session, "search_options", {})
        table = self._table
        types = sorted(self._searcher(table).item_types()) if table is not None else []
        return {"source_types": list(SOURCE_TYPES), "item_types": types}

    # ---- opening records ---------------------------------------------------------------------------------
    def _one(self, table: str, key: str, value: str) -> dict | None:
        if not isinstance(value, str) or not ID.match(value):
            return None
        rows = self.lake.read(ENTERPRISE, table, filters=[(key, "=", value)])
        if rows is None:
            return None
        rows = rows.filter(pl.col("_deleted_at").is_null())
        return rows.row(0, named=True) if rows.height else None

    def _record_child(self, session: Session, action: str, table: str, key: str, record_id: str) -> dict:
        """The live record if its child is in scope; otherwise the same denial whether it exists or not."""
        target = {key: str(record_id)[:64]}
        scope = self._case_reader(session, action, target)
        row = self._one(table, key, record_id)
        if row is None or row["child_id"] not in scope.children:
            raise self._deny(session, action, target, why="record not found or child not in scope")
        return row

    def open_note(self, session: Session, note_id: str) -> dict:
        row = self._record_child(session, "open_note", "case_note", "note_id", note_id)
        out = {k: v for k, v in row.items() if not k.startswith("_")}
        self._audit(
            session,
            "open_note",
            target={"note_id": note_id, "child_id": row["child_id"]},
        )
        return out

    def open_form(self, session: Session, form_id: str) -> dict:
        row = self._record_child(session, "open_form", "form_response", "form_id", form_id)
        answers = self.lake.read(ENTERPRISE, "form_response", filters=[("form_id", "=", form_id)]).filter(
            pl.col("_deleted_at").is_null()
        )
        out = {
            "form_id": form_id,
            "child_id": row["child_id"],
            "form_type": row["form_type"],
            "form_date": row["form_date"],
            "worker_id": row["worker_id"],
            "outcome": row["outcome"],
            "answers": answers.select("question_code", "question", "answer_text").sort("question_code").to_dicts(),
        }
        self._audit(
            session,
            "open_form",
            target={"form_id": form_id, "child_id": row["child_id"]},
        )
        return out

    def _current_file(self, document_id: str) -> tuple[str | None, str | None]:
        """The document's landed file (path) and its SHA-256, as the documents stage read it."""
        current = manifest(self.lake, self.settings.landing(), document_ids=[document_id])
        return (current["path"][0], current["content_hash"][0]) if current.height else (None, None)

    def open_document_page(self, session: Session, document_id: str, page: int) -> dict:
        row = self._record_child(session, "open_document", "document", "document_id", document_id)
        pages = self.lake.read(ENTERPRISE, TEXT, filters=[("document_id", "=", document_id)])
        _, content_hash = self._current_file(document_id)
        pages = pages.filter(pl.col("content_hash") == content_hash) if pages is not None else pl.DataFrame()
        text = pages.filter(pl.col("page") == int(page)) if pages.height else pages
        out = {
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
        }
        self._audit(
            session,
            "open_document",
            target={"document_id": document_id, "page": int(page), "child_id": row["child_id"]},
        )
        return out

    def download(self, session: Session, document_id: str) -> tuple[str, bytes]:
        """The original file as landed: (file name, bytes)."""
        row = self._record_child(session, "download", "document", "document_id", document_id)
        path, content_hash = self._current_file(document_id)
        if path is None or not Path(path).is_file():
            self._audit(
                session,
                "download",
                target={"document_id": document_id},
                outcome="error",
                detail="file not landed",
            )
            raise FileNotFoundError("the original file of this document was never landed")
        data = Path(path).read_bytes()
        self._audit(
            session,
            "download",
            target={"document_id": document_id, "child_id": row["child_id"]},
            result={"bytes": len(data), "sha256": content_hash},
        )
        return Path(row["file_name"]).name, data

    def page_image(self, session: Session, document_id: str, page: int, scale: float = 1.5) -> bytes | None:
        """The page as the scanner saw it (PNG), for PDFs; ``None`` for files without pages (.doc, .docx)."""
        row = self._record_child(session, "page_image", "document", "document_id", document_id)
        path, content_hash = self._current_file(document_id)
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
            return None  # unreadable or password-protected: the text side says why
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        self._audit(
            session,
            "page_image",
            target={"document_id": document_id, "page": int(page), "child_id": row["child_id"]},
            result={"sha256": content_hash},
        )
        return buffer.getvalue()

    # ---- the child's pages ---------------------------------------------------------------------------------
    def children(self, session: Session) -> list[dict]:
        """The children this user may see, with what tells two of the same name apart (age, locality)."""
        scope = self._case_reader(session, "list_children", {})
        people = self._profiles(sorted(scope.children))
        self._audit(
            session,
            "list_children",
            result={"ids": [p["child_id"] for p in people]},
        )
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
        self._child_in_scope(session, "child_profile", child_id)
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
        self._audit(session, "child_profile", target={"child_id": child_id})
        return profile

    def _mart(self, sql: str, params: list) -> pl.DataFrame:
        path = self.settings.duckdb_path()
        if not path.exists():
            return pl.DataFrame()
        with duckdb.connect(str(path), read_only=True) as con:
            return pl.from_arrow(con.sql(sql, params=params).to_arrow_table())

    def child_timeline(self, session: Session, child_id: str, kinds: tuple[str, ...] = ()) -> list[dict]:
        self._child_in_scope(session, "child_timeline", child_id, {"kinds": list(kinds)})
        sql, params = "select * from main.child_timeline where child_id = ?", [child_id]
        if kinds:
            sql += f" and event_type in ({', '.join('?' * len(kinds))})"
            params += list(kinds)
        frame = self._mart(sql + " order by timeline_date desc nulls last, timeline_event_id", params)
        events = frame.to_dicts()
        self._audit(
            session,
            "child_timeline",
            target={"child_id": child_id},
            request={"kinds": list(kinds)},
            result={"events": len(events)},
        )
        return events

    def child_network(self, session: Session, child_id: str) -> dict:
        scope = self._child_in_scope(session, "child_network", child_id)
        frame = self._mart("select * from main.child_network where child_id = ? order by edge_id", [child_id])
        # another child in the network is a node only for someone who may see that child
        recorded = self.lake.read(ENTERPRISE, "child")
        hidden = set(recorded["person_id"].to_list() if recorded is not None else []) - set(scope.children)
        edges = [e for e in frame.to_dicts() if e["node_id"] not in hidden]
        self._audit(
            session,
            "child_network",
            target={"child_id": child_id},
            result={"nodes": sorted({e["node_id"] for e in edges})},
        )
        return {"child_id": child_id, "edges": edges}

    def node_mentions(self, session: Session, child_id: str, node_id: str, limit: int = 200) -> list[dict]:
        """Every mention behind one ecomap node in this child's records, newest first, each with its source, date,
        span and an escaped snippet with the mention marked."""
        self._child_in_scope(session, "node_mentions", child_id, {"node_id": str(node_id)[:64]})
        frame = self._mart(
            "select * from main.child_network_mentions where child_id = ? and node_id = ?"
            " order by mention_date desc nulls last, mention_id limit ?",
            [child_id, str(node_id), int(limit)],
        )
        mentions = frame.to_dicts()
        texts = {}
        if mentions:
            items = text_items(self.lake, [child_id])
            texts = {(r["source_type"], r["source_id"], r["page"]): r["text"] for r in items.iter_rows(named=True)}
        for m in mentions:
            text = texts.get((m["source_type"], m["source_id"], m["page"]))
            m["snippet_html"] = snippet(text, [(m["start"], m["end"])]) if text else None
        self._audit(
            session,
            "node_mentions",
            target={"child_id": child_id, "node_id": str(node_id)[:64]},
            result={"ids": [m["mention_id"] for m in mentions]},
        )
        return mentions

    def node_children(self, session: Session, child_id: str, node_id: str) -> list[dict]:
        """The other children this node appears around, among those the user may see (the ecomap's "expand")."""
        scope = self._child_in_scope(session, "node_children", child_id, {"node_id": str(node_id)[:64]})
        frame = self._mart(
            "select child_id, relation, mention_count, confidence_band from main.child_network"
            " where node_id = ? and child_id <> ?",
            [str(node_id), child_id],
        )
        rows = [r for r in frame.to_dicts() if r["child_id"] in scope.children]
        profiles = {p["child_id"]: p for p in self._profiles(sorted({r["child_id"] for r in rows}))}
        out = [{**r, **profiles.get(r["child_id"], {})} for r in rows]
        self._audit(
            session,
            "node_children",
            target={"child_id": child_id, "node_id": str(node_id)[:64]},
            result={"ids": [r["child_id"] for r in out]},
        )
        return out

    # ---- analysts and auditors ---------------------------------------------------------------------------------
    def mart(self, session: Session, name: str) -> pl.DataFrame:
        if not session.role.reads_marts or name not in ANALYST_MARTS:
            raise self._deny(session, "mart", {"mart": str(name)[:64]}, why="role or mart not allowed")
        frame = self._mart(f"select * from main.{name}", [])  # name is one of ANALYST_MARTS
        if "child_id" in frame.columns:
            frame = frame.filter(~pl.col("child_id").is_in(list(hidden_children(self.lake, session.user.worker_id))))
        self._audit(
            session,
            "mart",
            target={"mart": name},
            result={"rows": frame.height},
        )
        return frame

    def adopter_insights(self, session: Session) -> adopter_analysis.AdopterInsights | None:
        """The latest adopter analysis (None before the first). Analysts get the aggregates only; the list of
        approved households, by household id, and its fairness audit are for family finders."""
        if not session.role.reads_adopter_insights:
            raise self._deny(session, "adopter_insights", {}, why=f"role {session.role} does not read adopter insights")
        result = adopter_analysis.read(self.lake)
        if result is not None and not session.role.reads_adopter_list:
            result.candidates = result.candidates.clear()
            result.fairness = result.fairness.clear()
        self._audit(
            session,
            "adopter_insights",
            result={
                "effects": 0 if result is None else result.effects.height,
                "households": [] if result is None else result.candidates["household_id"].unique().sort().to_list(),
            },
        )
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
        if not (session.role.reads_audit or session.role.reads_case_text):
            raise self._deny(session, "provenance", {}, request, f"role {session.role} traces no facts")
        tracer = Tracer(self.lake, self.settings.warehouse(), self.settings.landing())
        try:
            if kind == "row" and not ID.match(str(ident)):
                raise LineageError("not a mart's name")
            found = tracer.trace(kind, ident, key, self.settings.lancedb(), dict(self.settings.storage_options))
        except LineageError:
            raise self._deny(session, "provenance", {}, request, "no such fact") from None
        if not session.role.reads_audit:
            self._child_in_scope(session, "provenance", found.child_id or "", request)
        self._audit(
            session,
            "provenance",
            target={"child_id": found.child_id} if found.child_id else {},
            request=request,
            result={"links": len(found.links), "files": [f.key["path"] for f in found.landing_files()]},
        )
        return found

    def audit_log(
        self,
        session: Session,
        *,
        since_seq: int = 0,
        limit: int = 1000,
        login: str | None = None,
        action: str | None = None,
    ) -> list[dict]:
        asked = {"since_seq": since_seq, "limit": limit, "login": login, "action": action}
        if not session.role.reads_audit:
            raise self._deny(session, "audit_log", {}, asked, f"role {session.role} does not read the audit log")
        rows = self.audit.rows(since_seq=since_seq, limit=limit, login=login, action=action)
        self._audit(session, "audit_log", request=asked, result={"rows": len(rows)})
        return rows
