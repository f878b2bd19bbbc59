"""Factor coding (issue 37): the hand-written statements, the statement splitter, the coder trained on them, and
the coded statements in the loaded lake, its marts, its search filter and the query service."""

from __future__ import annotations

import re
from collections import Counter

import polars as pl
import pytest

from corpus.factors import EVAL_AUTHORS, StatementError, parse_labels, read_author, statements
from lake.contracts.codes import CIN_FACTOR, STRENGTH
from lake.entities.coding import CoderConfig, FactorCoder, coder_version
from lake.entities.items import FACTOR_STATEMENTS
from lake.entities.statements import split_statements
from lake.settings import EntitySettings
from lake.storage.delta import ENTERPRISE
from synth.training import factor_training_statements, project_factor_coder


@pytest.fixture(scope="module")
def coder() -> FactorCoder:
    """The project's coder, trained on the training authors only (cached by its statements and config)."""
    return FactorCoder.load(project_factor_coder(EntitySettings(threads=1)), threads=1)


def _current(coded) -> set[str]:
    return {c.code for c in coded if c.status == "current"}


# ---- the statements ---------------------------------------------------------------------------------------
def test_the_statements_are_two_thousand_hand_written_and_split_by_author():
    found = list(statements())
    texts = Counter(s.text.casefold() for s in found)
    assert len(texts) >= 2_000 and max(texts.values()) == 1, "2,000 distinct statements, none repeated"
    train, held_out = list(statements("train")), list(statements("eval"))
    assert len(train) + len(held_out) == len(found) and len(train) >= 2_000
    assert {s.author for s in held_out} == EVAL_AUTHORS and not {s.author for s in train} & EVAL_AUTHORS
    assert not {s.family for s in train} & {s.family for s in held_out}, "no phrase family on both sides"
    for author in {s.author for s in found}:  # every author wrote every code and strength as a current concern
        mine = [s for s in found if s.author == author]
        current = {lab.code for s in mine for lab in s.labels if lab.status == "current"}
        assert current >= set(CIN_FACTOR) | {f"S:{name}" for name in STRENGTH}, author
        statuses = Counter(lab.status for s in mine for lab in s.labels)
        assert min(statuses["negated"], statuses["historic"], statuses["hypothetical"]) >= 25, (author, statuses)
    # the training text the coder reads holds no held-out statement
    assert not {t for t, _ in factor_training_statements()} & {s.text for s in held_out}


def test_labels_are_read_strictly():
    assert [str(lab) for lab in parse_labels("x", "1B; 3B:historic; S:recovery")] == ["1B", "3B:historic", "S:recovery"]
    assert parse_labels("x", "-") == ()
    for bad in ("1D", "3B:maybe", "S:happiness", "1B; 1B:historic"):
        with pytest.raises(StatementError):
            parse_labels("x", bad)


def test_a_statement_file_with_two_sentences_on_a_line_is_refused(tmp_path):
    path = tmp_path / "z.txt"
    path.write_text("## family: one | a test\n1B | Mum was drunk. She fell over.\n")
    with pytest.raises(StatementError, match="one sentence"):
        read_author(path)


def test_statements_are_cut_at_sentence_ends_and_line_breaks_with_exact_spans():
    text = 'Visit done. Mum said "he hit me." Dr Patel saw her.\n- 14/3: DV incident, police attended\n\nNFA'
    spans = split_statements(text)
    assert [text[s:e] for s, e in spans] == [
        "Visit done.",
        'Mum said "he hit me."',
        "Dr Patel saw her.",
        "14/3: DV incident, police attended",
        "NFA",
    ]


# ---- the coder ---------------------------------------------------------------------------------------------
def test_negated_hypothetical_and_historic_statements_are_not_current(coder):
    # written for this test: none of these sentences is in the corpus
    cases = {
        "Mum was drunk again when I visited and there were empty cans all over the kitchen.": ("1B", "current"),
        "There are no concerns about alcohol and mum was sober and welcoming at every visit.": ("1B", None),
        "Mum used heroin in her twenties but has not used for over ten years.": ("2B", None),
        "If dad turns up at the house the plan is for mum to ring the police straight away.": ("3B", None),
    }
    for text, (code, status) in cases.items():
        coded = coder.code([text])[0]
        if status == "current":
            assert code in _current(coded), (text, coded)
        else:
            assert code not in _current(coded), (text, coded)


def test_whom_a_factor_concerns_is_its_letter(coder):
    cases = {
        "Kayla (14) admitted she has been drinking cider in the park every weekend with her friends.": "1A",
        "Dad was drunk when he collected the children from school and the teacher would not let them go.": "1B",
    }
    for text, code in cases.items():
        coded = coder.code([text])[0]
        assert code in _current(coded), (text, coded)
    assert {c.who for c in coder.code(list(cases))[1] if c.code == "1B"} == {"parent or carer"}


def test_a_note_whose_factor_wording_appears_nowhere_in_training_is_coded(coder):
    note = (
        "Home visit after the school's call. Kitchen cupboards bare apart from a jar of jam, the meter had run "
        "out and the baby's bottle held milk that had turned. Mum has started on antidepressants from her GP and told "
        "me she sobs most afternoons once the children are at school."
    )
    training = " ".join(t.casefold() for t, _ in factor_training_statements())
    for phrase in (
        "cupboards bare",
        "jar of jam",
        "the meter had run out",
        "milk that had turned",
        "started on antidepressants",
        "sobs most afternoons",
    ):
        assert phrase not in training, phrase
    spans = split_statements(note)
    coded = coder.code([note[s:e] for s, e in spans])
    found = set().union(*(_current(c) for c in coded))
    assert {"16A", "4B"} <= found, coded


