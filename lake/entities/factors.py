"""Risk or protective: which of the two a factor is, decided over the meaning of its words.

The GLiNER model finds factor spans well, but a 12.5-minute build (issue 17) could not tell a risk from a
strength: it labelled every factor a risk. The two differ in meaning, not in form ("poor school attendance",
"regular nursery attendance"), which is what a sentence embedding captures. So the model's two factor labels
are taken as one "this is a factor" signal, and the polarity comes from a logistic regression over the
all-MiniLM-L6-v2 sentence embedding of the span (the encoder the package ships; nothing downloads), trained on
the factor phrases of the model's own training examples. It is trained at build time in seconds, saved beside
the model in :data:`CLASSIFIER_FILE`, and changes the model version, so a lake re-extracts when it changes.

A model without the file (one the ``gliner_model`` setting names) keeps its own labels. Decision 0020.
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
from lake.entities.model import PROMPT_TO_LABEL
from lake.settings import SearchSettings

FACTOR_LABELS = ("risk_factor", "protective_factor")
CLASSIFIER_FILE = "factor_classifier.json"
ENCODER = "all-MiniLM-L6-v2"


@cache
def _embedder(threads: int) -> Embedder:
    # Always the packaged model, whatever CASELAKE_EMBEDDING_MODEL says: the classifier's weights are its vectors'.
    return Embedder(SearchSettings(embedding_model="", threads=threads))


def encode(phrases: list[str], threads: int = 2) -> np.ndarray:
    """Unit-length sentence vectors of ``phrases`` from the packaged all-MiniLM-L6-v2 (one model per thread count)."""
    return _embedder(threads).encode(phrases, batch_size=64)


def factor_phrases(examples: list[dict]) -> dict[str, str]:
    """Each distinct factor phrase in GLiNER training ``examples`` (words and word-index spans) with its label."""
    phrases: dict[str, str] = {}
    for ex in examples:
        for start, end, prompt in ex["ner"]:
            label = PROMPT_TO_LABEL.get(prompt)
            if label in FACTOR_LABELS:
                phrases[" ".join(ex["tokenized_text"][start : end + 1])] = label
    return phrases


@dataclass(frozen=True)
class FactorClassifier:
    """P(protective) = sigmoid(weights · embedding + bias); a factor is protective above one half."""

    weights: tuple[float, ...]
    bias: float
    phrases: int  # how many it was trained on, for the record

    @classmethod
    def train(cls, phrases: dict[str, str]) -> FactorClassifier:
        from sklearn.linear_model import LogisticRegression

        labels = sorted(set(phrases.values()))
        if labels != sorted(FACTOR_LABELS):
            raise ValueError(f"factor phrases of both labels are needed to train, found only {labels}")
        texts = sorted(phrases)
        y = [phrases[t] == "protective_factor" for t in texts]
        fit = LogisticRegression(C=1.0, max_iter=2000).fit(encode(texts), y)
        return cls(tuple(float(w) for w in fit.coef_[0]), float(fit.intercept_[0]), len(texts))

    def protective_probability(self, vectors: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(vectors @ np.asarray(self.weights, dtype=np.float32) + self.bias)))

    def labels(self, phrases: list[str], threads: int = 2) -> list[str]:
        p = self.protective_probability(encode(phrases, threads))
        return ["protective_factor" if q > 0.5 else "risk_factor" for q in p]

    def save(self, model_dir: Path) -> None:
        """Written beside the model, atomically (a reader never sees half a file)."""
        body = {"encoder": ENCODER, "phrases": self.phrases, "bias": self.bias, "weights": list(self.weights)}
        work = model_dir / f".{CLASSIFIER_FILE}.{os.getpid()}"
        work.write_text(json.dumps(body) + "\n")
        work.rename(model_dir / CLASSIFIER_FILE)

    @classmethod
    def load(cls, model_dir: Path) -> FactorClassifier | None:
        """The classifier saved beside a model, or None where there is none."""
        path = Path(model_dir) / CLASSIFIER_FILE
        if not path.is_file():
            return None
        body = json.loads(path.read_text())
        return cls(tuple(body["weights"]), float(body["bias"]), int(body["phrases"]))


def ensure_classifier(model_dir: Path, examples: list[dict]) -> None:
    """Train and save the classifier beside ``model_dir`` from its training ``examples``, unless it is there."""
    if not (model_dir / CLASSIFIER_FILE).exists():
        FactorClassifier.train(factor_phrases(examples)).save(model_dir)


def classifier_digest(model_dir: Path) -> str | None:
    """A short digest of the saved classifier (part of the model version), or None where there is none."""
    path = Path(model_dir) / CLASSIFIER_FILE
    return hashlib.sha256(path.read_bytes()).hexdigest()[:6] if path.is_file() else None
