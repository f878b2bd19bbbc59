"""Who each person is to a request, and the reason codes a redaction carries.

The regulator's guidance on subject access (ICO, "Right of access", and its note on social care records): a
third party's information is withheld unless they consent or disclosure is reasonable without it, including where
they would stay identifiable from context; a professional acting in their role (a social worker, an IRO, a
police officer, a teacher) is normally named; DPA 2018 Schedule 3 Part 3 lets a council withhold what would
cause serious harm, and, when a parent asks for a child's file, what the child said expecting it would not be
disclosed. The machine proposes; the first two kinds it redacts, the last two it only flags for a person.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Standing(StrEnum):
    """Who a person is to one request."""

    SUBJECT = "subject"
    REQUESTER = "requester"
    PROFESSIONAL = "professional"  # acting in role: named, their personal contact details are not
    OTHER_CHILD = "other_child"
    THIRD_PARTY = "third_party"
    UNKNOWN = "unknown"  # a mention resolution could not place: treated as a third party, for review


class Action(StrEnum):
    REDACT = "redact"
    KEEP = "keep"
    REVIEW = "review"  # proposed for redaction until a person decides; the export redacts it meanwhile


# Reason code -> what the schedule of redactions says of it (no redacted text is ever printed with it).
REASONS: dict[str, str] = {
    "TP": "Third party: a person other than you, the person asking for you, or a professional acting in role",
    "TPK": "Third party identified by their relation to you",
    "TPC": "Third party's contact details or date of birth",
    "OC": "Another child",
    "PC": "A professional's personal contact details",
    "CONF": "Information the child gave in confidence (Data Protection Act 2018, Sch. 3 Part 3)",
    "HARM": "Information likely to cause serious harm (Data Protection Act 2018, Sch. 3 Part 3)",
    "MAN": "Withheld by the disclosure officer",
}
REVIEW_REASONS = frozenset({"CONF", "HARM"})

# Relations that hold parental responsibility for the purposes of a request made for a child. A step-parent or
# foster carer may or may not hold it: the officer checks, so those are refused here rather than assumed.
PARENTAL = frozenset({"mother", "father"})

CONTACT_LABELS = frozenset({"address", "postcode", "phone", "email"})
NAME_LABELS = frozenset({"person", "kinship_role"})

# "DOB 12/03/2015", "born 4 May 1990", "d.o.b.:", "date of birth -": a date right after one of these is a date of
# birth (checked over the few characters before the date).
DOB_CUE = re.compile(r"(?:\bd\.?\s?o\.?\s?b\.?|\bborn(?:\s+on)?|\bdate\s+of\s+birth)\s*[:\-–(]?\s*$", re.IGNORECASE)

# Sentences flagged for a person's decision, never redacted by the machine (the officer decides).
CONFIDENCE_CUES = re.compile(
    r"\b(?:asked\s+(?:me|us|the\s+worker|sw)\s+not\s+to\s+tell|(?:doesn'?t|does\s+not|didn'?t|did\s+not)\s+want"
    r"\s+(?:\w+\s+){0,2}(?:mum|dad|mother|father|parents?|anyone)\s+to\s+know|in\s+confidence|(?:keep|kept)\s+"
    r"(?:it\s+)?(?:a\s+)?secret|not\s+to\s+be\s+shared\s+with\s+(?:mum|dad|mother|father|parents?))\b",
    re.IGNORECASE,
)
HARM_CUES = re.compile(
    r"\b(?:refuge|safe\s+house|address\s+(?:is\s+)?(?:withheld|confidential|not\s+to\s+be\s+(?:shared|disclosed))"
    r"|must\s+not\s+(?:know|learn|be\s+told)|placement\s+address|non-?molestation|injunction)\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def flagged_sentences(text: str, requester_is_parent: bool) -> list[tuple[int, int, str]]:
    """(start, end, reason) of the sentences a person must decide on: what the child said in confidence (only when
    a parent asks) and what could cause serious harm (always)."""
    found = []
    for m in _SENTENCE.finditer(text):
        sentence = m.group(0)
        start = m.start() + (len(sentence) - len(sentence.lstrip()))
        end = m.start() + len(sentence.rstrip())
        if end <= start:
            continue
        if requester_is_parent and CONFIDENCE_CUES.search(sentence):
            found.append((start, end, "CONF"))
        elif HARM_CUES.search(sentence):
            found.append((start, end, "HARM"))
    return found


def normalised(text: str) -> str:
    """Letters and digits only, lower case: how a contact detail is compared with a recorded one."""
    return re.sub(r"[^0-9a-z]", "", text.lower())
