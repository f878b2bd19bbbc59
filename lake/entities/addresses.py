"""UK addresses by their grammar, not by a gazetteer (issue 36).

An address a record does not hold (a relative's flat, a refuge, the house where a missing child was found) is
still written the way UK addresses are: a flat, plot or room; a building's name; a house number and a street
that ends in a street word; a locality and a town, over commas or line breaks; then the postcode, which the
patterns mark on its own. :func:`find_addresses` reads that grammar:

    [sub-premise ,] [building ,] [number] Street-name street-word [, locality] [, town]
    sub-premise , building [, locality] [, town]
    building-with-a-house-word [, locality] [, town]           ("Higher Trewidden Farm, St Buryan, Penzance")

A street needs a capitalised name and a street word (Road, Lane, Close, Rd...) that ends it: a capitalised
word straight after ("Castle Hill Hospital", "Medway County Court") makes it part of another name. A locality or
town is one to four capitalised words ending where the address ends: a comma, a full stop, a line break, a
bracket, a postcode, or one of the small words that follow a place in a sentence ("... Goole on Monday"). The
gazetteer of recorded addresses (:mod:`lake.entities.gazetteer`) still runs after, as a boost for the
addresses a council holds.
"""

from __future__ import annotations

import re

# Words that end a street's name. A strong one makes a street of a name alone ("on Wellington Road"); a weak one
# is also a surname or a place ("Marcus Hill", "Chenise Hall"), so it needs a house number before it.
STRONG_STREET_WORDS = (
    "Road|Rd|Street|St|Lane|Ln|Avenue|Ave|Close|Crescent|Cres|Drive|Way|Grove|Place|Terrace|Terr|Tce|Gardens|Gdns"
    "|Walk|Square|Sq|Row|Rise|Mews|Parade|Wynd|Boulevard|Embankment|Broadway|Causeway|Promenade|Esplanade|Estate"
)
WEAK_STREET_WORDS = (
    "Court|Ct|Hill|View|Green|Vale|Chase|Gate|Fold|Croft|Garth|Bank|Approach|Circus|Yard|Meadow|Meadows|Wharf|Quay"
    "|Mount|Brow|Hey|Passage|Villas|Cottages|Park|Crest|Dale|Drove|Field|Fields|Glade|Heights|Leys|Lea|Nook"
    "|Orchard|Ridge|Side|Steps|Wood|Hollow|Grange|Circle|Oval|Precinct|Market|Bridge|Top|Dr|Cl|Pl"
)
STREET_WORDS = f"{STRONG_STREET_WORDS}|{WEAK_STREET_WORDS}"
# Words that end a building's name: with one of these a name alone is an address ("Langley House"); a name without
# one is a building only where it heads a street address ("Hillcrest, 41 Station Road").
BUILDING_WORDS = (
    "House|Court|Lodge|Cottage|Cottages|Farm|Farmhouse|Mews|Tower|Towers|Heights|Mansions|Bungalow"
    "|Flats|Apartments|Chambers|Buildings|Caravan Park|Holiday Park|Caravan Site|Traveller Site|Residential Park|Foyer"
    "|Estate"
)
SUB_PREMISE = r"(?:Flat|Apartment|Apt|Room|Unit|Plot|Pitch|Caravan|Maisonette|Bay|Berth|Bedsit|Suite|Block)\.? ?(?:[0-9]{1,4}[A-Za-z]?|[A-Z])\b"
NUMBER = r"[0-9]{1,4}[A-Za-z]?(?:[-\u2013/][0-9]{1,4}[A-Za-z]?)?"
_CAP = r"(?:St\.|[A-Z][A-Za-z'\u2019]*(?:-[A-Za-z][A-Za-z'\u2019]*)*(?![0-9A-Za-z]))"
_LINK = r"(?:upon|le|la|de|under|cum|en|of|super)"
NAME = rf"{_CAP}(?:[ ]+(?:{_LINK}[ ]+)?{_CAP}){{0,3}}"

