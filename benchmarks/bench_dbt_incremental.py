"""Benchmark: dbt's time on a next-day run against a full build (issue 38, decision 0038).

A structured-only council (no documents: the marts over structured tables, the entity tables empty) is loaded
day by day: the day-0 full extract, then each next-day change extract, with a ``dbt build`` after each, as the
enterprise stage runs it. The last state is then built again with ``--full-refresh`` in a copy of the warehouse.
Printed per build, from dbt's own run_results.json: the models' time (compile, which reads the sources, and
execute), the tests' time, and dbt's elapsed time; the ratio of a next-day build to the full build; and how
much of each build is the source copy (the staging views' compile phase reads each Delta source into DuckDB).

    uv run python benchmarks/bench_dbt_incremental.py --children 1000 --council .bench/council-structured
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from lake.entities import extraction, factor_statements, resolution
from lake.ingest.landing import find_extracts
from lake.ingest.pipeline import build_enterprise, land_extract, stage_extract
from lake.ops import costs
from lake.settings import REPO_ROOT
from lake.storage.delta import Lake
from synth.council import SynthOptions, generate, generate_next_day

DBT = REPO_ROOT / "dbt"


def dbt_build(lake: Lake, warehouse: Path, target: Path, *extra: str, project: Path = DBT) -> dict:
    """One ``dbt build`` in its own process, its run_results summed by kind of node and phase."""
    env = {**os.environ, "CASELAKE_LAKE_URI": str(lake.root), "CASELAKE_WAREHOUSE_DIR": str(warehouse)}
    t0 = time.perf_counter()
    subprocess.run(
        ["dbt", "build", "--project-dir", str(project), "--profiles-dir", str(project), "--target-path", str(target),
         "--log-path", str(target / "logs"), "--quiet", *extra],
        env=env, check=False,  # a failing node is counted below
    )  # fmt: skip
    wall = time.perf_counter() - t0
    results = json.loads((target / "run_results.json").read_text())
    out = {"wall_s": wall, "elapsed_s": results["elapsed_time"], "models_s": 0.0, "tests_s": 0.0, "source_copy_s": 0.0}
    out["failed"] = [r["unique_id"] for r in results["results"] if r["status"] in ("error", "fail", "skipped")]
    per_model: dict[str, float] = {}
    for r in results["results"]:
        phases = {t["name"]: _seconds(t) for t in r.get("timing", [])}
        kind = "models_s" if r["unique_id"].startswith("model.") else "tests_s"
        out[kind] += r["execution_time"]
        if r["unique_id"].startswith("model.caselake.stg_"):
            out["source_copy_s"] += phases.get("compile", 0.0)  # the plugin copies the source when it is resolved
        if kind == "models_s":
            per_model[r["unique_id"].split(".")[-1]] = r["execution_time"]
    out["per_model"] = per_model
    return out


def _seconds(timing: dict) -> float:
    from datetime import datetime

    if not timing.get("started_at") or not timing.get("completed_at"):
        return 0.0
    start, end = (datetime.fromisoformat(timing[k].replace("Z", "+00:00")) for k in ("started_at", "completed_at"))
    return (end - start).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--children", type=int, default=1000)
    parser.add_argument("--days", type=int, default=2, help="next-day extracts after the full one")
    parser.add_argument("--council", type=Path, default=Path(".bench/council-structured"))
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument(
        "--project", type=Path, action="append", help="a dbt project (repeat to compare copies; default: dbt/)"
    )
    args = parser.parse_args()
    projects = args.project or [DBT]
    truth = args.council / "truth" / "council.json"
    if not truth.exists() or json.loads(truth.read_text())["children"] != args.children:
        shutil.rmtree(args.council, ignore_errors=True)
        opts = SynthOptions(out=args.council, children=args.children, structured_only=True)
        generate(opts)
        for _ in range(args.days):
            generate_next_day(opts)
    extracts = find_extracts(args.council / "landing")[: args.days + 1]
    builds: dict[str, list[dict]] = {str(p): [] for p in projects}
    with tempfile.TemporaryDirectory(prefix="caselake-dbt-") as tmp:
        root = Path(tmp)
        lake = Lake(str(root / "lake"))
        for day, extract in enumerate(extracts):
            land_extract(lake, extract)
            stage_extract(lake, extract)
            build_enterprise(lake)
            for module in (extraction, resolution, factor_statements):
                module.ensure_tables(lake)  # the entity tables the ecomap and factor marts read: empty here
            costs.ensure(lake)  # the cost marts' source, as the dbt asset makes sure of
            for n, project in enumerate(projects):
                warehouse = root / f"warehouse{n}"
                warehouse.mkdir(exist_ok=True)
                done = dbt_build(lake, warehouse, root / f"target{n}-{day}", project=project)
                builds[str(project)].append({"build": f"day {day}", **done})
        for n, project in enumerate(projects):
            copy = root / f"warehouse{n}-full"
            shutil.copytree(root / f"warehouse{n}", copy)
            done = dbt_build(lake, copy, root / f"target{n}-full", "--full-refresh", project=project)
            builds[str(project)].append({"build": "full refresh", **done})
    for project in projects:
        marts = {f.stem for f in (project / "models" / "marts").rglob("*.sql")}
        runs = builds[str(project)]
        for b in runs:
            b["marts_s"] = sum(v for k, v in b["per_model"].items() if k in marts)
        full = runs[-1]
        print(f"dbt build, {args.children} children, structured only, project {project} (seconds; run_results.json):")
        print(
            f"  {'build':<14}{'models':>8}{'marts':>8}{'tests':>8}{'elapsed':>9}{'wall':>8}{'sources':>9}{'of full':>9}"
        )
        for b in runs:
            print(
                f"  {b['build']:<14}{b['models_s']:8.1f}{b['marts_s']:8.1f}{b['tests_s']:8.1f}{b['elapsed_s']:9.1f}"
                f"{b['wall_s']:8.1f}{b['source_copy_s']:9.1f}{b['elapsed_s'] / full['elapsed_s']:9.0%}"
            )
        if any(b["failed"] for b in runs):
            print("  FAILED: " + "; ".join(f"{b['build']}: {', '.join(b['failed'][:5])}" for b in runs if b["failed"]))
        slowest = sorted(runs[-2]["per_model"].items(), key=lambda kv: -kv[1])[:8]
        print("  the last next-day build's slowest models: " + ", ".join(f"{k} {v:.2f}" for k, v in slowest))
    if args.json:
        args.json.write_text(json.dumps({"children": args.children, "builds": builds}, indent=2))


if __name__ == "__main__":
    main()
