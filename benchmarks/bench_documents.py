"""Benchmark: documents to text on a synthetic council (`make bench`).

Loads the council's extracts, then reads the documents of ``--buckets`` of the 4 hash buckets (a
random quarter per bucket) through the same pool the asset uses, and prints:
- pages per second per method, per worker process (the file time each method took, spread over its pages);
- documents per second for the whole run (wall clock, ``--workers`` processes, worker start-up included);
- cost per 1,000 documents at a stated cloud price for a machine like this one, beside the pilot's
  £7.92 per 1,000 for cloud OCR (the price quoted in the pilot council's evaluation report);
- quality against the truth (exact pages, CER) for the documents read.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from evaluation import documents as text_quality
from lake.documents.pipeline import extract_documents
from lake.ingest.pipeline import load_landing
from lake.storage.delta import Lake
from synth.council import SynthOptions, generate

# Stated price: an on-demand 2-vCPU, 4-8 GiB general-purpose cloud VM (c7i.large / D2s v5 class) in a UK
# region is about US$0.09-0.10 an hour; £0.08 an hour is used. Change with --price-per-hour.
PRICE_PER_HOUR_GBP = 0.08
PILOT_GBP_PER_1000 = 7.92


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--children", type=int, default=100)
    parser.add_argument("--council", type=Path, default=Path(".bench/council-documents"))
    parser.add_argument("--buckets", default="0", help="comma-separated hash buckets to read (0-3)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--price-per-hour", type=float, default=PRICE_PER_HOUR_GBP)
    args = parser.parse_args()
    truth = args.council / "truth" / "council.json"
    if not truth.exists() or json.loads(truth.read_text())["children"] != args.children:
        shutil.rmtree(args.council, ignore_errors=True)
        generate(SynthOptions(out=args.council, children=args.children))
    with tempfile.TemporaryDirectory(prefix="caselake-lake-") as tmp:
        lake = Lake(tmp)
        load_landing(lake, args.council / "landing")
        buckets = {int(b) for b in args.buckets.split(",")}
        run = extract_documents(lake, args.council / "landing", buckets=buckets, workers=args.workers)
        quality = text_quality.evaluate(lake, args.council / "truth", read_only=True)
    docs = run.documents_with_text + run.documents_with_error
    pages = sum(run.pages.values())
    print(
        f"documents to text, {args.children}-child council, buckets {sorted(buckets)}: {docs:,} documents, "
        f"{pages:,} pages, {args.workers} worker processes on {os.cpu_count()} cores"
    )
    for method in sorted(run.pages):
        n, s = run.pages[method], run.page_seconds[method]
        print(f"  {method:<11} {n:6,} pages  {n / s:7.2f} pages/s per worker  ({s / n:.3f} s a page)")
    per_doc = run.wall_seconds / max(docs, 1)
    cost = per_doc * 1000 / 3600 * args.price_per_hour
    print(
        f"  whole run   {run.wall_seconds:7.1f} s wall  {docs / run.wall_seconds:.2f} documents/s  "
        f"{pages / run.wall_seconds:.2f} pages/s  (errors: {run.errors or 'none'})"
    )
    print(
        f"  cost        £{cost:.4f} per 1,000 documents at £{args.price_per_hour:.2f} per machine-hour "
        f"(pilot cloud OCR: £{PILOT_GBP_PER_1000:.2f}; {PILOT_GBP_PER_1000 / cost:,.0f}x cheaper)"
    )
    read = quality.filter(quality["pages_with_text"] > 0)
    print("  quality against the truth (documents read):")
    for row in read.iter_rows(named=True):
        print(
            f"    {row['format']:<9} {row['pages_with_text']:5} pages  exact {row['pages_exact']:5}  "
            f"CER {100 * row['cer']:.2f}%"
        )


if __name__ == "__main__":
    main()