# A street word after these is a court, a school or a hospital, not a street ("Medway County Court").
NOT_STREETS = re.compile(
    r"\b(?:County|Crown|Magistrates'?|Family|High|Youth|Supreme|Appeal|Coroner's|Civil|Justice|Combined) Court$"
    r"|\b(?:Medical|Health|Leisure|Community|Family|Children's|Resource|Day|Job|Contact) (?:Centre|Park)$"
)
# Capitalised words that open a sentence or a field, not a place.
NOT_PLACES = frozenset(
    [
        "mum",
        "dad",
        "mam",
        "nan",
        "nana",
        "gran",
        "grandad",
        "father",
        "mother",
        "brother",
        "sister",
        "aunt",
        "uncle",
        "dear",
        "date",
        "dob",
        "tel",
        "telephone",
        "phone",
        "mobile",
        "email",
        "e-mail",
        "present",
        "apologies",
        "gp",
        "nhs",
        "ref",
        "re",
        "subject",
        "from",
        "to",
        "cc",
        "sent",
        "he",
        "she",
        "they",
        "we",
        "i",
        "it",
        "his",
        "her",
        "their",
        "our",
        "you",
        "police",
        "sw",
        "iro",
        "hv",
        "tm",
        "dsl",
        "referral",
        "child",
        "children",
        "address",
        "worker",
        "the",
        "a",
        "an",
        "this",
        "that",
        "these",
        "those",
        "yours",
        "kind",
        "regards",
        "thanks",
        "thank",
        "but",
        "and",
        "or",
        "so",
        "then",
        "when",
        "where",
        "who",
        "which",
        "what",
        "while",
        "if",
        "on",
        "in",
        "at",
        "by",
        "for",
        "with",
        "no",
        "yes",
        "not",
        "also",
        "next",
        "last",
        "first",
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "pc",
        "dc",
    ]
)
# Small words that may follow a town in running text ("... Flat 2, 14 Mill Lane, Hull on 3 May").
_FOLLOWS = r"(?:on|in|at|and|with|where|for|from|to|until|till|since|but|or|when|by|which|who|while|after|before|as|was|were|is|last|this|yesterday|today|tonight|via|instead|again|also|(?:[0-9]))\b"
# The postcode format from the ONS/Royal Mail specification: A9, A99, AA9, AA99, A9A, AA9A outward codes; a digit
# and two letters (never C, I, K, M, O, V) inward. An address ends where one starts; the patterns mark it itself.
POSTCODE = (
    r"\b(?:GIR ?0AA|[A-PR-UWYZ](?:[0-9][0-9A-HJKPSTUW]?|[A-HK-Y][0-9][0-9ABEHMNPRVWXY]?) ?[0-9][ABD-HJLNP-UW-Z]{2})\b"
)
_END = rf"(?=[ \t]*(?:$|[,.;:()\[\]\n\u2013\u2014]|-[ ]|{POSTCODE}|[ \t]+{_FOLLOWS}))"

_STREET = re.compile(
    rf"(?:\b{NUMBER},?(?:[ \t]+|[ \t]*\n[ \t]*))?(?<![A-Za-z'\u2019-])(?P<name>{NAME})(?:[ ]+|[ ]*\n[ ]*)(?:{STREET_WORDS})\b"
    r"(?![ ]+[A-Z][a-z])",
    re.M,
)
_SUB = re.compile(rf"\b{SUB_PREMISE}$")
_NUMBER_FIRST = re.compile(NUMBER)
_STRONG_END = re.compile(rf"\b(?:{STRONG_STREET_WORDS})$")
_DIGIT = re.compile(r"\d")
# The last word of a body's name: a line that ends in one heads an organisation's address, not a house's.
ORG_HEADS = (
    "Practice|Surgery|Centre|Hospital|Infirmary|Service|Services|Team|Council|School|Academy|College|Police|Office"
    "|Offices|Unit|Trust|Court|Clinic|Project|Hub|Society|Church|Mosque|Temple|Gurdwara|Ltd|LLP|Solicitors"
)
# a house's own name at the head of a street address: alone on its line, or after a colon ("Address: Ashgrove, 12 ...")
_ORG_END = re.compile(rf"\b(?:{ORG_HEADS})$", re.I)
_HOUSE_NAME = re.compile(
    rf"(?:^|(?<=: )|(?<=\bat )|(?<=\bfrom )|(?<=\bof ))(?:The )?{_CAP}(?:[ ]+{_CAP}){{0,2}}$", re.M
)
_BUILDING_END = re.compile(
    rf"(?<![A-Za-z'\u2019-])(?:The )?{NAME}[ ]+(?:{BUILDING_WORDS}|Hall|Grange|Manor|Villa|Barn|Mill|Park|Site|Hostel|Refuge)$"
)
_BUILDING = re.compile(
    rf"(?<![A-Za-z'\u2019-])(?P<name>(?:The )?{NAME}[ ]+(?:{BUILDING_WORDS}))\b(?![ ]+[A-Z][a-z])", re.M
)
_PLACE = re.compile(
    rf"(?:,[ \t]*\n?[ \t]*(?P<inline>{NAME})(?:{_END}|(?=[ \t]+[a-z]))"
    rf"|,?[ \t]*\n[ \t]*(?P<line>{NAME})(?=[ \t]*(?:,|$|{POSTCODE})))",
    re.M,
)


