"""``caselake eval disclosure``: proposed redactions scored against the synthetic truth (issue 39).

The truth knows every mention's person and every contact detail's owner, and who each person is (a child, a
recorded relative, a worker or a professional named by their job: ``persons.parquet``'s ``professional_role``).
For each request (a care leaver asking for their own file, a mother asking for her child's, a mother asking
for her own) it says which spans must go and which must stay:

- **third-party names**: a name or kinship word whose person is neither the subject, the requester nor a
  professional must go (another child's too);
- **contact details**: an address, postcode, phone, e-mail or date of birth whose owner is anyone but the
  subject or the requester must go;
- **professionals kept**: a professional's name must stay;
- **own kept**: the subject's and the requester's names and details must stay. A contact detail the truth gives
  to someone else but that the extract also records for the subject or the requester (the household's address,
  which a mother shares with her child) counts as theirs: the generator writes one owner for it.

A must-go span counts as removed only when every letter and digit of it is inside a redaction; a must-stay span
counts as kept only when none of it is. Precision for names is over the redactions (TP, TPK, OC) that overlap
any true mention. F2 (recall weighted, as presidio-research scores) is over names and contact details together.
The same is computed for a **kind-of-text baseline** on the same bundle: redact every person name, kinship word
and contact detail the extraction found, whoever it is ("what Presidio does"). Scored only on texts whose offsets
are the truth's (case notes, form answers, born-digital pages; an OCRed page's offsets differ).
"""

from __future__ import annotations

import itertools
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from evaluation.entities import scorable_items
from lake.disclosure.bundle import DisclosureRequest, RequestError, compile_items, new_request
from lake.disclosure.propose import People, item_mentions, propose, redactions
from lake.disclosure.rules import CONTACT_LABELS, NAME_LABELS
from lake.entities.items import ITEM_ID, text_items
from lake.progress import Progress, no_progress
from lake.storage.delta import ENTERPRISE, Lake

KINDS = ("care leaver", "child via a parent", "adult")
CLASSES = ("third-party names", "contact details", "professionals kept", "own kept")
REASONS_NAMES = ("TP", "TPK", "OC")


@dataclass
class Counts:
    must_go: int = 0
    removed: int = 0
    must_stay: int = 0
    kept: int = 0
    predicted: int = 0  # name redactions overlapping a true mention
    predicted_right: int = 0


@dataclass
class DisclosureScores:
    requests: list[dict] = field(default_factory=list)  # subject, requester, kind, items, proposals, seconds
    ours: dict[str, Counts] = field(default_factory=dict)
    baseline: dict[str, Counts] = field(default_factory=dict)
    items_scored: int = 0
    items_total: int = 0
    label: str = ""

    def table(self) -> dict[str, dict[str, float | None]]:
        return {"caselake": _figures(self.ours), "kind-of-text baseline": _figures(self.baseline)}


def _figures(counts: dict[str, Counts]) -> dict[str, float | None]:
    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    names, contacts = counts["third-party names"], counts["contact details"]
    recall = ratio(names.removed + contacts.removed, names.must_go + contacts.must_go)
    precision = ratio(names.predicted_right, names.predicted)
    f2 = (
        round(5 * precision * recall / (4 * precision + recall), 4)
        if precision is not None and recall is not None and (precision or recall)
        else None
    )
    return {
        "names recall": ratio(names.removed, names.must_go),
        "names precision": precision,
        "contact recall": ratio(contacts.removed, contacts.must_go),
        "professionals kept": ratio(counts["professionals kept"].kept, counts["professionals kept"].must_stay),
        "own kept": ratio(counts["own kept"].kept, counts["own kept"].must_stay),
        "F2": f2,
    }


def choose_requests(lake: Lake, count: int, received) -> list[tuple[str, DisclosureRequest]]:
    """``count`` requests, the three kinds in turn over the children with a recorded mother, in id order."""
    children = lake.read(ENTERPRISE, "child")
    relations = lake.read(ENTERPRISE, "relationship")
    if children is None or relations is None:
        return []
    mothers = dict(
        relations.filter((pl.col("relation") == "mother") & pl.col("_deleted_at").is_null())
        .select("child_id", "person_id")
        .unique("child_id", keep="first")
        .iter_rows()
    )
    chosen = []
    kinds = itertools.cycle(KINDS)
    for child in sorted(set(children["person_id"]) & set(mothers)):
        kind = next(kinds)
        subject, requester = {
            "care leaver": (child, child),
            "child via a parent": (child, mothers[child]),
            "adult": (mothers[child], mothers[child]),
        }[kind]
        try:
            chosen.append((kind, new_request(lake, subject, requester, received)))
        except RequestError:
            continue
        if len(chosen) == count:
            break
    return chosen


