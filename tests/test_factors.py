"""The factor classifier: risk or protective from the meaning of the span (decision 0020), on the real
packaged encoder. Fast: it trains on 30 phrases in about a second."""

from __future__ import annotations

import json

import pytest

from lake.entities.extraction import SPAN_RULES, model_identity
from lake.entities.factors import CLASSIFIER_FILE, FactorClassifier, ensure_classifier, factor_phrases
from lake.entities.model import MODEL_LABELS
from synth.pools import EVAL_PROTECTIVE_FACTORS, EVAL_RISK_FACTORS, FACTORS

RISK, PROTECTIVE = MODEL_LABELS["risk_factor"], MODEL_LABELS["protective_factor"]


def _train_phrases() -> dict[str, str]:
    risks, protective = FACTORS["train"]
    return {**dict.fromkeys(risks, "risk_factor"), **dict.fromkeys(protective, "protective_factor")}


@pytest.fixture(scope="module")
def classifier() -> FactorClassifier:
    return FactorClassifier.train(_train_phrases())


def test_factor_phrases_are_read_from_training_examples():
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
    assert factor_phrases(examples) == {"self-harm": "risk_factor", "strong sibling bond": "protective_factor"}


def test_phrases_it_never_saw_are_mostly_labelled_right(classifier):
    # The eval split's factors were written apart from the train phrases (synth/pools.py).
    phrases = [*EVAL_RISK_FACTORS, *EVAL_PROTECTIVE_FACTORS]
    truth = ["risk_factor"] * len(EVAL_RISK_FACTORS) + ["protective_factor"] * len(EVAL_PROTECTIVE_FACTORS)
    right = sum(a == b for a, b in zip(classifier.labels(phrases), truth, strict=True))
    assert right / len(phrases) >= 0.85, (right, len(phrases))
    # and the clear cases, whatever the threshold
    assert classifier.labels(["domestic violence", "a loving and stable home"]) == ["risk_factor", "protective_factor"]


def test_training_needs_both_labels():
    with pytest.raises(ValueError, match="both labels"):
        FactorClassifier.train({"neglect": "risk_factor", "self-harm": "risk_factor"})


def test_the_classifier_lives_beside_the_model_and_versions_it(tmp_path, classifier):
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
