"""Kinship-only mentions ("Mum said", "his nan", "birth dad") linked to the child's recorded person with that
relation, on hand-built frames: fast, no model."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from lake.entities import kinship, resolution
from lake.settings import ResolutionSettings
from tests.crafted import crafted_mentions


def _family(*extra: tuple[str, str, str, str, str, str | None, dt.date | None]) -> pl.DataFrame:
    """The child Amy Hill, her mother Jo and father Tom, and any extra (person_id, relation, first, surname,
    gender, side, dob)."""
    rows = [
        ("C1", "child", "amy", "hill", "female", None, dt.date(2015, 5, 1)),
        ("P-MUM", "mother", "joanne", "hill", "female", None, dt.date(1990, 1, 1)),
        ("P-DAD", "father", "thomas", "hill", "male", None, dt.date(1988, 1, 1)),
        *extra,
    ]
    cols = ["person_id", "relation", "first_name", "surname", "gender", "side", "dob"]
    return pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows]).with_columns(pl.lit("C1").alias("child_id"))


def _links(text: str, spans: list[tuple[str, str]], people: pl.DataFrame) -> dict[str, str | None]:
    mentions, items = crafted_mentions({"n1": text}, {"n1": spans})
    return _by_text(mentions, *resolution.resolve_mentions(mentions, items, people, ResolutionSettings(threshold=0.2)))


def _by_text(mentions: pl.DataFrame, links: pl.DataFrame, _forms: pl.DataFrame) -> dict[str, str | None]:
    """Each mention's text -> its linked person (None: unlinked), and text#method -> the method."""
    by_id = {r["mention_id"]: r for r in links.iter_rows(named=True)}
    return {
        m["text"]: (by_id[m["mention_id"]]["resolved_person_id"] if m["mention_id"] in by_id else None)
        for m in mentions.iter_rows(named=True)
    } | {
        f"{m['text']}#method": (by_id[m["mention_id"]]["method"] if m["mention_id"] in by_id else None)
        for m in mentions.iter_rows(named=True)
    }


def test_mum_said_links_to_the_recorded_mother():
    got = _links("Mum said Amy has settled at school.", [("Mum", "kinship_role"), ("Amy", "person")], _family())
    assert got["Mum"] == "P-MUM" and got["Mum#method"] == "kinship"
    assert got["Amy"] == "C1"


@pytest.mark.parametrize(
    "word, person",
    [
        ("birth dad", "P-DAD"),
        ("Birth Mum", "P-MUM"),
        ("mam", "P-MUM"),
        ("Mum's", "P-MUM"),
        ("his nan", "P-NAN"),
        ("nanna", "P-NAN"),
        ("grandmother (maternal)", "P-NAN"),
        ("step-dad", "P-STEP"),
    ],
)
def test_words_workers_write_link_to_their_relation(word, person):
    people = _family(
        ("P-NAN", "grandmother", "patricia", "moss", "female", "maternal", dt.date(1960, 1, 1)),
        ("P-STEP", "stepfather", "gary", "lane", "male", None, dt.date(1985, 1, 1)),
    )
    got = _links(f"Visit completed; {word} was present.", [(word, "kinship_role")], people)
    assert got[word] == person


def test_an_ambiguous_kinship_word_stays_unlinked():
    """Two aunts recorded: "aunt" could be either, so it is linked to nobody rather than guessed."""
    people = _family(
        ("P-AUNT1", "aunt", "sue", "moss", "female", None, None),
        ("P-AUNT2", "aunt", "kath", "hill", "female", None, None),
    )
    got = _links("Amy stayed with her aunt at the weekend.", [("Amy", "person"), ("aunt", "kinship_role")], people)
    assert got["aunt"] is None


def test_a_kinship_word_with_no_recorded_relation_stays_unlinked():
    got = _links("Amy stayed with her uncle.", [("Amy", "person"), ("uncle", "kinship_role")], _family())
    assert got["uncle"] is None


def test_a_kinship_word_next_to_a_name_leaves_the_link_to_the_name():
    """'Nan Pat': the name carries the link; the word itself gets no link of its own."""
    people = _family(("P-NAN", "grandmother", "patricia", "moss", "female", "maternal", None))
    got = _links("Nan Pat collected Amy.", [("Nan", "kinship_role"), ("Pat", "person"), ("Amy", "person")], people)
    assert got["Pat"] == "P-NAN" and got["Pat#method"] != "kinship"
    assert got["Nan"] is None