def truth_standing(truth: pl.DataFrame, persons: pl.DataFrame, request: DisclosureRequest) -> pl.DataFrame:
    """The truth's mentions with their person's standing to the request (subject, requester, professional,
    other_child, third_party)."""
    who = persons.select("person_id", "is_child", "professional_role")
    return truth.join(who, on="person_id", how="left").with_columns(
        pl.when(pl.col("person_id") == request.subject_id)
        .then(pl.lit("subject"))
        .when(pl.col("person_id") == request.requester_id)
        .then(pl.lit("requester"))
        .when(pl.col("professional_role").is_not_null())
        .then(pl.lit("professional"))
        .when(pl.col("is_child"))
        .then(pl.lit("other_child"))
        .otherwise(pl.lit("third_party"))
        .alias("standing")
    )


def _covered(spans: list[tuple[int, int]], start: int, end: int, text: str) -> tuple[bool, bool]:
    """(every letter and digit of text[start:end] is inside a span, any of it is)."""
    inside = [any(s <= i < e for s, e in spans) for i in range(start, end) if text[i].isalnum()]
    return (bool(inside) and all(inside)), any(inside)


def score_request(
    lake: Lake, request: DisclosureRequest, truth: pl.DataFrame, persons: pl.DataFrame, items_truth: pl.DataFrame
) -> tuple[dict[str, Counts], dict[str, Counts], dict]:
    """One request's counts for caselake and for the baseline, and what it was (items, proposals, seconds)."""
    started = time.perf_counter()
    compiled = compile_items(lake, request)
    proposals = propose(lake, request, compiled)
    seconds = time.perf_counter() - started
    ours = redactions(proposals)
    # the baseline redacts every name, kinship word and contact detail the same extraction found
    found = item_mentions(lake, compiled)
    baseline = found.filter(pl.col("label").is_in(list(NAME_LABELS | CONTACT_LABELS))).with_columns(
        pl.when(pl.col("label").is_in(list(NAME_LABELS))).then(pl.lit("TP")).otherwise(pl.lit("TPC")).alias("reason")
    )
    items = compiled.items.join(items_truth.select("item_id"), on="item_id", how="semi")
    true = truth_standing(truth.join(items.select("item_id"), on="item_id", how="semi"), persons, request)
    text_of = dict(zip(items["item_id"], items["text"], strict=True))
    shared = People(lake, request).owns_contact  # the addresses and numbers the extract records for them
    result = []
    for predicted in (ours, baseline):
        counts = {c: Counts() for c in CLASSES}
        spans_by_item: dict[str, list[tuple[int, int]]] = {}
        for row in predicted.iter_rows(named=True):
            spans_by_item.setdefault(row["item_id"], []).append((int(row["start"]), int(row["end"])))
        for t in true.iter_rows(named=True):
            text = text_of.get(t["item_id"])
            if text is None or t["person_id"] is None or text[t["start"] : t["end"]] != t["text"]:
                continue  # not a scorable text, or a span the truth marks where the text says otherwise
            label, standing = t["label"], t["standing"]
            if label in NAME_LABELS or (label in CONTACT_LABELS or label == "date"):
                whole, some = _covered(spans_by_item.get(t["item_id"], []), t["start"], t["end"], text)
                if label in CONTACT_LABELS and standing not in ("subject", "requester") and shared(t["text"]):
                    # the household's address, which the extract records for the subject or requester too: theirs
                    standing = "shared"
                if standing in ("subject", "requester", "shared"):
                    counts["own kept"].must_stay += 1
                    counts["own kept"].kept += not some
                elif label in NAME_LABELS and standing == "professional":
                    counts["professionals kept"].must_stay += 1
                    counts["professionals kept"].kept += not some
                else:
                    kind = "third-party names" if label in NAME_LABELS else "contact details"
                    counts[kind].must_go += 1
                    counts[kind].removed += whole
        # name precision: the name redactions that overlap a true mention, and whether that mention must go
        true_by_item: dict[str, list[dict]] = {}
        for t in true.filter(pl.col("label").is_in(list(NAME_LABELS))).iter_rows(named=True):
            if t["item_id"] in text_of and text_of[t["item_id"]][t["start"] : t["end"]] == t["text"]:
                true_by_item.setdefault(t["item_id"], []).append(t)
        for row in predicted.filter(pl.col("reason").is_in(list(REASONS_NAMES))).iter_rows(named=True):
            overlapping = [
                t for t in true_by_item.get(row["item_id"], []) if t["start"] < row["end"] and row["start"] < t["end"]
            ]
            if row["item_id"] not in text_of or not overlapping:
                continue
            counts["third-party names"].predicted += 1
            counts["third-party names"].predicted_right += any(
                t["standing"] in ("third_party", "other_child") for t in overlapping
            )
        result.append(counts)
    about = {
        "items": compiled.items.height,
        "items_scored": items.height,
        "proposals": proposals.height,
        "to_review": int((proposals["action"] == "review").sum()),
        "seconds": round(seconds, 2),
    }
    return result[0], result[1], about


