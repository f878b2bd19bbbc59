"""A newcomer's first minutes (issue 42) and the marts the app reads while dbt writes (decision 0046).

``caselake demo`` serves the app and the Dagster UI once the structured records are in, then reads the rest while
they serve; the app says what is still being read, the terminal shows a line a stage, and the app never opens the
warehouse file dbt builds in (DuckDB refuses a reader while another process writes, and a writer while one reads).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from app.web.browser import Visit, free_port, launch, search, wait_for_port
from lake.storage.serving import publish_marts, read_served, served_file
from tests.conftest import small_options

ARTIFACTS = Path(__file__).resolve().parent.parent / ".artifacts" / "app"
REPO = Path(__file__).resolve().parent.parent


def _warehouse(path: Path, rows: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create or replace table child_timeline as select 'C' || (i % 7) as child_id, i as n from range(?) t(i)",
            [rows],
        )
        con.execute("create or replace table adopter_features as select 1 as household_id")


def test_marts_are_published_whole_and_a_reader_never_meets_the_writers_lock(tmp_path):
    warehouse, served = tmp_path / "caselake.duckdb", tmp_path / "served"
    _warehouse(warehouse, 1000)
    published = publish_marts(warehouse, served, ["child_timeline", "adopter_features", "child_network"])
    # a mart the warehouse lacks (not built yet) is not published, and reads as "not yet" (None), not as empty
    assert [(p.mart, p.rows) for p in published] == [("child_timeline", 1000), ("adopter_features", 1)]
    assert read_served(served, "child_network", "select 1", []) is None
    # sorted by child, so one child's rows are contiguous
    ids = read_served(served, "child_timeline", "select child_id from main.child_timeline", [])["child_id"].to_pylist()
    assert ids == sorted(ids)

    # dbt holds the warehouse for writing (another process, as dbt is): the app's read of its copy goes on
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); c.execute('create table x(a int)');"
            " print('held', flush=True); time.sleep(30)",
            str(warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(duckdb.IOException, match="lock"):  # what the app met before decision 0046
            duckdb.connect(str(warehouse), read_only=True)
        rows = read_served(
            served, "child_timeline", "select count(*) n from main.child_timeline where child_id = ?", ["C3"]
        )
        assert rows["n"].to_pylist() == [len([i for i in range(1000) if i % 7 == 3])]
    finally:
        holder.kill()
        holder.wait()

    # a reader with the old copy open keeps it while a new build's copy replaces the file
    with duckdb.connect(str(served_file(served, "child_timeline")), read_only=True) as old:
        _warehouse(warehouse, 2000)
        publish_marts(warehouse, served, ["child_timeline"])
        assert old.execute("select count(*) from main.child_timeline").fetchone()[0] == 1000
    assert (
        read_served(served, "child_timeline", "select count(*) n from main.child_timeline", [])["n"][0].as_py() == 2000
    )
    assert sorted(p.name for p in served.iterdir()) == ["adopter_features.duckdb", "child_timeline.duckdb"]


def test_the_app_reads_exactly_the_marts_its_exposure_names():
    """The exposure is the list of marts published for the app: a mart the service reads and the exposure does not
    name would never be published, and the page reading it would stay empty."""
    from app.service import ANALYST_MARTS
    from assets.marts import APP_MARTS

    source = (REPO / "app" / "service.py").read_text()
    read = set(re.findall(r'self\._mart\(\s*"(\w+)"', source)) | set(ANALYST_MARTS)
    assert read == set(APP_MARTS), (sorted(read - set(APP_MARTS)), sorted(set(APP_MARTS) - read))


def test_a_view_is_republished_when_what_it_reads_is_rebuilt_and_held_back_when_that_failed_a_test():
    """``child_factors`` is a view over ``child_factor_statements``: a build of the statements alone changes what
    the view shows, so its copy is published again; a failed test on the statements holds back both."""
    import json

    from assets.dbt_project import DBT_PROJECT
    from assets.marts import marts_held_back, models_changed

    manifest = json.loads(DBT_PROJECT.manifest_path.read_text())
    statements = "model.caselake.child_factor_statements"
    built = {"results": [{"unique_id": statements, "status": "success"}]}
    assert {"child_factor_statements", "child_factors"} <= models_changed(built, manifest)
    assert "child_network" not in models_changed(built, manifest)
    test = next(
        node
        for node, spec in manifest["nodes"].items()
        if node.startswith("test.") and spec.get("attached_node") == statements
    )
    failed = {"results": [*built["results"], {"unique_id": test, "status": "fail"}]}
    assert {"child_factor_statements", "child_factors"} <= marts_held_back(failed, manifest)
    assert marts_held_back(built, manifest) == set()


@pytest.mark.slow
@pytest.mark.browser
def test_the_demo_serves_after_the_structured_load_and_says_what_is_still_being_read(tmp_path):
    """``caselake demo`` on a fresh council: the app and the Dagster UI serve once the enterprise stage is in, the
    terminal has a line a stage and no Dagster DEBUG lines, and every page says what is not read yet."""
    from playwright.sync_api import sync_playwright

    from synth.council import generate

    opts = small_options(tmp_path / "council", children=3, documents_per_child=4)
    generate(opts)
    app_port, ui_port = free_port(), free_port()
    env = {
        **os.environ,
        "CASELAKE_DATA_ROOT": str(opts.out),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),  # make exports the demo's own
        "COLUMNS": "200",
    }
    for name in ("CASELAKE_LAKE_URI", "CASELAKE_WAREHOUSE_DIR", "CASELAKE_LANDING_DIR"):
        env.pop(name, None)
    terminal = tmp_path / "terminal.txt"
    demo = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "demo", "--port", str(ui_port), "--app-port", str(app_port)],
        stdout=terminal.open("w"),
        stderr=subprocess.STDOUT,
        env=env,
        cwd=REPO,
        start_new_session=True,  # a terminal of its own: Ctrl-C goes to its whole process group, as at a terminal
    )
    try:
        deadline = time.monotonic() + 600
        while "App: http" not in terminal.read_text():
            assert demo.poll() is None, terminal.read_text()
            assert time.monotonic() < deadline, terminal.read_text()
            time.sleep(1)
        said = terminal.read_text()
        assert re.search(r"enterprise: built in \d", said), said
        assert " - DEBUG - " not in said and "dbt build" not in said, said[:2000]
        wait_for_port(ui_port)
        login, password = next(
            (line.split("\t")[0], line.split("\t")[3])
            for line in (opts.out / "demo-logins.txt").read_text().splitlines()
            if "\tsocial_worker\t" in line
        )
        with sync_playwright() as p:
            browser = launch(p)
            v = Visit(browser, f"http://127.0.0.1:{app_port}", ARTIFACTS)
            v.page.set_viewport_size({"width": 1366, "height": 768})
            v.sign_in(login, password)
            banner = v.page.get_by_test_id("still-reading")
            banner.wait_for()
            words = banner.inner_text()
            assert re.search(r"\d+ of \d+ documents are not read yet", words), words
            assert "ecomap" in words and "search index is being built" in words, words
            search(v.page, "safety plan")
            v.page.get_by_text("0 results").wait_for()
            v.shot("newcomer-search-while-reading")
            v.page.goto(v.url + "/children")
            child = v.page.locator("a[href^='/child?id=']").first.get_attribute("href")
            v.page.goto(v.url + child + "&tab=ecomap")
            v.page.get_by_test_id("ecomap-not-read").wait_for()
            v.shot("newcomer-ecomap-while-reading")
            assert v.outside == []
            v.close()
            browser.close()
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C: the stage under way stops, and the servers with it
        try:
            stopped = demo.wait(timeout=120)
        except subprocess.TimeoutExpired:
            stopped = None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(demo.pid, signal.SIGKILL)  # whatever is left of the group
    assert stopped is not None, "Ctrl-C did not stop the demo within 2 minutes: " + terminal.read_text()[-3000:]
    assert "Everything is read" not in terminal.read_text() and "A stage failed" not in terminal.read_text()
    with pytest.raises(OSError):  # nothing listens any more
        wait_for_port(app_port, seconds=1)