def test_side_and_gender_tell_grandparents_and_siblings_apart():
    people = _family(
        ("P-MGM", "grandmother", "patricia", "moss", "female", "maternal", None),
        ("P-PGM", "grandmother", "judith", "hill", "female", "paternal", None),
        ("P-BRO", "sibling", "leo", "hill", "male", None, dt.date(2012, 1, 1)),
        ("P-SIS", "sibling", "mia", "hill", "female", None, dt.date(2018, 1, 1)),
    )
    text = "Paternal grandmother visited; her brother and sister were at school. Nan phoned."
    spans = [("Paternal grandmother", "kinship_role"), ("brother", "kinship_role"), ("sister", "kinship_role")]
    got = _links(text, [*spans, ("Nan", "kinship_role")], people)
    assert got["Paternal grandmother"] == "P-PGM"
    assert got["brother"] == "P-BRO" and got["sister"] == "P-SIS"
    assert got["Nan"] is None  # two grandmothers and no side named in its sentence


def test_an_age_chooses_among_siblings_but_never_rules_out_the_only_one():
    two = _family(
        ("P-OLD", "sibling", "leo", "hill", "male", None, dt.date(2012, 1, 1)),
        ("P-YOUNG", "sibling", "max", "hill", "male", None, dt.date(2018, 1, 1)),
    )
    got = _links(
        "Her older brother and younger brother",
        [("older brother", "kinship_role"), ("younger brother", "kinship_role")],
        two,
    )
    assert got["older brother"] == "P-OLD" and got["younger brother"] == "P-YOUNG"
    one = _family(("P-OLD", "sibling", "leo", "hill", "male", None, dt.date(2012, 1, 1)))
    assert _links("Her younger brother rang.", [("younger brother", "kinship_role")], one)["younger brother"] == "P-OLD"


def test_the_familys_usage_anywhere_decides_only_when_asked_for():
    """Two grandmothers, and the child's records write "Nan Pat": under decision 0018's rule a later bare "Nan" is
    Pat (kinship_usage); by default (0044) usage alone links no ambiguous word."""
    people = _family(
        ("P-MGM", "grandmother", "patricia", "moss", "female", "maternal", None),
        ("P-PGM", "grandmother", "judith", "hill", "female", "paternal", None),
    )
    mentions, items = crafted_mentions(
        {"n1": "Nan Pat collected Amy.", "n2": "Nan said Amy was tired."},
        {
            "n1": [("Nan", "kinship_role"), ("Pat", "person"), ("Amy", "person")],
            "n2": [("Nan", "kinship_role"), ("Amy", "person")],
        },
    )
    rules = ResolutionSettings(threshold=0.2)
    links, _ = resolution.resolve_mentions(mentions, items, people, rules, ambiguous_kin="family")
    nan = links.filter(pl.col("mention_id") == "n2:0")
    assert nan["resolved_person_id"].to_list() == ["P-MGM"] and nan["method"].to_list() == ["kinship_usage"]
    by_default, _ = resolution.resolve_mentions(mentions, items, people, rules)
    assert by_default.filter(pl.col("mention_id") == "n2:0").is_empty()


def test_kin_words_are_read_with_side_gender_and_age():
    read = kinship.read_kin_word
    assert read("grandmother (maternal)") == kinship.KinWord("grandmother", "maternal", "female")
    assert read("his older sister") == kinship.KinWord("sibling", None, "female", "older")
    assert read("Step-Dad's") == kinship.KinWord("stepfather", None, "male")
    assert read("great-grandmother") is None and read("social worker") is None and read("mother-in-law") is None


def _grandmothers() -> pl.DataFrame:
    return _family(
        ("P-MGM", "grandmother", "patricia", "moss", "female", "maternal", None),
        ("P-PGM", "grandmother", "judith", "hill", "female", "paternal", None),
    )


def test_nana_in_a_sentence_about_the_maternal_grandmother_is_her():
    """Issue 42: the sentence names the maternal grandmother, so its "Nana" is her, not the paternal one."""
    text = "Visited maternal grandmother Pat Moss at her flat; Nana said Amy had slept well."
    spans = [("maternal grandmother", "kinship_role"), ("Pat Moss", "person"), ("Nana", "kinship_role")]
    got = _links(text, [*spans, ("Amy", "person")], _grandmothers())
    assert got["Pat Moss"] == "P-MGM"
    assert got["Nana"] == "P-MGM" and got["Nana#method"] == "kinship_context"


