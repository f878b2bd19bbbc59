"""Risk or protective: which of the two a factor is, decided over the meaning of its words and of the words around it.

The GLiNER model finds factor spans well, but a 12.5-minute build (issue 17) could not tell a risk from a
strength: it labelled every factor a risk. The two differ in meaning, not in form ("poor school attendance",
"regular nursery attendance"), which is what a sentence embedding captures. So the model's two factor labels
are taken as one "this is a factor" signal, and the polarity comes from a logistic regression over two
all-MiniLM-L6-v2 sentence embeddings (the encoder the package ships; nothing downloads): the span's, and its
context's, the five words before it and the three after. The context carries what the phrase alone cannot
("concerns about online grooming", "protective: consistent routine"): on a held-out council the phrase alone
labelled 90% of factor occurrences right, phrase and context 98% (docs/entities.md).

It is trained at build time from the factor occurrences of the model's own training examples, saved beside the
model in :data:`CLASSIFIER_FILE`, and changes the model version, so a lake re-extracts when it changes. A model
without the file (one the ``gliner_model`` setting names) keeps its own labels. Decisions 0020 and 0024.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from lake.embedding import Embedder
from lake.entities.model import PROMPT_TO_LABEL, WORD
from lake.settings import SearchSettings

FACTOR_LABELS = ("risk_factor", "protective_factor")
CLASSIFIER_FILE = "factor_classifier.json"
ENCODER = "all-MiniLM-L6-v2"
CONTEXT_BEFORE, CONTEXT_AFTER = 5, 3  # words either side of the span (the ones measured; not tuned)
FORMAT = 2  # 1: the phrase alone (decision 0020); 2: phrase and context. A file of another format is retrained.
Occurrence = tuple[str, str]  # (phrase, context): the span's words, and the words around it with "…" for the span


@cache
def _embedder(threads: int) -> Embedder:
    # Always the packaged model, whatever CASELAKE_EMBEDDING_MODEL says: the classifier's weights are its vectors'.
    return Embedder(SearchSettings(embedding_model="", threads=threads))


def encode(phrases: list[str], threads: int = 2) -> np.ndarray:
    """Unit-length sentence vectors of ``phrases`` from the packaged all-MiniLM-L6-v2 (one model per thread count)."""
    return _embedder(threads).encode(phrases, batch_size=64)


def occurrence(words: list[str], start: int, end: int) -> Occurrence:
    """The (phrase, context) of the span ``words[start:end]``; words as the model splits them (``WORD``)."""
    before = words[max(0, start - CONTEXT_BEFORE) : start]
    return " ".join(words[start:end]), " ".join([*before, "\u2026", *words[end : end + CONTEXT_AFTER]])


def occurrence_in(text: str, start: int, end: int) -> Occurrence:
    """The (phrase, context) of the span ``text[start:end]``, as :func:`occurrence` reads a training example."""
    before = WORD.findall(text, max(0, start - 30 * CONTEXT_BEFORE), start)[-CONTEXT_BEFORE:]
    inside = WORD.findall(text, start, end)
    after = WORD.findall(text, end, end + 30 * CONTEXT_AFTER)
    return occurrence([*before, *inside, *after], len(before), len(before) + len(inside))


def factor_occurrences(examples: list[dict]) -> dict[Occurrence, str]:
    """Each distinct factor occurrence in GLiNER training ``examples`` (words and inclusive word-index spans) with
    its label."""
    found: dict[Occurrence, str] = {}
    for ex in examples:
        for start, end, prompt in ex["ner"]:
            label = PROMPT_TO_LABEL.get(prompt)
            if label in FACTOR_LABELS:
                found[occurrence(ex["tokenized_text"], start, end + 1)] = label
    return found


def features(occurrences: list[Occurrence], threads: int = 2, known: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Per occurrence, its phrase's sentence vector and its context's, side by side. ``known``: vectors already
    encoded, by text; those encoded now are added to it (a run's factors share a few dozen phrases)."""
    known = {} if known is None else known
    new = sorted({text for pair in occurrences for text in pair} - known.keys())
    known.update(zip(new, encode(new, threads), strict=True))
    return np.asarray([np.concatenate([known[p], known[c]]) for p, c in occurrences], dtype=np.float32)


@dataclass(frozen=True)
class FactorClassifier:
    """P(protective) = sigmoid(weights · [phrase vector ; context vector] + bias); protective above one half."""

    weights: tuple[float, ...]
    bias: float
    occurrences: int  # how many it was trained on, for the record

    @classmethod
    def train(cls, occurrences: dict[Occurrence, str]) -> FactorClassifier:
        from sklearn.linear_model import LogisticRegression

        labels = sorted(set(occurrences.values()))
        if labels != sorted(FACTOR_LABELS):
            raise ValueError(f"factor occurrences of both labels are needed to train, found only {labels}")
        keys = sorted(occurrences)
        y = [occurrences[k] == "protective_factor" for k in keys]
        fit = LogisticRegression(C=1.0, max_iter=2000).fit(features(keys), y)
        return cls(tuple(float(w) for w in fit.coef_[0]), float(fit.intercept_[0]), len(keys))

    def labels(
        self, occurrences: list[Occurrence], threads: int = 2, known: dict[str, np.ndarray] | None = None
    ) -> list[str]:
        """Risk or protective per occurrence; ``known`` as for :func:`features`."""
        if not occurrences:
            return []
        weights = np.asarray(self.weights, dtype=np.float32)
        p = 1.0 / (1.0 + np.exp(-(features(occurrences, threads, known) @ weights + self.bias)))
        return ["protective_factor" if q > 0.5 else "risk_factor" for q in p]

    def save(self, model_dir: Path) -> None:
        """Written beside the model, atomically (a reader never sees half a file)."""
        body = {
            "format": FORMAT,
            "encoder": ENCODER,
            "context": [CONTEXT_BEFORE, CONTEXT_AFTER],
            "occurrences": self.occurrences,
            "bias": self.bias,
            "weights": list(self.weights),
        }
        work = model_dir / f".{CLASSIFIER_FILE}.{os.getpid()}"
        work.write_text(json.dumps(body) + "\n")
        work.rename(model_dir / CLASSIFIER_FILE)

    @classmethod
    def load(cls, model_dir: Path) -> FactorClassifier | None:
        """The classifier saved beside a model, or None where there is none. One of another format is a clear
        error: the project's build retrains it (:func:`ensure_classifier`), another model's owner must."""
        path = Path(model_dir) / CLASSIFIER_FILE
        if not path.is_file():
            return None
        body = json.loads(path.read_text())
        if body.get("format") != FORMAT:
            raise ValueError(f"{path} is a factor classifier of format {body.get('format', 1)}, not {FORMAT}")
        return cls(tuple(body["weights"]), float(body["bias"]), int(body["occurrences"]))


def ensure_classifier(model_dir: Path, examples: list[dict]) -> None:
    """Train and save the classifier beside ``model_dir`` from its training ``examples``, unless one of this
    format is there."""
    path = model_dir / CLASSIFIER_FILE
    if not path.exists() or json.loads(path.read_text()).get("format") != FORMAT:
        FactorClassifier.train(factor_occurrences(examples)).save(model_dir)


def classifier_digest(model_dir: Path) -> str | None:
    """A short digest of the saved classifier (part of the model version), or None where there is none."""
    path = Path(model_dir) / CLASSIFIER_FILE
    return hashlib.sha256(path.read_bytes()).hexdigest()[:6] if path.is_file() else None
