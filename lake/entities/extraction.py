"""Entity mentions in every free text the council holds: case notes, document pages and form answers.

One code path for the asset and ``caselake extract-entities``: :class:`EntityExtractor` runs the GLiNER model
(people, kinship and professional roles, addresses, organisations, schools, risk and protective factors) and
the regular-form patterns (postcodes, phones, e-mails, NHS numbers, dates) over a text, in sentence windows
that fit the model, and returns mentions with exact character spans into that text.

The run is incremental by content: a text item (one note, one document page, one form answer) is read again
only when its text hash or the model changes; the mentions and the processed-item log of items that changed,
or were deleted at source, are removed. Document text is read per page (not per overlapping search chunk) so
each mention is counted once and its span points into ``enterprise/document_text``.

Delta ``enterprise/entity_mentions`` is the system of record (dbt reads it); a LanceDB table of the same rows,
with a full-text index on the mention text, serves the app. The text items and the tables' schemas are in
:mod:`lake.entities.items`, the rules that hold the model's spans to the conventions in
:mod:`lake.entities.span_rules`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from lake import metering
from lake.entities.factors import FACTOR_LABELS, FactorClassifier, classifier_digest, occurrence_in
from lake.entities.gazetteer import GAZETTEER_MODEL, Gazetteer, merge
from lake.entities.items import (
    MENTIONS,
    MENTIONS_SCHEMA,
    SOURCES_DONE,
    SOURCES_SCHEMA,
    audit_reader,
    pending_items,
    prune_stale,
    text_items,
)
from lake.entities.model import MODEL_LABELS, PROMPT_TO_LABEL, WORD, windows
from lake.entities.patterns import PATTERN_MODEL, Mention, find_all
from lake.entities.roles import ROLES_MODEL, fill_gaps, find_roles
from lake.entities.span_rules import (
    FACTOR_THRESHOLD,
    FACTOR_WIDEN_FLOOR,
    SPAN_RULES,
    apply_span_conventions,
    decode_flat,
)
from lake.progress import Progress, no_progress
from lake.settings import EntitySettings
from lake.storage.delta import ENTERPRISE, Lake, ensure_table

FACTOR_CACHE_LIMIT = 100_000  # factor phrase and context vectors an extractor keeps (about 160 MB)
INFERENCE_WINDOW_WORDS = 200  # under the model's 384-word limit, with the label prompts in front


# ---- the model ----------------------------------------------------------------------------------------
@dataclass
class EntityExtractor:
    """GLiNER plus the regular-form patterns. ``model_id`` and ``model_version`` go on every mention."""

    model: object
    model_id: str
    model_version: str
    threshold: float = 0.5
    batch_size: int = 8  # measured: 8 beat 32 by 40% on 2 cores (less padding per batch)
    factors: FactorClassifier | None = None  # risk or protective, where the model has a factor classifier
    threads: int = 2
    # Records repeat their factor phrases ("domestic abuse") and often their contexts ("concerns about … ."): each
    # is embedded once per extractor, not once per batch.
    _factor_vectors: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def load(
        cls,
        model: str | Path,
        settings: EntitySettings | None = None,
        threshold: float | None = None,
        threads: int | None = None,
        int8: bool | None = None,
    ) -> EntityExtractor:
        """The GLiNER ``model`` (a local directory; a hub id only where there is internet), run as ``settings``
        say unless an argument overrides them. ``int8`` quantises the linear layers dynamically: see the
        entity benchmark in docs/benchmarks.md for what it buys."""
        import torch
        from gliner import GLiNER

        from lake.entities.span_scoring import fold_span_scoring  # imports torch: only where a model loads

        settings = settings or EntitySettings()
        int8 = settings.int8 if int8 is None else int8
        torch.set_num_threads(threads or settings.threads)
        path = Path(model)
        if not path.is_dir():
            gliner = GLiNER.from_pretrained(str(model))
        else:
            gliner = GLiNER.from_pretrained(str(path), local_files_only=True)
        gliner.eval()
        fold_span_scoring(gliner)  # the same scores, a third less model time (decision 0023)
        if int8:
            gliner.quantize("int8")
        model_id, version = model_identity(model, int8)
        return cls(
            gliner,
            model_id,
            version,
            settings.threshold if threshold is None else threshold,
            factors=FactorClassifier.load(path),  # None for a model without one (a hub id has none)
            threads=threads or settings.threads,
        )

    def extract_batches(self, batches: list[list[str]]) -> Iterator[tuple[int, list[list[Mention]], float]]:
        """(batch index, mentions per text, model seconds) for each batch, in order. A batch is the unit the
        model sees whole, so results do not depend on where it runs (int8 quantises each batch's activations
        together)."""
        for k, texts in enumerate(batches):
            t0 = time.perf_counter()
            found = self.extract(texts)
            yield k, found, time.perf_counter() - t0

    def extract(self, texts: list[str]) -> list[list[Mention]]:
        """Mentions per text, sorted by span. Texts are cut into sentence windows the model can hold; the
        windows of all texts are batched together, shortest first, so little padding is computed."""
        pieces = [(i, s, e) for i, text in enumerate(texts) for s, e in windows(text, INFERENCE_WINDOW_WORDS)]
        order = sorted(
            range(len(pieces)), key=lambda k: len(WORD.findall(texts[pieces[k][0]], pieces[k][1], pieces[k][2]))
        )
        found: list[list[Mention]] = [[] for _ in texts]
        prompts = list(MODEL_LABELS.values())
        # Each label's least score: the model is decoded at the lowest, and each candidate held to its own.
        least = {label: self.threshold for label in MODEL_LABELS} | dict.fromkeys(FACTOR_LABELS, FACTOR_THRESHOLD)
        for b in range(0, len(order), 256):
            chunk = order[b : b + 256]
            window_texts = [texts[pieces[k][0]][pieces[k][1] : pieces[k][2]] for k in chunk]
            # Nested decoding keeps the spans a boundary-crossing one would have shadowed; decode_flat then
            # makes them flat, as GLiNER's own flat decoding would, among the admissible spans only.
            results = self.model.inference(
                window_texts,
                prompts,
                threshold=min(*least.values(), FACTOR_WIDEN_FLOOR),
                flat_ner=False,
                batch_size=self.batch_size,
            )
            for k, window, ents in zip(chunk, window_texts, results, strict=True):
                i, offset, _ = pieces[k]
                for ent in decode_flat(window, ents, least):
                    start, end = offset + ent["start"], offset + ent["end"]
                    found[i].append(
                        Mention(
                            start,
                            end,
                            PROMPT_TO_LABEL[ent["label"]],
                            texts[i][start:end],
                            round(float(ent["score"]), 4),
                            self.model_id,
                        )
                    )
        out = []
        for text, model_mentions in zip(texts, found, strict=True):
            regular = find_all(text)
            # A span the patterns claim (a date, a postcode) is theirs: they measure 0.998 F1 on those forms.
            kept = [m for m in model_mentions if not any(m.overlaps(r) for r in regular)]
            # the role list last: it only fills what the model and the patterns left
            out.append(fill_gaps([*apply_span_conventions(text, kept), *regular], find_roles(text)))
        if self.factors is not None:  # after the conventions: the classifier reads the trimmed span
            out = self._factor_labels(texts, out)
        return [sorted(mentions, key=lambda m: (m.start, m.end, m.label)) for mentions in out]

    def _factor_labels(self, texts: list[str], found: list[list[Mention]]) -> list[list[Mention]]:
        """Every factor the model found, labelled risk or protective by the factor classifier from its words and
        the words around it."""
        seen = {
            (i, m.start, m.end): occurrence_in(texts[i], m.start, m.end)
            for i, mentions in enumerate(found)
            for m in mentions
            if m.label in FACTOR_LABELS
        }
        if len(self._factor_vectors) > FACTOR_CACHE_LIMIT:  # a large council's run: memory stays bounded
            self._factor_vectors.clear()
        occurrences = sorted(set(seen.values()))
        label = dict(
            zip(occurrences, self.factors.labels(occurrences, self.threads, self._factor_vectors), strict=True)
        )
        return [
            [
                dataclasses.replace(m, label=label[seen[i, m.start, m.end]]) if m.label in FACTOR_LABELS else m
                for m in mentions
            ]
            for i, mentions in enumerate(found)
        ]


def model_identity(model: str | Path, int8: bool) -> tuple[str, str]:
    """(model id, model version) that every mention carries, known without loading the model: the project's
    build names itself in ``caselake_build.json``; another directory is named by a digest of its files; a hub
    id is just "hub"."""
    path = Path(model)
    if not path.is_dir():
        model_id, version = str(model), "hub"
    else:
        info_file = path / "caselake_build.json"
        info = json.loads(info_file.read_text()) if info_file.exists() else {}
        model_id = info.get("model_id", str(path))
        version = model_id.rsplit("-", 1)[-1] if info else _dir_digest(path)
        if digest := classifier_digest(path):  # the factor labels come from it: a new one is a new version
            version += f"-f{digest}"
    return model_id, f"{version}-{SPAN_RULES}" + ("-int8" if int8 else "")


def _dir_digest(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.iterdir()):
        if f.is_file():
            h.update(f.name.encode())
            h.update(str(f.stat().st_size).encode())
    return h.hexdigest()[:16]


def ensure_tables(lake: Lake) -> None:
    ensure_table(lake, ENTERPRISE, MENTIONS, MENTIONS_SCHEMA)
    ensure_table(lake, ENTERPRISE, SOURCES_DONE, SOURCES_SCHEMA)


def mention_id(source_type: str, source_id: str, page: int, start: int, end: int, label: str, version: str) -> str:
    key = f"{source_type}|{source_id}|{page}|{start}|{end}|{label}|{version}"
    return hashlib.sha256(key.encode()).hexdigest()[:24]


@dataclass
class EntityRun:
    text_items: int = 0
    pending_items: int = 0
    mentions: int = 0
    by_label: dict[str, int] = field(default_factory=dict)
    pruned_rows: int = 0
    commits: int = 0
    model_seconds: float = 0.0
    wall_seconds: float = 0.0
    model_id: str = ""

    def metadata(self) -> dict:
        return {
            "text_items": self.text_items,
            "pending_items": self.pending_items,
            "mentions": self.mentions,
            **{f"mentions_{k}": v for k, v in sorted(self.by_label.items())},
            "pruned_rows": self.pruned_rows,
            "delta_commits": self.commits,
            "model_seconds": round(self.model_seconds, 2),
            "wall_seconds": round(self.wall_seconds, 2),
            "items_per_second": round(self.pending_items / self.model_seconds, 2) if self.model_seconds else None,
            "model_id": self.model_id,
        }


def extract_entities(
    lake: Lake,
    extractor: EntityExtractor,
    *,
    commit_every: int = 512,
    progress: Progress = no_progress,
    items: pl.DataFrame | None = None,
    gazetteer: bool = True,
) -> EntityRun:
    """Read every pending text item into ``entity_mentions``; see the module doc. ``items``: the
    :func:`text_items` the caller already read (reading hashes every text), else read here. ``gazetteer``: what
    the structured tables record for each child (:mod:`lake.entities.gazetteer`), matched beside the model here,
    in the committing process, so that a model on Ray needs no access to the lake (``False``: the model and the
    patterns alone, ``CASELAKE_ENTITY_GAZETTEER=0``)."""
    t0 = time.perf_counter()
    ensure_tables(lake)
    items = text_items(lake) if items is None else items
    run = EntityRun(text_items=items.height, model_id=extractor.model_id)
    run.pruned_rows = prune_stale(lake, items, extractor.model_version, SOURCES_DONE, (MENTIONS, SOURCES_DONE))
    todo = pending_items(lake, items, extractor.model_version, SOURCES_DONE)
    run.pending_items = todo.height
    rows = todo.to_dicts()
    recorded = Gazetteer.from_lake(lake) if gazetteer and rows else None
    batches = [rows[b : b + commit_every] for b in range(0, len(rows), commit_every)]
    done = 0
    # Batches come back as they finish (on Ray, several at once); each is committed whole, as it comes.
    for k, found, seconds in extractor.extract_batches([[r["text"] for r in batch] for batch in batches]):
        run.model_seconds += seconds
        if recorded is not None:
            found = [
                merge(f, recorded.find(r["text"], r["child_id"]), r["text"])
                for f, r in zip(found, batches[k], strict=True)
            ]
        _commit(lake, batches[k], found, extractor, run)
        done += len(batches[k])
        progress("entities", done, len(rows))
    run.wall_seconds = time.perf_counter() - t0
    metering.record_model_seconds("ner", run.model_seconds)
    metering.record_items("text_items", run.pending_items)  # notes, document pages and form answers read
    return run


# How a mention was found: by the model, or by a pattern, the gazetteer or the role list beside it.
METHODS = {PATTERN_MODEL: "pattern", GAZETTEER_MODEL: "gazetteer", ROLES_MODEL: "role_list"}


def mention_method(m: Mention) -> str:
    return METHODS.get(m.model, "gliner")


def _commit(lake: Lake, items: list[dict], found: list[list[Mention]], ex: EntityExtractor, run: EntityRun) -> None:
    """Append a batch's mentions, then its processed-item log: a run killed between the two appends reads
    those items again rather than leaving them marked done without mentions."""
    now = dt.datetime.now(dt.UTC)
    mentions, done = [], []
    for item, ms in zip(items, found, strict=True):
        for m in ms:
            method = mention_method(m)
            mentions.append(
                {
                    "mention_id": mention_id(
                        item["source_type"], item["source_id"], item["page"], m.start, m.end, m.label, ex.model_version
                    ),
                    "source_type": item["source_type"],
                    "source_id": item["source_id"],
                    "page": item["page"],
                    "child_id": item["child_id"],
                    "start": m.start,
                    "end": m.end,
                    "text": m.text,
                    "label": m.label,
                    "score": m.score,
                    "method": method,
                    "model_id": m.model,
                    "model_version": ex.model_version if method == "gliner" else "1",
                    "text_hash": item["text_hash"],
                    "extracted_at": now,
                }
            )
            run.by_label[m.label] = run.by_label.get(m.label, 0) + 1
        done.append(
            {
                "source_type": item["source_type"],
                "source_id": item["source_id"],
                "page": item["page"],
                "child_id": item["child_id"],
                "text_hash": item["text_hash"],
                "model_version": ex.model_version,
                "mentions": len(ms),
                "extracted_at": now,
            }
        )
    for name, rows, schema in ((MENTIONS, mentions, MENTIONS_SCHEMA), (SOURCES_DONE, done, SOURCES_SCHEMA)):
        if rows:
            lake.write(ENTERPRISE, name, pa.Table.from_pylist(rows, schema=schema), mode="append")
            run.commits += 1
    run.mentions += len(mentions)


def audit(lake: Lake, model_version: str | None = None, items: pl.DataFrame | None = None) -> dict[str, int]:
    """What the checks assert: every live text item read (by ``model_version`` when given), and every
    mention's text equal to its source text at its span."""
    items = text_items(lake) if items is None else items
    found = audit_reader(lake, items, SOURCES_DONE, MENTIONS, "text", model_version)
    return {
        "text_items": items.height,
        "items_read": items.height - found["unread"],
        "items_unread": found["unread"],
        "mentions": found["rows"],
        "spans_mismatched": found["mismatched"],
    }