def evaluate(
    lake: Lake, truth_dir: Path, requests: int = 20, label: str = "", progress: Progress = no_progress
) -> DisclosureScores:
    """Score ``requests`` requests (three kinds in turn) on a loaded lake against its council's truth."""
    import datetime as dt

    truth = pl.read_parquet(truth_dir / "mentions.parquet").with_columns(pl.col("page").fill_null(0).cast(pl.Int32))
    truth = truth.with_columns(ITEM_ID)
    persons = pl.read_parquet(truth_dir / "persons.parquet")
    if "professional_role" not in persons.columns:
        raise ValueError(f"{truth_dir} is a truth written before disclosure's columns: generate the council again")
    items_truth = scorable_items(text_items(lake), truth_dir).with_columns(ITEM_ID)
    scores = DisclosureScores(label=label)
    scores.ours = {c: Counts() for c in CLASSES}
    scores.baseline = {c: Counts() for c in CLASSES}
    chosen = choose_requests(lake, requests, dt.date(2026, 12, 1))
    for n, (kind, request) in enumerate(chosen):
        progress("requests", n, len(chosen))
        ours, base, about = score_request(lake, request, truth, persons, items_truth)
        for target, counts in ((scores.ours, ours), (scores.baseline, base)):
            for c in CLASSES:
                for f in Counts.__dataclass_fields__:
                    setattr(target[c], f, getattr(target[c], f) + getattr(counts[c], f))
        scores.requests.append(
            {"kind": kind, "subject": request.subject_id, "requester": request.requester_id, **about}
        )
        scores.items_scored += about["items_scored"]
        scores.items_total += about["items"]
    progress("requests", len(chosen), len(chosen))
    return scores


def evaluate_held_out(
    children: int = 30, seed: int = 2027, requests: int = 20, progress: Progress = no_progress
) -> DisclosureScores:
    """A council of the eval split (templates and name pools nothing was tuned on) generated, loaded through the
    real pipeline (documents, entities, people) and scored."""
    from evaluation.entities import load_generated_council

    with tempfile.TemporaryDirectory(prefix="caselake-disclosure-") as tmp:
        lake, truth_dir, _ = load_generated_council(Path(tmp), children, seed, "eval", 2.0, progress)
        return evaluate(
            lake, truth_dir, requests, f"held-out council (eval split, seed {seed}, {children} children)", progress
        )


def report(results: list[DisclosureScores]) -> str:
    lines = []
    for result in results:
        kinds = {k: sum(r["kind"] == k for r in result.requests) for k in KINDS}
        seconds = [r["seconds"] for r in result.requests]
        lines.append(
            f"{result.label}: {len(result.requests)} requests ({', '.join(f'{v} {k}' for k, v in kinds.items())}), "
            f"{result.items_scored} of {result.items_total} items scorable (OCRed pages are not), "
            f"compile+propose {max(seconds, default=0):.1f} s at most per request"
        )
        counts = result.ours
        lines.append("  spans: " + ", ".join(f"{c} {counts[c].must_go or counts[c].must_stay}" for c in CLASSES))
        table = result.table()
        columns = list(next(iter(table.values())))
        lines.append("  " + f"{'':24}" + "".join(f"{c:>20}" for c in columns))
        for who, figures in table.items():
            lines.append(
                "  " + f"{who:24}" + "".join(f"{'–' if v is None else f'{v:.3f}':>20}" for v in figures.values())
            )
    return "\n".join(lines)
