"""The span conventions and the gazetteer, on crafted text: no model needed (the model's own behaviour on the
same cases is tested in test_entities.py)."""

from __future__ import annotations

import polars as pl

from lake.entities.extraction import mention_method
from lake.entities.gazetteer import GAZETTEER_MODEL, Gazetteer, merge
from lake.entities.model import MODEL_LABELS, PROMPT_TO_LABEL
from lake.entities.patterns import Mention, find_all
from lake.entities.roles import ROLES_MODEL, fill_gaps, find_roles
from lake.entities.span_rules import apply_span_conventions, decode_flat


def _model(text: str, *spans: tuple[str, str]) -> list[Mention]:
    return [Mention(text.index(t), text.index(t) + len(t), label, t, 0.9, "a-model") for t, label in spans]


def _as_text(ms: list[Mention]) -> list[tuple[str, str]]:
    return [(m.text, m.label) for m in ms]


def test_a_rank_or_role_before_a_name_is_its_own_mention_and_not_part_of_the_person():
    text = "PC Dave Hill and social worker Jane Smith attended."
    found = apply_span_conventions(
        text, _model(text, ("PC Dave Hill", "person"), ("social worker Jane Smith", "person"))
    )
    assert _as_text(found) == [
        ("PC", "professional_role"),
        ("Dave Hill", "person"),
        ("social worker", "professional_role"),
        ("Jane Smith", "person"),
    ]
    assert all(text[m.start : m.end] == m.text for m in found)


def _candidates(text: str, *spans: tuple[str, str, float]) -> list[dict]:
    """The model's nested-decoding output for ``text``: each span with its label prompt and score."""
    return [
        {"start": text.index(t), "end": text.index(t) + len(t), "label": MODEL_LABELS[label], "score": score}
        for t, label, score in spans
    ]


def _decoded(text: str, *spans: tuple[str, str, float]) -> list[tuple[str, str]]:
    return [
        (text[c["start"] : c["end"]], PROMPT_TO_LABEL[c["label"]]) for c in decode_flat(text, _candidates(text, *spans))
    ]


def test_a_meeting_or_status_abbreviation_is_not_a_role_a_body_or_a_factor():
    text = "LAC review chaired by the IRO; CP conf on Monday; MARAC referral made by the SW; CP chair agreed. Strat disc held."
    assert _decoded(
        text,
        ("LAC review chaired", "professional_role", 0.9),
        ("IRO", "professional_role", 0.9),
        ("CP conf", "risk_factor", 0.9),
        ("MARAC", "professional_role", 0.9),
        ("SW", "professional_role", 0.9),
        ("CP chair", "professional_role", 0.9),
        ("Strat disc", "organisation", 0.9),
    ) == [("IRO", "professional_role"), ("SW", "professional_role"), ("CP chair", "professional_role")]


def test_a_span_across_a_sentence_end_gives_way_to_the_shorter_spans_inside_it():
    text = "Checks: Cheshire Police - no trace. Castleford CAMHS - known. Plan: bedtime routine.\nCP conf 4.2.25."
    assert _decoded(
        text,
        ("Cheshire Police - no trace. Castleford CAMHS", "organisation", 0.95),  # the model's best, and wrong
        ("Cheshire Police", "organisation", 0.7),
        ("Castleford CAMHS", "organisation", 0.6),
        ("bedtime routine.\nCP conf", "protective_factor", 0.8),
        ("bedtime routine", "protective_factor", 0.55),
    ) == [
        ("Cheshire Police", "organisation"),
        ("Castleford CAMHS", "organisation"),
        ("bedtime routine", "protective_factor"),
    ]
    # the overlapping spans are still decided by score, as GLiNER's flat decoding does
    assert _decoded(text, ("Cheshire Police", "organisation", 0.7), ("Police", "organisation", 0.8)) == [
        ("Police", "organisation")
    ]


def test_an_abbreviation_or_an_initial_is_no_sentence_end():
    text = "Seen by Dr. Patel and J. Perry at St. Mary's School; Sgt. Hill attended."
    assert _decoded(
        text,
        ("Dr. Patel", "person", 0.9),
        ("J. Perry", "person", 0.9),
        ("St. Mary's School", "school", 0.9),
        ("Sgt. Hill", "person", 0.9),
    ) == [("Dr. Patel", "person"), ("J. Perry", "person"), ("St. Mary's School", "school"), ("Sgt. Hill", "person")]


