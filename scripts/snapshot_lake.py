"""Digest every table of a loaded lake (Delta layers, LanceDB mirror, dbt marts) for a before/after comparison.

    uv run python scripts/snapshot_lake.py --lake L --warehouse W --out snapshot.json
    uv run python scripts/snapshot_lake.py --compare before.json after.json

Uses deltalake, polars and duckdb only (no caselake import), so the same script snapshots a lake built by
any version of the code. Wall-clock columns (``*_at`` timestamps) and the Delta version history are left
out: they differ between two runs of the same code; everything else must be equal.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import polars as pl
from deltalake import DeltaTable


def _digest(df: pl.DataFrame) -> dict:
    keep = [c for c, t in df.schema.items() if not (c.endswith("_at") and isinstance(t, pl.Datetime))]
    df = df.select(sorted(keep))
    rows = sorted(json.dumps(r, default=str, sort_keys=True) for r in df.iter_rows(named=True))
    return {"rows": df.height, "columns": sorted(keep), "sha256": hashlib.sha256("\n".join(rows).encode()).hexdigest()}


def snapshot(lake: Path, warehouse: Path | None) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for log in sorted(lake.rglob("_delta_log")):
        table = log.parent
        out[f"delta/{table.relative_to(lake)}"] = _digest(pl.from_arrow(DeltaTable(str(table)).to_pyarrow_table()))
    if warehouse is not None and (warehouse / "caselake.duckdb").exists():
        import duckdb

        with duckdb.connect(str(warehouse / "caselake.duckdb"), read_only=True) as con:
            tables = con.sql("select table_schema, table_name from information_schema.tables").fetchall()
            for schema, name in sorted(tables):
                out[f"duckdb/{schema}.{name}"] = _digest(con.sql(f'select * from "{schema}"."{name}"').pl())
    return out


def compare(before: dict, after: dict) -> list[str]:
    problems = [f"only before: {k}" for k in before.keys() - after.keys()]
    problems += [f"only after: {k}" for k in after.keys() - before.keys()]
    problems += [
        f"differs: {k} {before[k]['rows']} -> {after[k]['rows']} rows"
        for k in before.keys() & after.keys()
        if before[k] != after[k]
    ]
    return sorted(problems)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=Path)
    parser.add_argument("--warehouse", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--compare", nargs=2, type=Path)
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(p.read_text()) for p in args.compare)
        problems = compare(before, after)
        print("\n".join(problems) or f"equal: {len(before)} tables")
        sys.exit(1 if problems else 0)
    snap = snapshot(args.lake, args.warehouse)
    args.out.write_text(json.dumps(snap, indent=1, sort_keys=True))
    print(f"{len(snap)} tables -> {args.out}")


if __name__ == "__main__":
    main()
