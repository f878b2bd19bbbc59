"""Hostile extracts, one kind at a time: every row and file is landed, quarantined or held with a reason,
the counts prove it, and a failed extract stages nothing and stops nothing but its own source's later
extracts. The bad-input table in docs/lakehouse.md lists each kind with the outcome asserted here.

Every test runs twice: with the default batch and with files staged two records at a time, so each file is
larger than its batch and every outcome (duplicates across batches included) must hold across batches."""

from __future__ import annotations

import csv
import io
import json
import os

import polars as pl
import pytest

from lake.contracts.sources import SOURCES
from lake.ingest import staging
from lake.ingest.landing import find_extracts, read_extract
from lake.ingest.pipeline import EXTRACTS, QUARANTINE, ExtractFailed, land_extract, load_landing, stage_extract
from lake.ingest.staging import MAX_FIELD_CHARS, UNBALANCED
from lake.storage.delta import Lake
from tests.hostile import WORKERS, table_text, workers, write_extract

LL = SOURCES["liquidlogic"]
NOTE = {
    "note_id": "CN1",
    "child_id": "P1",
    "worker_id": "W1",
    "note_type": "Home Visit",
    "event_date": "01/11/2026",
    "recorded_at": "01/11/2026 10:00:00",
    "note_text": "Seen at home.",
}


@pytest.fixture(autouse=True, params=["one batch", "batches of two"])
def batch_size(request, monkeypatch):
    """The batch a file is staged in: the default, or two records (every file here is larger than that)."""
    if request.param == "batches of two":
        monkeypatch.setattr(staging, "ROWS_PER_BATCH", 2)
    return request.param


def load(tmp_path, folder):
    """Land and stage the extract in ``folder``: (lake, table loads) or the ExtractFailed."""
    lake = Lake(str(tmp_path / "lake"))
    extract = read_extract(folder)
    land_extract(lake, extract)
    return lake, stage_extract(lake, extract)


def failed(tmp_path, folder) -> tuple[Lake, ExtractFailed]:
    lake = Lake(str(tmp_path / "lake"))
    with pytest.raises(ExtractFailed) as info:
        extract = find_extracts(folder.parent.parent)[0]
        land_extract(lake, extract)
        stage_extract(lake, extract)
    return lake, info.value


def extract_record(lake: Lake, extract_id: str) -> dict:
    rows = lake.read("landing", EXTRACTS).filter(pl.col("extract_id") == extract_id)
    assert rows.height == 1
    return rows.row(0, named=True)


def assert_nothing_staged(lake: Lake, source: str = "liquidlogic") -> None:
    for table in ("worker", "case_note", QUARANTINE):
        staged = lake.read("staging", f"{source}/{table}")
        assert staged is None or staged.is_empty(), table


def assert_accounted(lake: Lake, extract_id: str, loads) -> None:
    record = extract_record(lake, extract_id)
    read = sum(t.rows_read for t in loads.values())
    assert record["rows_read"] == read == record["rows_landed"] + record["rows_quarantined"] + record["rows_held"]
    for t in loads.values():
        assert t.balanced, t.table


# ---- rows lost ---------------------------------------------------------------------------------------
def test_an_unbalanced_quote_quarantines_each_swallowed_row_instead_of_merging_them(tmp_path):
    text = table_text("liquidlogic", "worker", WORKERS)
    lines = text.splitlines(keepends=True)
    lines[2] = lines[2].replace(",Bob,", ',"Bob,')  # W2's quote never closes: W3 and W4 would vanish into it
    folder = write_extract(tmp_path / "landing", "2026-11-05", {"WORKER": "".join(lines)})
    lake, loads = load(tmp_path, folder)
    worker = loads["worker"]
    assert (worker.rows_read, worker.rows_landed, worker.rows_quarantined) == (4, 1, 3)
    quarantine = lake.read("staging", f"liquidlogic/{QUARANTINE}").sort("row_number")
    assert quarantine["row_number"].to_list() == [2, 3, 4] and set(quarantine["reason"]) == {UNBALANCED}
    assert "W3" in quarantine["raw"][1] and "W4" in quarantine["raw"][2], "each swallowed row is kept as it was"
    assert_accounted(lake, "liquidlogic-2026-11-05", loads)


