"""Case notes and document excerpts written by hand, with their entity spans marked inline (issue 36).

Each author's notes are one file, ``notes/<author>.txt``: a note starts with a header line
``### note: <id> | register: <register>`` and its text follows, entities marked as ``{{label|text}}``
(``{{person|Amira}} and {{person|Yusuf Haddad}}``). The marks are taken out and become character spans into
the plain text, in the project's label set and span conventions (docs/entities.md, "The hand-written corpus").

The split is by author, never by note: each author writes in their own layouts and registers, so the
evaluation part shares no author, layout or phrasing with the training part (:data:`EVAL_AUTHORS`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

NOTES_DIR = Path(__file__).parent / "notes"

LABELS = frozenset(
    {
        "person",
        "kinship_role",
        "professional_role",
        "address",
        "organisation",
        "school",
        "date",
        "phone",
        "postcode",
        "email",
        "nhs_number",
    }
)
# The authors whose notes are the evaluation part: nothing tuned or trained reads them.
EVAL_AUTHORS = frozenset({"g", "h"})

_HEADER = re.compile(r"^### note: *(?P<id>[^|]+?) *\| *register: *(?P<register>.+?) *$", re.M)
_MARK = re.compile(r"\{\{(?P<label>[a-z_]+)\|(?P<text>[^{}|]+)\}\}")


@dataclass(frozen=True)
class Note:
    note_id: str
    author: str
    register: str
    text: str
    spans: tuple[tuple[int, int, str], ...]  # (start, end, label), half-open character offsets into text

    @property
    def words(self) -> int:
        return len(self.text.split())


class MarkupError(ValueError):
    """A note whose marks cannot be read: the message names the note and what is wrong."""


def parse_note(note_id: str, author: str, register: str, marked: str) -> Note:
    """The plain text and spans of one marked-up note."""
    text: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos = 0
    length = 0
    for m in _MARK.finditer(marked):
        text.append(marked[pos : m.start()])
        length += m.start() - pos
        label, value = m.group("label"), m.group("text")
        if label not in LABELS:
            raise MarkupError(f"{note_id}: unknown label {label!r} in {m.group()!r}")
        if value != value.strip():
            raise MarkupError(f"{note_id}: space at the edge of a mark: {m.group()!r}")
        spans.append((length, length + len(value), label))
        text.append(value)
        length += len(value)
        pos = m.end()
    text.append(marked[pos:])
    plain = "".join(text)
    left = re.search(r"\{\{|\}\}", plain)
    if left:
        raise MarkupError(f"{note_id}: unbalanced mark near {plain[max(0, left.start() - 40) : left.end() + 40]!r}")
    return Note(note_id, author, register, plain, tuple(spans))


def read_author(path: Path) -> list[Note]:
    body = path.read_text(encoding="utf-8")
    author = path.stem
    headers = list(_HEADER.finditer(body))
    notes = []
    for i, h in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(body)
        marked = body[h.end() : end].strip("\n")
        notes.append(parse_note(h.group("id"), author, h.group("register"), marked))
    return notes


def notes(part: str | None = None, notes_dir: Path = NOTES_DIR) -> Iterator[Note]:
    """Every note, or those of one part: ``"train"`` or ``"eval"`` (by author, :data:`EVAL_AUTHORS`)."""
    for path in sorted(notes_dir.glob("*.txt")):
        held_out = path.stem in EVAL_AUTHORS
        if part is None or (part == "eval") == held_out:
            yield from read_author(path)


def summary(found: list[Note]) -> str:
    labels = Counter(label for n in found for _, _, label in n.spans)
    registers = Counter(n.register for n in found)
    words = [n.words for n in found]
    lines = [
        f"{len(found)} notes, {sum(words)} words (each {min(words, default=0)}-{max(words, default=0)})",
        "labels: " + ", ".join(f"{k} {v}" for k, v in labels.most_common()),
        "registers: " + ", ".join(f"{k} {v}" for k, v in registers.most_common()),
    ]
    return "\n".join(lines)
