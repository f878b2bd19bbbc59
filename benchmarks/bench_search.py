"""Benchmark: the search index and the query service (`make bench`).

1. A synthetic council (``--children``, default 100) is generated (or found in ``--council``) and loaded to
   the enterprise layer; its case notes and form answers (documents are benchmarked in bench_documents.py)
   are embedded into a fresh index: embedding chunks/s on this machine, index build seconds, and an
   unchanged re-run.
2. Query latency p50/p95 per query kind — words, meaning, hybrid, hybrid newest-first, a person's name —
   each with the access prefilter of one team's children and the audit row written (the service's path:
   ``Searcher.search`` + ``AuditLog.write``), at the council's real size and at ``--scale`` copies of it
   (the same chunk texts and vectors under new child and chunk ids: 10 copies of 100 children stand in
   for a 1,000-child council).
3. With ``--million``: the table grown to 1,000,000 chunks the same way, FTS and scalar indexes built,
   latencies with and without a child prefilter, then again after an IVF_PQ vector index is built.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from app.audit import AuditLog
from lake.embedding import Embedder
from lake.ingest.pipeline import load_landing
from lake.search import index
from lake.search.query import Searcher, SearchRequest
from lake.storage.delta import ENTERPRISE, Lake
from synth.council import SynthOptions, generate

QUERIES = [
    "safety plan",
    "mother drinking heavily",
    "school attendance worries",
    "contact with father",
    "court hearing",
]


def council(path: Path, children: int) -> Path:
    truth = path / "truth" / "council.json"
    if not truth.exists() or json.loads(truth.read_text())["children"] != children:
        shutil.rmtree(path, ignore_errors=True)
        generate(SynthOptions(out=path, children=children))
    return path / "landing"


def no_documents(lake: Lake) -> None:
    """Index notes and forms only: the documents table is dropped from this benchmark's lake copy."""
    shutil.rmtree(lake.uri(ENTERPRISE, "document"), ignore_errors=True)


def grow(table, copies: int, target_rows: int | None = None) -> None:
    """Append copies of the table's rows under new chunk and child ids (texts and vectors kept)."""
    base = table.to_arrow()
    rows = base.num_rows
    wanted = target_rows or rows * copies
    made = rows
    copy = 1
    while made < wanted:
        n = min(rows, wanted - made)
        part = base.slice(0, n)
        suffix = f"-x{copy}"  # still an id: letters, digits and - _ . :
        part = part.set_column(
            part.schema.get_field_index("chunk_id"),
            "chunk_id",
            pa.compute.binary_join_element_wise(part["chunk_id"], pa.scalar(suffix), ""),
        )
        part = part.set_column(
            part.schema.get_field_index("child_id"),
            "child_id",
            pa.compute.binary_join_element_wise(part["child_id"], pa.scalar(suffix), ""),
        )
        part = part.set_column(
            part.schema.get_field_index("record_id"),
            "record_id",
            pa.compute.binary_join_element_wise(part["record_id"], pa.scalar(suffix), ""),
        )
        table.add(part)
        made += n
        copy += 1


def reindex(table) -> float:
    from lancedb.index import FTS, Bitmap, BTree

    t0 = time.perf_counter()
    table.create_index("text", config=FTS(with_position=True), replace=True)
    for column, kind in index.FILTER_INDEXES.items():
        table.create_index(column, config=Bitmap() if kind == "bitmap" else BTree(), replace=True)
    return time.perf_counter() - t0


def latencies(
    searcher: Searcher, audit: AuditLog, visible: frozenset[str], person_query: str | None, repeat: int
) -> dict[str, tuple[float, float]]:
    kinds = {
        "words": lambda q: SearchRequest(q, mode="text"),
        "meaning": lambda q: SearchRequest(q, mode="vector"),
        "hybrid": lambda q: SearchRequest(q),
        "hybrid newest": lambda q: SearchRequest(q, sort="newest"),
    }
    out = {}
    for kind, make in kinds.items():
        times = []
        for _ in range(repeat):
            for q in QUERIES:
                t0 = time.perf_counter()
                result = searcher.search(make(q), visible)
                audit.write(
                    login="bench",
                    role="social_worker",
                    action="search",
                    request={"text": q},
                    result={"ids": [h.chunk_id for h in result.hits]},
                )
                times.append((time.perf_counter() - t0) * 1000)
        out[kind] = (statistics.median(times), float(np.percentile(times, 95)))
    if person_query:
        times = []
        for _ in range(repeat * len(QUERIES)):
            t0 = time.perf_counter()
            searcher.search(SearchRequest(person_query), visible)
            audit.write(login="bench", role="social_worker", action="search", request={"text": person_query})
            times.append((time.perf_counter() - t0) * 1000)
        out["person name"] = (statistics.median(times), float(np.percentile(times, 95)))
    return out


def show(title: str, rows: dict[str, tuple[float, float]]) -> None:
    print(f"  {title}")
    for kind, (p50, p95) in rows.items():
        print(f"    {kind:<16} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")


def team_children(children: list[str], share: float) -> frozenset[str]:
    return frozenset(sorted(children)[: max(1, int(len(children) * share))])


