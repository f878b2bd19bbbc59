"""Driving the app in headless Chromium (Debian's, through Playwright): shared by the browser tests and
``benchmarks/bench_app.py``, so the benchmark times exactly what the tests check. Needs the dev dependencies
(``playwright``); nothing in the app imports it."""

from __future__ import annotations

import datetime as dt
import re
import socket
import time
from pathlib import Path

import panel as pn

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 60_000  # a 2-core machine runs the model beside the browser

# ECharts keeps its instance on the chart's element, inside Bokeh's shadow roots: find it, give the page position
# of a node (for a real mouse click there), and the PNG its toolbox's "save as image" writes.
FIND_CHART_JS = """
() => { const seen = []; const walk = (root) => { for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) walk(el.shadowRoot);
    const inst = window.echarts && window.echarts.getInstanceByDom(el); if (inst) seen.push([el, inst]); } };
  walk(document); return seen; }
"""
NODE_AT_JS = f"""
(nodeId) => {{ const found = ({FIND_CHART_JS})(); if (!found.length) return null;
  const [el, chart] = found[0]; const data = chart.getModel().getSeriesByIndex(0).getData();
  for (let k = 0; k < data.count(); k++) {{ if (data.getId(k) === nodeId) {{
    const item = data.getRawDataItem(k); const [x, y] = chart.convertToPixel({{seriesIndex: 0}}, [item.x, item.y]);
    const box = el.getBoundingClientRect(); return [box.left + x, box.top + y]; }} }}
  return null; }}
"""
PNG_JS = f"() => {{ const found = ({FIND_CHART_JS})(); return found.length ? found[0][1].getDataURL({{type: 'png'}}) : ''; }}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port}")


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])


class Visit:
    """One browser context (its own cookies); records and refuses every request that leaves the app's server."""

    def __init__(self, browser, url: str, artifacts: Path | None = None):
        self.url, self.outside, self.artifacts = url, [], artifacts
        self.context = browser.new_context(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)

    def _route(self, route):
        if route.request.url.startswith(self.url) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def sign_in(self, login: str, password: str, path: str = "/search") -> None:
        self.page.goto(self.url + path)
        self.page.fill("#username", login)
        self.page.fill("#password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_selector("[data-testid=signed-in]")

    def shot(self, name: str) -> None:
        if self.artifacts is not None:
            self.artifacts.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(self.artifacts / f"{name}.png"))

    def close(self) -> None:
        self.context.close()


def search(page, words: str) -> None:
    box = page.get_by_label("Search the records")
    box.fill(words)
    box.press("Enter")


def choose(page, label: str, containing: str) -> str:
    """Choose, in the select labelled ``label``, the first option whose text holds ``containing``."""
    select = page.get_by_label(label, exact=True)
    option = select.locator("option", has_text=containing).first.text_content()
    select.select_option(label=option)
    return option


def find_latest_safety_plan(page, child_id: str) -> float:
    """The pilot's task on the signed-in search page: choose the child, type "safety plan", newest first, only
    documents, open the first hit's preview. Returns the seconds it took (until the preview's download shows)."""
    started = time.perf_counter()
    choose(page, "Child", child_id)
    search(page, "safety plan")
    page.get_by_role("button", name="Newest first").click()
    page.get_by_role("button", name="document", exact=True).click()
    page.get_by_role("button", name=re.compile("^Kind: document")).wait_for()  # the chip: the filter is on
    wait_for_hits(page, lambda sources: all(s.startswith("document_page:") for s in sources))
    open_first_preview(page)
    return time.perf_counter() - started


def hit_sources(page) -> list[str]:
    """The shown hits' ``data-source`` ("source_type:record_id"), in order."""
    # read in one call: the list may be redrawn between the calls a read per hit would take
    return page.locator("[data-testid=hit]").evaluate_all("(hits) => hits.map((h) => h.dataset.source || '')")


