"""Signing in to the app, with sessions the server keeps (decision 0032).

The browser holds one signed, HttpOnly, ``SameSite=Strict`` cookie with a random session id; the query service's
session store says, on every request and every call, whether that session is still live (not signed out, idle,
expired, disabled or given another role). Nothing else about the user is in a cookie, and no cookie is copied
into Bokeh's session token (:mod:`app.web.server` binds the token to the session by a hash instead).

The sign-in form follows OWASP ASVS level 2: a CSRF token (double-submit cookie), throttling per login and per
client in the service, ``next`` limited to the app's own pages, fixed messages only (nothing from the query string
is written on the page), a new session id at every sign-in. The pages are plain HTML served from here: no script,
font or image from anywhere else."""

from __future__ import annotations

import hmac
import html
import json
import os
import re
import secrets
import urllib.request

from bokeh.server.auth_provider import AuthProvider
from tornado.web import RequestHandler, decode_signed_value

from app.service import NotSignedIn, QueryService, SignInThrottled
from app.sessions import hash_id

SESSION_COOKIE = "caselake_session"
CSRF_COOKIE = "caselake_csrf"
SESSION_COOKIE_DAYS = 1  # the signature's own limit; the store's absolute timeout (12 h) ends it sooner
PAGES = ("search", "children", "child", "audit", "insights")
# Where a sign-in may send the browser: one of the app's pages, with a query string of plain characters and
# percent-escapes (a shared ecomap view carries its filters so), none of them an escaped control character. No
# scheme, host, "//", backslash, raw control character or escaped line break can match.
_QUERY_CHARACTER = r"(?:[A-Za-z0-9_.~=&+,:-]|%(?![01][0-9A-Fa-f]|7[Ff])[0-9A-Fa-f]{2})"
NEXT = re.compile(r"^/(?:" + "|".join(PAGES) + r")(?:\?" + _QUERY_CHARACTER + r"{0,2000})?$")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — caselake</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f4f4f4; margin: 0; }}
main {{ max-width: 380px; margin: 10vh auto; background: #fff; padding: 24px 28px; border: 1px solid #ccc; }}
label {{ display: block; margin-top: 12px; font-weight: 600; }}
input {{ width: 100%; padding: 8px; font-size: 1em; box-sizing: border-box; }}
button, a.button {{ margin-top: 18px; padding: 8px 18px; font-size: 1em; background: #0b4f8a; color: #fff;
  border: 0; text-decoration: none; display: inline-block; }}
button:focus, input:focus, a:focus {{ outline: 3px solid #e69f00; }}
.error {{ color: #a00000; font-weight: 600; }}
</style></head>
<body><main>{body}</main></body></html>"""

# The only words the sign-in page says about a failure: fixed here, never taken from the request.
MESSAGES = {
    "wrong": "Wrong login or password.",
    "throttled": "Too many attempts. Wait a few minutes, then try again.",
    "expired": "The sign-in form had expired. Please sign in again.",
    "ended": "Your session has ended. Please sign in again.",
}


def safe_next(value: str | None) -> str:
    """``value`` when it is one of the app's own pages, else "" (so the sign-in goes to the search page)."""
    return value if value and NEXT.match(value) else ""


def login_page(endpoint: str, message: str, csrf: str, next_url: str) -> str:
    words = MESSAGES.get(message, "")
    shown = f'<p class="error" role="alert">{html.escape(words)}</p>' if words else ""
    body = f"""<h1>caselake</h1><p>Sign in with your caselake login.</p>{shown}
<form action="{html.escape(endpoint)}" method="post">
<input type="hidden" name="csrf" value="{html.escape(csrf)}"><input type="hidden" name="next" value="{html.escape(next_url)}">
<label for="username">Login</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>"""
    return PAGE.format(title="Sign in", body=body)


def logout_page(login_endpoint: str) -> str:
    body = f"""<h1>caselake</h1><p role="status">You are signed out.</p>
<a class="button" href="{html.escape(login_endpoint)}">Sign in again</a>"""
    return PAGE.format(title="Signed out", body=body)


def session_hash_of(request, cookie_secret: str) -> str:
    """The hash of the session id in a request's signed cookie ("" when there is none or it is forged)."""
    morsel = request.cookies.get(SESSION_COOKIE)
    raw = (
        decode_signed_value(cookie_secret, SESSION_COOKIE, morsel.value, max_age_days=SESSION_COOKIE_DAYS)
        if morsel is not None
        else None
    )
    return hash_id(raw.decode("utf-8", "replace")) if raw else ""


def session_hash(handler: RequestHandler) -> str:
    """:func:`session_hash_of` the handler's request, with the key the app signs its cookies with."""
    return session_hash_of(handler.request, handler.application.settings["cookie_secret"])


def set_private_cookie(handler: RequestHandler, name: str, value: str, secure: bool) -> None:
    """A signed cookie the page's scripts cannot read, sent to this site only (over HTTPS only when ``secure``),
    gone when the browser closes."""
    handler.set_signed_cookie(name, value, expires_days=None, httponly=True, samesite="Strict", secure=secure, path="/")


class ServerSessionAuth(AuthProvider):
    """Bokeh's auth hooks over the service's session store: who a request is comes from the store, never from the
    cookie alone. ``on_sign_out`` is told each session that ends here (to close its open pages at once)."""

    def __init__(self, service: QueryService, secure_cookies: bool, on_sign_out=lambda id_hash: None):
        self.service, self.secure, self.on_sign_out = service, secure_cookies, on_sign_out
        super().__init__()

    @property
    def get_user(self):
        service = self.service

        def current_login(handler: RequestHandler) -> str | None:
            session = service.app_session(session_hash(handler))
            return session.login if session else None

        return current_login

    @property
    def login_url(self) -> str:
        return "/login"

    @property
    def logout_url(self) -> str:
        return "/logout"

    @property
    def login_handler(self):
        service, secure, on_sign_out = self.service, self.secure, self.on_sign_out

        class SignIn(RequestHandler):
            def _form(self, message: str = "", status: int = 200, next_url: str = "") -> None:
                csrf = secrets.token_urlsafe(32)
                set_private_cookie(self, CSRF_COOKIE, csrf, secure)
                self.set_status(status)
                self.set_header("Cache-Control", "no-store")
                self.write(login_page("/login", message, csrf, next_url))

            def get(self) -> None:
                self._form(
                    "ended" if self.get_argument("ended", "") == "1" else "",
                    200,
                    safe_next(self.get_argument("next", "")),
                )

            def post(self) -> None:
                expected = self.get_signed_cookie(CSRF_COOKIE, max_age_days=1) or b""
                sent = self.get_body_argument("csrf", "").encode()
                next_url = safe_next(self.get_body_argument("next", ""))
                if not expected or not hmac.compare_digest(expected, sent):
                    return self._form("expired", 403, next_url)
                login, password = self.get_body_argument("username", ""), self.get_body_argument("password", "")
                try:
                    _, session_id = service.sign_in(login, password, self.request.remote_ip or "")
                except SignInThrottled as exc:
                    self.set_header("Retry-After", str(exc.retry_after_s))
                    return self._form("throttled", 429, next_url)
                except NotSignedIn:
                    return self._form("wrong", 401, next_url)
                old = session_hash(self)
                if old:  # a sign-in over a live session ends it: one browser, one session, a fresh id
                    service.sign_out(old)
                    on_sign_out(old)
                set_private_cookie(self, SESSION_COOKIE, session_id, secure)
                self.clear_cookie(CSRF_COOKIE, path="/")
                self.redirect(next_url or "/search")

        return SignIn

    @property
    def logout_handler(self):
        service, on_sign_out = self.service, self.on_sign_out

        class SignOut(RequestHandler):
            # A GET is enough: the cookie is SameSite=Strict, so another site cannot sign a user out.
            def get(self) -> None:
                id_hash = session_hash(self)
                if id_hash:
                    service.sign_out(id_hash)
                    on_sign_out(id_hash)
                for name in (SESSION_COOKIE, CSRF_COOKIE):
                    self.clear_cookie(name, path="/")
                self.set_header("Cache-Control", "no-store")
                self.write(logout_page("/login"))

        return SignOut


def oidc_options(issuer: str, client_id: str, login_claim: str, secret: str) -> dict:
    """``pn.serve`` options for Panel's generic OAuth provider, from the issuer's OpenID discovery document
    (fetched once when the app starts: the council's own identity provider, not the internet at large)."""
    with urllib.request.urlopen(issuer.rstrip("/") + "/.well-known/openid-configuration", timeout=10) as reply:
        found = json.load(reply)
    return {
        "oauth_provider": "generic",
        "oauth_key": client_id,
        "oauth_secret": secret,
        "oauth_extra_params": {
            "AUTHORIZE_URL": found["authorization_endpoint"],
            "TOKEN_URL": found["token_endpoint"],
            "USER_URL": found.get("userinfo_endpoint", ""),
            "LOGOUT_URL": found.get("end_session_endpoint", ""),
            "USER_KEY": login_claim,
        },
        "oauth_jwt_user": login_claim,
    }


def oidc_sign_in(service: QueryService, access, on_sign_out=lambda id_hash: None):
    """Sign-in through the council's identity provider, onto the same server sessions: Panel's OAuth flow proves
    who someone is and sets its ``user`` cookie; the first request after it (within five minutes of that cookie
    being signed) trades it for a server session, and Panel's cookies are cleared, so none of them can be
    replayed later. Not tried against a live identity provider here (none is reachable from this machine)."""
    from panel.auth import OAuthProvider
    from panel.config import config
    from tornado.websocket import WebSocketHandler

    options = oidc_options(
        access.oidc_issuer, access.oidc_client_id, access.oidc_login_claim, os.environ.get("PANEL_OAUTH_SECRET", "")
    )
    config.oauth_provider = options["oauth_provider"]
    config.oauth_key, config.oauth_secret = options["oauth_key"], options["oauth_secret"]
    config.oauth_extra_params, config.oauth_jwt_user = options["oauth_extra_params"], options["oauth_jwt_user"]
    password_flow = ServerSessionAuth(service, access.secure_cookies, on_sign_out)

    class OidcSessions(OAuthProvider):
        @property
        def get_user_async(self):
            return None

        @property
        def get_user(self):
            def current_login(handler: RequestHandler) -> str | None:
                login = password_flow.get_user(handler)
                if login is not None or isinstance(handler, WebSocketHandler):
                    return login
                proven = handler.get_signed_cookie("user", max_age_days=5 / 1440)
                if not proven:
                    return None
                try:
                    session, session_id = service.start_session(proven.decode("utf-8", "replace"), "oidc")
                except NotSignedIn:
                    return None
                set_private_cookie(handler, SESSION_COOKIE, session_id, access.secure_cookies)
                # this request's page is bound to the new session too
                handler.request.cookies[SESSION_COOKIE] = handler.create_signed_value(
                    SESSION_COOKIE, session_id
                ).decode()
                for name in ("user", "id_token", "access_token", "refresh_token", "oauth_expiry"):
                    handler.clear_cookie(name, path="/")
                return session.login

            return current_login

        @property
        def logout_handler(self):
            return password_flow.logout_handler

    return OidcSessions(login_endpoint="/login", logout_endpoint="/logout")
