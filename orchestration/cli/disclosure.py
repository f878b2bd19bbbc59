"""``caselake disclosure``: subject access requests from the terminal, as a signed-in disclosure officer (every
step goes through the query service: its access rules apply and each is audited)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from orchestration.cli.common import date_option, fail, query_service, sign_in

disclosure_app = typer.Typer(help="Subject access requests: compile, propose redactions, export.", no_args_is_help=True)
AS = Annotated[str, typer.Option("--as", help="The disclosure officer's login (asks for its password).")]


def _signed_in(as_login: str):
    service = query_service()
    return service, sign_in(service, as_login)


def _run(call):
    from app.service import AccessDenied, InvalidRequest

    try:
        return call()
    except (AccessDenied, InvalidRequest) as exc:
        fail(str(exc), 2)


@disclosure_app.command("new")
def new(
    as_login: AS,
    subject: Annotated[str, typer.Option(help="The person the records are about (their person id).")],
    requester: Annotated[
        str | None, typer.Option(help="A parent asking for their child (person id); default: the subject asks.")
    ] = None,
    received: Annotated[
        str | None, typer.Option(help="The day the request arrived (YYYY-MM-DD; default today).")
    ] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="Records from this day (YYYY-MM-DD).")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Records up to this day (YYYY-MM-DD).")] = None,
) -> None:
    """Make a request; prints its id and the day it is due (a calendar month after it arrived)."""
    service, session = _signed_in(as_login)
    request = _run(
        lambda: service.disclosure_request(
            session,
            subject,
            requester,
            date_option(received, "received"),
            date_option(date_from, "from"),
            date_option(date_to, "to"),
        )
    )
    Console().print(f"{request.request_id} due {request.due:%d %B %Y}")


@disclosure_app.command("propose")
def propose(as_login: AS, request_id: Annotated[str, typer.Argument(help="The request's id.")]) -> None:
    """Compile every record about the subject and propose redactions; prints what was proposed."""
    service, session = _signed_in(as_login)
    summary = _run(lambda: service.disclosure_propose(session, request_id))
    Console().print(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in summary.items()))


@disclosure_app.command("export")
def export(
    as_login: AS,
    request_id: Annotated[str, typer.Argument(help="The request's id.")],
    out: Annotated[Path, typer.Option(help="The PDF to write (replaced whole, never half-written).")],
) -> None:
    """Write the bundle as a PDF with its contents and schedule of redactions; what is proposed for review and not
    yet decided is redacted."""
    service, session = _signed_in(as_login)
    result = _run(lambda: service.disclosure_export(session, request_id, out))
    Console().print(
        f"Wrote {out}: {result['pages']} pages, {result['redactions']} redactions, "
        f"{result['images_embedded']} page images ({result['images_withheld']} withheld), sha256 {result['sha256']}"
    )


@disclosure_app.command("status")
def status(as_login: AS) -> None:
    """Every request: who it is for, when it is due, what is left to review, when it was last exported."""
    service, session = _signed_in(as_login)
    rows = _run(lambda: service.disclosure_status(session))
    console = Console()
    if not rows:
        console.print("no requests")
    for r in rows:
        console.print(
            f"{r['request_id']}  subject {r['subject_id']}  due {r['due']} ({r['days_left']} days)  "
            f"proposals {r['proposals']}, to review {r['to_review']}  exported {r['exported_at'] or 'not yet'}"
        )
