"""The children-in-need pathway and its truth (issue 40): contact -> referral -> assessment with the factors
identified -> section 47 enquiry -> initial child protection conference -> CP plan with its reviews, or a CIN
plan -> closure; and, only when asked, errors a worker really keys that the DfE's CIN census rules name.

The world's CIN and CP episodes are the anchors: a CIN episode is a referral (its start the referral date, its end
the closure) and a CP plan sits inside one. The pathway draws from a random stream of its own, so the rest of the
council draws what it drew before; it moves an episode only where the census's rules need it (a CP plan starts on
the day of its conference, which is a weekday; a referral stays open as long as its plan or assessment does).
Rates follow the DfE's Children in need statistics (decision 0047): referral sources, primary need, CP
categories, assessments within 45 working days (about 85%), re-referrals within 12 months (about 22%).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np

from synth.council.options import SynthOptions, random_stream
from synth.world import Child, Episode, World

PATHWAY_TABLES = ("contact", "assessment", "assessment_factor", "s47_enquiry", "icpc", "cp_review", "cin_plan")

# CIN census ReferralSource, weighted by the DfE's national shares (2019-20: police 29%, schools 18%, health 15%,
# LA services 14%, individuals 8%, other 5%, legal agencies 4%, anonymous, education services 2% each ...).
REFERRAL_SOURCES = {
    "6": 0.287,
    "2A": 0.182,
    "3A": 0.04,
    "3B": 0.03,
    "3C": 0.01,
    "3D": 0.02,
    "3E": 0.03,
    "3F": 0.02,
    "5A": 0.06,
    "5B": 0.03,
    "5C": 0.02,
    "5D": 0.031,
    "1A": 0.05,
    "1B": 0.005,
    "1C": 0.01,
    "1D": 0.016,
    "8": 0.049,
    "7": 0.039,
    "9": 0.021,
    "2B": 0.021,
    "10": 0.014,
    "4": 0.013,
}
# Primary need at referral, as nationally; N9 (not a child in need) left out: the child's latest need is also the
# SSDA903's category of need, which takes N1-N8 only (its rule 145).
PRIMARY_NEED = {"N1": 0.57, "N2": 0.13, "N5": 0.12, "N4": 0.07, "N8": 0.03, "N3": 0.03, "N6": 0.02, "N7": 0.01}
CP_CATEGORY = {"NEG": 0.505, "EMO": 0.357, "PHY": 0.074, "SAB": 0.038, "MUL": 0.026}
# The factor a plan's category stands on: an assessment that led to a plan records it.
CATEGORY_FACTORS = {"NEG": ("16A",), "EMO": ("17A",), "PHY": ("18C",), "SAB": ("19C",), "MUL": ("16A", "17A")}
# Factors identified at assessment, roughly as often as nationally (domestic abuse and parental mental health
# the most common, then emotional abuse, neglect, drugs and alcohol).
FACTORS = {
    "3B": 0.32,
    "4B": 0.31,
    "17A": 0.2,
    "16A": 0.18,
    "2B": 0.15,
    "1B": 0.12,
    "3A": 0.1,
    "4A": 0.1,
    "14A": 0.05,
    "18C": 0.05,
    "20": 0.05,
    "10A": 0.04,
    "6B": 0.04,
    "15A": 0.04,
    "24A": 0.03,
    "11A": 0.03,
    "5A": 0.03,
    "19C": 0.02,
    "7A": 0.02,
}
CLOSURE_REASONS = {"RC7": 0.8, "RC5": 0.1, "RC3": 0.05, "RC4": 0.05}
NO_FACTORS = 0.12  # assessments that identify none (factor 21), which then close with no further action
ASSESSMENT_NFA = 0.25  # assessments ending "not in need" (about 28% nationally, 21 included)
S47_WITHOUT_CONFERENCE = 0.5  # about 38% of enquiries lead to a conference nationally
RE_REFERRAL = 0.7  # of children whose referral closed a month or more before the extract: referred again
RE_REFERRAL_NFA = 0.3  # of those re-referrals, no further action at referral
ASSESSMENT_WORKING_DAYS = (30.0, 0.4)  # lognormal median and sigma: about 84% within 45 working days

# Errors a worker keys, each one a DfE CIN census rule names (the rule code is the defect's name in the truth).
CIN_DEFECTS = {
    "assessment_before_referral": "1103",
    "authorised_before_start": "8608",
    "cp_start_not_conference_date": "2885",
    "conference_on_a_weekend": "8875",
    "referral_source_not_a_code": "8866",
    "closure_reason_not_a_code": "8640",
    "closed_without_a_reason": "8805",
    "cp_end_before_start": "8925",
    "cin_plan_during_cp_plan": "4016",
    "cp_review_on_plan_start": "8841",
    "no_factors_with_factors": "8869",
}


def census_year_end(as_of: dt.date) -> dt.date:
    """The 31 March that ends the last complete census year before ``as_of`` (as the SSDA903's)."""
    return dt.date(as_of.year if as_of.month > 3 else as_of.year - 1, 3, 31)


def add_working_days(day: dt.date, n: int) -> dt.date:
    """``n`` working days (Monday to Friday) after ``day``."""
    return np.busday_offset(np.datetime64(day), n, roll="forward").astype(dt.date)


def _weighted(rng: np.random.Generator, weights: dict[str, float]) -> str:
    codes = list(weights)
    p = np.array(list(weights.values()))
    return codes[int(rng.choice(len(codes), p=p / p.sum()))]


def _days(rng: np.random.Generator, low: int, high: int) -> dt.timedelta:
    return dt.timedelta(days=int(rng.integers(low, high + 1)))


class _Pathway:
    def __init__(self, world: World, seed: int) -> None:
        self.world, self.as_of = world, world.as_of
        self.rng = random_stream(seed, 40)
        self.rows: dict[str, list[dict]] = {t: [] for t in PATHWAY_TABLES}
        self.counters: dict[str, int] = defaultdict(int)

    def next_id(self, prefix: str) -> str:
        self.counters[prefix] += 1
        return f"{prefix}{self.counters[prefix]:07d}"

    def weekday(self, day: dt.date) -> dt.date:
        """``day`` if a weekday, else the Monday after (or the Friday before, where Monday is after the extract)."""
        if day.weekday() < 5:
            return day
        monday = day + dt.timedelta(days=7 - day.weekday())
        return monday if monday <= self.as_of else day - dt.timedelta(days=day.weekday() - 4)

    def child(self, child: Child, episodes: list[Episode]) -> None:
        cid = child.person.person_id
        cin = next((e for e in episodes if e.kind == "CIN"), None)
        cp = next((e for e in episodes if e.kind == "CP"), None)
        if cp is not None and cin is None:  # every plan sits in a referral
            cin = Episode(self.next_id("RF"), cid, "CIN", child.first_contact, None, "N1")
            self.world.episodes.append(cin)
        if cin is None:
            return
        self.referral(child, cin, cp)
        rng = self.rng
        if cin.end is not None and cin.end < self.as_of - dt.timedelta(days=30) and rng.random() < RE_REFERRAL:
            start = cin.end + _days(rng, 14, 330)
            if start < self.as_of:
                again = Episode(self.next_id("RF"), cid, "CIN", start, None, _weighted(rng, PRIMARY_NEED))
                self.world.episodes.append(again)
                if rng.random() < RE_REFERRAL_NFA:  # closed on the day it came in: no further action
                    again.referral_source, again.referral_nfa = _weighted(rng, REFERRAL_SOURCES), True
                    again.end, again.closure_reason = start, "RC7"
                    self.contact(child, again)
                else:
                    self.referral(child, again, None)

    def contact(self, child: Child, referral: Episode) -> None:
        day = max(child.person.dob, referral.start - _days(self.rng, 0, 2))
        self.rows["contact"].append(
            {
                "contact_id": self.next_id("CT"),
                "child_id": referral.child_id,
                "contact_date": day,
                "contact_source": referral.referral_source,
                "outcome": "no further action" if referral.referral_nfa else "referral",
            }
        )

    def referral(self, child: Child, e: Episode, cp: Episode | None) -> None:
        rng = self.rng
        e.referral_source, e.referral_nfa = _weighted(rng, REFERRAL_SOURCES), False
        e.code = "N1" if cp is not None else _weighted(rng, PRIMARY_NEED)
        if cp is not None:
            self.plan(e, cp)
        self.contact(child, e)
        start = min(e.start + _days(rng, 0, 5), self.as_of)
        median, sigma = ASSESSMENT_WORKING_DAYS
        authorised = add_working_days(start, max(1, round(float(rng.lognormal(np.log(median), sigma)))))
        if authorised > self.as_of:
            authorised = None
            e.end = None  # an assessment still open keeps its referral open
        elif e.end is not None and e.end < authorised:
            e.end = authorised
        if cp is not None:
            factors = sorted({*CATEGORY_FACTORS[cp.code], *self.factors()})
        else:
            factors = ["21"] if rng.random() < NO_FACTORS else self.factors()
        nfa = cp is None and (factors == ["21"] or rng.random() < ASSESSMENT_NFA)
        assessment_id = self.next_id("AS")
        self.rows["assessment"].append(
            {
                "assessment_id": assessment_id,
                "referral_id": e.episode_id,
                "child_id": e.child_id,
                "start_date": start,
                "authorised_date": authorised,
                "child_seen": bool(rng.random() < 0.97),
                "outcome_nfa": nfa if authorised else None,
            }
        )
        if authorised is not None:
            for f in factors:
                self.rows["assessment_factor"].append({"assessment_id": assessment_id, "factor": f})
        if nfa:
            if authorised is not None:  # closed after assessment, no further action (or to early help)
                e.end = min(self.as_of, authorised + _days(rng, 0, 10))
                e.closure_reason = "RC8" if rng.random() < 0.9 else "RC9"
            return
        if cp is None and rng.random() < S47_WITHOUT_CONFERENCE:
            self.enquiry_without_conference(e, start)
        if cp is None and authorised is not None:
            self.cin_plan(e, authorised, e.end)
        if e.end is not None and e.closure_reason is None:
            e.closure_reason = _weighted(rng, CLOSURE_REASONS)

    def factors(self) -> list[str]:
        rng = self.rng
        codes = list(FACTORS)
        p = np.array(list(FACTORS.values()))
        n = min(4, 1 + int(rng.poisson(0.8)))
        return sorted(codes[int(i)] for i in rng.choice(len(codes), size=n, replace=False, p=p / p.sum()))

    def plan(self, e: Episode, cp: Episode) -> None:
        """A CP plan starts on the day of the conference that made it, after a section 47 enquiry."""
        rng = self.rng
        cp.code = _weighted(rng, CP_CATEGORY)
        cp.latest_category = cp.code if rng.random() < 0.9 else _weighted(rng, CP_CATEGORY)
        conference = self.weekday(cp.start)
        cp.start = conference
        e.start = min(e.start, conference)
        if cp.end is None:
            e.end = None
        elif e.end is not None and e.end < cp.end:
            e.end = cp.end
        s47_start = max(e.start, conference - _days(rng, 5, 20))
        s47_id, icpc_id = self.next_id("SF"), self.next_id("IC")
        cp.referral_id, cp.icpc_id = e.episode_id, icpc_id
        self.rows["s47_enquiry"].append(
            {
                "s47_id": s47_id,
                "referral_id": e.episode_id,
                "child_id": e.child_id,
                "start_date": s47_start,
                "end_date": conference,
                "icpc_required": True,
            }
        )
        self.rows["icpc"].append(
            {
                "icpc_id": icpc_id,
                "s47_id": s47_id,
                "referral_id": e.episode_id,
                "child_id": e.child_id,
                # 15 working days after the strategy discussion; no later than the extract (staging refuses a date
                # after it), for a conference held early
                "target_date": self.weekday(min(add_working_days(s47_start, 15), self.as_of)),
                "icpc_date": conference,
                "cp_plan_required": True,
            }
        )
        review = conference + dt.timedelta(days=90)  # three months, then every six
        while review <= self.as_of and (cp.end is None or review < cp.end):
            self.rows["cp_review"].append(
                {
                    "cp_review_id": self.next_id("CR"),
                    "cp_plan_id": cp.episode_id,
                    "child_id": e.child_id,
                    "review_date": review,
                }
            )
            review += dt.timedelta(days=182)
        stepped_down = cp.end is not None and cp.end < self.as_of
        if stepped_down and (e.end is None or e.end > cp.end + dt.timedelta(days=14)):
            self.cin_plan(e, cp.end + dt.timedelta(days=1), e.end)  # stepped down to a CIN plan

    def enquiry_without_conference(self, e: Episode, assessment_start: dt.date) -> None:
        rng = self.rng
        start = assessment_start + _days(rng, 0, 3)
        if start > self.as_of or (e.end is not None and start > e.end):
            return
        end = start + _days(rng, 2, 12)
        if end > self.as_of:
            end = None
            e.end = None
        elif e.end is not None and end > e.end:
            e.end = end
        self.rows["s47_enquiry"].append(
            {
                "s47_id": self.next_id("SF"),
                "referral_id": e.episode_id,
                "child_id": e.child_id,
                "start_date": start,
                "end_date": end,
                "icpc_required": False,
            }
        )

    def cin_plan(self, e: Episode, start: dt.date, end: dt.date | None) -> None:
        self.rows["cin_plan"].append(
            {
                "cin_plan_id": self.next_id("CN"),
                "referral_id": e.episode_id,
                "child_id": e.child_id,
                "start_date": start,
                "end_date": end,
            }
        )


def build_pathway(world: World, seed: int) -> None:
    """The pathway of every child with a CIN episode or a CP plan, into ``world`` (its episodes moved where the
    census's rules need it, the other rows in ``world.pathway``)."""
    pathway = _Pathway(world, seed)
    by_child: dict[str, list[Episode]] = defaultdict(list)
    for e in world.episodes:
        by_child[e.child_id].append(e)
    for child in world.children:
        pathway.child(child, by_child[child.person.person_id])
    world.pathway = pathway.rows


def plant_cin_defects(world: World, opts: SynthOptions) -> list[dict]:
    """One of each :data:`CIN_DEFECTS` on a different child, each in the census year so the return holds it
    (only when ``opts.cin_defects``). They are valid to every contract upstream: the DfE rules must find them."""
    if not opts.cin_defects:
        return []
    year_end = census_year_end(opts.as_of)
    year_start = dt.date(year_end.year - 1, 4, 1)

    def in_year(d: dt.date | None) -> bool:
        return d is not None and year_start <= d <= year_end

    rng = random_stream(opts.seed, 41)
    referrals = {e.episode_id: e for e in world.episodes if e.kind == "CIN"}
    plans = [e for e in world.episodes if e.kind == "CP"]
    rows = world.pathway
    used: set[str] = set()
    planted: list[dict] = []

    def pick(candidates: list, ok) -> object | None:
        for i in rng.permutation(len(candidates)):
            c = candidates[int(i)]
            child = c.child_id if isinstance(c, Episode) else c["child_id"]
            if child not in used and ok(c):
                used.add(child)
                return c
        return None

    def record(kind: str, child_id: str, record_id: str, original, value) -> None:
        planted.append(
            {
                "kind": kind,
                "rule": CIN_DEFECTS[kind],
                "child_id": child_id,
                "record_id": record_id,
                "original": None if original is None else str(original),
                "value": None if value is None else str(value),
            }
        )

    a = pick(
        rows["assessment"],
        lambda a: (
            in_year(a["start_date"])
            and in_year(a["authorised_date"])
            and in_year(referrals[a["referral_id"]].start - dt.timedelta(days=11))
        ),
    )
    if a:
        original, a["start_date"] = a["start_date"], referrals[a["referral_id"]].start - dt.timedelta(days=11)
        record("assessment_before_referral", a["child_id"], a["assessment_id"], original, a["start_date"])
    a = pick(
        rows["assessment"],
        lambda a: (
            in_year(a["authorised_date"])
            and a["start_date"] - referrals[a["referral_id"]].start >= dt.timedelta(days=2)
        ),
    )
    if a:
        original, a["authorised_date"] = a["authorised_date"], a["start_date"] - dt.timedelta(days=1)
        record("authorised_before_start", a["child_id"], a["assessment_id"], original, a["authorised_date"])
    conferences = {r["icpc_id"]: r for r in rows["icpc"]}
    p = pick(plans, lambda p: in_year(p.start + dt.timedelta(days=3)) and in_year(p.start))
    if p:
        original, p.start = p.start, p.start + dt.timedelta(days=3)
        record("cp_start_not_conference_date", p.child_id, p.episode_id, original, p.start)
    p = pick(plans, lambda p: in_year(p.start) and in_year(p.start + dt.timedelta(days=5 - p.start.weekday())))
    if p:
        original = p.start
        p.start = p.start + dt.timedelta(days=5 - p.start.weekday())  # the Saturday of that week
        conferences[p.icpc_id]["icpc_date"] = p.start
        record("conference_on_a_weekend", p.child_id, p.icpc_id, original, p.start)
    r = pick(list(referrals.values()), lambda r: in_year(r.start) and not r.referral_nfa)
    if r:
        original, r.referral_source = r.referral_source, "99"
        record("referral_source_not_a_code", r.child_id, r.episode_id, original, r.referral_source)
    r = pick(list(referrals.values()), lambda r: in_year(r.end) and r.closure_reason)
    if r:
        original, r.closure_reason = r.closure_reason, "RC10"
        record("closure_reason_not_a_code", r.child_id, r.episode_id, original, r.closure_reason)
    r = pick(list(referrals.values()), lambda r: in_year(r.end) and r.closure_reason)
    if r:
        original, r.closure_reason = r.closure_reason, None
        record("closed_without_a_reason", r.child_id, r.episode_id, original, None)
    p = pick(plans, lambda p: in_year(p.end) and in_year(p.start - dt.timedelta(days=7)))
    if p:
        original, p.end = p.end, p.start - dt.timedelta(days=7)
        record("cp_end_before_start", p.child_id, p.episode_id, original, p.end)
    p = pick(
        plans,
        lambda p: (
            in_year(p.start + dt.timedelta(days=30))
            and in_year(p.start)
            and (p.end is None or p.end > p.start + dt.timedelta(days=30))
        ),
    )
    if p:
        plan = {
            "cin_plan_id": f"CN9{len(rows['cin_plan']):06d}",
            "referral_id": p.referral_id,
            "child_id": p.child_id,
            "start_date": p.start + dt.timedelta(days=7),
            "end_date": p.start + dt.timedelta(days=30),
        }
        rows["cin_plan"].append(plan)
        record("cin_plan_during_cp_plan", p.child_id, plan["cin_plan_id"], None, plan["start_date"])
    p = pick(plans, lambda p: in_year(p.start))
    if p:
        review = {
            "cp_review_id": f"CR9{len(rows['cp_review']):06d}",
            "cp_plan_id": p.episode_id,
            "child_id": p.child_id,
            "review_date": p.start,
        }
        rows["cp_review"].append(review)
        record("cp_review_on_plan_start", p.child_id, review["cp_review_id"], None, p.start)
    factors_of: dict[str, list[str]] = defaultdict(list)
    for f in rows["assessment_factor"]:
        factors_of[f["assessment_id"]].append(f["factor"])
    a = pick(
        rows["assessment"],
        lambda a: (
            in_year(a["authorised_date"])
            and factors_of[a["assessment_id"]]
            and "21" not in factors_of[a["assessment_id"]]
        ),
    )
    if a:
        rows["assessment_factor"].append({"assessment_id": a["assessment_id"], "factor": "21"})
        record(
            "no_factors_with_factors", a["child_id"], a["assessment_id"], ",".join(factors_of[a["assessment_id"]]), "21"
        )
    return planted
