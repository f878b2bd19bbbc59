"""Benchmark: a subject access bundle for a whole child's file (`make bench`; issue 39's goal: propose for about
100 notes and 20 documents in at most 60 s on 2 cores; and pages proposed per hour).

A council of a few children with long files (about 100 case notes and 20 documents each) is generated and loaded
through the pipeline (documents, entities, people: not timed here, `bench_documents` and `bench_entities` time
those), then one child's request is compiled and proposed, and exported to PDF (the scanned pages re-read by
Tesseract to burn the redacted words out), each timed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import tempfile
import time
from pathlib import Path

from evaluation.entities import load_generated_council
from lake.disclosure import compile_items, export_pdf, new_request, propose, redactions, scanned_pages
from lake.storage.delta import ENTERPRISE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--children", type=int, default=3)
    parser.add_argument("--notes", type=float, default=100.0)
    parser.add_argument("--documents", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="caselake-bench-disclosure-") as tmp:
        started = time.perf_counter()
        lake, _, _ = load_generated_council(
            Path(tmp), args.children, args.seed, "eval", args.documents, notes_per_child=args.notes
        )
        loaded = time.perf_counter() - started
        notes = lake.read(ENTERPRISE, "case_note").group_by("child_id").len().sort("len", descending=True)
        child = notes["child_id"][0]
        request = new_request(lake, child, received=dt.date(2026, 12, 1))
        t0 = time.perf_counter()
        compiled = compile_items(lake, request)
        proposals = propose(lake, request, compiled)
        proposing = time.perf_counter() - t0
        t0 = time.perf_counter()
        exported = export_pdf(
            request,
            "bench",
            compiled.items,
            redactions(proposals),
            Path(tmp) / "bundle.pdf",
            scanned_pages(lake, Path(tmp) / "council" / "landing"),
        )
        exporting = time.perf_counter() - t0
        kinds = compiled.items.group_by("source_type").len()
        result = {
            "machine": f"{platform.processor() or platform.machine()}, 2 cores",
            "items": dict(zip(kinds["source_type"], kinds["len"], strict=True)),
            "proposals": proposals.height,
            "propose_s": round(proposing, 2),
            "export_s": round(exporting, 2),
            "bundle_pages": exported.pages,
            "images_embedded": exported.images_embedded,
            "images_withheld": exported.images_withheld,
            "pages_per_hour_propose_and_export": round(exported.pages / (proposing + exporting) * 3600),
            "load_s_not_counted": round(loaded, 1),
        }
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
