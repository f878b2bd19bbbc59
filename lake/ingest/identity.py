"""Identity per source (decision 0033): one enterprise id for each (source, source id), never two sources' records
under one id.

Councils run two systems at once (a migration, a legacy system kept for history, SSD beside a live export), and
their ids overlap: both write ``P0000013``. The enterprise keys are the sources' own ids, so that a one-source
council reads its ids unchanged everywhere; the crosswalk (``enterprise/id_crosswalk``) records, for every id a
source has sent, the enterprise id it maps to:

- the first source to send an id keeps it as its enterprise id;
- a later source sending the same id gets ``<source>:<id>`` (``mosaic:P0000013``); two sources sending one new id
  in the same run: the first by name keeps it;
- a mapping, once made, never changes (the crosswalk only grows), so a record keeps its enterprise id for life.

Every staging read of the enterprise stage goes through :meth:`IdMap.apply`, which rewrites each id column
(a person's own id, and every reference to a person, a worker, an episode, ...) by its source's mapping. The
same real person held by two systems is not merged here: :func:`person_links` records the pair with its evidence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from lake.contracts.sources import NEUTRAL_TABLES, SOURCES
from lake.storage.delta import ENTERPRISE, STAGING, Lake, ensure_table
from lake.storage.spool import Spool

CROSSWALK = "id_crosswalk"
PERSON_LINK = "person_link"

# Each neutral id column and the kind of record it names (a child is a person; a foster carer and an adopter
# are people too). An address id is the person's own numbering: its key holds the person id, mapped already.
ENTITY_OF_COLUMN = {
    "person_id": "person",
    "child_id": "person",
    "carer_id": "person",
    "adult_1_id": "person",
    "adult_2_id": "person",
    "worker_id": "worker",
    "relationship_id": "relationship",
    "involvement_id": "involvement",
    "episode_id": "episode",
    "review_id": "cla_review",
    "missing_id": "missing_episode",
    "note_id": "case_note",
    "document_id": "document",
    "form_id": "form",
    "adoption_id": "adoption",
    "household_id": "adopter_household",
    "sibling_group_id": "sibling_group",
    # the children-in-need pathway: a referral is a CIN episode, a CP plan an episode too
    "referral_id": "episode",
    "cp_plan_id": "episode",
    "contact_id": "contact",
    "assessment_id": "assessment",
    "s47_id": "s47_enquiry",
    "icpc_id": "icpc",
    "cp_review_id": "cp_review",
    "cin_plan_id": "cin_plan",
}
# deleted_record.record_id names a record of the table it gives
ENTITY_OF_DELETED_TABLE = {"relationship": "relationship", "case_note": "case_note", "document": "document"}

CROSSWALK_SCHEMA = {
    "entity": pl.String,
    "source": pl.String,
    "source_id": pl.String,
    "enterprise_id": pl.String,
    "assigned_at": pl.Datetime("us", "UTC"),
    "_row_hash": pl.String,
}


def id_columns(table: str) -> list[tuple[str, str]]:
    """(column, entity) of every id column of a neutral staging table."""
    return [(c, ENTITY_OF_COLUMN[c]) for c in NEUTRAL_TABLES[table]["columns"] if c in ENTITY_OF_COLUMN]


@dataclass(frozen=True)
class Assigned:
    new: int  # ids seen for the first time
    renamed: int  # of those, ids another source holds already: given ``<source>:<id>``
    marks: dict[str, dt.datetime]  # staging table -> the newest row read (the next run reads after it)
    renamed_ids: pl.DataFrame  # every crosswalk row whose enterprise id is not its source id (what IdMap maps by)
    crosswalk_rows: int  # the crosswalk's rows after this run


def _fresh_ids(lake: Lake, watermarks: dict[str, dt.datetime]) -> tuple[dict[str, list[pl.LazyFrame]], dict]:
    """Per entity, the (source, source id) of every id the sources sent since ``watermarks`` (lazy), and the new
    watermarks."""
    seen: dict[str, list[pl.LazyFrame]] = {}
    marks = {}
    for source in sorted(SOURCES):
        for table in NEUTRAL_TABLES:
            name = f"{source}/{table}"
            scan = lake.scan(STAGING, name)
            if scan is None:
                continue
            mark = watermarks.get(name)
            fresh = scan if mark is None else scan.filter(pl.col("_ingested_at") > mark)
            newest = fresh.select(pl.col("_ingested_at").max()).collect().item()
            if newest is None:
                continue
            marks[name] = newest
            if table == "deleted_record":
                for deleted, entity in ENTITY_OF_DELETED_TABLE.items():
                    seen.setdefault(entity, []).append(
                        fresh.filter(pl.col("table_name") == deleted).select(
                            pl.lit(source).alias("source"), pl.col("record_id").alias("source_id")
                        )
                    )
                continue
            for column, entity in id_columns(table):
                seen.setdefault(entity, []).append(
                    fresh.select(pl.lit(source).alias("source"), pl.col(column).alias("source_id"))
                )
    return seen, marks


def assign_ids(lake: Lake, watermarks: dict[str, dt.datetime], now: dt.datetime, scratch: Path) -> Assigned:
    """Give every id the sources have sent since ``watermarks`` its enterprise id, and append them to the
    crosswalk (one commit). ``watermarks``: staging table name (``source/table``) -> the newest row read.

    One entity at a time, read lazily against the crosswalk on disk (which is never read whole: a council's
    crosswalk holds every id it has sent, tens of millions at the pilot's size); the new rows are spooled under
    ``scratch`` and appended in one commit."""
    seen, marks = _fresh_ids(lake, watermarks)
    known = lake.scan(ENTERPRISE, CROSSWALK)
    new = Spool(scratch / CROSSWALK, CROSSWALK_SCHEMA)
    for entity in sorted(seen):
        ids = pl.concat(seen[entity]).drop_nulls().unique()
        held = known.filter(pl.col("entity") == entity) if known is not None else None
        if held is not None:
            ids = ids.join(held.select("source", "source_id"), on=["source", "source_id"], how="anti")
        fresh = ids.collect(engine="streaming")
        if fresh.is_empty():
            continue
        taken = pl.DataFrame(schema={"source_id": pl.String, "_taken": pl.Boolean})
        if held is not None:
            taken = (
                held.select(pl.col("enterprise_id").alias("source_id"))
                .join(fresh.lazy().select("source_id"), on="source_id", how="semi")
                .unique()
                .with_columns(pl.lit(True).alias("_taken"))
                .collect(engine="streaming")
            )
        new.write(
            fresh.sort("source_id", "source")
            .join(taken, on="source_id", how="left")
            .with_columns(
                pl.lit(entity).alias("entity"),
                pl.when(pl.col("_taken").is_null() & (pl.col("source") == pl.col("source").first().over("source_id")))
                .then(pl.col("source_id"))
                .otherwise(pl.col("source") + ":" + pl.col("source_id"))
                .alias("enterprise_id"),
                pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("assigned_at"),
            )
            .with_columns(
                pl.concat_str("entity", "source", "source_id", "enterprise_id", separator="|").alias("_row_hash")
            )
        )
    ensure_table(lake, ENTERPRISE, CROSSWALK, pl.DataFrame(schema=CROSSWALK_SCHEMA).to_arrow().schema)
    if new.rows:
        lake.write(ENTERPRISE, CROSSWALK, new.stream(), mode="append")
    renamed = lake.scan(ENTERPRISE, CROSSWALK).filter(pl.col("enterprise_id") != pl.col("source_id")).collect()
    added_renamed = new.each(lambda rows: rows.filter(pl.col("enterprise_id") != pl.col("source_id"))).height
    rows = lake.scan(ENTERPRISE, CROSSWALK).select(pl.len()).collect().item()
    return Assigned(new.rows, added_renamed, marks, renamed, rows)


class IdMap:
    """The crosswalk's renamed ids (those not kept as they are), applied to each scan of a stage."""

    def __init__(self, renamed: pl.DataFrame):
        """``renamed``: the crosswalk's rows whose enterprise id is not their source id."""
        self.renamed = renamed.select("entity", "source", "source_id", "enterprise_id")

    def _mapping(self, source: str, entity: str) -> pl.DataFrame:
        return self.renamed.filter((pl.col("source") == source) & (pl.col("entity") == entity)).select(
            "source_id", "enterprise_id"
        )

    def apply(self, source: str, table: str, scan: pl.LazyFrame) -> pl.LazyFrame:
        """The staging scan with every id column in enterprise ids (unchanged where the source's ids are kept)."""
        if self.renamed.is_empty():
            return scan
        if table == "deleted_record":
            for name, entity in ENTITY_OF_DELETED_TABLE.items():
                scan = self._rewrite(scan, "record_id", self._mapping(source, entity), pl.col("table_name") == name)
            return scan
        for column, entity in id_columns(table):
            scan = self._rewrite(scan, column, self._mapping(source, entity))
        return scan

    @staticmethod
    def _rewrite(scan: pl.LazyFrame, column: str, mapping: pl.DataFrame, where: pl.Expr | None = None) -> pl.LazyFrame:
        if mapping.is_empty():
            return scan
        mapped = scan.join(
            mapping.lazy().rename({"source_id": column, "enterprise_id": "_enterprise_id"}), on=column, how="left"
        )
        use = (
            pl.col("_enterprise_id").is_not_null() if where is None else pl.col("_enterprise_id").is_not_null() & where
        )
        return mapped.with_columns(
            pl.when(use).then(pl.col("_enterprise_id")).otherwise(pl.col(column)).alias(column)
        ).drop("_enterprise_id")


def _across_sources(people: pl.LazyFrame, on: str, evidence: str) -> pl.LazyFrame:
    """Each pair of people of two different sources who share ``on``, once (the first source by name first)."""
    return (
        people.join(people, on=on, suffix="_other")
        .filter(pl.col("_source") < pl.col("_source_other"))
        .select("person_id", pl.col("person_id_other").alias("linked_person_id"), pl.lit(evidence).alias("evidence"))
    )


def person_links(lake: Lake) -> pl.DataFrame:
    """Pairs of people from different sources who look like one real person, with the evidence: the same NHS
    number (children), or the same first name, surname and date of birth. A link, never a merge: each record
    keeps its own id and history, and a person reviewing the pair decides."""
    person = lake.scan(ENTERPRISE, "person")
    schema = {
        "person_id": pl.String,
        "linked_person_id": pl.String,
        "evidence": pl.String,
        "_row_hash": pl.String,
    }
    if person is None:
        return pl.DataFrame(schema=schema)
    live = person.filter(pl.col("_deleted_at").is_null())
    if live.select(pl.col("_source").n_unique()).collect().item() < 2:  # one source: nobody to link, no self-join
        return pl.DataFrame(schema=schema)
    people = live.select(
        "person_id",
        "_source",
        pl.concat_str(
            pl.col("first_name").str.to_lowercase().str.strip_chars(),
            pl.col("surname").str.to_lowercase().str.strip_chars(),
            pl.col("dob").cast(pl.String),
            separator="|",
        ).alias("name_dob"),
    ).filter(pl.col("name_dob").is_not_null())
    pairs = [_across_sources(people, "name_dob", "same name and date of birth")]
    child = lake.scan(ENTERPRISE, "child")
    if child is not None:
        nhs = child.filter(pl.col("_deleted_at").is_null() & pl.col("nhs_number").is_not_null()).select(
            "person_id", "_source", "nhs_number"
        )
        pairs.append(_across_sources(nhs, "nhs_number", "same NHS number"))
    links = (
        pl.concat(pairs)
        .group_by("person_id", "linked_person_id")
        .agg(pl.col("evidence").unique().sort().str.join("; "))
        .sort("person_id", "linked_person_id")
        .collect()
    )
    return links.with_columns(
        pl.concat_str("person_id", "linked_person_id", "evidence", separator="|").alias("_row_hash")
    ).select(list(schema))
