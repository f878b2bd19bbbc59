"""Next-day change extracts: day N+1's new and updated rows and deletions, derived from the same seed as the
base extract, so the truth of every change is known (``truth/days/<date>/changes.parquet``).

A day's changes are a table of small steps run in order (:data:`DAY_CHANGES`), each drawing from the day's one
random stream; days before the one written are replayed without their rows, to bring the world up to date.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from lake.contracts.sources import SOURCES
from lake.progress import Progress, no_progress
from synth.council.content import Content, add_document, add_note, base_counts
from synth.council.options import SynthOptions, SynthResult, random_stream
from synth.council.structured import address_row, episode_row, episode_table, person_row, planned_typos, with_typo
from synth.council.writing import (
    DEFECT_SCHEMA,
    DOCUMENT_TRUTH_SCHEMA,
    MENTION_SCHEMA,
    PAGE_SCHEMA,
    build_world,
    plant_ssda903_defects,
    render_documents,
    write_control_file,
    write_extract,
    write_parquet,
)
from synth.pools import pools_for
from synth.world import Address, AddressSpell, Child, World, WorldBuilder

# The pilot council's yearly flow (its evaluation report: 551k notes, 210k documents a year, 457k children).
NOTES_PER_CHILD_PER_DAY = 551_000 / 456_970 / 365
DOCUMENTS_PER_CHILD_PER_DAY = 210_000 / 456_970 / 365


def existing_days(opts: SynthOptions) -> list[dt.date]:
    root = opts.out / "landing" / SOURCES[opts.flavour].source
    if not root.exists():
        return []
    return sorted(dt.date.fromisoformat(p.name) for p in root.iterdir() if (p / "_extract.json").exists())


@dataclass
class _Day:
    """One day of changes: what each step reads, the day's random stream, and what the steps have done so far."""

    world: World
    opts: SynthOptions
    day: int
    typos: dict[int, list[str]]
    base_notes: int
    deleted: set[str]  # case notes deleted on this day or before
    content: Content | None  # the day's rows, when the day is written (not when it is replayed)
    rng: np.random.Generator
    when: dt.date
    open_children: list[Child]
    changes: list[dict] = field(default_factory=list)

    @property
    def n_children(self) -> int:
        return len(self.world.children)

    def change(self, table: str, key: str, change: str, detail: str) -> None:
        self.changes.append({"table": table, "key": key, "change": change, "detail": detail})


def _families_move(d: _Day) -> None:
    """A family moves: the mother's and the child's old address is end-dated and the new one starts."""
    builder = WorldBuilder(pools_for(d.opts.split), d.opts.seed * 1000 + d.day, d.opts.as_of, 0)
    builder._counters["A"] = 9_000_000 + d.day * 1000
    n_open = len(d.open_children)
    for j in d.rng.choice(n_open, size=min(n_open, max(1, round(d.n_children * 0.002))), replace=False):
        child = d.open_children[int(j)]
        mover = child.relations["mother"][0]
        new_address: Address = builder.address()
        for person in (mover, child.person):
            person.addresses[-1].valid_to = d.when
            person.addresses.append(AddressSpell(d.when, None, new_address))
            key = f"{person.person_id}|{new_address.address_id}"
            d.change("person_address", key, "update", f"moved to {new_address.one_line}")
            if d.content is not None:
                d.content.rows["person_address"].append(address_row(person.person_id, person.addresses[-2]))
                d.content.rows["person_address"].append(address_row(person.person_id, person.addresses[-1]))


def _episodes_close(d: _Day) -> None:
    """Open CIN, CP and CLA episodes end (a period of care with reason E13, a referral with RC7: services ceased)."""
    open_eps = [e for e in d.world.episodes if e.end is None and e.start < d.when]
    size = min(len(open_eps), max(1, round(d.n_children * 0.002)))
    for j in d.rng.choice(len(open_eps), size=size, replace=False) if open_eps else []:
        e = open_eps[int(j)]
        e.end = d.when
        if e.kind == "CLA":
            e.reason_end = "E13"
        if e.kind == "CIN":
            e.closure_reason = "RC7"
        d.change(episode_table(e.kind), e.episode_id, "update", "closed")
        if d.content is not None:
            d.content.rows[episode_table(e.kind)].append(episode_row(e))


