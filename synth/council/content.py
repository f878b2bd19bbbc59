"""The council's free text: every child's case notes, documents and forms, composed in memory with the truth of
every mention in them, ready for the writing to render and write.

Each child draws from a stream of its own and its ids follow from the counts before it, so the text of a
council can be composed a chunk of children at a time (or, for a next-day extract, a note at a time).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from corpus.factors import Statement, statements
from lake.contracts.sources import NEUTRAL_TABLES
from lake.progress import Progress, no_progress
from synth.council.options import SynthOptions, random_stream
from synth.documents import (
    DOCUMENT_TYPES,
    EXTENSIONS,
    FAULTS,
    FORMATS,
    PAGE_WIDTH_CHARS,
    SCANNED,
    DocumentSpec,
    compose_document,
    wrap_offsets,
)
from synth.pools import pools_for
from synth.text import FORM_QUESTIONS, NOTE_TEMPLATES, TextBuilder, Writer, compose_answer, compose_note
from synth.world import Child, World


@dataclass
class Content:
    """What has been composed so far: rows by neutral table, the truth of the text (mentions, pages, documents)
    and the documents still to render."""

    rows: dict[str, list[dict]] = field(default_factory=lambda: {t: [] for t in NEUTRAL_TABLES})
    mentions: list[dict] = field(default_factory=list)
    pages: list[dict] = field(default_factory=list)
    documents: list[DocumentSpec] = field(default_factory=list)
    document_truth: list[dict] = field(default_factory=list)
    statements: list[dict] = field(default_factory=list)  # the factor statements put into notes, with labels


def _choice(rng: np.random.Generator, seq):
    """``rng.choice(seq)`` — the same draw from the same stream — without turning ``seq`` into an array on
    every call (the generator makes millions of these)."""
    return seq[int(rng.integers(0, len(seq)))]


_LAGS = (0, 0, 0, 0, 0, 0, 1, 2, 3, 7, 14)  # days between an event and its recording


def _count(rng: np.random.Generator, mean: float) -> int:
    """Counts per child vary like real caseloads (gamma, shape 2) around the pilot's mean."""
    return max(1, round(float(rng.gamma(2.0, mean / 2.0)))) if mean > 0 else 0


def _writer_for(world: World, child: Child, when: dt.date, rng: np.random.Generator) -> Writer:
    """A writer for this child on this date, in the voice of the worker allocated then."""
    return Writer(rng, child, when, world.worker_at(child.person.person_id, when), pools_for(world.split))


def _period(world: World, child: Child) -> tuple[dt.date, dt.date]:
    return child.first_contact, child.closed or world.as_of


def _date_in(rng: np.random.Generator, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=int(rng.integers(0, max(0, (end - start).days) + 1)))


def _recorded_at(rng: np.random.Generator, event: dt.date, limit: dt.date) -> dt.datetime:
    lag = _choice(rng, _LAGS)
    day = min(event + dt.timedelta(days=lag), limit)
    return dt.datetime(
        day.year,
        day.month,
        day.day,
        int(rng.integers(8, 19)),
        int(rng.integers(0, 60)),
        int(rng.integers(0, 60)),
        tzinfo=dt.UTC,
    )


def _add_mentions(
    content: Content,
    tb: TextBuilder,
    source_type: str,
    source_id: str,
    child_id: str,
    page: int | None = None,
    offset: int = 0,
    rendered: str | None = None,
) -> None:
    """Record ``tb``'s mentions; ``rendered`` is the text as written (wrapping may turn spaces into newlines)."""
    text = tb.text if rendered is None else rendered
    for m in tb.mentions:
        content.mentions.append(
            {
                "source_type": source_type,
                "source_id": source_id,
                "child_id": child_id,
                "page": page,
                "start": m.start + offset,
                "end": m.end + offset,
                "label": m.label,
                "text": text[m.start : m.end],
                "person_id": m.person_id,
            }
        )


