"""How workers write who someone is to the child: kinship words and titles.

Extraction's span conventions split a kinship word or a title off a name ("Mum Keisha", "Mrs Hill"), and
resolution reads the same words for the relation, the side of the family and the gender they tell. Both read
them here, so neither imports the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# ---- titles ---------------------------------------------------------------------------------------------
# A title just before a name: a courtesy title tells the gender, a rank or a doctor's title a professional role.
TITLE = re.compile(r"\b(Mr|Mrs|Ms|Miss|Mx|Dr|PC|DC|Sgt)\.?\s+$")
# A title between a kinship word and a name ('Mum Mrs Hale') keeps them together.
TITLE_GAP = re.compile(r"\s+(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+")
TITLE_GENDER = {"Mr": "male", "Mrs": "female", "Ms": "female", "Miss": "female"}
# A courtesy title is no mention: the span conventions drop it from the front of a person.
COURTESY_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx"})

# ---- kinship words ---------------------------------------------------------------------------------------
# Kinship words as workers write them -> the relation recorded in the case system (coarse where the word is).
KIN_WORDS = {
    "mum": "mother",
    "mother": "mother",
    "mam": "mother",
    "mummy": "mother",
    "dad": "father",
    "father": "father",
    "daddy": "father",
    "stepdad": "stepfather",
    "stepfather": "stepfather",
    "stepmum": "stepmother",
    "stepmother": "stepmother",
    "nan": "grandmother",
    "nana": "grandmother",
    "nanna": "grandmother",
    "grandma": "grandmother",
    "gran": "grandmother",
    "granny": "grandmother",
    "grandmother": "grandmother",
    "grandad": "grandfather",
    "grandpa": "grandfather",
    "granddad": "grandfather",
    "grandfather": "grandfather",
    "brother": "sibling",
    "sister": "sibling",
    "aunt": "aunt",
    "auntie": "aunt",
    "aunty": "aunt",
    "uncle": "uncle",
    "foster carer": "foster carer",
    "family friend": "family friend",
    "neighbour": "neighbour",
    "godparent": "godparent",
    "godmother": "godparent",
    "godfather": "godparent",
}
ROLE_GENDER = {
    "mother": "female",
    "stepmother": "female",
    "grandmother": "female",
    "aunt": "female",
    "father": "male",
    "stepfather": "male",
    "grandfather": "male",
    "uncle": "male",
}
# Words around a kinship word that do not change who it is: "his mum", "birth dad", "older sister".
_KIN_FILLER = frozenset(
    [
        "his",
        "her",
        "their",
        "the",
        "child's",
        "childs",
        "young",
        "person's",
        "birth",
        "biological",
        "natural",
        "real",
        "older",
        "younger",
        "elder",
        "eldest",
        "oldest",
        "youngest",
        "big",
        "little",
        "baby",
        "half",
    ]
)
_KIN_SIDE = {"maternal": "maternal", "paternal": "paternal"}
# Spellings and compounds workers write beyond KIN_WORDS (after lower-casing and joining "step-dad", "step dad").
_KIN_MORE = {
    "mom": "mother",
    "mommy": "mother",
    "mammy": "mother",
    "mumma": "mother",
    "mummy": "mother",
    "stepmom": "stepmother",
    "nannie": "grandmother",
    "nanny": "grandmother",
    "nannan": "grandmother",
    "grandmum": "grandmother",
    "grandmom": "grandmother",
    "grandmama": "grandmother",
    "grampa": "grandfather",
    "grandpop": "grandfather",
    "gramps": "grandfather",
    "grandaddy": "grandfather",
    "granda": "grandfather",
    "bro": "sibling",
    "sis": "sibling",
    "sibling": "sibling",
    "foster mum": "foster carer",
    "foster mother": "foster carer",
    "foster dad": "foster carer",
    "foster father": "foster carer",
    "foster carers": "foster carer",
    "foster parent": "foster carer",
    "auntie": "aunt",
}
_KIN_AGE = {
    "older": "older",
    "elder": "older",
    "big": "older",
    "younger": "younger",
    "little": "younger",
    "baby": "younger",
    "eldest": "eldest",
    "oldest": "eldest",
    "youngest": "youngest",
}
_SIBLING_GENDER = {"brother": "male", "bro": "male", "sister": "female", "sis": "female"}


@dataclass(frozen=True)
class KinWord:
    """A kinship word read: the coarse relation (as :func:`relation_class` gives recorded relations), the side of
    the family it names ("maternal grandmother", "grandmother (paternal)") and the gender it implies."""

    relation: str
    side: str | None
    gender: str | None
    age: str | None = None  # "older"/"younger" than the child, "eldest"/"youngest" of those


def read_kin_word(word: str) -> KinWord | None:
    """'Mum', "Mum's", 'birth dad', 'step-dad', 'grandmother (maternal)', 'his older sister' -> KinWord; None for
    words that name no recorded relation ('great-grandmother', 'cousin's mum', a professional role)."""
    w = word.lower().replace("\u2019", "'").strip()
    w = re.sub(r"(?:'s|s')$", "", w.strip(" .,:;"))
    words = re.sub(r"[-()/,.:;]", " ", w).split()
    side = next((_KIN_SIDE[x] for x in words if x in _KIN_SIDE), None)
    age = next((_KIN_AGE[x] for x in words if x in _KIN_AGE), None)
    words = [x for x in words if x not in _KIN_SIDE and x not in _KIN_FILLER]
    if not words or "great" in words or "in" in words or "law" in words:
        return None
    # "step dad", "step-dad" -> "stepdad"; "grand mother" -> "grandmother"
    joined = " ".join(words)
    joined = re.sub(r"^(step|grand) ", r"\1", joined)
    relation = KIN_WORDS.get(joined) or _KIN_MORE.get(joined)
    if relation is None:
        return None
    gender = _SIBLING_GENDER.get(joined) or ROLE_GENDER.get(relation)
    return KinWord(relation, side, gender, age)


def kin_relation(word: str) -> str | None:
    kin = read_kin_word(word)
    return kin.relation if kin else None


def kin_side(relation: str | None) -> str | None:
    """The side of the family a recorded relation names ('maternal grandmother' -> 'maternal'), if any."""
    kin = read_kin_word(relation) if relation else None
    return kin.side if kin else None


def relation_class(relation: str | None) -> str | None:
    """A recorded relation in the coarse classes kinship words can tell apart."""
    return None if relation is None else kin_relation(relation) or relation.lower()


# ---- sentences -------------------------------------------------------------------------------------------
# Where a sentence ends, for reading which person a kinship word's neighbours name: a full stop, "!" or "?"
# before a space, a line break, a bullet. Not after an initial or a title ("K. Bowen", "Dr. Hill"), which
# workers write mid-sentence. Offsets are kept (the mentions are spans), so this is not a text splitter.
_BREAK = re.compile(r"[.!?]+(?=\s)|\n+|[•·▪]")
_NOT_AN_END = frozenset({"mr", "mrs", "ms", "mx", "dr", "st", "no", "vs", "approx", "tel"})


def sentence_starts(text: str) -> list[int]:
    """The offsets where each sentence of ``text`` starts (the first is 0), for :func:`bisect.bisect_right`."""
    starts = [0]
    for m in _BREAK.finditer(text):
        if m.group()[0] in ".!?":
            before = re.search(r"(\w+)$", text[: m.start()])
            word = before.group(1) if before else ""
            if (len(word) == 1 and word.isupper()) or word.lower() in _NOT_AN_END:
                continue
        if text[starts[-1] : m.start()].strip():
            starts.append(m.end())
        else:  # a break right after another ('.' then a line break): one boundary
            starts[-1] = m.end()
    return starts


# What lies between two mentions written as items of one list ("Mum, Pat and Nan", "Present: Dad; Nana"),
# once the mentions themselves are taken out: separators, "and", titles. List-mates are different people.
LIST_GAP = re.compile(r"[\s,;/&()]*(?:(?:and|or|Mr|Mrs|Ms|Miss|Mx|Dr)\.?[\s,;/&()]*)*", re.IGNORECASE)
