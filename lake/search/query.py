"""The search query: full-text, vector or hybrid over the chunk index, with filters, sorting, person-aware
expansion, snippets and the reasons each hit matched.

Safety rules this module keeps (the query service relies on them):

- **The access scope is a prefilter.** Every LanceDB query carries ``child_id IN (<visible children>)`` as a
  ``where(..., prefilter=True)``, so hidden rows never compete for the top k; nothing is filtered after.
- **Filters are built from typed values.** Ids must look like ids, dates are ``datetime.date``, source types
  come from a fixed list and item types from the index's own values; a value that is none of these is an
  :class:`InvalidRequest`, never text pasted into SQL. A child filter can only narrow the visible set.
- **Snippets are inert.** Text is HTML-escaped first; only ``<mark>`` tags this module adds are markup.
- **Hybrid is score fusion** of the full-text and vector lists (and the person and type lists), done here
  rather than by LanceDB's reranker so that each hit can say which lists found it.
- **The query is read** (decision 0042): a child it names scopes it to that child, a type it names puts that
  type's records (documents first) before the rest, and the relevant set is the same whichever the sort.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import polars as pl
import snowballstemmer

from lake.contracts.codes import factor_meaning
from lake.embedding import Embedder
from lake.search.index import SOURCE_TYPES, sql_in
from lake.search.people import PeopleDirectory, PersonMatch, PersonMention
from lake.storage.delta import sql_literal

Mode = Literal["hybrid", "text", "vector"]
Sort = Literal["relevance", "newest", "oldest"]
MODES: tuple[str, ...] = ("hybrid", "text", "vector")
SORTS: tuple[str, ...] = ("relevance", "newest", "oldest")
MAX_QUERY_CHARS = 1000  # longer text is cut here (the embedding model reads about 256 tokens anyway)
MAX_LIMIT = 200
MAX_OFFSET = 1000  # pages beyond this are not offered (the relevant set is at most a few thousand chunks)
RRF_K = 60  # the usual constant of reciprocal-rank fusion
# Each list's weight in the fusion (measured with ``caselake eval search``, docs/search.md): words matched
# exactly are precise but a paraphrase shares few of them, so meaning counts for more.
FUSION = "score"  # how hybrid merges its lists: "score" or "rrf" (both measured in docs/search.md)
SCORE_BM25 = 0.1
BM25_HALF = 5.0  # the BM25 score that counts half (a typical score of a chunk holding every word once)
SCORE_LIST_BONUS = 0.3
FUSION_WEIGHTS = {"words": 1.0, "meaning": 1.0, "person": 1.0, "type": 1.0, "filter": 1.0}
DATE_SORT_CANDIDATES = 1000  # full-text matches considered when sorting by date
VECTOR_DATE_CANDIDATES = 50  # nearest chunks considered by meaning when sorting by date ...
MIN_SIMILARITY_BY_DATE = 0.40  # ... and how close they must be (below it the nearest are near only by chance)
# Words in a type's name that say what kind of record it is, not what about: "Strategy Discussion Record" (a
# form) is the "Strategy Discussion" (a note) written down; stems, as query_terms makes them.
TYPE_FORM_WORDS = frozenset({"record", "minut", "form", "note"})
# The order within a type the query names: documents, then forms, then notes ("documents before notes").
TYPE_TIER = {"document_page": 0, "form_answer": 1, "case_note": 2}
SNIPPET_CHARS = 320
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
HIT_COLUMNS = [
    "chunk_id", "child_id", "source_type", "source_id", "record_id", "page", "char_start", "char_end", "text",
    "event_date", "recorded_date", "author_id", "author", "item_type", "title",
]  # fmt: skip
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)  # tantivy's English stop words, which the full-text index drops too
_stemmer = snowballstemmer.stemmer("english")
_WORD = re.compile(r"\w+")


class InvalidRequest(ValueError):
    """A search request that cannot be run as asked: the message says which value and why."""


@dataclass(frozen=True)
class SearchFilters:
    child_ids: tuple[str, ...] = ()
    event_from: dt.date | None = None
    event_to: dt.date | None = None
    recorded_from: dt.date | None = None
    recorded_to: dt.date | None = None
    source_types: tuple[str, ...] = ()
    item_types: tuple[str, ...] = ()
    author_ids: tuple[str, ...] = ()
    person_id: str | None = None  # only chunks that mention this resolved person
    factor: str | None = None  # only records with a statement of this CIN factor code or strength, as current

    def describe(self) -> dict:
        """The filters as plain JSON values (for the audit log and the app's chips)."""
        out = {}
        for name, value in self.__dict__.items():
            if value in ((), None):
                continue
            out[name] = (
                value.isoformat() if isinstance(value, dt.date) else list(value) if isinstance(value, tuple) else value
            )
        return out


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    mode: Mode = "hybrid"
    sort: Sort = "relevance"
    filters: SearchFilters = field(default_factory=SearchFilters)
    limit: int = 20
    offset: int = 0  # the page: hits offset .. offset + limit of the ordered relevant set
    read_names: bool = True  # a child the query names scopes it to that child (the app's removable chip)


@dataclass
class Hit:
    chunk_id: str
    child_id: str
    source_type: str
    source_id: str
    record_id: str
    page: int
    char_start: int
    char_end: int
    event_date: dt.date | None
    recorded_date: dt.date | None
    author_id: str | None
    author: str | None
    item_type: str | None
    title: str | None
    snippet_html: str  # escaped text with <mark> around what matched
    highlights: list[tuple[int, int]]  # matched spans as offsets in the source text (page, note or answer)
    reasons: list[str]  # why it matched: words, meaning, a resolved person
    score: float

    @property
    def date(self) -> dt.date | None:
        """The one date "newest first" sorts by: the record's own date when it has one, else the recorded date."""
        return self.event_date or self.recorded_date

    @property
    def date_basis(self) -> str:
        """Which date :attr:`date` is, in the words the card uses."""
        return date_basis(self.source_type, self.event_date, self.recorded_date)

    def to_json(self) -> dict:
        out = {k: v for k, v in self.__dict__.items()}
        for k in ("event_date", "recorded_date"):
            out[k] = out[k].isoformat() if out[k] else None
        out["highlights"] = [list(h) for h in self.highlights]
        return out


# ---- cleaning and validating -------------------------------------------------------------------------------
def clean_text(text: str) -> str:
    """Control characters out (they mean nothing to either index), whitespace collapsed, at most
    :data:`MAX_QUERY_CHARS`."""
    kept = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text[: MAX_QUERY_CHARS * 4])
    return " ".join(kept.split())[:MAX_QUERY_CHARS]


