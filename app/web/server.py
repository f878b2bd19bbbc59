"""Serving the app: one query service for the process (it holds the embedding model and the index), a fresh
page object for every browser session (``pn.serve`` of factories, so sessions share no state), the
password or OIDC sign-in in front of every page, and nothing fetched from outside the server."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import panel as pn
from tornado.web import RedirectHandler

from app.service import QueryService
from app.web.audit_page import AuditPage
from app.web.auth import PasswordAuth, oidc_options
from app.web.child_page import ChildPage, ChildrenPage
from app.web.insights_page import AdopterInsightsPage
from app.web.search_page import SearchPage
from app.web.shell import Context, page
from lake.settings import Settings

ECOMAP_URL_STATE = {
    "kinds": "kinds",
    "bands": "bands",
    "seen_from": "seen_from",
    "seen_to": "seen_to",
    "hidden": "hidden",
}


def _arg(name: str) -> str:
    values = (pn.state.session_args or {}).get(name) or [b""]
    return values[0].decode("utf-8", "replace")[:64]


def routes(service: QueryService) -> dict:
    """URL path -> a function that builds that page for one session."""

    def route(name: str, body):
        def build_for_this_session():
            return page(Context.for_this_session(service), name, body)

        return build_for_this_session

    return {
        "search": route("search", _case_reader_only(SearchPage)),
        "children": route("children", _case_reader_only(ChildrenPage)),
        "child": route("child", _case_reader_only(_child_page)),
        "audit": route("audit", AuditPage),
        "insights": route("insights", AdopterInsightsPage),
    }


def _case_reader_only(body):
    """The page for roles that read case text; the others are told their role reads none."""
    return lambda ctx: body(ctx) if ctx.reads_case_text else _no_case_text(ctx)


def _child_page(ctx: Context):
    """A child's page, opened at the ecomap when the URL says so, its filters synced to the URL."""
    child = ChildPage(ctx, _arg("id"))
    if child.ecomap is not None:
        if pn.state.location is not None:
            pn.state.location.sync(child.ecomap, ECOMAP_URL_STATE)
        if _arg("tab") == "ecomap":
            child.section.value = "Ecomap"
    return child


def _no_case_text(ctx: Context):
    from app.web.render import html_pane

    extra = ' The <a href="/audit">audit log</a> is yours to read.' if ctx.session.role.reads_audit else ""
    if ctx.session.role.reads_adopter_insights:
        extra += ' The <a href="/insights">adopter insights</a> are yours to read.'

    return html_pane(f'<p role="status">Your role reads no case records.{extra}</p>')


def cookie_secret(settings: Settings) -> str:
    """The key that signs the sign-in cookie: ``CASELAKE_COOKIE_SECRET``, or one made once and kept (mode 600)
    beside the users file, so a restart does not sign everybody out."""
    if settings.access.cookie_secret:
        return settings.access.cookie_secret
    path = Path(settings.users_file()).with_name("app_cookie_secret")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def serve(
    settings: Settings,
    port: int = 5006,
    address: str = "127.0.0.1",
    origins: list[str] | None = None,
    service: QueryService | None = None,
    threaded: bool = False,
    show: bool = False,
):
    """Start the app (blocking unless ``threaded``; then returns the server thread)."""
    service = service or QueryService(settings)
    service.warm()
    access = settings.access
    sign_in: dict = {}
    if access.oidc_issuer:
        sign_in = oidc_options(
            access.oidc_issuer, access.oidc_client_id, access.oidc_login_claim, os.environ.get("PANEL_OAUTH_SECRET", "")
        )
    else:
        sign_in = {"auth_provider": PasswordAuth(service)}
    allowed = origins or ([f"{address}:{port}", f"localhost:{port}"] if port else None)
    return pn.serve(
        routes(service),
        port=port,
        address=address,
        websocket_origin=allowed,
        cookie_secret=cookie_secret(settings),
        title="caselake",
        show=show,
        threaded=threaded,
        extra_patterns=[(r"/", RedirectHandler, {"url": "/search"})],
        **sign_in,
    )
