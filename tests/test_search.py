"""Search and the query service on the shared council (loaded through the Dagster jobs, search index included):
the index follows the lake, every role sees exactly what it should through every call, each call leaves its
audit row, hostile input never widens a filter, and the audit journal shows any tampering."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import multiprocessing
import shutil
import sqlite3
import threading

import polars as pl
import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

from app.audit import AuditLog, AuditWriteFailed
from app.service import AccessDenied, QueryService
from app.users import Role, UserStore
from lake.embedding import Embedder
from lake.search import index
from lake.search.query import InvalidRequest, SearchFilters, SearchRequest, snippet
from lake.settings import AccessSettings
from lake.storage.delta import ENTERPRISE

PASSWORD = "correct horse battery staple"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="session")
def people(read_council) -> dict:
    """The restricted child, a worker it names, and a worker of the council involved with it but not named."""
    lake = read_council.lake
    restriction = lake.read(ENTERPRISE, "access_restriction").filter(pl.col("_deleted_at").is_null())
    child = restriction["child_id"][0]
    named = set(restriction.filter(pl.col("child_id") == child)["worker_id"].to_list())
    involved = lake.read(ENTERPRISE, "involvement").filter(pl.col("child_id") == child)["worker_id"].to_list()
    unnamed = sorted(set(involved) - named)
    assert unnamed, "the shared council needs a worker involved with the restricted child but not named by it"
    return {"restricted": child, "named": sorted(set(involved) & named)[0], "unnamed": unnamed[0]}


@pytest.fixture(scope="session")
def service(read_council, people, embedder, tmp_path_factory) -> QueryService:
    root = tmp_path_factory.mktemp("access")
    settings = dataclasses.replace(
        read_council.settings.replace(landing_dir=str(read_council.council.out / "landing")),
        access=AccessSettings(users_file=str(root / "users.json"), audit_db=str(root / "audit.sqlite")),
    )
    users = UserStore(settings.users_file())
    users.add("named", Role.TEAM_MANAGER, "Named Worker", PASSWORD, people["named"])
    users.add("unnamed", Role.TEAM_MANAGER, "Unnamed Worker", PASSWORD, people["unnamed"])
    users.add("iro", Role.IRO, "Reviewer", PASSWORD, people["unnamed"])
    users.add("auditor", Role.AUDITOR, "Auditor", PASSWORD)
    users.add("analyst", Role.ANALYST, "Analyst", PASSWORD)
    users.add("admin", Role.ADMIN, "Admin", PASSWORD)
    return QueryService(settings, embedder)


def _last_audit(service: QueryService) -> dict:
    return service.audit.rows(since_seq=0, limit=1_000_000)[-1]


def _a_note_of(lake, child: str) -> dict:
    notes = lake.read(ENTERPRISE, "case_note").filter((pl.col("child_id") == child) & pl.col("_deleted_at").is_null())
    return notes.sort("note_id").row(0, named=True)


# ---- the index ----------------------------------------------------------------------------------------------
def test_the_index_holds_every_live_chunk_and_an_unchanged_rerun_writes_nothing(read_council, embedder):
    assert read_council.checks["index_matches_the_lake"] == "SUCCEEDED"
    meta = read_council.search_metadata
    assert meta["chunks_embedded"].value > 1000 and meta["chunks_per_second"].value > 0
    settings = read_council.settings
    table = index.open_table(settings.lancedb())
    indexed = {ix.columns[0] for ix in table.list_indices()}
    assert {"text", *index.FILTER_INDEXES} <= indexed
    assert table.schema.field("vector").type.list_size == 384
    before = table.version
    again = index.build_index(settings.lake(), settings.lancedb(), embedder)
    assert (again.embedded, again.upserted, again.deleted) == (0, 0, 0)
    assert index.open_table(settings.lancedb()).version == before
    kinds = set(index.search_chunks(settings.lake())["source_type"].to_list())
    assert kinds == set(index.SOURCE_TYPES)


def test_the_index_follows_deleted_changed_and_retyped_notes(read_council, embedder, tmp_path):
    lake_dir = tmp_path / "lake"
    shutil.copytree(read_council.lake.root, lake_dir)
    settings = read_council.settings.replace(lake_uri=str(lake_dir), lancedb_uri=str(tmp_path / "lancedb"))
    lake = settings.lake()
    first = index.build_index(lake, settings.lancedb(), embedder)
    notes = lake.read(ENTERPRISE, "case_note").filter(pl.col("_deleted_at").is_null()).sort("note_id")
    deleted, changed, retyped = notes["note_id"][:3].to_list()
    table = DeltaTable(lake.uri(ENTERPRISE, "case_note"))
    table.update(predicate=f"note_id = '{deleted}'", updates={"_deleted_at": "now()"})
    hostile = "Visit note <script>alert('x')</script> zebracrossing <b>bold</b> &amp;"
    # an SQL literal: deltalake's new_values does not escape quotes
    table.update(predicate=f"note_id = '{changed}'", updates={"note_text": "'" + hostile.replace("'", "''") + "'"})
    table.update(predicate=f"note_id = '{retyped}'", new_values={"note_type": "Supervision"})

    run = index.build_index(lake, settings.lancedb(), embedder)
    assert run.deleted >= 1 and run.embedded == 1 and run.reused_vectors >= 1
    rows = pl.from_arrow(index.open_table(settings.lancedb()).to_arrow().select(["record_id", "item_type", "text"]))
    assert deleted not in rows["record_id"].to_list()
    assert rows.filter(pl.col("record_id") == retyped)["item_type"].unique().to_list() == ["Supervision"]
    assert run.deleted >= 2  # the deleted note's chunks and the changed note's old ones
    assert rows.height == first.chunks - run.deleted + 1

    from lake.search.query import Searcher

    searcher = Searcher(index.open_table(settings.lancedb()), embedder)
    everyone = frozenset(notes["child_id"].unique().to_list())
    found = searcher.search(SearchRequest("zebracrossing", mode="text"), everyone).hits
    assert [h.record_id for h in found] == [changed]
    assert "<script>" not in found[0].snippet_html and "&lt;script&gt;" in found[0].snippet_html
    assert "<mark>zebracrossing</mark>" in found[0].snippet_html and "<b>" not in found[0].snippet_html
    gone_text = notes.filter(pl.col("note_id") == deleted)["note_text"][0]
    assert deleted not in {h.record_id for h in searcher.search(SearchRequest(gone_text, limit=50), everyone).hits}


def test_snippets_escape_first_and_mark_second():
    text = "<img src=x onerror=alert(1)> safety & plan"
    out = snippet(text, [(text.index("safety"), text.index("safety") + 6)])
    assert out == "&lt;img src=x onerror=alert(1)&gt; <mark>safety</mark> &amp; plan"


def test_an_app_session_ends_for_every_call_once_signed_out_or_disabled(service):
    from app.service import NotSignedIn

    session, _session_id = service.sign_in("named", PASSWORD, "127.0.0.1")
    assert service.children(session)  # a live session reads
    assert service.open_page(session.id_hash, "search")[0].login == "named"
    service.sign_out(session.id_hash)
    with pytest.raises(NotSignedIn):
        service.children(session)  # a page still open after sign-out reads nothing more
    with pytest.raises(NotSignedIn):
        service.open_page(session.id_hash, "search")
    rows = service.audit.rows(limit=1_000_000, login="named")
    assert rows[-1]["outcome"] == "denied" and "ended" in rows[-1]["detail"]
    assert any(r["action"] == "logout" for r in rows)
    # a role changed behind an open session ends it at the next call
    again, _ = service.sign_in("named", PASSWORD, "127.0.0.1")
    user = service.users.get("named")
    users = service.users._load()
    users["named"] = dataclasses.replace(user, role=Role.IRO if user.role != Role.IRO else Role.TEAM_MANAGER)
    service.users._save(users)
    try:
        with pytest.raises(NotSignedIn):
            service.children(again)
    finally:
        users["named"] = user
        service.users._save(users)


# ---- ranking ----------------------------------------------------------------------------------------------
def test_the_most_recent_document_of_a_type_comes_first_and_dates_are_labelled(service, people):
    session = service.login("named", PASSWORD)
    child = people["restricted"]
    docs = service.lake.read(ENTERPRISE, "document").filter(
        (pl.col("child_id") == child) & pl.col("_deleted_at").is_null()
    )
    doc_type = docs.group_by("document_type").len().sort("len", descending=True)["document_type"][0]
    of_type = docs.filter(pl.col("document_type") == doc_type).sort("created_date")
    request = SearchRequest(
        doc_type, sort="newest", filters=SearchFilters(child_ids=(child,), source_types=("document_page",))
    )
    hits = service.search(session, request).hits
    assert hits[0].record_id == of_type["document_id"][-1]
    assert hits[0].recorded_date == of_type["created_date"][-1] and hits[0].event_date is None
    dates = [h.date for h in hits]
    assert dates == sorted(dates, reverse=True)
    oldest = service.search(session, dataclasses.replace(request, sort="oldest")).hits
    assert [h.date for h in oldest] == sorted(h.date for h in oldest)


def test_a_query_naming_a_child_and_a_type_is_read_as_such(service, people):
    """Issue 42: "<child> safety plan" scopes to the child (even mistyped), puts the plans first (documents before
    the "Safety Planning" notes), and the sort orders one set without changing it."""
    session = service.login("named", PASSWORD)
    child = people["restricted"]
    docs = service.lake.read(ENTERPRISE, "document").filter(
        (pl.col("child_id") == child) & pl.col("_deleted_at").is_null()
    )
    doc_type = docs.group_by("document_type").len().sort(["len", "document_type"], descending=True)[0, 0]
    latest = docs.filter(pl.col("document_type") == doc_type)["created_date"].max()
    person = service.lake.read(ENTERPRISE, "person").filter(pl.col("person_id") == child).row(0, named=True)
    first, surname = person["first_name"], person["surname"]
    query = f"{first} {surname} {doc_type}"
    newest = service.search(session, SearchRequest(query, sort="newest", limit=200))
    relevant = service.search(session, SearchRequest(query, limit=200))
    assert newest.scoped == [child] and {h.child_id for h in newest.hits} == {child}
    assert newest.hits[0].item_type == doc_type and newest.hits[0].recorded_date == latest
    assert newest.hits[0].date_basis == "date on the document"
    assert relevant.hits[0].recorded_date == latest
    assert {h.chunk_id for h in newest.hits} == {h.chunk_id for h in relevant.hits}  # the sort keeps the set
    assert newest.total == relevant.total == len(newest.hits)
    kinds = [h.source_type for h in newest.hits if h.item_type in newest.types]
    assert kinds == sorted(kinds, key=lambda k: k != "document_page")  # documents first
    # a letter off the surname is read as it, and says so; without reading names the scope goes
    typo = surname[:-2] + surname[-1] if len(surname) >= 5 else surname
    mistyped = service.search(session, SearchRequest(f"{first} {typo} {doc_type}", sort="newest"))
    assert mistyped.scoped == [child] and (typo == surname or mistyped.read_as)
    # the first name alone names the child too; without reading names, every visible child's plans come in
    by_first_name = SearchRequest(f"{first} {doc_type}", sort="newest", limit=200)
    assert child in service.search(session, by_first_name).scoped
    wider = service.search(session, dataclasses.replace(by_first_name, read_names=False))
    assert not wider.scoped and len({h.child_id for h in wider.hits}) > 1
    paged = service.search(session, SearchRequest(query, sort="newest", limit=5, offset=5))
    assert [h.chunk_id for h in paged.hits] == [h.chunk_id for h in newest.hits[5:10]]
    assert service.search(session, SearchRequest("qwxzv plorbt")).weak  # nothing close, said so


def test_type_names_that_differ_only_in_case_or_wording_are_one():
    from lake.search.query import fold_types

    sources = {"Safety Planning": "case_note", "safety plan": "document_page", "Strategy Discussion": "case_note"}
    sources |= {"Strategy Discussion Record": "form_answer", "letter": "document_page", "PLO letter": "document_page"}
    assert fold_types(sources, sources) == {
        "Letter": ("letter",),
        "PLO letter": ("PLO letter",),
        "Safety plan": ("Safety Planning", "safety plan"),
        "Strategy Discussion Record": ("Strategy Discussion", "Strategy Discussion Record"),
    }


def test_a_name_a_letter_or_two_off_is_read_as_it():
    from lake.search.people import close_enough

    assert close_enough("charltn", "charlton") and close_enough("barns", "barnes") and close_enough("jamla", "jamal")
    assert close_enough("chralotn", "charlton")  # two off from seven letters
    assert not close_enough("hall", "hill")  # under five letters: exactly or not at all
    assert not close_enough("barnz", "carnes") and not close_enough("charlton", "charlton")  # first letter; itself


def test_a_person_is_found_under_every_name_the_text_used(service, people):
    session = service.login("named", PASSWORD)
    child = people["restricted"]
    people_dir = service.people()
    mentions = people_dir.mentions.filter(pl.col("child_id") == child)
    variants = (
        mentions.group_by("resolved_person_id").agg(pl.col("text").n_unique().alias("n")).sort("n", descending=True)
    )
    pid = variants["resolved_person_id"][0]
    name = people_dir.display[pid]
    result = service.search(session, SearchRequest(name, limit=100))
    assert any(pid in p for p in result.people)
    reasons = [r for h in result.hits for r in h.reasons if r.startswith("person:")]
    written = {r.split("“")[1].split("”")[0] for r in reasons}
    assert len(written) >= 2, written  # more than one way of writing the name
    assert any(w.lower() != name.lower() for w in written)
    person_hits = [h for h in result.hits if any(r.startswith("person:") for r in h.reasons)]
    assert all("<mark>" in h.snippet_html for h in person_hits)
    only = service.search(session, SearchRequest("", filters=SearchFilters(person_id=pid), limit=200)).hits
    assert only and {h.child_id for h in only} <= service.scope(session).children


# ---- access rules, through every call ----------------------------------------------------------------------------
def test_a_restricted_child_is_visible_only_to_the_workers_it_names(service, people, read_council):
    child = people["restricted"]
    note = _a_note_of(read_council.lake, child)
    document = service.lake.read(ENTERPRISE, "document").filter(pl.col("child_id") == child)["document_id"][0]
    phrase = " ".join(note["note_text"].split()[:12])  # the restricted child's own words rank highest
    named, unnamed = service.login("named", PASSWORD), service.login("unnamed", PASSWORD)

    assert child in service.scope(named).children and child not in service.scope(unnamed).children
    assert child in {h.child_id for h in service.search(named, SearchRequest(phrase, limit=5)).hits}
    assert service.open_note(named, note["note_id"])["note_text"] == note["note_text"]
    assert service.child_profile(named, child)["child_id"] == child
    assert service.child_timeline(named, child)
    name, data = service.download(named, document)
    assert data and name.startswith(document)

    for mode in ("text", "vector", "hybrid"):
        for sort in ("relevance", "newest"):
            hits = service.search(unnamed, SearchRequest(phrase, mode=mode, sort=sort, limit=50)).hits
            assert child not in {h.child_id for h in hits}
    hits = service.search(unnamed, SearchRequest(phrase, filters=SearchFilters(child_ids=(child,)))).hits
    assert hits == []
    assert _last_audit(service)["outcome"] == "ok" and '"ids":[]' in _last_audit(service)["result"]
    # searching the restricted child's name names nobody: the person list is scoped like the hits
    own = service.lake.read(ENTERPRISE, "person").filter(pl.col("person_id") == child).row(0, named=True)
    by_name = service.search(unnamed, SearchRequest(f"{own['first_name']} {own['surname']}"))
    assert child not in " ".join(by_name.people) and child not in {h.child_id for h in by_name.hits}
    assert any(child in p for p in service.search(named, SearchRequest(f"{own['first_name']} {own['surname']}")).people)
    calls = [
        lambda: service.open_note(unnamed, note["note_id"]),
        lambda: service.child_profile(unnamed, child),
        lambda: service.child_timeline(unnamed, child),
        lambda: service.child_network(unnamed, child),
        lambda: service.download(unnamed, document),
        lambda: service.open_document_page(unnamed, document, 1),
    ]
    for call in calls:
        with pytest.raises(AccessDenied) as denied:
            call()
        assert str(denied.value) == "not available to you"
        assert _last_audit(service)["outcome"] == "denied" and _last_audit(service)["login"] == "unnamed"
    # the same answer for a child or note that does not exist: nothing tells hidden from absent
    with pytest.raises(AccessDenied, match=r"^not available to you$"):
        service.child_profile(unnamed, "P9999999")
    with pytest.raises(AccessDenied, match=r"^not available to you$"):
        service.open_note(unnamed, "CN99999999")
    # the child is not a node of anyone's network for those who may not see it
    for other in service.scope(unnamed).children:
        assert child not in {e["node_id"] for e in service.child_network(unnamed, other)["edges"]}


def test_a_person_the_caller_may_not_see_is_never_named_by_search_or_the_ecomap(
    service, people, read_council, embedder
):
    """One policy on every path: a child outside the caller's scope may be written about in records they can read
    (a sibling's notes), but search never names them, a person filter on them finds nothing, and the ecomap
    neither shows them nor lists their mentions."""
    from lake.search.query import Searcher

    unnamed = service.login("unnamed", PASSWORD)
    scope = service.scope(unnamed).children
    directory = service.people()
    # a person resolved in records the caller may read, found by name: stands in for a hidden sibling
    mentioned = directory.mentions.filter(pl.col("child_id").is_in(list(scope)))
    for pid in mentioned["resolved_person_id"].unique().sort():
        name = directory.display.get(pid, "")
        if len(name.split()) >= 2 and [p.resolved_person_id for p in directory.find(name)] == [pid]:
            break  # the only person the name finds, so any "person:" reason would be theirs
    else:
        pytest.fail("the shared council needs a person named in a visible child's records")
    searcher = Searcher(index.open_table(read_council.settings.lancedb()), embedder, directory)
    seen = searcher.search(SearchRequest(name, limit=50), scope)
    assert any(pid in p for p in seen.people)
    assert searcher.search(SearchRequest("", filters=SearchFilters(person_id=pid)), scope).hits
    unseen = searcher.search(SearchRequest(name, limit=50), scope, frozenset({pid}))
    assert not any(pid in p for p in unseen.people), unseen.people
    assert not any(r.startswith("person:") for h in unseen.hits for r in h.reasons)
    assert searcher.search(SearchRequest("", filters=SearchFilters(person_id=pid)), scope, frozenset({pid})).hits == []
    # the service applies it to the restricted child: no mentions behind a node the caller may not see
    other = sorted(scope)[0]
    assert service.node_mentions(unnamed, other, people["restricted"]) == []
    assert _last_audit(service)["outcome"] == "ok" and '"ids":[]' in _last_audit(service)["result"]


@pytest.mark.parametrize("login", ["auditor", "analyst", "admin"])
def test_roles_without_case_text_read_none(service, people, read_council, login):
    session = service.login(login, PASSWORD)
    note = _a_note_of(read_council.lake, people["restricted"])
    for call in (
        lambda: service.search(session, SearchRequest("safety plan")),
        lambda: service.open_note(session, note["note_id"]),
        lambda: service.child_timeline(session, people["restricted"]),
        lambda: service.children(session),
    ):
        with pytest.raises(AccessDenied):
            call()
        assert _last_audit(service)["outcome"] == "denied"
    if login == "analyst":
        journeys = service.mart(session, "placement_history")
        assert journeys.height and people["restricted"] not in journeys["child_id"].to_list()
        with pytest.raises(AccessDenied):
            service.mart(session, "child_timeline")  # free text: not for analysts
    else:
        assert service.audit_log(session, limit=5)
        with pytest.raises(AccessDenied):
            service.mart(session, "placement_history")


def test_an_iro_sees_only_the_children_they_review(service, people, read_council):
    session = service.login("iro", PASSWORD)
    lake = read_council.lake
    live = pl.col("_deleted_at").is_null()
    involved = lake.read(ENTERPRISE, "involvement").filter(live & (pl.col("worker_id") == people["unnamed"]))
    deleted = set(lake.read(ENTERPRISE, "child").filter(~live)["person_id"].to_list())
    expected = set(involved["child_id"].to_list()) - deleted - {people["restricted"]}
    assert expected and service.scope(session).children == expected


HOSTILE = [
    "' OR 1=1 --",
    '" OR ""="',
    "child_id IS NOT NULL",
    "x') OR child_id LIKE '%",
    "\\\\' \\\\",
    "safety " * 2000,
    "",
    "the and of",
    "🙂🙂 safety 🧒",
    "שלום خطة السلامة",
    "\x00\x1b[31m plan",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_query_text_never_widens_the_scope(service, people, text):
    session = service.login("unnamed", PASSWORD)
    visible = service.scope(session).children
    for mode in ("text", "hybrid"):
        hits = service.search(session, SearchRequest(text, mode=mode, limit=100)).hits
        assert {h.child_id for h in hits} <= visible
    assert _last_audit(service)["action"] == "search"


@pytest.mark.parametrize(
    "filters",
    [
        SearchFilters(child_ids=("' OR 1=1 --",)),
        SearchFilters(child_ids=("P1') OR (1=1",)),
        SearchFilters(author_ids=("W1' OR '1'='1",)),
        SearchFilters(source_types=("case_note' OR '1'='1",)),
        SearchFilters(item_types=("Home Visit' OR child_id IS NOT NULL --",)),
        SearchFilters(person_id="P1' OR 1=1"),
        SearchFilters(event_from="2020-01-01' OR 1=1"),  # type: ignore[arg-type]
    ],
)
def test_hostile_filter_values_are_refused_not_run(service, filters):
    session = service.login("unnamed", PASSWORD)
    with pytest.raises(InvalidRequest):
        service.search(session, SearchRequest("plan", filters=filters))
    assert _last_audit(service)["outcome"] == "invalid"


def test_a_child_filter_only_narrows(service, people):
    session = service.login("unnamed", PASSWORD)
    hits = service.search(
        session, SearchRequest("plan", filters=SearchFilters(child_ids=(people["restricted"], "P9999999")))
    ).hits
    assert hits == []


# ---- the audit log ------------------------------------------------------------------------------------------
def test_every_call_is_audited_before_it_returns(service, people):
    session = service.login("named", PASSWORD)
    before = _last_audit(service)["seq"]
    result = service.search(session, SearchRequest("safety plan", sort="newest", limit=3))
    row = _last_audit(service)
    assert row["seq"] == before + 1 and row["login"] == "named" and row["action"] == "search"
    assert '"text":"safety plan"' in row["request"] and '"sort":"newest"' in row["request"]
    assert all(h.chunk_id in row["result"] for h in result.hits)
    assert service.audit.verify().ok


def test_what_a_call_that_gives_nothing_writes(service, people, tmp_path):
    """The audited-call shape keeps the journal's odd corners (decision 0031): the search page's filter options
    and a page with no image write no row; a document whose file is gone writes an error row naming only the
    document, and the call raises."""
    session = service.login("named", PASSWORD)
    before = _last_audit(service)["seq"]
    assert service.search_options(session)["source_types"]
    assert _last_audit(service)["seq"] == before
    document = service.lake.read(ENTERPRISE, "document").filter(pl.col("child_id") == people["restricted"])
    document_id = document["document_id"][0]
    # The same lake and journal, read with a landing folder that holds no file: the original is gone.
    emptied = QueryService(service.settings.replace(landing_dir=str(tmp_path)), service.embedder)
    assert emptied.page_image(session, document_id, 1) is None
    assert _last_audit(service)["seq"] == before
    with pytest.raises(FileNotFoundError):
        emptied.download(session, document_id)
    row = _last_audit(service)
    assert row["seq"] == before + 1 and (row["action"], row["outcome"]) == ("download", "error")
    assert json.loads(row["target"]) == {"document_id": document_id}
    assert row["detail"] == "file not landed" and service.audit.verify().ok


def test_a_failed_audit_write_fails_the_call(service, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the audit folder should be")
    broken = QueryService(
        dataclasses.replace(
            service.settings,
            access=dataclasses.replace(service.settings.access, audit_db=str(blocker / "audit.sqlite")),
        ),
        service.embedder,
    )
    with pytest.raises(AuditWriteFailed):
        broken.login("named", PASSWORD)
    session = service.login("named", PASSWORD)
    with pytest.raises(AuditWriteFailed):
        broken.search(session, SearchRequest("safety plan"))


def _write_many(path, who: str, n: int) -> None:
    log = AuditLog(path)
    for i in range(n):
        log.write(login=who, role="social_worker", action="search", request={"i": i})


def test_concurrent_sessions_lose_no_audit_row(tmp_path):
    path = tmp_path / "audit.sqlite"
    threads = [threading.Thread(target=_write_many, args=(path, f"t{i}", 50)) for i in range(4)]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(path, f"p{i}", 50)) for i in range(2)]
    for w in [*threads, *procs]:
        w.start()
    for w in [*threads, *procs]:
        w.join()
    report = AuditLog(path).verify()
    assert report.ok and report.rows == 300


def test_tampering_with_the_audit_log_is_found(tmp_path):
    path = tmp_path / "audit.sqlite"
    _write_many(path, "someone", 10)
    assert AuditLog(path).verify().ok
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        sqlite3.connect(path).execute("DELETE FROM audit WHERE seq = 3")

    def tampered(sql: str) -> list[str]:
        copy = tmp_path / f"copy{abs(hash(sql))}.sqlite"
        with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
            source.backup(target)  # a consistent copy, WAL included
        shutil.copy(path.with_suffix(".head"), copy.with_suffix(".head"))
        con = sqlite3.connect(copy)
        con.executescript("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;" + sql)
        con.commit()
        con.close()
        return AuditLog(copy).verify().problems

    assert any(
        "row 4: its contents were changed" in p for p in tampered("UPDATE audit SET request = '{}' WHERE seq = 4")
    )
    assert any("missing" in p for p in tampered("DELETE FROM audit WHERE seq = 5"))
    assert any("cut off" in p for p in tampered("DELETE FROM audit WHERE seq = 10"))
    inserted = "INSERT INTO audit SELECT 11, at, login, role, action, target, request, result, outcome, detail, prev_hash, row_hash, session FROM audit WHERE seq = 2"
    assert tampered(inserted)

    runner = CliRunner()
    from orchestration.cli import app

    env = {"CASELAKE_AUDIT_DB": str(path)}
    assert runner.invoke(app, ["audit", "verify"], env=env).exit_code == 0
    con = sqlite3.connect(path)
    con.executescript("DROP TRIGGER audit_no_update; UPDATE audit SET login = 'nobody' WHERE seq = 2;")
    con.close()
    result = runner.invoke(app, ["audit", "verify"], env=env)
    assert result.exit_code == 1 and "row 2" in result.output


# ---- the CLI ------------------------------------------------------------------------------------------------
def test_cli_searches_as_a_user_and_keeps_the_users_file(service, people, tmp_path):
    from orchestration.cli import app

    runner = CliRunner()
    env = {
        "CASELAKE_LAKE_URI": service.lake.root,
        "CASELAKE_USERS_FILE": str(service.settings.users_file()),
        "CASELAKE_AUDIT_DB": str(service.settings.audit_db()),
    }
    out = runner.invoke(
        app,
        ["search", "safety plan", "--as", "named", "--sort", "newest", "--json", "--limit", "3"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert out.exit_code == 0, out.output
    assert _last_audit(service)["login"] == "named" and _last_audit(service)["action"] == "search"
    wrong = runner.invoke(app, ["search", "plan", "--as", "named"], input="wrong password\n", env=env)
    assert wrong.exit_code == 1 and _last_audit(service)["outcome"] == "denied"

    users_env = {"CASELAKE_USERS_FILE": str(tmp_path / "users.json")}
    added = runner.invoke(
        app,
        ["users", "add", "sam.worker", "--role", "social_worker", "--name", "Sam", "--worker", "W0000001"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        env=users_env,
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["users", "list"], env=users_env)
    assert "sam.worker" in listed.output and "argon2" not in listed.output
    assert (
        "$argon2id$" in (tmp_path / "users.json").read_text() and PASSWORD not in (tmp_path / "users.json").read_text()
    )
    refused = runner.invoke(
        app,
        ["users", "add", "x", "--role", "social_worker", "--name", "X"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        env=users_env,
    )
    assert refused.exit_code == 2


# ---- quality against the truth --------------------------------------------------------------------------------
def test_search_quality_against_the_synthetic_truth(read_council, embedder):
    from evaluation import search as search_quality

    settings = read_council.settings
    result = search_quality.evaluate(
        settings.lake(), settings.lancedb(), read_council.council.out / "truth", embedder, max_queries=40
    )
    scores = {(r["task"], r["mode"], r["metric"]): r["value"] for r in result.scores.to_dicts()}
    assert scores[("most recent document", "hybrid", "top-1")] == 1.0  # the pilot's task
    assert (
        scores[("person variants (person-aware)", "hybrid", "recall")]
        > scores[("person variants (words only)", "hybrid", "recall")]
    )
    assert (
        scores[("document type in child", "hybrid", "precision@10")]
        > scores[("document type in child", "vector", "precision@10")]
    )
    assert scores[("paraphrased content", "hybrid", "MRR")] > scores[("paraphrased content", "text", "MRR")]
    # typed like a worker: a child's name and a type, no filter (issue 42's goals)
    assert scores[("typed like a worker, newest (all)", "hybrid", "top-1 latest")] >= 0.95
    assert scores[("typed like a worker, relevance (all)", "hybrid", "top-1 latest")] >= 0.85


def test_dates_are_typed(service):
    session = service.login("named", PASSWORD)
    hits = service.search(
        session, SearchRequest("plan", filters=SearchFilters(event_from=dt.date(2000, 1, 1)), limit=5)
    ).hits
    assert all(h.event_date is None or h.event_date >= dt.date(2000, 1, 1) for h in hits)


def test_a_rewritten_chain_is_found_by_its_exported_copy(tmp_path):
    from app.audit import FIELDS, GENESIS, row_hash
    from lake.storage.delta import Lake

    path, lake = tmp_path / "audit.sqlite", Lake(str(tmp_path / "lake"))
    _write_many(path, "someone", 5)
    log = AuditLog(path)
    assert log.export(lake) == 5 and log.export(lake) == 0  # idempotent
    _write_many(path, "someone", 2)
    assert log.export(lake) == 2
    # someone with write access rebuilds a consistent chain with row 3 changed, anchor included
    con = sqlite3.connect(path)
    rows = [
        dict(zip([*FIELDS, "prev_hash", "row_hash"], r, strict=True))
        for r in con.execute(f"SELECT {', '.join(FIELDS)}, prev_hash, row_hash FROM audit ORDER BY seq")
    ]
    con.executescript("DROP TRIGGER audit_no_update;")
    prev = GENESIS
    for row in rows:
        if row["seq"] == 3:
            row["login"] = "somebody else"
        digest = row_hash(prev, row)
        con.execute(
            "UPDATE audit SET login = ?, prev_hash = ?, row_hash = ? WHERE seq = ?",
            [row["login"], prev, digest, row["seq"]],
        )
        prev = digest
    con.commit()
    con.close()
    path.with_suffix(".head").write_text(f"{rows[-1]['seq']} {prev}\n")
    fresh = AuditLog(path)
    assert fresh.verify().ok  # the chain alone cannot tell
    problems = fresh.verify(lake).problems
    assert any("row 3 differs from its exported copy" in p for p in problems)


@pytest.mark.parametrize("with_forms", [False, True])
def test_a_lake_with_notes_but_no_documents_yet_is_chunked(tmp_path, with_forms):
    from deltalake import write_deltalake

    from lake.storage.delta import Lake

    lake = Lake(str(tmp_path))
    now = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    notes = pl.DataFrame(
        {
            "note_id": ["CN1", "CN2"],
            "child_id": ["P1", "P2"],
            "worker_id": ["W1", "W1"],
            "note_type": ["Home Visit", "Court"],
            "event_date": [dt.date(2026, 11, 1)] * 2,
            "recorded_at": [now] * 2,
            "note_text": ["word " * 400, "short note"],
            "_deleted_at": pl.Series([None, None], dtype=pl.Datetime("us", "UTC")),
        }
    )
    write_deltalake(lake.uri(ENTERPRISE, "case_note"), notes.to_arrow())
    if with_forms:
        forms = pl.DataFrame(
            {
                "form_id": ["F1"],
                "question_code": ["Q1"],
                "child_id": ["P1"],
                "worker_id": ["W1"],
                "form_type": ["Assessment"],
                "form_date": [dt.date(2026, 11, 1)],
                "question": ["Views"],
                "answer_text": ["likes school"],
                "_deleted_at": pl.Series([None], dtype=pl.Datetime("us", "UTC")),
            }
        )
        write_deltalake(lake.uri(ENTERPRISE, "form_response"), forms.to_arrow())
    chunks = index.search_chunks(lake)
    assert chunks.filter(pl.col("record_id") == "CN1").height == 3  # 2,000 characters: three ~1,000-character chunks
    assert chunks["chunk_id"].null_count() == 0 and chunks["chunk_id"].n_unique() == chunks.height
    assert chunks.height == 4 + with_forms


def test_the_audit_asset_copies_the_journal_and_checks_it(tmp_path, monkeypatch):
    import dagster as dg

    from assets.audit import AUDIT_KEY, audit_log
    from assets.resources import LakehouseResource
    from lake.ops.costs import COST_FIELDS
    from lake.storage.delta import OPS, Lake

    path = tmp_path / "audit.sqlite"
    monkeypatch.setenv("CASELAKE_AUDIT_DB", str(path))
    _write_many(path, "someone", 4)
    resources = {"lakehouse": LakehouseResource(lake_uri=str(tmp_path / "lake"))}

    def materialize() -> tuple[dict, bool]:
        result = dg.materialize([audit_log], resources=resources, raise_on_error=False)
        meta = result.asset_materializations_for_node(audit_log.op.name)[0].metadata
        check = result.get_asset_check_evaluations()[0]
        assert set(COST_FIELDS) <= set(meta)  # metered like every asset
        return {k: meta[k].value for k in ("rows_exported", "journal_rows")}, check.passed

    assert materialize() == ({"rows_exported": 4, "journal_rows": 4}, True)
    assert Lake(str(tmp_path / "lake")).read(OPS, "audit_log").height == 4
    assert materialize() == ({"rows_exported": 0, "journal_rows": 4}, True)
    con = sqlite3.connect(path)
    con.executescript("DROP TRIGGER audit_no_update; UPDATE audit SET action = 'nothing' WHERE seq = 1;")
    con.close()
    assert materialize()[1] is False
    assert dg.AssetKey(["ops", "audit_log"]) == AUDIT_KEY


def test_browsing_without_words_lists_the_truly_newest_and_oldest(service):
    session = service.login("named", PASSWORD)
    visible = service.scope(session).children
    rows = pl.from_arrow(
        index.open_table(service.settings.lancedb()).to_arrow().select(["child_id", "event_date", "recorded_date"])
    )
    dates = rows.filter(pl.col("child_id").is_in(list(visible))).select(pl.coalesce("event_date", "recorded_date"))
    newest = service.search(session, SearchRequest("", sort="newest", limit=3)).hits
    oldest = service.search(session, SearchRequest("", sort="oldest", limit=3)).hits
    assert newest[0].date == dates.to_series().max() and oldest[0].date == dates.to_series().min()
    assert all(h.reasons == ["filter"] for h in newest)


def test_provenance_is_for_auditors_and_for_those_who_may_see_the_child(service, people, read_council):
    import duckdb

    with duckdb.connect(str(read_council.settings.duckdb_path()), read_only=True) as con:
        edge = con.sql(
            "select edge_id from main.child_network where child_id = ? and evidence <> 'text' order by edge_id limit 1",
            params=[people["restricted"]],
        ).fetchall()[0][0]
    auditor = service.login("auditor", PASSWORD)
    found = service.provenance(auditor, "edge", edge)
    assert found.child_id == people["restricted"] and found.landing_files()
    audit = _last_audit(service)
    assert (audit["action"], audit["outcome"]) == ("provenance", "ok")
    assert people["restricted"] in audit["target"] and "RELATIONSHIP.csv" in audit["result"]
    assert service.provenance(service.login("named", PASSWORD), "edge", edge).links  # the child is theirs to see
    for login, kind, ident in (("unnamed", "edge", edge), ("analyst", "edge", edge), ("auditor", "edge", "E-nothing")):
        with pytest.raises(AccessDenied):
            service.provenance(service.login(login, PASSWORD), kind, ident)
        assert (_last_audit(service)["action"], _last_audit(service)["outcome"]) == ("provenance", "denied")
