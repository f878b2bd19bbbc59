"""What the council already knows, used to find entities in its own text.

The structured tables record every address a child's family has lived at (``person_address``: line 1 and
town). A note that writes one of those addresses writes it as recorded, so a dictionary match over the child's
own network finds it exactly, where a model has to guess where an address ends. The gazetteer is per child:
the addresses of the child and of every person recorded in a relationship with the child, at any date.

Matches are case-insensitive, on word boundaries, and take the longest phrase at a position ("12 High Street,
Hull" before "12 High Street"). A gazetteer mention replaces any model mention it overlaps: measured on the
held-out council, the dictionary's spans are right where the model's differ (see docs/entities.md).

The names the structured tables record for the child and its related people (``person``, ``person_name``: every
name held) are matched too, as persons: a full name in any case, a first name only as recorded (capitalised, so
"will" and "grace" are words), never a first name that is also a common word (``NOT_NAMES``). A recorded name
only fills what the model and the patterns left: it never replaces a mention, but a first name written just before
a model's person ("Leanne" + "Rebecca Brady") joins it. Measured on two held-out councils: person F1 0.971 ->
0.983 and 0.976 -> 0.980 (decision 0030); the model misses a first name alone at the start of a sentence in
templates it never saw ("Leanne has a pastoral support plan").

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
GAZETTEER_LABELS = ("address", "person")
# First names that are also words a note writes capitalised at a sentence's start or as a month: never matched alone.
NOT_NAMES = frozenset(
    {
        "may", "june", "april", "august", "will", "grace", "hope", "faith", "joy", "summer", "autumn", "dawn", "eve",
        "frank", "guy", "ray", "mark", "bill", "sue", "pat", "rose", "holly", "ivy", "amber", "jade", "crystal",
        "heather", "robin", "jack", "rich", "penny", "sandy", "lance", "miles", "chase", "hunter", "sky", "river",
        "storm", "star", "page", "art", "carol", "bob", "don", "norman", "victor", "major", "king", "angel", "precious",
    }
)  # fmt: skip


@dataclass
class Gazetteer:
    """child_id -> the phrases recorded for that child's network, each with its label."""

    phrases: dict[str, dict[str, str]] = field(default_factory=dict)
    first_names: dict[str, set[str]] = field(default_factory=dict)  # child_id -> first names, as recorded (case kept)
    _compiled: dict[str, re.Pattern] = field(default_factory=dict, repr=False)

    @classmethod
    def from_lake(cls, lake: Lake) -> Gazetteer:
        return cls.from_frames(_addresses(lake), _names(lake))

    @classmethod
    def from_frames(cls, addresses: pl.DataFrame, names: pl.DataFrame | None = None) -> Gazetteer:
        """``addresses``: child_id, line1, town (one row per address of a person in the child's network);
        ``names``: child_id, first_name, surname (one row per name a person of the child's network has held)."""
        phrases: dict[str, dict[str, str]] = {}
        first_names: dict[str, set[str]] = {}
        for child_id, first, surname in [] if names is None else names.iter_rows():
            first, surname = (" ".join((x or "").split()) for x in (first, surname))
            if first and surname:
                phrases.setdefault(child_id, {})[f"{first} {surname}".lower()] = "person"
            if len(first) > 1 and " " not in first and first.lower() not in NOT_NAMES:
                first_names.setdefault(child_id, set()).add(first[0].upper() + first[1:])
        for child_id, line1, town in addresses.select("child_id", "line1", "town").iter_rows():
            if not line1 or not line1.strip():
                continue
            line1 = " ".join(line1.split())
            mine = phrases.setdefault(child_id, {})
            mine[line1.lower()] = "address"
            if town and town.strip():
                mine[f"{line1}, {' '.join(town.split())}".lower()] = "address"
        return cls(phrases, first_names)

    def __len__(self) -> int:
        return sum(len(p) for p in self.phrases.values())

    def _pattern(self, child_id: str) -> re.Pattern | None:
        if child_id not in self._compiled:
            mine, first = self.phrases.get(child_id, {}), self.first_names.get(child_id, set())
            if not mine and not first:
                return None
            # Longest first, so an address with its town wins over its first line alone at the same position;
            # any run of white space in the text matches the single space of the recorded phrase. Phrases match in
            # any case, first names only as recorded; none starts inside a word or right after an initial's dot.
            alternatives = [
                r"(?i:" + r"\s+".join(map(re.escape, p.split())) + ")" for p in sorted(mine, key=len, reverse=True)
            ]
            alternatives += [re.escape(f) for f in sorted(first, key=len, reverse=True)]
            self._compiled[child_id] = re.compile(r"(?<![\w.])(?:" + "|".join(alternatives) + r")(?!\w)")
        return self._compiled[child_id]

    def find(self, text: str, child_id: str) -> list[Mention]:
        """The recorded phrases of ``child_id``'s network in ``text``, with exact spans."""
        pattern = self._pattern(child_id)
        if pattern is None:
            return []
        labels = self.phrases.get(child_id, {})
        return [
            Mention(
                m.start(),
                m.end(),
                labels.get(" ".join(m.group().split()).lower(), "person"),
                m.group(),
                1.0,
                GAZETTEER_MODEL,
            )
            for m in pattern.finditer(text)
        ]


def merge(found: list[Mention], recorded: list[Mention], text: str = "") -> list[Mention]:
    """``found`` (model and pattern mentions) with the gazetteer's ``recorded`` mentions of ``text``: a recorded
    address wins over any model mention and any address the grammar read that it overlaps (a postcode or a date
    inside it stays); a recorded name only fills
    a gap, or joins the model's person that starts one space after it."""
    addresses = [r for r in recorded if r.label == "address"]
    kept = [
        m
        for m in found
        if (m.model == PATTERN_MODEL and m.label != "address") or not any(m.overlaps(r) for r in addresses)
    ]
    out = kept + addresses
    for name in (r for r in recorded if r.label == "person"):
        if any(name.overlaps(m) for m in out):
            continue
        after = next((m for m in out if m.label == "person" and m.start == name.end + 1), None)
        if after is not None and text[name.end : after.start] == " ":
            out.remove(after)
            name = Mention(name.start, after.end, "person", text[name.start : after.end], after.score, after.model)
        out.append(name)
    return sorted(out, key=lambda m: (m.start, m.end, m.label))


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


def _names(lake: Lake) -> pl.DataFrame:
    """child_id, first_name, surname: every name the child and the people related to it have held."""
    empty = pl.DataFrame(schema={"child_id": pl.String, "first_name": pl.String, "surname": pl.String})
    person, held = lake.scan(ENTERPRISE, "person"), lake.scan(ENTERPRISE, "person_name")
    child, rels = lake.scan(ENTERPRISE, "child"), lake.scan(ENTERPRISE, "relationship")
    if person is None or child is None:
        return empty
    live = pl.col("_deleted_at").is_null()
    names = [person.filter(live).select("person_id", "first_name", "surname")]
    if held is not None:
        names.append(held.filter(live).select("person_id", "first_name", "surname"))
    network = [child.filter(live).select(pl.col("person_id").alias("child_id"), "person_id")]
    if rels is not None:
        network.append(rels.filter(live).select("child_id", "person_id"))
    return (
        pl.concat(network)
        .join(pl.concat(names), on="person_id")
        .select("child_id", "first_name", "surname")
        .unique()
        .sort("child_id", "first_name", "surname")
        .collect()
    )
