"""The lake's Delta tables: a root (local path or object-store URI), its layers, reads and idempotent merges.

Where the root is comes from :class:`lake.settings.Settings` (the embedded default is a folder under
``lake/data``, git-ignored; an object store is ``s3://bucket/caselake``, ``az://container/caselake`` or
``gs://bucket/caselake`` with deltalake's storage options); the same code runs either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

# The layers, in the order data flows through them.
LANDING = "landing"  # what each extract held, file by file
STAGING = "staging"  # typed source tables, one per source system and table, with their quarantine
ENTERPRISE = "enterprise"  # source-agnostic tables, documents' text, entity mentions and people
OPS = "ops"  # how the platform itself ran and was used: the audit log's copy, costs
INSIGHTS = "insights"  # analyses built on the marts: the adopter insights


@dataclass(frozen=True)
class Lake:
    """A lake root (local path or object-store URI) and the storage options to reach it."""

    root: str
    storage_options: dict[str, str] = field(default_factory=dict)

    def uri(self, layer: str, name: str) -> str:
        return f"{self.root.rstrip('/')}/{layer}/{name}"

    @property
    def _options(self) -> dict[str, str] | None:
        return self.storage_options or None

    def table(self, layer: str, name: str) -> DeltaTable | None:
        try:
            return DeltaTable(self.uri(layer, name), storage_options=self._options)
        except TableNotFoundError:
            return None

    def read(self, layer: str, name: str, filters: list | None = None) -> pl.DataFrame | None:
        """The table as polars, or None when it does not exist yet."""
        dt = self.table(layer, name)
        if dt is None:
            return None
        return pl.from_arrow(dt.to_pyarrow_table(filters=filters))

    def scan(self, layer: str, name: str) -> pl.LazyFrame | None:
        """The table as a lazy polars frame (only the columns and rows a query needs are read), or None."""
        if self.table(layer, name) is None:
            return None
        return pl.scan_delta(self.uri(layer, name), storage_options=self._options)

    def write(self, layer: str, name: str, frame: pl.DataFrame, mode: str = "overwrite") -> None:
        """Replace (``overwrite``, schema included) or extend (``append``) a whole table in one commit."""
        write_deltalake(
            self.uri(layer, name),
            frame.to_arrow(),
            mode=mode,
            schema_mode="overwrite" if mode == "overwrite" else None,
            storage_options=self._options,
        )

    def version(self, layer: str, name: str) -> int | None:
        dt = self.table(layer, name)
        return None if dt is None else dt.version()


@dataclass
class MergeStats:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    version: int | None = None
    committed: bool = False

    def add(self, other: MergeStats) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.committed = self.committed or other.committed
        self.version = other.version


def merge_by_key(
    lake: Lake,
    layer: str,
    name: str,
    rows: pl.DataFrame,
    keys: tuple[str, ...],
    *,
    update_when: str = "s._row_hash <> t._row_hash",
) -> MergeStats:
    """MERGE ``rows`` into a Delta table by ``keys``: insert new keys, update matched rows where
    ``update_when`` holds. The guard makes a re-run with unchanged input commit nothing."""
    if rows.is_empty():
        return MergeStats(version=lake.version(layer, name))
    uri = lake.uri(layer, name)
    data = rows.to_arrow()
    dt = lake.table(layer, name)
    if dt is None:
        write_deltalake(uri, data, mode="error", storage_options=lake._options)
        return MergeStats(inserted=rows.height, version=0, committed=True)
    before = dt.version()
    predicate = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    metrics = (
        dt.merge(source=data, predicate=predicate, source_alias="s", target_alias="t", merge_schema=True)
        .when_matched_update_all(predicate=update_when)
        .when_not_matched_insert_all()
        .execute()
    )
    after = DeltaTable(uri, storage_options=lake._options).version()
    inserted = int(metrics.get("num_target_rows_inserted", 0))
    updated = int(metrics.get("num_target_rows_updated", 0))
    return MergeStats(inserted, updated, rows.height - inserted - updated, after, after != before)


def ensure_table(lake: Lake, layer: str, name: str, schema: pa.Schema) -> None:
    """Create an empty table so readers and checks can rely on it existing."""
    if lake.table(layer, name) is None:
        write_deltalake(lake.uri(layer, name), schema.empty_table(), mode="error", storage_options=lake._options)
