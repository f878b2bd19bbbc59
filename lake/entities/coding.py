"""Factor coding: each statement of a record gets the CIN census factor codes and the strengths it carries, each
current, historic, negated or hypothetical (issue 37, decision 0037).

A statement is coded in three steps, each a linear model over the statement's features:

1. **topics**: one yes/no head per factor without its letter ("1" alcohol, "3" domestic abuse, "18" physical
   abuse, "7A" young carer, ...) and per strength, so a statement can carry several;
2. **letter**: where the census letter says something the topic does not: whom a factor 1-6 concerns (A the
   child, B a parent or carer, C another household member), who abuses in 18 and 19 (B a child, C an adult), the
   kind of private fostering in 8 (B-F);
3. **status**: one head for factors and one for strengths (a sentence can say a parent's drinking is historic
   and their recovery current).

The features are word and character n-grams (tf-idf), which read misspellings, shorthand and the words of
negation and condition in a fraction of a millisecond; a practitioner's cue words per topic and status
(:mod:`lake.entities.factor_lexicon`); and optionally the statement's all-MiniLM-L6-v2 vector (the encoder the
package ships). Which of them the project builds with, and why, is decision 0037.

The coder is trained from labelled statements it is given (the project's come from the hand-written corpus, by
:mod:`synth.training`); it never reads them itself. It is saved as JSON and a numpy archive (no pickle: loading a
coder runs no code) and named by a digest of both.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lake.contracts.codes import CIN_FACTOR, CIN_FACTOR_WHO, STRENGTH

CODER_JSON, CODER_ARRAYS = "factor_coder.json", "factor_coder.npz"
FORMAT = 1
STRENGTH_PREFIX = "S:"
Label = tuple[str, str]  # (code or "S:<strength>", status)

# The letter heads: which topics each decides, and the letters it chooses between.
LETTER_HEADS = {
    "who": (("1", "2", "3", "4", "5", "6"), ("A", "B", "C")),
    "abuser": (("18", "19"), ("B", "C")),
    "fostering": (("8",), ("B", "C", "D", "E", "F")),
}


def topic_of(code: str) -> str:
    """The topic a code belongs to: its number where a letter head decides the letter, else the code itself."""
    number = code.rstrip("ABCDEF")
    return number if any(number in topics for topics, _ in LETTER_HEADS.values()) else code


def _letter_head(topic: str) -> str | None:
    return next((name for name, (topics, _) in LETTER_HEADS.items() if topic in topics), None)


TOPICS = tuple(dict.fromkeys([topic_of(c) for c in CIN_FACTOR] + [STRENGTH_PREFIX + s for s in STRENGTH]))


@dataclass(frozen=True)
class CoderConfig:
    """What a coder is built with. The defaults are the project's build (decision 0037)."""

    features: str = "ngrams+cues"  # feature sets joined by "+": ngrams, cues, minilm (decision 0037)
    c: float = 4.0  # inverse regularisation of every head
    threshold: float = 0.5  # least topic probability for a label
    min_positives: int = 2  # a topic with fewer training statements gets no head

    def key(self) -> str:
        return f"{self.features}-c{self.c:g}-t{self.threshold:g}-m{self.min_positives}"


@dataclass(frozen=True)
class Coded:
    """One label of a statement: a code ("3B") or a strength ("S:recovery"), its status and the topic's
    probability."""

    code: str
    status: str
    score: float

    @property
    def is_strength(self) -> bool:
        return self.code.startswith(STRENGTH_PREFIX)

    @property
    def who(self) -> str | None:
        """Whom the factor concerns where its letter says so (1-6): child, parent or carer, other household member."""
        if self.is_strength or topic_of(self.code) not in LETTER_HEADS["who"][0]:
            return None
        return CIN_FACTOR_WHO[self.code[-1]]


# ---- features -----------------------------------------------------------------------------------------------
def _vectorizers():
    from sklearn.feature_extraction.text import TfidfVectorizer

    # Words carry meaning ("drinking", "denies"), characters carry misspellings and shorthand ("drinkin", "DV").
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True, token_pattern=r"(?u)\b\w+\b")
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True, min_df=2)
    return words, chars


@dataclass
class _Features:
    """``kind``: the feature sets joined by "+": ``ngrams`` (word and character tf-idf), ``cues`` (the
    practitioner's cue words, :mod:`lake.entities.factor_lexicon`), ``minilm`` (the sentence vector)."""

    kind: str
    words: object = None
    chars: object = None
    threads: int = 2

    @property
    def parts(self) -> frozenset[str]:
        return frozenset(self.kind.split("+"))

    def fit(self, texts: Sequence[str]) -> _Features:
        if "ngrams" in self.parts:
            self.words, self.chars = _vectorizers()
            self.words.fit(texts)
            self.chars.fit(texts)
        return self

    def transform(self, texts: Sequence[str]):
        from scipy import sparse

        parts = []
        if "ngrams" in self.parts:
            parts += [self.words.transform(texts), self.chars.transform(texts)]
        if "cues" in self.parts:
            from lake.entities.factor_lexicon import cue_features

            parts.append(sparse.csr_matrix(cue_features(list(texts))))
        if "minilm" in self.parts:
            from lake.entities.factors import encode  # the packaged encoder, loaded once per process

            parts.append(sparse.csr_matrix(encode(list(texts), self.threads)))
        return sparse.hstack(parts, format="csr", dtype=np.float32)


