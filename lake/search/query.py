"""The search query: full-text, vector or hybrid over the chunk index, with filters, sorting, person-aware
expansion, snippets and the reasons each hit matched.

Safety rules this module keeps (the query service relies on them):

- **The access scope is a prefilter.** Every LanceDB query carries ``child_id IN (<visible children>)`` as a
  ``where(..., prefilter=True)``, so hidden rows never compete for the top k; nothing is filtered after.
- **Filters are built from typed values.** Ids must look like ids, dates are ``datetime.date``, source types
  come from a fixed list and item types from the index's own values; a value that is none of these is an
  :class:`InvalidRequest`, never text pasted into SQL. A child filter can only narrow the visible set.
- **Snippets are inert.** Text is HTML-escaped first; only ``<mark>`` tags this module adds are markup.
- **Hybrid is reciprocal-rank fusion** of the full-text and vector lists (and the person list), done here
  rather than by LanceDB's reranker so that each hit can say which lists found it.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl
import snowballstemmer

from lake.contracts.codes import factor_meaning
from lake.embedding import Embedder
from lake.search.index import SOURCE_TYPES, sql_in
from lake.search.people import PeopleDirectory, PersonMention
from lake.storage.delta import sql_literal

Mode = Literal["hybrid", "text", "vector"]
Sort = Literal["relevance", "newest", "oldest"]
MODES: tuple[str, ...] = ("hybrid", "text", "vector")
SORTS: tuple[str, ...] = ("relevance", "newest", "oldest")
MAX_QUERY_CHARS = 1000  # longer text is cut here (the embedding model reads about 256 tokens anyway)
MAX_LIMIT = 200
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
        return self.event_date or self.recorded_date

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
        version = self.table.version
        if getattr(self, "_types_version", None) != version:
            rows = self.table.search().select(["item_type"]).limit(max(self.table.count_rows(), 1)).to_arrow()
            self._types = frozenset(t for t in rows["item_type"].to_pylist() if t)
            self._types_version = version
        return self._types

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

    def _browse(self, where: str, limit: int, oldest: bool = False) -> list[dict]:
        """The ``limit`` newest (or oldest) chunks matching ``where``, by event date else recorded date.

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
            return []
        chosen = (
            dates.with_columns(pl.coalesce("event_date", "recorded_date").alias("_date"))
            .sort(["_date", "chunk_id"], descending=not oldest, nulls_last=True)
            .head(limit)["chunk_id"]
            .to_list()
        )
        clause = f"{where} AND {sql_in('chunk_id', _ids(tuple(chosen), 'chunk'))}"
        rows = self.table.search().where(clause).select([*HIT_COLUMNS, "vector"]).limit(len(chosen)).to_arrow()
        order = {c: i for i, c in enumerate(chosen)}
        return sorted(rows.to_pylist(), key=lambda r: order[r["chunk_id"]])

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
        nothing, though their names in records the caller may read are still found as words."""
        if request.mode not in MODES:
            raise InvalidRequest(f"mode {request.mode!r}: expected one of {', '.join(MODES)}")
        if request.sort not in SORTS:
            raise InvalidRequest(f"sort {request.sort!r}: expected one of {', '.join(SORTS)}")
        limit = max(1, min(int(request.limit), MAX_LIMIT))
        where = build_where(request.filters, visible, self.item_types() if request.filters.item_types else frozenset())
        text = clean_text(request.text)
        if where is None:
            return SearchResult([], [], request.mode, request.sort)
        terms = query_terms(text)
        by_date = request.sort != "relevance"

        # the person named, and (with a person filter) the chunks that mention them
        persons = self.people.find(text) if self.people is not None and text else []
        persons = [p for p in persons if p.resolved_person_id not in unseen]
        person_ids = [p.resolved_person_id for p in persons]
        if request.filters.person_id:
            person_ids = [i for i in _ids((request.filters.person_id,), "person") if i not in unseen]
        mentions = self.people.mentions_of(person_ids, frozenset(visible)) if self.people is not None else []
        person_chunks = self._chunks_of(mentions, where)
        if request.filters.person_id:
            ids = sorted(person_chunks) or ["-"]
            where = f"{where} AND {sql_in('chunk_id', ids)}"
        if request.filters.factor:
            code = request.filters.factor
            if factor_meaning(code) == code:
                raise InvalidRequest(f"factor {code!r}: expected a CIN census factor code (3B) or a strength (S:...)")
            records = sorted(set(self.factor_records(code))) if self.factor_records else []
            where = f"{where} AND {sql_in('record_id', _ids(tuple(records), 'record') or ['-'])}"

        lists: dict[str, list[dict]] = {}
        wide = DATE_SORT_CANDIDATES if by_date else max(limit * 4, 50)  # wide: lance#4957 (small limits + prefilter)
        words_text = text
        if by_date and person_chunks and not request.filters.person_id:
            # "Stephen Kirk safety plan", newest first: the safety plans in records that mention him (under any
            # name), not every chunk that names him. A query that is only the name lists the chunks naming him.
            rest = _without_names(text, [p.matched for p in persons])
            if query_terms(rest):
                records = sorted({r["record_id"] for r, _ in person_chunks.values()})
                where = f"{where} AND {sql_in('record_id', records)}"
                words_text, person_chunks = rest, {}
        types = self._types_named(text)
        if types and request.mode != "vector" and not request.filters.item_types:
            # "safety plan": the query is the name of a note, document or form type. By date, that type is
            # what was asked for; by relevance, chunks of that type are one more list to fuse.
            typed = f"{where} AND {sql_in('item_type', types)}"
            lists["type"] = self._browse(typed, DATE_SORT_CANDIDATES, oldest=request.sort == "oldest")
            if by_date:
                words_text = ""
        query_vector = None
        if words_text.strip() and request.mode in ("vector", "hybrid"):
            query_vector = self.embedder.encode([words_text])[0]
        if words_text and request.mode in ("text", "hybrid"):
            # by relevance BM25 ranks chunks with any of the words; by date, a chunk must hold every word
            lists["words"] = self._text(words_text, where, wide, every_word=by_date)
        if query_vector is not None:
            near = self._vector(query_vector, where, VECTOR_DATE_CANDIDATES if by_date else max(limit * 4, 50))
            if by_date:
                near = [r for r in near if 1 - r["_distance"] >= MIN_SIMILARITY_BY_DATE]
            lists["meaning"] = near
        if person_chunks and not request.filters.person_id:
            ranked = sorted(
                person_chunks.values(),
                key=lambda rm: (
                    -max(m.probability for m in rm[1]),
                    -_row_date(rm[0]).toordinal(),
                ),
            )
            lists["person"] = [r for r, _ in ranked]
        if not text or (not any(lists.values()) and request.filters.person_id):
            lists["filter"] = self._browse(where, limit, oldest=request.sort == "oldest")

        fused = self._fuse(lists, query_vector if request.mode == "hybrid" else None)
        ordered = sorted(fused.values(), key=lambda e: (-e["score"], e["row"]["chunk_id"]))
        if by_date:
            newest = request.sort == "newest"
            ordered.sort(
                key=lambda e: (_row_date(e["row"]), e["row"]["chunk_id"]),
                reverse=newest,
            )
        hits = [self._hit(e, terms, person_chunks, persons) for e in ordered[:limit]]
        # Only people named in records this user may see: the directory resolves names council-wide, and naming
        # a person (or a child) the user's scope never mentions would tell them the person exists.
        seen = {m.resolved_person_id for m in mentions}
        named = [f"{p.name} ({p.resolved_person_id})" for p in persons if p.resolved_person_id in seen]
        return SearchResult(hits, named, request.mode, request.sort)

    def _types_named(self, text: str) -> list[str]:
        """The item types whose name is the whole query (by stems: "safety plans" names "safety plan")."""
        terms = query_terms(text)
        if not terms or len(terms) > 6:
            return []
        return sorted(t for t in self.item_types() if query_terms(t) == terms)

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
