"""Statements: the sentences (or lines) of a text, the unit factor coding reads (issue 37).

A record's free text is cut at the end of every sentence (a full stop, ``?`` or ``!``, with any closing quote or
bracket, then space and a capital, a digit or an opening quote) and at every line break, so a chronology line, a
form answer's bullet or a shorthand log entry is a statement of its own. Spans are character offsets into the
text, trimmed of spaces and bullets, so the app can mark a statement in its source.
"""

from __future__ import annotations

import re

_BREAK = re.compile(r"(?<=[.!?])[\"'\u2019\u201d)]?(?=\s+[\"'\u2018\u201c(]?[A-Z0-9])|\n")
_EDGE = " \t\r\n-*\u2022>"
MAX_CHARS = 1_000  # a "sentence" longer than this (a pasted table, no punctuation) is cut into pieces this long


def split_statements(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-empty statement in ``text``, in order."""
    spans, start = [], 0
    for cut in [*(m.end() for m in _BREAK.finditer(text)), len(text)]:
        piece_start, piece_end = start, cut
        start = cut
        while piece_start < piece_end and text[piece_start] in _EDGE:
            piece_start += 1
        while piece_end > piece_start and text[piece_end - 1] in " \t\r\n":
            piece_end -= 1
        if not any(ch.isalnum() for ch in text[piece_start:piece_end]):
            continue
        for s in range(piece_start, piece_end, MAX_CHARS):
            spans.append((s, min(s + MAX_CHARS, piece_end)))
    return spans