# ---- the coder ----------------------------------------------------------------------------------------------
@dataclass
class _Head:
    classes: tuple[str, ...]  # for a yes/no head: ("yes",)
    coef: np.ndarray  # (classes or 1, features)
    intercept: np.ndarray

    def proba(self, x) -> np.ndarray:
        z = np.asarray(x @ self.coef.T) + self.intercept
        if len(self.classes) == 1:
            return 1.0 / (1.0 + np.exp(-z))
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    @classmethod
    def fit(cls, x, y: Sequence[str], c: float, binary: bool = False) -> _Head:
        from sklearn.linear_model import LogisticRegression

        fit = LogisticRegression(C=c, max_iter=3000, class_weight="balanced" if binary else None).fit(x, y)
        if binary:
            return cls(("yes",), fit.coef_.astype(np.float32), fit.intercept_.astype(np.float32))
        classes = tuple(str(k) for k in fit.classes_)
        if len(classes) == 2:  # sklearn keeps one row for two classes: spell both out
            coef = np.vstack([-fit.coef_[0], fit.coef_[0]]) / 2
            intercept = np.asarray([-fit.intercept_[0], fit.intercept_[0]]) / 2
            return cls(classes, coef.astype(np.float32), intercept.astype(np.float32))
        return cls(classes, fit.coef_.astype(np.float32), fit.intercept_.astype(np.float32))


