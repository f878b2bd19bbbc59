"""Documents to text, for real: docling, LibreOffice, pypdfium2 and EasyOCR on the files the synthetic
council writes, through the Dagster job, with the text compared against the generator's truth."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from evaluation import documents as text_quality
from lake.documents import pipeline as documents
from lake.documents.formats import ExtractionSettings, TextExtractor
from lake.documents.pipeline import Job, extract_documents, extract_files
from lake.ingest.landing import find_extracts
from lake.ingest.pipeline import QUARANTINE, land_extract, load_landing
from lake.storage.delta import Lake
from synth.council import generate
from tests.conftest import small_options

FAULT_REASON = {
    "zero_byte": "empty_file",
    "truncated": "corrupt",
    "password_pdf": "password_protected",
    "unsupported": "unsupported_format",
}

pytestmark = pytest.mark.slow


def test_the_dagster_job_reads_every_document_and_its_check_passes(read_council):
    assert any(line.startswith("documents: read") for line in read_council.lines), read_council.lines
    meta = read_council.text_metadata
    assert meta["documents_with_text"].value > 150
    assert meta["pages_ocr"].value > 0 and meta["pages_text_layer"].value > 0 and meta["pages_docling"].value > 0
    assert read_council.checks["every_document_accounted_for"] == "SUCCEEDED"
    lake = read_council.lake
    account = documents.accounting(lake, documents.manifest(lake, read_council.council.out / "landing"))
    assert account["unaccounted"] == 0 and account["manifest_documents"] > 200, account


def test_each_faulty_file_lands_in_document_errors_with_its_reason(read_council):
    truth = pl.read_parquet(read_council.council.out / "truth" / "documents.parquet")
    lake = read_council.lake
    errors = lake.read("enterprise", documents.ERRORS)
    faulty = truth.filter(pl.col("fault").is_not_null())
    assert set(faulty["fault"]) == set(FAULT_REASON), "the council should hold every kind of fault"
    # A faulty file whose manifest row was itself planted bad is never read: its row is in the quarantine instead
    # (both defects are drawn at random, so whether any file has both depends on the council).
    quarantined = " ".join(lake.read("staging", f"liquidlogic/{QUARANTINE}")["raw"].to_list())
    manifest_quarantined = [d for d in faulty["document_id"] if f'"{d}"' in quarantined]
    assert set(manifest_quarantined).isdisjoint(lake.read("enterprise", "document")["document_id"])
    faulty = faulty.filter(~pl.col("document_id").is_in(manifest_quarantined))
    got = dict(errors.select("document_id", "reason").iter_rows())
    for doc_id, fault in faulty.select("document_id", "fault").iter_rows():
        assert got.get(doc_id) == FAULT_REASON[fault], (doc_id, fault, got.get(doc_id))
    assert set(got) == set(faulty["document_id"]), "only the faulty files have errors"
    assert errors["detail"].str.len_chars().min() > 10


def test_text_matches_the_truth_exactly_for_born_digital_formats_and_within_3pc_cer_for_scans(read_council):
    quality = text_quality.evaluate(read_council.lake, read_council.council.out / "truth")
    by_format = {r["format"]: r for r in quality.iter_rows(named=True)}
    for fmt in ("docx", "doc", "pdf", "html"):
        row = by_format[fmt]
        assert row["pages_exact"] == row["pages"] > 0, row
    assert by_format["doc"]["pages_with_text"] == by_format["doc"]["pages"], "every .doc converted"
    for fmt in ("scan_pdf", "png", "jpeg", "tiff"):
        row = by_format[fmt]
        assert row["pages_with_text"] == row["pages"] > 0, row
        assert row["cer"] <= 0.03, row


def test_pages_record_method_confidence_hash_and_tool_versions(read_council):
    text = read_council.lake.read("enterprise", documents.TEXT)
    ocr = text.filter(pl.col("method") == "ocr")
    assert ocr["ocr_confidence"].is_not_null().all() and ocr["ocr_confidence"].min() > 0.3
    assert text.filter(pl.col("method") != "ocr")["ocr_confidence"].is_null().all()
    assert (text["char_count"] == text["text"].str.len_chars()).all()
    assert text["content_hash"].str.len_chars().unique().to_list() == [64]
    assert text["tool_versions"].str.contains("easyocr_models").all()
    assert text.group_by("document_id", "page").len()["len"].max() == 1


def test_chunks_point_back_into_their_page_text(read_council):
    lake = read_council.lake
    text = lake.read("enterprise", documents.TEXT).select("document_id", "page", pl.col("text").alias("page_text"))
    chunks = lake.read("enterprise", documents.CHUNKS).join(text, on=["document_id", "page"])
    assert chunks.height > 0 and chunks["chunk_id"].is_unique().all()
    for row in chunks.iter_rows(named=True):
        assert row["page_text"][row["char_start"] : row["char_end"]] == row["text"]
    covered = (
        chunks.group_by("document_id", "page")
        .agg(pl.col("char_end").max())
        .join(text.with_columns(pl.col("page_text").str.len_chars().alias("n")), on=["document_id", "page"])
    )
    assert (covered["char_end"] == covered["n"]).all(), "every page is covered to its end"


def test_chunking_is_stable_and_splits_long_pages_at_whitespace():
    page = " ".join(f"word{i}" for i in range(600))
    spans = documents.chunk_page(page, size=1000, overlap=150)
    assert len(spans) > 3 and spans[0][0] == 0 and spans[-1][1] == len(page)
    for (_, e1), (s2, _) in itertools.pairwise(spans):
        assert s2 < e1, "chunks overlap"
        assert page[e1 : e1 + 1] in (" ", "") and (s2 == 0 or page[s2 - 1] == " ")
    assert (
        documents.chunk_id("D1", "h", 1, 0)
        == documents.chunk_id("D1", "h", 1, 0)
        != documents.chunk_id("D1", "h", 2, 0)
    )


def _good_file(council, fmt: str) -> Path:
    """A file of ``fmt`` (truth format) that the generator did not make faulty."""
    truth = pl.read_parquet(council.out / "truth" / "documents.parquet")
    name = truth.filter((pl.col("format") == fmt) & pl.col("fault").is_null())["file_name"][0]
    return find_extracts(council.out / "landing")[0].path / name


def _small_lake(tmp_path: Path) -> tuple[Lake, Path]:
    opts = small_options(tmp_path / "council", documents_per_child=4)
    generate(opts)
    lake = Lake(str(tmp_path / "lake"))
    load_landing(lake, opts.out / "landing")
    return lake, opts.out / "landing"


def _versions(lake: Lake) -> dict[str, int | None]:
    return {name: lake.version("enterprise", name) for name in documents.SCHEMAS}


def test_incremental_by_content_hash_a_changed_file_is_read_again_and_its_old_text_pruned(tmp_path):
    lake, landing = _small_lake(tmp_path)
    first = extract_documents(lake, landing, workers=1)
    assert first.pending_documents == first.manifest_documents > 0
    before = _versions(lake)
    again = extract_documents(lake, landing, workers=1)
    assert again.pending_documents == 0 and again.commits == 0 and _versions(lake) == before

    text = lake.read("enterprise", documents.TEXT)
    target = text.filter(pl.col("detected_format") == "pdf")["document_id"][0]
    path = next(landing.rglob(f"{target}.pdf"))
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 8, "Revised safety plan: contact with grandmother agreed on Saturdays.")
    path.write_bytes(bytes(pdf.output()))
    land_extract(lake, find_extracts(landing)[0])  # the sensor would land the new file with the next extract

    changed = extract_documents(lake, landing, workers=1)
    assert changed.pending_documents == 1 and changed.documents_with_text == 1
    assert changed.pruned_rows >= 1
    rows = lake.read("enterprise", documents.TEXT).filter(pl.col("document_id") == target)
    assert rows["text"].to_list() == ["Revised safety plan: contact with grandmother agreed on Saturdays."]
    assert changed.account["unaccounted"] == 0
    assert documents.accounting(lake, documents.manifest(lake, landing))["unaccounted"] == 0

    # A document deleted at source leaves the manifest: a run over its bucket deletes its text and chunks.
    bucket = documents.bucket_of(target, documents.DEFAULT_BUCKETS)
    remaining = documents.manifest(lake, landing).filter(
        (pl.col("bucket") == bucket) & (pl.col("document_id") != target)
    )
    assert documents.prune_superseded(lake, remaining, {bucket}) >= 2
    for name in (documents.TEXT, documents.CHUNKS):
        assert lake.read("enterprise", name).filter(pl.col("document_id") == target).is_empty(), name
    assert lake.read("enterprise", documents.TEXT).filter(pl.col("bucket") == bucket).height > 0, "others stay"


def test_a_hanging_conversion_times_out_an_oversized_file_is_refused_and_the_pool_goes_on(council, tmp_path):
    scan, docx = _good_file(council, "png"), _good_file(council, "docx")
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * 2_000_000)
    settings = ExtractionSettings(timeout_s=0.2, max_bytes=1_000_000)
    jobs = [Job("scan", scan), Job("big", big), Job("docx", docx)]
    outcomes = {o.job.document_id: o for o in documents.ExtractionPool(settings, workers=1).map(jobs)}
    assert outcomes["scan"].error.reason == "timeout"  # OCR of a page takes far longer than 0.2 s
    assert outcomes["big"].error.reason == "oversized"
    assert outcomes["docx"].text is not None and outcomes["docx"].text.pages, "the restarted worker reads on"


def test_mixed_pdf_ocrs_only_the_page_without_a_text_layer_and_markdown_reads(council, tmp_path):
    from fpdf import FPDF

    scan = _good_file(council, "png")
    pdf = FPDF(unit="pt", format=(595, 842))
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 16, "Page one has a text layer: the chronology of the case since March.")
    pdf.add_page()
    img = Image.open(scan)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    pdf.image(buf, x=0, y=0, w=595)
    mixed = tmp_path / "mixed.pdf"
    mixed.write_bytes(bytes(pdf.output()))
    notes = tmp_path / "notes.md"
    notes.write_text("# Visit notes\n\nSaw **Amy** at home with her grandmother.\n", encoding="utf-8")

    extractor = TextExtractor()
    result = extractor.extract(mixed)
    assert [p.method for p in result.pages] == ["text_layer", "ocr"]
    assert "chronology of the case" in result.pages[0].text
    assert len(result.pages[1].text) > 100 and result.pages[1].ocr_confidence > 0.5
    md = extractor.extract(notes)
    assert md.detected_format == "markdown" and "Saw Amy at home with her grandmother." in md.pages[0].text


def test_cli_extract_text_prints_json_lines_with_pages_or_the_error(council, tmp_path):
    docx = _good_file(council, "docx")
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "extract-text", str(docx), str(empty)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    by_file = {Path(line["file"]).name: line for line in lines}
    assert by_file[docx.name]["format"] == "docx" and by_file[docx.name]["pages"][0]["method"] == "docling"
    truth = pl.read_parquet(council.out / "truth" / "pages.parquet").filter(pl.col("document_id") == docx.stem)
    got = " ".join(" ".join(p["text"].split()) for p in by_file[docx.name]["pages"])
    assert got == " ".join(" ".join(t.split()) for t in truth.sort("page")["text"])
    assert by_file["empty.pdf"]["error"] == "empty_file"
    # The CLI and the asset share one code path: the same file gives the same text.
    (direct,) = extract_files([docx])
    assert direct["pages"] == by_file[docx.name]["pages"]