def audit_stores(tmp: str, n: int = 200) -> None:
    """The audit store decision (docs/decisions/0012): one row per call, durable before the call returns."""
    from deltalake import write_deltalake

    log = AuditLog(Path(tmp) / "audit_bench.sqlite")
    sqlite_ms = []
    for i in range(n):
        t0 = time.perf_counter()
        log.write(
            login="bench",
            role="social_worker",
            action="search",
            request={"text": f"query {i}"},
            result={"ids": ["x"] * 10},
        )
        sqlite_ms.append((time.perf_counter() - t0) * 1000)
    delta_ms, uri = [], f"{tmp}/audit_delta"
    for i in range(n):
        row = pa.table(
            {"seq": [i], "login": ["bench"], "action": ["search"], "request": [json.dumps({"text": f"query {i}"})]}
        )
        t0 = time.perf_counter()
        write_deltalake(uri, row, mode="append")
        delta_ms.append((time.perf_counter() - t0) * 1000)
    files = len(list(Path(uri).glob("*.parquet")))
    print(f"audit write, {n} calls one after another:")
    print(
        f"  SQLite WAL, synchronous=FULL, hash chain  p50 {statistics.median(sqlite_ms):6.1f} ms  p95 {np.percentile(sqlite_ms, 95):6.1f} ms  1 file"
    )
    print(
        f"  Delta append per call                     p50 {statistics.median(delta_ms):6.1f} ms  p95 {np.percentile(delta_ms, 95):6.1f} ms  {files} parquet files + {n} log entries"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--children", type=int, default=100)
    parser.add_argument("--council", type=Path, default=Path(".bench/search_council"))
    parser.add_argument("--scale", type=int, default=10, help="copies of the council for the larger table")
    parser.add_argument("--team-share", type=float, default=0.05, help="share of children one team sees")
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--million", action="store_true", help="also grow the table to 1,000,000 chunks")
    parser.add_argument("--audit-only", action="store_true", help="only the audit store comparison")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="caselake-audit-") as tmp:
        audit_stores(tmp)
    if args.audit_only:
        return
    landing = council(args.council, args.children)
    with tempfile.TemporaryDirectory(prefix="caselake-search-") as tmp:
        lake = Lake(f"{tmp}/lake")
        load_landing(lake, landing)
        no_documents(lake)
        embedder = Embedder()
        embedder.encode(["warm up"])
        uri = f"{tmp}/lancedb"
        run = index.build_index(lake, uri, embedder)
        again = index.build_index(lake, uri, embedder)
        print(f"search index, {args.children}-child council (case notes and form answers):")
        print(
            f"  embedding      {run.embedded:,} chunks in {run.embed_seconds:.1f} s = {run.embedded / run.embed_seconds:.1f} chunks/s"
        )
        print(f"  index build    {run.seconds:.1f} s in all (embedding, write, full-text and scalar indexes)")
        print(
            f"  no-op re-run   {again.seconds:.2f} s, {again.embedded} embedded, {again.upserted + again.deleted} rows written"
        )

        table = index.open_table(uri)
        children = pl.from_arrow(table.to_arrow().select(["child_id"]))["child_id"].unique().to_list()
        from lake.search.people import PeopleDirectory

        people = PeopleDirectory(lake)
        names = people.names.filter(pl.col("first").is_not_null()).sort("resolved_person_id")
        person_query = f"{names['first'][0]} {names['surname'][0]}".title() if names.height else None
        audit = AuditLog(Path(tmp) / "audit.sqlite")
        searcher = Searcher(table, embedder, people)
        visible = team_children(children, args.team_share)
        print(
            f"query latency with the access prefilter ({len(visible)} of {len(children)} children) and the audit write:"
        )
        show(
            f"{table.count_rows():,} chunks ({args.children} children)",
            latencies(searcher, audit, visible, person_query, args.repeat),
        )

        grow(table, args.scale)
        t = reindex(table)
        grown_children = pl.from_arrow(table.to_arrow().select(["child_id"]))["child_id"].unique().to_list()
        visible = team_children(grown_children, args.team_share / args.scale)
        show(
            f"{table.count_rows():,} chunks ({args.children * args.scale} children, {len(visible)} visible; indexes rebuilt in {t:.0f} s)",
            latencies(searcher, audit, visible, person_query, args.repeat),
        )
        if args.million:
            t0 = time.perf_counter()
            grow(table, 0, target_rows=1_000_000)
            grown = time.perf_counter() - t0
            t = reindex(table)
            all_children = frozenset(
                pl.from_arrow(table.to_arrow().select(["child_id"]))["child_id"].unique().to_list()
            )
            visible = team_children(sorted(all_children), 0.005)
            print(f"  1,000,000 chunks: appended in {grown:.0f} s, full-text and scalar indexes in {t:.0f} s")
            show(
                f"1M chunks, team prefilter ({len(visible)} of {len(all_children)} children)",
                latencies(searcher, audit, visible, None, 2),
            )
            show(
                f"1M chunks, every child visible ({len(all_children)})",
                latencies(searcher, audit, all_children, None, 1),
            )
            t0 = time.perf_counter()
            table.create_index(metric="cosine", vector_column_name="vector", index_type="IVF_PQ")
            print(f"  IVF_PQ vector index built in {time.perf_counter() - t0:.0f} s")
            show("1M chunks + IVF_PQ, team prefilter", latencies(searcher, audit, visible, None, 2))
            show("1M chunks + IVF_PQ, every child visible", latencies(searcher, audit, all_children, None, 1))


if __name__ == "__main__":
    main()
