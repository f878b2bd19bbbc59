"""Benchmark: how each step of the structured load grows with the council's size (`make bench-scale`).

For each size, in a fresh folder, through the product's own command line (a process per step, as an operator
runs it):

1. ``caselake synth --structured-only``: every structured table, case notes and forms included, no document
   files (rendering the pilot's 19 documents a child would take days at this scale);
2. ``caselake load --no-documents``: the Dagster load job (landing -> staging) and the ``build_enterprise``
   stage (enterprise tables, then the dbt build), then the cost marts. The stages after it (documents, entities,
   search, insights) are skipped: they read text, and their cost per item is measured already (backlog below);
3. a forced no-op re-run of the same extracts (:func:`lake.ingest.pipeline.load_landing`, as bench_lake):
   every file parsed and validated again, and nothing may be committed;
4. the next day: ``caselake synth --next-day`` (a change extract), then ``caselake load --no-documents``.

Each step's wall time, rows and peak memory (the largest process, from the kernel's rusage; for the load's
Dagster steps, the process tree as ``ops/asset_costs`` sampled it) are recorded, and the load is split into its
Dagster steps from ``ops/asset_costs``. Then, per step, the growth is fitted (log-log slope: 1 = linear) and
projected to 100,000 children and to the pilot council (456,970), and the pilot's document and text backlog is
sized in machines. Results go to ``--json`` (merged with sizes measured earlier) so the table in
docs/benchmarks.md can be regenerated with ``--report-only``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

PILOT_CHILDREN = 456_970  # the pilot council (North Yorkshire): its evaluation report's dataset scale
PROJECT_TO = (100_000, PILOT_CHILDREN)

# The pilot's backlog (the pilot council's evaluation report: 2,058,858 documents, 7,523,745 notes; and
# docs/benchmarks.md "Cost per asset": the notes plus the documents' pages as text items; chunks as many per text
# item as measured) and the CPU seconds per 1,000 items measured by `caselake costs` on this project's 2-core
# machine (docs/benchmarks.md "Cost per asset", 2026-12-02). With --costs-from, both come from a loaded lake's cost
# marts instead (marts.cost_backlog_estimate).
BACKLOG = {
    # work: (unit, items in the pilot's backlog, CPU seconds per 1,000 items measured here)
    "documents to text": ("documents", 2_058_858, 800.0),
    "entity extraction": ("text items", 10_489_413, 43.0),
    "search embedding": ("chunks", 11_635_622, 26.0),
}
WEEK_HOURS = 7 * 24
NODE_CORES = (2, 16)

# The steps measured, in order; the load's parts come from ops/asset_costs.
STEPS = (
    ("generate", "synth: full extract (structured only)"),
    ("load", "load: whole command"),
    ("load.stage", "… landing → staging"),
    ("load.enterprise", "… enterprise tables"),
    ("load.dbt", "… dbt build"),
    ("load.cost_marts", "… cost marts (dbt)"),
    ("load.overhead", "… process start, Dagster runs"),
    ("noop_rerun", "no-op re-run of the same extracts"),
    ("delta_generate", "synth: next-day change extract"),
    ("delta_load", "load of the change extract"),
    ("delta_load.stage", "… landing → staging"),
    ("delta_load.enterprise", "… enterprise tables"),
    ("delta_load.dbt", "… dbt build"),
    ("delta_load.cost_marts", "… cost marts (dbt)"),
    ("delta_load.overhead", "… process start, Dagster runs"),
)


# ---- running one step --------------------------------------------------------------------------
def run(cmd: list[str], env: dict[str, str], log: Path) -> dict:
    """Run ``cmd`` to completion; its wall time, CPU time and peak resident memory (of the processes of its tree
    that have ended, as the kernel counts them; the memory of the largest). Output goes to ``log``; a failure
    raises with the log's tail. CPU time tells the work apart from waiting on a machine that others share."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}); log {log}:\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024)}


def caselake(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "caselake"), *args]


