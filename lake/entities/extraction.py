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
with a full-text index on the mention text, serves the app.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
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
from lake.entities.model import MODEL_LABELS, PROMPT_TO_LABEL, WORD, windows
from lake.entities.patterns import PATTERN_MODEL, Mention, find_all
from lake.entities.roles import ROLES_MODEL, fill_gaps, find_roles, role_words
from lake.progress import Progress, no_progress
from lake.settings import EntitySettings
from lake.storage.delta import ENTERPRISE, Lake, ensure_table, sql_literal

MENTIONS, SOURCES_DONE = "entity_mentions", "entity_sources"
FACTOR_CACHE_LIMIT = 100_000  # factor phrase and context vectors an extractor keeps (about 160 MB)
INFERENCE_WINDOW_WORDS = 200  # under the model's 384-word limit, with the label prompts in front

MENTIONS_SCHEMA = pa.schema(
    [
        ("mention_id", pa.string()),
        ("source_type", pa.string()),
        ("source_id", pa.string()),
        ("page", pa.int32()),
        ("child_id", pa.string()),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("text", pa.string()),
        ("label", pa.string()),
        ("score", pa.float64()),
        ("method", pa.string()),
        ("model_id", pa.string()),
        ("model_version", pa.string()),
        ("text_hash", pa.string()),
        ("extracted_at", pa.timestamp("us", tz="UTC")),
    ]
)
SOURCES_SCHEMA = pa.schema(
    [
        ("source_type", pa.string()),
        ("source_id", pa.string()),
        ("page", pa.int32()),
        ("child_id", pa.string()),
        ("text_hash", pa.string()),
        ("model_version", pa.string()),
        ("mentions", pa.int32()),
        ("extracted_at", pa.timestamp("us", tz="UTC")),
    ]
)
ITEM_KEY = ["source_type", "source_id", "page"]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


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
        README's benchmark for what it buys."""
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


# ---- span conventions ----------------------------------------------------------------------------------
# A role, rank or title written before a name is not part of the person: "PC Hill" is a professional role and a
# person, "Mrs Hill" a person (a courtesy title is no mention), "Mum Keisha" a kinship role and a person; and a
# person ends before a possessive "'s". The training text is written this way; these rules hold the model's
# output to it where it strays (docs/entities.md, "Span conventions").
COURTESY_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx"})
ROLE_PREFIXES = frozenset(" ".join(word.lower().split()) for word in role_words())
POSSESSIVE = ("'s", "\u2019s")
# Meetings, plans and legal statuses that records abbreviate like roles ("LAC review", "CP conf", "MARAC",
# "Strat disc"): one of them alone, or one followed by a meeting word, is not a role, an organisation or a factor
# ("CP chair" and "LAC nurse" are roles). The model took them for all three on the held-out council.
MEETING_ABBREVIATIONS = frozenset(
    {"lac", "cla", "cp", "cin", "cpp", "icpc", "rcpc", "marac", "mappa", "plo", "ehcp", "taf", "strat"}
)  # fmt: skip
# A factor is a noun phrase: a verb the model ran on into ("concerns about neglect arise") is trimmed off.
FACTOR_TAIL_VERBS = frozenset(
    {"arise", "arises", "arose", "continue", "continues", "persist", "persists", "remain", "remains", "recur", "recurs"}
)  # fmt: skip
# A factor the record says is absent is not a factor: "no concerns about growth or development", "no evidence of
# neglect", "denies drug use". A negation cue ending right before the span (NegEx's pre-negation triggers, those
# that take a concern as their object) drops it; the held-out council writes "no concerns about …" in a template
# the model never saw, and the model took the phrase for a risk 141 times.
NEGATED_BEFORE = re.compile(
    r"(?:\b(?:no|not\s+any|nil|without\s+any)\s+(?:(?:further|current|known|new|other|ongoing|significant)\s+)?"
    r"(?:concerns?|worr(?:y|ies)|evidence|signs?|indications?|history|reports?|suggestion)"
    r"\s+(?:about|around|regarding|re:?|of|over|for|in\s+relation\s+to)"
    r"|\b(?:denies|denied|ruled\s+out))\s+(?:the\s+|any\s+)?$",
    re.IGNORECASE,
)
MEETING_WORDS = frozenset(
    {"conf", "conference", "review", "r", "rv", "meeting", "mtg", "plan", "minutes", "referral", "disc", "discussion"}
)  # fmt: skip
# A named body is typed by its head noun: "… Primary School", "… Academy", "… College" is a school whatever the
# model made of the words around it (a build took "met with Mum at Woodlands High School" for an organisation 108
# times). The Virtual School is a council's team, not a setting. Not the other way: "at St Mary's" is a school too.
SCHOOL_HEADS = frozenset({"school", "academy", "college"})
NOT_SCHOOLS = frozenset({"virtual school"})


