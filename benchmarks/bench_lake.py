"""Benchmark: landing -> staging -> enterprise on a synthetic council (`make bench`).

Prints the full load (every extract staged, then the enterprise layer built), its throughput in rows
read per second, and a no-op re-run of the same extracts (which must commit nothing). The council is
generated into --council unless it already holds one of that size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from lake.ingest.pipeline import load_landing
from lake.storage.delta import Lake
from synth.council import SynthOptions, generate, generate_next_day


def load(lake: Lake, landing: Path) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    done = load_landing(lake, landing)
    staged = [x for loads in done.staged.values() for x in loads.values()]
    read = sum(x.rows_read for x in staged)
    commits = sum(x.stats.committed for x in [*staged, *done.enterprise.values()])
    return time.perf_counter() - t0, read, commits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--children", type=int, default=1000)
    parser.add_argument("--council", type=Path, default=Path(".bench/council"))
    args = parser.parse_args()
    truth = args.council / "truth" / "council.json"
    if not truth.exists() or json.loads(truth.read_text())["children"] != args.children:
        shutil.rmtree(args.council, ignore_errors=True)
        opts = SynthOptions(out=args.council, children=args.children)
        generate(opts)
        generate_next_day(opts)
    with tempfile.TemporaryDirectory(prefix="caselake-lake-") as tmp:
        lake = Lake(tmp)
        full, read, commits = load(lake, args.council / "landing")
        again, read2, commits2 = load(lake, args.council / "landing")
    print(f"lakehouse load, {args.children} children (day 0 full extract + day 1 change extract):")
    print(f"  full load      {full:7.1f} s  {read:,} rows read  {read / full:,.0f} rows/s  {commits} Delta commits")
    print(
        f"  no-op re-run   {again:7.1f} s  {read2:,} rows read  {read2 / again:,.0f} rows/s  {commits2} Delta commits"
    )


if __name__ == "__main__":
    main()
