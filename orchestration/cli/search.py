"""``caselake search``: reading case data from the terminal, always through the query service, as a signed-in
user (their access rules apply and every search is audited)."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.common import console, date_option, fail, query_service, sign_in


def search_command(
    text: Annotated[str, typer.Argument(help="What to look for: words, a question, or a person's name.")],
    as_login: Annotated[str, typer.Option("--as", help="The login to search as (asks for its password).")],
    child: Annotated[list[str] | None, typer.Option(help="Only this child's records (repeatable).")] = None,
    sort: Annotated[str, typer.Option(help="relevance, newest or oldest.")] = "relevance",
    mode: Annotated[str, typer.Option(help="hybrid, text (words) or vector (meaning).")] = "hybrid",
    source: Annotated[list[str] | None, typer.Option(help="case_note, document_page or form_answer.")] = None,
    item_type: Annotated[list[str] | None, typer.Option("--type", help="A note, document or form type.")] = None,
    author: Annotated[list[str] | None, typer.Option(help="A worker id.")] = None,
    person: Annotated[str | None, typer.Option(help="Only chunks that mention this resolved person id.")] = None,
    event_from: Annotated[str | None, typer.Option(help="Event date from (YYYY-MM-DD).")] = None,
    event_to: Annotated[str | None, typer.Option(help="Event date to.")] = None,
    recorded_from: Annotated[str | None, typer.Option(help="Recorded date from.")] = None,
    recorded_to: Annotated[str | None, typer.Option(help="Recorded date to.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per hit.")] = False,
) -> None:
    """Search notes, document pages and form answers as a user: their access rules apply and the search is
    written to the audit log."""
    import json

    from lake.search.query import InvalidRequest, SearchFilters, SearchRequest

    service = query_service()
    session = sign_in(service, as_login)
    request = SearchRequest(
        text,
        mode=mode,
        sort=sort,
        limit=limit,
        filters=SearchFilters(
            child_ids=tuple(child or ()),
            source_types=tuple(source or ()),
            item_types=tuple(item_type or ()),
            author_ids=tuple(author or ()),
            person_id=person,
            event_from=date_option(event_from, "event-from"),
            event_to=date_option(event_to, "event-to"),
            recorded_from=date_option(recorded_from, "recorded-from"),
            recorded_to=date_option(recorded_to, "recorded-to"),
        ),
    )
    from app.service import AccessDenied

    try:
        result = service.search(session, request)
    except (InvalidRequest, AccessDenied) as exc:
        fail(str(exc), 2)
    if as_json:
        for hit in result.hits:
            print(json.dumps(hit.to_json(), default=str))
        return
    if result.people:
        console.print("person: " + "; ".join(result.people))
    for i, hit in enumerate(result.hits, 1):
        event = hit.event_date.isoformat() if hit.event_date else "-"
        recorded = hit.recorded_date.isoformat() if hit.recorded_date else "-"
        where = f"{hit.source_type} {hit.record_id}" + (f" p.{hit.page}" if hit.page else "")
        print(f"{i:>2}. {hit.child_id}  {where}  {hit.item_type}  event {event}  recorded {recorded}  by {hit.author}")
        print(f"    {'; '.join(hit.reasons)}")
        print(f"    {_plain(hit.snippet_html)}")
    if not result.hits:
        print("no results")


def _plain(snippet_html: str) -> str:
    """A snippet for the terminal: marks as [brackets], entities unescaped."""
    import html

    return html.unescape(snippet_html.replace("<mark>", "[").replace("</mark>", "]")).replace("\n", " ")
