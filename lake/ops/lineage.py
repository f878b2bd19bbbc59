"""The provenance of one fact: from an ecomap edge, a mart row, an entity mention or a search hit, back through
the enterprise and staging rows to the landing file it came from — its SHA-256 and the row in it — with the
Delta version each row was read at, the version (and Dagster run) that wrote it, and for text-derived facts the
note, page or answer, the character span, the extraction method, model and version.

The chain names rows by their ids, hashes, files and row numbers, never by their content: no names or free
text, so it can be printed, logged and handed to an auditor. Who may ask is the query service's business
(``QueryService.provenance``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from lake.contracts.sources import NEUTRAL_TABLES, SOURCES
from lake.ingest.enterprise import TABLES as ENTERPRISE_TABLES
from lake.ingest.enterprise import staging_name
from lake.search.index import TABLE as SEARCH_TABLE
from lake.search.index import connect
from lake.storage.delta import ENTERPRISE, LANDING, STAGING, Lake, sql_literal
from lake.storage.serving import served_file

MENTIONS = "entity_mentions"  # lake.entities.items.MENTIONS, named here to keep ops below the capabilities
MENTION_PERSON = "person_mention"
DOCUMENT_TEXT = "document_text"
MAX_MENTIONS_PER_EDGE = 5  # an edge's chain follows this many of its mentions (it says how many there are)
MAX_ROWS_PER_KEY = 20  # and this many enterprise rows sharing a partial key (a form's answers)
# A text item's enterprise row: (table, key columns, how the source id splits into them)
TEXT_SOURCES = {
    "case_note": ("case_note", ("note_id",)),
    "document_page": ("document", ("document_id",)),
    "form_answer": ("form_response", ("form_id", "question_code")),
}
# The columns a chain shows: ids, keys, hashes, dates, counts, methods, models and scores — by these exact names
# or name endings. Never names, addresses or free text, whatever a mart calls them (a node_label is a name).
_SHOWN_NAMES = frozenset(
    {
        "method",
        "label",
        "score",
        "evidence",
        "page",
        "start",
        "end",
        "status",
        "bucket",
        "tool",
        "relation",
        "is_current",
    }
)
_NEVER_SHOWN = frozenset({"nhs_number", "upn", "phone_number"})  # identifiers of a person, not of a record
_SHOWN_ENDINGS = ("_id", "_ids", "_code", "_date", "_at", "_hash", "_version", "_number", "_count", "_type", "_band",
                  "_seconds", "_probability", "_seen", "_confidence", "_format")  # fmt: skip


class LineageError(LookupError):
    """The fact asked about is not in the lake (a wrong id, or a row since removed)."""


@dataclass
class Link:
    """One row in the chain, ``depth`` levels below the fact."""

    what: str  # "ecomap edge", "enterprise row", "staging row", "landing file", ...
    table: str  # "enterprise/case_note", "marts/child_network", "lancedb/search_chunks"
    key: dict[str, Any]
    depth: int = 0
    version: int | None = None  # the Delta version read
    written_in: int | None = None  # the Delta version whose commit wrote the row
    run_id: str | None = None  # the Dagster run of that commit
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Provenance:
    fact: str
    child_id: str | None
    links: list[Link]

    def landing_files(self) -> list[Link]:
        return [link for link in self.links if link.what == "landing file"]

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self), default=str))

    def as_text(self) -> str:
        lines = [self.fact]
        for link in self.links:
            key = ", ".join(f"{k}={v}" for k, v in link.key.items())
            where = f" @v{link.version}" if link.version is not None else ""
            wrote = f" (written in v{link.written_in}, run {link.run_id[:8]})" if link.run_id else ""
            wrote = wrote or (f" (written in v{link.written_in})" if link.written_in is not None else "")
            lines.append(f"{'  ' * (link.depth + 1)}└ {link.what}: {link.table}{where} [{key}]{wrote}")
            for k, v in link.detail.items():
                lines.append(f"{'  ' * (link.depth + 3)}{k}: {v}")
        return "\n".join(lines)


class Tracer:
    """Follows facts back through one lake (and its warehouse, for the marts)."""

    def __init__(
        self, lake: Lake, warehouse: Path | None = None, landing: Path | None = None, served: Path | None = None
    ) -> None:
        """``served``: the folder of the marts published for the app (lake/storage/serving.py), read instead of
        the warehouse for the marts it holds, so a trace never waits on a dbt build's lock."""
        self.lake, self.warehouse, self.landing, self.served = lake, warehouse, landing, served
        self._history: dict[str, list[dict]] = {}

    # ---- the facts --------------------------------------------------------------------------------------------
    def trace(
        self,
        kind: str,
        ident: str,
        key: dict[str, str] | None = None,
        lancedb_uri: str = "",
        storage_options: dict | None = None,
    ) -> Provenance:
        """One fact by its kind: ``edge`` (an edge_id), ``mention`` (a mention_id), ``hit`` (a search chunk_id,
        in the index at ``lancedb_uri``) or ``row`` (``ident`` a mart, ``key`` its key columns)."""
        if kind == "edge":
            return self.edge(ident)
        if kind == "mention":
            return self.mention(ident)
        if kind == "hit":
            return self.search_hit(ident, lancedb_uri, storage_options)
        if kind == "row":
            if not key:
                raise LineageError("a mart row needs its key as column=value")
            return self.mart_row(ident, key)
        raise LineageError(f"unknown kind of fact {kind!r}: edge, mention, hit or row")

    def edge(self, edge_id: str) -> Provenance:
        """An ecomap edge (``child_network.edge_id``): its recorded relationships and the mentions behind it."""
        edge = self._mart_rows("child_network", {"edge_id": edge_id})
        if not edge:
            raise LineageError(f"no ecomap edge {edge_id!r} in marts/child_network")
        row = edge[0]
        links = [Link("ecomap edge", "marts/child_network", {"edge_id": edge_id}, detail=_shown(row, ("source_ids",)))]
        for source_id in row["source_ids"] or []:
            if ":" not in source_id:  # a recorded relationship
                links += self._enterprise("relationship", {"relationship_id": source_id}, depth=1)
        mentions = self._mart_rows("child_network_mentions", {"edge_id": edge_id})
        if mentions:
            links[0].detail["mentions"] = (
                f"{len(mentions)} (the chain follows {min(len(mentions), MAX_MENTIONS_PER_EDGE)})"
            )
        for m in sorted(mentions, key=lambda m: m["mention_id"])[:MAX_MENTIONS_PER_EDGE]:
            links += self._mention(m["mention_id"], depth=1)
        return Provenance(f"ecomap edge {edge_id}", row["child_id"], links)

    def mention(self, mention_id: str) -> Provenance:
        links = self._mention(mention_id, depth=0)
        return Provenance(f"entity mention {mention_id}", links[0].detail.get("child_id"), links)

    def search_hit(self, chunk_id: str, lancedb_uri: str, storage_options: dict | None = None) -> Provenance:
        """A search hit (``search_chunks.chunk_id``): the chunk, then the note, page or answer it was cut from."""
        table = connect(lancedb_uri, storage_options).open_table(SEARCH_TABLE)
        hits = table.search().where(f"chunk_id = {sql_literal(chunk_id)}").limit(1).to_list()
        if not hits:
            raise LineageError(f"no search chunk {chunk_id!r} in lancedb/{SEARCH_TABLE}")
        hit = hits[0]
        link = Link(
            "search chunk",
            f"lancedb/{SEARCH_TABLE}",
            {"chunk_id": chunk_id},
            version=table.version,
            detail=_shown(hit, ("vector",)),
        )
        links = [link, *self._text_source(hit["source_type"], hit["source_id"], hit["page"], depth=1)]
        return Provenance(f"search hit {chunk_id}", hit.get("child_id"), links)

    def mart_row(self, mart: str, key: dict[str, str]) -> Provenance:
        """A mart row, found by its key columns: then every enterprise row it was built from that the row names —
        by the enterprise table's own key, or by ``source_table`` / ``source_id`` (the timeline)."""
        rows = self._mart_rows(mart, key)
        if len(rows) != 1:
            raise LineageError(f"{len(rows)} rows of marts/{mart} match {key} (give its key columns)")
        row = rows[0]
        links = [Link("mart row", f"marts/{mart}", key, detail=_shown(row))]
        if row.get("source_table") and row.get("source_id"):
            table = next((t for t in ENTERPRISE_TABLES if t.name == row["source_table"]), None)
            if table is not None:  # the timeline names a form by its form_id: every answer is followed
                links += self._enterprise(table.name, {table.key[0]: row["source_id"]}, depth=1)
        else:
            for table in ENTERPRISE_TABLES:
                if all(row.get(k) is not None for k in table.key):
                    links += self._enterprise(table.name, {k: row[k] for k in table.key}, depth=1, missing_ok=True)
        if len(links) == 1:
            raise LineageError(f"marts/{mart} row {key} names no enterprise row by its key")
        return Provenance(f"mart row marts/{mart} {key}", row.get("child_id"), links)

    # ---- the links ---------------------------------------------------------------------------------------------
    def _mention(self, mention_id: str, depth: int) -> list[Link]:
        rows, version = self._delta_rows(ENTERPRISE, MENTIONS, {"mention_id": mention_id})
        if not rows:
            raise LineageError(f"no entity mention {mention_id!r} in enterprise/{MENTIONS}")
        m = rows[0]
        link = Link(
            "entity mention",
            f"{ENTERPRISE}/{MENTIONS}",
            {"mention_id": mention_id},
            depth,
            version,
            *self._written(ENTERPRISE, MENTIONS, m.get("extracted_at")),
            detail=_shown(m),
        )
        links = [link]
        resolved, rv = self._delta_rows(ENTERPRISE, MENTION_PERSON, {"mention_id": mention_id})
        if resolved:
            r = resolved[0]
            links.append(
                Link(
                    "resolved person",
                    f"{ENTERPRISE}/{MENTION_PERSON}",
                    {"mention_id": mention_id},
                    depth + 1,
                    rv,
                    *self._written(ENTERPRISE, MENTION_PERSON, r.get("resolved_at")),
                    detail=_shown(r),
                )
            )
        return links + self._text_source(m["source_type"], m["source_id"], m["page"], depth + 1)

    def _text_source(self, source_type: str, source_id: str, page: int, depth: int) -> list[Link]:
        table, key_columns = TEXT_SOURCES[source_type]
        key = dict(zip(key_columns, source_id.split(":", len(key_columns) - 1), strict=True))
        links: list[Link] = []
        if source_type == "document_page":
            pages, version = self._delta_rows(ENTERPRISE, DOCUMENT_TEXT, {"document_id": source_id, "page": int(page)})
            for p in pages:
                links.append(
                    Link(
                        "document page text",
                        f"{ENTERPRISE}/{DOCUMENT_TEXT}",
                        {"document_id": source_id, "page": int(page)},
                        depth,
                        version,
                        *self._written(ENTERPRISE, DOCUMENT_TEXT, p.get("processed_at")),
                        detail=_shown(p),
                    )
                )
            links += self._enterprise(table, key, depth=depth + 1 if links else depth)
            file_hash = pages[0]["content_hash"] if pages else None
            links += self._landing_document(file_hash, depth=(depth + 2) if pages else depth + 1)
            return links
        return self._enterprise(table, key, depth=depth)

    def _enterprise(self, table: str, key: dict[str, Any], depth: int, missing_ok: bool = False) -> list[Link]:
        """The enterprise rows matching ``key`` (a form's answers share its form_id), each followed by the staging
        rows it was built from in the extract that last changed it, and the landing file each came from."""
        rows, version = self._delta_rows(ENTERPRISE, table, key)
        if not rows:
            if missing_ok:
                return []
            raise LineageError(f"no row {key} in {ENTERPRISE}/{table}")
        spec = next(t for t in ENTERPRISE_TABLES if t.name == table)
        links = []
        for row in rows[:MAX_ROWS_PER_KEY]:
            own_key = {k: row[k] for k in spec.key}
            links.append(
                Link(
                    "enterprise row",
                    f"{ENTERPRISE}/{table}",
                    own_key,
                    depth,
                    version,
                    *self._written(ENTERPRISE, table, row.get("_updated_at")),
                    detail={k: row[k] for k in ("_source", "_extract_id", "_row_hash", "_deleted_at") if row.get(k)},
                )
            )
            links += self._staged(row, own_key, spec.sources, depth + 1)
        return links

    def _staged(self, row: dict, key: dict[str, Any], sources: Iterable[str], depth: int) -> list[Link]:
        links = []
        for staged in sources:
            columns = set(NEUTRAL_TABLES[staged]["columns"]) | set(NEUTRAL_TABLES[staged]["key"])
            shared = {k: v for k, v in key.items() if k in columns}
            if not shared:
                continue
            name = staging_name(row["_source"], staged)
            found, sv = self._delta_rows(STAGING, name, shared)
            found = [r for r in found if r["_extract_id"] <= row["_extract_id"]]
            if not found:
                continue
            s = max(found, key=lambda r: (r["_extract_id"], r["_row_number"]))  # the extract that last changed it
            links.append(
                Link(
                    "staging row",
                    f"{STAGING}/{name}",
                    shared,
                    depth,
                    sv,
                    *self._written(STAGING, name, s.get("_ingested_at")),
                    detail={
                        "extract_id": s["_extract_id"],
                        "source_file": s["_source_file"],
                        "row_number": s["_row_number"],
                        "row_hash": s["_row_hash"],
                    },
                )
            )
            links += self._landing_file(s["_extract_id"], s["_source_file"], depth + 1)
        return links

    def _landing_file(self, extract_id: str, path: str, depth: int) -> list[Link]:
        rows, version = self._delta_rows(LANDING, "files", {"extract_id": extract_id, "path": path})
        return [self._file_link(r, version, depth) for r in rows]

    def _landing_document(self, sha256: str | None, depth: int) -> list[Link]:
        if not sha256:
            return []
        rows, version = self._delta_rows(LANDING, "files", {"sha256": sha256})
        rows = sorted((r for r in rows if r["kind"] == "document"), key=lambda r: r["extract_id"])
        return [self._file_link(rows[0], version, depth)] if rows else []

    def _file_link(self, row: dict, version: int | None, depth: int) -> Link:
        detail = {"sha256": row["sha256"], "bytes": row["bytes"], "kind": row["kind"]}
        source = next((s for s in SOURCES if row["extract_id"].startswith(f"{s}-")), None)
        if self.landing is not None and source is not None:  # an extract's folder: <landing>/<system>/<date>
            folder = self.landing / SOURCES[source].source / row["extract_id"][len(source) + 1 :]
            detail["location"] = str(folder / row["path"])
        return Link(
            "landing file",
            f"{LANDING}/files",
            {"extract_id": row["extract_id"], "path": row["path"]},
            depth,
            version,
            detail=detail,
        )

    # ---- reading ---------------------------------------------------------------------------------------------------
    def _delta_rows(self, layer: str, name: str, key: dict[str, Any]) -> tuple[list[dict], int | None]:
        dt_ = self.lake.table(layer, name)
        if dt_ is None:
            return [], None
        # polars, not pyarrow filters: tables written from polars hold string_view columns, which pyarrow's
        # filter kernels cannot compare with a string
        scan = pl.scan_delta(dt_).filter(pl.all_horizontal(pl.col(k) == v for k, v in key.items()))
        return scan.collect().to_dicts(), dt_.version()

    def _mart_rows(self, mart: str, key: dict[str, Any]) -> list[dict]:
        path = served_file(self.served, mart) if self.served is not None and mart.isidentifier() else None
        if path is None or not path.exists():
            if self.warehouse is None:
                raise LineageError("the marts' warehouse is not known")
            path = self.warehouse / "caselake.duckdb"
        if not path.exists():
            raise LineageError(f"no warehouse at {path}: build the marts first")
        with duckdb.connect(str(path), read_only=True) as con:
            known = set(_frame(con, "select table_name from information_schema.tables")["table_name"])
            if mart not in known:
                raise LineageError(f"no mart {mart!r}")
            columns = set(_frame(con, f"describe main.{mart}")["column_name"])  # mart: a known table name
            unknown = set(key) - columns
            if unknown:
                raise LineageError(f"marts/{mart} has no column {', '.join(sorted(unknown))}")
            where = " and ".join(f'cast("{k}" as varchar) = ?' for k in key)
            return _frame(con, f"select * from main.{mart} where {where}", [str(v) for v in key.values()]).to_dicts()

    def _written(self, layer: str, name: str, stamp: dt.datetime | None) -> tuple[int | None, str | None]:
        """The version whose commit wrote a row stamped ``stamp`` (the first commit at or after it), and its run."""
        if stamp is None:
            return None, None
        uri = self.lake.uri(layer, name)
        if uri not in self._history:
            dt_ = self.lake.table(layer, name)
            self._history[uri] = sorted(dt_.history(), key=lambda c: c["version"]) if dt_ is not None else []
        ms = stamp.timestamp() * 1000
        commit = next((c for c in self._history[uri] if c["timestamp"] >= ms), None)
        if commit is None:
            return None, None
        return commit["version"], commit.get("caselake.run_id")


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    return pl.from_arrow(con.sql(sql, params=params).to_arrow_table())


def _shown(row: dict, drop: Iterable[str] = ()) -> dict:
    """The columns a chain shows: no names, no free text, none of ``drop``; dates as ISO text."""
    out = {}
    for k, v in row.items():
        if k in drop or k in _NEVER_SHOWN or v is None or k.startswith("_"):
            continue
        if not (k in _SHOWN_NAMES or k.endswith(_SHOWN_ENDINGS)):
            continue
        out[k] = v.isoformat() if isinstance(v, dt.date | dt.datetime) else v
    return out
