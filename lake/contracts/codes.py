"""Canonical code lists: the values the enterprise layer holds, whatever the source system sent.

DfE codes follow the SSDA903 and CIN census guidance; the rest are caselake's own lists.
Source systems map their own codes onto these (``lake.contracts.sources``).
"""

from __future__ import annotations

SEX = ("M", "F")
GENDER = ("male", "female", "non-binary")
PERSON_TYPE = ("child", "adult")
ETHNICITY = (
    "WBRI",
    "WIRI",
    "WOTH",
    "WIRT",
    "WROM",
    "MWBC",
    "MWBA",
    "MWAS",
    "MOTH",
    "AIND",
    "APKN",
    "ABAN",
    "AOTH",
    "BCRB",
    "BAFR",
    "BOTH",
    "CHNE",
    "OOTH",
    "REFU",
    "NOBT",
)
DISABILITY = ("MOB", "HAND", "PC", "INC", "COMM", "LD", "HEAR", "VIS", "BEH", "CON", "AUT", "DDA", "NONE")
RELATION = (
    "mother",
    "father",
    "stepmother",
    "stepfather",
    "brother",
    "sister",
    "maternal grandmother",
    "maternal grandfather",
    "paternal grandmother",
    "paternal grandfather",
    "aunt",
    "uncle",
    "family friend",
    "neighbour",
    "foster carer",
    "mother's partner",
    "godparent",
)
NAME_REASON = ("birth", "marriage", "change of name", "gender change", "correction")
WORKER_ROLE = ("Social Worker", "Senior Practitioner", "Team Manager", "Family Support Worker")
CIN_REASON = ("N0", "N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "N9")
CP_CATEGORY = ("NEG", "PHY", "EMO", "SAB", "MUL")
CLA_LEGAL_STATUS = ("C1", "C2", "D1", "E1", "J1", "J2", "J3", "L1", "L2", "L3", "V2", "V3", "V4")
CLA_PLACEMENT_TYPE = (
    "A3",
    "A4",
    "A5",
    "A6",
    "H5",
    "K1",
    "K2",
    "P1",
    "P2",
    "P3",
    "R1",
    "R2",
    "R3",
    "R5",
    "S1",
    "T0",
    "T1",
    "T2",
    "T3",
    "T4",
    "U1",
    "U2",
    "U3",
    "U4",
    "U5",
    "U6",
    "Z1",
)
NOTE_TYPE = (
    "Home Visit",
    "Strategy Discussion",
    "Safety Planning",
    "Supervision",
    "Contact Session",
    "School Meeting",
    "Telephone Call",
    "Health Appointment",
    "Court",
)
DOCUMENT_TYPE = (
    "safety plan",
    "birth certificate",
    "court application",
    "PLO letter",
    "parenting assessment",
    "qualification certificate",
    "police check",
    "MARAC minutes",
    "child protection conference minutes",
    "school report",
    "health assessment",
    "letter",
)
# Reason for a change of placement (SSDA903 REASON_PLACE_CHANGE).
REASON_PLACE_CHANGE = (
    "CARPL",
    "CLOSE",
    "ALLEG",
    "STAND",
    "APPRR",
    "CREQB",
    "CREQO",
    "CHILD",
    "LAREQ",
    "PLACE",
    "CUSTOD",
    "OTHER",
)
REVIEW_PARTICIPATION = ("PN0", "PN1", "PN2", "PN3", "PN4", "PN5", "PN6", "PN7")  # SSDA903 REVIEW_CODE
MISSING_TYPE = ("M", "A")  # SSDA903 MISSING: missing, or away from placement without authorisation
FORM_TYPE = ("Child and Family Assessment", "Strategy Discussion Record", "Child Protection Review")

# Neutral column -> its canonical code list. A column listed here is validated against it in staging
# (after the source system's own code map, where it has one).
CODE_LISTS: dict[str, tuple[str, ...]] = {
    "sex": SEX,
    "gender": GENDER,
    "person_type": PERSON_TYPE,
    "ethnicity": ETHNICITY,
    "relation": RELATION,
    "reason": NAME_REASON,
    "role": WORKER_ROLE,
    "reason_code": CIN_REASON,
    "category": CP_CATEGORY,
    "legal_status": CLA_LEGAL_STATUS,
    "placement_type": CLA_PLACEMENT_TYPE,
    "note_type": NOTE_TYPE,
    "document_type": DOCUMENT_TYPE,
    "form_type": FORM_TYPE,
    "reason_place_change": REASON_PLACE_CHANGE,
    "participation": REVIEW_PARTICIPATION,
    "missing_type": MISSING_TYPE,
}

# CIN census "factors identified at the end of assessment" (DfE CIN census guide; Data to Insight's ssd-data-model
# keeps the same list). For factors 1-6 the letter says whom the concern is about: A the child, B a parent or carer,
# C another person in the household. 18 and 19 say who abuses: B another child, C an adult. 20 (other) and 21 (no
# factors) are the census's own bookkeeping: caselake never reads them out of text (decision 0037).
CIN_FACTOR = {
    "1A": "alcohol misuse: the child",
    "1B": "alcohol misuse: a parent or carer",
    "1C": "alcohol misuse: another person in the household",
    "2A": "drug misuse: the child",
    "2B": "drug misuse: a parent or carer",
    "2C": "drug misuse: another person in the household",
    "3A": "domestic abuse: the child subject to it",
    "3B": "domestic abuse: a parent or carer subject to it",
    "3C": "domestic abuse: another person in the household subject to it",
    "4A": "mental health: the child",
    "4B": "mental health: a parent or carer",
    "4C": "mental health: another person in the household",
    "5A": "learning disability: the child",
    "5B": "learning disability: a parent or carer",
    "5C": "learning disability: another person in the household",
    "6A": "physical disability or illness: the child",
    "6B": "physical disability or illness: a parent or carer",
    "6C": "physical disability or illness: another person in the household",
    "7A": "young carer",
    "8B": "privately fostered: overseas, intending to return",
    "8C": "privately fostered: overseas, intending to stay",
    "8D": "privately fostered: UK, for education",
    "8E": "privately fostered: UK, family making other arrangements",
    "8F": "privately fostered: other",
    "9A": "unaccompanied asylum-seeking child",
    "10A": "going missing",
    "11A": "child sexual exploitation",
    "12A": "trafficking",
    "13A": "gangs",
    "14A": "socially unacceptable behaviour",
    "15A": "self-harm",
    "16A": "neglect",
    "17A": "emotional abuse",
    "18B": "physical abuse by another child",
    "18C": "physical abuse by an adult",
    "19B": "sexual abuse by another child",
    "19C": "sexual abuse by an adult",
    "22A": "female genital mutilation",
    "23A": "abuse linked to faith or belief",
    "24A": "child criminal exploitation",
}
# Who a factor concerns, from its letter where the letter says so (1-6).
CIN_FACTOR_WHO = {"A": "child", "B": "parent or carer", "C": "other household member"}
# Strengths: caselake's own small taxonomy (the census has none). docs/entities.md gives examples of each.
STRENGTH = {
    "family_network": "a supportive family or friends network around the child",
    "engagement": "the family engages with services and the plan",
    "stable_home": "a stable, safe home: housing, routines, a settled placement",
    "education": "attending and getting on at school, college or nursery",
    "recovery": "a parent's or the child's recovery: abstinence, treatment kept up, health improving",
    "resilience": "the child's own resilience: friendships, interests, saying how they feel",
    "warm_care": "warm, attuned care that meets the child's needs, a carer acting protectively",
}
# Whether what a statement says is a concern now. Only "current" makes a factor; the rest are kept and shown.
FACTOR_STATUS = ("current", "historic", "negated", "hypothetical")


def factor_meaning(code: str) -> str:
    """The words for a factor code ("1B") or a strength ("S:recovery"); the code itself where it is neither."""
    if code.startswith("S:"):
        return STRENGTH.get(code[2:], code)
    return CIN_FACTOR.get(code, code)
