"""Benchmark: entity extraction throughput and the held-out evaluation (`make bench`).

1. Throughput: case notes of a synthetic council (composed in memory) through the extractor the asset
   uses (GLiNER + patterns), at each torch thread count and batch size given; prints notes per second on
   this machine and the cost per 1,000 items at a stated cloud price, beside the pilot's £7.24 per 1,000
   for cloud entity recognition (the price quoted in the pilot council's evaluation report).
2. With ``--evaluate``: ``caselake eval entities`` (a held-out eval-split council through the whole
   pipeline) and its scores, and ``caselake eval entities --handwritten`` (the hand-written notes' held-out
   authors, no gazetteer).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from lake.entities.extraction import EntityExtractor
from lake.settings import Settings
from synth.training import entity_model

PRICE_PER_HOUR_GBP = 0.08  # a 2-vCPU cloud VM, as in bench_documents.py
PILOT_GBP_PER_1000 = 7.24


def notes(children: int, seed: int, count: int) -> list[str]:
    from lake.progress import no_progress as quiet
    from synth.council import SynthOptions, build_world, compose_base

    opts = SynthOptions(out=".", children=children, seed=seed, split="eval")
    content = compose_base(build_world(opts), opts, quiet)
    return [r["note_text"] for r in content.rows["case_note"]][:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notes", type=int, default=400)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batch-sizes", default="8,32")
    parser.add_argument("--price-per-hour", type=float, default=PRICE_PER_HOUR_GBP)
    parser.add_argument("--evaluate", action="store_true", help="also run the held-out evaluation")
    parser.add_argument("--eval-children", type=int, default=30)
    args = parser.parse_args()
    texts = notes(children=12, seed=2028, count=args.notes)
    words = sum(len(t.split()) for t in texts)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; {len(texts)} case notes, "
        f"{words / len(texts):.0f} words on average"
    )
    settings = Settings.from_env().entities
    model = entity_model(settings)
    results = []
    for int8 in (True, False):
        for threads in (int(t) for t in args.threads.split(",")):
            extractor = EntityExtractor.load(model, settings, threads=threads, int8=int8)
            extractor.extract(texts[:8])  # warm-up: first-call allocations
            for batch in (int(b) for b in args.batch_sizes.split(",")):
                extractor.batch_size = batch
                t0 = time.perf_counter()
                found = extractor.extract(texts)
                seconds = time.perf_counter() - t0
                rate = len(texts) / seconds
                cost = 1000 / rate / 3600 * args.price_per_hour
                results.append(
                    {
                        "int8": int8,
                        "threads": threads,
                        "batch_size": batch,
                        "notes_per_second": round(rate, 2),
                        "mentions": sum(len(f) for f in found),
                        "gbp_per_1000_items": round(cost, 5),
                    }
                )
                print(
                    f"{'int8' if int8 else 'fp32'} threads {threads} batch {batch:>3}: {rate:6.2f} notes/s, "
                    f"£{cost:.5f} per 1,000 notes (pilot £{PILOT_GBP_PER_1000:.2f})"
                )
    best = max(results, key=lambda r: r["notes_per_second"])
    print(json.dumps({"best": best, "all": results, "model_id": extractor.model_id}))
    # The factor coder on the same notes, as the asset runs it (every statement of every note), against the
    # entity extraction's time per note at the settings' own threads and int8 (issue 37's goal: at most 20% more).
    from lake.entities.coding import CoderConfig, FactorCoder
    from lake.entities.statements import split_statements
    from synth.training import project_factor_coder

    default = next(
        r for r in results if r["int8"] == settings.int8 and r["threads"] == settings.threads and r["batch_size"] == 8
    )
    entity_ms = 1000 / default["notes_per_second"]
    statements = [t[s:e] for t in texts for s, e in split_statements(t)]
    for features in ("ngrams+cues", "ngrams+cues+minilm"):
        coder = FactorCoder.load(project_factor_coder(settings, CoderConfig(features=features)), settings.threads)
        coder.code(statements[:64])  # warm-up (the encoder loads on first use)
        t0 = time.perf_counter()
        coder.code(statements)
        ms = (time.perf_counter() - t0) * 1000 / len(texts)
        print(
            f"factor coder {features}: {ms:.2f} ms a note ({len(statements) / len(texts):.1f} statements), "
            f"{ms / entity_ms:.0%} on top of entity extraction's {entity_ms:.1f} ms (goal at most 20%)"
        )
    if args.evaluate:
        from evaluation import entities as held_out
        from evaluation import handwritten

        print(handwritten.report(handwritten.evaluate(EntityExtractor.load(model, settings), "eval")))

        t0 = time.perf_counter()
        print(held_out.report(held_out.evaluate(children=args.eval_children)))
        print(f"held-out evaluation: {time.perf_counter() - t0:.0f} s")

        from evaluation import factors

        coder = FactorCoder.load(project_factor_coder(settings), settings.threads)
        result = factors.evaluate(coder, "eval")
        result.council = factors.evaluate_council(coder, children=args.eval_children)
        print(factors.report(result))


if __name__ == "__main__":
    main()
