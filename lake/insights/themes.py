"""Themes in the prospective adopter reports: each report sentence is matched to the nearest theme an analyst
declared (short descriptions, compared by meaning with the packaged MiniLM embeddings), so that different
wordings of one idea count as one theme. A household has a theme when any sentence of its report matches.

Declared themes rather than discovered ones: the list is short, reads as plain words, can be argued with and
changed by another agency (``THEMES``), and each comes with the report phrases that matched it. Sentences that
only restate a recorded field (fostering, birth children, work, faith) are left to the recorded fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass(frozen=True)
class Theme:
    name: str
    label: str  # plain words, as the report and the app show it
    descriptions: tuple[str, ...]  # what the theme means, in a few ways of saying it


THEMES: tuple[Theme, ...] = (
    Theme(
        "cared_for_disabled_relative",
        "Report: has cared for a disabled or seriously ill relative",
        (
            "helped care for a disabled family member",
            "was a young carer for a brother or sister with a disability",
            "looked after a parent with a long-term illness or condition",
            "supports a relative who has a learning disability or autism",
        ),
    ),
    Theme(
        "outdoor_family_life",
        "Report: an outdoor, active family life",
        (
            "enjoy walking, camping and outdoor activities",
            "keep dogs and spend a lot of time outdoors",
            "spend weekends cycling, gardening and in the countryside",
            "love being outdoors, walking in the hills and swimming",
        ),
    ),
    Theme(
        "support_network",
        "Report: a strong support network",
        ("have a strong support network of family and friends nearby", "referees describe them as warm and patient"),
    ),
    Theme(
        "reflective_about_loss",
        "Report: reflective about attachment and loss",
        ("reflected well on attachment, trauma and loss in preparation training",),
    ),
)
# A sentence joins a theme when its similarity to the theme's nearest description reaches this, and it is
# nearer to that theme than to any other. Set on generated reports: every planted wording of the caring trait
# clears it (lowest 0.47) and the recorded-field sentences do not (highest 0.37); one near miss does ("volunteer
# at a hospice charity shop", 0.52) — meaning alone cannot tell those apart, and the evaluation counts the cost.
MATCH_THRESHOLD = 0.42
# Sentences that restate recorded fields: the fields themselves are the better measure.
_RECORDED = re.compile(
    r"^(Work:|Faith:|They have (not )?fostered|They have (no|one|\d+) birth child)|\b(were|was) approved on\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")

Encoder = Callable[[list[str]], np.ndarray]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text or "") if s.strip() and not _RECORDED.search(s.strip())]


class ThemeFinder:
    """Matches sentences to ``THEMES``; remembers the vector of every sentence it has seen (reports share many
    phrasings, so a simulation over hundreds of agencies embeds each phrasing once)."""

    def __init__(self, encode: Encoder, themes: tuple[Theme, ...] = THEMES, threshold: float = MATCH_THRESHOLD):
        self.encode, self.themes, self.threshold = encode, themes, threshold
        self._theme_vectors = [encode(list(t.descriptions)) for t in themes]
        self._cache: dict[str, np.ndarray] = {}

    def _vectors(self, texts: list[str]) -> np.ndarray:
        new = sorted({t for t in texts if t not in self._cache})
        if new:
            for text, vector in zip(new, self.encode(new), strict=True):
                self._cache[text] = vector
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 1))

    def scored(self, texts: list[str]) -> list[tuple[str | None, float]]:
        """The theme each sentence belongs to (or None) and its similarity to that theme."""
        if not texts:
            return []
        vectors = self._vectors(texts)
        scores = np.stack([(vectors @ tv.T).max(axis=1) for tv in self._theme_vectors], axis=1)
        best = scores.argmax(axis=1)
        return [
            (self.themes[b].name if scores[i, b] >= self.threshold else None, float(scores[i, b]))
            for i, b in enumerate(best.tolist())
        ]

    def household_themes(self, reports: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """One row per household with a boolean column per theme, and the matched phrases (household_id,
        theme, phrase, similarity) that explain each."""
        rows = [
            (hid, s) for hid, text in reports.select("household_id", "report_text").iter_rows() for s in sentences(text)
        ]
        matched = self.scored([s for _, s in rows])
        phrases = pl.DataFrame(
            [(hid, theme, s, score) for (hid, s), (theme, score) in zip(rows, matched, strict=True) if theme],
            schema={"household_id": pl.String, "theme": pl.String, "phrase": pl.String, "similarity": pl.Float64},
            orient="row",
        )
        flags = reports.select("household_id").with_columns(
            pl.col("household_id")
            .is_in(phrases.filter(pl.col("theme") == t.name)["household_id"].implode())
            .alias(t.name)
            for t in self.themes
        )
        return flags, phrases


def example_phrases(phrases: pl.DataFrame, typical: int = 3, borderline: int = 2) -> dict[str, tuple[list, list]]:
    """For each theme, the distinct phrases nearest its meaning and those that only just matched: people judge
    a theme by both (the borderline ones are where it catches what it should not)."""
    out: dict[str, tuple[list, list]] = {}
    for (theme,), group in phrases.group_by("theme"):
        distinct = group.group_by("phrase").agg(pl.col("similarity").first()).sort("similarity", descending=True)
        top = distinct["phrase"].head(typical).to_list()
        edge = [p for p in distinct["phrase"].tail(borderline).to_list() if p not in top]
        out[theme] = (top, edge)
    return out
