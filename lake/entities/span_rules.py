"""The span rules: which spans the model proposes may be mentions, and where a mention begins and ends.

The model's candidates are decoded among the admissible spans only (:func:`decode_flat`), and its mentions
are then held to the conventions the training text is written in (:func:`apply_span_conventions`). Their
revision, :data:`SPAN_RULES`, is part of every model version: new rules, the texts are read again.
"""

from __future__ import annotations

import re

from lake.entities.factors import FACTOR_LABELS
from lake.entities.kinship import COURTESY_TITLES, kin_relation
from lake.entities.model import PROMPT_TO_LABEL, WORD
from lake.entities.patterns import Mention
from lake.entities.roles import role_words

# ---- span conventions ----------------------------------------------------------------------------------
# A role, rank or title written before a name is not part of the person: "PC Hill" is a professional role and a
# person, "Mrs Hill" a person (a courtesy title is no mention), "Mum Keisha" a kinship role and a person; and a
# person ends before a possessive "'s". The training text is written this way; these rules hold the model's
# output to it where it strays (docs/entities.md, "Span conventions").
ROLE_PREFIXES = frozenset(" ".join(word.lower().split()) for word in role_words())
POSSESSIVE = ("'s", "\u2019s")
# Meetings, plans and legal statuses that records abbreviate like roles ("LAC review", "CP conf", "MARAC",
# "Strat disc"): one of them alone, or one followed by a meeting word, is not a role, an organisation or a factor
# ("CP chair" and "LAC nurse" are roles). The model took them for all three on the held-out council.
MEETING_ABBREVIATIONS = frozenset(
    {"lac", "cla", "cp", "cin", "cpp", "icpc", "rcpc", "marac", "mappa", "plo", "ehcp", "taf", "strat"}
)  # fmt: skip
# A factor is a noun phrase: a verb the model ran on into ("concerns about neglect arise") is trimmed off.
FACTOR_TAIL_VERBS = frozenset(
    {"arise", "arises", "arose", "continue", "continues", "persist", "persists", "remain", "remains", "recur", "recurs"}
)  # fmt: skip
# A factor the record says is absent is not a factor: "no concerns about growth or development", "no evidence of
# neglect", "denies drug use". A negation cue ending right before the span (NegEx's pre-negation triggers, those
# that take a concern as their object) drops it; the held-out council writes "no concerns about …" in a template
# the model never saw, and the model took the phrase for a risk 141 times.
NEGATED_BEFORE = re.compile(
    r"(?:\b(?:no|not\s+any|nil|without\s+any)\s+(?:(?:further|current|known|new|other|ongoing|significant)\s+)?"
    r"(?:concerns?|worr(?:y|ies)|evidence|signs?|indications?|history|reports?|suggestion)"
    r"\s+(?:about|around|regarding|re:?|of|over|for|in\s+relation\s+to)"
    r"|\b(?:denies|denied|ruled\s+out))\s+(?:the\s+|any\s+)?$",
    re.IGNORECASE,
)
MEETING_WORDS = frozenset(
    {"conf", "conference", "review", "r", "rv", "meeting", "mtg", "plan", "minutes", "referral", "disc", "discussion"}
)  # fmt: skip
# A named body is typed by its head noun: "… Primary School", "… Academy", "… College" is a school whatever the
# model made of the words around it (a build took "met with Mum at Woodlands High School" for an organisation 108
# times). The Virtual School is a council's team, not a setting. Not the other way: "at St Mary's" is a school too.
SCHOOL_HEADS = frozenset({"school", "academy", "college"})
NOT_SCHOOLS = frozenset({"virtual school"})


def _without_tail_verb(text: str, m: Mention) -> Mention:
    words = list(WORD.finditer(text, m.start, m.end))
    if len(words) < 2 or words[-1].group().lower() not in FACTOR_TAIL_VERBS:
        return m
    end = words[-2].end()
    return Mention(m.start, end, m.label, text[m.start : end], m.score, m.model)


def _negated(text: str, m: Mention) -> bool:
    return NEGATED_BEFORE.search(text, max(0, m.start - 60), m.start) is not None


def _named_as_a_school(m: Mention) -> Mention:
    words = [w.lower() for w in WORD.findall(m.text)]
    if m.label != "organisation" or len(words) < 2 or words[-1] not in SCHOOL_HEADS:
        return m
    if " ".join(words[-2:]) in NOT_SCHOOLS:
        return m
    return Mention(m.start, m.end, "school", m.text, m.score, m.model)