def test_only_an_address_runs_over_a_comma_and_no_mention_over_a_list_item_or_a_semicolon():
    text = (
        "Present: Jade Perry, HV, Home Office; Mum at 12 Hill Road, Hull.\n1. form tutor (SW) and\n2. the school nurse"
    )
    assert _decoded(
        text,
        ("Jade Perry, HV", "person", 0.9),
        ("HV, Home Office", "professional_role", 0.9),
        ("Home Office; Mum", "organisation", 0.9),
        ("12 Hill Road, Hull", "address", 0.9),
        ("form tutor (SW) and\n2. the school nurse", "professional_role", 0.9),
        ("form tutor (SW", "professional_role", 0.8),
        ("form tutor (SW)", "professional_role", 0.7),
    ) == [("12 Hill Road, Hull", "address"), ("form tutor (SW)", "professional_role")]


def test_an_organisation_or_a_school_is_a_named_body_with_a_capital_letter():
    text = "Rang housing about the repairs; a refuge space is free at Hull Women's Refuge. The school nurse rang."
    assert _decoded(
        text,
        ("housing", "organisation", 0.9),
        ("refuge space", "organisation", 0.9),
        ("Hull Women's Refuge", "organisation", 0.9),
        ("school nurse", "professional_role", 0.9),  # a role is a common noun: lower case is its usual form
    ) == [("Hull Women's Refuge", "organisation"), ("school nurse", "professional_role")]


def test_a_body_named_as_a_school_is_a_school_whatever_the_model_called_it():
    text = "Met Mum at Woodlands High School; Wolfreton Academy, Hull College and the Virtual School rang. Hull Police too."
    found = apply_span_conventions(
        text,
        _model(
            text,
            ("Woodlands High School", "organisation"),
            ("Wolfreton Academy", "organisation"),
            ("Hull College", "school"),
            ("Virtual School", "organisation"),  # the council's team for children in care, not a setting
            ("Hull Police", "organisation"),
        ),
    )
    assert _as_text(found) == [
        ("Woodlands High School", "school"),
        ("Wolfreton Academy", "school"),
        ("Hull College", "school"),
        ("Virtual School", "organisation"),
        ("Hull Police", "organisation"),
    ]


def test_a_factor_ends_before_a_verb_the_model_ran_on_into():
    text = "Reviewed sooner if concerns about neglect arise. Self-harm remains the worry."
    found = apply_span_conventions(
        text, _model(text, ("neglect arise", "risk_factor"), ("Self-harm remains", "risk_factor"))
    )
    assert _as_text(found) == [("neglect", "risk_factor"), ("Self-harm", "risk_factor")]
    one_word = apply_span_conventions("It continues.", _model("It continues.", ("continues", "risk_factor")))
    assert _as_text(one_word) == [("continues", "risk_factor")]  # nothing left to keep: left as it is


def test_a_factor_the_record_says_is_absent_is_dropped():
    text = (
        "Seen by the HV; no concerns about growth or development. No further evidence of neglect. Mum denies drug use. "
        "Concerns about domestic abuse remain; no concerns regarding the good school attendance."
    )
    found = apply_span_conventions(
        text,
        _model(
            text,
            ("growth or development", "risk_factor"),
            ("neglect", "risk_factor"),
            ("drug use", "risk_factor"),
            ("domestic abuse", "risk_factor"),
            ("good school attendance", "protective_factor"),
            ("HV", "professional_role"),
        ),
    )
    # only the factors are held to it: a concern stated is kept, and a role is never dropped for a cue before it
    assert _as_text(found) == [("HV", "professional_role"), ("domestic abuse", "risk_factor")]


def test_a_kinship_word_before_a_name_is_split_off_and_a_courtesy_title_dropped():
    text = "Mum Keisha and maternal grandmother Pat met Mrs Hill."
    found = apply_span_conventions(
        text,
        _model(text, ("Mum Keisha", "person"), ("maternal grandmother Pat", "person"), ("Mrs Hill", "person")),
    )
    assert _as_text(found) == [
        ("Mum", "kinship_role"),
        ("Keisha", "person"),
        ("maternal grandmother", "kinship_role"),
        ("Pat", "person"),
        ("Hill", "person"),
    ]