def test_a_side_named_in_the_sentence_picks_that_grandparent():
    text = "Amy stays with her paternal grandmother at weekends and Nan takes her to football."
    got = _links(
        text, [("Amy", "person"), ("paternal grandmother", "kinship_role"), ("Nan", "kinship_role")], _grandmothers()
    )
    assert got["paternal grandmother"] == "P-PGM" and got["Nan"] == "P-PGM"


def test_a_first_name_nearby_picks_the_right_grandmother():
    for name, person in (("Judith", "P-PGM"), ("Pat", "P-MGM")):
        got = _links(
            f"{name} rang; Nan said Amy can stay at weekends.",
            [(name, "person"), ("Nan", "kinship_role"), ("Amy", "person")],
            _grandmothers(),
        )
        assert got[name] == person and got["Nan"] == person


def test_an_unscoped_nan_with_two_grandmothers_stays_unlinked():
    got = _links("Nan said Amy was tired after school.", [("Nan", "kinship_role"), ("Amy", "person")], _grandmothers())
    assert got["Nan"] is None


def test_a_grandparent_named_in_the_same_list_is_another_person():
    """'Maternal grandmother Pat, Nan and Mum attended': Nan is not Pat, and nothing else names her."""
    text = "Present: maternal grandmother Pat, Nan and Mum."
    spans = [
        ("maternal grandmother", "kinship_role"),
        ("Pat", "person"),
        ("Nan", "kinship_role"),
        ("Mum", "kinship_role"),
    ]
    got = _links(text, spans, _grandmothers())
    assert got["Pat"] == "P-MGM" and got["Nan"] is None and got["Mum"] == "P-MUM"


def test_the_familys_word_for_the_other_grandmother_is_not_overruled_by_the_sentence():
    """The records write "Nana Judith" (the paternal grandmother): a sentence naming Pat does not make its "Nana"
    Pat, and the usage alone does not make it Judith either: it stays unlinked, on nobody's node."""
    people = _grandmothers()
    second = "Visited Pat Moss at her flat; Nana said Amy had slept well."
    mentions, items = crafted_mentions(
        {"n1": "Nana Judith collected Amy.", "n2": second},
        {
            "n1": [("Nana", "kinship_role"), ("Judith", "person"), ("Amy", "person")],
            "n2": [("Pat Moss", "person"), ("Nana", "kinship_role"), ("Amy", "person")],
        },
    )
    links, _ = resolution.resolve_mentions(mentions, items, people, ResolutionSettings(threshold=0.2))
    person = dict(zip(links["mention_id"], links["resolved_person_id"], strict=True))
    assert person["n1:5"] == "P-PGM" and person[f"n2:{second.index('Pat')}"] == "P-MGM"
    assert f"n2:{second.index('Nana')}" not in person


def test_a_sentence_beside_decides_only_with_the_familys_usage_and_only_when_asked():
    people = _grandmothers()
    texts = {"n1": "Nan Judith collected Amy.", "n2": "Visited Judith at home. Nan said Amy was tired."}
    spans = {
        "n1": [("Nan", "kinship_role"), ("Judith", "person"), ("Amy", "person")],
        "n2": [("Judith", "person"), ("Nan", "kinship_role"), ("Amy", "person")],
    }
    mentions, items = crafted_mentions(texts, spans)
    rules = ResolutionSettings(threshold=0.2)
    nan = f"n2:{texts['n2'].index('Nan')}"
    assert _by_text(mentions, *resolution.resolve_mentions(mentions, items, people, rules))["Nan"] is None
    links, _ = resolution.resolve_mentions(mentions, items, people, rules, ambiguous_kin="context")
    assert links.filter(pl.col("mention_id") == nan)["resolved_person_id"].to_list() == ["P-PGM"]
    # without the family's "Nan Judith" the sentence beside decides nothing, even when asked
    alone, alone_items = crafted_mentions({"n2": texts["n2"]}, {"n2": spans["n2"]})
    links, _ = resolution.resolve_mentions(alone, alone_items, people, rules, ambiguous_kin="context")
    assert links.filter(pl.col("mention_id") == nan).is_empty()


def test_sentences_do_not_end_at_an_initial_or_a_title():
    text = "Spoke to K. Bowen and Dr. Hill. Nan rang!\nNext line"
    starts = kinship.sentence_starts(text)
    assert [text[a:b].strip() for a, b in zip(starts, [*starts[1:], len(text)], strict=True)] == [
        "Spoke to K. Bowen and Dr. Hill.",
        "Nan rang!",
        "Next line",
    ]