def query_terms(text: str) -> list[str]:
    """The stems of the query's words that the full-text index searches (stop words dropped)."""
    words = [w.lower() for w in _WORD.findall(text)]
    return sorted({_stemmer.stemWord(w) for w in words if w not in STOP_WORDS and len(w) > 1})


def _ids(values: tuple[str, ...] | frozenset[str], what: str) -> list[str]:
    bad = [v for v in values if not isinstance(v, str) or not ID.match(v)]
    if bad:
        raise InvalidRequest(f"{what}: {bad[0]!r} is not an id")
    return sorted(values)


def _date(value: object, what: str) -> str:
    if not isinstance(value, dt.date):
        raise InvalidRequest(f"{what}: expected a date, got {type(value).__name__}")
    return value.isoformat()


def build_where(filters: SearchFilters, visible: frozenset[str], item_types: frozenset[str]) -> str | None:
    """The prefilter as LanceDB SQL, or None when nothing can match (no visible child left).

    ``visible`` is the caller's access scope; a child filter is intersected with it, never added to it."""
    children = set(_ids(visible, "visible children"))
    if filters.child_ids:
        children &= set(_ids(filters.child_ids, "child"))
    if not children:
        return None
    parts = [sql_in("child_id", sorted(children))]
    for column, low, high in (
        ("event_date", filters.event_from, filters.event_to),
        ("recorded_date", filters.recorded_from, filters.recorded_to),
    ):
        if low is not None:
            parts.append(f"{column} >= date {sql_literal(_date(low, column))}")
        if high is not None:
            parts.append(f"{column} <= date {sql_literal(_date(high, column))}")
    if filters.source_types:
        unknown = [s for s in filters.source_types if s not in SOURCE_TYPES]
        if unknown:
            raise InvalidRequest(f"source type {unknown[0]!r}: expected one of {', '.join(SOURCE_TYPES)}")
        parts.append(sql_in("source_type", sorted(set(filters.source_types))))
    if filters.item_types:
        unknown = [t for t in filters.item_types if t not in item_types]
        if unknown:
            raise InvalidRequest(f"type {unknown[0]!r} is not a note, document or form type in the index")
        parts.append(sql_in("item_type", sorted(set(filters.item_types))))
    if filters.author_ids:
        parts.append(sql_in("author_id", _ids(filters.author_ids, "author")))
    return " AND ".join(parts)