def _without_tail_verb(text: str, m: Mention) -> Mention:
    words = list(WORD.finditer(text, m.start, m.end))
    if len(words) < 2 or words[-1].group().lower() not in FACTOR_TAIL_VERBS:
        return m
    end = words[-2].end()
    return Mention(m.start, end, m.label, text[m.start : end], m.score, m.model)


def _negated(text: str, m: Mention) -> bool:
    return NEGATED_BEFORE.search(text, max(0, m.start - 60), m.start) is not None


def _named_as_a_school(m: Mention) -> Mention:
    words = [w.lower() for w in WORD.findall(m.text)]
    if m.label != "organisation" or len(words) < 2 or words[-1] not in SCHOOL_HEADS:
        return m
    if " ".join(words[-2:]) in NOT_SCHOOLS:
        return m
    return Mention(m.start, m.end, "school", m.text, m.score, m.model)


def _names_a_meeting(span: str) -> bool:
    words = [w.lower() for w in WORD.findall(span)]
    return bool(words) and words[0] in MEETING_ABBREVIATIONS and (len(words) == 1 or words[1] in MEETING_WORDS)


# ---- decoding: which spans may be mentions ---------------------------------------------------------------
# The model scores every span of up to eight words, and on text it never saw it sometimes scores highest one that
# runs across a clause ("Cheshire Police - no trace. Castleford CAMHS", "consistent bedtime routine. CP conf"),
# which then shadows the right, shorter spans. A mention is a name or a noun phrase: it never crosses a sentence
# end, a list item, a semicolon or a bracket it does not close, and, except an address ("12 Hill Road, Hull"),
# never a comma, " + " or " - ". An organisation or a school is a named body, so it has a capital letter ("rang
# housing", "a refuge space" name none). A meeting's abbreviation names no role, body or factor. See decision 0021.
# The revision of the decoding, the span conventions, the role list and the folded span scoring (r6, decision
# 0023: int8 quantises other activations, so near-threshold spans can move), a factor the record negates (r7), a
# body named as a school (r8), a factor as its widest proposed phrase (r9) and recorded names in the gazetteer (r10),
# part of every model version: new rules, the texts are read again.
SPAN_RULES = "r10"
# A factor's least model score (other labels: the threshold setting, 0.5). Factors are open noun phrases the
# model scores lower than names: on the held-out council 0.3 (the one value tried) took risk factor F1 from 0.58
# to 0.66 and protective from 0.40 to 0.50, precision falling 0.82 -> 0.74 and 0.55 -> 0.46 (decision 0021).
FACTOR_THRESHOLD = 0.3
# A factor is the whole noun phrase the record writes: where the model proposes nested factor spans ("stable
# employment" at 0.6 inside "parent in stable employment" at 0.25), the widest one it scores at least this is kept
# (r9). The model scores a phrase it never saw lower as a whole than its familiar core, so the core wins the flat
# decoding and the rest of the phrase is lost. On two held-out councils (seeds 2027 and 2028, model 77f8) this took
# protective factor F1 0.531 -> 0.562 and 0.514 -> 0.546, risk 0.764 -> 0.765 and 0.771 -> 0.769; floors of 0.1
# and 0.05 gained more protective (0.575, 0.582) and lost more risk (0.762, 0.756). Decision 0028.
FACTOR_WIDEN_FLOOR = 0.2
NO_SENTENCE_END_AFTER = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "sgt", "insp", "supt", "prof", "rev", "no", "nos", "tel", "approx", "ref"}
)  # fmt: skip
_SENTENCE_END = re.compile(r"(\w+)[.!?]\s+")
_LIST_ITEM = re.compile(r"\n\s*(?:\d+[.)]|[-*\u2022])\s")
_LIST_BREAK = re.compile(r",|\s\+\s|\s[-\u2013\u2014]\s")
NAMED_BODIES = frozenset({"organisation", "school"})
NOT_A_MEETING = frozenset({"professional_role", "organisation", *FACTOR_LABELS})


