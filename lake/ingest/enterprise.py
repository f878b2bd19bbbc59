"""Enterprise layer: source-agnostic entities built from every source system's staging tables.

Each :class:`EnterpriseTable` declares the staging tables it reads, its key, the column that groups
rows for recomputation (a person's whole name history is rebuilt when one name changes), and a
``build`` function from staging frames (neutral vocabulary, all sources together) to its rows.

Incremental: a run reads only the groups touched since the watermark of each staging table it reads
(rows ingested after the last run, and records deleted since), rebuilds those groups, and MERGEs by
key guarded by the row hash, so unchanged input commits nothing. Watermarks are written last: a run
killed mid-way redoes its work and, MERGE being idempotent, ends with the same tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from lake.contracts.sources import NEUTRAL_TABLES, SOURCES
from lake.ingest.identity import IdMap
from lake.ingest.staging import ROWS_PER_BATCH, empty_staging_frame, row_hash
from lake.storage.delta import ENTERPRISE, STAGING, Lake, MergeStats, ensure_table, merge_by_key
from lake.storage.spool import Spool

WATERMARKS = "_watermarks"
LINEAGE = ("_source", "_extract_id", "_updated_at", "_deleted_at", "_deletion_reason", "_row_hash")


@dataclass(frozen=True)
class Reference:
    column: str
    table: str
    table_column: str


@dataclass(frozen=True)
class EnterpriseTable:
    name: str
    sources: tuple[str, ...]  # neutral staging tables read
    key: tuple[str, ...]
    group: str  # recompute unit: every row sharing this column is rebuilt together
    build: Callable[[dict[str, pl.DataFrame]], pl.DataFrame]
    references: tuple[Reference, ...] = ()
    deletable_as: str | None = None  # the deleted_record.table_name that soft-deletes rows by ``group``


def _valid_to_from_next(df: pl.DataFrame, group: str, order: str) -> pl.DataFrame:
    """History: each version is valid until the next one of the same ``group`` starts."""
    return df.sort(group, order).with_columns(pl.col("valid_from").shift(-1).over(group).alias("valid_to"))


def _pick(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    return frame.select(*columns, "_source", "_extract_id")


def _contract(frames: dict[str, pl.DataFrame], table: str) -> pl.DataFrame:
    """A staged table as its contract declares it, with its lineage."""
    return _pick(frames[table], *NEUTRAL_TABLES[table]["columns"])


def _episode(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    parts = []
    for table, kind, code in (
        ("cin_episode", "CIN", "reason_code"),
        ("cp_plan", "CP", "category"),
        ("cla_episode", "CLA", "legal_status"),
    ):
        f = frames[table]
        extra = (
            [pl.col("reason_new"), pl.col("reason_end")]
            if table == "cla_episode"
            else [pl.lit(None, pl.String).alias("reason_new"), pl.lit(None, pl.String).alias("reason_end")]
        )
        parts.append(
            f.select(
                "episode_id",
                "child_id",
                pl.lit(kind).alias("kind"),
                "start_date",
                "end_date",
                pl.col(code).alias("code"),
                *extra,
                "_source",
                "_extract_id",
            )
        )
    return pl.concat(parts)


def _form_response(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    forms = frames["form"].drop("_source", "_extract_id")
    return (
        frames["form_answer"]
        .join(forms, on="form_id", how="inner")
        .select(
            "form_id",
            "question_code",
            "child_id",
            "worker_id",
            "form_type",
            "form_date",
            "outcome",
            "question",
            "answer_text",
            "_source",
            "_extract_id",
        )
    )


TABLES: tuple[EnterpriseTable, ...] = (
    EnterpriseTable(
        "person",
        ("person",),
        ("person_id",),
        "person_id",
        lambda f: _pick(
            f["person"],
            "person_id",
            "first_name",
            "middle_name",
            "surname",
            "dob",
            "sex",
            "gender",
            "ethnicity",
            "person_type",
            "phone",
            "email",
        ),
    ),
    EnterpriseTable(
        "child",
        ("person",),
        ("person_id",),
        "person_id",
        lambda f: _pick(
            f["person"].filter(pl.col("person_type") == "child"),
            "person_id",
            "upn",
            "nhs_number",
            "dob",
            "sex",
            "ethnicity",
            "disability",
            "is_mother",
        ),
        (Reference("person_id", "person", "person_id"),),
    ),
    EnterpriseTable(
        "person_name",
        ("person_name",),
        ("person_id", "name_seq"),
        "person_id",
        lambda f: _valid_to_from_next(
            _pick(f["person_name"], "person_id", "name_seq", "first_name", "surname", "reason", "valid_from"),
            "person_id",
            "name_seq",
        ),
        (Reference("person_id", "person", "person_id"),),
    ),
    EnterpriseTable(
        "person_gender",
        ("person_gender",),
        ("person_id", "gender_seq"),
        "person_id",
        lambda f: _valid_to_from_next(_contract(f, "person_gender"), "person_id", "gender_seq"),
        (Reference("person_id", "person", "person_id"),),
    ),
    EnterpriseTable(
        "person_address",
        ("person_address",),
        ("person_id", "address_id", "valid_from"),
        "person_id",
        lambda f: _contract(f, "person_address"),
        (Reference("person_id", "person", "person_id"),),
    ),
    EnterpriseTable(
        "relationship",
        ("relationship",),
        ("relationship_id",),
        "relationship_id",
        lambda f: _contract(f, "relationship"),
        (Reference("child_id", "child", "person_id"), Reference("person_id", "person", "person_id")),
        "relationship",
    ),
    EnterpriseTable(
        "worker",
        ("worker",),
        ("worker_id",),
        "worker_id",
        lambda f: _contract(f, "worker"),
    ),
    EnterpriseTable(
        "involvement",
        ("involvement",),
        ("involvement_id",),
        "involvement_id",
        lambda f: _pick(
            f["involvement"].rename({"start_date": "valid_from", "end_date": "valid_to"}),
            "involvement_id",
            "child_id",
            "worker_id",
            "involvement_type",
            "valid_from",
            "valid_to",
        ),
        (Reference("child_id", "child", "person_id"), Reference("worker_id", "worker", "worker_id")),
    ),
    EnterpriseTable(
        "episode",
        ("cin_episode", "cp_plan", "cla_episode"),
        ("episode_id",),
        "episode_id",
        _episode,
        (Reference("child_id", "child", "person_id"),),
    ),
    EnterpriseTable(
        "placement",
        ("cla_episode",),
        ("episode_id",),
        "episode_id",
        lambda f: _pick(
            f["cla_episode"].filter(pl.col("placement_type").is_not_null()),
            "episode_id",
            "child_id",
            "placement_type",
            "placement_postcode",
            "placement_provider",
            "carer_id",
            "urn",
            "reason_place_change",
            "start_date",
            "end_date",
        ),
        (Reference("child_id", "child", "person_id"), Reference("episode_id", "episode", "episode_id")),
    ),
    EnterpriseTable(
        "cla_review",
        ("cla_review",),
        ("review_id",),
        "review_id",
        lambda f: _contract(f, "cla_review"),
        (Reference("child_id", "child", "person_id"),),
    ),
    EnterpriseTable(
        "missing_episode",
        ("missing_episode",),
        ("missing_id",),
        "missing_id",
        lambda f: _contract(f, "missing_episode"),
        (Reference("child_id", "child", "person_id"),),
    ),
    # The children-in-need pathway (issue 40, decision 0047): a referral is a CIN episode under SSD's names.
    EnterpriseTable(
        "referral",
        ("cin_episode",),
        ("referral_id",),
        "child_id",  # the group is a column of the source too: the source names the referral episode_id
        lambda f: _pick(
            f["cin_episode"].rename(
                {"episode_id": "referral_id", "start_date": "referral_date", "end_date": "closure_date"}
            ),
            "referral_id",
            "child_id",
            "referral_date",
            "closure_date",
            pl.col("reason_code").alias("primary_need"),
            "referral_source",
            "referral_nfa",
            "closure_reason",
        ),
        (Reference("child_id", "child", "person_id"),),
    ),
    EnterpriseTable(
        "cp_plan",
        ("cp_plan",),
        ("cp_plan_id",),
        "child_id",
        lambda f: _pick(
            f["cp_plan"].rename({"episode_id": "cp_plan_id"}),
            "cp_plan_id",
            "referral_id",
            "icpc_id",
            "child_id",
            "start_date",
            "end_date",
            pl.col("category").alias("initial_category"),
            "latest_category",
        ),
        (Reference("child_id", "child", "person_id"), Reference("referral_id", "referral", "referral_id")),
    ),
    *(
        EnterpriseTable(
            name,
            (name,),
            NEUTRAL_TABLES[name]["key"],
            NEUTRAL_TABLES[name]["key"][0],
            lambda f, name=name: _contract(f, name),
            references,
        )
        for name, references in (
            ("contact", (Reference("child_id", "child", "person_id"),)),
            ("assessment", (Reference("referral_id", "referral", "referral_id"),)),
            ("assessment_factor", (Reference("assessment_id", "assessment", "assessment_id"),)),
            ("s47_enquiry", (Reference("referral_id", "referral", "referral_id"),)),
            ("icpc", (Reference("referral_id", "referral", "referral_id"),)),
            ("cp_review", (Reference("cp_plan_id", "cp_plan", "cp_plan_id"),)),
            ("cin_plan", (Reference("referral_id", "referral", "referral_id"),)),
        )
    ),
    EnterpriseTable(
        "case_note",
        ("case_note",),
        ("note_id",),
        "note_id",
        lambda f: _contract(f, "case_note"),
        (Reference("child_id", "child", "person_id"), Reference("worker_id", "worker", "worker_id")),
        "case_note",
    ),
    EnterpriseTable(
        "document",
        ("document",),
        ("document_id",),
        "document_id",
        lambda f: _contract(f, "document"),
        (Reference("child_id", "child", "person_id"),),
        "document",
    ),
    EnterpriseTable(
        "form_response",
        ("form", "form_answer"),
        ("form_id", "question_code"),
        "form_id",
        _form_response,
        (Reference("child_id", "child", "person_id"),),
    ),
    EnterpriseTable(
        "adoption",
        ("adoption",),
        ("adoption_id",),
        "adoption_id",
        lambda f: _contract(f, "adoption"),
        (Reference("child_id", "child", "person_id"), Reference("household_id", "adopter", "household_id")),
    ),
    EnterpriseTable(
        "adopter",
        ("adopter_household",),
        ("household_id",),
        "household_id",
        lambda f: _contract(f, "adopter_household"),
    ),
    EnterpriseTable(
        "access_restriction",
        ("access_restriction",),
        ("child_id", "worker_id"),
        "child_id",
        lambda f: _contract(f, "access_restriction"),
        (Reference("child_id", "child", "person_id"), Reference("worker_id", "worker", "worker_id")),
    ),
)
BY_NAME = {t.name: t for t in TABLES}


def staging_name(source: str, table: str) -> str:
    return f"{source}/{table}"


def _scan(lake: Lake, source: str, table: str, ids: IdMap) -> pl.LazyFrame | None:
    """A source's staging table with its ids in enterprise ids (decision 0033)."""
    scan = lake.scan(STAGING, staging_name(source, table))
    return None if scan is None else ids.apply(source, table, scan)


