"""The disclosure layer of the lake: requests, the items each bundle was compiled from (provenance, no text), the
proposals, the officer's decisions and the exports, as Delta tables (``<lake>/disclosure/<table>``).

A request's items and proposals are replaced whole each time they are proposed again (the records may have
changed since); decisions and exports are only ever appended, so the history of who decided what stays.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import polars as pl

from lake.disclosure.bundle import Compiled, DisclosureRequest
from lake.disclosure.propose import PROPOSAL_SCHEMA
from lake.storage.delta import Lake

DISCLOSURE = "disclosure"
REQUESTS, ITEMS, PROPOSALS, DECISIONS, EXPORTS = "request", "item", "proposal", "decision", "export"

REQUEST_SCHEMA = {
    "request_id": pl.String,
    "subject_id": pl.String,
    "requester_id": pl.String,
    "received": pl.Date,
    "due": pl.Date,
    "date_from": pl.Date,
    "date_to": pl.Date,
    "subject_is_child": pl.Boolean,
    "made_by": pl.String,
    "made_at": pl.Datetime("us", "UTC"),
}
DECISION_SCHEMA = {
    "request_id": pl.String,
    "proposal_id": pl.String,
    "decision": pl.String,  # redact | keep
    "decided_by": pl.String,
    "decided_at": pl.Datetime("us", "UTC"),
}
EXPORT_SCHEMA = {
    "request_id": pl.String,
    "path": pl.String,
    "sha256": pl.String,
    "pages": pl.Int64,
    "redactions": pl.Int64,
    "images_embedded": pl.Int64,
    "images_withheld": pl.Int64,
    "exported_by": pl.String,
    "exported_at": pl.Datetime("us", "UTC"),
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def save_request(lake: Lake, request: DisclosureRequest, made_by: str) -> None:
    if load_request(lake, request.request_id) is not None:
        return  # the same request (subject, requester, dates) made twice is one request
    row = {**request.as_row(), "made_by": made_by, "made_at": _now()}
    lake.write(DISCLOSURE, REQUESTS, pl.DataFrame([row], schema=REQUEST_SCHEMA), mode="append")


def load_request(lake: Lake, request_id: str) -> DisclosureRequest | None:
    requests = lake.read(DISCLOSURE, REQUESTS)
    if requests is None:
        return None
    found = requests.filter(pl.col("request_id") == request_id)
    if found.is_empty():
        return None
    r = found.row(0, named=True)
    return DisclosureRequest(
        r["request_id"],
        r["subject_id"],
        r["requester_id"],
        r["received"],
        r["date_from"],
        r["date_to"],
        bool(r["subject_is_child"]),
    )


def requests(lake: Lake) -> pl.DataFrame:
    found = lake.read(DISCLOSURE, REQUESTS)
    return pl.DataFrame(schema=REQUEST_SCHEMA) if found is None else found.sort("due")


def save_proposals(lake: Lake, request_id: str, compiled: Compiled, proposals: pl.DataFrame) -> None:
    """The request's items (provenance only: the text stays in the records) and proposals, replacing the last."""
    items = compiled.items.drop("text").with_columns(pl.lit(request_id).alias("request_id"))
    for name, frame in ((ITEMS, items), (PROPOSALS, proposals.select(list(PROPOSAL_SCHEMA)))):
        if lake.table(DISCLOSURE, name) is not None:
            lake.delete(DISCLOSURE, name, f"request_id = '{_quoted(request_id)}'")
        lake.write(DISCLOSURE, name, frame, mode="append", add_columns=True)


def items_of(lake: Lake, request_id: str) -> list[str]:
    """The item ids the request's proposals were made over."""
    found = lake.read(DISCLOSURE, ITEMS)
    return [] if found is None else found.filter(pl.col("request_id") == request_id)["item_id"].to_list()


def load_proposals(lake: Lake, request_id: str) -> pl.DataFrame:
    found = lake.read(DISCLOSURE, PROPOSALS)
    empty = pl.DataFrame(schema=PROPOSAL_SCHEMA)
    return empty if found is None else found.filter(pl.col("request_id") == request_id).select(list(PROPOSAL_SCHEMA))


def save_decisions(lake: Lake, request_id: str, decisions: dict[str, str], decided_by: str) -> None:
    """proposal_id -> redact | keep, appended: the latest decision on a proposal is the one that holds."""
    rows = [
        {"request_id": request_id, "proposal_id": p, "decision": d, "decided_by": decided_by, "decided_at": _now()}
        for p, d in decisions.items()
    ]
    if rows:
        lake.write(DISCLOSURE, DECISIONS, pl.DataFrame(rows, schema=DECISION_SCHEMA), mode="append")


def latest_decisions(lake: Lake, request_id: str) -> pl.DataFrame:
    found = lake.read(DISCLOSURE, DECISIONS)
    if found is None:
        return pl.DataFrame(schema=DECISION_SCHEMA)
    mine = found.filter(pl.col("request_id") == request_id).sort("decided_at")
    return mine.unique("proposal_id", keep="last", maintain_order=True)


def record_export(lake: Lake, request_id: str, path: Path, exported, exported_by: str) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    row = {
        "request_id": request_id,
        "path": str(path),
        "sha256": digest,
        "pages": exported.pages,
        "redactions": exported.redactions,
        "images_embedded": exported.images_embedded,
        "images_withheld": exported.images_withheld,
        "exported_by": exported_by,
        "exported_at": _now(),
    }
    lake.write(DISCLOSURE, EXPORTS, pl.DataFrame([row], schema=EXPORT_SCHEMA), mode="append")
    return digest


def exports(lake: Lake) -> pl.DataFrame:
    found = lake.read(DISCLOSURE, EXPORTS)
    return pl.DataFrame(schema=EXPORT_SCHEMA) if found is None else found


def _quoted(value: str) -> str:
    return value.replace("'", "''")
