"""Person-aware search: a query that names a person finds every mention resolution tied to that person, under
whatever name the text used ("Jonny Hill" finds "Jonathan", "J. Hill" and "Mr Hill" when they were resolved
to him).

A name in the query is matched against every name a resolved person is known by: the names recorded for
them (including earlier names) and the name as the text wrote it. A surname must match exactly; a first
name may be the same, an alias of it (the nickname list resolution uses) or its initial.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cached_property

import polars as pl

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
        return list(found.values())

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
