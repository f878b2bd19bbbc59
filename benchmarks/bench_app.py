"""The app in headless Chromium: the pilot's task and the ecomap at size.

1. **The pilot's task** — find the most recent safety plan of a named child: choose the child, type
   "safety plan", newest first, only documents, open the preview — timed from the first action until the
   preview shows (goal ≤ 5 s; the pilot's users took 17 s, the source system 180 s). Run against a loaded
   council (``--data-root``; by default a 12-child council is generated and loaded under ``.bench/app``), as a
   demo social worker, ``--repeat`` times.
2. **An ecomap of 5,000 nodes** (``--nodes``): time to the first drawing, from hiding a node to the redrawn
   count, and from a click on a node to its details.

    uv run python benchmarks/bench_app.py [--data-root lake/data] [--repeat 5] [--nodes 5000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def loaded_council(root: Path) -> None:
    """Generate and load a 12-child council under ``root`` unless one is loaded there already."""
    if (root / "caselake.duckdb").exists() and (root / "delta" / "lancedb").exists():
        return
    import dagster as dg

    from orchestration.runner import load_all
    from synth.council import SynthOptions, generate

    generate(SynthOptions(out=root, children=12, seed=39))
    with dg.instance_for_test() as instance:
        if not load_all(instance, root / "landing", say=print):
            raise SystemExit("the council did not load")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=ROOT / ".bench" / "app")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=5000)
    args = parser.parse_args()
    os.environ["CASELAKE_DATA_ROOT"] = str(args.data_root.resolve())
    loaded_council(args.data_root)

    from playwright.sync_api import sync_playwright

    from app.demo import demo_logins
    from app.service import QueryService
    from app.web.browser import (
        Visit,
        find_latest_safety_plan,
        free_port,
        launch,
        serve_big_ecomap,
        time_big_ecomap,
        wait_for_port,
    )
    from app.web.server import serve
    from lake.settings import Settings
    from lake.storage.delta import ENTERPRISE

    settings = Settings.from_env()
    lake = settings.lake()
    logins = {role: (login, password) for login, role, _w, password in demo_logins(lake, settings.users_file())}
    service = QueryService(settings)
    t0 = time.perf_counter()
    port = free_port()
    server = serve(settings, port=port, service=service, threaded=True)
    wait_for_port(port)
    print(f"app ready in {time.perf_counter() - t0:.1f} s (model and index loaded before it listens)")
    session = service.session_for(logins["social_worker"][0], "cli")
    visible = service.scope(session).children
    plans = lake.read(ENTERPRISE, "document").filter(
        pl.col("child_id").is_in(list(visible)) & (pl.col("document_type") == "safety plan")
    )
    child = plans.group_by("child_id").len().sort(["len", "child_id"], descending=True)["child_id"][0]
    times = []
    with sync_playwright() as p:
        browser = launch(p)
        for _ in range(args.repeat):
            visit = Visit(browser, f"http://localhost:{port}")
            visit.sign_in(*logins["social_worker"])
            times.append(find_latest_safety_plan(visit.page, child))
            visit.close()
        server.stop()
        print(
            f"pilot task (find the most recent safety plan), {args.repeat} runs: median {statistics.median(times):.2f} s,"
            f" max {max(times):.2f} s — goal ≤ 5 s {'met' if max(times) <= 5 else 'NOT met'}"
            " (pilot users 17 s, source system 180 s)"
        )
        big, url = serve_big_ecomap(args.nodes)
        timed = time_big_ecomap(browser, url)
        big.stop()
        browser.close()
    print(
        f"ecomap of {args.nodes:,} nodes: first draw {timed['first_draw_s']:.2f} s, hide a node and redraw"
        f" {timed['hide_redraw_s']:.2f} s, click a node to its details {timed['click_to_mentions_s']:.2f} s"
    )


if __name__ == "__main__":
    main()