def _names_a_meeting(span: str) -> bool:
    words = [w.lower() for w in WORD.findall(span)]
    return bool(words) and words[0] in MEETING_ABBREVIATIONS and (len(words) == 1 or words[1] in MEETING_WORDS)


# ---- decoding: which spans may be mentions ---------------------------------------------------------------
# The model scores every span of up to eight words, and on text it never saw it sometimes scores highest one that
# runs across a clause ("Cheshire Police - no trace. Castleford CAMHS", "consistent bedtime routine. CP conf"),
# which then shadows the right, shorter spans. A mention is a name or a noun phrase: it never crosses a sentence
# end, a list item, a semicolon or a bracket it does not close, and, except an address ("12 Hill Road, Hull"),
# never a comma, " + " or " - ". An organisation or a school is a named body, so it has a capital letter ("rang
# housing", "a refuge space" name none). A meeting's abbreviation names no role, body or factor. See decision 0021.
# The revision of the decoding, the span conventions, the role list and the folded span scoring (r6, decision
# 0023: int8 quantises other activations, so near-threshold spans can move), a factor the record negates (r7), a
# body named as a school (r8), a factor as its widest proposed phrase (r9) and recorded names in the gazetteer (r10),
# part of every model version: new rules, the texts are read again.
SPAN_RULES = "r11"
# A factor's least model score (other labels: the threshold setting, 0.5). Factors are open noun phrases the
# model scores lower than names: on the held-out council 0.3 (the one value tried) took risk factor F1 from 0.58
# to 0.66 and protective from 0.40 to 0.50, precision falling 0.82 -> 0.74 and 0.55 -> 0.46 (decision 0021).
FACTOR_THRESHOLD = 0.3
# A factor is the whole noun phrase the record writes: where the model proposes nested factor spans ("stable
# employment" at 0.6 inside "parent in stable employment" at 0.25), the widest one it scores at least this is kept
# (r9). The model scores a phrase it never saw lower as a whole than its familiar core, so the core wins the flat
# decoding and the rest of the phrase is lost. On two held-out councils (seeds 2027 and 2028, model 77f8) this took
# protective factor F1 0.531 -> 0.562 and 0.514 -> 0.546, risk 0.764 -> 0.765 and 0.771 -> 0.769; floors of 0.1
# and 0.05 gained more protective (0.575, 0.582) and lost more risk (0.762, 0.756). Decision 0028.
FACTOR_WIDEN_FLOOR = 0.2
NO_SENTENCE_END_AFTER = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "sgt", "insp", "supt", "prof", "rev", "no", "nos", "tel", "approx", "ref"}
)  # fmt: skip
_SENTENCE_END = re.compile(r"(\w+)[.!?]\s+")
_LIST_ITEM = re.compile(r"\n\s*(?:\d+[.)]|[-*\u2022])\s")
_LIST_BREAK = re.compile(r",|\s\+\s|\s[-\u2013\u2014]\s")
NAMED_BODIES = frozenset({"organisation", "school"})
NOT_A_MEETING = frozenset({"professional_role", "organisation", *FACTOR_LABELS})


def admissible(span: str, label: str) -> bool:
    """Whether ``span`` may be a mention labelled ``label`` (see above): the model's candidates are held to it."""
    for end in _SENTENCE_END.finditer(span):
        word = end.group(1)
        if len(word) > 1 and word.lower() not in NO_SENTENCE_END_AFTER:
            return False
    if ";" in span or _LIST_ITEM.search(span) or span.count("(") != span.count(")"):
        return False
    if label != "address" and _LIST_BREAK.search(span):
        return False
    if label in NAMED_BODIES and span.lower() == span:
        return False
    return not (label in NOT_A_MEETING and _names_a_meeting(span))


def decode_flat(text: str, candidates: list[dict], least: dict[str, float] | None = None) -> list[dict]:
    """GLiNER's flat decoding over the admissible candidates only: highest score first, each span kept unless it
    overlaps one kept before. ``candidates``: the model's spans of ``text`` (dicts with start, end, label, score;
    labels as the model's prompts), from nested decoding; ``least``: a label's least score, where it has one."""
    kept: list[dict] = []
    for c in sorted(candidates, key=lambda c: -c["score"]):
        label = PROMPT_TO_LABEL[c["label"]]
        if c["score"] < (least or {}).get(label, 0.0) or not admissible(text[c["start"] : c["end"]], label):
            continue
        if all(c["end"] <= k["start"] or k["end"] <= c["start"] for k in kept):
            kept.append(c)
    return sorted(_widest_factors(text, candidates, kept), key=lambda c: c["start"])


