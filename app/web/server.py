"""Serving the app: one query service for the process (it holds the embedding model and the index), a fresh
page object for every browser session (``pn.serve`` of factories, so sessions share no state), the
password or OIDC sign-in in front of every page, and nothing fetched from outside the server."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import panel as pn
from panel.io.application import build_applications
from panel.io.server import get_server
from panel.io.threads import StoppableThread
from tornado.ioloop import IOLoop
from tornado.web import RedirectHandler

from app.service import QueryService
from app.web.audit_page import AuditPage
from app.web.auth import ServerSessionAuth, oidc_sign_in
from app.web.child_page import ChildPage, ChildrenPage
from app.web.guard import TOKEN_HEADERS, OpenPages, SessionBinding, guard
from app.web.insights_page import AdopterInsightsPage
from app.web.search_page import SearchPage
from app.web.shell import Context, page
from lake.settings import Settings
from lake.storage.private import private_dir

ECOMAP_URL_STATE = {
    "kinds": "kinds",
    "bands": "bands",
    "grouped": "grouped",
    "seen_from": "seen_from",
    "seen_to": "seen_to",
    "hidden": "hidden",
}


def _arg(name: str) -> str:
    values = (pn.state.session_args or {}).get(name) or [b""]
    return values[0].decode("utf-8", "replace")[:64]


class LazyService:
    """The query service, made on first use: in each forked app process, after the fork (a model loaded before a
    fork is not safe to use in the children). Attribute reads go to the service."""

    def __init__(self, settings: Settings, service: QueryService | None = None):
        self._settings, self._service = settings, service

    def get(self) -> QueryService:
        if self._service is None:
            self._service = QueryService(self._settings)
        return self._service

    def __getattr__(self, name: str):
        return getattr(self.get(), name)


def routes(service: QueryService | LazyService) -> dict:
    """URL path -> a function that builds that page for one session."""

    def route(name: str, body):
        def build_for_this_session():
            return page(Context.for_this_session(service, name), name, body)

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
    """A child's page, opened at the section the URL names (``?tab=timeline``), the section and the ecomap's
    filters kept in the URL, so a link, a reload or Back comes to the same view."""
    child = ChildPage(ctx, _arg("id"))
    if child.ecomap is not None:
        section = {name.lower(): name for name in child.views}.get(_arg("tab").lower())
        if section:
            child.section.value = section
        if pn.state.location is not None:
            location = pn.state.location
            location.sync(child.ecomap, ECOMAP_URL_STATE)
            child.section.param.watch(lambda e: location.update_query(tab=e.new.lower()), "value")
    return child


def _no_case_text(ctx: Context):
    from app.web.render import html_pane

    extra = ' The <a href="/audit">audit log</a> is yours to read.' if ctx.session.role.reads_audit else ""
    if ctx.session.role.reads_adopter_insights:
        extra += ' The <a href="/insights">adopter insights</a> are yours to read.'
    if ctx.session.role.answers_disclosures:
        extra += " Subject access requests are answered with <code>caselake disclosure</code> for now."

    return html_pane(f'<p role="status">Your role reads no case records.{extra}</p>')


def cookie_secret(settings: Settings) -> str:
    """The key that signs the app's cookies and (derived from it) its session tokens: ``CASELAKE_COOKIE_SECRET``,
    or one made once and kept (mode 600) beside the users file, so a restart does not sign everybody out and
    every app process of one council signs alike."""
    if settings.access.cookie_secret:
        return settings.access.cookie_secret
    path = Path(settings.users_file()).with_name("app_cookie_secret")
    if not path.exists():
        private_dir(path.parent)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another app process made it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def token_key(secret: str) -> str:
    """Bokeh's session-token signing key, derived from the cookie key (one secret to keep, two uses kept apart)."""
    return hmac.new(secret.encode(), b"caselake bokeh session tokens", hashlib.sha256).hexdigest()


def serve(
    settings: Settings,
    port: int = 5006,
    address: str = "127.0.0.1",
    origins: list[str] | None = None,
    service: QueryService | None = None,
    threaded: bool = False,
    show: bool = False,
    procs: int = 1,
):
    """Start the app (blocking unless ``threaded``; then returns the server thread). ``procs`` > 1 forks that many
    processes on one port: each builds its own query service after the fork (they share the session store, the
    audit journal and the lake)."""
    if procs > 1 and (threaded or service is not None):
        raise ValueError("several processes are forked from a fresh start: not threaded, and no service given")
    secret = cookie_secret(settings)
    shared = LazyService(settings, service)
    open_pages = OpenPages()
    if procs == 1:
        shared.get().warm()
    access = settings.access
    if access.oidc_issuer:
        auth = oidc_sign_in(shared, access, open_pages.close)
    else:
        auth = ServerSessionAuth(shared, access.secure_cookies, open_pages.close)
    apps = build_applications(routes(shared), title="caselake", location=True)
    for app in apps.values():
        app.add(SessionBinding(secret))
    allowed = origins or ([f"{address}:{port}", f"localhost:{port}"] if port else None)
    options = dict(
        port=port,
        address=address,
        websocket_origin=allowed,
        cookie_secret=secret,
        auth_provider=auth,
        sign_sessions=True,
        secret_key=token_key(secret),
        include_cookies=[],
        include_headers=TOKEN_HEADERS,
        num_procs=procs,
        use_xheaders=access.secure_cookies,  # behind the TLS proxy: the client's address for the throttle
        extra_patterns=[(r"/", RedirectHandler, {"url": "/search"})],
    )

    def start(loop=None):
        server = get_server(apps, loop=loop, start=False, show=show, **options)
        guard(server, open_pages, lambda id_hash: shared.get().app_session(id_hash, touch=False) is not None)
        server.start()
        if procs > 1:
            shared.get().warm()  # in each forked process, before it answers
        server.io_loop.start()
        return server

    if not threaded:
        return start()
    loop = IOLoop(make_current=False)
    thread = StoppableThread(target=start, io_loop=loop, kwargs={"loop": loop})
    thread.start()
    return thread
