"""Proposed redactions: every mention in the bundle judged by who it is to the request.

A mention of a person (a name, or a kinship word such as "her sister") takes the person resolution gave it
(``enterprise/person_mention``), and that person's standing (:class:`Standing`): the subject and the requester are
kept, a professional acting in role is kept, another child is always redacted (OC), anyone else is a third party
(TP for a name, TPK for a kinship word). A name resolution could not place is a third party, proposed for review
with a low confidence. A contact detail (address, postcode, phone, e-mail) is kept only where it is the subject's
or the requester's as recorded; a professional's is redacted (PC), anyone else's too (TPC). A date written after
"DOB" or "born" is a date of birth, and goes with its person's standing. Sentences a person must decide on (what a
child said in confidence when a parent asks, what could cause serious harm) are flagged for review.

Every proposal carries its reason code, confidence and evidence (the resolution's method and probability).
"""

from __future__ import annotations

import re
from functools import cache, cached_property

import polars as pl

from lake.disclosure.bundle import RECORD_SPAN_SCHEMA, Compiled, DisclosureRequest, live_table
from lake.disclosure.rules import (
    CONTACT_LABELS,
    DOB_CUE,
    NAME_LABELS,
    Action,
    Standing,
    flagged_sentences,
    normalised,
)
from lake.entities.gazetteer import NOT_NAMES
from lake.entities.items import MENTIONS
from lake.entities.kinship import KIN_WORDS, kin_relation
from lake.entities.resolution import MENTION_PERSON, RESOLVED, alias_groups
from lake.storage.delta import ENTERPRISE, Lake

PROPOSAL_SCHEMA = {
    "request_id": pl.String,
    "proposal_id": pl.String,
    "item_id": pl.String,
    "start": pl.Int64,
    "end": pl.Int64,
    "text": pl.String,
    "label": pl.String,
    "person_id": pl.String,
    "standing": pl.String,
    "reason": pl.String,
    "action": pl.String,
    "confidence": pl.Float64,
    "evidence": pl.String,
}
# How sure a proposal is: a recorded person the resolution matched, a pattern-found contact detail, a professional
# named beside their role word are sure; an unresolved name is not, and goes to review first.
REVIEW_BELOW = 0.6
WORKER_RELATION = "social worker"