# ---- LanceDB ------------------------------------------------------------------------------------------
def sync_lancedb(lake: Lake, uri: str, changed: bool = True, table_name: str = MENTIONS) -> int:
    """Mirror the Delta mentions (the system of record) into LanceDB with a full-text index on the mention
    text at ``uri`` (:meth:`lake.settings.Settings.lancedb`); returns the mirror's rows. The mirror is rewritten whole when the run ``changed`` the mentions (or
    the mirror is missing): Delta decides what exists. LanceDB is reached with the lake's storage options (one
    set for both, as everywhere: an object-store lake keeps its LanceDB beside its Delta tables)."""
    import lancedb
    from lancedb.index import FTS

    db = lancedb.connect(uri, storage_options=lake.storage_options or None)
    if not changed and table_name in db.list_tables().tables:
        return db.open_table(table_name).count_rows()
    data = lake.table(ENTERPRISE, MENTIONS).to_pyarrow_table()
    table = db.create_table(table_name, data=data, mode="overwrite")
    if data.num_rows:
        table.create_index("text", config=FTS(), replace=True)
    if metering.metering():  # rewritten whole: every row and byte of it written
        written = int(table.stats()["total_bytes"])
        metering.record_write(
            metering.Write("lancedb", f"lancedb/{table_name}", table.version, "overwrite", data.num_rows, written)
        )
    return data.num_rows