def _is_place(words: str) -> bool:
    first = words.split()[0].lower().rstrip(".:")
    return first not in NOT_PLACES and not _DIGIT.search(words)


# What may sit between a building or a sub-premise and what follows it: a comma, a line break, or both.
_HEAD_GAP = r"(?:[ \t]*,[ \t]*\n?|[ \t]*\n)[ \t]*$"
_HEADS = [(p, re.compile(rf"(?:{p.pattern[:-1]}){_HEAD_GAP}", re.M)) for p in (_BUILDING_END, _HOUSE_NAME, _SUB)]


def _extend_back(text: str, start: int) -> int:
    """Take in a building name and a sub-premise written before a street or a building ("Flat 2, Dunstan
    House, 18 ..."), each set off by a comma or a line break."""
    for pattern, head_pattern in _HEADS:
        # from a line's start, so that "^" in a pattern means one
        window_start = text.rfind("\n", 0, max(0, start - 120)) + 1
        head = head_pattern.search(text, window_start, start)
        if not head or head.end() != start or not head.group().strip():
            continue
        name = head.group().strip().rstrip(",").strip()
        if pattern is not _SUB and not _is_place(name.removeprefix("The ")):
            continue
        if pattern is _HOUSE_NAME and _ORG_END.search(name):
            continue
        start = head.start()
    return start


def _extend_forward(text: str, end: int) -> int:
    """Take in up to three localities and towns after the street or building."""
    for _ in range(3):
        m = _PLACE.match(text, end)
        if not m or not _is_place(m.group("inline") or m.group("line")):
            break
        end = m.end()
    return end


# A plot, pitch, flat or caravan on its own: on a site or an estate the number is the address ("lives on plot 9").
_LONE_SUB = re.compile(r"\b(?:[Pp]lot|[Pp]itch|[Ff]lat|[Cc]aravan|[Bb]ay) [0-9]{1,4}[A-Za-z]?\b(?![.,:][0-9])")


def _trim_front(text: str, start: int, end: int) -> int | None:
    """Where a street's name really starts, past capitalised words that open a sentence or a field ("Mum
    Preston Road" is "Preston Road"); None when nothing of a name is left."""
    words = list(re.finditer(r"\S+", text[start:end]))
    for k, w in enumerate(words[:-1]):
        if w.group().lower().rstrip(".:,") not in NOT_PLACES:
            return start + w.start() if k else start
    return None


def find_addresses(text: str) -> list[tuple[int, int]]:
    """Character spans of the addresses in ``text`` that the grammar reads (postcodes excluded)."""
    spans: list[tuple[int, int]] = []
    for m in _STREET.finditer(text):
        street = m.group()
        start = m.start()
        if not _is_place(m.group("name")):
            trimmed = _trim_front(text, m.start("name"), m.end())
            if trimmed is None:
                continue
            street, start = text[trimmed : m.end()], trimmed
        if NOT_STREETS.search(street) or _DIGIT.search(m.group("name")):
            continue
        if not _NUMBER_FIRST.match(street) and not _STRONG_END.search(street):  # a weak street word needs a number
            continue
        spans.append((_extend_back(text, start), _extend_forward(text, m.end())))
    for m in _BUILDING.finditer(text):
        name = m.group("name")
        if NOT_STREETS.search(name) or not _is_place(name.removeprefix("The ")) or len(name.split()) < 2:
            continue
        spans.append((_extend_back(text, m.start()), _extend_forward(text, m.end())))
    spans += [(m.start(), _extend_forward(text, m.end())) for m in _LONE_SUB.finditer(text)]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