class People:
    """Who each resolved person is to one request: built once per request from the lake's people and workers."""

    def __init__(self, lake: Lake, request: DisclosureRequest) -> None:
        self.request = request
        self.lake = lake
        resolved = lake.read(ENTERPRISE, RESOLVED)
        self.resolved = (
            {r["resolved_person_id"]: r for r in resolved.iter_rows(named=True)} if resolved is not None else {}
        )
        persons, workers = live_table(lake, "person"), live_table(lake, "worker")
        self._persons, self._workers = persons, workers
        self.children = set(persons.filter(pl.col("person_type") == "child")["person_id"]) if persons.height else set()
        self.workers = set(workers["worker_id"]) if workers.height else set()
        self.worker_contacts = (
            {normalised(str(v)) for c in ("phone", "email") for v in workers[c].drop_nulls()}
            if workers.height
            else set()
        )
        self.own_contacts = _recorded_contacts(lake, persons, {request.subject_id, request.requester_id})
        # Whom a kinship word the resolution left unlinked names, per child: "Mum" in a child's records is the
        # subject (or the requester) when they are that child's recorded mother.
        relations = live_table(lake, "relationship")
        self.relatives = relations
        self.kin: dict[str, dict[str, Standing]] = {}
        for who, standing in ((request.requester_id, Standing.REQUESTER), (request.subject_id, Standing.SUBJECT)):
            mine = relations.filter(pl.col("person_id") == who) if relations.height else relations
            for child, relation in mine.select("child_id", "relation").iter_rows() if mine.height else []:
                word = kin_relation(relation) or relation
                self.kin.setdefault(child, {})[word] = standing

    @cached_property
    def _names(self) -> pl.DataFrame:
        """person_id, name: every first name and surname the lake records for a person, now or before."""
        history = live_table(self.lake, "person_name")
        frames = [
            f.select("person_id", pl.col(c).alias("name"))
            for f in (self._persons, history)
            if f.height
            for c in ("first_name", "surname")
        ]
        return (
            pl.concat(frames).drop_nulls().unique()
            if frames
            else pl.DataFrame(schema={"person_id": pl.String, "name": pl.String})
        )

    def _tokens_of(self, person_ids: set[str]) -> set[tuple[str, str]]:
        names = self._names.filter(pl.col("person_id").is_in(sorted(person_ids)))
        out = set()
        for person, name in names.iter_rows():
            for token in _TOKEN.findall(name):
                out.add((person, token))
                out |= {(person, alias) for alias in name_aliases().get(token.lower(), ())}
        return out

    @cached_property
    def kept_tokens(self) -> set[str]:
        """The words of the subject's, the requester's and every worker's names (and their nicknames)."""
        kept = {t for _, t in self._tokens_of({self.request.subject_id, self.request.requester_id})}
        workers = self._workers
        for column in ("first_name", "surname"):
            for name in workers[column].drop_nulls() if workers.height else []:
                kept |= set(_TOKEN.findall(name))
        return kept

    def recorded_names_around(self, children: set[str]) -> set[tuple[str, str]]:
        """(person, word) for the names recorded for the children and everyone related to them."""
        around = set(children)
        if self.relatives.height:
            around |= set(self.relatives.filter(pl.col("child_id").is_in(sorted(children)))["person_id"])
        return self._tokens_of(around)

    def kin_standing(self, child_id: str | None, word: str) -> Standing | None:
        """The subject's or requester's standing when ``word`` names their relation to ``child_id``."""
        relation = kin_relation(word) or KIN_WORDS.get(word.lower().strip())
        return self.kin.get(child_id or "", {}).get(relation) if relation else None

    def standing(self, person_id: str | None) -> Standing:
        if person_id is None:
            return Standing.UNKNOWN
        if person_id == self.request.subject_id:
            return Standing.SUBJECT
        if person_id == self.request.requester_id:
            return Standing.REQUESTER
        if person_id in self.workers:
            return Standing.PROFESSIONAL
        if person_id in self.children:
            return Standing.OTHER_CHILD
        row = self.resolved.get(person_id) or {}
        relations = set(row.get("relation") or [])
        role = row.get("mentioned_role") or ""
        family = relations - {WORKER_RELATION}
        if not family and (WORKER_RELATION in relations or role == WORKER_RELATION or role.startswith("professional:")):
            return Standing.PROFESSIONAL
        return Standing.THIRD_PARTY

    def owns_contact(self, text: str) -> bool:
        key = normalised(text)
        return bool(key) and any(key == own or (len(own) >= 6 and own in key) for own in self.own_contacts)


@cache
def name_aliases() -> dict[str, tuple[str, ...]]:
    """name (lower case) -> the names written for the same person (``Charles`` -> Charlie, Chuck, Chas...), from
    the resolution's own list."""
    groups: dict[int, set[str]] = {}
    for name, ids in alias_groups().items():
        for i in ids:
            groups.setdefault(i, set()).add(name)
    out: dict[str, set[str]] = {}
    for members in groups.values():
        for name in members:
            out.setdefault(name, set()).update(m.capitalize() for m in members if m != name)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def _recorded_contacts(lake: Lake, persons: pl.DataFrame, person_ids: set[str]) -> set[str]:
    """The recorded phones, e-mails (``persons``: the live person table), address first lines and postcodes of
    ``person_ids``, normalised."""
    found: set[str] = set()
    if persons.height:
        mine = persons.filter(pl.col("person_id").is_in(list(person_ids)))
        for column in ("phone", "email"):
            found |= {normalised(str(v)) for v in mine[column].drop_nulls()}
    addresses = live_table(lake, "person_address")
    if addresses.height:
        mine = addresses.filter(pl.col("person_id").is_in(list(person_ids)))
        for column in ("line1", "postcode"):
            found |= {normalised(str(v)) for v in mine[column].drop_nulls()}
    return {f for f in found if f}