def test_a_quoted_note_over_several_lines_still_lands_whole(tmp_path):
    note = {**NOTE, "note_text": "Seen at home.\nPresent: mum, dad, nan, grandad, Sam, Jo, and the IRO.\nNext visit."}
    folder = write_extract(
        tmp_path / "landing",
        "2026-11-05",
        {"CASE_NOTE": table_text("liquidlogic", "case_note", [note])},
        declared={"CASE_NOTE": 1},
    )
    lake, loads = load(tmp_path, folder)
    assert loads["case_note"].rows_landed == 1
    assert lake.read("staging", "liquidlogic/case_note")["note_text"][0] == note["note_text"]


def test_a_field_over_the_csv_limit_lands_and_one_over_the_documented_maximum_is_quarantined(tmp_path):
    long_note = {**NOTE, "note_text": "x" * 200_000}  # over Python's csv default of 131,072: crashed mid-extract
    huge_note = {**NOTE, "note_id": "CN2", "note_text": "y" * (MAX_FIELD_CHARS + 1)}
    folder = write_extract(
        tmp_path / "landing",
        "2026-11-05",
        {"CASE_NOTE": table_text("liquidlogic", "case_note", [long_note, huge_note])},
    )
    lake, loads = load(tmp_path, folder)
    notes = loads["case_note"]
    assert (notes.rows_read, notes.rows_landed, notes.rows_quarantined) == (2, 1, 1)
    assert len(lake.read("staging", "liquidlogic/case_note")["note_text"][0]) == 200_000
    (reason,) = lake.read("staging", f"liquidlogic/{QUARANTINE}")["reason"].to_list()
    assert reason == f"field over {MAX_FIELD_CHARS:,} characters in NOTETEXT ({MAX_FIELD_CHARS + 1:,})"


def test_a_duplicated_header_column_fails_the_extract_and_holds_its_rows(tmp_path):
    header = [LL.column("worker", c) for c in ("worker_id", "first_name", "surname", "role", "team", "email", "phone")]
    header[1] = "SURNAME"  # FIRSTNAME missing, SURNAME twice: one of them would be dropped silently
    folder = write_extract(
        tmp_path / "landing", "2026-11-05", {"WORKER": table_text("liquidlogic", "worker", WORKERS, header)}
    )
    lake, error = failed(tmp_path, folder)
    assert error.reasons == ["WORKER.csv: duplicate column(s) in the header: SURNAME"]
    assert error.tables["worker"].rows_held == 4
    assert_nothing_staged(lake)
    record = extract_record(lake, "liquidlogic-2026-11-05")
    assert record["status"] == "failed" and record["rows_held"] == record["rows_read"] == 4


def test_an_unknown_column_fails_the_extract_rather_than_dropping_its_values(tmp_path):
    header = [LL.column("worker", c) for c in ("worker_id", "first_name", "surname", "role", "team", "email", "phone")]
    folder = write_extract(
        tmp_path / "landing",
        "2026-11-05",
        {"WORKER": table_text("liquidlogic", "worker", WORKERS, [*header, "SAFEGUARDING_FLAG"])},
    )
    lake, error = failed(tmp_path, folder)
    assert error.reasons == ["WORKER.csv: unknown column(s) SAFEGUARDING_FLAG: not in the liquidlogic contract"]
    assert_nothing_staged(lake)


def test_a_table_the_contract_does_not_know_fails_the_extract(tmp_path):
    files = {**workers(), "FOSTER_CARER": "CARERID,NAME\nF1,Eve\n"}
    folder = write_extract(tmp_path / "landing", "2026-11-05", files)
    lake, error = failed(tmp_path, folder)
    assert "table FOSTER_CARER is declared in the control file but is not in the liquidlogic contract" in error.reasons
    assert_nothing_staged(lake)
    assert extract_record(lake, "liquidlogic-2026-11-05")["status"] == "failed"


def test_a_table_file_present_but_not_declared_fails_the_extract(tmp_path):
    files = {**workers(), "CASE_NOTE": table_text("liquidlogic", "case_note", [NOTE])}
    folder = write_extract(tmp_path / "landing", "2026-11-05", files, declared={"WORKER": 4})
    lake, error = failed(tmp_path, folder)
    assert error.reasons == ["CASE_NOTE.csv: in the extract but not declared in the control file"]
    assert_nothing_staged(lake)


