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