def _surnames_corrected(d: _Day) -> None:
    """A surname keyed wrongly in the base extract is put right, with a ``correction`` in the name history."""
    for pid in d.typos.get(d.day, []):
        p = d.world.people[pid]
        d.change(
            "person", pid, "update", f"surname corrected {with_typo(p.names[-1].surname)} -> {p.names[-1].surname}"
        )
        if d.content is not None:
            spell = p.names[-1]
            d.content.rows["person"].append(person_row(p, keyed_wrongly=False))
            d.content.rows["person_name"].append(
                {
                    "person_id": pid,
                    "name_seq": len(p.names),
                    "first_name": spell.first,
                    "surname": spell.surname,
                    "valid_from": spell.valid_from,
                    "reason": "correction",
                }
            )


def _notes_deleted(d: _Day) -> None:
    """Case notes recorded on the wrong child's file are deleted."""
    for _ in range(max(1, round(d.n_children * 0.001))):
        note_id = f"CN{int(d.rng.integers(1, d.base_notes + 1)):08d}"
        if note_id in d.deleted:
            continue
        d.deleted.add(note_id)
        d.change("case_note", note_id, "delete", "recorded on wrong file")
        if d.content is not None:
            at = dt.datetime(d.when.year, d.when.month, d.when.day, 16, 30, tzinfo=dt.UTC)
            d.content.rows["deleted_record"].append(
                {"table_name": "case_note", "record_id": note_id, "deleted_at": at, "reason": "Recorded on wrong file"}
            )


def _new_notes_and_documents(d: _Day) -> None:
    """New notes and documents at the pilot's daily rate (only on the day written: nothing later draws after)."""
    if d.content is None:
        return
    n_notes = max(1, round(d.n_children * NOTES_PER_CHILD_PER_DAY))
    n_docs = max(1, round(d.n_children * DOCUMENTS_PER_CHILD_PER_DAY)) if d.opts.documents else 0
    pick = [d.open_children[int(j)] for j in d.rng.choice(len(d.open_children), size=n_notes + n_docs)]
    for i, child in enumerate(pick[:n_notes], start=1):
        note_id = f"CN9{d.day:03d}{i:04d}"
        add_note(d.content, d.world, child, note_id, d.when, d.rng, d.when)
        d.change("case_note", note_id, "insert", "new note")
    for i, child in enumerate(pick[n_notes:], start=1):
        doc_id = f"D9{d.day:03d}{i:04d}"
        add_document(d.content, d.world, child, doc_id, d.when, d.rng, d.opts.seed)
        d.change("document", doc_id, "insert", "new document")


# A day's changes, in the order they draw from the day's stream: a new kind of change goes last, or every later
# draw (and so every later day's extract) moves.
DAY_CHANGES: dict[str, Callable[[_Day], None]] = {
    "address_change": _families_move,
    "episode_closure": _episodes_close,
    "surname_correction": _surnames_corrected,
    "case_note_deletion": _notes_deleted,
    "new_notes_and_documents": _new_notes_and_documents,
}


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
    rng = random_stream(opts.seed, 200, day)
    when = opts.as_of + dt.timedelta(days=day)
    open_children = [c for c in world.children if c.closed is None]
    d = _Day(world, opts, day, typos, base_notes, deleted, content, rng, when, open_children)
    for step in DAY_CHANGES.values():
        step(d)
    return d.changes


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
        render_documents(content.documents, extract_dir, opts.processes, progress)
    counts, defects = write_extract(flavour, extract_dir, content, opts, day=day, kind="delta")
    truth = opts.out / "truth" / "days" / when.isoformat()
    write_parquet(truth / "changes.parquet", changes)
    write_parquet(truth / "mentions.parquet", content.mentions, schema=MENTION_SCHEMA)
    write_parquet(truth / "pages.parquet", content.pages, schema=PAGE_SCHEMA)
    write_parquet(truth / "documents.parquet", content.document_truth, schema=DOCUMENT_TRUTH_SCHEMA)
    write_parquet(truth / "defects.parquet", defects, schema=DEFECT_SCHEMA)
    write_control_file(extract_dir, flavour, when, "delta", counts, len(content.documents))
    return SynthResult(extract_dir, truth, when, day, counts, len(content.documents), time.perf_counter() - t0)
