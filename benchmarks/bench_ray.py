"""The heavy work here versus on a Ray started on this machine (``CASELAKE_RAY_ADDRESS=local``): does one code
path through Ray cost ``make demo`` time? Same inputs, same machine, one after the other.

    uv run python benchmarks/bench_ray.py --council .bench/ray/council --children 6

Generates a small council (documents in every format), loads it up to the documents stage once, then reads
its documents, extracts entities from its texts and embeds its chunks twice: with the local process pool /
in this process, and through Ray actors on a local Ray. Prints wall seconds for each, Ray's start-up included.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import time
from pathlib import Path

import dagster as dg

from lake.compute import workers as compute
from lake.documents import pipeline as documents
from lake.documents.formats import ExtractionSettings
from lake.entities import extraction
from lake.settings import ComputeSettings, Settings
from lake.storage.delta import ENTERPRISE, Lake
from synth.council import SynthOptions, generate
from synth.training import project_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--council", type=Path, default=Path(".bench/ray/council"))
    parser.add_argument("--children", type=int, default=6)
    args = parser.parse_args()
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    base = args.council.parent / "lake"
    if not (base / "enterprise" / "document").exists():
        from orchestration.runner import load_all

        shutil.rmtree(args.council, ignore_errors=True)
        generate(SynthOptions(out=args.council, children=args.children, seed=7))
        os.environ["CASELAKE_LAKE_URI"] = str(base)
        os.environ["CASELAKE_WAREHOUSE_DIR"] = str(args.council.parent)
        with dg.instance_for_test() as instance:
            assert load_all(instance, args.council / "landing", say=lambda _: None, until="build_enterprise")
    settings = dataclasses.replace(Settings.from_env(), lake_uri=str(base))
    model = project_model(settings.entities)
    rows = []
    for where, compute_settings in (("here", ComputeSettings()), ("local Ray", ComputeSettings(ray_address="local"))):
        lake_dir = args.council.parent / f"lake-{where.replace(' ', '-')}"
        shutil.rmtree(lake_dir, ignore_errors=True)
        shutil.copytree(base, lake_dir)
        s = dataclasses.replace(settings, lake_uri=str(lake_dir), compute=compute_settings)
        lake = Lake(str(lake_dir))
        t0 = time.perf_counter()
        pool = compute.document_reader(s, ExtractionSettings(), workers=s.documents.workers)
        run = documents.extract_documents(lake, args.council / "landing", pool=pool)
        t1 = time.perf_counter()
        with compute.entity_extractor(s, model) as extractor:
            entity_run = extraction.extract_entities(lake, extractor)
        t2 = time.perf_counter()
        chunks = lake.read(ENTERPRISE, documents.CHUNKS)["text"].to_list()
        with compute.embedder(s) as embedder:
            for i in range(0, len(chunks), embedder.batch):
                embedder.encode(chunks[i : i + embedder.batch])
        t3 = time.perf_counter()
        rows.append((where, run.pending_documents, t1 - t0, entity_run.pending_items, t2 - t1, len(chunks), t3 - t2))
        if compute_settings.on_ray:
            import ray

            ray.shutdown()
    print("| where | documents | s | text items | s | chunks embedded | s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for where, d, td, n, te, c, tc in rows:
        print(f"| {where} | {d} | {td:.1f} | {n} | {te:.1f} | {c} | {tc:.1f} |")


if __name__ == "__main__":
    main()
