"""Hard scans through the real extractor (Tesseract, EasyOCR, the worker pool): one page of each kind of damage,
the handwriting flag, a page turned on its side, and a page no engine can read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.hard_scans import printed_text, score_page
from lake.documents.formats import ExtractionSettings
from lake.documents.ocr import HANDWRITTEN_MARK, UNREADABLE, UNREADABLE_MARK
from lake.documents.pipeline import extract_files
from synth.scans import ILLEGIBLE, KINDS, document_paragraphs, make_page

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hard_scans")]

SEED = 11  # the tuning part's seed: the tests hold behaviour, the held-out part is for the figures
# Worst printed CER a kind may read at on its test page: each is about 1.5 to 2 times what this page read at when
# the bound was set, so a reader that loses a step (deskew, orientation, stamp removal, border cleaning) fails here.
CER_BOUND = {
    "fax": 0.08,
    "photocopy": 0.25,
    "skew": 0.04,
    "rotated": 0.04,
    "low_contrast": 0.04,
    "jpeg": 0.05,
    "stamp": 0.05,
    "punched": 0.2,
    "form": 0.06,
    "margin_note": 0.04,
    "low_dpi_form": 0.25,
}


@pytest.fixture(scope="module")
def read_pages(tmp_path_factory):
    """One page of every kind, and an illegible one, read through the extraction pool as the asset reads them."""
    out = tmp_path_factory.mktemp("hard")
    sources = document_paragraphs(SEED, "train")
    pages = {}
    for i, kind in enumerate((*KINDS, ILLEGIBLE)):
        page = make_page(f"test-{kind}", kind, sources[i % len(sources)], "train", SEED)
        (out / page.file_name).write_bytes(page.data)
        pages[str(out / page.file_name)] = page
    council = out / "council-scan.png"
    council.write_bytes(_council_scan(COUNCIL_LINES))
    files = [Path(f) for f in pages] + [council]
    results = {r["file"]: r for r in extract_files(files, ExtractionSettings(), workers=2)}
    read = {page.kind: (page, results[f]) for f, page in pages.items()}
    read["council"] = (None, results[str(council)])
    return read


# A page of the council's own scans (synth.documents: 120 dpi, blur, speckle): CI once found the two-engine reader
# reading the speckle as stray punctuation through such pages.
COUNCIL_LINES = [
    "Safety Plan",
    "Child: Gerald Doherty, date of birth: 26/05/2020",
    "Address: 93 Victoria Lane, South Cave, HU15 2PH",
    "",
    "Safety plan reviewed with mum and maternal nan Lynne Bradshaw on 5 January 2023.",
    "If dad comes to the house Jemma Doherty (mother) will ring Kent Police on 999 and",
    "tell the social worker the next morning. The probation officer will check the plan",
    "with Mr Doherty at Cherry Tree Catholic Primary School every week.",
] * 4


def _council_scan(lines: list[str]) -> bytes:
    import io

    import numpy as np

    from synth.documents import render_page_image

    buf = io.BytesIO()
    render_page_image(lines, np.random.default_rng(SEED)).save(buf, "PNG")
    return buf.getvalue()


def test_the_councils_own_scans_read_within_their_goal_without_stray_marks(read_pages):
    _, result = read_pages["council"]
    read = result["pages"][0]
    truth = " ".join(" ".join(COUNCIL_LINES).split())
    scored = score_page(
        {"page_id": "council", "kind": "council", "printed": truth, "handwritten": "[]", "rotation": 0},
        read,
        result["seconds"],
    )
    cer = scored["edits"] / scored["truth_chars"]
    assert cer <= 0.015, (round(cer, 4), read["text"][:600])  # the generator's scans: goal ≤ 1.5% CER
    assert read["rotation"] == 0 and read["reading"] == "read", (read["reading"], read["flags"])


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_damage_reads_within_its_bound(read_pages, kind):
    page, result = read_pages[kind]
    assert "error" not in result, result
    read = result["pages"][0]
    scored = score_page(page.truth(), read, result["seconds"])
    cer = scored["edits"] / scored["truth_chars"]
    assert cer <= CER_BOUND[kind], (kind, round(cer, 4), read["text"][:400])
    assert read["ocr_confidence"] is not None and read["reading"] in ("read", "flagged")


def test_a_page_on_its_side_is_turned_upright(read_pages):
    page, result = read_pages["rotated"]
    assert page.rotation in (90, 180, 270)
    assert (page.rotation + result["pages"][0]["rotation"]) % 360 == 0, result["pages"][0]["rotation"]
    for kind in ("skew", "punched", "form"):  # and an upright page is left as it is
        assert read_pages[kind][1]["pages"][0]["rotation"] == 0


def test_a_handwritten_margin_note_is_flagged_not_passed_off_as_text(read_pages):
    page, result = read_pages["margin_note"]
    read = result["pages"][0]
    assert page.handwritten, "the margin-note page has a note"
    assert HANDWRITTEN_MARK in read["text"] and read["reading"] == "flagged"
    flags = [f for f in read["flags"] if f["kind"] == "handwritten"]
    scored = score_page(page.truth(), read, result["seconds"])
    assert scored["notes_flagged"] == len(page.handwritten), (flags, page.handwritten)
    assert scored["false_flags"] == 0
    for note in page.handwritten:  # the note's words are not in the text as if they were typed
        assert note["text"].lower() not in printed_text(read["text"]).lower()


def test_the_stamp_and_signature_are_taken_off_before_reading(read_pages):
    _, result = read_pages["stamp"]
    assert "RECEIVED" not in result["pages"][0]["text"]


def test_a_page_no_engine_can_read_is_recorded_as_unreadable_not_empty(read_pages):
    _, result = read_pages[ILLEGIBLE]
    read = result["pages"][0]
    assert read["reading"] == UNREADABLE and read["text"] == UNREADABLE_MARK


def test_the_truth_records_handwriting_boxes_on_the_upright_page():
    page = make_page("truth-check", "margin_note", document_paragraphs(SEED, "train")[0], "train", SEED)
    notes = json.loads(page.truth()["handwritten"])
    assert notes and all(0.6 < n["box"][0] < n["box"][2] <= 1.0 and 0 < n["box"][1] < n["box"][3] < 1 for n in notes)