def item_mentions(lake: Lake, compiled: Compiled) -> pl.DataFrame:
    """The entity mentions of the compiled items with the person each resolved to (and how), plus the record
    item's own spans: item_id, start, end, text, label, person_id, probability, method."""
    schema = {**RECORD_SPAN_SCHEMA, "probability": pl.Float64, "method": pl.String}
    frames = [
        compiled.record_spans.with_columns(pl.lit(1.0).alias("probability"), pl.lit("record").alias("method")).select(
            list(schema)
        )
    ]
    mentions = lake.scan(ENTERPRISE, MENTIONS)
    texts = compiled.items.filter(pl.col("source_type") != "record")
    if mentions is not None and texts.height:
        keys = texts.select("item_id", "source_type", "source_id", "page")
        children = [c for c in texts["child_id"].unique().to_list() if c]
        found = (
            mentions.filter(pl.col("child_id").is_in(children))
            .select(
                "mention_id", "source_type", "source_id", pl.col("page").cast(pl.Int32), "start", "end", "text", "label"
            )
            .collect()
            .join(keys, on=["source_type", "source_id", "page"])
        )
        links = lake.read(ENTERPRISE, MENTION_PERSON)
        if links is not None and links.height:
            found = found.join(
                links.select(
                    "mention_id",
                    pl.col("resolved_person_id").alias("person_id"),
                    pl.col("match_probability").alias("probability"),
                    "method",
                ),
                on="mention_id",
                how="left",
            )
        else:
            found = found.with_columns(
                pl.lit(None, pl.String).alias("person_id"),
                pl.lit(None, pl.Float64).alias("probability"),
                pl.lit(None, pl.String).alias("method"),
            )
        frames.append(
            found.with_columns(pl.col("start").cast(pl.Int64), pl.col("end").cast(pl.Int64)).select(list(schema))
        )
    return pl.concat(frames).sort(["item_id", "start"])


def propose(lake: Lake, request: DisclosureRequest, compiled: Compiled) -> pl.DataFrame:
    """One row per judged span (see the module docstring): redact, keep or review, with reason and evidence."""
    people = People(lake, request)
    mentions = item_mentions(lake, compiled)
    text_of = dict(zip(compiled.items["item_id"], compiled.items["text"], strict=True))
    child_of = dict(zip(compiled.items["item_id"], compiled.items["child_id"], strict=True))
    rows: list[dict] = []
    for (item,), group in mentions.group_by(["item_id"], maintain_order=True):
        spans = group.to_dicts()
        text = text_of.get(item, "")
        for i, m in enumerate(spans):
            judged = _judge(m, spans[:i], text, people, child_of.get(item))
            if judged is not None:
                rows.append({"item_id": item, **_span(m), **judged})
    rows += second_pass(rows, text_of, child_of, people)
    for item, text in text_of.items():
        for start, end, reason in flagged_sentences(text, request.requester_is_parent):
            rows.append(
                {
                    "item_id": item,
                    "start": start,
                    "end": end,
                    "text": text[start:end],
                    "label": "sentence",
                    "person_id": None,
                    "standing": None,
                    "reason": reason,
                    "action": Action.REVIEW.value,
                    "confidence": 0.5,
                    "evidence": "a sentence for a person to decide on (cue words)",
                }
            )
    frame = pl.DataFrame(
        rows, schema={k: v for k, v in PROPOSAL_SCHEMA.items() if k not in ("request_id", "proposal_id")}
    )
    return (
        frame.sort(["item_id", "start", "end"])
        .with_columns(
            pl.lit(request.request_id).alias("request_id"),
            pl.concat_str(
                pl.lit(request.request_id),
                pl.lit("|"),
                "item_id",
                pl.lit("|"),
                pl.col("start").cast(pl.String),
                pl.lit("-"),
                pl.col("end").cast(pl.String),
                pl.lit("|"),
                pl.col("reason").fill_null("KEEP"),
            ).alias("proposal_id"),
        )
        .unique("proposal_id", keep="first", maintain_order=True)
        .select(list(PROPOSAL_SCHEMA))
    )


_TOKEN = re.compile(r"[A-Z][a-zA-Z'’\-]{2,}")