def admissible(span: str, label: str) -> bool:
    """Whether ``span`` may be a mention labelled ``label`` (see above): the model's candidates are held to it."""
    for end in _SENTENCE_END.finditer(span):
        word = end.group(1)
        if len(word) > 1 and word.lower() not in NO_SENTENCE_END_AFTER:
            return False
    if ";" in span or _LIST_ITEM.search(span) or span.count("(") != span.count(")"):
        return False
    if label != "address" and _LIST_BREAK.search(span):
        return False
    if label in NAMED_BODIES and span.lower() == span:
        return False
    return not (label in NOT_A_MEETING and _names_a_meeting(span))


def decode_flat(text: str, candidates: list[dict], least: dict[str, float] | None = None) -> list[dict]:
    """GLiNER's flat decoding over the admissible candidates only: highest score first, each span kept unless it
    overlaps one kept before. ``candidates``: the model's spans of ``text`` (dicts with start, end, label, score;
    labels as the model's prompts), from nested decoding; ``least``: a label's least score, where it has one."""
    kept: list[dict] = []
    for c in sorted(candidates, key=lambda c: -c["score"]):
        label = PROMPT_TO_LABEL[c["label"]]
        if c["score"] < (least or {}).get(label, 0.0) or not admissible(text[c["start"] : c["end"]], label):
            continue
        if all(c["end"] <= k["start"] or k["end"] <= c["start"] for k in kept):
            kept.append(c)
    return sorted(_widest_factors(text, candidates, kept), key=lambda c: c["start"])


def _widest_factors(text: str, candidates: list[dict], kept: list[dict]) -> list[dict]:
    """Each kept factor as the widest admissible factor span the model proposes around it (score at least
    ``FACTOR_WIDEN_FLOOR``) that overlaps no other kept span: see ``FACTOR_WIDEN_FLOOR``."""

    def factor(c: dict) -> bool:
        return PROMPT_TO_LABEL[c["label"]] in FACTOR_LABELS

    wider = [
        c
        for c in candidates
        if factor(c)
        and c["score"] >= FACTOR_WIDEN_FLOOR
        and admissible(text[c["start"] : c["end"]], PROMPT_TO_LABEL[c["label"]])
    ]
    out: list[dict] = []
    for i, k in enumerate(kept):
        if factor(k):
            others = [*out, *kept[i + 1 :]]  # those widened already, and the rest as decoded
            around = [
                c
                for c in wider
                if c["start"] <= k["start"]
                and k["end"] <= c["end"]
                and all(c["end"] <= o["start"] or o["end"] <= c["start"] for o in others)
            ]
            k = max([k, *around], key=lambda c: (c["end"] - c["start"], c["score"]))
        out.append(k)
    return out


# A named body's name begins with its first capitalised word: the model drops a leading word that is mostly a
# function word elsewhere ("All Saints College" found as "Saints College", "The Children's Society" as
# "Children's Society"). Mid-sentence (after a lower-case word), a capitalised word just before the name is part
# of it, unless it is a title, a role or a kinship word ("met Mum Hull CAMHS" would keep "Mum" apart).
_WORD_BEFORE = re.compile(r"(?:^|(?<=\s))(\S+) (\S+) $")
_CAPITALISED = re.compile(r"[A-Z][A-Za-z'\u2019-]*\.?")


def _with_name_start(text: str, m: Mention, mentions: list[Mention]) -> Mention:
    from lake.entities.resolution import kin_relation

    before = _WORD_BEFORE.search(text, max(0, m.start - 80), m.start)
    if before is None:
        return m
    lead, word = before.group(1), before.group(2)
    start = before.start(2)
    if not (_CAPITALISED.fullmatch(word) and lead[0].islower() and lead[-1].isalpha()):
        return m
    key = word.rstrip(".").lower()
    if key in ROLE_PREFIXES or key in COURTESY_TITLES or kin_relation(key):
        return m
    if any(o.start < m.start and start < o.end for o in mentions if o is not m):
        return m
    return Mention(start, m.end, m.label, text[start : m.end], m.score, m.model)