# ---- snippets ------------------------------------------------------------------------------------------
def term_spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Spans of the words in ``text`` whose stem is one of ``terms``."""
    if not terms:
        return []
    wanted = set(terms)
    return [(m.start(), m.end()) for m in _WORD.finditer(text) if _stemmer.stemWord(m.group().lower()) in wanted]


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def snippet(text: str, spans: list[tuple[int, int]], width: int = SNIPPET_CHARS) -> str:
    """A window of ``text`` around the first span, HTML-escaped, with each span in ``<mark>``."""
    spans = _merge([(max(0, s), min(len(text), e)) for s, e in spans if e > s])
    start = 0
    if spans and spans[0][0] > width // 3:
        start = text.rfind(" ", 0, spans[0][0] - width // 3) + 1
    end = min(len(text), start + width)
    if end < len(text):
        cut = text.rfind(" ", start + width // 2, end)
        end = cut if cut > start else end
    out, at = [], start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(html.escape(text[at:s]))
        out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
        at = e
    out.append(html.escape(text[at:end]))
    return ("… " if start else "") + "".join(out) + (" …" if end < len(text) else "")


def date_basis(source_type: str, event_date: dt.date | None, recorded_date: dt.date | None) -> str:
    """What a hit's sort date is: a note's event date, a form's date, the date on a document (the index keeps
    it as the recorded date), or a note's recorded date when it has no event date."""
    if event_date is not None:
        return "form date" if source_type == "form_answer" else "event date"
    if recorded_date is not None:
        return "date on the document" if source_type == "document_page" else "recorded date"
    return "no date"


def type_key(name: str) -> frozenset[str]:
    """What a type's name says, folded: case, plural and wording ("Safety Planning" and "safety plan" are one;
    "Strategy Discussion Record" is "Strategy Discussion")."""
    terms = set(query_terms(name))
    return frozenset(terms - TYPE_FORM_WORDS or terms)


def fold_types(types: Iterable[str], source_of: dict[str, str] | None = None) -> dict[str, tuple[str, ...]]:
    """The types as the reader sees them: names that differ only in case or wording under one label (the
    document type's name when there is one, as it is the most formal), label -> the index's types."""
    groups: dict[frozenset[str], list[str]] = {}
    for t in sorted(set(types)):
        groups.setdefault(type_key(t), []).append(t)
    source_of = source_of or {}
    out = {}
    for members in groups.values():
        first = min(members, key=lambda t: (TYPE_TIER.get(source_of.get(t, ""), 3), len(t), t))
        out[first[:1].upper() + first[1:]] = tuple(members)
    return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))


def _row_date(row: dict) -> dt.date:
    """A chunk's date for sorting: the event date, else the recorded date (as the timeline mart labels them)."""
    return row["event_date"] or row["recorded_date"] or dt.date.min


def _without_names(text: str, names: list[str]) -> str:
    """The query with the words that named a person taken out."""
    drop = {w for name in names for w in name.split()}
    return " ".join(w for w in _WORD.findall(text) if w.lower() not in drop)


# ---- running a query ---------------------------------------------------------------------------------------
@dataclass
class SearchResult:
    hits: list[Hit]
    people: list[str]  # the resolved people the query named ("Jonathan Hill (P0000123)")
    mode: str
    sort: str
    total: int = 0  # the relevant set's size: the same for every sort
    scoped: list[str] = field(default_factory=list)  # the children the query named, which it was scoped to
    read_as: list[str] = field(default_factory=list)  # names read from a mistype: "“charltn” read as “charlton”"
    types: list[str] = field(default_factory=list)  # the types the query named (and their near kin)
    weak: bool = False  # nothing close: no hit holds every word, is near in meaning, or is of a type or person named