def second_pass(
    rows: list[dict], text_of: dict[str, str], child_of: dict[str, str | None], people: People
) -> list[dict]:
    """What the mentions missed, found over the whole bundle (a name the model found in one note and missed in the
    next is still a name): every other place a third party's name is written (a name withheld elsewhere in the
    bundle, or recorded for someone around the bundle's children with its nicknames), and every kinship word
    that does not name the subject or the requester. Words of a kept person's names are never swept."""
    kept = set(people.kept_tokens)
    withheld: dict[str, tuple[str, str | None]] = {}  # token -> (reason, person)
    for r in rows:
        if r["label"] == "person" and r["action"] != Action.KEEP.value and r["reason"] in ("TP", "OC"):
            for token in _TOKEN.findall(r["text"]):
                withheld.setdefault(token, (r["reason"], r["person_id"]))
        elif r["label"] == "person" and r["action"] == Action.KEEP.value:
            kept |= set(_TOKEN.findall(r["text"]))
    children = {c for c in child_of.values() if c}
    for person, token in people.recorded_names_around(children):
        standing = people.standing(person)
        if standing in (Standing.THIRD_PARTY, Standing.OTHER_CHILD):
            withheld.setdefault(token, ("OC" if standing is Standing.OTHER_CHILD else "TP", person))
    names = sorted((t for t in withheld if t not in kept and t.lower() not in NOT_NAMES), key=len, reverse=True)
    name_pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b") if names else None
    taken: dict[str, list[tuple[int, int]]] = {}
    for r in rows:
        taken.setdefault(r["item_id"], []).append((r["start"], r["end"]))
    found = []
    for item, text in text_of.items():
        spans = taken.get(item, [])

        def free(start: int, end: int, spans=spans) -> bool:
            return not any(s < end and start < e for s, e in spans)

        for m in name_pattern.finditer(text) if name_pattern else ():
            if free(m.start(), m.end()):
                reason, person = withheld[m.group(0)]
                found.append(
                    {"item_id": item, "start": m.start(), "end": m.end(), "text": m.group(0), "label": "person"}
                    | _row(
                        person,
                        Standing.THIRD_PARTY if reason == "TP" else Standing.OTHER_CHILD,
                        reason,
                        Action.REDACT,
                        0.6,
                        "the same name withheld elsewhere in the bundle, or recorded for them",
                    )
                )
                spans.append((m.start(), m.end()))
        for m in _KIN_PATTERN.finditer(text):
            if not free(m.start(), m.end()) or people.kin_standing(child_of.get(item), m.group(0)) is not None:
                continue
            found.append(
                {"item_id": item, "start": m.start(), "end": m.end(), "text": m.group(0), "label": "kinship_role"}
                | _row(None, Standing.UNKNOWN, "TPK", Action.REVIEW, 0.4, "a kinship word the extraction did not mark")
            )
            spans.append((m.start(), m.end()))
    return found


