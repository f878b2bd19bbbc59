"""``caselake eval search``: search quality against the synthetic truth, for full-text, vector and hybrid.

Five query sets, all built from the truth and the lake, none hand-labelled:

- **most recent document** (the pilot's task): for each child and document type, the type's name as the
  query, the child as a filter, documents only, newest first. Top-1 must be the child's latest document of
  that type (pairs whose latest date is shared by two documents are skipped: either would be right).
- **person under each name variant**: for people with at least three true mentions, the query
  "<variant> <surname>" for each first-name variant the generator wrote (Charles, Charlie, Chas...). Recall
  of their true mentions in the hits, with person-aware search and with the words alone.
- **document type within a child**: the type's name, the child as a filter, by relevance: precision of the
  top 10 (a hit is relevant when it is a page of a document of that type; the denominator is 10 or the
  number of relevant chunks when fewer).
- **typed like a worker** (hybrid only, the app's mode): a child's name (full, first only, or nickname and
  surname) and a document type, no filter, newest first and most relevant first: top-1 must be the child's
  latest document of that type (goals: 0.95 newest, 0.85 relevance).
- **paraphrased content**: each risk and protective factor asked in other words ("parents fighting" for
  domestic abuse), within each child whose records mention it: MRR and nDCG@10 (a chunk is relevant when it
  holds a true mention of the factor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from lake.embedding import Embedder
from lake.search.index import open_table
from lake.search.people import PeopleDirectory
from lake.search.query import Searcher, SearchFilters, SearchRequest
from lake.storage.delta import ENTERPRISE, Lake

MODES = ("text", "vector", "hybrid")

# What a worker might type for each factor, in words the records do not use (bar stop words).
PARAPHRASES = {
    "coercive control": "partner controls her money and who she sees",
    "domestic abuse": "violence between the parents at home",
    "neglect": "children left hungry and dirty",
    "alcohol misuse": "mum drinking heavily",
    "criminal exploitation": "groomed by older boys into crime",
    "missing episodes": "ran away and could not be found overnight",
    "financial hardship": "family cannot afford food and bills",
    "poor school attendance": "often absent from class",
    "self-harm": "cutting herself",
    "substance misuse": "taking drugs",
    "exposure to violence": "witnessed fighting",
    "parental mental health difficulties": "mother depressed and anxious",
    "strong sibling bond": "brothers and sisters very close",
    "positive peer friendships": "good mates at school",
    "engagement with counselling": "attending therapy sessions",
    "extended family support": "relatives help out",
    "stable housing": "settled tenancy",
    "supportive grandparent": "nan helps look after them",
}


@dataclass
class SearchEvaluation:
    scores: pl.DataFrame  # task, mode, metric, value, queries
    queries: dict[str, int] = field(default_factory=dict)


def _chunks(table) -> pl.DataFrame:
    cols = [
        "chunk_id",
        "child_id",
        "source_type",
        "source_id",
        "record_id",
        "page",
        "text",
        "item_type",
        "recorded_date",
    ]
    return pl.from_arrow(table.search().select(cols).limit(table.count_rows()).to_arrow())


def _ndcg(relevant_flags: list[bool], total_relevant: int, k: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, r in enumerate(relevant_flags[:k]) if r)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, total_relevant)))
    return dcg / ideal if ideal else 0.0


@dataclass
class Corpus:
    """What every task reads: the indexed chunks, the live documents among them, the true mentions, and a
    searcher with person-aware search and one with the words alone, both seeing every child."""

    truth_dir: Path
    chunks: pl.DataFrame
    documents: pl.DataFrame
    true_mentions: pl.DataFrame
    searchers: dict[str, Searcher]
    everyone: frozenset[str]  # every child: the evaluation searches as a user who may read them all
    max_queries: int

    def hits(self, request: SearchRequest, who: str = "person-aware"):
        return self.searchers[who].search(request, self.everyone).hits


def most_recent_document(corpus: Corpus, modes: tuple[str, ...]) -> tuple[int, list[dict]]:
    """The pilot's task: top-1 must be the child's latest document of the type (pairs whose latest date two
    documents share are skipped)."""
    latest = (
        corpus.documents.sort("created_date")
        .group_by("child_id", "document_type")
        .agg(
            pl.col("document_id").last(),
            pl.col("created_date").last(),
            (pl.col("created_date") == pl.col("created_date").max()).sum().alias("at_latest"),
        )
        .filter(pl.col("at_latest") == 1)
        .sort("child_id", "document_type")
        .head(corpus.max_queries)
    )
    rows = []
    for mode in modes:
        top1 = []
        for r in latest.iter_rows(named=True):
            request = SearchRequest(
                r["document_type"], mode=mode, sort="newest", limit=1,
                filters=SearchFilters(child_ids=(r["child_id"],), source_types=("document_page",)),
            )  # fmt: skip
            hits = corpus.hits(request)
            top1.append(bool(hits) and hits[0].record_id == r["document_id"])
        rows.append(_score("most recent document", mode, "top-1", sum(top1) / max(len(top1), 1), len(top1)))
    return latest.height, rows


def person_variants(corpus: Corpus, modes: tuple[str, ...]) -> tuple[int, list[dict]]:
    """A person under each of their name variants: recall of their true mentions, with person-aware search and
    with the words alone."""
    person_mentions = corpus.true_mentions.filter((pl.col("label") == "person") & pl.col("person_id").is_not_null())
    located = _locate(person_mentions, corpus.chunks)
    persons = pl.read_parquet(corpus.truth_dir / "persons.parquet")
    busy = located.group_by("person_id").agg(pl.col("chunk_id").n_unique().alias("n")).filter(pl.col("n") >= 3)
    persons = persons.join(busy, on="person_id").sort("person_id").head(corpus.max_queries // 4)
    queries = []
    for p in persons.iter_rows(named=True):
        surnames = {h.split(":", 1)[1].rsplit(" (", 1)[0].split()[-1] for h in p["name_history"]} | {p["surname"]}
        for variant in sorted(set(p["name_variants"]) - surnames):
            queries.append((p["person_id"], f"{variant} {p['surname']}"))
    rows = []
    for who in ("person-aware", "words only"):
        for mode in modes:
            recalls = []
            for pid, query in queries:
                wanted = set(located.filter(pl.col("person_id") == pid)["chunk_id"].to_list())
                got = {h.chunk_id for h in corpus.hits(SearchRequest(query, mode=mode, limit=200), who)}
                recalls.append(len(wanted & got) / len(wanted))
            rows.append(_score(f"person variants ({who})", mode, "recall", _mean(recalls), len(recalls)))
    return len(queries), rows


def document_type_in_child(corpus: Corpus, modes: tuple[str, ...]) -> tuple[int, list[dict]]:
    """A document type within a child, by relevance: precision of the top 10."""
    per_child_type = (
        corpus.documents.group_by("child_id", "document_type")
        .agg(pl.col("document_id"))
        .sort("child_id", "document_type")
        .head(corpus.max_queries)
    )
    rows = []
    for mode in modes:
        precisions = []
        for r in per_child_type.iter_rows(named=True):
            relevant = set(corpus.chunks.filter(pl.col("record_id").is_in(r["document_id"]))["chunk_id"].to_list())
            hits = corpus.hits(
                SearchRequest(
                    r["document_type"], mode=mode, limit=10, filters=SearchFilters(child_ids=(r["child_id"],))
                )
            )
            precisions.append(sum(h.chunk_id in relevant for h in hits) / min(10, len(relevant)))
        rows.append(_score("document type in child", mode, "precision@10", _mean(precisions), len(precisions)))
    return per_child_type.height, rows


def paraphrased_content(corpus: Corpus, modes: tuple[str, ...]) -> tuple[int, list[dict]]:
    """Each risk and protective factor asked in other words, within each child whose records mention it: MRR
    and nDCG@10."""
    factors = (
        corpus.true_mentions.filter(pl.col("label").is_in(["risk_factor", "protective_factor"]))
        .with_columns(pl.col("text").str.to_lowercase().alias("factor"))
        .filter(pl.col("factor").is_in(list(PARAPHRASES)))
    )
    located_factors = _locate(factors, corpus.chunks)
    pairs = (
        located_factors.group_by("child_id", "factor")
        .agg(pl.col("chunk_id").unique())
        .sort("child_id", "factor")
        .head(corpus.max_queries)
    )
    rows = []
    for mode in modes:
        rr, ndcg = [], []
        for r in pairs.iter_rows(named=True):
            relevant = set(r["chunk_id"])
            hits = corpus.hits(
                SearchRequest(
                    PARAPHRASES[r["factor"]], mode=mode, limit=10, filters=SearchFilters(child_ids=(r["child_id"],))
                )
            )
            flags = [h.chunk_id in relevant for h in hits]
            rr.append(next((1 / (i + 1) for i, f in enumerate(flags) if f), 0.0))
            ndcg.append(_ndcg(flags, len(relevant)))
        rows.append(_score("paraphrased content", mode, "MRR", _mean(rr), len(rr)))
        rows.append(_score("paraphrased content", mode, "nDCG@10", _mean(ndcg), len(ndcg)))
    return pairs.height, rows


def typed_like_a_worker(corpus: Corpus, modes: tuple[str, ...]) -> tuple[int, list[dict]]:
    """What a worker types, with no filter set: a child's name and a document type ("Jane Charlton safety
    plan"), the first name and the type ("Jane safety plan"; only first names no other child of the council
    has), a nickname the records use and the surname ("Stevie Kirk safety plan"), each most relevant first and
    newest first. Top-1 latest: the first hit is a page of the child's latest document of that type (pairs whose
    latest date two documents share are skipped); top-1 of type: any of the child's documents of that type."""
    children = pl.read_parquet(corpus.truth_dir / "persons.parquet").filter(pl.col("is_child"))
    children = children.filter(pl.col("person_id").is_in(list(corpus.everyone)))
    first_counts = children.group_by(pl.col("first_name").str.to_lowercase()).len()
    shared = set(first_counts.filter(pl.col("len") > 1)["first_name"].to_list())
    latest = (
        corpus.documents.sort("created_date")
        .group_by("child_id", "document_type")
        .agg(
            pl.col("document_id").last(),
            pl.col("document_id").alias("of_type"),
            (pl.col("created_date") == pl.col("created_date").max()).sum().alias("at_latest"),
        )
        .filter(pl.col("at_latest") == 1)
        .sort("child_id", "document_type")
    )
    # every k-th pair, so that a larger council is sampled across all its children rather than its first few
    latest = latest.gather_every(max(1, -(-latest.height // corpus.max_queries)))
    names = {r["person_id"]: r for r in children.iter_rows(named=True)}
    queries: list[tuple[str, str, dict]] = []  # (form, query, pair)
    for pair in latest.iter_rows(named=True):
        child = names.get(pair["child_id"])
        if child is None:
            continue
        first, surname, kind = child["first_name"], child["surname"], pair["document_type"]
        queries.append(("child name + type", f"{first} {surname} {kind}", pair))
        if first.lower() not in shared:
            queries.append(("first name + type", f"{first} {kind}", pair))
        nicknames = sorted(set(child["name_variants"]) - {first, surname})
        if nicknames:
            queries.append(("nickname + surname + type", f"{nicknames[0]} {surname} {kind}", pair))
    rows = []
    for mode in [m for m in modes if m == "hybrid"]:  # the app's mode (vector mode reads no types: docs/search.md)
        for sort in ("newest", "relevance"):
            found: dict[str, list[tuple[bool, bool]]] = {}
            for form, query, pair in queries:
                hits = corpus.hits(SearchRequest(query, mode=mode, sort=sort, limit=1))
                top = hits[0].record_id if hits else None
                found.setdefault(form, []).append((top == pair["document_id"], top in pair["of_type"]))
            found["all"] = [x for v in found.values() for x in v]
            for form, flags in found.items():
                task = f"typed like a worker, {sort} ({form})"
                rows.append(_score(task, mode, "top-1 latest", _mean([a for a, _ in flags]), len(flags)))
                rows.append(_score(task, mode, "top-1 of type", _mean([b for _, b in flags]), len(flags)))
    return len(queries), rows


# The query sets, by the name ``tasks`` picks them with. Each builds its queries from the truth and the lake
# and returns how many, and a score row per mode given (none when it is not picked: it is still counted).
TASKS = {
    "most_recent_document": most_recent_document,
    "person_variants": person_variants,
    "document_type_in_child": document_type_in_child,
    "paraphrase": paraphrased_content,
    "typed_like_a_worker": typed_like_a_worker,
}


def evaluate(
    lake: Lake,
    lancedb_uri: str,
    truth_dir: Path,
    embedder: Embedder | None = None,
    max_queries: int = 200,
    tasks: tuple[str, ...] = tuple(TASKS),
    tune: dict[str, object] | None = None,
) -> SearchEvaluation:
    """``tune``: Searcher attributes to override (``fusion``, ``score_bm25``, ``weights``...), for measuring."""
    embedder = embedder or Embedder()
    table = open_table(lancedb_uri, lake.storage_options)
    people = PeopleDirectory(lake)
    chunks = _chunks(table)
    searchers = {"person-aware": Searcher(table, embedder, people), "words only": Searcher(table, embedder, None)}
    for searcher in searchers.values():
        for name, value in (tune or {}).items():
            setattr(searcher, name, value)
    indexed_docs = set(chunks.filter(pl.col("source_type") == "document_page")["record_id"].to_list())
    documents = lake.read(ENTERPRISE, "document").filter(pl.col("_deleted_at").is_null())
    corpus = Corpus(
        truth_dir=truth_dir,
        chunks=chunks,
        documents=documents.filter(pl.col("document_id").is_in(list(indexed_docs))),
        true_mentions=pl.read_parquet(truth_dir / "mentions.parquet").with_columns(
            pl.col("page").fill_null(0).cast(pl.Int32)
        ),
        searchers=searchers,
        everyone=frozenset(chunks["child_id"].unique().to_list()),
        max_queries=max_queries,
    )
    rows: list[dict] = []
    counts: dict[str, int] = {}
    for name, task in TASKS.items():
        counts[name], scored = task(corpus, MODES if name in tasks else ())
        rows += scored
    return SearchEvaluation(pl.DataFrame(rows).with_columns(pl.col("value").round(3)), counts)


def _score(task: str, mode: str, metric: str, value: float, queries: int) -> dict:
    """One row of ``SearchEvaluation.scores``."""
    return {"task": task, "mode": mode, "metric": metric, "value": value, "queries": queries}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _locate(mentions: pl.DataFrame, chunks: pl.DataFrame) -> pl.DataFrame:
    """The chunks holding each true mention: same note, answer or page, and the mention's words in the chunk
    (offsets are not compared: an OCRed page's offsets differ from the written text's)."""
    joined = mentions.join(
        chunks.select(
            "chunk_id", "source_type", "source_id", "page", pl.col("text").str.to_lowercase().alias("chunk_text")
        ),
        on=["source_type", "source_id", "page"],
    )
    return joined.filter(pl.col("chunk_text").str.contains(pl.col("text").str.to_lowercase(), literal=True)).drop(
        "chunk_text"
    )


def report(result: SearchEvaluation) -> str:
    table = result.scores.pivot(on="mode", index=["task", "metric", "queries"], values="value")
    return str(table)
