"""A request, and every record about its subject compiled into items in date order.

Sources (issue 39): for a child, every case note, form answer and document page recorded against them, and their
structured record (names and their history, addresses, relationships, episodes); for an adult, every text that
mentions them as a resolved person, and their own structured record. Each item keeps its provenance: source
type, id, page and the SHA-256 of the text it was compiled from.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
from dataclasses import dataclass

import polars as pl

from lake.disclosure.rules import PARENTAL
from lake.entities.items import ITEM_ID, MENTIONS, text_items
from lake.entities.resolution import MENTION_PERSON
from lake.storage.delta import ENTERPRISE, Lake

ITEM_SCHEMA = {
    "item_id": pl.String,
    "source_type": pl.String,  # case_note | form_answer | document_page | record
    "source_id": pl.String,
    "page": pl.Int32,
    "child_id": pl.String,
    "record_date": pl.Date,
    "title": pl.String,
    "text": pl.String,
    "text_hash": pl.String,
}
# Spans the compiler itself knows in a record item (it wrote the names and addresses there): the same shape as
# entity mentions, with the person each belongs to.
RECORD_SPAN_SCHEMA = {
    "item_id": pl.String,
    "start": pl.Int64,
    "end": pl.Int64,
    "text": pl.String,
    "label": pl.String,
    "person_id": pl.String,
}


class RequestError(ValueError):
    """A request that cannot be made as asked: the message says why, in words for the officer."""


def one_month_after(day: dt.date) -> dt.date:
    """A calendar month on (UK GDPR Art. 12(3) as the regulator counts it): the same day next month, or that
    month's last day when it has no such day (31 January -> 28 or 29 February)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class DisclosureRequest:
    request_id: str
    subject_id: str
    requester_id: str  # the subject, or a parent acting for a child
    received: dt.date
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    subject_is_child: bool = False

    @property
    def due(self) -> dt.date:
        return one_month_after(self.received)

    @property
    def requester_is_parent(self) -> bool:
        return self.requester_id != self.subject_id

    def as_row(self) -> dict:
        return {
            "request_id": self.request_id,
            "subject_id": self.subject_id,
            "requester_id": self.requester_id,
            "received": self.received,
            "due": self.due,
            "date_from": self.date_from,
            "date_to": self.date_to,
            "subject_is_child": self.subject_is_child,
        }


def live_table(lake: Lake, name: str) -> pl.DataFrame:
    """An enterprise table's live rows (empty when the table does not exist yet)."""
    frame = lake.read(ENTERPRISE, name)
    if frame is None:
        return pl.DataFrame()
    return frame.filter(pl.col("_deleted_at").is_null()) if "_deleted_at" in frame.columns else frame


