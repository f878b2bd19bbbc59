"""The child page's *Concerns and strengths*: the CIN census factors and strengths the child's records state as
current, each with its evidence one click away, opening at the statement in its source (issue 37).

It takes its data and actions as arguments (the rows, a callable for a code's statements, one for opening a
source), like the ecomap view, so it renders whatever the query service allowed. A factor found by the coder is
an aid to reading the file, never a decision: the section says so, and shows how each was found.
"""

from __future__ import annotations

from collections.abc import Callable

import panel as pn
import param

from app.web.render import SOURCE_WORDS, esc, html_pane

STATUS_WORDS = {
    "current": "stated as a concern now",
    "historic": "stated as in the past",
    "negated": "stated as absent or denied",
    "hypothetical": "stated as a possibility or a plan",
}
CAVEAT = (
    "Found by reading the records' sentences with a model trained on hand-written statements: an aid to reading "
    "the file, never a decision. It can miss a concern or mistake one; each code opens the statements it rests on."
)


def _table(rows: list[dict], kind: str, caption: str) -> str:
    body = "".join(
        f'<tr data-testid="factor-row" data-code="{esc(r["code"])}"><td>{esc(r["code"])}</td>'
        f"<td>{esc(r['meaning'])}</td><td>{esc(r.get('who'), '')}</td><td>{r['current_statements']}</td>"
        f"<td>{r['records']}</td><td>{esc(r['first_seen'])}</td><td>{esc(r['last_seen'])}</td>"
        f"<td>{r['other_statements']}</td></tr>"
        for r in rows
        if r["kind"] == kind
    )
    return (
        f'<table class="cl-table" data-testid="{kind}-table"><caption>{esc(caption)}</caption><thead><tr>'
        "<th>code</th><th>what</th><th>about</th><th>statements</th><th>records</th><th>first recorded</th>"
        "<th>last recorded</th><th>other mentions (past, denied, if)</th></tr></thead>"
        f"<tbody>{body or '<tr><td colspan=8>none found</td></tr>'}</tbody></table>"
    )


class ConcernsView(pn.viewable.Viewer):
    code = param.String(default="", doc="The code whose statements are listed.")

    def __init__(
        self,
        rows: list[dict],
        statements: Callable[[str], list[dict]],
        open_source: Callable[..., None] | None = None,
        **params,
    ):
        super().__init__(**params)
        self.rows, self._statements, self._open = rows, statements, open_source
        options = {f"{r['code']} · {r['meaning']}": r["code"] for r in rows}
        self._chooser = pn.widgets.Select(name="Code", options={"choose a code": "", **options}, width=420)
        self._show = pn.widgets.Button(name="Show statements", width=160)
        self._show.on_click(lambda _e: setattr(self, "code", self._chooser.value or ""))
        self._list = pn.Column(sizing_mode="stretch_width")
        self.param.watch(self._show_statements, ["code"])
        self._layout = pn.Column(
            html_pane(
                "<h2>Concerns and strengths</h2>"
                f'<p role="note" data-testid="factor-caveat">{esc(CAVEAT)}</p>'
                + _table(rows, "factor", "Factors (CIN census codes) the records state as current")
                + _table(rows, "strength", "Strengths the records state as current"),
                sizing_mode="stretch_width",
            ),
            pn.Row(self._chooser, self._show),
            self._list,
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        return self._layout

    def _show_statements(self, *_events):
        if not self.code:
            self._list[:] = []
            return
        found = self._statements(self.code)
        items = [html_pane(f'<p data-testid="factor-selected"><b>{esc(self.code)}</b>: {len(found)} statements</p>')]
        for s in found:
            where = SOURCE_WORDS.get(s["source_type"], s["source_type"])
            page = f" page {s['page']}" if s["source_type"] == "document_page" else ""
            markup = (
                f'<div class="cl-hit" data-testid="factor-statement" data-status="{esc(s["status"])}">'
                f"<b>{esc(where)}{page}</b> · dated <b>{esc(s.get('record_date'), 'not given')}</b> · "
                f"{esc(STATUS_WORDS.get(s['status'], s['status']))} · score {esc(s.get('score'))}"
                f"<div>{s.get('snippet_html') or ''}</div></div>"
            )
            button = pn.widgets.Button(name="Open at the statement", width=200, disabled=self._open is None)
            button.on_click(
                lambda _e, s=s: self._open(
                    s["source_type"], s["source_id"], s["page"], [(s["span_start"], s["span_end"])]
                )
            )
            items.append(pn.Column(html_pane(markup, sizing_mode="stretch_width"), button))
        self._list[:] = items