def environment(root: Path) -> dict[str, str]:
    """Everything in a fresh folder: no variable from the caller's shell (or the Makefile's DAGSTER_HOME) may
    point a step at another lake."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASELAKE_") and k != "DAGSTER_HOME"}
    env.update({"CASELAKE_DATA_ROOT": str(root), "DAGSTER_HOME": str(root / "dagster_home")})
    return env


def extract_rows(root: Path) -> list[int]:
    """Rows declared by each extract's control file, in date order."""
    controls = sorted((root / "landing").glob("*/*/_extract.json"))
    return [sum(t["rows"] for t in json.loads(p.read_text())["tables"].values()) for p in controls]


def folder_mb(root: Path) -> float:
    return round(sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6, 1)


def load_parts(root: Path, since: dt.datetime) -> dict[str, dict]:
    """The Dagster steps of the load that started after ``since``, from ops/asset_costs: landing and staging,
    enterprise, the dbt build, the cost marts' dbt build (told apart by their run's job)."""
    import dagster as dg
    import polars as pl

    from lake.ops.costs import TABLE
    from lake.settings import Settings
    from lake.storage.delta import OPS

    costs = Settings.from_env(environment(root)).lake().read(OPS, TABLE)
    costs = costs.filter(pl.col("started_at") >= since)
    steps = costs.group_by("run_id", "step").agg(
        pl.col("wall_seconds").sum(),
        (pl.col("cpu_seconds") + pl.col("worker_cpu_seconds")).sum().alias("cpu_seconds"),
        pl.col("rows_read").sum(),
        pl.col("rows_written").sum(),
        pl.col("peak_memory_mb").max(),
    )
    os.environ["DAGSTER_HOME"] = str(root / "dagster_home")
    with dg.DagsterInstance.get() as instance:
        jobs = {run_id: instance.get_run_by_id(run_id).job_name for run_id in steps["run_id"].unique()}
    parts: dict[str, dict] = {}
    for row in steps.iter_rows(named=True):
        job, step = jobs[row["run_id"]], row["step"]
        part = (
            "stage"
            if job.startswith("load_")
            else "enterprise"
            if step == "enterprise_tables"
            else "cost_marts"
            if job == "report_costs"
            else "dbt"
            if step == "dbt_models"
            else f"other:{step}"
        )
        seen = parts.setdefault(
            part, {"wall_s": 0.0, "cpu_s": 0.0, "rows_read": 0, "rows_written": 0, "step_peak_mb": 0}
        )
        seen["wall_s"] += row["wall_seconds"]
        seen["cpu_s"] += row["cpu_seconds"]
        seen["rows_read"] += row["rows_read"]
        seen["rows_written"] += row["rows_written"]
        seen["step_peak_mb"] = max(seen["step_peak_mb"], round(row["peak_memory_mb"] or 0))
    for seen in parts.values():
        seen["wall_s"], seen["cpu_s"] = round(seen["wall_s"], 2), round(seen["cpu_s"], 2)
    return parts


def measure_load(root: Path, env: dict[str, str], name: str) -> dict[str, dict]:
    since = dt.datetime.now(dt.UTC)
    whole = run(caselake("load", "--no-documents"), env, root / "logs" / f"{name}.log")
    parts = load_parts(root, since)
    out = {name: {**whole, "rows": sum(p["rows_read"] for p in parts.values())}}
    for part, seen in parts.items():
        rows = seen["rows_read"] if part == "stage" else seen["rows_written"]
        out[f"{name}.{part}"] = {
            "wall_s": seen["wall_s"],
            "cpu_s": seen["cpu_s"],
            "rows": rows,
            "step_peak_mb": seen["step_peak_mb"],
        }
    out[f"{name}.overhead"] = {
        key: round(max(0.0, whole[key] - sum(seen[key] for seen in parts.values())), 2) for key in ("wall_s", "cpu_s")
    }
    return out


