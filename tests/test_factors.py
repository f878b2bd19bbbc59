"""The factor classifier: risk or protective from the meaning of the span and the words around it (decisions 0020
and 0024), on the real packaged encoder and generated text. Fast: it trains on 20 children's factors in
about six seconds."""

from __future__ import annotations

import json

import pytest

from lake.entities.extraction import model_identity
from lake.entities.factors import (
    CLASSIFIER_FILE,
    FACTOR_LABELS,
    FactorClassifier,
    ensure_classifier,
    factor_occurrences,
    occurrence_in,
)
from lake.entities.model import MODEL_LABELS, to_examples
from lake.entities.span_rules import SPAN_RULES
from synth.training import labelled_texts

RISK, PROTECTIVE = MODEL_LABELS["risk_factor"], MODEL_LABELS["protective_factor"]


def _examples(children: int, seed: int, split: str) -> list[dict]:
    return [ex for text, spans in labelled_texts(children, seed, split) for ex in to_examples(text, spans, 64)]


@pytest.fixture(scope="module")
def train_examples() -> list[dict]:
    # 20 children (the build reads 60): 0.969 of the held-out factors below right, 0.938 from 6, 0.971 from 60
    return _examples(20, 101, "train")


@pytest.fixture(scope="module")
def classifier(train_examples) -> FactorClassifier:
    return FactorClassifier.train(factor_occurrences(train_examples))


def test_factor_occurrences_are_read_from_training_examples_as_from_text():
    examples = [
        {
            "tokenized_text": ["Concerns", "about", "self-harm", ";", "a", "strong", "sibling", "bond", "."],
            "ner": [[2, 2, RISK]],
        },
        {
            "tokenized_text": ["He", "has", "a", "strong", "sibling", "bond", "with", "Amy", "."],
            "ner": [[3, 5, PROTECTIVE]],
        },
        {"tokenized_text": ["Seen", "by", "PC", "Hill"], "ner": [[2, 2, MODEL_LABELS["professional_role"]]]},
    ]
    assert factor_occurrences(examples) == {
        ("self-harm", "Concerns about \u2026 ; a strong"): "risk_factor",
        ("strong sibling bond", "He has a \u2026 with Amy ."): "protective_factor",
    }
    # the extraction reads an occurrence from the text the way the build reads it from words
    text = "He has a strong sibling bond with Amy."
    assert occurrence_in(text, 9, 28) == ("strong sibling bond", "He has a \u2026 with Amy .")


def test_factors_in_text_it_never_saw_are_mostly_labelled_right(classifier):
    # The eval split's factor phrases and templates were written apart from the train split's (synth/pools.py).
    truth = [
        (occurrence_in(text, s, e), label)
        for text, spans in labelled_texts(6, 2027, "eval")
        for s, e, label in spans
        if label in FACTOR_LABELS
    ]
    got = classifier.labels([o for o, _ in truth])
    right = sum(g == label for g, (_, label) in zip(got, truth, strict=True))
    assert len(truth) > 500 and right / len(truth) >= 0.95, (right, len(truth))
    # and the clear cases, whatever the threshold
    assert classifier.labels(
        [("domestic violence", "concerns about \u2026 at home ."), ("a loving and stable home", "He has \u2026 .")]
    ) == ["risk_factor", "protective_factor"]


def test_training_needs_both_labels():
    with pytest.raises(ValueError, match="both labels"):
        FactorClassifier.train({("neglect", "\u2026"): "risk_factor", ("self-harm", "\u2026"): "risk_factor"})


def test_the_classifier_lives_beside_the_model_and_versions_it(tmp_path, classifier, train_examples):
    model_dir = tmp_path / "gliner-minilm-abc"
    model_dir.mkdir()
    (model_dir / "caselake_build.json").write_text(json.dumps({"model_id": "caselake/gliner-minilm-abc"}))
    # the span rules' revision is part of the version: new rules, the texts are read again
    assert model_identity(model_dir, int8=True) == ("caselake/gliner-minilm-abc", f"abc-{SPAN_RULES}-int8")
    assert FactorClassifier.load(model_dir) is None  # a model without one keeps its own labels

    classifier.save(model_dir)
    assert FactorClassifier.load(model_dir) == classifier
    _, version = model_identity(model_dir, int8=True)
    assert version.startswith("abc-f") and version.endswith("-int8")  # new labels, new version: re-extracted

    before = (model_dir / CLASSIFIER_FILE).read_bytes()
    ensure_classifier(model_dir, examples=[])  # present: left as it is, no training (no examples needed)
    assert (model_dir / CLASSIFIER_FILE).read_bytes() == before

    # a classifier of the first format (the phrase alone) is a clear error to load, and the build retrains it
    (model_dir / CLASSIFIER_FILE).write_text(json.dumps({"encoder": "all-MiniLM-L6-v2", "phrases": 3, "bias": 0}))
    with pytest.raises(ValueError, match="format 1"):
        FactorClassifier.load(model_dir)
    ensure_classifier(model_dir, train_examples)
    assert FactorClassifier.load(model_dir) == classifier