# Words a statement may write with a capital and still name nobody: kinship words, which resolution links to the
# child's recorded relatives, and the pronoun.
_UNNAMED_CAPITALS = frozenset({"I", "Mum", "Mam", "Mummy", "Dad", "Daddy", "Nan", "Nana", "Nanna", "Gran", "Grandad"})


# First names that are also everyday words: a statement writing them in lower case names nobody.
_WORD_NAMES = frozenset(
    {
        "may",
        "will",
        "bill",
        "mark",
        "rose",
        "grace",
        "hope",
        "faith",
        "joy",
        "sky",
        "summer",
        "april",
        "june",
        "august",
        "jack",
        "frank",
        "earl",
        "dean",
        "guy",
        "pat",
        "sue",
        "don",
    }
)


@cache
def _first_names() -> frozenset[str]:
    """First names as Faker's British and American lists and the generator's own pools write them, lower case:
    some writers type names in lower case ("kacey rang staff")."""
    from faker.providers.person.en_GB import Provider as British
    from faker.providers.person.en_US import Provider as American

    from synth.pools import EXTRA_FIRST_FEMALE, EXTRA_FIRST_MALE, NICKNAMES

    found = [*British.first_names_male, *British.first_names_female, *American.first_names]
    found += [*EXTRA_FIRST_MALE, *EXTRA_FIRST_FEMALE, *NICKNAMES, *(n for v in NICKNAMES.values() for n in v)]
    return frozenset(n.casefold() for n in found) - _WORD_NAMES


@cache
def _statement_pool(split: str) -> tuple[Statement, ...]:
    """The hand-written factor statements of a split that name nobody: the training authors' for a train
    council, the held-out authors' for an eval one (so a held-out council's statements are in wording no coder
    trained on). A statement naming a person ("Kayden (6) told me") would put someone into a child's records who
    is not in the child's world. A name is a word the statements write with a capital at least as often as
    without (common words are mostly in lower case: "the", "police"); kinship words and "I" name no one new."""
    every = list(statements())
    words = Counter(w for s in every for w in re.findall(r"[A-Za-z][\w-]*", s.text))
    unnamed = {w.casefold() for w in _UNNAMED_CAPITALS}
    # a name is written with a capital at least as often as without (authors who type in lower case included)
    capital = Counter()
    for w, n in words.items():
        capital[w.casefold()] += n if w[0].isupper() else -n
    names = ({w for w, n in capital.items() if n >= 0} | _first_names()) - unnamed

    def names_someone(text: str) -> bool:
        return any(w.casefold() in names for w in re.findall(r"[A-Za-z][\w-]*", re.sub(r"['\u2019]s\b", "", text)))

    return tuple(s for s in statements("eval" if split == "eval" else "train") if not names_someone(s.text))


_SENTENCE_GAP = re.compile(r"(?<=[.!?]) (?=\S)|\n")


def _put_statement(content: Content, tb: TextBuilder, note_id: str, child_id: str, draw, split: str) -> None:
    """One hand-written factor statement between two of the note's sentences (or at its end), and its truth."""
    pool = _statement_pool(split)
    chosen = pool[int(draw.integers(len(pool)))]
    text = tb.text
    gaps = [m.start() for m in _SENTENCE_GAP.finditer(text)] + [len(text)]
    at = gaps[int(draw.integers(len(gaps)))]
    # Put in where a space or line break was, and keep it: "A. B" becomes "A. S B"; a statement without a final
    # stop (shorthand) gets a line of its own, so it does not run into the next sentence.
    joiner = "\n" if at < len(text) and text[at] == "\n" else " "
    ending = "" if re.search(r"[.!?][\"'\u2019\u201d)]?$", chosen.text) or at == len(text) else "\n"
    if ending:
        joiner = "\n"
    tb.insert(at, joiner + chosen.text + ending)
    start = at + len(joiner)
    content.statements.append(
        {
            "source_type": "case_note",
            "source_id": note_id,
            "child_id": child_id,
            "start": start,
            "end": start + len(chosen.text),
            "text": chosen.text,
            "labels": ";".join(str(label) for label in chosen.labels),
            "statement_id": chosen.statement_id,
            "family": chosen.family,
        }
    )