def test_a_quote_that_never_closes_past_the_reader_limit_quarantines_every_line_after_it(tmp_path):
    rows = [{**NOTE, "note_id": f"CN{i}", "note_text": "z" * 90} for i in range(100_000)]  # 10 MB after it
    text = table_text("liquidlogic", "case_note", rows).replace(
        "01/11/2026 10:00:00,zzz", '01/11/2026 10:00:00,"zzz', 1
    )
    lake, loads = load(tmp_path, write_extract(tmp_path / "landing", "2026-11-05", {"CASE_NOTE": text}))
    notes = loads["case_note"]
    assert (notes.rows_read, notes.rows_landed, notes.rows_quarantined) == (100_000, 0, 100_000)
    reasons = lake.read("staging", f"liquidlogic/{QUARANTINE}")["reason"].unique().to_list()
    assert len(reasons) == 1 and reasons[0].startswith("unparseable from this line on (field larger than field limit")


# ---- crash mid-extract, and all or nothing ---------------------------------------------------------------
def test_a_missing_table_file_fails_the_whole_extract_with_a_record_and_stages_none_of_it(tmp_path):
    files = {**workers(), "CASE_NOTE": table_text("liquidlogic", "case_note", [NOTE])}
    folder = write_extract(
        tmp_path / "landing", "2026-11-05", files, declared={"WORKER": 4, "CASE_NOTE": 1, "PERSON": 5}
    )
    lake, error = failed(tmp_path, folder)
    assert error.reasons == ["PERSON.csv: declared in the control file but not in the extract"]
    assert_nothing_staged(lake)  # the good WORKER and CASE_NOTE files wait with their extract
    files_row = lake.read("landing", "files").filter(pl.col("path") == "PERSON.csv").row(0, named=True)
    assert (
        files_row["present"] is False and files_row["problem"] == "declared in the control file but not in the extract"
    )


def test_rows_read_differing_from_rows_declared_stage_nothing(tmp_path):
    folder = write_extract(tmp_path / "landing", "2026-11-05", workers(), declared={"WORKER": 6})  # truncated file
    lake, error = failed(tmp_path, folder)
    assert error.reasons == ["WORKER.csv: 4 rows read, the control file declares 6"]
    assert_nothing_staged(lake)
    record = extract_record(lake, "liquidlogic-2026-11-05")
    assert (record["rows_read"], record["rows_landed"], record["rows_quarantined"], record["rows_held"]) == (4, 0, 0, 4)


def test_an_unreadable_file_fails_the_extract_with_a_clear_reason(tmp_path):
    folder = write_extract(
        tmp_path / "landing",
        "2026-11-05",
        {"WORKER": table_text("liquidlogic", "worker", WORKERS).encode("utf-16")},
        declared={"WORKER": 4},
    )
    lake, error = failed(tmp_path, folder)
    assert error.reasons == ["WORKER.csv: not UTF-8 text: the file looks like UTF-16 or binary"]
    assert_nothing_staged(lake)


def test_an_empty_file_and_a_missing_column_fail_the_extract_with_their_reasons(tmp_path):
    header = [LL.column("worker", c) for c in ("worker_id", "first_name", "surname", "role")]  # TEAM.. gone
    text = table_text("liquidlogic", "worker", WORKERS, header)
    folder = write_extract(
        tmp_path / "landing", "2026-11-05", {"WORKER": text, "CASE_NOTE": b""}, declared={"WORKER": 4, "CASE_NOTE": 1}
    )
    lake, error = failed(tmp_path, folder)
    assert sorted(error.reasons) == [
        "CASE_NOTE.csv: empty file: no header and no rows",
        "WORKER.csv: missing column(s) TEAM, EMAIL, PHONE",
    ]
    assert_nothing_staged(lake)


def test_a_wrong_delimiter_is_named(tmp_path):
    text = table_text("liquidlogic", "worker", WORKERS).replace(",", ";")
    folder = write_extract(tmp_path / "landing", "2026-11-05", {"WORKER": text})
    _, error = failed(tmp_path, folder)
    assert error.reasons == ["WORKER.csv: wrong delimiter: liquidlogic files use ',', this one uses ';'"]