def test_two_builds_of_one_config_are_the_same_coder(tmp_path):
    labelled = factor_training_statements()[:600]
    versions = [FactorCoder.train(labelled, CoderConfig()).save(tmp_path / str(k)) for k in range(2)]
    assert versions[0] == versions[1] == coder_version(tmp_path / "0")
    loaded = FactorCoder.load(tmp_path / "0")
    again = FactorCoder.train(labelled, CoderConfig())
    texts = [t for t, _ in factor_training_statements()[600:700]]
    assert loaded.code(texts) == again.code(texts)


# ---- in the lake -------------------------------------------------------------------------------------------
def test_every_text_item_is_coded_and_each_statement_is_its_source_text(read_council):
    from lake.entities.factor_statements import audit
    from lake.entities.items import text_items

    assert read_council.checks["every_text_item_coded"] == "SUCCEEDED"
    assert read_council.checks["statements_match_source_text"] == "SUCCEEDED"
    rows = read_council.lake.read(ENTERPRISE, FACTOR_STATEMENTS)
    version = rows["model_version"].unique().to_list()
    assert len(version) == 1
    found = audit(read_council.lake, version[0], text_items(read_council.lake))
    assert found["items_uncoded"] == 0 and found["spans_mismatched"] == 0 and found["labels"] == rows.height
    assert set(rows["status"].unique()) <= {"current", "historic", "negated", "hypothetical"}
    truth = pl.read_parquet(read_council.council.out / "truth" / "factor_statements.parquet")
    assert truth.height > 100, "the generator put hand-written statements into the council's notes"
    # incremental by content: a second run over the same texts with the same coder reads and writes nothing
    from lake.entities.factor_statements import code_items

    coder = FactorCoder.load(project_factor_coder(read_council.settings.entities), threads=1)
    assert coder.version == version[0]
    again = code_items(read_council.lake, coder)
    assert again.pending_items == 0 and again.commits == 0 and again.pruned_rows == 0


def test_child_factors_summarises_the_current_statements(read_council):
    import duckdb

    with duckdb.connect(str(read_council.settings.duckdb_path()), read_only=True) as con:
        factors = pl.from_arrow(con.sql("select * from main.child_factors").to_arrow_table())
        statements_ = pl.from_arrow(con.sql("select * from main.child_factor_statements").to_arrow_table())
    assert factors.height > 20
    current = statements_.filter(pl.col("status") == "current").group_by("child_id", "code").len()
    joined = factors.join(current, on=["child_id", "code"], how="left")
    assert (joined["current_statements"] == joined["len"]).all()
    assert (factors["first_seen"] <= factors["last_seen"]).all()
    assert set(factors["code"]) <= set(CIN_FACTOR) | {f"S:{name}" for name in STRENGTH}


def test_the_service_lists_a_childs_factors_with_their_statements_and_search_filters_by_one(read_council, tmp_path):
    import dataclasses

    from app.demo import demo_logins
    from app.service import AccessDenied, QueryService
    from lake.search.query import InvalidRequest, SearchFilters, SearchRequest
    from lake.settings import AccessSettings

    settings = dataclasses.replace(
        read_council.settings,
        access=AccessSettings(users_file=str(tmp_path / "users.json"), audit_db=str(tmp_path / "audit.sqlite")),
    )
    logins = {role: login for login, role, _w, _p in demo_logins(settings.lake(), settings.users_file())}
    service = QueryService(settings)
    worker = service.session_for(logins["social_worker"], "cli")
    visible = sorted(service.scope(worker).children)
    child = max(visible, key=lambda c: len(service.child_factors(worker, c)))
    rows = service.child_factors(worker, child)
    assert rows and all(r["meaning"] != r["code"] for r in rows)
    code = max((r for r in rows if r["kind"] == "factor"), key=lambda r: r["current_statements"])["code"]
    found = service.factor_statements(worker, child, code)
    current = [s for s in found if s["status"] == "current"]
    assert len(current) == next(r for r in rows if r["code"] == code)["current_statements"]
    assert all("<mark>" in (s["snippet_html"] or "") for s in found)
    assert not re.search(r"<(?!/?mark>)", "".join(s["snippet_html"] or "" for s in found)), "record text is escaped"
    # the audit log names the child and the code, never the statements' text
    logged = service.audit.rows(login=logins["social_worker"], action="factor_statements", limit=10)
    assert logged and code in logged[0]["request"] and current[0]["statement_label_id"] in logged[0]["result"]

    # search: only records that state the factor as current
    hits = service.search(worker, SearchRequest(sort="newest", filters=SearchFilters(child_ids=(child,), factor=code)))
    records = {(s["source_id"].split(":", 1)[0]) for s in current}
    assert hits.hits and {h.record_id for h in hits.hits} <= records
    with pytest.raises(InvalidRequest):
        service.search(worker, SearchRequest(text="drink", filters=SearchFilters(factor="99Z")))

    # a restricted child outside the worker's scope is refused, as everywhere
    restricted = read_council.lake.read(ENTERPRISE, "access_restriction").filter(pl.col("_deleted_at").is_null())
    others = sorted(set(restricted["child_id"].to_list()) - set(visible))
    assert others, "the demo worker's council holds a restricted child they may not see"
    with pytest.raises(AccessDenied):
        service.child_factors(worker, others[0])