@dataclass
class FactorCoder:
    config: CoderConfig
    features: _Features
    topics: dict[str, _Head]  # topic -> yes/no head
    letters: dict[str, _Head] = field(default_factory=dict)  # letter head name -> head
    status: dict[str, _Head] = field(default_factory=dict)  # "factor" / "strength" -> head
    fixed_status: dict[str, str] = field(default_factory=dict)  # a status head with one class only
    statements: int = 0
    version: str = ""

    # ---- training ----
    @classmethod
    def train(cls, labelled: Sequence[tuple[str, Sequence[Label]]], config: CoderConfig | None = None) -> FactorCoder:
        """A coder trained on (statement, labels) pairs; a statement without labels teaches what is no factor."""
        config = config or CoderConfig()
        texts = [t for t, _ in labelled]
        feats = _Features(config.features).fit(texts)
        x = feats.transform(texts)
        topics: dict[str, _Head] = {}
        for topic in TOPICS:
            y = ["yes" if any(topic_of(code) == topic for code, _ in labels) else "no" for _, labels in labelled]
            if y.count("yes") >= config.min_positives:
                topics[topic] = _Head.fit(x, y, config.c, binary=True)
        letters: dict[str, _Head] = {}
        for name, (head_topics, _) in LETTER_HEADS.items():
            rows, y = [], []
            for i, (_, labels) in enumerate(labelled):
                for code, _status in labels:
                    if topic_of(code) in head_topics:
                        rows.append(i)
                        y.append(code[-1])
            if len(set(y)) >= 2:
                letters[name] = _Head.fit(x[rows], y, config.c)
        status: dict[str, _Head] = {}
        fixed: dict[str, str] = {}
        for kind in ("factor", "strength"):
            rows, y = [], []
            for i, (_, labels) in enumerate(labelled):
                for code, st in labels:
                    if code.startswith(STRENGTH_PREFIX) == (kind == "strength"):
                        rows.append(i)
                        y.append(st)
            if len(set(y)) >= 2:
                status[kind] = _Head.fit(x[rows], y, config.c)
            elif y:
                fixed[kind] = y[0]
        return cls(config, feats, topics, letters, status, fixed, len(labelled))

    # ---- coding ----
    def code(self, texts: Sequence[str]) -> list[list[Coded]]:
        """The labels of each statement, by topic order."""
        if not texts:
            return []
        x = self.features.transform(texts)
        topic_names = list(self.topics)
        p_topic = np.hstack([self.topics[t].proba(x) for t in topic_names])
        p_letter = {name: head.proba(x) for name, head in self.letters.items()}
        p_status = {kind: head.proba(x) for kind, head in self.status.items()}
        out: list[list[Coded]] = []
        for i in range(len(texts)):
            found = []
            for j in np.flatnonzero(p_topic[i] >= self.config.threshold):
                topic = topic_names[j]
                kind = "strength" if topic.startswith(STRENGTH_PREFIX) else "factor"
                code = topic
                head = _letter_head(topic)
                if head in p_letter:
                    letters = self.letters[head].classes
                    allowed = [k for k, letter in enumerate(letters) if f"{topic}{letter}" in CIN_FACTOR]
                    code = topic + letters[max(allowed, key=lambda k: p_letter[head][i, k])]
                elif head is not None:  # a topic whose letter no head learnt: the census's commonest
                    code = topic + {"who": "B", "abuser": "C", "fostering": "F"}[head]
                if kind in p_status:
                    st = self.status[kind].classes[int(np.argmax(p_status[kind][i]))]
                else:
                    st = self.fixed_status.get(kind, "current")
                found.append(Coded(code, st, round(float(p_topic[i, j]), 4)))
            out.append(found)
        return out

    # ---- storage ----
    def save(self, directory: Path) -> str:
        """Written into ``directory`` atomically; returns the version (a digest of what was written)."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        heads: dict[str, dict] = {}
        for group, table in (("topic", self.topics), ("letter", self.letters), ("status", self.status)):
            for name, head in table.items():
                key = f"{group}/{name}"
                arrays[f"{key}/coef"], arrays[f"{key}/intercept"] = head.coef, head.intercept
                heads[key] = {"classes": list(head.classes)}
        body: dict = {
            "format": FORMAT,
            "config": vars(self.config),
            "statements": self.statements,
            "heads": heads,
            "fixed_status": self.fixed_status,
        }
        if "ngrams" in self.features.parts:
            for name in ("words", "chars"):
                vec = getattr(self.features, name)
                vocab = sorted(vec.vocabulary_, key=vec.vocabulary_.get)
                body[f"{name}_vocabulary"] = vocab
                arrays[f"{name}/idf"] = vec.idf_.astype(np.float64)
        pid = os.getpid()
        (directory / f".{CODER_JSON}.{pid}").write_text(json.dumps(body, sort_keys=True) + "\n")
        with open(directory / f".{CODER_ARRAYS}.{pid}", "wb") as f:
            np.savez(f, **arrays)
        (directory / f".{CODER_ARRAYS}.{pid}").rename(directory / CODER_ARRAYS)
        (directory / f".{CODER_JSON}.{pid}").rename(directory / CODER_JSON)
        return coder_version(directory)

    @classmethod
    def load(cls, directory: Path, threads: int = 2) -> FactorCoder:
        body = json.loads((directory / CODER_JSON).read_text())
        if body.get("format") != FORMAT:
            raise ValueError(f"{directory / CODER_JSON} is a factor coder of format {body.get('format')}, not {FORMAT}")
        arrays = np.load(directory / CODER_ARRAYS, allow_pickle=False)
        config = CoderConfig(**body["config"])
        feats = _Features(config.features, threads=threads)
        if "ngrams" in feats.parts:
            feats.words, feats.chars = _vectorizers()
            for name in ("words", "chars"):
                vec = getattr(feats, name)
                vec.vocabulary_ = {term: k for k, term in enumerate(body[f"{name}_vocabulary"])}
                vec.idf_ = arrays[f"{name}/idf"]
        tables: dict[str, dict[str, _Head]] = {"topic": {}, "letter": {}, "status": {}}
        for key, meta in body["heads"].items():
            group, name = key.split("/", 1)
            tables[group][name] = _Head(tuple(meta["classes"]), arrays[f"{key}/coef"], arrays[f"{key}/intercept"])
        return cls(
            config,
            feats,
            {t: tables["topic"][t] for t in TOPICS if t in tables["topic"]},  # the order a trained coder has
            tables["letter"],
            tables["status"],
            body["fixed_status"],
            body["statements"],
            coder_version(directory),
        )


def coder_version(directory: Path) -> str:
    """A short digest of the saved coder: every factor statement carries it."""
    h = hashlib.sha256()
    for name in (CODER_JSON, CODER_ARRAYS):
        h.update((directory / name).read_bytes())
    return h.hexdigest()[:12]


def training_key(labelled: Sequence[tuple[str, Sequence[Label]]], config: CoderConfig) -> str:
    """What a coder is built from: its config and its statements (the cache is keyed by it)."""
    h = hashlib.sha256(f"{FORMAT}|{config.key()}".encode())
    for text, labels in labelled:
        h.update(text.encode())
        h.update(repr(sorted(labels)).encode())
    return h.hexdigest()[:16]


def ensure_coder(cache_dir: Path, labelled: Sequence[tuple[str, Sequence[Label]]], config: CoderConfig) -> Path:
    """The coder for these statements and config: found in ``cache_dir`` or trained now (about a minute)."""
    directory = cache_dir / f"factor-coder-{training_key(labelled, config)}"
    if not (directory / CODER_JSON).is_file():
        FactorCoder.train(labelled, config).save(directory)
    return directory