# ---- containment ----------------------------------------------------------------------------------------
def test_a_control_file_entry_outside_the_folder_is_refused(tmp_path):
    (tmp_path / "secret.csv").write_text(table_text("liquidlogic", "worker", WORKERS))
    folder = write_extract(tmp_path / "landing", "2026-11-05", workers(), entries={"WORKER": "../../../secret.csv"})
    lake, error = failed(tmp_path, folder)
    assert error.reasons == [
        "table WORKER names file '../../../secret.csv': only WORKER.csv inside the extract folder is read"
    ]
    assert_nothing_staged(lake)


def test_a_symbolic_link_out_of_the_landing_folder_is_refused_and_never_read(tmp_path):
    secret = tmp_path / "elsewhere" / "WORKER.csv"
    secret.parent.mkdir()
    secret.write_text(table_text("liquidlogic", "worker", [{**WORKERS[0], "surname": "Outsider"}]))
    folder = write_extract(tmp_path / "landing", "2026-11-05", {}, declared={"WORKER": 1})
    os.symlink(secret, folder / "WORKER.csv")
    lake, error = failed(tmp_path, folder)
    assert error.reasons == ["WORKER.csv: a symbolic link: only regular files inside the extract are read"]
    files = lake.read("landing", "files")
    assert files.filter(pl.col("path") == "WORKER.csv")["kind"].to_list() == ["refused"]
    assert files["sha256"].null_count() == files.height, "the link's target was never read"
    assert_nothing_staged(lake)


def test_a_symbolic_link_for_a_whole_extract_folder_is_a_failed_extract(tmp_path):
    elsewhere = write_extract(tmp_path / "elsewhere", "2026-11-05", workers())
    (tmp_path / "landing" / "liquidlogic").mkdir(parents=True)
    os.symlink(elsewhere, tmp_path / "landing" / "liquidlogic" / "2026-11-05")
    done = load_landing(Lake(str(tmp_path / "lake")), tmp_path / "landing")
    (reason,) = done.failed["liquidlogic-2026-11-05"]
    assert "a symbolic link; an extract is a folder inside the landing zone" in reason and not done.staged


def test_a_control_file_of_another_source_system_is_refused(tmp_path):
    folder = write_extract(tmp_path / "landing", "2026-11-05", workers(), source="liquidlogic")
    control = folder / "_extract.json"
    control.write_text(control.read_text().replace('"liquidlogic"', '"mosaic"'))
    done = load_landing(Lake(str(tmp_path / "lake")), tmp_path / "landing")
    (reason,) = done.failed["liquidlogic-2026-11-05"]
    assert "says source system 'mosaic' but lies in the liquidlogic folder" in reason


# ---- values with a natural range, and control characters ------------------------------------------------
def test_values_out_of_their_natural_range_are_quarantined(council, tmp_path):
    day0 = find_extracts(council.out / "landing")[0]

    def first_rows(name: str, n: int, **changes: str) -> str:
        """The council's first ``n`` rows of ``name`` with ``changes`` (column -> value) in the first."""
        text = (day0.path / f"{name}.csv").read_bytes().decode("utf-8", "replace")
        header, *rows = list(csv.reader(io.StringIO(text, newline="")))[: n + 1]
        rows[0] = [changes.get(h, v) for h, v in zip(header, rows[0], strict=True)]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([header, *rows])
        return out.getvalue()

    files = {
        "ADOPTER_HOUSEHOLD": first_rows("ADOPTER_HOUSEHOLD", 2, ADULT1AGE="-3"),
        "PERSON": first_rows("PERSON", 1, DOB="01/01/1850"),
        "PERSON_NAME_HISTORY": "PERSONID,NAMESEQ,FIRSTNAME,SURNAME,VALIDFROM,REASON\nP1,0,Jo,Smith,01/02/1990,birth\n",
    }
    lake, loads = load(tmp_path, write_extract(tmp_path / "landing", "2026-11-05", files))
    quarantine = lake.read("staging", f"liquidlogic/{QUARANTINE}")
    reasons = dict(zip(quarantine["source_table"], quarantine["reason"], strict=True))
    assert reasons["ADOPTER_HOUSEHOLD"] == "between 18 and 100 in ADULT1AGE: '-3'"
    assert reasons["PERSON_NAME_HISTORY"] == "at least 1 in NAMESEQ: '0'"
    assert reasons["PERSON"] == "not before 1900-01-01 in DOB: '01/01/1850'"
    assert loads["adopter_household"].rows_landed == 1
    assert_accounted(lake, "liquidlogic-2026-11-05", loads)


