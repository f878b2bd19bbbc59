"""The lake's Delta tables: a root (local path or object-store URI), its layers, reads and idempotent merges.

Where the root is comes from :class:`lake.settings.Settings` (the embedded default is a folder under
``lake/data``, git-ignored; an object store is ``s3://bucket/caselake``, ``az://container/caselake`` or
``gs://bucket/caselake`` with deltalake's storage options); the same code runs either way.

Every commit goes through this module: it carries the labels of the run that made it (``caselake.run_id``,
``caselake.step``: a table version names its Dagster run, which lineage follows), and what it wrote is reported
to the open meter (:mod:`lake.metering`), which the cost of each asset is made from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from lake import metering

# The layers, in the order data flows through them.
LANDING = "landing"  # what each extract held, file by file
STAGING = "staging"  # typed source tables, one per source system and table, with their quarantine
ENTERPRISE = "enterprise"  # source-agnostic tables, documents' text, entity mentions and people
OPS = "ops"  # how the platform itself ran and was used: the audit log's copy, costs
INSIGHTS = "insights"  # analyses built on the marts: the adopter insights

# Data files are kept this small so that a MERGE of a day's changes rewrites a day's worth of bytes: a merge
# rewrites every file holding a matched row, whole (decision 0039). Rows are written in key order, so a file
# holds a narrow band of keys and the merge's pruning predicate skips the rest.
TARGET_FILE_BYTES = 8 << 20
# A merge source up to this many rows is held in memory, which lets delta-rs derive a pruning predicate from
# its keys (files outside their range are not even read); a larger one streams through in batches.
SMALL_SOURCE_ROWS = 200_000
MERGE_FILES_PER_COMMIT = 16


def _file_size() -> dict[str, str]:
    """The table property later merges and compactions size their files by."""
    return {"delta.targetFileSize": str(TARGET_FILE_BYTES)}


@dataclass(frozen=True)
class RowStream:
    """Rows too many to hold at once: Arrow batches made as a writer takes them, and how many rows they are."""

    schema: pa.Schema
    batches: Callable[[], Iterator[pa.RecordBatch]]
    rows: int

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, self.batches())

    def table(self) -> pa.Table:
        return pa.Table.from_batches(list(self.batches()), schema=self.schema)


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
        frame = pl.from_arrow(dt.to_pyarrow_table(filters=filters))
        metering.record_rows_read(frame.height)
        return frame

    def scan(self, layer: str, name: str) -> pl.LazyFrame | None:
        """The table as a lazy polars frame (only the columns and rows a query needs are read), or None."""
        if self.table(layer, name) is None:
            return None
        return pl.scan_delta(self.uri(layer, name), storage_options=self._options)

    def write(
        self,
        layer: str,
        name: str,
        frame: pl.DataFrame | pa.Table | RowStream,
        mode: str = "overwrite",
        *,
        keep_schema: bool = False,
        add_columns: bool = False,
    ) -> None:
        """Replace (``overwrite``) or extend (``append``) a whole table in one commit. An overwrite replaces the
        schema too, unless ``keep_schema`` (the rows are then cast to the table's schema by the caller); an
        append with ``add_columns`` adds the columns the table lacks (older rows read them as null)."""
        data = frame.to_arrow() if isinstance(frame, pl.DataFrame) else frame
        data = data.reader() if isinstance(data, RowStream) else data
        with _Commit(self, layer, name, mode) as commit:
            write_deltalake(
                self.uri(layer, name),
                data,
                mode=mode,
                schema_mode=(
                    "overwrite" if mode == "overwrite" and not keep_schema else "merge" if add_columns else None
                ),
                storage_options=self._options,
                commit_properties=commit.properties,
            )

    def delete(self, layer: str, name: str, predicate: str) -> int:
        """Delete the rows matching a Delta SQL ``predicate`` in one commit; returns how many."""
        dt = self.table(layer, name)
        if dt is None:
            return 0
        with _Commit(self, layer, name, "delete", before=dt.version()) as commit:
            metrics = dt.delete(predicate, commit_properties=commit.properties)
        return int(metrics.get("num_deleted_rows", 0))

    def version(self, layer: str, name: str) -> int | None:
        dt = self.table(layer, name)
        return None if dt is None else dt.version()

    def size(self, layer: str, name: str) -> tuple[int, int]:
        """(rows, bytes) of the table's current version, from its file statistics (no data read); (0, 0) when
        the table does not exist."""
        dt = self.table(layer, name)
        files = _files(dt).values() if dt is not None else ()
        return sum(rows for _, rows in files), sum(size for size, _ in files)

    def tables(self) -> list[tuple[str, str]]:
        """Every Delta table under the root, as (layer, name): a folder holding a ``_delta_log``.

        Folders are listed one level at a time (on an object store, one delimited listing each) and a table's
        own folder is not descended into, so the listing costs a request per folder, not one per data file."""
        from pyarrow import fs

        filesystem, root = _filesystem(self.root, self.storage_options)
        root = root.rstrip("/")
        found, pending = [], [root]
        while pending:
            folder = pending.pop()
            selector = fs.FileSelector(folder, allow_not_found=True)
            children = [i for i in filesystem.get_file_info(selector) if i.type == fs.FileType.Directory]
            if any(child.base_name == "_delta_log" for child in children):
                layer, _, name = folder[len(root) + 1 :].partition("/")
                if name:
                    found.append((layer, name))
                continue
            # a LanceDB table (<name>.lance) holds no Delta table: not worth its listings
            pending.extend(child.path for child in children if not child.base_name.endswith(".lance"))
        return sorted(found)

    def compact(self, layer: str, name: str) -> dict:
        """Rewrite small files into larger ones in one commit (rows and history unchanged); optimize's metrics."""
        dt = self.table(layer, name)
        with _Commit(self, layer, name, "optimize", before=dt.version()) as commit:
            return dt.optimize.compact(commit_properties=commit.properties)

    def keep_history(self, layer: str, name: str, days: int) -> bool:
        """Make the table keep its log and the files of old versions ``days`` days (Delta's defaults are 30 and
        7), so time travel reaches back that far. True when the properties changed (a commit)."""
        dt = self.table(layer, name)
        wanted = {
            "delta.logRetentionDuration": f"interval {days} days",
            "delta.deletedFileRetentionDuration": f"interval {days} days",
        }
        if all(dt.metadata().configuration.get(k) == v for k, v in wanted.items()):
            return False
        with _Commit(self, layer, name, "set properties", before=dt.version()) as commit:
            dt.alter.set_table_properties(wanted, commit_properties=commit.properties)
        return True

    def vacuum(self, layer: str, name: str, days: int) -> list[str]:
        """Delete files no version younger than ``days`` days needs; the files deleted."""
        dt = self.table(layer, name)
        with _Commit(self, layer, name, "vacuum", before=dt.version()) as commit:
            return dt.vacuum(
                retention_hours=days * 24,
                dry_run=False,
                enforce_retention_duration=True,  # never below the table's own deletedFileRetentionDuration
                commit_properties=commit.properties,
            )


def sql_literal(value: str) -> str:
    """A string literal for a Delta or LanceDB SQL predicate (ids come from source systems: a quote inside is
    doubled)."""
    return "'" + value.replace("'", "''") + "'"


def _filesystem(root: str, storage_options: dict[str, str] | None = None):
    """A pyarrow filesystem and the path in it for a lake root, reached with deltalake's storage options.

    deltalake, polars and LanceDB take the storage options as they are; pyarrow (which lists the lake's tables)
    names them its own way, so they are translated here: for ``s3://`` the keys, session token, region and
    endpoint (``http`` when the endpoint says so or ``AWS_ALLOW_HTTP`` is true); for ``az://`` / ``abfss://`` the
    account, its key or SAS token or a service principal; ``gs://`` uses Google's application default
    credentials (``GOOGLE_APPLICATION_CREDENTIALS``), as pyarrow takes no key file. Keys are matched as
    deltalake matches them: case-insensitive, with or without their ``aws_`` / ``azure_storage_`` /
    ``google_`` prefix. A key not given falls back to pyarrow's own environment and default credentials,
    as deltalake's do."""
    from urllib.parse import urlparse

    from pyarrow import fs

    options = {k.lower(): v for k, v in (storage_options or {}).items()}

    def option(*names: str) -> str | None:
        return next((options[n] for n in names if options.get(n) not in (None, "")), None)

    url = urlparse(root)
    scheme = url.scheme.lower()
    if scheme in ("s3", "s3a"):
        endpoint = option("aws_endpoint_url", "aws_endpoint", "endpoint_url", "endpoint")
        allow_http = (option("aws_allow_http", "allow_http") or "").lower() in ("1", "true", "yes", "on")
        kwargs: dict = {}
        if endpoint:
            parsed = urlparse(endpoint if "://" in endpoint else f"//{endpoint}")
            kwargs["endpoint_override"] = parsed.netloc + parsed.path.rstrip("/")
            kwargs["scheme"] = parsed.scheme or ("http" if allow_http else "https")
        key, secret = option("aws_access_key_id", "access_key_id"), option("aws_secret_access_key", "secret_access_key")
        if key and secret:
            kwargs.update(access_key=key, secret_key=secret)
            token = option("aws_session_token", "aws_token", "session_token", "token")
            if token:
                kwargs["session_token"] = token
        region = option("aws_region", "region", "aws_default_region", "default_region")
        if region:
            kwargs["region"] = region
        if (option("aws_virtual_hosted_style_request", "virtual_hosted_style_request") or "").lower() == "true":
            kwargs["force_virtual_addressing"] = True
        return fs.S3FileSystem(**kwargs), f"{url.netloc}{url.path}"
    if scheme in ("az", "adl", "azure", "abfs", "abfss"):
        # az://container/path, or abfss://container@account.dfs.core.windows.net/path
        container, _, host = url.netloc.partition("@")
        account = option("azure_storage_account_name", "account_name", "azure_storage_account") or host.split(".")[0]
        kwargs = {}
        account_key = option(
            "azure_storage_account_key",
            "azure_storage_access_key",
            "azure_storage_master_key",
            "account_key",
            "access_key",
            "master_key",
        )
        sas = option("azure_storage_sas_key", "azure_storage_sas_token", "sas_key", "sas_token")
        if account_key:
            kwargs["account_key"] = account_key
        elif sas:
            kwargs["sas_token"] = sas
        principal = {
            "client_id": option("azure_client_id", "azure_storage_client_id", "client_id"),
            "client_secret": option("azure_client_secret", "azure_storage_client_secret", "client_secret"),
            "tenant_id": option(
                "azure_tenant_id",
                "azure_storage_tenant_id",
                "azure_storage_authority_id",
                "azure_authority_id",
                "tenant_id",
                "authority_id",
            ),
        }
        if not (account_key or sas) and all(principal.values()):
            kwargs.update(principal)
        endpoint = option("azure_storage_endpoint", "azure_endpoint", "endpoint")
        if (option("azure_storage_use_emulator", "use_emulator") or "").lower() == "true" and not endpoint:
            endpoint = "http://127.0.0.1:10000"
        if endpoint:
            parsed = urlparse(endpoint if "://" in endpoint else f"//{endpoint}")
            kwargs.update(blob_storage_authority=parsed.netloc, blob_storage_scheme=parsed.scheme or "https")
        return fs.AzureFileSystem(account, **kwargs), f"{container}{url.path}"
    if scheme in ("gs", "gcs"):
        return fs.GcsFileSystem(), f"{url.netloc}{url.path}"
    if scheme in ("", "file"):
        return fs.LocalFileSystem(), str(Path(url.path if scheme else root).resolve())
    return fs.FileSystem.from_uri(root)


class _Commit:
    """One commit of one table: labelled with its run, and what it added reported to the open meter.

    The files a commit added are the difference between the table's files after it and before it (the add
    actions), so a merge that rewrites files counts the rows and bytes it rewrote: what storage was written."""

    def __init__(self, lake: Lake, layer: str, name: str, operation: str, before: int | None = -1) -> None:
        self.lake, self.layer, self.name, self.operation = lake, layer, name, operation
        self.measure = metering.metering()
        # -1: not known yet (read here); None: the table does not exist
        self.before = lake.version(layer, name) if before == -1 and self.measure else before
        labels = {f"caselake.{k}": v for k, v in metering.labels().items()}  # the Dagster run and step
        self.properties = CommitProperties(custom_metadata=labels) if labels else None

    def __enter__(self) -> _Commit:
        return self

    def __exit__(self, kind, *_) -> None:
        if kind is not None or not self.measure:
            return
        after = self.lake.table(self.layer, self.name)
        if after is None or after.version() == self.before:
            return  # nothing committed (a merge with nothing to change)
        added = _files(after)
        if self.before is not None and self.before >= 0:
            earlier = DeltaTable(
                self.lake.uri(self.layer, self.name), version=self.before, storage_options=self.lake._options
            )
            for path in _files(earlier):
                added.pop(path, None)
        metering.record_write(
            metering.Write(
                store="delta",
                table=f"{self.layer}/{self.name}",
                version=after.version(),
                operation=self.operation,
                rows=sum(rows for _, rows in added.values()),
                bytes=sum(size for size, _ in added.values()),
            )
        )


def _files(dt: DeltaTable) -> dict[str, tuple[int, int]]:
    """The table's data files: path -> (bytes, rows)."""
    actions = pa.table(dt.get_add_actions(flatten=False))
    if not actions.num_rows:
        return {}
    rows = actions["num_records"].to_pylist() if "num_records" in actions.column_names else [0] * actions.num_rows
    return {
        p: (int(size), int(n or 0))
        for p, size, n in zip(actions["path"].to_pylist(), actions["size_bytes"].to_pylist(), rows, strict=True)
    }


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
    rows: pl.DataFrame | RowStream,
    keys: tuple[str, ...],
    *,
    update_when: str = "s._row_hash <> t._row_hash",
) -> MergeStats:
    """MERGE ``rows`` into a Delta table by ``keys``: insert new keys, update matched rows where
    ``update_when`` holds. The guard makes a re-run with unchanged input commit nothing.

    ``rows`` may be a :class:`RowStream` (a file of any size, staged in batches): a new table is written from
    it batch by batch, and a large one streams through the merge; a small source is held so that delta-rs
    prunes the files its keys cannot be in. Rows are written in key order, in files of about
    ``TARGET_FILE_BYTES``: a merge rewrites only the files that hold the keys it changes."""
    count = rows.rows if isinstance(rows, RowStream) else rows.height
    if count == 0:
        return MergeStats(version=lake.version(layer, name))
    uri = lake.uri(layer, name)
    dt = lake.table(layer, name)
    if dt is None:
        data = rows.reader() if isinstance(rows, RowStream) else rows.sort(list(keys), nulls_last=True).to_arrow()
        with _Commit(lake, layer, name, "create", before=None) as commit:
            write_deltalake(
                uri,
                data,
                mode="error",
                storage_options=lake._options,
                commit_properties=commit.properties,
                configuration=_file_size(),
                target_file_size=TARGET_FILE_BYTES,
            )
        return MergeStats(inserted=count, version=0, committed=True)
    small = count <= SMALL_SOURCE_ROWS
    if not small:
        data = rows.reader() if isinstance(rows, RowStream) else rows.to_arrow()
        return _merge(lake, layer, name, dt, data, count, keys, update_when, streamed=True)
    frame = pl.from_arrow(rows.table()) if isinstance(rows, RowStream) else rows
    frame = frame.sort(list(keys), nulls_last=True)
    done = MergeStats(version=dt.version())
    for part in _parts_by_file(dt, frame, keys[0]):
        table = lake.table(layer, name)
        done.add(_merge(lake, layer, name, table, part.to_arrow(), part.height, keys, update_when, streamed=False))
    return done


