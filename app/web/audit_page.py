"""The audit log for auditors: who signed in, searched, opened or was refused what, newest last, with filters by
login and action. Read through the service, which checks the role and audits the reading itself."""

from __future__ import annotations

import panel as pn

from app.service import AccessDenied
from app.web.render import esc, html_pane
from app.web.shell import Context

SHOWN = ("seq", "at", "login", "role", "action", "outcome", "target", "request", "detail")


class AuditPage(pn.viewable.Viewer):
    def __init__(self, ctx: Context, **params):
        super().__init__(**params)
        self.ctx = ctx
        self._login = pn.widgets.TextInput(name="Login", width=200)
        self._action = pn.widgets.TextInput(name="Action (search, open_note, login …)", width=260)
        self._go = pn.widgets.Button(name="Show", button_type="primary", align="end")
        self._table = html_pane("", sizing_mode="stretch_width")
        self._go.on_click(lambda _e: self._render())
        self._layout = pn.Column(
            html_pane("<h1>Audit log</h1><p>The last 500 rows that match, oldest first.</p>"),
            pn.Row(self._login, self._action, self._go),
            self._table,
            sizing_mode="stretch_width",
        )
        self._render()

    def __panel__(self):
        return self._layout

    def _render(self):
        try:
            rows = self.ctx.service.audit_log(
                self.ctx.session, login=self._login.value or None, action=self._action.value or None, limit=100_000
            )[-500:]
        except AccessDenied:
            self._table.object = '<p role="alert">The audit log is not available to your role.</p>'
            return
        head = "".join(f"<th>{name}</th>" for name in SHOWN)
        body = "".join("<tr>" + "".join(f"<td>{esc(r.get(k))}</td>" for k in SHOWN) + "</tr>" for r in rows)
        self._table.object = f'<table class="cl-table" data-testid="audit-rows"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
