"""``caselake serve``: the app (search, child pages, the audit log) on a local port."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.common import console, read_settings


def serve(
    port: Annotated[int, typer.Option(help="The port the app listens on.")] = 5006,
    address: Annotated[str, typer.Option(help="The address it listens on.")] = "127.0.0.1",
    origin: Annotated[
        list[str] | None, typer.Option(help="host:port a browser may reach it as (behind a proxy); repeatable.")
    ] = None,
    procs: Annotated[
        int, typer.Option(help="App processes on the one port (they share sessions, journal and lake).", min=1)
    ] = 1,
) -> None:
    """Serve the app: search, the child pages with timeline and ecomap, the audit log. Sign in with a login
    from the users file (``caselake users add`` / ``users demo``) or the council's OIDC provider."""
    from app.web.server import serve as serve_app

    console.print(f"caselake app: http://{address}:{port}/search  (Ctrl-C stops it)")
    serve_app(read_settings(), port=port, address=address, origins=origin or None, procs=procs)