def wait_for_hits(page, wanted, seconds: float = TIMEOUT_MS / 1000) -> list[str]:
    """Until the hit list is not empty and ``wanted(sources)`` holds. The filter's chip is drawn before the list
    it filters is, so a click right after the chip shows can land on the list the filter is about to replace."""
    deadline = time.perf_counter() + seconds
    while True:
        sources = hit_sources(page)
        if sources and wanted(sources):
            return sources
        if time.perf_counter() > deadline:
            raise AssertionError(f"the hit list never became the one wanted: {sources[:3]}")
        time.sleep(0.05)


def open_first_preview(page, seconds: float = TIMEOUT_MS / 1000) -> None:
    """Click the first hit's Preview until its preview shows. A click on a card the list has just redrawn
    reaches no handler, and nothing tells the page: so it is clicked again (every 10 s) within the time allowed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.perf_counter() + seconds
    while True:
        page.get_by_role("button", name="Preview").first.click()
        try:
            page.wait_for_selector("text=Download the original file", timeout=10_000)
            return
        except PlaywrightTimeout:
            if time.perf_counter() > deadline:
                raise


def node_count(page) -> tuple[int, int]:
    shown, total = re.search(r"Showing (\d+) of (\d+) nodes", page.inner_text("[data-testid=node-count]")).groups()
    return int(shown), int(total)


def wait_for_count_change(page, before: tuple[int, int], seconds: float = 30) -> tuple[int, int]:
    deadline = time.time() + seconds
    while time.time() < deadline:
        now = node_count(page)
        if now != before:
            return now
        time.sleep(0.05)
    return node_count(page)


def synthetic_nodes(n: int):
    """``n`` ecomap nodes of every kind and band, for drawing at size."""
    from app.ecomap import BANDS, KINDS, Node

    kinds = [k for k in KINDS if k != "child"]
    return [
        Node(
            f"N{i:05d}",
            kinds[i % 4],
            f"Node {i}",
            None,
            "text",
            i % 9 + 1,
            dt.date(2024, 1, 1),
            None,
            BANDS[i % 3],
            0.9,
        )
        for i in range(n)
    ]


def serve_big_ecomap(n: int):
    """The ecomap view alone with ``n`` synthetic nodes, served as the app serves it; returns (server, url)."""
    from app.web.ecomap_view import EcomapView

    nodes, port = synthetic_nodes(n), free_port()

    def big():
        pn.extension("echarts")
        # every node drawn one by one (none folded into counted groups): the drawing at size is what is timed
        return EcomapView("P0000001", "Test child", nodes, grouped=[])

    server = pn.serve({"big": big}, port=port, threaded=True, show=False, websocket_origin=[f"localhost:{port}"])
    wait_for_port(port)
    return server, f"http://localhost:{port}"


def time_big_ecomap(browser, url: str) -> dict:
    """Time to the first drawing of the big map, and from hiding one node to the redrawn count."""
    visit = Visit(browser, url)
    started = time.perf_counter()
    visit.page.goto(url + "/big")
    visit.page.wait_for_function(f"() => ({FIND_CHART_JS})().length > 0")
    visit.page.wait_for_selector("[data-testid=node-count]")
    drawn = time.perf_counter() - started
    before = node_count(visit.page)
    started = time.perf_counter()
    choose(visit.page, "Node", "Node 42 ·")
    visit.page.get_by_role("button", name="Hide this node").click()
    after = wait_for_count_change(visit.page, before)
    hidden = time.perf_counter() - started
    at = visit.page.evaluate(NODE_AT_JS, "N00007")
    started = time.perf_counter()
    visit.page.mouse.click(*at)
    visit.page.wait_for_selector("[data-testid=selected-node]")
    clicked = time.perf_counter() - started
    outside = list(visit.outside)
    visit.close()
    return {
        "first_draw_s": drawn,
        "hide_redraw_s": hidden,
        "click_to_mentions_s": clicked,
        "before": before,
        "after": after,
        "outside": outside,
    }
