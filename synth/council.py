"""Generate a synthetic council's landing drop and its ground truth.

Layout written under ``out``::

    landing/<source>/<YYYY-MM-DD>/<TABLE>.csv          one file per source table
    landing/<source>/<YYYY-MM-DD>/documents/<id>.<ext> the document store for that extract
    landing/<source>/<YYYY-MM-DD>/_extract.json        control file, written last (extract complete)
    truth/...                                           what the pipeline must never read

Day 0 is a full extract; ``next_day`` writes day N+1 as a change extract (new and updated rows and a
deletions table), derived from the same seed, so the truth of every change is known.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import multiprocessing as mp
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from lake.contracts.sources import NEUTRAL_TABLES, SOURCES, YES_NO_COLUMNS, SourceSystem
from lake.progress import Progress, no_progress
from synth.agency import prospective_adopter_report
from synth.documents import (
    DOCUMENT_TYPES,
    EXTENSIONS,
    FAULTS,
    FORMATS,
    PAGE_WIDTH_CHARS,
    SCANNED,
    DocumentSpec,
    compose_document,
    convert_to_doc,
    render,
    wrap_offsets,
)
from synth.pools import pools_for
from synth.text import FORM_QUESTIONS, NOTE_TEMPLATES, TextBuilder, Writer, compose_answer, compose_note
from synth.world import (
    NOT_MINORITY,
    Address,
    AddressSpell,
    Child,
    Episode,
    World,
    WorldBuilder,
    cohort_fit_rows,
)

# The pilot council's yearly flow (REQUIREMENTS: 551k notes, 210k documents a year, 457k children).
NOTES_PER_CHILD_PER_DAY = 551_000 / 456_970 / 365
DOCUMENTS_PER_CHILD_PER_DAY = 210_000 / 456_970 / 365
TYPO_PLAN_DAYS = 60  # name corrections are planned this many days ahead (the base extract holds the typos)
# The base extract is composed, written and let go this many children at a time, so the generator's memory stays
# flat whatever the council's size (a 1,000-child council's notes and their truth spans alone hold about 0.5 GB).
CHUNK_CHILDREN = 500
# Characters that the writer encodes in Windows-1252 instead of UTF-8, as a legacy source system would:
# each private-use mark in a cell becomes that one cp1252 byte in the file.
CP1252_MARKS = {"\ue000": ("’", b"\x92"), "\ue001": ("é", b"\xe9")}

DEFECT_KINDS = (
    "duplicate_row",
    "missing_required",
    "malformed_date",
    "future_date",
    "invalid_code",
    "cp1252_char",
    "stray_whitespace",
    "inconsistent_case",
)
# What a correct pipeline does with each defect: the contract the staging layer is tested against.
DEFECT_EXPECTED = {
    "duplicate_row": "deduplicate",
    "missing_required": "quarantine",
    "malformed_date": "quarantine",
    "future_date": "quarantine",
    "invalid_code": "quarantine",
    "cp1252_char": "repair",
    "stray_whitespace": "normalise",
    "inconsistent_case": "normalise",
}
TEXT_COLUMNS = {
    "case_note": "note_text",
    "person": "surname",
    "form_answer": "answer_text",
    "document": "title",
    "adopter_household": "report_text",
    "worker": "surname",
}
NO_DEFECT_TABLES = frozenset({"access_restriction", "deleted_record"})


@dataclass
class SynthOptions:
    out: Path
    children: int = 100
    seed: int = 42
    flavour: str = "liquidlogic"
    split: str = "train"
    as_of: dt.date = dt.date(2026, 11, 1)
    notes_per_child: float = 87.0
    documents_per_child: float = 19.0
    forms_per_child: float = 4.0
    defect_rate: float = 0.02
    processes: int = field(default_factory=lambda: os.cpu_count() or 1)
    # Every structured table (children, people, episodes, case notes, forms ...) and no documents: the document
    # manifest table is empty (a full extract writes it with its header only, a change extract leaves it out)
    # and no document file is written, on day 0 or after. For councils at scale, where rendering documents
    # would take days. The notes and forms per child are drawn as for the full council.
    structured_only: bool = False

    @property
    def documents(self) -> bool:
        """Whether this council has documents at all."""
        return not self.structured_only and self.documents_per_child > 0


@dataclass
class SynthResult:
    extract_dir: Path
    truth_dir: Path
    extract_date: dt.date
    day: int
    rows: dict[str, int]
    documents: int
    seconds: float


# ---- content ------------------------------------------------------------------------------------
@dataclass
class Content:
    rows: dict[str, list[dict]] = field(default_factory=lambda: {t: [] for t in NEUTRAL_TABLES})
    mentions: list[dict] = field(default_factory=list)
    pages: list[dict] = field(default_factory=list)
    documents: list[DocumentSpec] = field(default_factory=list)
    document_truth: list[dict] = field(default_factory=list)


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


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


def _note(content: Content, world: World, child: Child, note_id: str, when: dt.date, rng, limit) -> None:
    note_type = _choice(rng, _NOTE_TYPES)
    writer = _writer_for(world, child, when, rng)
    worker_id = writer.worker.worker_id
    tb = compose_note(writer, note_type, world.split)
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


def _document(content: Content, world: World, child: Child, doc_id: str, when: dt.date, rng, seed) -> None:
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


def _form(content: Content, world: World, child: Child, form_id: str, when: dt.date, rng) -> None:
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
    rng = _rng(opts.seed, 3)
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
        rng = _rng(opts.seed, 4, i)
        start, end = _period(world, child)
        for _ in range(notes):
            n_note += 1
            _note(content, world, child, f"CN{n_note:08d}", _date_in(rng, start, end), rng, world.as_of)
        for _ in range(docs if opts.documents else 0):
            n_doc += 1
            _document(content, world, child, f"D{n_doc:08d}", _date_in(rng, start, end), rng, opts.seed)
        for _ in range(forms):
            n_form += 1
            _form(content, world, child, f"FM{n_form:08d}", _date_in(rng, start, end), rng)
        progress("compose", i + 1, len(world.children))


# ---- structured rows ----------------------------------------------------------------------------
def _typo(name: str) -> str:
    """A plausible keying error: two adjacent inner letters swapped (Smith -> Smtih)."""
    if len(name) < 4:
        return name + name[-1]
    i = len(name) // 2
    return name[: i - 1] + name[i] + name[i - 1] + name[i + 1 :]


def planned_typos(world: World, seed: int) -> dict[int, list[str]]:
    """Which people's surnames were keyed wrongly in the base extract, and the day each is corrected."""
    adults = sorted(p.person_id for p in world.people.values() if not p.is_child and p.family_id)
    per_day = max(1, len(world.children) // 1000)
    plan: dict[int, list[str]] = {}
    taken: set[str] = set()
    for day in range(1, TYPO_PLAN_DAYS + 1):
        rng = _rng(seed, 100, day)
        picks = [adults[int(j)] for j in rng.choice(len(adults), size=min(per_day, len(adults)), replace=False)]
        plan[day] = [
            p
            for p in picks
            if p not in taken and _typo(world.people[p].names[-1].surname) != world.people[p].names[-1].surname
        ]
        taken.update(plan[day])
    return plan


def structured_rows(world: World, content: Content, typos: set[str]) -> None:
    rows = content.rows
    for p in world.people.values():
        if not p.recorded:
            continue
        keyed_wrongly = p.person_id in typos
        rows["person"].append(_person_row(p, keyed_wrongly))
        for seq, ns in enumerate(p.names, start=1):
            sn = _typo(ns.surname) if keyed_wrongly and seq == len(p.names) else ns.surname
            rows["person_name"].append(
                {
                    "person_id": p.person_id,
                    "name_seq": seq,
                    "first_name": ns.first,
                    "surname": sn,
                    "valid_from": ns.valid_from,
                    "reason": ns.reason,
                }
            )
        for seq, gs in enumerate(p.genders, start=1):
            rows["person_gender"].append(
                {"person_id": p.person_id, "gender_seq": seq, "gender": gs.gender, "valid_from": gs.valid_from}
            )
        for a in p.addresses:
            rows["person_address"].append(_address_row(p.person_id, a))
    for r in world.relationships:
        rows["relationship"].append(
            {
                "relationship_id": r.relationship_id,
                "child_id": r.child_id,
                "person_id": r.person_id,
                "relation": r.relation,
                "valid_from": r.start,
                "valid_to": r.end,
            }
        )
    for w in world.workers:
        n = w.person.names[-1]
        rows["worker"].append(
            {
                "worker_id": w.worker_id,
                "first_name": n.first,
                "surname": n.surname,
                "role": w.role,
                "team": w.team,
                "email": w.person.email,
                "phone": w.person.phone,
            }
        )
    for inv in world.involvements:
        rows["involvement"].append(
            {
                "involvement_id": inv.involvement_id,
                "child_id": inv.child_id,
                "worker_id": inv.worker_id,
                "involvement_type": inv.kind,
                "start_date": inv.start,
                "end_date": inv.end,
            }
        )
    for e in world.episodes:
        rows[_episode_table(e.kind)].append(_episode_row(e))
    for r in world.reviews:
        rows["cla_review"].append(
            {
                "review_id": r.review_id,
                "child_id": r.child_id,
                "review_date": r.review_date,
                "participation": r.participation,
            }
        )
    for m in world.missing:
        rows["missing_episode"].append(
            {
                "missing_id": m.missing_id,
                "child_id": m.child_id,
                "missing_type": m.missing_type,
                "start_date": m.start,
                "end_date": m.end,
            }
        )
    for a in world.adoptions:
        rows["adoption"].append(
            {
                "adoption_id": a.adoption_id,
                "child_id": a.child_id,
                "household_id": a.household_id,
                "entered_care": a.entered_care,
                "decision_to_place": a.decision_to_place,
                "placement_order": a.placement_order,
                "matched": a.matched,
                "placed": a.placed,
                "adoption_order": a.adoption_order,
                "sibling_group_id": a.sibling_group_id,
                "adopted_by_foster_carer": a.adopted_by_foster_carer,
            }
        )
    for h in world.households:
        rows["adopter_household"].append(
            {
                "household_id": h.household_id,
                "household_type": h.household_type,
                "adult_1_id": h.adult_ids[0],
                "adult_2_id": h.adult_ids[1] if len(h.adult_ids) > 1 else None,
                "adult_1_age": h.ages[0],
                "adult_2_age": h.ages[1] if len(h.ages) > 1 else None,
                "ethnicity": h.ethnicity,
                "religion": h.religion,
                "prior_fostering": h.prior_fostering,
                "years_fostering": h.years_fostering,
                "birth_children": h.birth_children,
                "occupation_sector": h.occupation_sector,
                "region": h.region,
                "approval_date": h.approval_date,
                "status": "Matched" if h.matched else "Approved - waiting",
                "pref_sibling_group": h.preferences["sibling_group"],
                "pref_age_5_plus": h.preferences["age_5_plus"],
                "pref_minority_ethnic": h.preferences["minority_ethnic"],
                "pref_disability": h.preferences["disability"],
                "report_text": h.report_text,
            }
        )
    for r in world.restrictions:
        for wid in r.worker_ids:
            rows["access_restriction"].append(
                {"child_id": r.child_id, "worker_id": wid, "reason": r.reason, "valid_from": r.start}
            )


def _person_row(p, keyed_wrongly: bool) -> dict:
    """A person as the source system holds them today; ``keyed_wrongly`` writes the surname with its typo."""
    spell = p.names[-1]
    return {
        "person_id": p.person_id,
        "first_name": spell.first,
        "middle_name": p.middle,
        "surname": _typo(spell.surname) if keyed_wrongly else spell.surname,
        "dob": p.dob,
        "sex": p.sex,
        "gender": p.genders[-1].gender,
        "ethnicity": p.ethnicity,
        "disability": p.disability,
        "upn": p.upn,
        "nhs_number": p.nhs_number,
        "person_type": "child" if p.is_child else "adult",
        "phone": p.phone,
        "email": p.email,
        "is_mother": p.is_mother,
    }


def _address_row(person_id: str, a: AddressSpell) -> dict:
    return {
        "person_id": person_id,
        "address_id": a.address.address_id,
        "line1": a.address.line1,
        "town": a.address.town,
        "postcode": a.address.postcode,
        "valid_from": a.valid_from,
        "valid_to": a.valid_to,
    }


def _episode_table(kind: str) -> str:
    return {"CIN": "cin_episode", "CP": "cp_plan", "CLA": "cla_episode"}[kind]


def _episode_row(e) -> dict:
    if e.kind == "CIN":
        return {
            "episode_id": e.episode_id,
            "child_id": e.child_id,
            "start_date": e.start,
            "end_date": e.end,
            "reason_code": e.code,
        }
    if e.kind == "CP":
        return {
            "episode_id": e.episode_id,
            "child_id": e.child_id,
            "start_date": e.start,
            "end_date": e.end,
            "category": e.code,
        }
    return {
        "episode_id": e.episode_id,
        "child_id": e.child_id,
        "start_date": e.start,
        "end_date": e.end,
        "legal_status": e.code,
        "reason_new": e.reason_new,
        "reason_end": e.reason_end,
        "placement_type": e.placement_type,
        "placement_postcode": e.placement_postcode,
        "placement_provider": e.placement_provider,
        "carer_id": e.carer_id,
        "urn": e.urn,
        "reason_place_change": e.reason_place_change,
    }


def adopter_report(world: World, seed: int) -> None:
    """The prospective adopter report (PAR) summary: the text-heavy record the agency analyses."""
    rng = _rng(seed, 9)
    for h in world.households:
        names = " and ".join(world.people[a].names[-1].first for a in h.adult_ids)
        h.report_text = prospective_adopter_report(h, names, rng)


# ---- rendering rows as a flavour, with defects -------------------------------------------------
def _render_value(flavour: SourceSystem, table: str, col: str, value) -> str:
    spec = NEUTRAL_TABLES[table]
    if value is None:
        return ""
    if col in spec.get("datetimes", ()):
        return flavour.format_datetime(value)
    if col in spec.get("dates", ()):
        return flavour.format_date(value)
    if isinstance(value, bool) or col in YES_NO_COLUMNS:
        return flavour.code("yes_no", str(bool(value)).lower())
    if col in ("sex", "gender", "relation", "person_type"):
        return flavour.code(col, str(value))
    if col == "reason" and table == "person_gender":
        return str(value)
    return str(value)


def render_table(flavour: SourceSystem, table: str, rows: list[dict]) -> list[dict[str, str]]:
    cols = NEUTRAL_TABLES[table]["columns"]
    return [{flavour.column(table, c): _render_value(flavour, table, c, r.get(c)) for c in cols} for r in rows]


def inject_defects(
    flavour: SourceSystem,
    table: str,
    rows: list[dict[str, str]],
    rng: np.random.Generator,
    rate: float,
    as_of: dt.date,
    start: int = 0,
) -> tuple[list[dict[str, str]], list[dict]]:
    """Mess up about ``rate`` of the rows, one defect each, and say exactly where and what. ``start``: the data
    rows of the file written before these (a table written in chunks continues ``rng`` and the row numbers)."""
    spec = NEUTRAL_TABLES[table]
    col = lambda c: flavour.column(table, c)  # noqa: E731
    dates = [c for c in (*spec.get("dates", ()), *spec.get("datetimes", ()))]
    codes = [c for c in spec.get("codes", ())]
    text_col = TEXT_COLUMNS.get(table)
    applicable = [
        k
        for k in DEFECT_KINDS
        if k in ("duplicate_row", "missing_required", "stray_whitespace")
        or (k in ("malformed_date", "future_date") and dates)
        or (k == "invalid_code" and codes)
        or (k == "cp1252_char" and text_col)
        or k == "inconsistent_case"
    ]
    out: list[dict[str, str]] = []
    marks: list[tuple[int, dict]] = []
    for row in rows:
        out.append(row)
        if table in NO_DEFECT_TABLES or rng.random() >= rate:
            continue
        # The defect's kind and column come from the row's own generator: a choice that one export shape
        # cannot make (Mosaic's 1/0 codes have no case) must not shift the defects of later rows.
        rng_row = np.random.default_rng([int(rng.integers(0, 2**32)), start + len(out)])
        kind = applicable[int(rng_row.integers(0, len(applicable)))]
        record = {
            "table": table,
            "source_table": flavour.table(table),
            "defect": kind,
            "expected": DEFECT_EXPECTED[kind],
            "key": "|".join(row[col(k)] for k in spec["key"]),
        }
        column, original, value = None, None, None
        if kind == "duplicate_row":
            out.append(dict(row))
            marks.append((len(out) - 1, record))
            continue
        if kind == "missing_required":
            column = str(rng_row.choice(spec["required"]))
            value = ""
        elif kind in ("malformed_date", "future_date"):
            filled = [c for c in dates if row[col(c)]]
            if not filled:
                continue
            column = str(rng_row.choice(filled))
            if kind == "malformed_date":
                value = str(
                    rng_row.choice(["31/02/2021", "2021-13-45", "00/00/0000", "unknown", "32-JAN-2020", "1/1/21x"])
                )
            else:
                future = as_of + dt.timedelta(days=int(rng_row.integers(400, 3000)))
                value = (
                    flavour.format_datetime(dt.datetime(future.year, future.month, future.day, 9, 0))
                    if column in spec.get("datetimes", ())
                    else flavour.format_date(future)
                )
        elif kind == "invalid_code":
            filled = [c for c in codes if row[col(c)]]
            if not filled:
                continue
            column = str(rng_row.choice(filled))
            value = "ZZ9"
        elif kind == "cp1252_char":
            if not text_col or not row[col(text_col)]:
                continue
            column = text_col
            v = row[col(column)]
            if "'" in v:
                value = v.replace("'", "\ue000", 1)
            elif "e" in v:
                i = v.rindex("e")
                value = v[:i] + "\ue001" + v[i + 1 :]
            else:
                value = v + "\ue000"
        elif kind == "stray_whitespace":
            filled = [c for c in spec["columns"] if row[col(c)] and c not in dates]
            column = str(rng_row.choice(filled))
            value = f"  {row[col(column)]} "
        elif kind == "inconsistent_case":
            filled = [c for c in (*codes, "surname", "first_name") if c in spec["columns"] and row[col(c)]]
            filled = [c for c in filled if row[col(c)].upper() != row[col(c)].lower()]
            if not filled:
                continue
            column = str(rng_row.choice(filled))
            v = row[col(column)]
            value = v.lower() if v != v.lower() else v.upper()
        original = row[col(column)]
        row[col(column)] = value
        record.update(
            {"column": column, "source_column": col(column), "original": original, "value": decode_marks(value)}
        )
        marks.append((len(out) - 1, record))
    defects = []
    for index, record in marks:
        record["row_number"] = start + index + 1  # 1-based data row, header excluded
        defects.append(record)
    return out, defects


def write_csv(path: Path, flavour: SourceSystem, rows: list[dict[str, str]], columns: list[str]) -> None:
    """UTF-8 CSV, except cells marked for cp1252, whose marked character is written as one cp1252 byte."""
    path.write_bytes(csv_bytes(flavour, rows, columns, header=True))


def csv_bytes(flavour: SourceSystem, rows: list[dict[str, str]], columns: list[str], header: bool) -> bytes:
    """Rows (after the header line when ``header``) as :func:`write_csv` writes them."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=flavour.delimiter, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    if header:
        w.writerow(columns)
    for r in rows:
        w.writerow([r[c] for c in columns])
    data = buf.getvalue().encode("utf-8")
    for mark, (_, byte) in CP1252_MARKS.items():
        data = data.replace(mark.encode("utf-8"), byte)
    return data


def decode_marks(value: str) -> str:
    """The value as a reader that falls back to cp1252 would see it."""
    for mark, (char, _) in CP1252_MARKS.items():
        value = value.replace(mark, char)
    return value


# ---- writing an extract and its truth -----------------------------------------------------------
class _DocumentRenderer:
    """Renders documents into one extract, a batch at a time (the base extract's chunks), with one worker pool
    for them all; ``.doc`` files go through LibreOffice a batch at a time."""

    def __init__(self, extract_dir: Path, processes: int, total: int, progress: Progress) -> None:
        self.extract_dir, self.processes, self.total, self.progress = extract_dir, processes, total, progress
        self.done = self.converted = 0
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> _DocumentRenderer:
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown()

    def render(self, specs: list[DocumentSpec]) -> None:
        """Render each spec to ``extract_dir / spec.file_name``."""
        if not specs:
            return
        store = self.extract_dir / "documents"
        store.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="caselake-docx-") as tmp:
            staging = Path(tmp)
            if self.processes > 1 and (self.pool is not None or len(specs) > 20):
                # spawn, not fork: the caller (a test session, a Dagster run) may already hold threads of native
                # libraries (gRPC, DuckDB, torch), and a forked child inherits their locks mid-state; forked
                # render workers crashed inside fontTools that way.
                if self.pool is None:
                    self.pool = ProcessPoolExecutor(self.processes, mp_context=mp.get_context("spawn"))
                futures = [self.pool.submit(render, s, self.extract_dir, staging) for s in specs]
                for f in futures:
                    f.result()
                    self.done += 1
                    self.progress("documents", self.done, self.total)
            else:
                for s in specs:
                    render(s, self.extract_dir, staging)
                    self.done += 1
                    self.progress("documents", self.done, self.total)
            n = len(list(staging.glob("*.docx")))
            self.progress("legacy .doc (LibreOffice)", self.converted, self.converted + n)
            convert_to_doc(staging, store, workers=max(1, min(self.processes, 4)))
            self.converted += n
            self.progress("legacy .doc (LibreOffice)", self.converted, self.converted)


def _render_documents(specs: list[DocumentSpec], extract_dir: Path, processes: int, progress: Progress) -> None:
    """Render each spec to ``extract_dir / spec.file_name``; .doc files go through LibreOffice in one batch."""
    with _DocumentRenderer(extract_dir, processes, len(specs), progress) as renderer:
        renderer.render(specs)


class _ExtractWriter:
    """Writes an extract's tables as the flavour's CSV files, defects injected, each table in one or more
    batches of rows (the same bytes as in one). A full extract writes every table, an empty one with its header
    only; a change extract writes only the tables with rows."""

    def __init__(self, flavour: SourceSystem, extract_dir: Path, opts: SynthOptions, day: int, kind: str) -> None:
        self.flavour, self.extract_dir, self.opts, self.day, self.kind = flavour, extract_dir, opts, day, kind
        self.rows: dict[str, int] = {}  # neutral table -> data rows written so far
        self.rngs: dict[str, np.random.Generator] = {}
        self.defects: list[dict] = []
        extract_dir.mkdir(parents=True, exist_ok=True)

    def _path(self, table: str) -> Path:
        return self.extract_dir / f"{self.flavour.table(table)}.csv"

    def _columns(self, table: str) -> list[str]:
        return [self.flavour.column(table, c) for c in NEUTRAL_TABLES[table]["columns"]]

    def add(self, table: str, rows: list[dict]) -> None:
        if not rows:
            return
        if table not in self.rows:
            self.rows[table] = 0
            t_index = list(NEUTRAL_TABLES).index(table)
            self.rngs[table] = _rng(self.opts.seed, 7, self.day, t_index)
        rendered = render_table(self.flavour, table, rows)
        rendered, found = inject_defects(
            self.flavour,
            table,
            rendered,
            self.rngs[table],
            self.opts.defect_rate,
            self.opts.as_of,
            start=self.rows[table],
        )
        file_name = self._path(table).name
        for d in found:
            d["file"] = file_name
        self.defects.extend(found)
        first = self.rows[table] == 0
        with self._path(table).open("wb" if first else "ab") as f:
            f.write(csv_bytes(self.flavour, rendered, self._columns(table), header=first))
        self.rows[table] += len(rendered)

    def add_all(self, rows: dict[str, list[dict]]) -> None:
        for table, table_rows in rows.items():
            self.add(table, table_rows)

    def close(self) -> tuple[dict[str, int], list[dict]]:
        """The rows written per source table, and the defects injected (in table order)."""
        if self.kind == "full":
            for table in NEUTRAL_TABLES:
                if table not in self.rows:
                    self._path(table).write_bytes(csv_bytes(self.flavour, [], self._columns(table), header=True))
                    self.rows[table] = 0
        order = list(NEUTRAL_TABLES)
        tables = sorted(self.rows, key=order.index)
        self.defects.sort(key=lambda d: order.index(d["table"]))  # stable: each table's own order is kept
        return {self.flavour.table(t): self.rows[t] for t in tables}, self.defects


def write_extract(
    flavour: SourceSystem, extract_dir: Path, content: Content, opts: SynthOptions, day: int, kind: str
) -> tuple[dict[str, int], list[dict]]:
    """Write every table of ``content`` as the flavour's CSV files, defects injected; return counts and defects."""
    writer = _ExtractWriter(flavour, extract_dir, opts, day, kind)
    writer.add_all(content.rows)
    return writer.close()


def write_control_file(
    extract_dir: Path, flavour: SourceSystem, extract_date: dt.date, kind: str, counts: dict[str, int], documents: int
) -> None:
    """Written last: its presence says the extract is complete, so a sensor never reads a half-written drop."""
    control = {
        "source_system": flavour.name,
        "extract_id": f"{flavour.source}-{extract_date.isoformat()}",
        "extract_date": extract_date.isoformat(),
        "extract_kind": kind,
        "delimiter": flavour.delimiter,
        "encoding": "utf-8",
        "tables": {name: {"file": f"{name}.csv", "rows": n} for name, n in sorted(counts.items())},
        "documents": documents,
    }
    (extract_dir / "_extract.json").write_text(json.dumps(control, indent=2, sort_keys=True) + "\n")


def _parquet(path: Path, rows: list[dict], schema: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df = pl.DataFrame(rows, schema=schema, infer_schema_length=None) if rows else pl.DataFrame(schema=schema or {})
    # Statistics carry no timestamps, but keep files lean and byte-stable anyway.
    df.write_parquet(path, compression="zstd", statistics=False)


class _TextTruth:
    """The truth of the text composed (mentions, pages, documents), appended to its Parquet files a chunk at a
    time: a large council's mentions never sit in memory all at once."""

    def __init__(self, truth: Path) -> None:
        truth.mkdir(parents=True, exist_ok=True)
        self.files = {
            "mentions": (truth / "mentions.parquet", _MENTION_SCHEMA),
            "pages": (truth / "pages.parquet", _PAGE_SCHEMA),
            "documents": (truth / "documents.parquet", _DOCUMENT_TRUTH_SCHEMA),
        }
        self.writers: dict[str, pq.ParquetWriter] = {}

    def __enter__(self) -> _TextTruth:
        return self

    def __exit__(self, *exc) -> None:
        for writer in self.writers.values():
            writer.close()

    def add(self, content: Content) -> None:
        for name, rows in (
            ("mentions", content.mentions),
            ("pages", content.pages),
            ("documents", content.document_truth),
        ):
            path, schema = self.files[name]
            frame = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
            table = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
            if name not in self.writers:
                self.writers[name] = pq.ParquetWriter(path, table.schema, compression="zstd", write_statistics=False)
            self.writers[name].write_table(table)


def write_truth(
    truth: Path, world: World, defects: list[dict], typos: dict[int, list[str]], opts: SynthOptions
) -> None:
    """The truth of the world and the extract's defects (the text's own truth: :class:`_TextTruth`)."""
    truth.mkdir(parents=True, exist_ok=True)
    people = []
    for p in world.people.values():
        variants = sorted({n.first for n in p.names} | set(p.nicknames(world.as_of)) | {n.surname for n in p.names})
        people.append(
            {
                "person_id": p.person_id,
                "first_name": p.names[-1].first,
                "surname": p.names[-1].surname,
                "dob": p.dob,
                "sex": p.sex,
                "ethnicity": p.ethnicity,
                "is_child": p.is_child,
                "family_id": p.family_id,
                "disability": p.disability,
                "minority_ethnic": p.minority_ethnic,
                "name_variants": variants,
                "name_history": [f"{n.valid_from}:{n.first} {n.surname} ({n.reason})" for n in p.names],
            }
        )
    _parquet(truth / "persons.parquet", people)
    _parquet(truth / "defects.parquet", defects, schema=_DEFECT_SCHEMA)
    rels = [asdict(r) for r in world.relationships]
    _parquet(truth / "relationships.parquet", rels)
    restrictions = [
        {"child_id": r.child_id, "worker_ids": r.worker_ids, "reason": r.reason} for r in world.restrictions
    ]
    _parquet(truth / "restrictions.parquet", restrictions)
    _parquet(
        truth / "name_typos.parquet",
        [
            {
                "person_id": pid,
                "recorded_surname": _typo(world.people[pid].names[-1].surname),
                "true_surname": world.people[pid].names[-1].surname,
                "corrected_on_day": day,
            }
            for day, pids in typos.items()
            for pid in pids
        ],
        schema={
            "person_id": pl.String,
            "recorded_surname": pl.String,
            "true_surname": pl.String,
            "corrected_on_day": pl.Int64,
        },
    )
    # Adoption: the planted effects and which waiting households fit each cohort.
    fits = cohort_fit_rows(world.households)
    _parquet(truth / "adopter_cohort_fit.parquet", fits)
    summary = {
        "seed": opts.seed,
        "split": opts.split,
        "flavour": opts.flavour,
        "as_of": opts.as_of.isoformat(),
        "children": len(world.children),
        "people": len(world.people),
        "workers": len(world.workers),
        "households": len(world.households),
        "adoptions": len(world.adoptions),
        "planted_effects": world.planted_effects,
        "defect_rate": opts.defect_rate,
        "structured_only": opts.structured_only,
        "defect_expectations": DEFECT_EXPECTED,
        "minority_ethnic_excludes": sorted(NOT_MINORITY),
    }
    (truth / "council.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")


_MENTION_SCHEMA = {
    "source_type": pl.String,
    "source_id": pl.String,
    "child_id": pl.String,
    "page": pl.Int64,
    "start": pl.Int64,
    "end": pl.Int64,
    "label": pl.String,
    "text": pl.String,
    "person_id": pl.String,
}
_PAGE_SCHEMA = {
    "document_id": pl.String,
    "page": pl.Int64,
    "text": pl.String,
    "scanned": pl.Boolean,
    "format": pl.String,
}
_DOCUMENT_TRUTH_SCHEMA = {
    "document_id": pl.String,
    "child_id": pl.String,
    "document_type": pl.String,
    "format": pl.String,
    "fault": pl.String,
    "file_name": pl.String,
    "pages": pl.Int64,
}
_SSDA903_DEFECT_SCHEMA = {
    "kind": pl.String,
    "rule": pl.String,
    "child_id": pl.String,
    "episode_id": pl.String,
    "original": pl.String,
    "value": pl.String,
}
_DEFECT_SCHEMA = {
    "table": pl.String,
    "source_table": pl.String,
    "file": pl.String,
    "row_number": pl.Int64,
    "defect": pl.String,
    "expected": pl.String,
    "key": pl.String,
    "column": pl.String,
    "source_column": pl.String,
    "original": pl.String,
    "value": pl.String,
}


def build_world(opts: SynthOptions) -> World:
    if opts.flavour not in SOURCES:
        raise ValueError(f"flavour must be one of {sorted(SOURCES)}, not {opts.flavour!r}")
    if opts.children < 1:
        raise ValueError("children must be at least 1")
    world = WorldBuilder(pools_for(opts.split), opts.seed, opts.as_of, opts.children).build()
    adopter_report(world, opts.seed)
    return world


def ssda903_year_end(as_of: dt.date) -> dt.date:
    """The 31 March that ends the last complete SSDA903 collection year before ``as_of``."""
    return dt.date(as_of.year if as_of.month > 3 else as_of.year - 1, 3, 31)


def plant_ssda903_defects(world: World, opts: SynthOptions) -> list[dict]:
    """Errors a case worker really keys, each one that the DfE's 903 rules catch, planted on children looked
    after in the collection year (only when the council has defects at all). They are valid to every contract
    upstream, so they reach the return: the validator, not staging, must find them.

    - upn_letter_o_for_zero: a letter O keyed for a zero in the UPN (rule 168; the DfE checks the UPN's form,
      not its check letter);
    - placement_postcode_not_real: a well-formed placement postcode that does not exist (rule 392c);
    - mother_under_11: a girl under 11 recorded as a mother (rule 620).
    """
    if opts.defect_rate <= 0:
        return []
    year_end = ssda903_year_end(opts.as_of)
    year_start = dt.date(year_end.year - 1, 4, 1)
    in_year = [
        e for e in world.episodes if e.kind == "CLA" and e.start <= year_end and (e.end is None or e.end >= year_start)
    ]
    rng = _rng(opts.seed, 903)
    order = [in_year[int(i)] for i in rng.permutation(len(in_year))]
    planted, used = [], set()

    def pick(ok) -> Episode | None:
        for e in order:
            if e.child_id not in used and ok(e):
                used.add(e.child_id)
                return e
        return None

    person = world.people
    e = pick(lambda e: person[e.child_id].upn is not None)
    if e:
        child = person[e.child_id]
        original = child.upn
        zero = original.find("0", 4)
        child.upn = original[:zero] + "O" + original[zero + 1 :] if zero != -1 else original[:6] + "O" + original[7:]
        planted.append(
            {
                "kind": "upn_letter_o_for_zero",
                "rule": "168",
                "child_id": child.person_id,
                "episode_id": None,
                "original": original,
                "value": child.upn,
            }
        )
    e = pick(lambda e: e.placement_postcode is not None)
    if e:
        original = e.placement_postcode
        e.placement_postcode = original.split()[0] + " 9ZZ"  # the ZZ units are never issued
        planted.append(
            {
                "kind": "placement_postcode_not_real",
                "rule": "392c",
                "child_id": e.child_id,
                "episode_id": e.episode_id,
                "original": original,
                "value": e.placement_postcode,
            }
        )
    e = pick(lambda e: person[e.child_id].sex == "F" and (year_end - person[e.child_id].dob).days < 365 * 10)
    if e:
        person[e.child_id].is_mother = True
        planted.append(
            {
                "kind": "mother_under_11",
                "rule": "620",
                "child_id": e.child_id,
                "episode_id": None,
                "original": "0",
                "value": "1",
            }
        )
    return planted


def generate(opts: SynthOptions, progress: Progress = no_progress) -> SynthResult:
    """Write the day-0 full extract and the truth. Refuses to overwrite an existing drop."""
    t0 = time.perf_counter()
    flavour = SOURCES[opts.flavour]
    extract_dir = opts.out / "landing" / flavour.source / opts.as_of.isoformat()
    if extract_dir.exists():
        raise FileExistsError(f"{extract_dir} exists: choose another --out or delete it")
    progress("world", 0, 1)
    world = build_world(opts)
    ssda903_defects = plant_ssda903_defects(world, opts)
    progress("world", 1, 1)
    typos = planned_typos(world, opts.seed)
    counts = base_counts(world, opts)
    writer = _ExtractWriter(flavour, extract_dir, opts, day=0, kind="full")
    # The text is composed, its documents rendered and its rows written a chunk of children at a time.
    total_docs = sum(c[1] for c in counts) if opts.documents else 0
    with (
        _DocumentRenderer(extract_dir, opts.processes, total_docs, progress) as renderer,
        _TextTruth(opts.out / "truth") as text_truth,
    ):
        for first in range(0, len(world.children), CHUNK_CHILDREN):
            chunk = Content()
            compose_children(
                chunk, world, opts, counts, first, min(first + CHUNK_CHILDREN, len(world.children)), progress
            )
            renderer.render(chunk.documents)
            writer.add_all(chunk.rows)
            text_truth.add(chunk)
    progress("tables", 0, 1)
    structured = Content()
    structured_rows(world, structured, {p for ps in typos.values() for p in ps})
    for table, table_rows in structured.rows.items():  # written in slices and let go: no second copy of a table
        for start in range(0, len(table_rows), 50_000):
            writer.add(table, table_rows[start : start + 50_000])
        table_rows.clear()
    rows, defects = writer.close()
    write_truth(opts.out / "truth", world, defects, typos, opts)
    _parquet(opts.out / "truth" / "ssda903_defects.parquet", ssda903_defects, schema=_SSDA903_DEFECT_SCHEMA)
    write_control_file(extract_dir, flavour, opts.as_of, "full", rows, total_docs)
    progress("tables", 1, 1)
    return SynthResult(extract_dir, opts.out / "truth", opts.as_of, 0, rows, total_docs, time.perf_counter() - t0)


# ---- next-day change extracts -------------------------------------------------------------------
def existing_days(opts: SynthOptions) -> list[dt.date]:
    root = opts.out / "landing" / SOURCES[opts.flavour].source
    if not root.exists():
        return []
    return sorted(dt.date.fromisoformat(p.name) for p in root.iterdir() if (p / "_extract.json").exists())


def apply_day_changes(
    world: World,
    opts: SynthOptions,
    day: int,
    typos: dict[int, list[str]],
    base_notes: int,
    deleted: set[str],
    content: Content | None,
) -> list[dict]:
    """Mutate ``world`` with day ``day``'s updates; when ``content`` is given, also write that day's rows."""
    rng = _rng(opts.seed, 200, day)
    when = opts.as_of + dt.timedelta(days=day)
    n = len(world.children)
    changes: list[dict] = []
    open_children = [c for c in world.children if c.closed is None]
    # Address changes: a family moves; the old address is end-dated and the new one starts.
    builder = WorldBuilder(pools_for(opts.split), opts.seed * 1000 + day, opts.as_of, 0)
    builder._counters["A"] = 9_000_000 + day * 1000
    for j in rng.choice(len(open_children), size=min(len(open_children), max(1, round(n * 0.002))), replace=False):
        child = open_children[int(j)]
        mover = child.relations["mother"][0]
        new_address: Address = builder.address()
        for person in (mover, child.person):
            person.addresses[-1].valid_to = when
            person.addresses.append(AddressSpell(when, None, new_address))
            changes.append(
                {
                    "table": "person_address",
                    "key": f"{person.person_id}|{new_address.address_id}",
                    "change": "update",
                    "detail": f"moved to {new_address.one_line}",
                }
            )
            if content is not None:
                content.rows["person_address"].append(_address_row(person.person_id, person.addresses[-2]))
                content.rows["person_address"].append(_address_row(person.person_id, person.addresses[-1]))
    # Episode closures.
    open_eps = [e for e in world.episodes if e.end is None and e.start < when]
    for j in (
        rng.choice(len(open_eps), size=min(len(open_eps), max(1, round(n * 0.002))), replace=False) if open_eps else []
    ):
        e = open_eps[int(j)]
        e.end = when
        if e.kind == "CLA":
            e.reason_end = "E13"
        changes.append({"table": _episode_table(e.kind), "key": e.episode_id, "change": "update", "detail": "closed"})
        if content is not None:
            content.rows[_episode_table(e.kind)].append(_episode_row(e))
    # Name corrections: a surname keyed wrongly in the base extract is put right.
    for pid in typos.get(day, []):
        p = world.people[pid]
        changes.append(
            {
                "table": "person",
                "key": pid,
                "change": "update",
                "detail": f"surname corrected {_typo(p.names[-1].surname)} -> {p.names[-1].surname}",
            }
        )
        if content is not None:
            spell = p.names[-1]
            content.rows["person"].append(_person_row(p, keyed_wrongly=False))
            content.rows["person_name"].append(
                {
                    "person_id": pid,
                    "name_seq": len(p.names),
                    "first_name": spell.first,
                    "surname": spell.surname,
                    "valid_from": spell.valid_from,
                    "reason": "correction",
                }
            )
    # Deletions: case notes recorded on the wrong child's file.
    for _ in range(max(1, round(n * 0.001))):
        note_id = f"CN{int(rng.integers(1, base_notes + 1)):08d}"
        if note_id in deleted:
            continue
        deleted.add(note_id)
        changes.append({"table": "case_note", "key": note_id, "change": "delete", "detail": "recorded on wrong file"})
        if content is not None:
            at = dt.datetime(when.year, when.month, when.day, 16, 30, tzinfo=dt.UTC)
            content.rows["deleted_record"].append(
                {"table_name": "case_note", "record_id": note_id, "deleted_at": at, "reason": "Recorded on wrong file"}
            )
    # New notes and documents at the pilot's daily rate.
    if content is not None:
        n_notes = max(1, round(n * NOTES_PER_CHILD_PER_DAY))
        n_docs = max(1, round(n * DOCUMENTS_PER_CHILD_PER_DAY)) if opts.documents else 0
        pick = [open_children[int(j)] for j in rng.choice(len(open_children), size=n_notes + n_docs)]
        for i, child in enumerate(pick[:n_notes], start=1):
            note_id = f"CN9{day:03d}{i:04d}"
            _note(content, world, child, note_id, when, rng, when)
            changes.append({"table": "case_note", "key": note_id, "change": "insert", "detail": "new note"})
        for i, child in enumerate(pick[n_notes:], start=1):
            doc_id = f"D9{day:03d}{i:04d}"
            _document(content, world, child, doc_id, when, rng, opts.seed)
            changes.append({"table": "document", "key": doc_id, "change": "insert", "detail": "new document"})
    return changes


def generate_next_day(opts: SynthOptions, progress: Progress = no_progress) -> SynthResult:
    """Write the extract for the day after the latest one in ``opts.out``: only what changed."""
    t0 = time.perf_counter()
    flavour = SOURCES[opts.flavour]
    days = existing_days(opts)
    if not days or days[0] != opts.as_of:
        raise FileNotFoundError(f"no base extract for {opts.as_of} under {opts.out}: run `caselake synth` first")
    day = (days[-1] - opts.as_of).days + 1
    summary = opts.out / "truth" / "council.json"
    if summary.exists() and json.loads(summary.read_text()).get("structured_only"):
        opts = replace(opts, structured_only=True)  # a council without documents stays without them
    world = build_world(opts)
    plant_ssda903_defects(world, opts)  # the same world as day 0: a changed row must not silently fix them
    typos = planned_typos(world, opts.seed)
    base_notes = sum(c[0] for c in base_counts(world, opts))
    deleted: set[str] = set()
    for earlier in range(1, day):
        apply_day_changes(world, opts, earlier, typos, base_notes, deleted, None)
    content = Content()
    changes = apply_day_changes(world, opts, day, typos, base_notes, deleted, content)
    when = opts.as_of + dt.timedelta(days=day)
    extract_dir = opts.out / "landing" / flavour.source / when.isoformat()
    if content.documents:
        _render_documents(content.documents, extract_dir, opts.processes, progress)
    counts, defects = write_extract(flavour, extract_dir, content, opts, day=day, kind="delta")
    truth = opts.out / "truth" / "days" / when.isoformat()
    _parquet(truth / "changes.parquet", changes)
    _parquet(truth / "mentions.parquet", content.mentions, schema=_MENTION_SCHEMA)
    _parquet(truth / "pages.parquet", content.pages, schema=_PAGE_SCHEMA)
    _parquet(truth / "documents.parquet", content.document_truth, schema=_DOCUMENT_TRUTH_SCHEMA)
    _parquet(truth / "defects.parquet", defects, schema=_DEFECT_SCHEMA)
    write_control_file(extract_dir, flavour, when, "delta", counts, len(content.documents))
    return SynthResult(extract_dir, truth, when, day, counts, len(content.documents), time.perf_counter() - t0)