def add_note(
    content: Content, world: World, child: Child, note_id: str, when: dt.date, rng, limit, draw=None, share=0.0
) -> None:
    """One case note about ``child`` on ``when``, recorded no later than ``limit``. ``draw``: the note's own
    stream for its factor statement (so the rest of the council draws what it drew before there were any),
    which it carries with probability ``share``."""
    note_type = _choice(rng, _NOTE_TYPES)
    writer = _writer_for(world, child, when, rng)
    worker_id = writer.worker.worker_id
    tb = compose_note(writer, note_type, world.split)
    if draw is not None and draw.random() < share:
        _put_statement(content, tb, note_id, child.person.person_id, draw, world.split)
    content.rows["case_note"].append(
        {
            "note_id": note_id,
            "child_id": child.person.person_id,
            "worker_id": worker_id,
            "note_type": note_type,
            "event_date": when,
            "recorded_at": _recorded_at(rng, when, limit),
            "note_text": tb.text,
        }
    )
    _add_mentions(content, tb, "case_note", note_id, child.person.person_id)


def add_document(content: Content, world: World, child: Child, doc_id: str, when: dt.date, rng, seed) -> None:
    """One document about ``child`` on ``when``: its type, format (or fault), pages as rendered, and manifest row."""
    types = sorted(DOCUMENT_TYPES)
    weights = np.array([DOCUMENT_TYPES[t][0] for t in types])
    doc_type = types[int(rng.choice(len(types), p=weights / weights.sum()))]
    fmts = list(FORMATS)
    fw = np.array(list(FORMATS.values()))
    fmt = fmts[int(rng.choice(len(fmts), p=fw / fw.sum()))]
    fault = None
    if fmt == "faulty":
        fault = _choice(rng, FAULTS)
        fmt = "pdf"
    writer = _writer_for(world, child, when, rng)
    worker_id = writer.worker.worker_id
    pages_tb = compose_document(writer, doc_type, world.split)
    if fmt in ("png", "jpeg", "html"):  # single-page formats: one page holds everything
        pages_tb = [[p for page in pages_tb for p in page]]
    width = PAGE_WIDTH_CHARS["scan"] if fmt in SCANNED else PAGE_WIDTH_CHARS["pdf"] if fmt == "pdf" else None
    if fault == "unsupported":
        ext = "wpd"
    elif fault == "zero_byte":
        ext = _choice(rng, ("pdf", "docx"))
    else:
        ext = EXTENSIONS[fmt]
    file_name = f"documents/{doc_id}.{ext}"
    pages: list[list[str]] = []
    for page_no, paras in enumerate(pages_tb, start=1):
        texts = [wrap_offsets(p.text, width) if width else p.text for p in paras]
        pages.append(texts)
        offset = 0
        page_text = "\n".join(texts)
        for tb, text in zip(paras, texts, strict=True):
            _add_mentions(content, tb, "document_page", doc_id, child.person.person_id, page_no, offset, text)
            offset += len(text) + 1
        content.pages.append(
            {
                "document_id": doc_id,
                "page": page_no,
                "text": page_text,
                "scanned": fmt in SCANNED and fault is None,
                "format": fmt,
            }
        )
    title = DOCUMENT_TYPES[doc_type][1]
    content.documents.append(
        DocumentSpec(doc_id, file_name, fmt, fault, title, pages, int.from_bytes(doc_id.encode()[-6:], "big") ^ seed)
    )
    content.document_truth.append(
        {
            "document_id": doc_id,
            "child_id": child.person.person_id,
            "document_type": doc_type,
            "format": fmt,
            "fault": fault,
            "file_name": file_name,
            "pages": len(pages),
        }
    )
    content.rows["document"].append(
        {
            "document_id": doc_id,
            "child_id": child.person.person_id,
            "worker_id": worker_id,
            "document_type": doc_type,
            "title": title,
            "file_name": file_name,
            "created_date": when,
        }
    )