def apply_span_conventions(text: str, mentions: list[Mention]) -> list[Mention]:
    """The model's mentions with the span conventions applied (see above); others pass unchanged."""
    from lake.entities.resolution import kin_relation

    out: list[Mention] = []
    for m in mentions:
        if m.label in FACTOR_LABELS:
            if _negated(text, m):
                continue
            m = _without_tail_verb(text, m)
        if m.label in NAMED_BODIES:
            m = _named_as_a_school(_with_name_start(text, m, mentions))
        if m.label not in ("person", "kinship_role"):
            out.append(m)
            continue
        start, end = m.start, m.end
        if text[start:end].endswith(POSSESSIVE) and end - start > 2:
            end -= 2
        if m.label == "person":
            words = [w for w in WORD.finditer(text, start, end) if w.group() != "."]
            for n in (3, 2, 1):  # the longest prefix that is a role or a kinship word, leaving a name after it
                if len(words) <= n:
                    continue
                prefix = text[words[0].start() : words[n - 1].end()]
                key = " ".join(prefix.lower().split())
                label = (
                    "professional_role"
                    if key in ROLE_PREFIXES
                    else "kinship_role"
                    if kin_relation(key)
                    else "title"
                    if key in COURTESY_TITLES
                    else None
                )
                if label is None:
                    continue
                if label != "title":
                    out.append(Mention(start, words[n - 1].end(), label, prefix, m.score, m.model))
                start = words[n].start()
                break
        if (start, end) != (m.start, m.end):
            m = Mention(start, end, m.label, text[start:end], m.score, m.model)
        out.append(m)
    # a split-off role the model also found on its own is one mention (the higher score kept)
    best: dict[tuple[int, int, str], Mention] = {}
    for m in out:
        key = (m.start, m.end, m.label)
        if key not in best or m.score > best[key].score:
            best[key] = m
    return sorted(best.values(), key=lambda m: (m.start, m.end, m.label))


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


# ---- what to read -------------------------------------------------------------------------------------
def text_items(lake: Lake, child_ids: list[str] | None = None) -> pl.DataFrame:
    """Every live free text: source_type, source_id, page (0 for texts without pages), child_id, text, hash.
    ``child_ids`` keeps only those children's texts (the app reads one child's at a time)."""
    frames = []
    notes = lake.scan(ENTERPRISE, "case_note")
    if notes is not None:
        frames.append(
            notes.filter(pl.col("_deleted_at").is_null()).select(
                pl.lit("case_note").alias("source_type"),
                pl.col("note_id").alias("source_id"),
                pl.lit(0, pl.Int32).alias("page"),
                "child_id",
                pl.col("note_text").alias("text"),
            )
        )
    forms = lake.scan(ENTERPRISE, "form_response")
    if forms is not None:
        frames.append(
            forms.filter(pl.col("_deleted_at").is_null()).select(
                pl.lit("form_answer").alias("source_type"),
                pl.concat_str("form_id", pl.lit(":"), "question_code").alias("source_id"),
                pl.lit(0, pl.Int32).alias("page"),
                "child_id",
                pl.col("answer_text").alias("text"),
            )
        )
    pages, docs = lake.scan(ENTERPRISE, "document_text"), lake.scan(ENTERPRISE, "document")
    if pages is not None and docs is not None:
        live = docs.filter(pl.col("_deleted_at").is_null()).select("document_id", "child_id")
        frames.append(
            pages.join(live, on="document_id").select(
                pl.lit("document_page").alias("source_type"),
                pl.col("document_id").alias("source_id"),
                pl.col("page").cast(pl.Int32),
                "child_id",
                "text",
            )
        )
    if not frames:
        return pl.DataFrame(
            schema={
                "source_type": pl.String,
                "source_id": pl.String,
                "page": pl.Int32,
                "child_id": pl.String,
                "text": pl.String,
                "text_hash": pl.String,
            }
        )
    if child_ids is not None:
        frames = [f.filter(pl.col("child_id").is_in(child_ids)) for f in frames]
    items = pl.concat([f.collect() for f in frames]).filter(pl.col("text").str.strip_chars().str.len_chars() > 0)
    return items.with_columns(pl.col("text").map_elements(text_hash, return_dtype=pl.String).alias("text_hash"))