def test_a_possessive_ends_a_person_but_not_an_organisation_named_with_one():
    text = "Keisha's phone is off; Mum's partner called Barnardo's."
    found = apply_span_conventions(
        text, _model(text, ("Keisha's", "person"), ("Mum's", "kinship_role"), ("Barnardo's", "organisation"))
    )
    assert _as_text(found) == [("Keisha", "person"), ("Mum", "kinship_role"), ("Barnardo's", "organisation")]


def test_a_split_off_role_the_model_also_found_is_one_mention():
    text = "HV Tracey Brown visited."
    found = apply_span_conventions(text, _model(text, ("HV Tracey Brown", "person"), ("HV", "professional_role")))
    assert _as_text(found) == [("HV", "professional_role"), ("Tracey Brown", "person")]


def test_a_single_name_that_looks_like_a_role_is_left_alone():
    text = "Dr said so; Mum said so."
    found = apply_span_conventions(text, _model(text, ("Dr", "person"), ("Mum", "kinship_role")))
    assert _as_text(found) == [("Dr", "person"), ("Mum", "kinship_role")]


ADDRESSES = pl.DataFrame(
    {
        "child_id": ["C1", "C1", "C2"],
        "line1": ["14 Church Lane", "3  Mill  Road", "9 Station Road"],
        "town": ["Beverley", "Hessle", "Goole"],
    }
)


def test_the_gazetteer_finds_the_child_networks_recorded_addresses_exactly():
    gazetteer = Gazetteer.from_frames(ADDRESSES)
    text = "Visited 14 church lane, Beverley, HU17 8AB; Nan lives at 3 Mill Road,\nHessle. Not 14 Church Laneway."
    found = gazetteer.find(text, "C1")
    assert _as_text(found) == [("14 church lane, Beverley", "address"), ("3 Mill Road,\nHessle", "address")]
    assert all(m.model == GAZETTEER_MODEL and text[m.start : m.end] == m.text for m in found)
    # another child's recorded address is not this child's; a child with none finds nothing
    assert gazetteer.find("9 Station Road, Goole", "C1") == []
    assert _as_text(gazetteer.find("9 Station Road, Goole", "C2")) == [("9 Station Road, Goole", "address")]
    assert gazetteer.find(text, "C9") == []


def test_a_recorded_address_replaces_the_models_overlapping_guess_and_keeps_the_patterns():
    text = "Visited 14 Church Lane, Beverley, HU17 8AB with Pat."
    model = _model(text, ("Church Lane, Beverley", "address"), ("Pat", "person"))
    recorded = Gazetteer.from_frames(ADDRESSES).find(text, "C1")
    merged = merge(sorted([*model, *find_all(text)], key=lambda m: m.start), recorded)
    assert _as_text(merged) == [
        ("14 Church Lane, Beverley", "address"),
        ("HU17 8AB", "postcode"),
        ("Pat", "person"),
    ]


NAMES = pl.DataFrame(
    {
        "child_id": ["C1", "C1", "C1", "C2"],
        "first_name": ["Leanne", "Grace", "Dwayne", "Keisha"],
        "surname": ["Brady", "Brady", "Brady", "Hill"],
    }
)


def test_the_gazetteer_finds_recorded_names_a_first_name_only_as_recorded():
    gazetteer = Gazetteer.from_frames(ADDRESSES, NAMES)
    text = (
        "Leanne has a plan. leanne brady agreed; grace brady too. Grace was kind. L.Leanne; leanne said; Leanne's coat."
    )
    found = gazetteer.find(text, "C1")
    # a full name in any case; a first name only capitalised, never one that is a word ("Grace"), never after a dot
    assert _as_text(found) == [
        ("Leanne", "person"),
        ("leanne brady", "person"),
        ("grace brady", "person"),
        ("Leanne", "person"),
    ]
    assert found[-1].start == text.index("Leanne's")  # a person ends before the possessive
    assert gazetteer.find("Keisha rang.", "C1") == []  # another child's network


