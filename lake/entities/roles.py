"""Professional roles found by a word list beside the model.

The roles a record names form a small, closed vocabulary (``reference/professional_roles.txt``): social
worker, SW, TM, IRO, HV, midwife, solicitor... On sentences it never saw the model missed roles written alone
("The solicitor supports the plan", "aunty; SW"), while the words themselves are fixed. The list fills the
model's gaps only: a role word inside any other mention (the model's, a pattern's, the gazetteer's) is left to
that mention, so "Hull GP Surgery" stays one organisation and "Mum" stays a kinship role.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from lake.entities.patterns import Mention

ROLES_MODEL = "caselake-roles"
ROLE_WORDS_FILE = Path(__file__).parent / "reference" / "professional_roles.txt"


@functools.cache
def role_words() -> tuple[str, ...]:
    lines = ROLE_WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _word_pattern(word: str) -> str:
    """A capitalised abbreviation matches in capitals only; any other word in any case."""
    return re.escape(word) if word.isupper() and len(word) > 1 else f"(?i:{re.escape(word)})"


@functools.cache
def _pattern() -> re.Pattern:
    phrases = sorted(role_words(), key=len, reverse=True)  # longest first: "allocated social worker" wins
    alternatives = [r"\s+".join(_word_pattern(w) for w in phrase.split()) for phrase in phrases]
    return re.compile(r"(?<![\w'])(?:" + "|".join(alternatives) + r")(?![\w'])")


def find_roles(text: str) -> list[Mention]:
    """Every role word of the list in ``text``, with exact spans."""
    return [
        Mention(m.start(), m.end(), "professional_role", m.group(), 1.0, ROLES_MODEL) for m in _pattern().finditer(text)
    ]


def fill_gaps(found: list[Mention], roles: list[Mention]) -> list[Mention]:
    """``found`` with the ``roles`` that overlap none of its mentions."""
    gaps = [r for r in roles if not any(r.overlaps(m) for m in found)]
    return sorted([*found, *gaps], key=lambda m: (m.start, m.end, m.label))