def read_watermarks(lake: Lake) -> dict[tuple[str, str], dt.datetime]:
    df = lake.read(ENTERPRISE, WATERMARKS)
    if df is None:
        return {}
    return {(r["enterprise_table"], r["staging_table"]): r["ingested_at"] for r in df.iter_rows(named=True)}


@dataclass
class TableBuild:
    table: str
    rows: int
    stats: MergeStats
    watermarks: dict[str, dt.datetime]


@dataclass
class TablePlan:
    """The rows a table's MERGE would write (None: nothing touched), checked before anything is committed."""

    table: EnterpriseTable
    rows: Spool | None  # the rebuilt rows, in Parquet under the build's scratch folder
    watermarks: dict[str, dt.datetime]


class EnterpriseCollision(ValueError):
    """Source rows that would land on one enterprise key: the stage commits nothing."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def read_deletions(lake: Lake, ids: IdMap) -> pl.DataFrame:
    frames = [f.collect() for s in SOURCES if (f := _scan(lake, s, "deleted_record", ids)) is not None]
    if not frames:
        return pl.DataFrame(
            schema={
                "table_name": pl.String,
                "record_id": pl.String,
                "deleted_at": pl.Datetime("us", "UTC"),
                "reason": pl.String,
                "_ingested_at": pl.Datetime("us", "UTC"),
            }
        )
    return pl.concat(frames).select("table_name", "record_id", "deleted_at", "reason", "_ingested_at")


def _with_lineage(
    table: EnterpriseTable, rows: pl.DataFrame, deletions: pl.DataFrame, now: dt.datetime
) -> pl.DataFrame:
    """Add the soft-delete state, the update time and the row hash; business columns first."""
    business = [c for c in rows.columns if not c.startswith("_")]
    if table.deletable_as:
        dels = (
            deletions.filter(pl.col("table_name") == table.deletable_as)
            .group_by("record_id")
            .agg(pl.col("deleted_at").min().alias("_deleted_at"), pl.col("reason").first().alias("_deletion_reason"))
        )
        rows = rows.join(dels, left_on=table.group, right_on="record_id", how="left")
    else:
        rows = rows.with_columns(
            pl.lit(None, pl.Datetime("us", "UTC")).alias("_deleted_at"),
            pl.lit(None, pl.String).alias("_deletion_reason"),
        )
    rows = rows.with_columns(pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("_updated_at"))
    rows = rows.with_columns(row_hash(rows, [*business, "_deleted_at", "_deletion_reason"]))
    return rows.select(*business, *LINEAGE)


def plan_table(
    lake: Lake,
    table: EnterpriseTable,
    now: dt.datetime,
    watermarks: dict,
    deletions: pl.DataFrame,
    ids: IdMap,
    scratch: Path,
) -> TablePlan:
    """The rows of the groups of ``table`` touched since its watermarks, rebuilt into a spool under ``scratch``
    (not yet committed).

    Lazy and streamed: the touched groups are never a Python set, the staging rows are read through the
    streaming engine and written to Parquet, and the lineage is added a batch at a time, so a first load of
    millions of rows holds a batch in memory, not the table. ``deletions`` is every source's
    ``deleted_record`` staging table (:func:`read_deletions`)."""
    new_marks: dict[str, dt.datetime] = {}
    scans: dict[str, list[pl.LazyFrame]] = {}
    touched: list[pl.LazyFrame] = []
    from_start = True  # every source read from its beginning: every group is touched, no filter needed
    for src_table in table.sources:
        for source in SOURCES:
            scan = _scan(lake, source, src_table, ids)
            if scan is None:
                continue
            scans.setdefault(src_table, []).append(scan)
            mark_key = staging_name(source, src_table)
            mark = watermarks.get((table.name, mark_key))
            from_start = from_start and mark is None
            fresh = scan if mark is None else scan.filter(pl.col("_ingested_at") > mark)
            newest = fresh.select(pl.col("_ingested_at").max()).collect().item()
            if newest is not None:
                new_marks[mark_key] = newest
                touched.append(fresh.select(pl.col(table.group).cast(pl.String)))
    if table.deletable_as:
        mark = watermarks.get((table.name, "deleted_record"))
        fresh = deletions if mark is None else deletions.filter(pl.col("_ingested_at") > mark)
        gone = fresh.filter(pl.col("table_name") == table.deletable_as)
        if gone.height:
            # A deletion names a group to rebuild. Where every source is read from its start, every staged group
            # is rebuilt anyway (a deleted record never staged has no rows to build): no filter. Filtering there
            # made the first load semi-join 8.6 million case notes against their own ids (5.6 GB at 100,000).
            touched.append(gone.lazy().select(pl.col("record_id").alias(table.group)))
        if fresh.height:
            new_marks["deleted_record"] = fresh["_ingested_at"].max()
    if not touched or len(scans) < len(table.sources):
        if lake.table(ENTERPRISE, table.name) is None:  # readers downstream rely on every table existing
            empty = {name: empty_staging_frame(name) for name in table.sources}
            ensure_table(
                lake, ENTERPRISE, table.name, _with_lineage(table, table.build(empty), deletions, now).to_arrow().schema
            )
        return TablePlan(table, None, new_marks)
    # The touched groups are collected first (one key column, the day's groups): left lazy, they shared their scan
    # with the rows they select, and polars cached that common scan whole (the case notes' next day at 100,000
    # children: 5.15 GB, where the collected keys leave the scan to stream).
    groups = pl.concat(touched).drop_nulls().unique().collect().lazy() if not from_start else None
    frames = {
        name: pl.concat(
            [
                s.join(groups, on=table.group, how="semi")
                if not from_start and table.group in s.collect_schema()
                else s
                for s in parts
            ]
        )
        for name, parts in scans.items()
    }
    folder = scratch / table.name
    folder.mkdir(parents=True, exist_ok=True)
    table.build(frames).sink_parquet(folder / "built.parquet")
    rows = Spool(folder / "rows")
    # Read back through polars a slice at a time: pyarrow's batch reader, mixed with polars frames, grew the
    # process by about 5 MB a batch (0.47 -> 0.73 GB over 60 batches of case notes at 100,000 children), where
    # polars' slices held flat at 0.3 GB.
    built = pl.scan_parquet(folder / "built.parquet")
    for offset in range(0, pq.ParquetFile(folder / "built.parquet").metadata.num_rows, ROWS_PER_BATCH):
        rows.write(_with_lineage(table, built.slice(offset, ROWS_PER_BATCH).collect(), deletions, now))
    (folder / "built.parquet").unlink()
    if not rows.files:  # the touched groups built no row (a deletion of a record never staged)
        return TablePlan(table, None, new_marks)
    return TablePlan(table, rows, new_marks)


def collisions(plan: TablePlan, shown: int = 5) -> list[str]:
    """Why this plan must not be committed: keys that more than one source row would write (a MERGE would let
    one overwrite the other, or refuse them all), naming the ids and the sources they came from. Reads the
    plan's keys and sources only."""
    if plan.rows is None:
        return []
    key = list(plan.table.key)
    # First the keys' 64-bit hashes that repeat, streamed (0.55 GB for 8.6 million case notes, where grouping the
    # keys themselves with their sources took 4.1 GB); then the exact keys and sources of those rows only.
    scan = plan.rows.scan().with_columns(pl.struct(key).hash().alias("_key_hash"))
    repeated = (
        scan.select("_key_hash")
        .group_by("_key_hash")
        .agg(pl.len().alias("_rows"))
        .filter(pl.col("_rows") > 1)
        .collect(engine="streaming")
    )
    if repeated.is_empty():
        return []
    clashing = (
        scan.join(repeated.lazy().select("_key_hash"), on="_key_hash", how="semi")
        .select(*key, "_source")
        .group_by(key)
        .agg(pl.len().alias("_rows"), pl.col("_source").unique().sort().str.join(" and ").alias("_sources"))
        .filter(pl.col("_rows") > 1)
        .sort(key)
        .collect()
    )
    if clashing.is_empty():
        return []
    named = ", ".join(
        f"{'/'.join(str(r[k]) for k in key)} ({r['_rows']} rows from {r['_sources']})"
        for r in clashing.head(shown).iter_rows(named=True)
    )
    more = f" and {clashing.height - shown} more" if clashing.height > shown else ""
    return [f"enterprise {plan.table.name}: {clashing.height} key(s) held by more than one source row: {named}{more}"]