class Searcher:
    """Runs :class:`SearchRequest` s against one index table, for a caller-given visible set of children."""

    def __init__(
        self,
        table,
        embedder: Embedder,
        people: PeopleDirectory | None = None,
        factor_records: Callable[[str], Iterable[str]] | None = None,
    ):
        self.table = table
        self.embedder = embedder
        self.people = people
        # the records (note, document, form ids) with a current statement of a factor code: the factor filter
        self.factor_records = factor_records
        self.weights = dict(FUSION_WEIGHTS)
        self.fusion = FUSION
        self.score_bm25, self.bm25_half, self.score_list_bonus = SCORE_BM25, BM25_HALF, SCORE_LIST_BONUS

    def item_types(self) -> frozenset[str]:
        """The note, document and form types in the index (what a type filter may name)."""
        return frozenset(self.type_sources())

    def type_sources(self) -> dict[str, str]:
        """Each note, document and form type in the index -> its source type."""
        version = self.table.version
        if getattr(self, "_types_version", None) != version:
            rows = self.table.search().select(["item_type", "source_type"]).limit(max(self.table.count_rows(), 1))
            table = rows.to_arrow()
            pairs = zip(table["item_type"].to_pylist(), table["source_type"].to_pylist(), strict=True)
            self._types = {t: src for t, src in pairs if t}
            self._types_version = version
        return self._types

    def type_groups(self) -> dict[str, tuple[str, ...]]:
        """The index's types folded as the reader sees them (:func:`fold_types`)."""
        return fold_types(self.type_sources(), self.type_sources())

    # each list is [(row dict, score)] best first
    def _text(self, query: str, where: str, limit: int, every_word: bool = False) -> list[dict]:
        from lancedb.query import FullTextOperator, MatchQuery

        if not query_terms(query):
            return []
        operator = FullTextOperator.AND if every_word else FullTextOperator.OR
        rows = (
            self.table.search(MatchQuery(query, "text", operator=operator), query_type="fts")
            .where(where, prefilter=True)
            .select([*HIT_COLUMNS, "vector", "_score"])
            .limit(limit)
            .to_arrow()
        )
        return rows.to_pylist()

    def _vector(self, vector, where: str, limit: int) -> list[dict]:
        rows = (
            self.table.search(vector, query_type="vector")
            .distance_type("cosine")
            .where(where, prefilter=True)
            .select([*HIT_COLUMNS, "vector", "_distance"])
            .limit(limit)
            .to_arrow()
        )
        return rows.to_pylist()

    def _browse(self, where: str, limit: int, oldest: bool = False, count: bool = False):
        """The ``limit`` newest (or oldest) chunks matching ``where``, by event date else recorded date (with
        ``count``: and how many match).

        LanceDB has no ORDER BY: the dates of every matching chunk are read (three small columns), sorted
        here, and only the chosen rows fetched whole."""
        dates = pl.from_arrow(
            self.table.search()
            .where(where)
            .select(["chunk_id", "event_date", "recorded_date"])
            .limit(max(self.table.count_rows(), 1))
            .to_arrow()
        )
        if dates.is_empty():
            return ([], 0) if count else []
        chosen = (
            dates.with_columns(pl.coalesce("event_date", "recorded_date").alias("_date"))
            .sort(["_date", "chunk_id"], descending=not oldest, nulls_last=True)
            .head(limit)["chunk_id"]
            .to_list()
        )
        clause = f"{where} AND {sql_in('chunk_id', _ids(tuple(chosen), 'chunk'))}"
        rows = self.table.search().where(clause).select([*HIT_COLUMNS, "vector"]).limit(len(chosen)).to_arrow()
        order = {c: i for i, c in enumerate(chosen)}
        found = sorted(rows.to_pylist(), key=lambda r: order[r["chunk_id"]])
        return (found, dates.height) if count else found

    def _chunks_of(self, mentions: list[PersonMention], where: str) -> dict[str, tuple[dict, list[PersonMention]]]:
        """The visible chunks holding these mentions: chunk_id -> (row, mentions inside it)."""
        if not mentions:
            return {}
        records = sorted({m.source_id.split(":")[0] for m in mentions})
        clause = f"{where} AND {sql_in('record_id', _ids(tuple(records), 'record'))}"
        rows = (
            self.table.search()
            .where(clause)
            .select([*HIT_COLUMNS, "vector"])
            .limit(len(records) * 400)
            .to_arrow()
            .to_pylist()
        )
        by_place: dict[tuple, list[dict]] = {}
        for r in rows:
            by_place.setdefault((r["source_type"], r["source_id"], r["page"]), []).append(r)
        found: dict[str, tuple[dict, list[PersonMention]]] = {}
        for m in mentions:
            for r in sorted(by_place.get((m.source_type, m.source_id, m.page), []), key=lambda r: r["char_start"]):
                if r["char_start"] <= m.start and m.end <= r["char_end"]:
                    found.setdefault(r["chunk_id"], (r, []))[1].append(m)
                    break
        return found

    def search(
        self, request: SearchRequest, visible: frozenset[str], unseen: frozenset[str] = frozenset()
    ) -> SearchResult:
        """The hits for ``request`` in the records of the ``visible`` children. ``unseen`` are people the caller
        may not see (children outside their scope): the query never names them and a filter on them finds
        nothing, though their names in records the caller may read are still found as words.

        The query is read first: a visible child it names (:meth:`_children_named`) scopes it to that child
        unless ``read_names`` is off; a type it names ("safety plan") brings that type and its near kin,
        documents first. What is left is searched by words and meaning. The relevant set is the same for every
        sort; the sort only orders it."""
        if request.mode not in MODES:
            raise InvalidRequest(f"mode {request.mode!r}: expected one of {', '.join(MODES)}")
        if request.sort not in SORTS:
            raise InvalidRequest(f"sort {request.sort!r}: expected one of {', '.join(SORTS)}")
        limit = max(1, min(int(request.limit), MAX_LIMIT))
        offset = max(0, min(int(request.offset), MAX_OFFSET))
        filters = request.filters
        where = build_where(filters, visible, self.item_types() if filters.item_types else frozenset())
        text = clean_text(request.text)
        if where is None:
            return SearchResult([], [], request.mode, request.sort)
        terms = query_terms(text)

        # the people named, and (with a person filter) the chunks that mention them
        persons = self.people.find(text) if self.people is not None and text else []
        persons = [p for p in persons if p.resolved_person_id not in unseen]
        scoped: list[PersonMatch] = []
        if request.read_names and not filters.child_ids and text:
            scoped = self._children_named(text, persons, visible)
            if scoped:
                filters = replace(filters, child_ids=tuple(sorted({p.resolved_person_id for p in scoped})))
                where = build_where(filters, visible, self.item_types() if filters.item_types else frozenset())
        scoped_ids = {p.resolved_person_id for p in scoped}
        # the child is the scope now; others the same words named ("S. Kirk", a mention-only person) are the
        # child under another record, not a second person to look for
        said = {p.matched for p in scoped}
        others = [p for p in persons if p.resolved_person_id not in scoped_ids and p.matched not in said]
        person_ids = [p.resolved_person_id for p in others]
        if filters.person_id:
            person_ids = [i for i in _ids((filters.person_id,), "person") if i not in unseen]
        mentions = self.people.mentions_of(person_ids, frozenset(visible)) if self.people is not None else []
        person_chunks = self._chunks_of(mentions, where)
        if filters.person_id:
            ids = sorted(person_chunks) or ["-"]
            where = f"{where} AND {sql_in('chunk_id', ids)}"
        if filters.factor:
            code = filters.factor
            if factor_meaning(code) == code:
                raise InvalidRequest(f"factor {code!r}: expected a CIN census factor code (3B) or a strength (S:...)")
            records = sorted(set(self.factor_records(code))) if self.factor_records else []
            where = f"{where} AND {sql_in('record_id', _ids(tuple(records), 'record') or ['-'])}"

        lists: dict[str, list[dict]] = {}
        wide = max((offset + limit) * 4, 50)  # wide: lance#4957 (small limits + prefilter)
        rest = _without_names(text, [p.matched for p in [*scoped, *persons]]) if (scoped or persons) else text
        if others and person_chunks and not filters.person_id and query_terms(rest):
            # "Stephen Kirk safety plan": the safety plans in records that mention him (under any name), not
            # every chunk that names him. A query that is only the name lists the chunks naming him.
            records = sorted({r["record_id"] for r, _ in person_chunks.values()})
            where = f"{where} AND {sql_in('record_id', records)}"
            person_chunks = {}
        types: list[str] = []
        if request.mode != "vector" and not filters.item_types:
            types, rest = self._types_named(rest)
        if types:
            lists["type"] = self._browse(f"{where} AND {sql_in('item_type', types)}", DATE_SORT_CANDIDATES)
        words_text = rest if query_terms(rest) else ""
        query_vector = None
        if words_text and request.mode in ("vector", "hybrid"):
            query_vector = self.embedder.encode([words_text])[0]
        every_word: set[str] = set()
        if words_text and request.mode in ("text", "hybrid"):
            # BM25 ranks chunks holding any of the words; those holding every word are relevant whatever the sort
            holding_all = self._text(words_text, where, DATE_SORT_CANDIDATES, every_word=True)
            every_word = {r["chunk_id"] for r in holding_all}
            any_words = self._text(words_text, where, wide)
            got = {r["chunk_id"] for r in any_words}
            lists["words"] = any_words + [r for r in holding_all if r["chunk_id"] not in got]
        if query_vector is not None:
            lists["meaning"] = self._vector(query_vector, where, wide)
        if person_chunks and not filters.person_id:
            ranked = sorted(
                person_chunks.values(),
                key=lambda rm: (-max(m.probability for m in rm[1]), -_row_date(rm[0]).toordinal()),
            )
            lists["person"] = [r for r, _ in ranked]
        browsed = None
        if (not words_text and not lists) or (not any(lists.values()) and filters.person_id):
            # nothing but filters: browse them, newest (oldest) first; the set is every chunk they match
            browsed = self._browse(where, offset + limit, oldest=request.sort == "oldest", count=True)
            lists["filter"] = browsed[0]

        fused = self._fuse(lists, query_vector if request.mode == "hybrid" else None)
        relevant = [e for e in fused.values() if self._relevant(e, every_word, query_vector)]
        weak = bool(text) and not relevant
        if weak:  # nothing close: the nearest few by score (if any), and the page says so
            relevant = sorted(fused.values(), key=lambda e: (-e["score"], e["row"]["chunk_id"]))[: offset + limit]
        ordered = self._order(relevant, request.sort, set(types), by_date_only=bool(types) and not words_text)
        hits = [self._hit(e, terms, person_chunks, others) for e in ordered[offset : offset + limit]]
        # Only people named in records this user may see: the directory resolves names council-wide, and naming
        # a person (or a child) the user's scope never mentions would tell them the person exists.
        seen = {m.resolved_person_id for m in mentions} | scoped_ids
        shown = [p for p in [*scoped, *others] if p.resolved_person_id in seen]
        return SearchResult(
            hits,
            [f"{p.name} ({p.resolved_person_id})" for p in shown],
            request.mode,
            request.sort,
            total=browsed[1] if browsed else len(ordered),
            scoped=sorted(scoped_ids),
            read_as=[f"“{p.matched}” read as “{p.read_as}”" for p in shown if p.read_as],
            types=types,
            weak=weak,
        )

    def _children_named(self, text: str, persons: list[PersonMatch], visible: frozenset[str]) -> list[PersonMatch]:
        """The visible children the query names: by first name and surname (as :meth:`PeopleDirectory.find`
        reads them: a nickname, an initial, a letter or two off), else, when it names nobody at all, by a first
        name alone (or a nickname of it, or one a letter or two off) that a visible child has."""
        by_name = [p for p in persons if p.resolved_person_id in visible]
        if by_name or persons or self.people is None:
            return by_name
        type_words = {t for k in map(type_key, self.item_types()) for t in k}
        words = [w.lower() for w in _WORD.findall(text) if w.lower() not in STOP_WORDS]
        return self.people.children_by_first_name([w for w in words if _stemmer.stemWord(w) not in type_words], visible)

    @staticmethod
    def _relevant(entry: dict, every_word: set[str], query_vector) -> bool:
        """In the relevant set: of a type or person the query names, holding every word, or near in meaning."""
        if entry["found_by"].keys() & {"type", "person", "filter"} or entry["row"]["chunk_id"] in every_word:
            return True
        if query_vector is None:
            return False
        similarity = float(np.dot(np.asarray(entry["row"]["vector"], dtype=np.float32), query_vector))
        return similarity >= MIN_SIMILARITY_BY_DATE

    @staticmethod
    def _order(entries: list[dict], sort: str, types: set[str], by_date_only: bool) -> list[dict]:
        """Most relevant first, or by the one date (:attr:`Hit.date`). When the query names a type, its records
        come first, documents before forms before notes, then the rest; when it says nothing more than a child
        and a type, "most relevant" is the newest of them (nothing else tells them apart)."""

        def tier(e: dict) -> int:
            row = e["row"]
            return TYPE_TIER.get(row["source_type"], 3) if row["item_type"] in types else 3

        def day(e: dict) -> int:
            return _row_date(e["row"]).toordinal() * (1 if sort == "oldest" else -1)

        if sort == "relevance" and not by_date_only:
            return sorted(entries, key=lambda e: (tier(e), -e["score"], e["row"]["chunk_id"]))
        return sorted(entries, key=lambda e: (tier(e), day(e), e["row"]["chunk_id"]))

    def _types_named(self, text: str) -> tuple[list[str], str]:
        """The item types a query names, with their near kin (:func:`type_key`: "safety plans" names the
        "safety plan" documents and the "Safety Planning" notes), and the query without those words. The longest
        name wins ("PLO letter" over "letter")."""
        terms = set(query_terms(text))
        named = [k for k in {type_key(t) for t in self.item_types()} if k and k <= terms]
        if not named:
            return [], text
        key = max(named, key=lambda k: (len(k), sorted(k)))
        types = sorted(t for t in self.item_types() if type_key(t) == key)
        said = key | {term for t in types for term in query_terms(t)}  # "minutes" of "MARAC minutes" too
        rest = " ".join(w for w in _WORD.findall(text) if _stemmer.stemWord(w.lower()) not in said)
        return types, rest

    def _fuse(self, lists: dict[str, list[dict]], query_vector) -> dict[str, dict]:
        """One entry per chunk: the row, its score and the lists that found it.

        ``fusion == "rrf"``: the weighted sum of 1/(k + rank) over the lists. ``"score"`` (hybrid only): the
        chunk's cosine similarity to the query, plus ``SCORE_BM25`` times its saturated BM25 score
        (bm25 / (bm25 + ``BM25_HALF``)), plus ``SCORE_LIST_BONUS`` for a person or type match; every
        candidate's similarity is computed, so a chunk found only by its words is still ranked by meaning too.
        """
        fused: dict[str, dict] = {}
        for name, rows in lists.items():
            for rank, row in enumerate(rows):
                entry = fused.setdefault(row["chunk_id"], {"row": row, "score": 0.0, "found_by": {}})
                entry["score"] += self.weights.get(name, 1.0) / (RRF_K + rank + 1)
                entry["found_by"][name] = row
        if self.fusion == "score" and query_vector is not None:
            for entry in fused.values():
                found = entry["found_by"]
                similarity = float(np.dot(np.asarray(entry["row"]["vector"], dtype=np.float32), query_vector))
                bm25 = found["words"]["_score"] if "words" in found else 0.0
                words = self.score_bm25 * bm25 / (bm25 + self.bm25_half)
                bonus = self.score_list_bonus if ("person" in found or "type" in found) else 0.0
                entry["score"] = similarity + words + bonus
        return fused

    def _hit(self, entry: dict, terms: list[str], person_chunks: dict, persons) -> Hit:
        row, found_by = entry["row"], entry["found_by"]
        text, offset = row["text"], row["char_start"]
        spans = term_spans(text, terms)
        reasons = []
        if "words" in found_by:
            words = sorted({text[s:e].lower() for s, e in spans})
            reasons.append("words: " + ", ".join(words) if words else "words")
        if "meaning" in found_by:
            reasons.append(f"meaning: similarity {1 - found_by['meaning']['_distance']:.2f}")
        if row["chunk_id"] in person_chunks:
            names = {p.resolved_person_id: p.name for p in persons}
            for m in person_chunks[row["chunk_id"]][1]:
                spans.append((m.start - offset, m.end - offset))
                who = names.get(m.resolved_person_id, m.resolved_person_id)
                reasons.append(f"person: “{m.text}” resolved to {who} (match probability {m.probability:.2f})")
        if "type" in found_by:
            reasons.append(f"type: {row['item_type']}")
        if "filter" in found_by and not reasons:
            reasons.append("filter")
        spans = _merge(spans)
        return Hit(
            chunk_id=row["chunk_id"],
            child_id=row["child_id"],
            source_type=row["source_type"],
            source_id=row["source_id"],
            record_id=row["record_id"],
            page=row["page"],
            char_start=row["char_start"],
            char_end=row["char_end"],
            event_date=row["event_date"],
            recorded_date=row["recorded_date"],
            author_id=row["author_id"],
            author=row["author"],
            item_type=row["item_type"],
            title=row["title"],
            snippet_html=snippet(text, spans),
            highlights=[(s + offset, e + offset) for s, e in spans],
            reasons=list(dict.fromkeys(reasons)),
            score=round(entry["score"], 6),
        )


def hits_frame(hits: list[Hit]) -> pl.DataFrame:
    return pl.DataFrame([h.to_json() for h in hits]) if hits else pl.DataFrame()
