"""What stands between the app's pages and the network, beyond the sign-in (decision 0032):

- **Session tokens carry no secret.** Bokeh's token (in every page, and what a websocket opens with) holds no
  cookie and no ``Cookie`` header, only the *hash* of the server session it was issued for; tokens are signed,
  and a websocket opens only when the browser's own cookie hashes to the token's session. A token stolen from
  a page, or swapped into another user's browser, opens nothing.
- **Open pages end with their session.** Every websocket is filed under its session; signing out closes the
  session's sockets at once, and a sweep closes those whose session ended elsewhere (another app process, an
  idle or absolute timeout, a login disabled or given another role).
- **Nothing for other sites.** ``autoload.js`` (which Bokeh serves with ``Access-Control-Allow-Origin: *``) is
  not served; every response carries a CSP with ``frame-ancestors 'none'``, ``nosniff`` and a Referrer-Policy,
  and no ``Server`` banner; websocket errors say nothing of the code (Bokeh sends a traceback by default).
"""

from __future__ import annotations

import hmac
import logging
from collections import defaultdict

from bokeh.application.handlers.handler import Handler
from panel.io.server import AutoloadJsHandler, WSHandler
from tornado.ioloop import PeriodicCallback
from tornado.web import OutputTransform, RequestHandler

from app.web.auth import session_hash, session_hash_of

log = logging.getLogger(__name__)

BINDING = "caselake_session"  # the token payload's key: the hash of the session the page was built for
SWEEP_S = 5.0
# Bokeh's CSS and the pages' styles are inline, and BokehJS compiles its templates at run time: 'unsafe-inline'
# and 'unsafe-eval' stay for scripts and styles. Everything is from this server ('self'); no frame may hold a page.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# The only request headers a page's session keeps (Bokeh copies every header into the token by default).
TOKEN_HEADERS = ["Host", "User-Agent", "Accept-Language"]
GENERIC_ERROR = "the server could not handle that message"


class SessionBinding(Handler):
    """Adds to each page's token the hash of the server session whose cookie asked for the page."""

    def __init__(self, cookie_secret: str):
        super().__init__()
        self._secret = cookie_secret

    def modify_document(self, doc) -> None:  # the page itself is built by Panel's handler
        return None

    def process_request(self, request) -> dict:
        return {BINDING: session_hash_of(request, self._secret)}


class OpenPages:
    """The websockets open in this process, by the hash of their server session."""

    def __init__(self):
        self._by_session: dict[str, set[WSHandler]] = defaultdict(set)

    def add(self, id_hash: str, socket: WSHandler) -> None:
        self._by_session[id_hash].add(socket)

    def discard(self, id_hash: str, socket: WSHandler) -> None:
        sockets = self._by_session.get(id_hash)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._by_session[id_hash]

    def close(self, id_hash: str, reason: str = "signed out") -> int:
        sockets = self._by_session.pop(id_hash, set())
        for socket in list(sockets):
            socket.close(4001, reason)
        return len(sockets)

    def sweep(self, is_live) -> int:
        """Close the sockets whose session is no longer live (``is_live(id_hash)``); returns how many."""
        closed = 0
        for id_hash in list(self._by_session):
            if not is_live(id_hash):
                closed += self.close(id_hash, "session ended")
        return closed


def guarded_socket(open_pages: OpenPages) -> type[WSHandler]:
    class GuardedSocket(WSHandler):
        _bound = ""

        async def _async_open(self, token: str) -> None:
            from bokeh.util.token import get_token_payload

            bound = str(get_token_payload(token).get(BINDING, ""))
            mine = session_hash(self)
            if not bound or not mine or not hmac.compare_digest(bound, mine):
                log.warning("refused a websocket whose token belongs to another session")
                self.close(4003, "not this session's page")
                return None
            self._bound = mine
            open_pages.add(mine, self)
            return await super()._async_open(token)

        def on_close(self) -> None:
            if self._bound:
                open_pages.discard(self._bound, self)
            super().on_close()

        async def send_message(self, message) -> None:
            if message.msgtype == "ERROR":  # Bokeh puts the exception and its traceback in the reply
                message.content["text"] = GENERIC_ERROR
                message.content["traceback"] = None
            return await super().send_message(message)

        def _internal_error(self, message: str) -> None:
            log.error("websocket: internal error, closing the connection")
            self.close(10000, GENERIC_ERROR)

        def _protocol_error(self, message: str) -> None:
            log.error("websocket: protocol error, closing the connection")
            self.close(10001, GENERIC_ERROR)

    return GuardedSocket


class NotServed(RequestHandler):
    """``autoload.js`` embeds a page (and its token) in other sites' pages: this app is not for embedding."""

    def get(self, *args, **kwargs) -> None:
        self.set_status(404)
        self.finish("not served")


class SecurityHeaders(OutputTransform):
    """The headers every response carries (a page's own CSP, as the sign-in page's, is kept), no ``Server``."""

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        if "Server" in headers:
            del headers["Server"]
        for name, value in HEADERS.items():
            if name not in headers:
                headers[name] = value
        return status_code, headers, chunk


def guard(server, open_pages: OpenPages, is_live) -> None:
    """Put the guards on a built Bokeh server (before it starts): the websocket and autoload routes replaced, the
    headers on every response, the sweep of ended sessions on its loop."""
    app = server._tornado  # Bokeh keeps its tornado application here; Panel reads it the same way
    socket_class = guarded_socket(open_pages)
    for rule in app.wildcard_router.rules:
        if rule.target is WSHandler:
            rule.target = socket_class
        elif rule.target is AutoloadJsHandler:
            rule.target = NotServed
            rule.target_kwargs = {}
    app.transforms.append(SecurityHeaders)
    sweep = PeriodicCallback(lambda: open_pages.sweep(is_live), SWEEP_S * 1000)
    server.io_loop.add_callback(sweep.start)
