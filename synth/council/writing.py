"""Writing a council's day-0 full extract and its truth: the world built, the 903 errors planted, the text
composed, its documents rendered and its rows written a chunk of children at a time, and the control file
written last.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from lake.contracts.sources import NEUTRAL_TABLES, SOURCES, SourceSystem
from lake.progress import Progress, no_progress
from synth.council.content import Content, base_counts, compose_children
from synth.council.export_rows import DEFECT_EXPECTED, csv_bytes, inject_defects, render_table
from synth.council.options import SynthOptions, SynthResult, random_stream
from synth.council.pathway import build_pathway, plant_cin_defects
from synth.council.structured import adopter_report, planned_typos, structured_rows, with_typo
from synth.documents import DocumentSpec, convert_to_doc, render
from synth.pools import pools_for
from synth.world import NOT_MINORITY, Episode, World, WorldBuilder, cohort_fit_rows

# The base extract is composed, written and let go this many children at a time, so the generator's memory stays
# flat whatever the council's size (a 1,000-child council's notes and their truth spans alone hold about 0.5 GB).
CHUNK_CHILDREN = 500


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


def render_documents(specs: list[DocumentSpec], extract_dir: Path, processes: int, progress: Progress) -> None:
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
            self.rngs[table] = random_stream(self.opts.seed, 7, self.day, t_index)
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


def write_parquet(path: Path, rows: list[dict], schema: dict | None = None) -> None:
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
            "mentions": (truth / "mentions.parquet", MENTION_SCHEMA),
            "pages": (truth / "pages.parquet", PAGE_SCHEMA),
            "documents": (truth / "documents.parquet", DOCUMENT_TRUTH_SCHEMA),
            "statements": (truth / "factor_statements.parquet", STATEMENT_TRUTH_SCHEMA),
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
            ("statements", content.statements),
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
    # who is named in the records by their job: a worker, or a professional around a child (truth for disclosure)
    roles = {w.person.person_id: w.role for w in world.workers} | {
        prof.person.person_id: prof.role for child in world.children for prof in child.professionals
    }
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
                "recorded": p.recorded,
                "professional_role": roles.get(p.person_id),
            }
        )
    write_parquet(truth / "persons.parquet", people)
    write_parquet(truth / "defects.parquet", defects, schema=DEFECT_SCHEMA)
    rels = [asdict(r) for r in world.relationships]
    write_parquet(truth / "relationships.parquet", rels)
    restrictions = [
        {"child_id": r.child_id, "worker_ids": r.worker_ids, "reason": r.reason} for r in world.restrictions
    ]
    write_parquet(truth / "restrictions.parquet", restrictions)
    write_parquet(
        truth / "name_typos.parquet",
        [
            {
                "person_id": pid,
                "recorded_surname": with_typo(world.people[pid].names[-1].surname),
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
    write_parquet(truth / "adopter_cohort_fit.parquet", fits)
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


MENTION_SCHEMA = {
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
STATEMENT_TRUTH_SCHEMA = {  # the hand-written factor statements put into notes (corpus/factors)
    "source_type": pl.String,
    "source_id": pl.String,
    "child_id": pl.String,
    "start": pl.Int64,
    "end": pl.Int64,
    "text": pl.String,
    "labels": pl.String,  # "1B;3B:historic;S:recovery" as the corpus writes them; "" for none
    "statement_id": pl.String,
    "family": pl.String,
}
PAGE_SCHEMA = {
    "document_id": pl.String,
    "page": pl.Int64,
    "text": pl.String,
    "scanned": pl.Boolean,
    "format": pl.String,
}
DOCUMENT_TRUTH_SCHEMA = {
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
_CIN_DEFECT_SCHEMA = {
    "kind": pl.String,
    "rule": pl.String,
    "child_id": pl.String,
    "record_id": pl.String,
    "original": pl.String,
    "value": pl.String,
}
DEFECT_SCHEMA = {
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
    build_pathway(world, opts.seed)
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
    rng = random_stream(opts.seed, 903)
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
    cin_defects = plant_cin_defects(world, opts)
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
    write_parquet(opts.out / "truth" / "ssda903_defects.parquet", ssda903_defects, schema=_SSDA903_DEFECT_SCHEMA)
    write_parquet(opts.out / "truth" / "cin_defects.parquet", cin_defects, schema=_CIN_DEFECT_SCHEMA)
    write_control_file(extract_dir, flavour, opts.as_of, "full", rows, total_docs)
    progress("tables", 1, 1)
    return SynthResult(extract_dir, opts.out / "truth", opts.as_of, 0, rows, total_docs, time.perf_counter() - t0)