def test_nul_bytes_and_control_characters_quarantine_their_row(tmp_path):
    rows = [{**WORKERS[0], "surname": "Lee\x00"}, {**WORKERS[1], "team": "Sel\x0bby"}, WORKERS[2]]
    lake, loads = load(tmp_path, write_extract(tmp_path / "landing", "2026-11-05", workers(rows=rows)))
    assert (loads["worker"].rows_landed, loads["worker"].rows_quarantined) == (1, 2)
    reasons = lake.read("staging", f"liquidlogic/{QUARANTINE}").sort("row_number")["reason"].to_list()
    assert reasons == ["control character U+0000 in SURNAME", "control character U+000B in TEAM"]


# ---- one bad extract never stops the others -----------------------------------------------------------------
def test_an_unreadable_control_file_is_a_failed_extract_and_only_its_own_sources_later_extracts_wait(tmp_path):
    landing = tmp_path / "landing"
    write_extract(landing, "2026-11-04", workers(rows=WORKERS[:1]))
    write_extract(landing, "2026-11-05", workers(), control="{not json")
    write_extract(landing, "2026-11-06", workers(rows=[{**WORKERS[0], "surname": "Later"}]))
    write_extract(landing, "2026-11-05", workers("mosaic", rows=WORKERS[2:]), source="mosaic")
    lake = Lake(str(tmp_path / "lake"))
    done = load_landing(lake, landing)
    assert list(done.staged) == ["liquidlogic-2026-11-04", "mosaic-2026-11-05"]
    (reason,) = done.failed["liquidlogic-2026-11-05"]
    assert "unreadable control file" in reason
    assert done.waiting == {"liquidlogic-2026-11-06": "liquidlogic-2026-11-05"}
    record = extract_record(lake, "liquidlogic-2026-11-05")
    assert record["status"] == "failed" and "unreadable control file" in record["reason"]
    # The enterprise layer holds the loaded extracts and nothing of the failed one or the one behind it.
    worker = lake.read("enterprise", "worker").sort("worker_id")
    assert worker["worker_id"].to_list() == ["W1", "W3", "W4"] and "Later" not in worker["surname"].to_list()
    # Delivered again, the failed extract loads, then the one that waited.
    (landing / "liquidlogic" / "2026-11-05" / "_extract.json").write_text(
        json.dumps(
            {
                "source_system": "liquidlogic",
                "extract_date": "2026-11-05",
                "extract_kind": "delta",
                "tables": {"WORKER": {"file": "WORKER.csv", "rows": 4}},
            }
        )
    )
    again = load_landing(lake, landing)
    assert not again.failed and not again.waiting
    assert lake.read("enterprise", "worker").filter(pl.col("worker_id") == "W1")["surname"][0] == "Later"


# ---- text in another encoding, files that are not text (issue 43) ---------------------------------------------
NAMED = [
    {**WORKERS[0], "first_name": "José", "surname": "O’Leary", "team": "Café £5 – Crèche"},
    {**WORKERS[1], "first_name": "Zoë", "surname": "Müller-Ångström", "team": "Naïve Façade"},
]
JAPANESE = [
    {**WORKERS[0], "first_name": "太郎", "surname": "山田", "team": "家庭支援チーム"},
    {**WORKERS[1], "first_name": "花子", "surname": "佐藤", "team": "子ども家庭課"},
]


@pytest.mark.parametrize(
    ("rows", "encoding", "detected"), [(NAMED, "cp1252", "cp1252"), (JAPANESE, "shift_jis", "cp932")]
)
def test_a_file_in_a_legacy_encoding_lands_with_the_right_text_and_says_which(tmp_path, rows, encoding, detected):
    text = table_text("liquidlogic", "worker", rows)
    lake, loads = load(tmp_path, write_extract(tmp_path / "landing", "2026-11-05", {"WORKER": text.encode(encoding)}))
    landed = lake.read("staging", "liquidlogic/worker").sort("worker_id")
    assert landed["first_name"].to_list() == [r["first_name"] for r in rows]
    assert landed["team"].to_list() == [r["team"] for r in rows]
    assert loads["worker"].notes["encoding"] == detected and loads["worker"].repaired_cells == 6
    assert_accounted(lake, "liquidlogic-2026-11-05", loads)