def new_request(
    lake: Lake,
    subject_id: str,
    requester_id: str | None = None,
    received: dt.date | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> DisclosureRequest:
    """A request checked against the lake: the subject is a live person, and a requester other than the subject is
    a parent recorded for them (someone else's right of access to a child's file is for the officer to establish,
    outside this tool)."""
    received = received or dt.date.today()
    requester_id = requester_id or subject_id
    if date_from and date_to and date_from > date_to:
        raise RequestError(f"the date range is empty: {date_from} is after {date_to}")
    people = live_table(lake, "person")
    if people.is_empty() or people.filter(pl.col("person_id") == subject_id).is_empty():
        raise RequestError(f"no person {subject_id!r} in the lake: check the id on the case management system")
    subject = people.filter(pl.col("person_id") == subject_id).row(0, named=True)
    is_child = subject.get("person_type") == "child"
    if requester_id != subject_id:
        if not is_child:
            raise RequestError("someone other than the subject can ask only for a child's file here")
        relations = live_table(lake, "relationship")
        parent = (
            relations.filter(
                (pl.col("child_id") == subject_id)
                & (pl.col("person_id") == requester_id)
                & pl.col("relation").is_in(list(PARENTAL))
            ).height
            if not relations.is_empty()
            else 0
        )
        if not parent:
            raise RequestError(
                f"{requester_id!r} is not recorded as {subject_id!r}'s mother or father: "
                "parental responsibility must be established before the request is made"
            )
    digest = hashlib.sha256(f"{subject_id}|{requester_id}|{received}|{date_from}|{date_to}".encode()).hexdigest()
    return DisclosureRequest(
        f"SAR-{received:%Y%m%d}-{digest[:8]}", subject_id, requester_id, received, date_from, date_to, is_child
    )


@dataclass
class Compiled:
    items: pl.DataFrame  # ITEM_SCHEMA, in date order (undated last), the structured record first
    record_spans: pl.DataFrame  # RECORD_SPAN_SCHEMA: names and addresses the record item holds
    skipped_outside_range: int = 0
    restricted_left_out: int = 0  # items of restricted children this officer may not read


def item_id(source_type: str, source_id: str, page: int) -> str:
    return f"{source_type}|{source_id}|{int(page)}"


def compile_items(lake: Lake, request: DisclosureRequest, leave_out: frozenset[str] = frozenset()) -> Compiled:
    """Every record about the subject, as items (see the module docstring). ``leave_out``: children whose records
    this officer may not read (a restriction that does not name them); never the subject."""
    if request.subject_is_child:
        texts = text_items(lake, [request.subject_id])
    else:
        texts = _texts_mentioning(lake, request.subject_id)
    restricted = texts.filter(pl.col("child_id").is_in(sorted(leave_out - {request.subject_id})))
    texts = texts.join(
        restricted.select("source_type", "source_id", "page"), on=["source_type", "source_id", "page"], how="anti"
    )
    texts = texts.join(_dates_and_titles(lake), on=["source_type", "source_id"], how="left")
    in_range = pl.lit(True)
    if request.date_from:
        in_range &= pl.col("record_date").is_null() | (pl.col("record_date") >= request.date_from)
    if request.date_to:
        in_range &= pl.col("record_date").is_null() | (pl.col("record_date") <= request.date_to)
    kept = texts.filter(in_range)
    record_text, spans = structured_record(lake, request.subject_id)
    record_key = item_id("record", request.subject_id, 0)
    record = pl.DataFrame(
        [
            {
                "item_id": record_key,
                "source_type": "record",
                "source_id": request.subject_id,
                "page": 0,
                "child_id": request.subject_id if request.subject_is_child else None,
                "record_date": None,
                "title": "The structured record",
                "text": record_text,
                "text_hash": hashlib.sha256(record_text.encode()).hexdigest(),
            }
        ],
        schema=ITEM_SCHEMA,
    )
    items = kept.with_columns(ITEM_ID, pl.col("page").cast(pl.Int32)).select(list(ITEM_SCHEMA))
    ordered = items.sort(["record_date", "source_type", "source_id", "page"], nulls_last=True)
    spans_frame = pl.DataFrame(
        [{"item_id": record_key, **span} for span in spans], schema=RECORD_SPAN_SCHEMA, orient="row"
    )
    return Compiled(pl.concat([record, ordered]), spans_frame, texts.height - kept.height, restricted.height)


def _texts_mentioning(lake: Lake, person_id: str) -> pl.DataFrame:
    """The text items with a mention resolved to ``person_id`` (an adult's own records are those that name them)."""
    links, mentions = lake.scan(ENTERPRISE, MENTION_PERSON), lake.scan(ENTERPRISE, MENTIONS)
    if links is None or mentions is None:
        return text_items(lake, [])
    keys = (
        links.filter(pl.col("resolved_person_id") == person_id)
        .select("mention_id")
        .join(mentions.select("mention_id", "source_type", "source_id", "page", "child_id"), on="mention_id")
        .select("source_type", "source_id", pl.col("page").cast(pl.Int32), "child_id")
        .unique()
        .collect()
    )
    if keys.is_empty():
        return text_items(lake, [])
    items = text_items(lake, sorted(set(keys["child_id"])))
    return items.join(keys.select("source_type", "source_id", "page"), on=["source_type", "source_id", "page"])


def _dates_and_titles(lake: Lake) -> pl.DataFrame:
    """source_type, source_id -> record_date, title, for the three kinds of text (their dates and titles only: the
    texts themselves are not read again)."""
    shapes = {
        "case_note": (
            pl.lit("case_note").alias("source_type"),
            pl.col("note_id").alias("source_id"),
            pl.col("event_date").cast(pl.Date, strict=False).alias("record_date"),
            pl.concat_str(pl.lit("Case note: "), pl.col("note_type").fill_null("note")).alias("title"),
        ),
        "form_response": (
            pl.lit("form_answer").alias("source_type"),
            pl.concat_str("form_id", pl.lit(":"), "question_code").alias("source_id"),
            pl.col("form_date").cast(pl.Date, strict=False).alias("record_date"),
            pl.concat_str(pl.col("form_type").fill_null("Form"), pl.lit(": "), pl.col("question").fill_null(""))
            .str.slice(0, 120)
            .alias("title"),
        ),
        "document": (
            pl.lit("document_page").alias("source_type"),
            pl.col("document_id").alias("source_id"),
            pl.col("created_date").cast(pl.Date, strict=False).alias("record_date"),
            pl.concat_str(pl.lit("Document: "), pl.col("title").fill_null(pl.col("document_type"))).alias("title"),
        ),
    }
    frames = [
        scan.filter(pl.col("_deleted_at").is_null()).select(*columns)
        for table, columns in shapes.items()
        if (scan := lake.scan(ENTERPRISE, table)) is not None
    ]
    if not frames:
        return pl.DataFrame(
            schema={"source_type": pl.String, "source_id": pl.String, "record_date": pl.Date, "title": pl.String}
        )
    return pl.concat(pl.collect_all(frames)).unique(["source_type", "source_id"], keep="first")


def structured_record(lake: Lake, person_id: str) -> tuple[str, list[dict]]:
    """The subject's structured record as text, with the spans of every name and address written into it (and
    whose each is), so that the proposals treat it like any other text."""
    lines: list[str] = []
    spans: list[dict] = []
    length = 0

    def add(parts: list[tuple[str, str | None, str | None]]) -> None:
        nonlocal length
        for text, label, owner in parts:
            if label and text:
                spans.append(
                    {"start": length, "end": length + len(text), "text": text, "label": label, "person_id": owner}
                )
            length += len(text)
        lines.append("".join(t for t, _, _ in parts))
        length += 1  # the line break

    people = live_table(lake, "person")
    person = people.filter(pl.col("person_id") == person_id) if people.height else people
    if not person.is_empty():
        p = person.row(0, named=True)
        name = " ".join(x for x in (p.get("first_name"), p.get("middle_name"), p.get("surname")) if x)
        add([("Name: ", None, None), (name, "person", person_id)])
        if p.get("dob"):
            add([("Date of birth: ", None, None), (str(p["dob"]), "date", person_id)])
        for column, label in (("phone", "phone"), ("email", "email")):
            if p.get(column):
                add([(f"{column.capitalize()}: ", None, None), (str(p[column]), label, person_id)])
    names = live_table(lake, "person_name").filter(pl.col("person_id") == person_id)
    for n in names.sort("name_seq").iter_rows(named=True) if not names.is_empty() else []:
        held = " ".join(x for x in (n.get("first_name"), n.get("surname")) if x)
        add(
            [
                ("Name held from ", None, None),
                (str(n.get("valid_from") or "?"), None, None),
                (": ", None, None),
                (held, "person", person_id),
            ]
        )
    addresses = live_table(lake, "person_address").filter(pl.col("person_id") == person_id)
    for a in addresses.sort("valid_from").iter_rows(named=True) if not addresses.is_empty() else []:
        parts: list[tuple[str, str | None, str | None]] = [
            ("Address from ", None, None),
            (f"{a.get('valid_from') or '?'}: ", None, None),
        ]
        street = ", ".join(x for x in (a.get("line1"), a.get("town")) if x)
        if street:
            parts.append((street, "address", person_id))
        if a.get("postcode"):
            parts += [(", ", None, None), (a["postcode"], "postcode", person_id)]
        add(parts)
    relations = live_table(lake, "relationship")
    if not relations.is_empty() and not people.is_empty():
        around = relations.filter((pl.col("child_id") == person_id) | (pl.col("person_id") == person_id))
        for r in around.sort("relationship_id").iter_rows(named=True):
            other = r["person_id"] if r["child_id"] == person_id else r["child_id"]
            found = people.filter(pl.col("person_id") == other)
            if found.is_empty():
                continue
            o = found.row(0, named=True)
            other_name = " ".join(x for x in (o.get("first_name"), o.get("surname")) if x)
            word = r["relation"] if r["child_id"] == person_id else f"child (you are their {r['relation']})"
            add([(f"Relationship: {word}: ", None, None), (other_name, "person", other)])
    kinds = {"CIN": "Child in need", "CP": "Child protection plan", "CLA": "Looked after"}
    episodes = live_table(lake, "episode")
    if not episodes.is_empty():
        for e in episodes.filter(pl.col("child_id") == person_id).sort("start_date").iter_rows(named=True):
            add(
                [
                    (
                        f"{kinds.get(e['kind'], e['kind'])}: {e.get('start_date')} to {e.get('end_date') or 'open'}",
                        None,
                        None,
                    )
                ]
            )
    placements = live_table(lake, "placement")
    if not placements.is_empty():
        for e in placements.filter(pl.col("child_id") == person_id).sort("start_date").iter_rows(named=True):
            parts = [(f"Placement: {e.get('start_date')} to {e.get('end_date') or 'open'}", None, None)]
            if e.get("placement_postcode"):
                # where a child was placed is the carers' address: a third party's (and for a parent, a possible harm)
                parts += [(", at ", None, None), (str(e["placement_postcode"]), "postcode", None)]
            add(parts)
    return "\n".join(lines), spans