def add_form(content: Content, world: World, child: Child, form_id: str, when: dt.date, rng) -> None:
    """One form about ``child`` on ``when``, with its structured outcome and a free-text answer per question."""
    form_type = _choice(rng, _FORM_TYPES)
    outcome = _choice(rng, _FORM_OUTCOMES[form_type])
    writer = _writer_for(world, child, when, rng)
    worker_id = writer.worker.worker_id
    content.rows["form"].append(
        {
            "form_id": form_id,
            "child_id": child.person.person_id,
            "worker_id": worker_id,
            "form_type": form_type,
            "form_date": when,
            "outcome": outcome,
        }
    )
    for code, question, templates in FORM_QUESTIONS[form_type]:
        tb = compose_answer(writer, templates, world.split)
        content.rows["form_answer"].append(
            {"form_id": form_id, "question_code": code, "question": question, "answer_text": tb.text}
        )
        _add_mentions(content, tb, "form_answer", f"{form_id}:{code}", child.person.person_id)


_NOTE_TYPES = tuple(sorted(NOTE_TEMPLATES))
_FORM_TYPES = tuple(sorted(FORM_QUESTIONS))
_FORM_OUTCOMES = {
    "Child and Family Assessment": ("No further action", "Child in need plan", "Strategy discussion", "Early help"),
    "Strategy Discussion Record": ("Section 47 enquiry", "No further action", "Single agency response"),
    "Child Protection Review": ("Continue plan", "End plan", "Step down to child in need"),
}


def base_counts(world: World, opts: SynthOptions) -> list[tuple[int, int, int]]:
    """Notes, documents and forms per child; a stream of its own so next-day runs need not compose text."""
    rng = random_stream(opts.seed, 3)
    return [
        (_count(rng, opts.notes_per_child), _count(rng, opts.documents_per_child), _count(rng, opts.forms_per_child))
        for _ in world.children
    ]


def compose_base(world: World, opts: SynthOptions, progress: Progress = no_progress) -> Content:
    """Every child's notes, documents and forms, in memory (``generate`` composes them a chunk at a time)."""
    content = Content()
    compose_children(content, world, opts, base_counts(world, opts), 0, len(world.children), progress)
    return content


def compose_children(
    content: Content,
    world: World,
    opts: SynthOptions,
    counts: list[tuple[int, int, int]],
    first: int,
    last: int,
    progress: Progress = no_progress,
) -> None:
    """Children ``first`` to ``last`` (exclusive)'s notes, documents and forms, into ``content``. Each child has
    a random stream of its own and its ids follow from the counts before it, so composing the children a chunk
    at a time writes what composing them all at once would."""
    n_note = sum(c[0] for c in counts[:first])
    n_doc = sum(c[1] for c in counts[:first]) if opts.documents else 0
    n_form = sum(c[2] for c in counts[:first])
    for i in range(first, last):
        child, (notes, docs, forms) = world.children[i], counts[i]
        rng = random_stream(opts.seed, 4, i)
        start, end = _period(world, child)
        for _ in range(notes):
            n_note += 1
            draw = random_stream(opts.seed, 9, n_note) if opts.factor_statements else None
            add_note(
                content,
                world,
                child,
                f"CN{n_note:08d}",
                _date_in(rng, start, end),
                rng,
                world.as_of,
                draw,
                opts.factor_statements,
            )
        for _ in range(docs if opts.documents else 0):
            n_doc += 1
            add_document(content, world, child, f"D{n_doc:08d}", _date_in(rng, start, end), rng, opts.seed)
        for _ in range(forms):
            n_form += 1
            add_form(content, world, child, f"FM{n_form:08d}", _date_in(rng, start, end), rng)
        progress("compose", i + 1, len(world.children))