def _widest_factors(text: str, candidates: list[dict], kept: list[dict]) -> list[dict]:
    """Each kept factor as the widest admissible factor span the model proposes around it (score at least
    ``FACTOR_WIDEN_FLOOR``) that overlaps no other kept span: see ``FACTOR_WIDEN_FLOOR``."""

    def factor(c: dict) -> bool:
        return PROMPT_TO_LABEL[c["label"]] in FACTOR_LABELS

    wider = [
        c
        for c in candidates
        if factor(c)
        and c["score"] >= FACTOR_WIDEN_FLOOR
        and admissible(text[c["start"] : c["end"]], PROMPT_TO_LABEL[c["label"]])
    ]
    out: list[dict] = []
    for i, k in enumerate(kept):
        if factor(k):
            others = [*out, *kept[i + 1 :]]  # those widened already, and the rest as decoded
            around = [
                c
                for c in wider
                if c["start"] <= k["start"]
                and k["end"] <= c["end"]
                and all(c["end"] <= o["start"] or o["end"] <= c["start"] for o in others)
            ]
            k = max([k, *around], key=lambda c: (c["end"] - c["start"], c["score"]))
        out.append(k)
    return out


# A named body's name begins with its first capitalised word: the model drops a leading word that is mostly a
# function word elsewhere ("All Saints College" found as "Saints College", "The Children's Society" as
# "Children's Society"). Mid-sentence (after a lower-case word), a capitalised word just before the name is part
# of it, unless it is a title, a role or a kinship word ("met Mum Hull CAMHS" would keep "Mum" apart).
_WORD_BEFORE = re.compile(r"(?:^|(?<=\s))(\S+) (\S+) $")
_CAPITALISED = re.compile(r"[A-Z][A-Za-z'\u2019-]*\.?")


def _with_name_start(text: str, m: Mention, mentions: list[Mention]) -> Mention:
    before = _WORD_BEFORE.search(text, max(0, m.start - 80), m.start)
    if before is None:
        return m
    lead, word = before.group(1), before.group(2)
    start = before.start(2)
    if not (_CAPITALISED.fullmatch(word) and lead[0].islower() and lead[-1].isalpha()):
        return m
    key = word.rstrip(".").lower()
    if key in ROLE_PREFIXES or key in COURTESY_TITLES or kin_relation(key):
        return m
    if any(o.start < m.start and start < o.end for o in mentions if o is not m):
        return m
    return Mention(start, m.end, m.label, text[start : m.end], m.score, m.model)


def apply_span_conventions(text: str, mentions: list[Mention]) -> list[Mention]:
    """The model's mentions with the span conventions applied (see above); others pass unchanged."""
    out: list[Mention] = []
    for m in mentions:
        if m.label in FACTOR_LABELS:
            if _negated(text, m):
                continue
            m = _without_tail_verb(text, m)
        if m.label in NAMED_BODIES:
            m = _named_as_a_school(_with_name_start(text, m, mentions))
        if m.label not in ("person", "kinship_role"):
            out.append(m)
            continue
        start, end = m.start, m.end
        if text[start:end].endswith(POSSESSIVE) and end - start > 2:
            end -= 2
        if m.label == "person":
            words = [w for w in WORD.finditer(text, start, end) if w.group() != "."]
            for n in (3, 2, 1):  # the longest prefix that is a role or a kinship word, leaving a name after it
                if len(words) <= n:
                    continue
                prefix = text[words[0].start() : words[n - 1].end()]
                key = " ".join(prefix.lower().split())
                label = (
                    "professional_role"
                    if key in ROLE_PREFIXES
                    else "kinship_role"
                    if kin_relation(key)
                    else "title"
                    if key in COURTESY_TITLES
                    else None
                )
                if label is None:
                    continue
                if label != "title":
                    out.append(Mention(start, words[n - 1].end(), label, prefix, m.score, m.model))
                start = words[n].start()
                break
        if (start, end) != (m.start, m.end):
            m = Mention(start, end, m.label, text[start:end], m.score, m.model)
        out.append(m)
    # a split-off role the model also found on its own is one mention (the higher score kept)
    best: dict[tuple[int, int, str], Mention] = {}
    for m in out:
        key = (m.start, m.end, m.label)
        if key not in best or m.score > best[key].score:
            best[key] = m
    return sorted(best.values(), key=lambda m: (m.start, m.end, m.label))
