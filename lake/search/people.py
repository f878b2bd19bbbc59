"""Person-aware search: a query that names a person finds every mention resolution tied to that person, under
whatever name the text used ("Jonny Hill" finds "Jonathan", "J. Hill" and "Mr Hill" when they were resolved
to him).

A name in the query is matched against every name a resolved person is known by: the names recorded for
them (including earlier names) and the name as the text wrote it. A surname must match exactly; a first
name may be the same, an alias of it (the nickname list resolution uses) or its initial. When no name matches
so, a word one or two letters off a known name (:func:`close_enough`: "Charltn") is read as that name, and the
match says how it read it.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cached_property

import polars as pl
from rapidfuzz.distance import DamerauLevenshtein

from lake.entities.items import MENTIONS
from lake.entities.resolution import MENTION_PERSON, RESOLVED, alias_groups, recorded_people
from lake.storage.delta import ENTERPRISE, Lake

WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr"}


@dataclass(frozen=True)
class PersonMatch:
    resolved_person_id: str
    name: str  # the person's best-known full name
    matched: str  # the words of the query that named them
    read_as: str | None = None  # the known name a mistyped query word was read as ("charlton" for "charltn")


@dataclass(frozen=True)
class PersonMention:
    resolved_person_id: str
    child_id: str
    source_type: str
    source_id: str
    page: int
    start: int
    end: int
    text: str  # the name as this mention wrote it
    probability: float


def first_names_compatible(query_first: str, known_first: str) -> bool:
    if query_first == known_first:
        return True
    if len(query_first) == 1 or len(known_first) == 1:
        return query_first[0] == known_first[0]
    groups = alias_groups()
    return bool(set(groups.get(query_first, ())) & set(groups.get(known_first, ())))


def close_enough(typed: str, known: str) -> bool:
    """A typed word is read as a known name one letter off (two for names of seven letters or more), a swap of
    two neighbours counting as one; names under five letters must be typed exactly ("Hill" is not "Hall")."""
    if typed == known or min(len(typed), len(known)) < 5 or typed[0] != known[0]:
        return False
    return DamerauLevenshtein.distance(typed, known, score_cutoff=2) <= (2 if len(known) >= 7 else 1)


class PeopleDirectory:
    """The resolved people and their mentions, read once from the lake (the service keeps one per lake
    version). Restricting to the children a user may see is the caller's job: every method takes them."""

    def __init__(self, lake: Lake):
        self.lake = lake

    @cached_property
    def versions(self) -> tuple[int | None, ...]:
        return tuple(self.lake.version(ENTERPRISE, t) for t in (RESOLVED, MENTION_PERSON, MENTIONS, "person_name"))

    @cached_property
    def resolved(self) -> pl.DataFrame | None:
        return self.lake.read(ENTERPRISE, RESOLVED)

    @cached_property
    def names(self) -> pl.DataFrame:
        """resolved_person_id, first (lower case or null), surname (lower case), display."""
        resolved = self.resolved
        if resolved is None or resolved.is_empty():
            return pl.DataFrame(schema={"resolved_person_id": pl.String, "first": pl.String, "surname": pl.String})
        written = resolved.select(
            "resolved_person_id",
            pl.col("name_as_written")
            .map_elements(lambda s: [w.lower() for w in WORD.findall(s) if w.lower() not in TITLES], pl.List(pl.String))
            .alias("words"),
        ).filter(pl.col("words").list.len() >= 2)
        from_text = written.select(
            "resolved_person_id",
            pl.col("words").list.first().alias("first"),
            pl.col("words").list.last().alias("surname"),
        )
        recorded = recorded_people(self.lake).select(
            pl.col("person_id").alias("resolved_person_id"), pl.col("first_name").alias("first"), "surname"
        )
        own = resolved.select(
            "resolved_person_id",
            pl.col("first_name").str.to_lowercase().alias("first"),
            pl.col("surname").str.to_lowercase(),
        )
        return pl.concat([from_text, recorded, own]).drop_nulls("surname").unique()

    @cached_property
    def by_surname(self) -> dict[str, list[tuple[str, str | None]]]:
        out: dict[str, list[tuple[str, str | None]]] = {}
        for pid, first, surname in self.names.select("resolved_person_id", "first", "surname").iter_rows():
            out.setdefault(surname, []).append((pid, first))
        return out

    @cached_property
    def display(self) -> dict[str, str]:
        resolved = self.resolved
        if resolved is None:
            return {}
        out = {}
        for r in resolved.iter_rows(named=True):
            full = " ".join(p for p in (r["first_name"], r["surname"]) if p)
            out[r["resolved_person_id"]] = (full.title() if full.islower() else full) or r["name_as_written"]
        return out

    @cached_property
    def mentions(self) -> pl.DataFrame:
        links, mentions = self.lake.read(ENTERPRISE, MENTION_PERSON), self.lake.read(ENTERPRISE, MENTIONS)
        if links is None or mentions is None:
            return pl.DataFrame(schema={f: pl.String for f in PersonMention.__dataclass_fields__})
        return links.select("mention_id", "resolved_person_id", pl.col("match_probability").alias("probability")).join(
            mentions.select("mention_id", "child_id", "source_type", "source_id", "page", "start", "end", "text"),
            on="mention_id",
        )

    def find(self, query: str) -> list[PersonMatch]:
        """The people a query names: adjacent words "first surname" (titles skipped) matching a known name."""
        words = [w.lower() for w in WORD.findall(query)]
        words = [w for w in words if w not in TITLES]
        if len(words) < 2 or self.names.is_empty():
            return []
        by_surname = self.by_surname
        found: dict[str, PersonMatch] = {}
        for first, surname in itertools.pairwise(words):
            for pid, known_first in by_surname.get(surname, ()):
                if known_first and first_names_compatible(first, known_first) and pid not in found:
                    found[pid] = PersonMatch(
                        pid, self.display.get(pid, f"{known_first} {surname}".title()), f"{first} {surname}"
                    )
        if not found:  # nobody by the names as typed: a letter or two off ("Charltn", "Jamla")
            for first, surname in itertools.pairwise(words):
                for pid, known_first, known_surname in self._close_to(first, surname):
                    if pid not in found:
                        found[pid] = PersonMatch(
                            pid,
                            self.display.get(pid, f"{known_first} {known_surname}".title()),
                            f"{first} {surname}",
                            f"{known_first} {known_surname}",
                        )
        return list(found.values())

    def _close_to(self, first: str, surname: str) -> list[tuple[str, str, str]]:
        """People whose surname is ``surname`` one or two letters off (the first name compatible), or whose first
        name is ``first`` so off (the surname exact): never both off."""
        out = []
        for known_surname, people in self.by_surname.items():
            exact = known_surname == surname
            if not exact and not close_enough(surname, known_surname):
                continue
            for pid, known_first in people:
                if not known_first:
                    continue
                if (not exact and first_names_compatible(first, known_first)) or (
                    exact and close_enough(first, known_first)
                ):
                    out.append((pid, known_first, known_surname))
        return out

    def children_by_first_name(self, words: list[str], children: frozenset[str]) -> list[PersonMatch]:
        """The ``children`` (ids) a lone first name in ``words`` names: the name, a nickname of it, or one or two
        letters off it. A worker types "Jane safety plan" about the child in front of them; only children are
        looked up so (an adult's first name alone says too little)."""
        if not children or self.names.is_empty():
            return []
        rows = self.names.filter(pl.col("resolved_person_id").is_in(list(children)) & pl.col("first").is_not_null())
        # the closest reading wins: "Georgina" names the child Georgina, not also Georgia (one letter off)
        tiers: list[dict[str, PersonMatch]] = [{}, {}, {}]  # the name itself, a nickname of it, a mistype
        for word in (w for w in words if len(w) >= 3):
            for pid, known_first, surname in rows.select("resolved_person_id", "first", "surname").iter_rows():
                shown = self.display.get(pid, f"{known_first} {surname}".title())
                if word == known_first:
                    tiers[0].setdefault(pid, PersonMatch(pid, shown, word))
                elif len(known_first) > 1 and first_names_compatible(word, known_first):
                    tiers[1].setdefault(pid, PersonMatch(pid, shown, word))
                elif close_enough(word, known_first):
                    tiers[2].setdefault(pid, PersonMatch(pid, shown, word, known_first))
        return list(next((t for t in tiers if t), {}).values())

    def mentions_of(self, person_ids: list[str], children: frozenset[str]) -> list[PersonMention]:
        """Every mention of these people in the records of ``children`` (the caller's visible children)."""
        if not person_ids or not children:
            return []
        rows = self.mentions.filter(
            pl.col("resolved_person_id").is_in(person_ids) & pl.col("child_id").is_in(list(children))
        )
        return [
            PersonMention(
                r["resolved_person_id"],
                r["child_id"],
                r["source_type"],
                r["source_id"],
                int(r["page"] or 0),
                int(r["start"]),
                int(r["end"]),
                r["text"],
                float(r["probability"] or 0.0),
            )
            for r in rows.iter_rows(named=True)
        ]