def ensure_tables(lake: Lake) -> None:
    ensure_table(lake, ENTERPRISE, MENTIONS, MENTIONS_SCHEMA)
    ensure_table(lake, ENTERPRISE, SOURCES_DONE, SOURCES_SCHEMA)


def _done(lake: Lake) -> pl.DataFrame:
    return lake.scan(ENTERPRISE, SOURCES_DONE).select(*ITEM_KEY, "text_hash", "model_version").collect()


def pending_items(lake: Lake, items: pl.DataFrame, model_version: str) -> pl.DataFrame:
    done = _done(lake).filter(pl.col("model_version") == model_version)
    return items.join(done, on=[*ITEM_KEY, "text_hash"], how="anti")


PRUNE_BY_PREDICATE = 2_000  # stale items up to this many are deleted by key; more (a new model) rewrite the tables


def prune_stale(lake: Lake, items: pl.DataFrame, model_version: str) -> int:
    """Remove mentions and log rows of items whose text changed, that were deleted at source, or that an
    older model read. Commits only when there is something to remove. A day's few changed items are deleted
    by their keys, which rewrites only the files holding them (the whole table was rewritten before: 2.2 MB
    for one changed document on a 20-child council, and growing with the council); a new model makes every
    item stale, and then one rewrite of each table is cheaper than a predicate listing them all."""
    current = items.select(*ITEM_KEY, "text_hash").with_columns(pl.lit(model_version).alias("model_version"))
    stale = _done(lake).join(current, on=[*ITEM_KEY, "text_hash", "model_version"], how="anti")
    if stale.is_empty():
        return 0
    keys = stale.select(*ITEM_KEY, "text_hash").unique()
    removed = 0
    for name in (MENTIONS, SOURCES_DONE):
        if keys.height <= PRUNE_BY_PREDICATE:
            removed += lake.delete(ENTERPRISE, name, _keys_predicate(keys))
            continue
        table = lake.read(ENTERPRISE, name)
        keep = table.join(keys, on=[*ITEM_KEY, "text_hash"], how="anti")
        removed += table.height - keep.height
        lake.write(ENTERPRISE, name, keep.to_arrow().cast(table.to_arrow().schema), keep_schema=True)
    return removed


def _keys_predicate(keys: pl.DataFrame) -> str:
    """A Delta predicate matching exactly these (source_type, source_id, page, text_hash) rows; ids come from
    source systems, so every string is quoted."""
    return " OR ".join(
        f"(source_type = {sql_literal(t)} AND source_id = {sql_literal(i)} AND page = {int(p)}"
        f" AND text_hash = {sql_literal(h)})"
        for t, i, p, h in keys.iter_rows()
    )


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
    run.pruned_rows = prune_stale(lake, items, extractor.model_version)
    todo = pending_items(lake, items, extractor.model_version)
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
    done = _done(lake)
    if model_version is not None:
        done = done.filter(pl.col("model_version") == model_version)
    unread = items.join(done, on=[*ITEM_KEY, "text_hash"], how="anti").height
    mentions = lake.scan(ENTERPRISE, MENTIONS).select(*ITEM_KEY, "text_hash", "start", "end", "text").collect()
    joined = mentions.join(
        items.select(*ITEM_KEY, "text_hash", pl.col("text").alias("source_text")),
        on=[*ITEM_KEY, "text_hash"],
        how="left",
    )
    at_span = pl.col("source_text").str.slice(pl.col("start"), pl.col("end") - pl.col("start"))
    mismatched = joined.filter(pl.col("source_text").is_null() | (at_span != pl.col("text"))).height
    return {
        "text_items": items.height,
        "items_read": items.height - unread,
        "items_unread": unread,
        "mentions": mentions.height,
        "spans_mismatched": mismatched,
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
