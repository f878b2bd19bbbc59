"""Entities with a regular form, found by well-kept libraries and patterns rather than a model.

UK addresses by their grammar (:mod:`lake.entities.addresses`), UK postcodes (the official format, outward +
inward code), phone numbers (Google's ``phonenumbers``, UK numbers in any national or international layout),
e-mail addresses, NHS numbers (3-3-4 digits that
pass the modulus-11 check) and dates in the ways UK case records write them (``21/12/2025``,
``21.12.25``, ``21 December 2025``, ``21st Dec 2025``, ``Saturday 21 December``). Each mention keeps
its exact character span in the source text. The entity extractor runs these beside GLiNER
and keeps, per label, whichever measures better against the synthetic truth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from lake.entities.addresses import POSTCODE, find_addresses

PATTERN_MODEL = "caselake-patterns"


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    label: str
    text: str
    score: float = 1.0
    model: str = PATTERN_MODEL

    def overlaps(self, other: Mention) -> bool:
        """Whether the two spans share a character (spans are half-open: touching ones do not)."""
        return self.start < other.end and other.start < self.end


_POSTCODE = re.compile(POSTCODE)  # the official format (lake.entities.addresses, where an address ends before one)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_NHS = re.compile(r"\b\d{3}[ -]?\d{3}[ -]?\d{4}\b")

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?"
    r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?|january|february|march|april|june|july|august|september|october"
    r"|november|december)"
)
# A month's full name alone is a date ("in February", "since March"); "May" and "March" only after a word that
# takes a time ("in May", "since March"), as they are also a name and a verb.
_FULL_MONTH = r"(?:January|February|April|June|July|August|September|October|November|December)"
_TIME_WORD = r"(?:in|since|from|until|till|by|during|of|before|after|early|mid|late|end of|start of|beginning of|last|next|this|or|and|to)"
_WEEKDAY = (
    r"(?:Mon(?:day)?|Tue(?:s(?:day)?)?|Wed(?:s|nesday)?|Thu(?:r(?:s(?:day)?)?)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)"
)
_DAY = r"(?:[12][0-9]|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_ORDINAL = r"(?:[12][0-9]|3[01]|0?[1-9])(?:st|nd|rd|th)"
_YEAR = r"(?:(?:19|20)\d\d|'\d\d|\u2019\d\d)"
_NUMERIC = r"(?:[12][0-9]|3[01]|0?[1-9])([/.-])(?:1[0-2]|0?[1-9])\1(?:(?:19|20)\d\d|\d\d)"
_DATE = re.compile(
    r"(?<![\w/.])(?:"
    rf"(?:{_WEEKDAY},? )?{_DAY}(?: of)? {_MONTH}(?:,? {_YEAR}|[ /-]\d\d(?![\d:]))?"  # 21 December 2025, Sat 21st Dec '25
    rf"|(?:{_WEEKDAY},? )?{_MONTH} {_ORDINAL}(?:,? {_YEAR})?"  # December 21st, 2025
    rf"|(?:{_WEEKDAY},? )?{_NUMERIC}"  # 21/12/2025, Mon 21.12.25
    rf"|{_WEEKDAY},? {_ORDINAL}"  # Tues 4th
    rf"|(?:{_WEEKDAY},? )?(?:[12][0-9]|3[01]|0?[1-9])/(?:1[0-2]|0?[1-9])(?![/\d])"  # 14/3, Sat 8/6 (not a fraction: NOT_DATES)
    rf"|{_MONTH}[ -]?{_YEAR}"  # Sept 2021, March '23, Nov-22
    rf"|{_MONTH}[ -]\d\d(?!\d|:\d)"  # Oct 23 (a month and a year, or a day: a date either way)
    rf"|(?:Spring|Summer|Autumn|Winter)(?: [Tt]erm)? {_YEAR}"  # Spring 2023
    r"|(?:0?[1-9]|1[0-2])/(?:19|20)\d\d"  # 01/2020
    rf"|(?:(?<=the )|(?<=on )){_ORDINAL}(?! (?:centile|percentile|floor|time|week|month|day|birthday|episode|child))"
    r"|(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:[0-2][0-9]|3[01])"  # 2024-03-14
    r")(?![\w/])"
)
_MONTH_ALONE = re.compile(
    rf"(?:\b{_TIME_WORD} (?P<after>May|March|Jan|Feb|Mar|Apr|Aug|Sept?|Oct|Nov|Dec)"
    rf"|(?<![\w/])(?P<full>(?:mid-)?{_FULL_MONTH}))(?![\w/])"
)


def _nhs_check_ok(digits: str) -> bool:
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


def find_postcodes(text: str) -> list[Mention]:
    return [Mention(m.start(), m.end(), "postcode", m.group()) for m in _POSTCODE.finditer(text)]


def find_emails(text: str) -> list[Mention]:
    return [Mention(m.start(), m.end(), "email", m.group()) for m in _EMAIL.finditer(text)]


def find_phones(text: str, region: str = "GB") -> list[Mention]:
    """UK numbers in any layout. ``POSSIBLE``, not ``VALID``: Ofcom's drama ranges (``07700 900xxx``), which
    the synthetic council uses so no real subscriber is named, are not allocated, so not "valid". A national
    number of 9-10 digits is required, or years and short dates would read as numbers, and a leading 0 or +,
    as UK numbers are written, or ten-digit NHS numbers would read as phones."""
    found = []
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE):
        if len(str(match.number.national_number)) >= 9 and match.raw_string.lstrip("(").startswith(("0", "+")):
            found.append(Mention(match.start, match.end, "phone", match.raw_string))
    return found


def find_nhs_numbers(text: str) -> list[Mention]:
    out = []
    for m in _NHS.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if _nhs_check_ok(digits):
            out.append(Mention(m.start(), m.end(), "nhs_number", m.group()))
    return out


# Day/month forms that are written far more often as something else.
NOT_DATES = frozenset({"1/2", "1/3", "2/3", "1/4", "3/4", "24/7", "1/5", "1/10"})


def find_dates(text: str) -> list[Mention]:
    found = [Mention(m.start(), m.end(), "date", m.group()) for m in _DATE.finditer(text) if m.group() not in NOT_DATES]
    alone = []
    for m in _MONTH_ALONE.finditer(text):
        key = "after" if m.group("after") else "full"
        if not any(d.start <= m.start(key) < d.end for d in found):
            alone.append(Mention(m.start(key), m.end(key), "date", m.group(key)))
    return sorted(found + alone, key=lambda m: m.start)


def find_address_mentions(text: str) -> list[Mention]:
    return [Mention(s, e, "address", text[s:e]) for s, e in find_addresses(text)]


FINDERS = {
    "postcode": find_postcodes,
    "email": find_emails,
    "phone": find_phones,
    "nhs_number": find_nhs_numbers,
    "date": find_dates,
    "address": find_address_mentions,
}


def find_all(text: str, labels: tuple[str, ...] | None = None) -> list[Mention]:
    """Every regular-form mention in ``text``, in span order; a span claimed by a phone number is not also
    read as an NHS number (both can be ten digits)."""
    found: list[Mention] = []
    for label, finder in FINDERS.items():
        if labels is None or label in labels:
            found.extend(finder(text))
    phones = [(m.start, m.end) for m in found if m.label == "phone"]
    found = [m for m in found if m.label != "nhs_number" or not any(s <= m.start < e for s, e in phones)]
    return sorted(found, key=lambda m: (m.start, m.end, m.label))
