"""The one way record data becomes HTML: escaped text. Names, titles, notes and snippets come from case records
and may hold anything (``<script>``, ``<img onerror=…>``); every builder here escapes them, and the only markup
in the results is the markup written in this module (and ``<mark>`` from the search module's snippets, which
escapes the text before adding it)."""

from __future__ import annotations

import datetime as dt
import html

from lake.search.query import snippet

SOURCE_WORDS = {"case_note": "case note", "document_page": "document", "form_answer": "form answer"}


def esc(value, empty: str = "—") -> str:
    if value is None or value == "":
        return empty
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    return html.escape(str(value), quote=True)


def child_text(profile: dict | None, child_id: str) -> str:
    """A child as a worker tells two of the same name apart: name, age, locality (and the id). Plain text, for
    widgets that show text as text (options, labels); :func:`child_words` is the escaped form for HTML."""
    if not profile or not profile.get("name"):
        return f"name not recorded · {child_id}"
    age = f"age {profile['age']}" if profile.get("age") is not None else "age unknown"
    return f"{profile.get('name')} · {age} · {profile.get('locality') or 'locality unknown'} · {child_id}"


def child_words(profile: dict | None, child_id: str) -> str:
    return esc(child_text(profile, child_id))


def dates_html(event_date, recorded_date) -> str:
    """Both dates, each labelled, so a worker never mistakes when it was written for when it happened."""
    return (
        f'<span class="cl-date">event date <b>{esc(event_date, "not given")}</b></span> · '
        f'<span class="cl-date">recorded <b>{esc(recorded_date, "not given")}</b></span>'
    )


def marked_text(text: str | None, spans: list[tuple[int, int]]) -> str:
    """A whole text, escaped, with the spans in ``<mark>``, keeping its line breaks."""
    if not text:
        return '<p class="cl-muted">No text was read from this item.</p>'
    # a window three times the text never moves its start to the first span: the whole text, every span marked
    return f'<div class="cl-text">{snippet(text, spans, width=3 * len(text) + 3)}</div>'


# Text is never under 13 px (issue 42): the page's base is 14 px (``BASE_CSS`` in the shell), the smaller lines
# 13 px; sizes are in px so a pane nested in another cannot shrink them further.
CSS = """
.cl-muted { color: #555; }
.cl-text { white-space: pre-wrap; font-family: inherit; line-height: 1.45; max-height: 60vh; overflow-y: auto;
  border: 1px solid #ccc; padding: 8px; background: #fff; }
.cl-hit { border-left: 4px solid #0072B2; padding: 2px 8px; }
.cl-hit h3 { margin: 0 0 2px 0; font-size: 1.0em; }
.cl-why { font-size: 13px; color: #333; }
.cl-date b { font-weight: 600; }
mark { background: #ffe066; color: #000; }
.cl-key span.sym { display: inline-block; width: 14px; height: 14px; margin: 0 4px -2px 10px; }
table.cl-table { border-collapse: collapse; font-size: 14px; }
table.cl-table caption { font-size: 13px; text-align: left; }
.cl-visually-hidden { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.cl-group-name { font-size: 13px; color: #333; }
h3.cl-node-head { font-size: 15px; margin: 4px 0; }
h3.cl-small-head { font-size: 14px; margin: 8px 0 0 0; }
table.cl-table th, table.cl-table td { border-bottom: 1px solid #ddd; padding: 2px 6px; text-align: left; }
"""


def html_pane(markup: str, **params):
    """An HTML pane with the app's styles (Panel renders each pane in its own shadow root, so page-wide CSS
    would not reach it). ``markup`` must already be built from escaped values."""
    import panel as pn

    return pn.pane.HTML(markup, stylesheets=[CSS], **params)