_KIN_PATTERN = re.compile(
    r"\b(?:(?:birth|step|foster|maternal|paternal|older|younger|half|big|little)[\s-])?(?:"
    + "|".join(sorted(map(re.escape, KIN_WORDS), key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)


def _span(m: dict) -> dict:
    return {"start": int(m["start"]), "end": int(m["end"]), "text": m["text"], "label": m["label"]}


def _judge(m: dict, before: list[dict], text: str, people: People, child: str | None) -> dict | None:
    label, person = m["label"], m.get("person_id")
    probability = m.get("probability")
    evidence = f"{m.get('method') or 'unresolved'}" + (f", p={probability:.2f}" if probability is not None else "")
    if label in NAME_LABELS:
        standing = people.standing(person)
        if standing is not Standing.UNKNOWN and standing is not Standing.PROFESSIONAL and _after_role(m, before):
            # a name right after a role word ("PC Hughes", "HV Tracey") is the professional, whoever it resolved to,
            # unless it is the subject, the requester or someone recorded in the family
            if standing is Standing.THIRD_PARTY and not (people.resolved.get(person) or {}).get("recorded"):
                standing = Standing.PROFESSIONAL
        elif standing is Standing.UNKNOWN and _after_role(m, before):
            standing = Standing.PROFESSIONAL
        elif standing is Standing.UNKNOWN and label == "kinship_role":
            named = people.kin_standing(child, m["text"])
            if named is not None:
                # "Mum" unlinked, in the records of a child whose mother asked (or is the subject): the word names her
                return _row(None, named, None, Action.KEEP, 0.7, f"the word names the {named.value}'s relation")
        return _by_standing(standing, label, person, probability, evidence)
    if label in CONTACT_LABELS:
        if people.owns_contact(m["text"]):
            return None  # the subject's or the requester's own: kept, nothing to decide
        if normalised(m["text"]) in people.worker_contacts:
            return _row(person, None, "PC", Action.REDACT, 0.9, "a worker's recorded contact detail")
        return _row(
            person, Standing.THIRD_PARTY, "TPC", Action.REDACT, 0.9, "not the subject's or requester's as recorded"
        )
    if label == "date" and DOB_CUE.search(text[max(0, int(m["start"]) - 16) : int(m["start"])]):
        owner = person if m.get("method") == "record" else _nearest_person(before)
        standing = people.standing(owner)
        if standing in (Standing.SUBJECT, Standing.REQUESTER):
            return None
        confidence = 0.9 if owner else 0.5
        return _row(
            owner,
            standing,
            "TPC",
            Action.REDACT if confidence >= REVIEW_BELOW else Action.REVIEW,
            confidence,
            "a date of birth (written after DOB or born)",
        )
    return None


def _by_standing(
    standing: Standing, label: str, person: str | None, probability: float | None, evidence: str
) -> dict | None:
    if standing in (Standing.SUBJECT, Standing.REQUESTER, Standing.PROFESSIONAL):
        return _row(person, standing, None, Action.KEEP, probability if probability is not None else 0.5, evidence)
    if standing is Standing.OTHER_CHILD:
        return _row(person, standing, "OC", Action.REDACT, 0.95, evidence)
    reason = "TPK" if label == "kinship_role" else "TP"
    confidence = probability if probability is not None else 0.3
    if standing is Standing.UNKNOWN:
        confidence = min(confidence, 0.3)
    action = Action.REDACT if confidence >= REVIEW_BELOW else Action.REVIEW
    return _row(person, standing, reason, action, confidence, evidence)


def _row(
    person: str | None, standing: Standing | None, reason: str | None, action: Action, confidence: float, evidence: str
) -> dict:
    return {
        "person_id": person,
        "standing": standing.value if standing else None,
        "reason": reason,
        "action": action.value,
        "confidence": round(float(confidence), 3),
        "evidence": evidence,
    }


def _after_role(m: dict, before: list[dict]) -> bool:
    """A professional role mention ends within two characters before this one ("PC" + "Dave Hill")."""
    return any(b["label"] == "professional_role" and 0 <= int(m["start"]) - int(b["end"]) <= 2 for b in before[-3:])


def _nearest_person(before: list[dict]) -> str | None:
    for b in reversed(before[-4:]):
        if b["label"] == "person":
            return b.get("person_id")
    return None


def redactions(proposals: pl.DataFrame, decisions: pl.DataFrame | None = None) -> pl.DataFrame:
    """The spans the export removes: proposals to redact or review, less those a decision keeps, plus the proposals
    to keep that a decision redacts (code MAN). ``decisions``: proposal_id, decision (redact | keep), the latest
    per proposal."""
    out = proposals.filter(pl.col("action").is_in([Action.REDACT.value, Action.REVIEW.value]))
    if decisions is None or decisions.is_empty():
        return out
    kept = decisions.filter(pl.col("decision") == Action.KEEP.value)["proposal_id"]
    redacted = decisions.filter(pl.col("decision") == Action.REDACT.value)["proposal_id"]
    out = out.filter(~pl.col("proposal_id").is_in(kept.implode()))
    overridden = proposals.filter(
        pl.col("proposal_id").is_in(redacted.implode()) & (pl.col("action") == Action.KEEP.value)
    )
    return pl.concat([out, overridden.with_columns(pl.lit("MAN").alias("reason"))]).sort(["item_id", "start"])
