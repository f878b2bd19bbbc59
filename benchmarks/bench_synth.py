"""Benchmark: synthetic council generation time at several sizes (`make bench`).

Prints one line per size: children, wall seconds, rows, documents, bytes on disk, and the
next-day extract time. Runs in a temporary folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from synth.council import SynthOptions, generate, generate_next_day


def folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--children", default="100,1000", help="comma-separated council sizes")
    parser.add_argument(
        "--keep", type=Path, help="keep the largest council here (for bench_lake) instead of deleting it"
    )
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'children':>8} {'full s':>8} {'rows':>10} {'docs':>7} {'MB':>7} {'next-day s':>10}")
    sizes = [int(x) for x in args.children.split(",")]
    for n in sizes:
        keep = args.keep is not None and n == max(sizes)
        if keep:
            shutil.rmtree(args.keep, ignore_errors=True)
        tmp = args.keep if keep else Path(tempfile.mkdtemp(prefix="caselake-bench-"))
        try:
            opts = SynthOptions(out=tmp, children=n)
            t0 = time.perf_counter()
            result = generate(opts)
            full = time.perf_counter() - t0
            t1 = time.perf_counter()
            generate_next_day(opts)
            nxt = time.perf_counter() - t1
            mb = folder_bytes(tmp) / 1e6
            print(
                f"{n:>8} {full:>8.1f} {sum(result.rows.values()):>10,} {result.documents:>7,} {mb:>7.0f} {nxt:>10.1f}",
                flush=True,
            )
        finally:
            if not keep:
                shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
