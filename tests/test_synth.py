"""The synthetic council: determinism, pilot ratios, exact truth, real documents, defects, next-day, splits."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
from pathlib import Path

import polars as pl
import pypdfium2 as pdfium
import pytest
from docx import Document
from PIL import Image

from lake.contracts.sources import NEUTRAL_TABLES, SOURCES
from synth.council import DEFECT_KINDS, generate, generate_next_day
from synth.pools import pools_for
from synth.text import FORM_QUESTIONS, GENERAL_TEMPLATES, LABELS, NOTE_TEMPLATES, TELEGRAPHIC_TEMPLATES, split_templates
from synth.world import IMMEDIATE
from tests.conftest import small_options

LL = SOURCES["liquidlogic"]


def extract_dir(opts, day: int = 0) -> Path:
    days = sorted((opts.out / "landing" / LL.source).iterdir())
    return days[day]


def read_table(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    """Rows as a tolerant reader sees them: undecodable bytes kept as surrogates, so defect rows are kept."""
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ---- determinism and shapes ---------------------------------------------------------------------
def test_same_seed_and_options_give_byte_identical_output(tmp_path):
    a, b, c = (small_options(tmp_path / name, seed=seed) for name, seed in (("a", 11), ("b", 11), ("c", 12)))
    for opts in (a, b, c):
        generate(opts)
        generate_next_day(opts)
    digest_a, digest_b = tree_digest(a.out), tree_digest(b.out)
    assert digest_a == digest_b
    assert any(p.endswith(".doc") for p in digest_a), "the comparison must cover LibreOffice's .doc output"
    assert tree_digest(c.out) != digest_a, "a different seed must give a different council"


def test_both_export_shapes_render_one_truth(tmp_path):
    ll = small_options(tmp_path / "ll", flavour="liquidlogic")
    mo = small_options(tmp_path / "mo", flavour="mosaic")
    generate(ll)
    generate(mo)
    for truth_file in ("persons.parquet", "mentions.parquet", "pages.parquet", "relationships.parquet"):
        assert (ll.out / "truth" / truth_file).read_bytes() == (mo.out / "truth" / truth_file).read_bytes()
    ll_dir = next((ll.out / "landing" / "liquidlogic").iterdir())
    mo_dir = next((mo.out / "landing" / "mosaic").iterdir())
    ll_people = read_table(ll_dir / "PERSON.csv")
    mo_people = read_table(mo_dir / "mo_persons.csv", delimiter="|")
    assert len(ll_people) == len(mo_people)
    # Different names, dates and codes for the same person.
    first = ll_people[0]
    twin = next(r for r in mo_people if r["person_ref"] == first["PERSONID"])
    assert "/" in first["DOB"] and "-" in twin["date_of_birth"]
    assert {first["SEX"], twin["sex_at_birth"]} in ({"M", "Male"}, {"F", "Female"})
    assert set(json.loads((mo_dir / "_extract.json").read_text())["tables"]) == {
        SOURCES["mosaic"].table(t) for t in NEUTRAL_TABLES
    }


# ---- ratios -------------------------------------------------------------------------------------
def test_pilot_ratios_per_child(council):
    d = extract_dir(council)
    children = [r for r in read_table(d / "PERSON.csv") if r["PERSONTYPE"].strip().upper() == "CHILD"]
    n = council.children
    assert len({r["PERSONID"] for r in children}) == n
    notes = {r["NOTEID"] for r in read_table(d / "CASE_NOTE.csv")}
    docs = {r["DOCUMENTID"] for r in read_table(d / "DOCUMENT_MANIFEST.csv")}
    assert 87 * 0.6 <= len(notes) / n <= 87 * 1.4
    assert 19 * 0.6 <= len(docs) / n <= 19 * 1.4
    rels = pl.read_parquet(council.out / "truth" / "relationships.parquet")
    immediate = rels.filter(pl.col("relation").is_in(IMMEDIATE)).height / n
    wider = rels.filter(~pl.col("relation").is_in(IMMEDIATE)).height / n
    assert 5.5 <= immediate <= 9.5, immediate
    assert 1.0 <= wider <= 3.5, wider
    formats = pl.read_parquet(council.out / "truth" / "documents.parquet")["format"].value_counts()
    doc_share = formats.filter(pl.col("format") == "doc")["count"].sum() / len(docs)
    assert 0.15 <= doc_share <= 0.35, doc_share


# ---- exact truth --------------------------------------------------------------------------------
def _defective(council, day_dir: Path, table: str) -> set[str]:
    truth = council.out / "truth"
    defects = pl.read_parquet(
        truth / "defects.parquet"
        if day_dir == extract_dir(council)
        else next((truth / "days").glob(f"{day_dir.name}/defects.parquet"))
    )
    return set(defects.filter(pl.col("table") == table)["key"].to_list())


def test_every_truth_span_matches_its_text_exactly(council):
    d = extract_dir(council)
    mentions = pl.read_parquet(council.out / "truth" / "mentions.parquet")
    assert set(mentions["label"].unique()) >= set(LABELS)
    notes = {r["NOTEID"]: r["NOTETEXT"] for r in read_table(d / "CASE_NOTE.csv")}
    skip = _defective(council, d, "case_note")
    pages = {
        (r["document_id"], r["page"]): r["text"]
        for r in pl.read_parquet(council.out / "truth" / "pages.parquet").iter_rows(named=True)
    }
    answers = {f"{r['FORMID']}:{r['QUESTIONCODE']}": r["ANSWERTEXT"] for r in read_table(d / "FORM_ANSWER.csv")}
    skip_answers = {k.replace("|", ":") for k in _defective(council, d, "form_answer")}
    checked = 0
    for m in mentions.iter_rows(named=True):
        if m["source_type"] == "case_note":
            if m["source_id"] in skip:
                continue
            text = notes[m["source_id"]]
        elif m["source_type"] == "form_answer":
            if m["source_id"] in skip_answers:
                continue
            text = answers[m["source_id"]]
        else:
            text = pages[(m["source_id"], m["page"])]
        assert text[m["start"] : m["end"]] == m["text"], m
        checked += 1
    assert checked > 0.95 * mentions.height
    persons = mentions.filter(pl.col("label") == "person")
    assert persons["person_id"].null_count() == 0, "every person mention names the true person"


def test_name_variants_resolve_to_one_true_person(council):
    mentions = pl.read_parquet(council.out / "truth" / "mentions.parquet").filter(pl.col("label") == "person")
    per_person = mentions.group_by("person_id").agg(pl.col("text").n_unique().alias("forms"))
    assert per_person["forms"].max() >= 4, "people must be named in several forms (John / Jonny / J. Smith ...)"


# ---- documents ----------------------------------------------------------------------------------
def test_every_document_opens_with_a_standard_library_and_faults_are_marked(council):
    d = extract_dir(council)
    truth = pl.read_parquet(council.out / "truth" / "documents.parquet")
    pages = pl.read_parquet(council.out / "truth" / "pages.parquet")
    manifest = {r["DOCUMENTID"].strip(): r for r in read_table(d / "DOCUMENT_MANIFEST.csv")}
    defects = pl.read_parquet(council.out / "truth" / "defects.parquet").filter(pl.col("table") == "document")
    defective_rows = set(defects["key"])  # a defect may blank the id of a manifest row: the truth says so
    docs_for_lo = []
    for row in truth.iter_rows(named=True):
        path = d / row["file_name"]
        assert path.exists(), row
        expected = pages.filter(pl.col("document_id") == row["document_id"]).sort("page")["text"].to_list()
        fault, fmt = row["fault"], row["format"]
        if fault == "zero_byte":
            assert path.stat().st_size == 0
        elif fault == "truncated":
            with pytest.raises(pdfium.PdfiumError):
                pdfium.PdfDocument(path)
        elif fault == "password_pdf":
            with pytest.raises(pdfium.PdfiumError):
                pdfium.PdfDocument(path)
            assert len(pdfium.PdfDocument(path, password="Secret-" + row["document_id"][-4:])) == row["pages"]
        elif fault == "unsupported":
            assert path.suffix == ".wpd"
        elif fmt == "docx":
            paragraphs = [p.text for p in Document(path).paragraphs]
            assert "\n".join(paragraphs) == "\n".join(expected)
        elif fmt == "pdf":
            pdf = pdfium.PdfDocument(path)
            assert len(pdf) == len(expected)
            for page, text in zip(pdf, expected, strict=True):
                assert page.get_textpage().get_text_range().replace("\r\n", "\n").strip() == text.strip()
        elif fmt == "scan_pdf":
            pdf = pdfium.PdfDocument(path)
            assert len(pdf) == len(expected)
            assert pdf[0].get_textpage().get_text_range().strip() == "", "a scan has no text layer"
        elif fmt in ("png", "jpeg", "tiff"):
            with Image.open(path) as im:
                im.verify()
            with Image.open(path) as im:
                assert getattr(im, "n_frames", 1) == len(expected)
        elif fmt == "html":
            assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        elif fmt == "doc":
            assert path.read_bytes()[:8] == bytes.fromhex("D0CF11E0A1B11AE1"), "Word 97-2003 is an OLE2 file"
            docs_for_lo.append((path, expected))
        assert row["document_id"] in manifest or row["document_id"] in defective_rows, row
    assert docs_for_lo
    # LibreOffice reads every .doc file back to the text that was written.
    sample = docs_for_lo
    out = d.parent.parent.parent / "doc_check"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{out}/profile",
            "--headless",
            "--convert-to",
            "txt:Text (encoded):UTF8",
            "--outdir",
            str(out),
            *[str(p) for p, _ in sample],
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    for path, expected in sample:
        text = (out / f"{path.stem}.txt").read_text(encoding="utf-8-sig")
        assert " ".join(text.split()) == " ".join("\n".join(expected).split())


def test_scanned_page_text_is_in_the_truth(council):
    pages = pl.read_parquet(council.out / "truth" / "pages.parquet")
    scanned = pages.filter(pl.col("scanned"))
    assert scanned.height > 0
    assert (scanned["text"].str.len_chars() > 50).all()


# ---- defects ------------------------------------------------------------------------------------
def test_every_deliberate_defect_is_in_the_truth_and_in_the_file(council):
    d = extract_dir(council)
    defects = pl.read_parquet(council.out / "truth" / "defects.parquet")
    assert set(defects["defect"].unique()) == set(DEFECT_KINDS), "a 12-child council exercises every defect kind"
    for file_name, group in defects.group_by("file"):
        rows = read_table(d / file_name[0])
        for rec in group.iter_rows(named=True):
            row = rows[rec["row_number"] - 1]
            if rec["defect"] == "duplicate_row":
                assert row == rows[rec["row_number"] - 2]
            elif rec["defect"] == "cp1252_char":
                cell = row[rec["source_column"]]
                assert "\udc92" in cell or "\udce9" in cell, "the cell holds a raw Windows-1252 byte"
                assert cell.replace("\udc92", "’").replace("\udce9", "é") == rec["value"]
            elif rec["defect"] == "missing_required":
                assert row[rec["source_column"]] == ""
            else:
                assert row[rec["source_column"]] == rec["value"]
    # And the other way round: every undecodable row and exact duplicate in the files is in the truth.
    for path in d.glob("*.csv"):
        rows = read_table(path)
        bad = sum(1 for r in rows if any("\udc92" in v or "\udce9" in v for v in r.values()))
        in_truth = defects.filter((pl.col("file") == path.name) & (pl.col("defect") == "cp1252_char")).height
        assert bad == in_truth, path.name
        dupes = sum(1 for i in range(1, len(rows)) if rows[i] == rows[i - 1])
        truth_dupes = defects.filter((pl.col("file") == path.name) & (pl.col("defect") == "duplicate_row")).height
        assert dupes == truth_dupes, path.name


# ---- structured only ----------------------------------------------------------------------------
def test_a_structured_only_council_has_every_table_no_documents_and_loads(tmp_path, monkeypatch):
    """Every structured table as in the full council (the same notes per child), an empty document manifest in
    the full extract and none in the change extract, no document file; written in chunks of children, the same
    bytes as in one; and the loader stages it."""
    import synth.council as council_module
    from lake.ingest.pipeline import load_landing
    from lake.storage.delta import Lake

    one = small_options(tmp_path / "one", children=12, structured_only=True, defect_rate=0.0)
    generate(one)
    monkeypatch.setattr(council_module.writing, "CHUNK_CHILDREN", 5)
    chunked = small_options(tmp_path / "chunked", children=12, structured_only=True, defect_rate=0.0)
    result = generate(chunked)
    assert result.documents == 0
    generate_next_day(small_options(tmp_path / "chunked", children=12, defect_rate=0.0))  # stays structured-only
    landing = lambda opts: {k: v for k, v in tree_digest(opts.out).items() if k.startswith("landing/")}  # noqa: E731
    assert {k: v for k, v in landing(chunked).items() if "2026-11-01" in k} == landing(one)
    for name in ("mentions", "pages", "documents"):
        a, b = (pl.read_parquet(opts.out / "truth" / f"{name}.parquet") for opts in (one, chunked))
        assert a.equals(b), name
    assert pl.read_parquet(chunked.out / "truth" / "mentions.parquet").height > 0

    assert not [p for p in chunked.out.rglob("*") if p.is_file() and "documents" in p.relative_to(chunked.out).parts]
    day0, day1 = extract_dir(chunked, 0), extract_dir(chunked, 1)
    control0, control1 = (json.loads((d / "_extract.json").read_text()) for d in (day0, day1))
    assert control0["documents"] == control1["documents"] == 0
    assert set(control0["tables"]) == {LL.table(t) for t in NEUTRAL_TABLES}
    assert control0["tables"]["DOCUMENT_MANIFEST"]["rows"] == 0
    assert (day0 / "DOCUMENT_MANIFEST.csv").read_text().count("\n") == 1  # the header only
    assert "DOCUMENT_MANIFEST" not in control1["tables"] and "CASE_NOTE" in control1["tables"]
    for table in ("PERSON", "RELATIONSHIP", "INVOLVEMENT", "LAC_EPISODE", "CASE_NOTE", "FORM", "FORM_ANSWER"):
        assert control0["tables"][table]["rows"] > 0, table
    # The same children and notes as the council with documents (whose counts draw documents too).
    with_documents = small_options(tmp_path / "full", children=12, defect_rate=0.0)
    counts = council_module.base_counts(council_module.build_world(with_documents), with_documents)
    assert sum(c[1] for c in counts) > 0
    assert len(read_table(day0 / "CASE_NOTE.csv")) == sum(c[0] for c in counts)
    assert len(read_table(day0 / "FORM.csv")) == sum(c[2] for c in counts)

    done = load_landing(Lake(str(tmp_path / "lake")), chunked.out / "landing", build=False)
    assert len(done.staged) == 2  # both extracts
    staged = [x for loads in done.staged.values() for x in loads.values()]
    assert all(x.file_error is None and x.balanced and not x.rows_quarantined for x in staged)
    assert sum(x.rows_landed for x in staged) == sum(result.rows.values()) + sum(
        json.loads((day1 / "_extract.json").read_text())["tables"][t]["rows"] for t in control1["tables"]
    )


# ---- next-day extracts --------------------------------------------------------------------------
def test_next_day_extract_holds_exactly_the_changes_the_truth_lists(council):
    days = sorted((council.out / "landing" / LL.source).iterdir())
    assert [p.name for p in days] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    for day_dir in days[1:]:
        control = json.loads((day_dir / "_extract.json").read_text())
        assert control["extract_kind"] == "delta"
        changes = pl.read_parquet(council.out / "truth" / "days" / day_dir.name / "changes.parquet")
        expected: dict[str, set[str]] = {}
        for c in changes.iter_rows(named=True):
            table = "deleted_record" if c["change"] == "delete" else c["table"]
            key = f"case_note|{c['key']}" if c["change"] == "delete" else c["key"].split("|")[0]
            expected.setdefault(table, set()).add(key)
        found: dict[str, set[str]] = {}
        for table in NEUTRAL_TABLES:
            path = day_dir / f"{LL.table(table)}.csv"
            if not path.exists():
                continue
            key_cols = [LL.column(table, k) for k in NEUTRAL_TABLES[table]["key"]]
            rows = read_table(path)
            if table == "deleted_record":
                found[table] = {f"{r[key_cols[0]].strip()}|{r[key_cols[1]].strip()}" for r in rows}
            elif table == "person_name":
                found["person"] = found.get("person", set()) | {r[key_cols[0]].strip() for r in rows}
            else:
                found.setdefault(table, set()).update(r[key_cols[0]].strip() for r in rows)
        found = {t: {k for k in keys if k} for t, keys in found.items()}
        assert found == expected, day_dir.name
        for kind in ("insert", "update", "delete"):
            assert kind in changes["change"].to_list(), f"{day_dir.name} has no {kind}"
        new_docs = pl.read_parquet(council.out / "truth" / "days" / day_dir.name / "documents.parquet")
        for file_name in new_docs["file_name"]:
            assert (day_dir / file_name).exists()


def test_next_day_refuses_without_a_base_extract(tmp_path):
    with pytest.raises(FileNotFoundError):
        generate_next_day(small_options(tmp_path))


# ---- train / eval splits ------------------------------------------------------------------------
def test_train_and_eval_share_no_templates_and_no_name_or_place_pools():
    train, evl = pools_for("train"), pools_for("eval")
    for name in (
        "first_male",
        "first_female",
        "minority_first_male",
        "minority_first_female",
        "surnames",
        "minority_surnames",
        "street_stems",
        "towns",
        "school_stems",
        "gp_stems",
        "organisations",
        "risk_factors",
        "protective_factors",
    ):
        a, b = set(getattr(train, name)), set(getattr(evl, name))
        assert a and b, name
        assert not a & b, name
    for templates in (
        *NOTE_TEMPLATES.values(),
        GENERAL_TEMPLATES,
        TELEGRAPHIC_TEMPLATES,
        *([t for _, _, t in q] for q in FORM_QUESTIONS.values()),
    ):
        templates = tuple(templates) if not isinstance(templates, tuple) else templates
        for group in [templates] if isinstance(templates[0], str) else templates:
            tr, ev = set(split_templates(group, "train")), set(split_templates(group, "eval"))
            assert tr and ev and not tr & ev and tr | ev == set(group)


def test_an_eval_council_uses_only_eval_names(tmp_path):
    opts = small_options(tmp_path, split="eval", documents_per_child=2)
    generate(opts)
    pools = pools_for("eval")
    firsts = set(pools.first_male + pools.first_female + pools.minority_first_male + pools.minority_first_female)
    persons = pl.read_parquet(opts.out / "truth" / "persons.parquet")
    assert set(persons["first_name"]) <= firsts
    train = pools_for("train")
    assert not set(persons["surname"]) & set(train.surnames + train.minority_surnames)


# ---- adoption truth -----------------------------------------------------------------------------
def test_planted_adoption_effects_and_waiting_adopters_are_in_the_truth(council):
    summary = json.loads((council.out / "truth" / "council.json").read_text())
    effects = {(e["cohort"], e["characteristic"]): e["odds_ratio"] for e in summary["planted_effects"]}
    assert effects[("sibling_group", "prior_fostering")] == 2.5
    assert effects[("sibling_group", "religion")] == 1.0, "some characteristics have no effect at all"
    fit = pl.read_parquet(council.out / "truth" / "adopter_cohort_fit.parquet")
    households = read_table(extract_dir(council) / "ADOPTER_HOUSEHOLD.csv")
    # a planted defect may blank a household's status in the extract: the truth keeps what it was
    defects = pl.read_parquet(council.out / "truth" / "defects.parquet")
    blanked = set(
        defects.filter((pl.col("table") == "adopter_household") & (pl.col("column") == "status")).filter(
            pl.col("original").str.contains("waiting")
        )["row_number"]
    )
    waiting = {
        r["HOUSEHOLDID"].strip()
        for number, r in enumerate(households, start=1)
        if "waiting" in r["STATUS"].lower() or number in blanked
    }
    assert set(fit["household_id"]) <= waiting and fit["fits"].any()


def test_cli_describes_mappings_and_refuses_to_overwrite(tmp_path):
    out = subprocess.run(["caselake", "synth", "--describe"], capture_output=True, text=True, check=True).stdout
    assert "| person.dob | DOB | date_of_birth |" in out
    opts = small_options(tmp_path, documents_per_child=1)
    generate(opts)
    res = subprocess.run(
        ["caselake", "synth", "--out", str(tmp_path), "--children", "3", "--seed", "11"], capture_output=True, text=True
    )
    assert res.returncode == 2 and "exists" in res.stderr
