"""What the council already knows, used to find entities in its own text.

The structured tables record every address a child's family has lived at (``person_address``: line 1 and
town). A note that writes one of those addresses writes it as recorded, so a dictionary match over the child's
own network finds it exactly, where a model has to guess where an address ends. The gazetteer is per child:
the addresses of the child and of every person recorded in a relationship with the child, at any date.

Matches are case-insensitive, on word boundaries, and take the longest phrase at a position ("12 High Street,
Hull" before "12 High Street"). A gazetteer mention replaces any model mention it overlaps: measured on the
held-out council, the dictionary's spans are right where the model's differ (see docs/entities.md).

Only labels where it wins are matched (``GAZETTEER_LABELS``). Schools and GP practices are not recorded in
either source system's export, so they are left to the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

from lake.entities.patterns import PATTERN_MODEL, Mention
from lake.storage.delta import ENTERPRISE, Lake

GAZETTEER_MODEL = "caselake-gazetteer"
GAZETTEER_LABELS = ("address",)


@dataclass
class Gazetteer:
    """child_id -> the phrases recorded for that child's network, each with its label."""

    phrases: dict[str, dict[str, str]] = field(default_factory=dict)
    _compiled: dict[str, re.Pattern] = field(default_factory=dict, repr=False)

    @classmethod
    def from_lake(cls, lake: Lake) -> Gazetteer:
        return cls.from_frames(_addresses(lake))

    @classmethod
    def from_frames(cls, addresses: pl.DataFrame) -> Gazetteer:
        """``addresses``: child_id, line1, town (one row per address of a person in the child's network)."""
        phrases: dict[str, dict[str, str]] = {}
        for child_id, line1, town in addresses.select("child_id", "line1", "town").iter_rows():
            if not line1 or not line1.strip():
                continue
            line1 = " ".join(line1.split())
            mine = phrases.setdefault(child_id, {})
            mine[line1.lower()] = "address"
            if town and town.strip():
                mine[f"{line1}, {' '.join(town.split())}".lower()] = "address"
        return cls(phrases)

    def __len__(self) -> int:
        return sum(len(p) for p in self.phrases.values())

    def _pattern(self, child_id: str) -> re.Pattern | None:
        if child_id not in self._compiled:
            mine = self.phrases.get(child_id)
            if not mine:
                return None
            # Longest first, so an address with its town wins over its first line alone at the same position;
            # any run of white space in the text matches the single space of the recorded phrase.
            alternatives = [r"\s+".join(map(re.escape, p.split())) for p in sorted(mine, key=len, reverse=True)]
            self._compiled[child_id] = re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)
        return self._compiled[child_id]

    def find(self, text: str, child_id: str) -> list[Mention]:
        """The recorded phrases of ``child_id``'s network in ``text``, with exact spans."""
        pattern = self._pattern(child_id)
        if pattern is None:
            return []
        labels = self.phrases[child_id]
        return [
            Mention(m.start(), m.end(), labels[" ".join(m.group().split()).lower()], m.group(), 1.0, GAZETTEER_MODEL)
            for m in pattern.finditer(text)
        ]


def merge(found: list[Mention], recorded: list[Mention]) -> list[Mention]:
    """``found`` (model and pattern mentions) with the gazetteer's ``recorded`` mentions: a recorded span wins
    over any model mention it overlaps; a pattern mention inside it (the postcode after an address is outside
    it) stays."""
    if not recorded:
        return found
    kept = [m for m in found if m.model == PATTERN_MODEL or not any(m.overlaps(r) for r in recorded)]
    return sorted([*kept, *recorded], key=lambda m: (m.start, m.end, m.label))


def _addresses(lake: Lake) -> pl.DataFrame:
    """child_id, line1, town: every recorded address of the child and of the people related to it."""
    empty = pl.DataFrame(schema={"child_id": pl.String, "line1": pl.String, "town": pl.String})
    addresses = lake.scan(ENTERPRISE, "person_address")
    if addresses is None:
        return empty
    live = pl.col("_deleted_at").is_null()
    addresses = addresses.filter(live).select("person_id", "line1", "town")
    frames = []
    child, rels = lake.scan(ENTERPRISE, "child"), lake.scan(ENTERPRISE, "relationship")
    if child is not None:
        frames.append(child.filter(live).select(pl.col("person_id").alias("child_id"), "person_id"))
    if rels is not None:
        frames.append(rels.filter(live).select("child_id", "person_id"))
    if not frames:
        return empty
    return pl.concat(frames).join(addresses, on="person_id").select("child_id", "line1", "town").unique().collect()
