"""Signing in to the app. Panel's built-in basic auth compares plain-text passwords, so the app brings its own
login handler: it checks the password against the users file's argon2id hashes through
:meth:`QueryService.login` (which audits every attempt), then sets Panel's signed ``user`` cookie. Logging out is
audited too. The pages are plain HTML served from here: no script, font or image from anywhere else."""

from __future__ import annotations

import html
import json
import urllib.request

import tornado.escape
from panel.auth import BasicAuthProvider, BasicLoginHandler, LogoutHandler, _validate_next_url
from panel.config import config
from tornado.web import decode_signed_value

from app.service import NotSignedIn, QueryService

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


def login_page(endpoint: str, error: str) -> str:
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    body = f"""<h1>caselake</h1><p>Sign in with your caselake login.</p>{message}
<form action="{html.escape(endpoint)}" method="post">
<label for="username">Login</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>"""
    return PAGE.format(title="Sign in", body=body)


def logout_page(login_endpoint: str) -> str:
    body = f"""<h1>caselake</h1><p role="status">You are signed out.</p>
<a class="button" href="{html.escape(login_endpoint)}">Sign in again</a>"""
    return PAGE.format(title="Signed out", body=body)


class PasswordAuth(BasicAuthProvider):
    """Panel's basic-auth flow (cookie, login and logout pages, redirect to the page asked for) with the
    password checked by the query service."""

    def __init__(self, service: QueryService):
        self.service = service  # before super().__init__, which reads the handlers
        super().__init__(login_endpoint="/login", logout_endpoint="/logout")

    @property
    def login_handler(self):
        service, endpoint = self.service, self._login_endpoint

        class ServiceLogin(BasicLoginHandler):
            def get(self):
                next_url = _validate_next_url(self.get_argument("next", ""))
                if next_url:
                    self.set_cookie("next_url", next_url)
                self.set_header("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'")
                self.write(login_page(endpoint, self.get_argument("error", "")))

            def _validate(self, username: str, password: str) -> bool:
                try:
                    service.login(username, password)
                except NotSignedIn:
                    return False
                return True

            def post(self):
                # Panel's own post() appends "?error=" to the URI each time; keep one clean error instead.
                username, password = self.get_argument("username", ""), self.get_argument("password", "")
                if self._validate(username, password):
                    self.set_current_user(username)
                    self.redirect(_validate_next_url(self.get_cookie("next_url", "")) or "/search")
                else:
                    self.redirect(endpoint + "?error=" + tornado.escape.url_escape("Wrong login or password."))

        return ServiceLogin

    @property
    def logout_handler(self):
        service, login_endpoint = self.service, self._login_endpoint

        class ServiceLogout(LogoutHandler):
            def get(self):
                cookie = self.get_cookie("user")
                login = decode_signed_value(config.cookie_secret, "user", cookie) if cookie else None
                if login:
                    service.logout(login.decode("utf-8"))
                for name in ("user", "id_token", "access_token", "refresh_token", "oauth_expiry"):
                    self.clear_cookie(name)
                self.write(logout_page(login_endpoint))

        return ServiceLogout


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
