"""The audit log for auditors: one row per user action, newest last, each with its time on the council's clock, the
session it came from (two people on one login differ), who, the action in words, and what it was about, asked and
returned as fields. Filters by person (login), child or person id, action and day; *Export these rows (CSV)*. Read
and exported through the service, which checks the role and audits the reading and the export themselves."""

from __future__ import annotations

import datetime as dt
import io

import panel as pn
import param

from app.audit import ACTION_WORDS, AuditFilter, readable
from app.service import AccessDenied
from app.web.render import esc, html_pane
from app.web.shell import Context

SHOWN_ROWS = 500
COLUMNS = ("time", "session", "person", "action", "about", "request", "result", "outcome")
HEADINGS = {"time": "Time (UK)", "person": "Person (role)"}


def _day(text: str) -> dt.date | None:
    """A typed day, or None (no limit) when it is empty or not a date."""
    try:
        return dt.date.fromisoformat(text.strip()) if text and text.strip() else None
    except ValueError:
        return None


def _fields_html(pairs: list[tuple[str, str]]) -> str:
    """Fields as a definition list: record values are escaped text."""
    if not pairs:
        return "—"
    return "<dl class='cl-fields'>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs) + "</dl>"


def _cell(row: dict, column: str) -> str:
    if column in ("about", "request", "result"):
        return _fields_html(row[column])
    if column == "person":
        return f"{esc(row['login'])} ({esc(row['role'], 'no role')})"
    if column == "outcome":
        return esc(row["outcome"]) + (
            f"<br><span class='cl-muted'>{esc(row['detail'])}</span>" if row["detail"] else ""
        )
    return esc(row[column])


FIELDS_CSS = """
dl.cl-fields { margin: 0; display: grid; grid-template-columns: max-content 1fr; column-gap: 6px; }
dl.cl-fields dt { color: #444; } dl.cl-fields dd { margin: 0; overflow-wrap: break-word; min-width: 8ch; }
table.cl-table td { vertical-align: top; }
"""


class AuditPage(pn.viewable.Viewer):
    login = param.String(default="", doc="a login")
    subject = param.String(default="", doc="a child's or person's id")
    action = param.Selector(default="", objects=["", *map(str, ACTION_WORDS)])
    # days as text (YYYY-MM-DD), as the ecomap's date filters: Panel's date picker draws an input no label names
    day_from = param.String(default="", doc="YYYY-MM-DD")
    day_to = param.String(default="", doc="YYYY-MM-DD")

    def __init__(self, ctx: Context, **params):
        super().__init__(**params)
        self.ctx = ctx
        actions = {"every action": "", **{words: str(action) for action, words in ACTION_WORDS.items()}}
        self._login = pn.widgets.TextInput.from_param(
            self.param.login, name="Person (login)", width=200, description=None
        )
        self._subject = pn.widgets.TextInput.from_param(
            self.param.subject, name="Child or person id", placeholder="P0000123", width=200, description=None
        )
        self._action = pn.widgets.Select.from_param(self.param.action, name="Action", options=actions, width=260)
        self._from = pn.widgets.TextInput.from_param(
            self.param.day_from, name="From (day)", placeholder="YYYY-MM-DD", width=150, description=None
        )
        self._to = pn.widgets.TextInput.from_param(
            self.param.day_to, name="To (day)", placeholder="YYYY-MM-DD", width=150, description=None
        )
        self._go = pn.widgets.Button(name="Show", button_type="primary", align="end")
        self._export = pn.widgets.FileDownload(
            callback=self._csv,
            filename="audit-log.csv",
            label="Export these rows (CSV)",
            embed=False,
            width=220,
            align="end",
        )
        self._table = html_pane("", sizing_mode="stretch_width")
        self._go.on_click(lambda _e: self._render())
        self._layout = pn.Column(
            html_pane(
                f"<h1>Audit log</h1><p>One row per action, the last {SHOWN_ROWS} that match, oldest first. Times are"
                " UK time, to the second. <i>Session</i> tells apart two sign-ins of one login. The export holds"
                " every row that matches, and is itself recorded here.</p>"
            ),
            pn.Row(self._login, self._subject, self._action, self._from, self._to, self._go, self._export),
            self._table,
            sizing_mode="stretch_width",
        )
        self._render()

    def __panel__(self):
        return self._layout

    def where(self) -> AuditFilter:
        return AuditFilter(
            login=self.login.strip() or None,
            action=self.action or None,
            subject=self.subject.strip() or None,
            day_from=_day(self.day_from),
            day_to=_day(self.day_to),
        )

    def _csv(self) -> io.BytesIO:
        # the service audits the export before it hands the file over; a refusal gives no file
        return io.BytesIO(self.ctx.service.audit_export(self.ctx.session, self.where()))

    def _render(self):
        try:
            rows = self.ctx.service.audit_log(self.ctx.session, where=self.where(), limit=SHOWN_ROWS, newest=True)
        except AccessDenied:
            self._table.object = '<p role="alert">The audit log is not available to your role.</p>'
            return
        shown = [readable(r) for r in rows]
        head = "".join(f"<th>{esc(HEADINGS.get(c, c.capitalize()))}</th>" for c in COLUMNS)
        body = "".join(
            f"<tr data-seq='{int(r['seq'])}'>" + "".join(f"<td>{_cell(r, c)}</td>" for c in COLUMNS) + "</tr>"
            for r in shown
        )
        self._table.object = (
            f"<style>{FIELDS_CSS}</style>"
            f'<p role="status" data-testid="audit-count">{len(shown)} rows shown.</p>'
            f'<table class="cl-table" data-testid="audit-rows"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
        )