# ---- ad-hoc files ---------------------------------------------------------------------------------------
def extract_files(paths: list[Path], extractor: EntityExtractor) -> Iterable[dict]:
    """``caselake extract-entities``: each file's mentions as a JSON-ready dict. Plain text is read as it is;
    any other file goes through the document reader first (the document asset's code path)."""
    from lake.documents.pipeline import extract_files as extract_document_files

    plain = [p for p in paths if p.suffix.lower() in (".txt", ".text")]
    pages: dict[str, list[tuple[int, str]]] = {}
    errors: dict[str, dict] = {}
    for p in plain:
        try:
            pages[str(p)] = [(1, p.read_text(encoding="utf-8", errors="replace"))]
        except OSError as exc:
            errors[str(p)] = {"file": str(p), "error": "unreadable", "detail": str(exc)}
    others = [p for p in paths if p not in plain]
    for result in extract_document_files(others) if others else []:
        if "error" in result:
            errors[result["file"]] = result
        else:
            pages[result["file"]] = [(pg["page"], pg["text"]) for pg in result["pages"]]
    for p in paths:
        key = str(p)
        if key in errors:
            yield errors[key]
            continue
        found = extractor.extract([text for _, text in pages[key]])
        yield {
            "file": key,
            "model_id": extractor.model_id,
            "model_version": extractor.model_version,
            "mentions": [
                {
                    "page": n,
                    "start": m.start,
                    "end": m.end,
                    "text": m.text,
                    "label": m.label,
                    "score": m.score,
                    "method": mention_method(m),
                }
                for (n, _), ms in zip(pages[key], found, strict=True)
                for m in ms
            ],
        }