def rerun(root: Path) -> None:
    """(In its own process.) Load the same extracts again, forced, and print what it read and committed."""
    from lake.ingest.pipeline import load_landing
    from lake.settings import Settings

    settings = Settings.from_env()
    lake = settings.lake()
    before = {t: lake.version(*t) for t in lake.tables()}
    done = load_landing(lake, settings.landing())
    staged = [x for loads in done.staged.values() for x in loads.values()]
    after = {t: lake.version(*t) for t in lake.tables()}
    print(
        json.dumps(
            {
                "rows": sum(x.rows_read for x in staged),
                "commits": sum(x.stats.committed for x in [*staged, *done.enterprise.values()]),
                "tables_changed": sorted("/".join(t) for t in after if after[t] != before.get(t)),
            }
        )
    )


def _reusable(root: Path) -> dict | None:
    """The generation step measured before in ``root`` (``logs/generate.json``), with its day-0 extract still
    there: everything else in the folder (lake, marts, later extracts) is cleared for a fresh measurement."""
    measured = root / "logs" / "generate.json"
    days = sorted((root / "landing").glob("*/*/_extract.json"))
    if not measured.exists() or not days:
        return None
    for later in days[1:]:
        shutil.rmtree(later.parent)
    for stale in ("delta", "dagster_home", "caselake.duckdb", "caselake.duckdb.wal"):
        path = root / stale
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    return json.loads(measured.read_text())


def enterprise_rewrites(root: Path, since: dt.datetime) -> dict:
    """What the enterprise MERGEs committed after ``since`` rewrote, from the tables' Delta logs: the bytes and
    files they removed (the files that held the keys they changed: what copy-on-write must rewrite at least) and
    the bytes and files they added in their place (with the new rows)."""
    out = {"files_removed": 0, "bytes_removed": 0, "files_added": 0, "bytes_added": 0, "rows_added": 0, "tables": 0}
    cutoff = since.timestamp() * 1000
    for log in (root / "delta" / "enterprise").glob("*/_delta_log"):
        touched = False
        for commit in sorted(log.glob("*.json")):
            actions = [json.loads(line) for line in commit.read_text().splitlines() if line.strip()]
            info = next((a["commitInfo"] for a in actions if "commitInfo" in a), {})
            if info.get("timestamp", 0) < cutoff or info.get("operation") not in ("MERGE", "WRITE"):
                continue
            if log.parent.name.startswith("_"):
                continue  # the watermarks: bookkeeping, not data
            for a in actions:
                if "remove" in a:
                    out["files_removed"] += 1
                    out["bytes_removed"] += a["remove"].get("size") or 0
                    touched = True
                elif "add" in a:
                    out["files_added"] += 1
                    out["bytes_added"] += a["add"]["size"]
                    out["rows_added"] += json.loads(a["add"].get("stats") or "{}").get("numRecords", 0)
                    touched = True
        out["tables"] += touched
    return out


def extract_mb(root: Path, day: int) -> float:
    """The size of the table files of the day's extract (the changed rows as delivered)."""
    control = sorted((root / "landing").glob("*/*/_extract.json"))[day]
    return round(sum(p.stat().st_size for p in control.parent.glob("*.csv")) / 1e6, 3)


def measure(n: int, root: Path, reuse: bool = False) -> dict[str, dict]:
    generated = _reusable(root) if reuse else None
    if generated is None:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
    env = environment(root)
    logs = root / "logs"
    steps: dict[str, dict] = {}

    def say(step: str) -> None:
        print(f"  {n:>7,} children: {step} …", flush=True)
        if logs.exists():  # what is measured so far, for a run stopped before its size ends
            (logs / "steps.json").write_text(json.dumps(steps, indent=1))

    synth = ["synth", "--out", str(root), "--children", str(n), "--structured-only"]
    if generated is None:
        say("generate")
        steps["generate"] = {**run(caselake(*synth), env, logs / "generate.log"), "rows": extract_rows(root)[0]}
        steps["generate"]["landing_mb"] = folder_mb(root / "landing")
        (logs / "generate.json").write_text(json.dumps(steps["generate"]))
    else:
        say("generate: reused (measured before)")
        steps["generate"] = generated
    say("load")
    steps.update(measure_load(root, env, "load"))
    say("no-op re-run")
    out = root / "logs" / "noop_rerun.json"
    steps["noop_rerun"] = run([sys.executable, __file__, "--rerun-in", str(root)], env, out)
    found = json.loads(next(line for line in reversed(out.read_text().splitlines()) if line.startswith("{")))
    steps["noop_rerun"].update(found)
    if found["commits"] or found["tables_changed"]:
        print(f"  warning: the no-op re-run committed {found['commits']}: {found['tables_changed']}", flush=True)
    steps.update(measure_next_day(n, root))
    return steps