def commit_table(lake: Lake, plan: TablePlan) -> TableBuild:
    """MERGE a checked plan by key, streamed from its spool (the row hash guards: unchanged rows commit nothing)."""
    if plan.rows is None:
        return TableBuild(
            plan.table.name, 0, MergeStats(version=lake.version(ENTERPRISE, plan.table.name)), plan.watermarks
        )
    stats = merge_by_key(lake, ENTERPRISE, plan.table.name, plan.rows.stream(), plan.table.key)
    return TableBuild(plan.table.name, plan.rows.rows, stats, plan.watermarks)


def write_watermarks(lake: Lake, table: str, marks: dict[str, dt.datetime]) -> None:
    if not marks:
        return
    df = pl.DataFrame(
        [{"enterprise_table": table, "staging_table": k, "ingested_at": v} for k, v in marks.items()],
        schema={"enterprise_table": pl.String, "staging_table": pl.String, "ingested_at": pl.Datetime("us", "UTC")},
    )
    merge_by_key(
        lake,
        ENTERPRISE,
        WATERMARKS,
        df.with_columns(pl.col("ingested_at").cast(pl.String).alias("_row_hash")),
        ("enterprise_table", "staging_table"),
    )


def check_references(lake: Lake, table: EnterpriseTable) -> dict[str, int]:
    """Rows whose reference does not resolve, per reference ("child_id -> child.person_id": n).

    Lazy scans: each reference reads one column of the table and one of its target."""
    scan = lake.scan(ENTERPRISE, table.name)
    out = {}
    for ref in table.references:
        label = f"{ref.column} -> {ref.table}.{ref.table_column}"
        if scan is None:
            out[label] = 0
            continue
        present = scan.select(ref.column).filter(pl.col(ref.column).is_not_null())
        target = lake.scan(ENTERPRISE, ref.table)
        if target is not None:
            present = present.join(target.select(pl.col(ref.table_column).alias(ref.column)), on=ref.column, how="anti")
        out[label] = present.select(pl.len()).collect().item()
    return out


def duplicate_keys(lake: Lake, table: EnterpriseTable) -> int:
    """Rows beyond the first for each key; reads only the key columns."""
    scan = lake.scan(ENTERPRISE, table.name)
    if scan is None:
        return 0
    keys = scan.select(table.key)
    return keys.select(pl.len()).collect().item() - keys.unique().select(pl.len()).collect().item()
