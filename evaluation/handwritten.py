"""Entities on the hand-written corpus (``caselake eval entities --handwritten``, the tests, docs/entities.md).

The notes of :mod:`corpus.handwritten` are read by the same :class:`~lake.entities.extraction.EntityExtractor`
the asset uses, with **no gazetteer** (no recorded address or name is available: the notes belong to no
council in the lake), and scored with the strict span measure of :func:`evaluation.scoring.span_scores`
(source, exact character span and label). Risk and protective factors are not marked in the corpus
(issue 37 has its own statements), so the extractor's factor mentions are left out of the scoring.

The held-out part is the notes of the evaluation authors (:data:`corpus.handwritten.EVAL_AUTHORS`): their
layouts and phrasing were never trained or tuned on. ``part="train"`` scores the training part, for the
comparison. "micro" is over the labels the issue names (person, kinship, dates, phones, postcodes,
e-mail); "all" over every label.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import polars as pl

from corpus.handwritten import Note, notes
from evaluation.scoring import span_scores
from lake.entities.extraction import EntityExtractor
from lake.entities.patterns import Mention

MICRO_LABELS = ("person", "kinship_role", "date", "phone", "postcode", "email")
GOALS = {
    "person": 0.95,
    "address": 0.95,
    "organisation": 0.85,
    "professional_role": 0.95,
    "date": 0.95,
    "school": 0.90,
    "kinship_role": 0.92,
    "micro": 0.93,
}
BATCH = 8  # as the asset and the CLI batch texts (int8 kernels quantise a batch together)


@dataclass
class HandwrittenEvaluation:
    part: str
    notes: int
    words: int
    scores: pl.DataFrame  # label, true, predicted, tp, precision, recall, f1 (with "micro" and "all")
    by_register: pl.DataFrame  # register, true, tp, predicted, f1 over every label
    misses: pl.DataFrame  # note_id, label, text, kind ("missed" or "spurious"), context
    seconds: float

    @property
    def notes_per_second(self) -> float:
        return self.notes / self.seconds if self.seconds else 0.0


def _rows(found: list[Note], mentions: list[list[Mention]]) -> pl.DataFrame:
    labels = {label for n in found for _, _, label in n.spans}
    return pl.DataFrame(
        [
            {"source_id": n.note_id, "start": m.start, "end": m.end, "label": m.label}
            for n, ms in zip(found, mentions, strict=True)
            for m in ms
            if m.label in labels
        ],
        schema={"source_id": pl.String, "start": pl.Int64, "end": pl.Int64, "label": pl.String},
    )


def truth(found: list[Note]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"source_id": n.note_id, "start": s, "end": e, "label": label} for n in found for s, e, label in n.spans],
        schema={"source_id": pl.String, "start": pl.Int64, "end": pl.Int64, "label": pl.String},
    )


def score(found: list[Note], predicted: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(scores per label with "micro" over :data:`MICRO_LABELS` and "all", scores per register, misses)."""
    true = truth(found)
    per_label = span_scores(predicted, true).filter(pl.col("label") != "micro")
    micro = span_scores(
        predicted.filter(pl.col("label").is_in(MICRO_LABELS)), true.filter(pl.col("label").is_in(MICRO_LABELS))
    ).filter(pl.col("label") == "micro")
    every = span_scores(predicted, true).filter(pl.col("label") == "micro").with_columns(pl.lit("all").alias("label"))
    scores = pl.concat([per_label, micro, every], how="vertical_relaxed")

    register = pl.DataFrame({"source_id": [n.note_id for n in found], "register": [n.register for n in found]})
    by_register = (
        pl.concat(
            [
                span_scores(predicted.join(ids, on="source_id", how="semi"), true.join(ids, on="source_id", how="semi"))
                .filter(pl.col("label") == "micro")
                .with_columns(pl.lit(reg).alias("register"))
                for reg, ids in ((r, register.filter(pl.col("register") == r)) for r in register["register"].unique())
            ],
            how="vertical_relaxed",
        )
        .select("register", "true", "predicted", "tp", "f1")
        .sort("f1")
    )

    text_of = {n.note_id: n.text for n in found}
    keys = ["source_id", "start", "end", "label"]
    missed = true.join(predicted, on=keys, how="anti").with_columns(pl.lit("missed").alias("kind"))
    spurious = predicted.join(true, on=keys, how="anti").with_columns(pl.lit("spurious").alias("kind"))
    rows = []
    for r in pl.concat([missed, spurious]).sort("source_id", "start").iter_rows(named=True):
        text = text_of[r["source_id"]]
        rows.append(
            {
                "note_id": r["source_id"],
                "label": r["label"],
                "kind": r["kind"],
                "text": text[r["start"] : r["end"]],
                "context": text[max(0, r["start"] - 30) : r["end"] + 30].replace("\n", " / "),
            }
        )
    misses = pl.DataFrame(
        rows,
        schema={"note_id": pl.String, "label": pl.String, "kind": pl.String, "text": pl.String, "context": pl.String},
    )
    return scores, by_register, misses


def evaluate(extractor: EntityExtractor, part: str = "eval") -> HandwrittenEvaluation:
    """The extractor's mentions on one part of the corpus (``"eval"``: held out; ``"train"``) against its marks."""
    found = list(notes(part))
    texts = [n.text for n in found]
    t0 = time.perf_counter()
    mentions = [m for k in range(0, len(texts), BATCH) for m in extractor.extract(texts[k : k + BATCH])]
    seconds = time.perf_counter() - t0
    scores, by_register, misses = score(found, _rows(found, mentions))
    return HandwrittenEvaluation(part, len(found), sum(n.words for n in found), scores, by_register, misses, seconds)


def report(result: HandwrittenEvaluation) -> str:
    part = "held-out part" if result.part == "eval" else "training part"
    lines = [
        f"hand-written notes, {part}: {result.notes} notes, {result.words} words, "
        f"{result.notes_per_second:.1f} notes/s (no gazetteer: no recorded address or name)",
        f"{'label':<18} {'true':>5} {'found':>5} {'P':>6} {'R':>6} {'F1':>6}  goal",
    ]
    for r in result.scores.iter_rows(named=True):
        goal = GOALS.get(r["label"])
        verdict = "" if goal is None else f"≥ {goal:.2f}: {'met' if r['f1'] >= goal else 'NOT met'}"
        lines.append(
            f"{r['label']:<18} {r['true']:>5} {r['predicted']:>5} {r['precision']:>6.3f} {r['recall']:>6.3f} "
            f"{r['f1']:>6.3f}  {verdict}"
        )
    lines.append(
        "by register (every label): "
        + ", ".join(f"{r['register']} {r['f1']:.2f}" for r in result.by_register.iter_rows(named=True))
    )
    return "\n".join(lines)