def measure_next_day(n: int, root: Path) -> dict[str, dict]:
    """A next-day change extract generated and loaded into the lake in ``root``: the delta_* steps."""
    env, logs, steps = environment(root), root / "logs", {}
    synth = ["synth", "--out", str(root), "--children", str(n), "--structured-only", "--next-day"]
    print(f"  {n:>7,} children: next day: generate …", flush=True)
    steps["delta_generate"] = {**run(caselake(*synth), env, logs / "delta_generate.log")}
    steps["delta_generate"]["rows"] = extract_rows(root)[-1]
    print(f"  {n:>7,} children: next day: load …", flush=True)
    since = dt.datetime.now(dt.UTC)
    steps.update(measure_load(root, env, "delta_load"))
    steps["delta_load"]["enterprise_rewrites"] = enterprise_rewrites(root, since)
    steps["delta_load"]["extract_mb"] = extract_mb(root, -1)
    steps["_lake_mb"] = {"delta": folder_mb(root / "delta"), "duckdb": folder_mb(root / "caselake.duckdb")}
    return steps


# ---- fitting and projecting ---------------------------------------------------------------------
def least_squares(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Intercept and slope of the least-squares line through the points."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    return my - slope * mx, slope


def fit(points: dict[int, float]) -> dict | None:
    """The log-log slope of time against children (1 = linear), and projections to larger councils: the larger
    of a power law and a straight line (a fixed cost plus a cost per child), both fitted to the measurements.
    Below a slope of 1 the straight line grows faster (a fixed cost is amortised, not multiplied); above it the
    power law does: taking the larger never hides a cost that grows faster than the council. A step that took
    less time at a larger size (noise around a fixed cost) is projected at no less than its largest measurement."""
    sizes = sorted(n for n, t in points.items() if t and t > 0)
    if len(sizes) < 2:
        return None
    ts = [points[n] for n in sizes]
    log_a, slope = least_squares([math.log(n) for n in sizes], [math.log(t) for t in ts])
    fixed, per_child = least_squares([float(n) for n in sizes], ts)
    floor = max(ts)
    projected = {
        str(n): round(max(math.exp(log_a) * n**slope, fixed + per_child * n, floor), 1)
        for n in PROJECT_TO
        if n > sizes[-1]
    }
    return {"sizes": sizes, "slope": round(slope, 3), "projected_s": projected}


def fits(results: dict[str, dict]) -> dict[str, dict]:
    """Per step: the fit of its wall time, and the log-log slope of its CPU time (robust to a shared machine)."""
    out = {}
    for step, _ in STEPS:
        found = fit({int(n): r[step]["wall_s"] for n, r in results.items() if step in r})
        if found:
            cpu = fit({int(n): r[step].get("cpu_s") for n, r in results.items() if step in r})
            out[step] = {**found, "cpu_slope": cpu["slope"] if cpu else None}
            memory = fit({int(n): r[step].get("peak_rss_mb") for n, r in results.items() if step in r})
            if memory:
                out[step]["peak_rss_mb"] = {"slope": memory["slope"], "projected": memory["projected_s"]}
    return out


# ---- the backlog ----------------------------------------------------------------------------------
def backlog_work(costs_from: Path | None) -> tuple[dict[str, tuple[str, float, float]], str]:
    """Per work: unit, items in the pilot's backlog, CPU hours; and where the figures came from. With a lake,
    each work its cost marts have measured comes from them, the others from the constants above."""
    work = {w: (unit, items, items / 1000 * rate / 3600) for w, (unit, items, rate) in BACKLOG.items()}
    source = "docs/benchmarks.md 'Cost per asset' (measured 2026-12-02 on this machine, a 20-child council)"
    if costs_from is None:
        return work, source
    import duckdb

    path = costs_from / "caselake.duckdb"
    with duckdb.connect(str(path), read_only=True) as con:
        schema = con.execute(
            "select table_schema from information_schema.tables where table_name = 'cost_backlog_estimate'"
        ).fetchone()[0]
        rows = con.execute(
            f"select work, unit, items, cpu_hours from {schema}.cost_backlog_estimate where scope = 'backlog'"
        ).fetchall()
    measured = {w: (unit, float(items), float(hours)) for w, unit, items, hours in rows if hours is not None}
    work.update(measured)
    if not measured:
        return work, f"{source}: the cost marts of {path} have measured none of it"
    rest = sorted(set(work) - set(measured))
    return work, f"the cost marts of {path}" + (f" ({', '.join(rest)}: {source})" if rest else "")


def backlog(costs_from: Path | None, efficiency: float) -> dict:
    work, source = backlog_work(costs_from)
    cpu_hours = sum(h for _, _, h in work.values())
    nodes = {}
    for cores in NODE_CORES:
        per_node_week = cores * WEEK_HOURS * efficiency
        machines = math.ceil(cpu_hours / per_node_week)
        nodes[str(cores)] = {
            "cpu_hours_per_node_week": round(per_node_week, 1),
            "machines_for_one_week": machines,
            "days_with_that_many": round(cpu_hours / (machines * cores * efficiency) / 24, 2),
            "days_on_one_node": round(cpu_hours / (cores * efficiency) / 24, 1),
        }
    return {
        "source": source,
        "efficiency": efficiency,
        "work": {w: {"unit": u, "items": round(i), "cpu_hours": round(h, 1)} for w, (u, i, h) in work.items()},
        "cpu_hours": round(cpu_hours, 1),
        "nodes": nodes,
    }


# ---- the report -------------------------------------------------------------------------------------
def duration(s: float | None) -> str:
    if s is None:
        return "—"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def report(doc: dict) -> str:
    results, fitted = doc["results"], doc["fits"]
    sizes = sorted(results, key=int)
    lines = [
        f"Scaling of the structured load — {doc['machine']}; measured {', '.join(doc['measured'][n] for n in sizes)}",
        "",
        "| step | "
        + " | ".join(f"{int(n):,} children" for n in sizes)
        + " | slope (wall / CPU) | 100,000 | 456,970 (pilot) |",
        "| --- | " + " | ".join("---" for _ in sizes) + " | --- | --- | --- |",
    ]
    for step, label in STEPS:
        cells = []
        for n in sizes:
            r = results[n].get(step)
            if r is None:
                cells.append("—")
                continue
            extra = [f"{r['rows']:,} rows"] if r.get("rows") else []
            if r.get("cpu_s") is not None:
                extra.append(f"CPU {duration(r['cpu_s'])}")
            if r.get("peak_rss_mb"):
                extra.append(f"{r['peak_rss_mb']:,} MB")
            if "commits" in r:
                extra.append(f"{r['commits']} commits")
            cells.append(duration(r["wall_s"]) + (f" ({', '.join(extra)})" if extra else ""))
        f = fitted.get(step)
        slope = f"{f['slope']:.2f} / {f['cpu_slope']:.2f}" if f and f.get("cpu_slope") is not None else "—"
        if f and f.get("cpu_slope") is None:
            slope = f"{f['slope']:.2f}"
        proj = [
            (duration(f["projected_s"].get(str(n))) if str(n) in f["projected_s"] else "measured") if f else "—"
            for n in PROJECT_TO
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {slope} | {proj[0]} | {proj[1]} |")
    totals = {n: sum(results[n][s]["wall_s"] for s in TOTAL_STEPS if s in results[n]) for n in sizes}
    total_fit = fit({int(n): t for n, t in totals.items()})
    if total_fit:
        proj = [
            duration(total_fit["projected_s"].get(str(n))) if str(n) in total_fit["projected_s"] else "measured"
            for n in PROJECT_TO
        ]
        lines.append(
            "| **all steps** | "
            + " | ".join(duration(totals[n]) for n in sizes)
            + f" | {total_fit['slope']:.2f} | {proj[0]} | {proj[1]} |"
        )
    lines += [
        "",
        "Slope: the log-log slope of wall and of CPU time against children (1 = linear; below 1: a fixed cost",
        "still weighs). CPU time is the processes' own (dbt's included), unmoved by others sharing the machine.",
        "Projections: the larger of a power law and a fixed-plus-per-child line, both fitted to the measurements",
        "(and no less than the largest measurement). Measured on a machine shared with other work: see the load",
        "averages above; the CPU times are the steadier figures.",
        "Memory: the largest process (kernel rusage). Rows: extract rows written (synth), rows read (staging),",
        "rows written (enterprise, dbt).",
    ]
    memory = [(label, fitted[step]["peak_rss_mb"]) for step, label in STEPS if "peak_rss_mb" in fitted.get(step, {})]
    if memory:
        lines += [
            "",
            "| peak memory, largest process | slope | 100,000 | 456,970 (pilot) |",
            "| --- | --- | --- | --- |",
        ]
        for label, m in memory:
            proj = [
                f"{m['projected'][str(n)] / 1024:,.1f} GB" if str(n) in m["projected"] else "measured"
                for n in PROJECT_TO
            ]
            lines.append(f"| {label} | {m['slope']:.2f} | {proj[0]} | {proj[1]} |")
    lines += ["", *goals(results)]
    b = doc["backlog"]
    lines += [
        "",
        f"The pilot's backlog in machines (CPU per item from {b['source']}; CPU-bound work assumed to scale with",
        f"cores at {b['efficiency']:.0%} efficiency):",
        "",
        "| work | items | CPU hours |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {w} | {v['items']:,} {v['unit']} | {v['cpu_hours']:,.1f} |" for w, v in b["work"].items()]
    lines += [f"| **total** | | **{b['cpu_hours']:,.1f}** |", "", "| node | machines to clear it in a week | days |"]
    lines += ["| --- | --- | --- |"]
    for cores, v in b["nodes"].items():
        lines.append(
            f"| {cores} cores | **{v['machines_for_one_week']}** | {v['days_with_that_many']} "
            f"(one node alone: {v['days_on_one_node']}) |"
        )
    return "\n".join(lines)


TOTAL_STEPS = ("generate", "load", "noop_rerun", "delta_generate", "delta_load")
LOAD_STEPS = ("load", "noop_rerun", "delta_load")  # the product's own processes (synth is the test harness)


def goals(results: dict[str, dict]) -> list[str]:
    """Issue 38's figures, per size measured: met or not, with the figure."""
    lines = [
        "| goal (issue 38) | " + " | ".join(f"{int(n):,} children" for n in sorted(results, key=int)) + " |",
        "| --- | " + " | ".join("---" for _ in results) + " |",
    ]

    def row(label: str, cell) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(results[n]) for n in sorted(results, key=int)) + " |")

    def verdict(ok: bool | None, text: str) -> str:
        return "—" if ok is None else f"{text} ({'met' if ok else '**not met**'})"

    def peak(r: dict) -> str:
        found = [r[s]["peak_rss_mb"] for s in LOAD_STEPS if r.get(s, {}).get("peak_rss_mb")]
        return verdict(max(found) <= 4096, f"{max(found):,} MB") if found else "—"

    def next_day(r: dict) -> str:
        d = r.get("delta_load")
        return verdict(d["wall_s"] <= 180, duration(d["wall_s"])) if d else "—"

    def rewrites(r: dict) -> str:
        w = r.get("delta_load", {}).get("enterprise_rewrites")
        if not w:
            return "—"
        ratio = w["bytes_added"] / w["bytes_removed"] if w["bytes_removed"] else None
        text = (
            f"{w['bytes_added'] / 1e6:,.1f} MB written for {w['bytes_removed'] / 1e6:,.1f} MB of files holding changed "
            f"keys ({w['files_removed']} files); the extract {r['delta_load'].get('extract_mb', 0):,.2f} MB"
        )
        return verdict(ratio is None or ratio <= 10, text)  # nothing removed: only new rows were written

    def dbt_share(r: dict) -> str:
        day, full = r.get("delta_load.dbt"), r.get("load.dbt")
        if not day or not full:
            return "—"
        return verdict(day["wall_s"] <= 0.2 * full["wall_s"], f"{day['wall_s'] / full['wall_s']:.0%} of the full build")

    def noop(r: dict) -> str:
        n = r.get("noop_rerun")
        if not n:
            return "—"
        return verdict(
            n["wall_s"] <= 30 and not n.get("commits"), f"{duration(n['wall_s'])}, {n.get('commits')} commits"
        )

    row("peak memory of any load process ≤ 4 GB", peak)
    row("next-day load, landing to marts ≤ 3 min", next_day)
    row("enterprise bytes rewritten ≤ 10× the files holding the changed rows", rewrites)
    row("next-day dbt ≤ 20% of a full build", dbt_share)
    row("no-op re-delivery ≤ 30 s, 0 commits", noop)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", default="1000,10000,100000", help="comma-separated council sizes")
    parser.add_argument("--out", type=Path, default=Path(".bench/scale"), help="a fresh folder per size under here")
    parser.add_argument("--json", type=Path, default=Path(".bench/scale.json"), help="results, merged by size")
    parser.add_argument("--keep", action="store_true", help="keep each size's folder (lake, landing, logs)")
    parser.add_argument(
        "--reuse-generated",
        action="store_true",
        help="keep a size's day-0 extract generated (and measured) by an earlier --keep run, and measure the rest",
    )
    parser.add_argument(
        "--another-day",
        action="store_true",
        help="on a size's folder kept loaded by an earlier --keep run, measure one more next day (its delta_* figures"
        " replace the size's next-day figures; the first load's stay)",
    )
    parser.add_argument("--costs-from", type=Path, help="a loaded lake's data root: its cost marts size the backlog")
    parser.add_argument("--efficiency", type=float, default=0.8, help="share of a node's cores the work keeps busy")
    parser.add_argument("--report-only", action="store_true", help="print the report from --json, measure nothing")
    parser.add_argument("--rerun-in", type=Path, help=argparse.SUPPRESS)  # internal: the no-op re-run's process
    args = parser.parse_args()
    if args.rerun_in:
        rerun(args.rerun_in)
        return
    doc = json.loads(args.json.read_text()) if args.json.exists() else {"results": {}, "measured": {}}
    if not args.report_only:
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        for n in [int(x) for x in args.children.split(",")]:
            load = os.getloadavg()[0]
            print(f"{n:,} children (load average at start {load:.1f}):", flush=True)
            t0 = time.perf_counter()
            root = (args.out / str(n)).resolve()  # Dagster wants an absolute DAGSTER_HOME
            stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
            if args.another_day:
                doc["results"][str(n)].update(measure_next_day(n, root))
                days = len(list((root / "landing").glob("*/*/_extract.json"))) - 1
                doc["measured"][str(n)] += (
                    f"; next day {days} measured {stamp} on the kept lake, load average {load:.1f}"
                )
            else:
                try:
                    doc["results"][str(n)] = measure(n, root, args.reuse_generated)
                finally:
                    if not args.keep:
                        shutil.rmtree(root, ignore_errors=True)
                measured = f"{time.perf_counter() - t0:.0f} s, load average {load:.1f}"
                doc["measured"][str(n)] = f"{n:,}: {stamp}, {measured}"
            doc["machine"] = machine
            doc["fits"] = fits(doc["results"])
            doc["backlog"] = backlog(args.costs_from, args.efficiency)
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")  # after each size
    if not doc["results"]:
        print(f"no measurements in {args.json}: run without --report-only first")
        return
    doc["fits"] = fits(doc["results"])  # derived: refitted (and written back) on every call
    doc["backlog"] = backlog(args.costs_from, args.efficiency)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(report(doc))


if __name__ == "__main__":
    main()