def _merge(
    lake: Lake,
    layer: str,
    name: str,
    dt: DeltaTable,
    data: pa.Table | pa.RecordBatchReader,
    count: int,
    keys: tuple[str, ...],
    update_when: str,
    streamed: bool,
) -> MergeStats:
    """One MERGE commit of ``data`` (``count`` rows) by ``keys``."""
    before = dt.version()
    predicate = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    with _Commit(lake, layer, name, "merge", before=before) as commit:
        metrics = (
            dt.merge(
                source=data,
                predicate=predicate,
                source_alias="s",
                target_alias="t",
                merge_schema=True,
                streamed_exec=streamed,
                commit_properties=commit.properties,
            )
            .when_matched_update_all(predicate=update_when)
            .when_not_matched_insert_all()
            .execute()
        )
    after = DeltaTable(lake.uri(layer, name), storage_options=lake._options).version()
    inserted = int(metrics.get("num_target_rows_inserted", 0))
    updated = int(metrics.get("num_target_rows_updated", 0))
    return MergeStats(inserted, updated, count - inserted - updated, after, after != before)


def _parts_by_file(dt: DeltaTable, frame: pl.DataFrame, key: str) -> list[pl.DataFrame]:
    """A held merge source split into parts that each fall in at most ``MERGE_FILES_PER_COMMIT`` of the table's
    files, by the file whose range of the first key (its min statistic; the files are written in key order) holds
    each row. delta-rs holds the files a merge rewrites in memory: one MERGE of the case notes' next day at 100,000
    children rewrote 84 files and peaked at 5.9 GB. Each part is its own commit; the row-hash guard makes a part
    applied twice a no-op, so a process stopped between parts leaves a table that a re-run completes (the
    watermarks move only after the last part)."""
    actions = pa.table(dt.get_add_actions(flatten=True))
    column = f"min.{key}"
    if actions.num_rows <= MERGE_FILES_PER_COMMIT or column not in actions.column_names:
        return [frame]
    starts = pl.Series("start", actions[column].to_pylist()).drop_nulls().unique().sort()
    if starts.dtype != frame.schema[key]:
        return [frame]
    holder = (starts.search_sorted(frame[key], side="right").cast(pl.Int64) - 1).clip(lower_bound=0)
    part = (holder.rank("dense") - 1) // MERGE_FILES_PER_COMMIT
    return frame.with_columns(part.alias("_part")).partition_by("_part", include_key=False, maintain_order=True)


def ensure_table(lake: Lake, layer: str, name: str, schema: pa.Schema) -> None:
    """Create an empty table so readers and checks can rely on it existing."""
    if lake.table(layer, name) is None:
        with _Commit(lake, layer, name, "create", before=None) as commit:
            write_deltalake(
                lake.uri(layer, name),
                schema.empty_table(),
                mode="error",
                storage_options=lake._options,
                commit_properties=commit.properties,
                configuration=_file_size(),
            )