def test_a_byte_no_encoding_explains_quarantines_its_row_with_the_column_never_replaced(tmp_path):
    text = table_text("liquidlogic", "worker", [*NAMED, WORKERS[2]])
    damaged = text.encode("utf-8").replace(b"Orr", b"O\x81rr")  # one stray byte among UTF-8 text
    lake, loads = load(tmp_path, write_extract(tmp_path / "landing", "2026-11-05", {"WORKER": damaged}))
    assert (loads["worker"].rows_landed, loads["worker"].rows_quarantined) == (2, 1)
    quarantined = lake.read("staging", f"liquidlogic/{QUARANTINE}")
    assert quarantined["reason"].to_list() == ["undecodable text in SURNAME"]
    landed = lake.read("staging", "liquidlogic/worker")
    assert "\ufffd" not in "".join(landed["surname"].to_list()) and "O’Leary" in landed["surname"].to_list()
    # alone in an ASCII file, the same byte is not Windows-1252 either (0x81 is undefined there): quarantined
    ascii_text = table_text("liquidlogic", "worker", WORKERS[:2]).encode().replace(b"Lee", b"L\x81ee")
    lake, loads = load(tmp_path / "b", write_extract(tmp_path / "b" / "landing", "2026-11-05", {"WORKER": ascii_text}))
    assert (loads["worker"].rows_landed, loads["worker"].rows_quarantined) == (1, 1)


def test_a_compressed_file_is_named_as_one_and_its_declared_rows_are_held(tmp_path):
    import gzip

    packed = gzip.compress(table_text("liquidlogic", "worker", WORKERS[:3]).encode())
    folder = write_extract(tmp_path / "landing", "2026-11-05", {"WORKER": packed}, declared={"WORKER": 3})
    lake, error = failed(tmp_path, folder)
    assert error.reasons == ["WORKER.csv: not a text file (gzip): a compressed or binary file where a CSV was declared"]
    record = extract_record(lake, "liquidlogic-2026-11-05")
    assert (record["rows_read"], record["rows_held"]) == (0, 3)


def test_an_unreadable_control_file_holds_the_rows_its_files_hold(tmp_path):
    landing = tmp_path / "landing"
    write_extract(landing, "2026-11-05", workers(), control="{not json")
    lake = Lake(str(tmp_path / "lake"))
    done = load_landing(lake, landing)
    assert list(done.failed) == ["liquidlogic-2026-11-05"]
    record = extract_record(lake, "liquidlogic-2026-11-05")
    assert record["rows_held"] == len(WORKERS) and record["rows_landed"] == 0


def test_an_episode_copied_under_a_new_id_is_quarantined_where_it_enters(council, tmp_path):
    system = SOURCES["liquidlogic"]
    name = system.table("cla_episode")
    day0 = find_extracts(council.out / "landing")[0]
    header, *rows = list(csv.reader(io.StringIO((day0.path / f"{name}.csv").read_text(), newline="")))
    id_at = header.index(system.column("cla_episode", "episode_id"))

    def copy_as(new_id: str) -> list[str]:
        return [new_id if k == id_at else v for k, v in enumerate(rows[0])]

    def text(*lines: list[str]) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([header, *lines])
        return out.getvalue()

    landing = tmp_path / "landing"
    lake, loads = load(tmp_path, write_extract(landing, "2026-11-05", {name: text(rows[0], copy_as("E9999001"))}))
    assert (loads["cla_episode"].rows_landed, loads["cla_episode"].rows_quarantined) == (1, 1)
    (reason,) = lake.read("staging", f"liquidlogic/{QUARANTINE}")["reason"].to_list()
    assert reason == f"a copy under a new id: episode_id {rows[0][id_at]} (row 1) has the same child and start date"
    # the next extract brings another copy, under another id: refused against the row staged before
    later = read_extract(write_extract(landing, "2026-11-06", {name: text(copy_as("E9999002"))}))
    land_extract(lake, later)
    loads = stage_extract(lake, later)
    assert (loads["cla_episode"].rows_landed, loads["cla_episode"].rows_quarantined) == (0, 1)
    reasons = lake.read("staging", f"liquidlogic/{QUARANTINE}")["reason"].to_list()
    assert (
        f"a copy under a new id: episode_id {rows[0][id_at]}, staged before, has the same child and start date"
        in reasons
    )
    assert lake.read("staging", "liquidlogic/cla_episode").height == 1
