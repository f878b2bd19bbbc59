"""Regular-form entities (postcodes, phones, e-mails, NHS numbers, dates) by patterns and phonenumbers,
on crafted text and measured against the synthetic council's truth."""

from __future__ import annotations

import polars as pl

from evaluation.scoring import span_scores
from lake.contracts.sources import SOURCES
from lake.entities.patterns import find_all, find_dates, find_nhs_numbers, find_phones, find_postcodes

TEXT = (
    "Visited Jo at 12 Holme Close, Beverley, HU17 9BA on Saturday 21 December; mum's mobile is 07700 900123 "
    "and the GP on +44 113 496 0273. Email jo.brown@example.org. NHS number 943 476 5919. Reviewed on "
    "21/12/2025, 3.1.26 and 4th Jan 2026. Not a postcode: HU17 9CI. Not a phone: 2024. Not an NHS number: "
    "123 456 7890."
)


def _texts(found) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in found:
        out.setdefault(m.label, []).append(m.text)
        assert TEXT[m.start : m.end] == m.text, "every span matches its source text"
    return out


def test_each_regular_form_is_found_with_its_exact_span():
    found = _texts(find_all(TEXT))
    assert found["postcode"] == ["HU17 9BA"]
    assert found["phone"] == ["07700 900123", "+44 113 496 0273"]
    assert found["email"] == ["jo.brown@example.org"]
    assert found["nhs_number"] == ["943 476 5919"]
    assert found["date"] == ["Saturday 21 December", "21/12/2025", "3.1.26", "4th Jan 2026"]


def test_near_misses_are_not_found():
    assert [m.text for m in find_postcodes("HU17 9CI and ZZ1 1ZZ")] == []  # C and I never end a postcode
    assert find_phones("in 2024, on 21/12/2025") == []
    assert find_nhs_numbers("123 456 7890") == []  # fails the modulus-11 check
    assert find_dates("32/13/2025 and 1/2") == []


def test_patterns_score_above_0_99_f1_per_label_on_the_councils_case_notes(council):
    extract = council.out / "landing" / "liquidlogic" / "2026-11-01"
    ll = SOURCES["liquidlogic"]
    notes = pl.read_csv(extract / f"{ll.table('case_note')}.csv", infer_schema=False, encoding="utf8-lossy")
    rows = [
        {"source_id": note_id, "start": m.start, "end": m.end, "label": m.label}
        for note_id, text in notes.select(
            ll.column("case_note", "note_id"), ll.column("case_note", "note_text")
        ).iter_rows()
        for m in find_all(text or "")
    ]
    truth = pl.read_parquet(council.out / "truth" / "mentions.parquet").filter(
        (pl.col("source_type") == "case_note") & pl.col("label").is_in(["postcode", "phone", "email", "date"])
    )
    scores = span_scores(pl.DataFrame(rows), truth)
    by_label = {r["label"]: r for r in scores.iter_rows(named=True)}
    for label in ("postcode", "phone", "email", "date"):
        assert by_label[label]["true"] > 10, label
        assert by_label[label]["f1"] >= 0.99, by_label[label]


def test_span_scores_count_only_exact_spans_with_the_right_label():
    truth = pl.DataFrame(
        {"source_id": ["n1", "n1", "n2"], "start": [0, 10, 0], "end": [5, 15, 4], "label": ["date", "phone", "date"]}
    )
    predicted = pl.DataFrame(
        {"source_id": ["n1", "n1", "n2"], "start": [0, 10, 0], "end": [5, 14, 4], "label": ["date", "phone", "email"]}
    )
    scores = {r["label"]: r for r in span_scores(predicted, truth).iter_rows(named=True)}
    assert scores["date"]["tp"] == 1 and scores["date"]["recall"] == 0.5 and scores["date"]["precision"] == 1.0
    assert scores["phone"]["tp"] == 0 and scores["email"]["precision"] == 0.0
    assert scores["micro"]["tp"] == 1 and round(scores["micro"]["f1"], 4) == round(1 / 3, 4)