def test_a_recorded_name_fills_a_gap_or_joins_the_models_person_and_replaces_nothing():
    text = "Leanne Rebecca Brady was seen. Dwayne phoned Leanne at the Dwayne Brady Trust."
    model = _model(text, ("Rebecca Brady", "person"), ("Dwayne Brady Trust", "organisation"))
    recorded = Gazetteer.from_frames(ADDRESSES, NAMES).find(text, "C1")
    assert _as_text(merge(model, recorded, text)) == [
        ("Leanne Rebecca Brady", "person"),  # the first name just before the model's person joins it
        ("Dwayne", "person"),
        ("Leanne", "person"),
        ("Dwayne Brady Trust", "organisation"),  # the model's organisation keeps its words
    ]


def test_a_named_body_begins_with_the_capitalised_word_the_model_left_off():
    text = "Mum met the HV at All Saints College. Checks with The Children's Society. Rang Orchard Homes. I saw Mum Hull CAMHS"
    found = apply_span_conventions(
        text,
        _model(
            text,
            ("Saints College", "school"),
            ("Children's Society", "organisation"),
            ("Orchard Homes", "organisation"),  # "Rang" begins the sentence: a verb, not the name
            ("Hull CAMHS", "organisation"),  # "Mum" is a kinship word
        ),
    )
    assert _as_text(found) == [
        ("All Saints College", "school"),
        ("The Children's Society", "organisation"),
        ("Orchard Homes", "organisation"),
        ("Hull CAMHS", "organisation"),
    ]


def test_the_role_list_finds_roles_written_alone_and_fills_only_the_models_gaps():
    text = "The solicitor and the TM met aunty; SW\n1. Hull GP Surgery rang. Mum said the sw Postcode YO16 5SW."
    model = _model(text, ("Hull GP Surgery", "organisation"), ("Mum", "kinship_role"))
    found = fill_gaps(model, find_roles(text))
    assert _as_text(found) == [
        ("solicitor", "professional_role"),
        ("TM", "professional_role"),
        ("SW", "professional_role"),
        ("Hull GP Surgery", "organisation"),  # "GP" inside it is the organisation's
        ("Mum", "kinship_role"),
    ]  # an abbreviation matches in capitals only: not "sw", not the "SW" of a postcode
    assert {m.model for m in found if m.label == "professional_role"} == {ROLES_MODEL}
    assert mention_method(found[0]) == "role_list"


def test_a_label_with_a_least_score_of_its_own_keeps_it():
    text = "Worried about rent arrears; Plan: weekly youth club."
    spans = (("rent arrears", "risk_factor", 0.35), ("weekly youth club", "protective_factor", 0.25))
    least = {"risk_factor": 0.3, "protective_factor": 0.3}
    assert _decoded(text, *spans) == [("rent arrears", "risk_factor"), ("weekly youth club", "protective_factor")]
    assert [c["score"] for c in decode_flat(text, _candidates(text, *spans), least)] == [0.35]


def test_a_factor_is_the_widest_factor_phrase_the_model_proposes_around_it():
    # The model scores the familiar core of a phrase it never saw higher than the whole phrase: the whole is kept
    # where the model proposes it at all (FACTOR_WIDEN_FLOOR), and where it takes no other mention's words.
    text = "Grandad continues to provide a parent in stable employment. Plan: good bond with Nan at home."
    least = {"risk_factor": 0.3, "protective_factor": 0.3}
    spans = (
        ("stable employment", "protective_factor", 0.6),
        ("parent in stable employment", "protective_factor", 0.25),
        ("in stable employment", "risk_factor", 0.4),
        ("good bond", "protective_factor", 0.5),
        ("good bond with Nan at home", "protective_factor", 0.3),  # would take the kinship role's words
        ("Nan", "kinship_role", 0.9),
        ("a parent in stable employment. Plan", "protective_factor", 0.35),  # not admissible: crosses a sentence
    )
    found = [(text[c["start"] : c["end"]], c["score"]) for c in decode_flat(text, _candidates(text, *spans), least)]
    assert found == [("parent in stable employment", 0.25), ("good bond", 0.5), ("Nan", 0.9)]
    # below the floor, the phrase the model proposes is not taken
    weak = (("stable employment", "protective_factor", 0.6), ("parent in stable employment", "protective_factor", 0.1))
    assert [text[c["start"] : c["end"]] for c in decode_flat(text, _candidates(text, *weak), least)] == [
        "stable employment"
    ]
