"""``caselake eval search``: search quality against the synthetic truth, for full-text, vector and hybrid.

Four query sets, all built from the truth and the lake, none hand-labelled:

- **most recent document** (the pilot's task): for each child and document type, the type's name as the
  query, the child as a filter, documents only, newest first. Top-1 must be the child's latest document of
  that type (pairs whose latest date is shared by two documents are skipped: either would be right).
- **person under each name variant**: for people with at least three true mentions, the query
  "<variant> <surname>" for each first-name variant the generator wrote (Charles, Charlie, Chas...). Recall
  of their true mentions in the hits, with person-aware search and with the words alone.
- **document type within a child**: the type's name, the child as a filter, by relevance: precision of the
  top 10 (a hit is relevant when it is a page of a document of that type; the denominator is 10 or the
  number of relevant chunks when fewer).
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


TASKS = ("most_recent_document", "person_variants", "document_type_in_child", "paraphrase")


def evaluate_search(
    lake: Lake,
    lancedb_uri: str,
    truth_dir: Path,
    embedder: Embedder | None = None,
    max_queries: int = 200,
    tasks: tuple[str, ...] = TASKS,
    tune: dict[str, object] | None = None,
) -> SearchEvaluation:
    """``tune``: Searcher attributes to override (``fusion``, ``score_bm25``, ``weights``...), for measuring."""
    embedder = embedder or Embedder()
    table = open_table(lancedb_uri, lake.storage_options)
    people = PeopleDirectory(lake)
    chunks = _chunks(table)
    everyone = frozenset(chunks["child_id"].unique().to_list())
    searchers = {"person-aware": Searcher(table, embedder, people), "words only": Searcher(table, embedder, None)}
    for searcher in searchers.values():
        for name, value in (tune or {}).items():
            setattr(searcher, name, value)
    rows: list[dict] = []
    counts: dict[str, int] = {}

    def run(request: SearchRequest, who: str = "person-aware"):
        return searchers[who].search(request, everyone).hits

    # 1. most recent document of a type for a child
    docs = lake.read(ENTERPRISE, "document").filter(pl.col("_deleted_at").is_null())
    indexed_docs = set(chunks.filter(pl.col("source_type") == "document_page")["record_id"].to_list())
    docs = docs.filter(pl.col("document_id").is_in(list(indexed_docs)))
    latest = (
        docs.sort("created_date")
        .group_by("child_id", "document_type")
        .agg(
            pl.col("document_id").last(),
            pl.col("created_date").last(),
            (pl.col("created_date") == pl.col("created_date").max()).sum().alias("at_latest"),
        )
        .filter(pl.col("at_latest") == 1)
        .sort("child_id", "document_type")
        .head(max_queries)
    )
    counts["most_recent_document"] = latest.height
    for mode in MODES if "most_recent_document" in tasks else ():
        top1 = []
        for r in latest.iter_rows(named=True):
            request = SearchRequest(
                r["document_type"], mode=mode, sort="newest", limit=1,
                filters=SearchFilters(child_ids=(r["child_id"],), source_types=("document_page",)),
            )  # fmt: skip
            hits = run(request)
            top1.append(bool(hits) and hits[0].record_id == r["document_id"])
        rows.append(
            {
                "task": "most recent document",
                "mode": mode,
                "metric": "top-1",
                "value": sum(top1) / max(len(top1), 1),
                "queries": len(top1),
            }
        )

    # 2. a person under each of their name variants
    truth_mentions = pl.read_parquet(truth_dir / "mentions.parquet").with_columns(
        pl.col("page").fill_null(0).cast(pl.Int32)
    )
    person_mentions = truth_mentions.filter((pl.col("label") == "person") & pl.col("person_id").is_not_null())
    located = _locate(person_mentions, chunks)
    persons = pl.read_parquet(truth_dir / "persons.parquet")
    busy = located.group_by("person_id").agg(pl.col("chunk_id").n_unique().alias("n")).filter(pl.col("n") >= 3)
    persons = persons.join(busy, on="person_id").sort("person_id").head(max_queries // 4)
    queries = []
    for p in persons.iter_rows(named=True):
        surnames = {h.split(":", 1)[1].rsplit(" (", 1)[0].split()[-1] for h in p["name_history"]} | {p["surname"]}
        for variant in sorted(set(p["name_variants"]) - surnames):
            queries.append((p["person_id"], f"{variant} {p['surname']}"))
    counts["person_variants"] = len(queries)
    for who in ("person-aware", "words only") if "person_variants" in tasks else ():
        for mode in MODES:
            recalls = []
            for pid, query in queries:
                wanted = set(located.filter(pl.col("person_id") == pid)["chunk_id"].to_list())
                got = {h.chunk_id for h in run(SearchRequest(query, mode=mode, limit=200), who)}
                recalls.append(len(wanted & got) / len(wanted))
            rows.append(
                {
                    "task": f"person variants ({who})",
                    "mode": mode,
                    "metric": "recall",
                    "value": _mean(recalls),
                    "queries": len(recalls),
                }
            )

    # 3. document type within a child: precision of the top 10
    per_child_type = (
        docs.group_by("child_id", "document_type")
        .agg(pl.col("document_id"))
        .sort("child_id", "document_type")
        .head(max_queries)
    )
    counts["document_type_in_child"] = per_child_type.height
    for mode in MODES if "document_type_in_child" in tasks else ():
        precisions = []
        for r in per_child_type.iter_rows(named=True):
            relevant = set(chunks.filter(pl.col("record_id").is_in(r["document_id"]))["chunk_id"].to_list())
            hits = run(
                SearchRequest(
                    r["document_type"], mode=mode, limit=10, filters=SearchFilters(child_ids=(r["child_id"],))
                )
            )
            precisions.append(sum(h.chunk_id in relevant for h in hits) / min(10, len(relevant)))
        rows.append(
            {
                "task": "document type in child",
                "mode": mode,
                "metric": "precision@10",
                "value": _mean(precisions),
                "queries": len(precisions),
            }
        )

    # 4. paraphrased content queries within a child
    factors = (
        truth_mentions.filter(pl.col("label").is_in(["risk_factor", "protective_factor"]))
        .with_columns(pl.col("text").str.to_lowercase().alias("factor"))
        .filter(pl.col("factor").is_in(list(PARAPHRASES)))
    )
    located_factors = _locate(factors, chunks)
    pairs = (
        located_factors.group_by("child_id", "factor")
        .agg(pl.col("chunk_id").unique())
        .sort("child_id", "factor")
        .head(max_queries)
    )
    counts["paraphrase"] = pairs.height
    for mode in MODES if "paraphrase" in tasks else ():
        rr, ndcg = [], []
        for r in pairs.iter_rows(named=True):
            relevant = set(r["chunk_id"])
            hits = run(
                SearchRequest(
                    PARAPHRASES[r["factor"]], mode=mode, limit=10, filters=SearchFilters(child_ids=(r["child_id"],))
                )
            )
            flags = [h.chunk_id in relevant for h in hits]
            rr.append(next((1 / (i + 1) for i, f in enumerate(flags) if f), 0.0))
            ndcg.append(_ndcg(flags, len(relevant)))
        rows.append(
            {"task": "paraphrased content", "mode": mode, "metric": "MRR", "value": _mean(rr), "queries": len(rr)}
        )
        rows.append(
            {
                "task": "paraphrased content",
                "mode": mode,
                "metric": "nDCG@10",
                "value": _mean(ndcg),
                "queries": len(ndcg),
            }
        )
    return SearchEvaluation(pl.DataFrame(rows).with_columns(pl.col("value").round(3)), counts)


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
