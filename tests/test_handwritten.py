"""Issue 36: entities on writing nobody templated. The hand-written corpus (its shape and split), the address
grammar and the date forms on sentences written for these tests (in no corpus note and no template), and the
model on each miss pattern the issue names."""

from __future__ import annotations

from collections import Counter

import polars as pl
import pytest

from corpus.handwritten import EVAL_AUTHORS, LABELS, MarkupError, notes, parse_note
from evaluation.handwritten import score, truth
from lake.entities.addresses import find_addresses
from lake.entities.patterns import find_dates


def test_the_corpus_is_four_hundred_notes_split_by_author_with_every_register_on_both_sides():
    every = list(notes())
    train, held_out = list(notes("train")), list(notes("eval"))
    assert len(every) >= 400 and len(train) + len(held_out) == len(every)
    assert all(100 <= n.words <= 400 for n in every), [n.note_id for n in every if not 100 <= n.words <= 400]
    assert {n.author for n in held_out} == EVAL_AUTHORS and not {n.author for n in train} & EVAL_AUTHORS
    assert len({n.note_id for n in every}) == len(every)
    assert {n.register for n in held_out} == {n.register for n in train}  # same registers, other authors' layouts
    labels = Counter(label for n in held_out for _, _, label in n.spans)
    assert set(labels) == LABELS and min(labels.values()) >= 5  # every label is scored on the held-out part


def test_marks_become_exact_spans_and_a_broken_mark_is_a_clear_error():
    note = parse_note("t-1", "t", "letter", "Dear {{person|Ms Lund}}-ish\n{{address|Flat 2,\n9 Bede Road, Jarrow}}")
    assert [(note.text[s:e], label) for s, e, label in note.spans] == [
        ("Ms Lund", "person"),
        ("Flat 2,\n9 Bede Road, Jarrow", "address"),
    ]
    with pytest.raises(MarkupError, match="unknown label"):
        parse_note("t-2", "t", "letter", "{{persn|Rebecca}}")
    with pytest.raises(MarkupError, match="unbalanced"):
        parse_note("t-3", "t", "letter", "{{person|Rebecca}")


def test_the_score_is_strict_on_spans_and_labels():
    note = parse_note("t-1", "t", "letter", "{{person|Amira}} and {{person|Yusuf Haddad}} at {{date|Sept 2021}}")
    # "Yusuf" alone (the miss the issue names) is wrong, not half right; the date is not found at all
    given = pl.DataFrame(
        {"source_id": ["t-1", "t-1"], "start": [0, 10], "end": [5, 15], "label": ["person", "person"]},
        schema={"source_id": pl.String, "start": pl.Int64, "end": pl.Int64, "label": pl.String},
    )
    scores, _, misses = score([note], given)
    person = scores.filter(pl.col("label") == "person").row(0, named=True)
    assert (person["tp"], person["true"], person["predicted"]) == (1, 2, 2)
    assert sorted(zip(misses["kind"], misses["text"], strict=True)) == [
        ("missed", "Sept 2021"),
        ("missed", "Yusuf Haddad"),
        ("spurious", "Yusuf"),
    ]
    assert score([note], truth([note]))[0].filter(pl.col("label") == "all")["f1"].item() == 1.0


# Sentences written for these tests: nobody's template, in no corpus note.
ADDRESSES = {
    "Found at 3am at Flat 4, Harrow Court, 27 Stanley Road, Bootle L20 3DT with two older lads.": [
        "Flat 4, Harrow Court, 27 Stanley Road, Bootle"
    ],
    "Nan lives at Rose Cottage, Mill Lane, Skidby and has the boys most weekends.": ["Rose Cottage, Mill Lane, Skidby"],
    "The family moved to Plot 12, Greenacres Caravan Park, Selby Road, Howden in the spring.": [
        "Plot 12, Greenacres Caravan Park, Selby Road, Howden"
    ],
    "Mrs Okafor\n14 Fenwick Street\nSouth Shields\nNE33 4QP\n\nDear Mrs Okafor,": ["14 Fenwick Street\nSouth Shields"],
    "She was staying at her cousin's, 7a Gordon Terrace, Consett, until the police came.": [
        "7a Gordon Terrace, Consett"
    ],
    "Kai was seen on Wellington Road on Sunday and at Langley House later.": ["Wellington Road", "Langley House"],
    "Referral from Medway County Court and Castle Hill Hospital; Marcus Hill rang back.": [],
}


@pytest.mark.parametrize("text", list(ADDRESSES))
def test_an_address_nobody_recorded_is_read_by_its_grammar(text):
    assert [text[s:e] for s, e in find_addresses(text)] == ADDRESSES[text]


DATES = {
    "Known to us since Nov 2022 and on a plan from Sept 2021.": ["Nov 2022", "Sept 2021"],
    "Core group on Tues 4th June, review Weds 10/07/24, visit Thurs 7th.": [
        "Tues 4th June",
        "Weds 10/07/24",
        "Thurs 7th",
    ],
    "Assessed by CAMHS in March '23; letter dated the 2nd of May.": ["March '23", "2nd of May"],
    "Missed school since February; she moved in May. Mum may ring back.": ["February", "May"],
    "24/7 supervision for 1/2 the week, on the 9th centile.": [],
}


@pytest.mark.parametrize("text", list(DATES))
def test_dates_in_the_forms_workers_write_them(text):
    assert [m.text for m in find_dates(text)] == DATES[text]


# Each miss the issue names, in a note written for this test. The whole extractor (model, patterns, grammar,
# span rules), as the asset runs it, with no gazetteer: nothing here is recorded anywhere.
MISS_PATTERNS = """From: Rebecca Lund <r.lund@example.org>
Sent: Tues 4th June 2024 16:10
Subject: RE: Tomasz WOJCIK - school move

Hi Priya,

Amira and Yusuf Haddad came to the office with Nia MENSAH, the family friend who has been helping since Nov 2022.
They are staying with the maternal aunt at Flat 9, Cobden House, 41 Marsh Lane, Preston until the council
finds them somewhere. Tomasz has not been in school since Sept 2021 and the next review is Weds 10/07/24.

Yours sincerely

Rebecca Lund
Social Worker"""


@pytest.fixture(scope="module")
def miss_pattern_mentions(entity_model_dir):
    from lake.entities.extraction import EntityExtractor
    from lake.settings import EntitySettings

    (found,) = EntityExtractor.load(entity_model_dir, EntitySettings()).extract([MISS_PATTERNS])
    return {(m.text, m.label) for m in found}


@pytest.mark.parametrize(
    "expected",
    [
        [("Amira", "person"), ("Yusuf Haddad", "person")],  # a name after "and"
        [("Rebecca Lund", "person")],  # a name at a line's start, under "Yours sincerely" and in a From: line
        [("Nia MENSAH", "person")],  # a surname in capitals
        [("Tomasz WOJCIK", "person")],  # a name in a subject line
        [("Nov 2022", "date"), ("Sept 2021", "date")],  # month-year dates
        [("Tues 4th June 2024", "date"), ("Weds 10/07/24", "date")],  # weekday-led dates
        [("Flat 9, Cobden House, 41 Marsh Lane, Preston", "address")],  # an address no record holds
    ],
    ids=["after-and", "line-start", "capitals", "subject-line", "month-year", "weekday-led", "unrecorded-address"],
)
def test_each_miss_the_issue_names_is_found_in_a_note_nobody_templated(miss_pattern_mentions, expected):
    assert set(expected) <= miss_pattern_mentions, sorted(miss_pattern_mentions)
