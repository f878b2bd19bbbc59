"""What every page shares: the signed-in user's context (one per browser session) and the header with who is
signed in, their role, the pages their role has, and the sign-out link."""

from __future__ import annotations

import panel as pn

from app.service import NotSignedIn, QueryService, Session, StillReading
from app.web.guard import BINDING
from app.web.render import esc

ROLE_WORDS = {
    "social_worker": "social worker",
    "team_manager": "team manager",
    "iro": "independent reviewing officer",
    "auditor": "auditor",
    "analyst": "analyst",
    "admin": "administrator",
    "family_finder": "family finder",
}


class Context:
    """One browser session's view of the service: who they are, and what the service said they may see
    (read once per session; the service re-checks every call anyway)."""

    def __init__(self, service: QueryService, session: Session, children: list[dict]):
        self.service, self.session = service, session
        self._profiles = {p["child_id"]: p for p in children}

    @classmethod
    def for_this_session(cls, service: QueryService, page: str) -> Context | None:
        """The context of the server session this page's token was issued for (one audited row per page), or
        None when there is none or it has ended."""
        context = pn.state.curdoc.session_context if pn.state.curdoc is not None else None
        id_hash = str(context.token_payload.get(BINDING, "")) if context is not None else ""
        if not id_hash:
            return None
        try:
            session, children = service.open_page(id_hash, page)
        except NotSignedIn:
            return None
        return cls(service, session, children)

    @property
    def reads_case_text(self) -> bool:
        return self.session.role.reads_case_text

    def profiles(self) -> dict[str, dict]:
        """The children this user may see, by id, with name, age and locality (listed when the page opened)."""
        return self._profiles


def header(ctx: Context, current: str) -> pn.pane.HTML:
    user = ctx.session.user
    pages = [("search", "Search"), ("children", "Children")] if ctx.reads_case_text else []
    if user.role.reads_adopter_insights:
        pages.append(("insights", "Adopter insights"))
    if user.role.reads_audit:
        pages.append(("audit", "Audit log"))
    nav = " ".join(
        f'<a href="/{slug}" {"aria-current=page" if slug == current else ""} class="cl-nav">{words}</a>'
        for slug, words in pages
    )
    name = user.name or user.login
    return pn.pane.HTML(
        f"""<header class="cl-header" role="banner">
<span class="cl-brand">caselake</span>
<nav aria-label="Pages">{nav}</nav>
<span class="cl-user" data-testid="signed-in">Signed in as <b>{esc(name)}</b>
 · role: <b data-testid="role">{esc(ROLE_WORDS.get(str(user.role), str(user.role)))}</b></span>
<a href="/logout" class="cl-nav">Sign out</a></header>""",
        sizing_mode="stretch_width",
        stylesheets=[HEADER_CSS],
    )


# Bokeh sizes every widget and pane from ``--bokeh-font-size`` (12 px by default): 14 px, so no text is under 13
BASE_CSS = ":root { --bokeh-font-size: 14px; }"

HEADER_CSS = """
.cl-header { display: flex; gap: 18px; align-items: center; background: #0b4f8a; color: #fff; padding: 8px 14px;
  font-family: system-ui, sans-serif; }
.cl-brand { font-weight: 700; font-size: 1.2em; }
.cl-header a.cl-nav { color: #fff; text-decoration: underline; }
.cl-header a[aria-current=page] { font-weight: 700; text-decoration: none; border-bottom: 3px solid #e69f00; }
.cl-header nav { display: flex; gap: 14px; }
.cl-user { margin-left: auto; }
"""


def still_reading_words(reading: StillReading) -> str:
    """The banner's words: what is not read yet and what that means for the page in front of the user."""
    parts = []
    if reading.documents:
        parts.append(
            f"{reading.documents:,} of {reading.documents_total:,} documents are not read yet: search finds their "
            "text once they are."
        )
    if reading.people:
        parts.append(
            "The people, places and organisations in the records are not read yet: the ecomap and the people a "
            "search names appear when they are."
        )
    if reading.index:
        parts.append("The search index is being built: search finds nothing until it is.")
    return " ".join(parts)


class StillReadingBanner:
    """Says what the pipeline is still reading, and updates itself every 15 seconds until nothing is left (a load
    runs while the app serves: ``make demo`` serves once the structured records are in)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.pane = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[BANNER_CSS], visible=False)
        self._callback = None
        self.refresh()
        if self.pane.visible and pn.state.curdoc is not None:
            self._callback = pn.state.add_periodic_callback(self.refresh, period=15_000)

    def refresh(self) -> None:
        try:
            reading = self.ctx.service.still_reading(self.ctx.session)
        except NotSignedIn:
            reading = None
        words = still_reading_words(reading) if reading is not None else ""
        self.pane.object = (
            f'<div class="cl-reading" role="status" data-testid="still-reading"><b>Still reading the records.</b> '
            f"{esc(words)}</div>"
            if words
            else ""
        )
        self.pane.visible = bool(words)
        if not words and self._callback is not None:
            self._callback.stop()
            self._callback = None


BANNER_CSS = """
.cl-reading { background: #fff4d6; border-left: 5px solid #e69f00; padding: 8px 14px; font-family: system-ui,
  sans-serif; }
"""


def page(ctx: Context | None, current: str, body_factory) -> pn.viewable.Viewable:
    """A served page: the header and the body, or a sign-in prompt when the cookie names no current user."""
    # per session, before the page is built: the ecomap's ECharts is served locally; the base text size is set on
    # the document, whose custom property every component's shadow root inherits
    pn.extension("echarts", global_css=[BASE_CSS])
    if ctx is None:
        return pn.pane.HTML('<p role="status">You are not signed in. <a href="/login?ended=1">Sign in</a></p>')
    banner = StillReadingBanner(ctx)
    return pn.Column(header(ctx, current), banner.pane, body_factory(ctx), sizing_mode="stretch_width")
