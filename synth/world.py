"""The underlying truth of a synthetic council: people, families, workers, episodes and adoptions.

Everything here is generated from one seeded ``numpy`` generator per concern, so the same seed and
options always give the same world. Export shapes (LiquidLogic-like, Mosaic-like) and free text are
rendered *from* this model; the pipeline never sees it, only the ground-truth folder does.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from synth.pools import EMAIL_DOMAINS, GP_KINDS, NICKNAMES, SCHOOL_KINDS, STREET_SUFFIXES, Pools, real_postcodes

# DfE ethnicity codes with rough English shares among children in social care.
ETHNICITY_WEIGHTS: dict[str, float] = {
    "WBRI": 0.70,
    "WIRI": 0.005,
    "WOTH": 0.04,
    "WIRT": 0.005,
    "WROM": 0.005,
    "MWBC": 0.025,
    "MWBA": 0.01,
    "MWAS": 0.01,
    "MOTH": 0.02,
    "AIND": 0.015,
    "APKN": 0.03,
    "ABAN": 0.01,
    "AOTH": 0.01,
    "BCRB": 0.015,
    "BAFR": 0.03,
    "BOTH": 0.01,
    "CHNE": 0.005,
    "OOTH": 0.015,
    "REFU": 0.005,
    "NOBT": 0.005,
}
# "Minority ethnic" as the adoption cohort uses it: every recorded code but White British, White
# Irish, any other White background, refused and not obtained. Gypsy/Roma and Traveller of Irish
# heritage count as minority ethnic, as they do in DfE statistics.
NOT_MINORITY = frozenset({"WBRI", "WIRI", "WOTH", "REFU", "NOBT"})
DISABILITY_CODES = ("MOB", "HAND", "PC", "INC", "COMM", "LD", "HEAR", "VIS", "BEH", "CON", "AUT", "DDA")

CIN_REASONS = ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8")
CP_CATEGORIES = ("NEG", "PHY", "EMO", "SAB", "MUL")
TEAMS = (
    "Hambleton and Richmondshire Children's Social Care",
    "Harrogate and Craven Children's Social Care",
    "Scarborough and Ryedale Children's Social Care",
    "Selby Children's Social Care",
    "Children in Care Team",
    "Fostering and Adoption Team",
)
WORKER_ROLES = ("Social Worker", "Senior Practitioner", "Team Manager", "Family Support Worker")
REGIONS = ("North Yorkshire", "East Riding", "West Yorkshire", "Teesside", "Cumbria", "Lancashire")
RELIGIONS = ("Christian", "None", "Muslim", "Hindu", "Sikh", "Jewish", "Buddhist", "Other")
OCCUPATION_SECTORS = (
    "Education",
    "Health and care",
    "Public sector",
    "Retail",
    "Finance",
    "Trades",
    "Hospitality",
    "Technology",
    "Self-employed",
    "Not working",
)
HOUSEHOLD_TYPES = ("Married couple", "Civil partners", "Unmarried couple", "Single adopter")

# Relationship types, from the child's point of view. Immediate family first (pilot: ~7 per child),
# then the wider network (pilot: ~2 per child).
IMMEDIATE = (
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
)
WIDER = ("aunt", "uncle", "family friend", "neighbour", "foster carer", "mother's partner", "godparent")


@dataclass(frozen=True)
class Address:
    address_id: str
    line1: str
    town: str
    postcode: str

    @property
    def one_line(self) -> str:
        return f"{self.line1}, {self.town}"


@dataclass
class NameSpell:
    valid_from: dt.date
    first: str
    surname: str
    reason: str  # "birth", "marriage", "change of name", "gender change", "correction"


@dataclass
class GenderSpell:
    valid_from: dt.date
    gender: str  # "male", "female", "non-binary"


@dataclass
class AddressSpell:
    valid_from: dt.date
    valid_to: dt.date | None
    address: Address


@dataclass
class Person:
    person_id: str
    sex: str  # "M" / "F"
    dob: dt.date
    ethnicity: str
    is_child: bool
    names: list[NameSpell]
    genders: list[GenderSpell]
    addresses: list[AddressSpell] = field(default_factory=list)
    middle: str | None = None
    disability: str | None = None
    upn: str | None = None
    nhs_number: str | None = None
    phone: str | None = None
    email: str | None = None
    family_id: str | None = None
    # False for council staff and professionals: they are named in records but are not person records.
    recorded: bool = True
    is_mother: bool | None = None  # recorded for girls (SSDA903 MOTHER)

    def name_at(self, when: dt.date) -> NameSpell:
        current = self.names[0]
        for spell in self.names:
            if spell.valid_from <= when:
                current = spell
        return current

    def address_at(self, when: dt.date) -> Address | None:
        for spell in self.addresses:
            if spell.valid_from <= when and (spell.valid_to is None or when < spell.valid_to):
                return spell.address
        return self.addresses[-1].address if self.addresses else None

    def gender_at(self, when: dt.date) -> str:
        current = self.genders[0].gender
        for spell in self.genders:
            if spell.valid_from <= when:
                current = spell.gender
        return current

    def nicknames(self, when: dt.date) -> tuple[str, ...]:
        return NICKNAMES.get(self.name_at(when).first, ())

    @property
    def minority_ethnic(self) -> bool:
        return self.ethnicity not in NOT_MINORITY


@dataclass
class Relationship:
    relationship_id: str
    child_id: str
    person_id: str
    relation: str  # from the child's point of view, one of IMMEDIATE or WIDER
    start: dt.date
    end: dt.date | None = None


@dataclass
class Worker:
    worker_id: str
    person: Person
    role: str
    team: str


@dataclass
class Professional:
    """Someone named in the records by their job: a teacher, a GP, a police officer."""

    person: Person
    role: str  # "class teacher", "GP", "health visitor", "police officer", ...
    organisation: str


@dataclass
class Involvement:
    involvement_id: str
    child_id: str
    worker_id: str
    start: dt.date
    end: dt.date | None
    kind: str  # "Allocated social worker", "Family support worker", "IRO"


@dataclass
class Episode:
    episode_id: str
    child_id: str
    kind: str  # "CIN", "CP", "CLA"
    start: dt.date
    end: dt.date | None
    code: str  # CIN reason, CP category, or CLA legal status
    reason_new: str | None = None  # CLA RNE
    reason_end: str | None = None  # CLA REC
    placement_type: str | None = None  # CLA PL
    placement_postcode: str | None = None
    placement_provider: str | None = None  # CLA PLACE_PROVIDER
    carer_id: str | None = None
    urn: str | None = None  # the provider's Ofsted unique reference number
    reason_place_change: str | None = None  # why the placement ended, when the next episode moves the child
    # The children-in-need pathway (synth.council.pathway): a CIN episode is a referral, a CP plan sits in one.
    referral_source: str | None = None  # CIN census ReferralSource
    referral_nfa: bool | None = None
    closure_reason: str | None = None  # CIN census ReasonForClosure, RC1-RC9
    referral_id: str | None = None  # a CP plan's referral
    icpc_id: str | None = None  # a CP plan's initial conference
    latest_category: str | None = None  # a CP plan's category at its latest review


@dataclass
class Review:
    """A statutory review of a looked-after child's care plan (SSDA903 Reviews)."""

    review_id: str
    child_id: str
    review_date: dt.date
    participation: str  # PN0 (under 4) to PN7


@dataclass
class MissingEpisode:
    """A period a looked-after child was missing from, or away without authorisation from, their placement."""

    missing_id: str
    child_id: str
    missing_type: str  # M: missing, A: away from placement without authorisation
    start: dt.date
    end: dt.date | None


@dataclass
class Adoption:
    adoption_id: str
    child_id: str
    household_id: str | None
    entered_care: dt.date
    decision_to_place: dt.date
    placement_order: dt.date | None
    matched: dt.date | None
    placed: dt.date | None
    adoption_order: dt.date | None
    sibling_group_id: str | None
    adopted_by_foster_carer: bool


@dataclass
class AdopterHousehold:
    household_id: str
    household_type: str
    adult_ids: list[str]
    ages: list[int]
    ethnicity: str
    religion: str
    prior_fostering: bool
    years_fostering: int
    birth_children: int
    occupation_sector: str
    region: str
    approval_date: dt.date
    preferences: dict[str, bool]  # open to: sibling_group, age_5_plus, minority_ethnic, disability
    matched: bool
    report_text: str = ""
    # Known only from the prospective adopter report's text, never a recorded field.
    cared_for_disabled_relative: bool = False
    outdoor_family_life: bool = False


@dataclass
class Restriction:
    child_id: str
    worker_ids: list[str]
    reason: str
    start: dt.date


@dataclass
class Child:
    """A child and everything around them; the unit that notes, documents and forms hang on."""

    person: Person
    relations: dict[str, list[Person]]  # relation -> people
    professionals: list[Professional]
    school: str
    gp_surgery: str
    first_contact: dt.date
    closed: dt.date | None


@dataclass
class World:
    seed: int
    split: str
    as_of: dt.date
    people: dict[str, Person]
    children: list[Child]
    relationships: list[Relationship]
    workers: list[Worker]
    involvements: list[Involvement]
    episodes: list[Episode]
    adoptions: list[Adoption]
    households: list[AdopterHousehold]
    reviews: list[Review]
    missing: list[MissingEpisode]
    restrictions: list[Restriction]
    planted_effects: list[dict]
    # The children-in-need pathway's rows beside the episodes (synth.council.pathway): neutral table -> rows.
    pathway: dict[str, list[dict]] = field(default_factory=dict)

    @cached_property
    def worker_by_id(self) -> dict[str, Worker]:
        return {w.worker_id: w for w in self.workers}

    @cached_property
    def involvements_by_child(self) -> dict[str, list[Involvement]]:
        out: dict[str, list[Involvement]] = {}
        for inv in self.involvements:
            out.setdefault(inv.child_id, []).append(inv)
        return out

    def worker_at(self, child_id: str, when: dt.date) -> Worker:
        """The worker allocated to the child on ``when`` (the first allocation when none covers it)."""
        invs = self.involvements_by_child.get(child_id, [])
        for inv in invs:
            if inv.start <= when and (inv.end is None or when <= inv.end):
                return self.worker_by_id[inv.worker_id]
        return self.worker_by_id[invs[0].worker_id] if invs else self.workers[0]


# Planted adoption effects: the true odds ratios of a household adopting a child of each cohort,
# for each characteristic. Characteristics absent from a cohort's dict have no effect at all
# (odds ratio 1), which an honest analysis must not "discover".
PLANTED_EFFECTS: dict[str, dict[str, float]] = {
    "sibling_group": {"prior_fostering": 2.5, "birth_children": 1.6},
    "age_5_plus": {"prior_fostering": 2.0, "oldest_adult_45_plus": 1.8},
    "minority_ethnic": {"minority_ethnic_household": 3.0},
    "disability": {"health_or_care_sector": 2.2, "cared_for_disabled_relative": 2.5},
}
# Effects that live only in the text of the prospective adopter report (varied wording, never a field), and a
# text theme with no effect at all: the analysis should find the first from the text and not invent the second.
TEXT_ONLY_CHARACTERISTICS = ("cared_for_disabled_relative",)
NULL_TEXT_THEMES = ("outdoor_family_life",)
TEXT_TRAIT_SHARES = {"cared_for_disabled_relative": 0.25, "outdoor_family_life": 0.4}
COHORT_BASE_ODDS = {"sibling_group": 0.25, "age_5_plus": 0.3, "minority_ethnic": 0.12, "disability": 0.12}
# Ofsted URNs of the council's own fostering service and regional adoption agency (invented, URN-shaped).
FOSTERING_URN = "SC046802"
ADOPTION_AGENCY_URN = "SC479130"
# Placement types the DfE says carry no URN (903 rule 222).
NO_URN_PLACEMENTS = frozenset({"P1", "P3", "R1", "R2", "R5", "T0", "T1", "T2", "T3", "T4", "Z11", "Z12", "Z13", "Z14"})
ADOPTED_SHARE = 0.15  # at most this share of the council's children are on an adoption journey
NULL_CHARACTERISTICS = ("religion", "region", "household_type")


def household_features(h: AdopterHousehold) -> dict[str, bool]:
    return {
        "prior_fostering": h.prior_fostering,
        "birth_children": h.birth_children > 0,
        "oldest_adult_45_plus": max(h.ages) >= 45,
        "minority_ethnic_household": h.ethnicity not in NOT_MINORITY,
        "health_or_care_sector": h.occupation_sector == "Health and care",
        "cared_for_disabled_relative": h.cared_for_disabled_relative,
        "outdoor_family_life": h.outdoor_family_life,
    }


def cohort_odds_ratio(h: AdopterHousehold, cohort: str, with_text: bool = True) -> float:
    """The product of the planted odds ratios of this household's characteristics for ``cohort`` (without the
    text-only ones when ``with_text`` is false)."""
    features = household_features(h)
    return math.prod(
        r
        for feature, r in PLANTED_EFFECTS[cohort].items()
        if features[feature] and (with_text or feature not in TEXT_ONLY_CHARACTERISTICS)
    )


def cohort_probability(h: AdopterHousehold, cohort: str, with_text: bool = True) -> float:
    """The true probability that this household's adopted child belongs to ``cohort``."""
    odds = COHORT_BASE_ODDS[cohort] * cohort_odds_ratio(h, cohort, with_text)
    return odds / (1 + odds)


FIT_ODDS_RATIO = 2.0  # a waiting household "fits" a cohort when its characteristics at least double the odds


def cohort_fit_rows(households: list[AdopterHousehold]) -> list[dict]:
    """The truth about waiting households: for each cohort, the planted probability and odds ratio, and
    whether it "fits" (its characteristics at least double the odds and it is open to such a child)."""
    rows = []
    for h in households:
        if h.matched:
            continue
        for cohort in PLANTED_EFFECTS:
            odds_ratio = cohort_odds_ratio(h, cohort)
            rows.append(
                {
                    "household_id": h.household_id,
                    "cohort": cohort,
                    "true_probability": cohort_probability(h, cohort),
                    "true_odds_ratio": odds_ratio,
                    "open_to_cohort": h.preferences[cohort],
                    "fits": bool(odds_ratio >= FIT_ODDS_RATIO and h.preferences[cohort]),
                    **household_features(h),
                }
            )
    return rows


def luhn_free_nhs_number(rng: np.random.Generator) -> str:
    """A 10-digit number that passes the NHS modulus-11 check, in the 999 test range."""
    while True:
        digits = [9, 9, 9, *rng.integers(0, 10, size=6).tolist()]
        total = sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check != 10:
            return "".join(map(str, [*digits, check]))


_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def _care_periods(episodes: list[Episode]) -> list[tuple[dt.date, dt.date | None]]:
    """Continuous periods of care: episodes that start the day the previous one ends join one period."""
    periods: list[list] = []
    for e in sorted(episodes, key=lambda e: e.start):
        if periods and periods[-1][1] is not None and e.start <= periods[-1][1]:
            periods[-1][1] = e.end if e.end is None or (periods[-1][1] and e.end > periods[-1][1]) else periods[-1][1]
        else:
            periods.append([e.start, e.end])
    return [(a, b) for a, b in periods]


def upn(rng: np.random.Generator) -> str:
    """A UPN-shaped id: check letter, 3-digit LA code (811, East Riding of Yorkshire), 9 digits."""
    body = "811" + "".join(map(str, rng.integers(0, 10, size=9).tolist()))
    total = sum(int(c) * w for c, w in zip(body, range(2, 14), strict=True))
    return _UPN_LETTERS[total % 23] + body


def mobile(rng: np.random.Generator) -> str:
    # Ofcom's drama range (07700 900000-900999): never a real subscriber.
    return f"07700 900{int(rng.integers(0, 1000)):03d}"


def landline(rng: np.random.Generator) -> str:
    # Ofcom's drama range for the 0113 (Leeds) area: 0113 496 0000-0999.
    return f"0113 496 {int(rng.integers(0, 1000)):04d}"


class WorldBuilder:
    """Builds a :class:`World`. One instance per generation; not thread-safe."""

    def __init__(self, pools: Pools, seed: int, as_of: dt.date, n_children: int):
        self.pools = pools
        self.seed = seed
        self.as_of = as_of
        self.n_children = n_children
        self.rng = np.random.default_rng([seed, 1])
        self.people: dict[str, Person] = {}
        self._counters: dict[str, int] = {}
        self._addresses: dict[str, Address] = {}

    # ---- ids and primitives -------------------------------------------------------------
    def next_id(self, prefix: str) -> str:
        n = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = n
        return f"{prefix}{n:07d}"

    def choice(self, seq):
        return seq[int(self.rng.integers(0, len(seq)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def date_between(self, start: dt.date, end: dt.date) -> dt.date:
        days = max(0, (end - start).days)
        return start + dt.timedelta(days=int(self.rng.integers(0, days + 1)))

    def ethnicity(self) -> str:
        codes = list(ETHNICITY_WEIGHTS)
        w = np.array(list(ETHNICITY_WEIGHTS.values()))
        return codes[int(self.rng.choice(len(codes), p=w / w.sum()))]

    def first_name(self, sex: str, minority: bool) -> str:
        if minority and self.chance(0.7):
            pool = self.pools.minority_first_male if sex == "M" else self.pools.minority_first_female
        else:
            pool = self.pools.first_male if sex == "M" else self.pools.first_female
        return self.choice(pool)

    def surname(self, minority: bool) -> str:
        if minority and self.chance(0.7):
            return self.choice(self.pools.minority_surnames)
        return self.choice(self.pools.surnames)

    def address(self) -> Address:
        town, district = self.choice(self.pools.towns)
        line1 = (
            f"{int(self.rng.integers(1, 120))} {self.choice(self.pools.street_stems)} {self.choice(STREET_SUFFIXES)}"
        )
        addr = Address(self.next_id("A"), line1, town, self.choice(real_postcodes(district)))
        self._addresses[addr.address_id] = addr
        return addr

    def person(
        self,
        *,
        sex: str,
        dob: dt.date,
        ethnicity: str,
        is_child: bool,
        surname: str | None = None,
        family_id: str | None = None,
    ) -> Person:
        minority = ethnicity not in NOT_MINORITY
        first = self.first_name(sex, minority)
        p = Person(
            person_id=self.next_id("P"),
            sex=sex,
            dob=dob,
            ethnicity=ethnicity,
            is_child=is_child,
            names=[NameSpell(dob, first, surname or self.surname(minority), "birth")],
            genders=[GenderSpell(dob, "male" if sex == "M" else "female")],
            middle=self.first_name(sex, minority) if self.chance(0.5) else None,
            family_id=family_id,
        )
        if not is_child:
            p.phone = mobile(self.rng) if self.chance(0.8) else landline(self.rng)
            if self.chance(0.6):
                user = f"{first}.{p.names[0].surname}".lower().replace(" ", "").replace("'", "")
                p.email = f"{user}{int(self.rng.integers(1, 99))}@{self.choice(EMAIL_DOMAINS)}"
        self.people[p.person_id] = p
        return p

    # ---- the world ------------------------------------------------------------------------
    def build(self) -> World:
        self.workers = self._workers()
        self.children: list[Child] = []
        self.relationships: list[Relationship] = []
        self.involvements: list[Involvement] = []
        self.episodes: list[Episode] = []
        self.adoptions: list[Adoption] = []
        self.households = self._households()
        # Adoptive children come first so that planted effects fully determine their cohorts.
        self._adopted_children()
        while len(self.children) < self.n_children:
            self._family(size=min(int(self.rng.choice([1, 1, 2, 2, 3, 4])), self.n_children - len(self.children)))
        restrictions = self._restrictions()
        reviews, missing = self._reviews_and_missing()
        effects = [
            {"cohort": c, "characteristic": f, "odds_ratio": r}
            for c, fx in PLANTED_EFFECTS.items()
            for f, r in fx.items()
        ] + [
            {"cohort": c, "characteristic": f, "odds_ratio": 1.0}
            for c in PLANTED_EFFECTS
            for f in NULL_CHARACTERISTICS + NULL_TEXT_THEMES
        ]
        return World(
            seed=self.seed,
            split=self.pools.split,
            as_of=self.as_of,
            people=self.people,
            children=self.children,
            relationships=self.relationships,
            workers=self.workers,
            involvements=self.involvements,
            episodes=self.episodes,
            adoptions=self.adoptions,
            households=self.households,
            reviews=reviews,
            missing=missing,
            restrictions=restrictions,
            planted_effects=effects,
        )

    def _reviews_and_missing(self) -> tuple[list[Review], list[MissingEpisode]]:
        """Reviews at the statutory intervals (within 20 working days of entering care, 3 months later, then
        6-monthly) for each continuous period of care, and missing episodes for some children of 8 and over.
        A random stream of their own, so adding them changed nothing else the generator writes."""
        rng = np.random.default_rng([self.seed, 903])
        reviews: list[Review] = []
        missing: list[MissingEpisode] = []
        by_child: dict[str, list[Episode]] = {}
        for e in self.episodes:
            if e.kind == "CLA":
                by_child.setdefault(e.child_id, []).append(e)
        for child_id, episodes in by_child.items():
            dob = self.people[child_id].dob
            for start, end in _care_periods(episodes):
                last = min(end or self.as_of, self.as_of)
                when, gaps = start + dt.timedelta(days=int(rng.integers(14, 28))), iter([91])
                while when <= last:
                    age = (when - dob).days / 365.25
                    code = (
                        "PN0"
                        if age < 4
                        else str(rng.choice(["PN1", "PN1", "PN1", "PN2", "PN3", "PN4", "PN5", "PN6", "PN7"]))
                    )
                    reviews.append(Review(f"RV{len(reviews) + 1:07d}", child_id, when, code))
                    when += dt.timedelta(days=next(gaps, 182) - int(rng.integers(0, 14)))
                span = (last - start).days
                if (last - dob).days / 365.25 >= 8 and span > 30 and rng.random() < 0.4:
                    for _ in range(int(rng.integers(1, 4))):
                        m_start = start + dt.timedelta(days=int(rng.integers(1, span - 5)))
                        m_end = min(m_start + dt.timedelta(days=int(rng.integers(0, 5))), last)
                        missing.append(
                            MissingEpisode(
                                f"MS{len(missing) + 1:07d}",
                                child_id,
                                "M" if rng.random() < 0.7 else "A",
                                m_start,
                                m_end,
                            )
                        )
        return reviews, missing

    def _workers(self) -> list[Worker]:
        n = max(8, self.n_children // 12)
        workers = []
        for i in range(n):
            sex = "F" if self.chance(0.8) else "M"
            dob = self.date_between(dt.date(1960, 1, 1), dt.date(1998, 12, 31))
            p = self.person(sex=sex, dob=dob, ethnicity=self.ethnicity(), is_child=False)
            p.recorded = False
            p.email = f"{p.names[0].first}.{p.names[0].surname}@council.example.gov.uk".lower().replace("'", "")
            p.phone = landline(self.rng)
            role = WORKER_ROLES[0] if i % 6 else self.choice(WORKER_ROLES[1:])
            workers.append(Worker(self.next_id("W"), p, role, TEAMS[i % len(TEAMS)]))
        return workers

    def _households(self, n: int | None = None) -> list[AdopterHousehold]:
        """Approved adopter households (a council has about one for every five of its children)."""
        n = n if n is not None else max(40, self.n_children // 5)
        out = []
        # The text-only traits come from a stream of their own, so adding them moved nothing else.
        traits = self.text_traits_rng = np.random.default_rng([self.seed, 14])
        for _ in range(n):
            htype = self.choice(HOUSEHOLD_TYPES)
            n_adults = 1 if htype == "Single adopter" else 2
            eth = self.ethnicity()
            ages = [int(self.rng.integers(28, 58)) for _ in range(n_adults)]
            adults = []
            surname = self.surname(eth not in NOT_MINORITY)
            for i, age in enumerate(ages):
                sex = ("F", "M")[i % 2] if htype != "Civil partners" else ("F", "M")[int(self.rng.integers(0, 2))]
                dob = dt.date(self.as_of.year - age, int(self.rng.integers(1, 13)), int(self.rng.integers(1, 28)))
                adult = self.person(sex=sex, dob=dob, ethnicity=eth, is_child=False, surname=surname)
                adult.addresses = [AddressSpell(dob + dt.timedelta(days=365 * 22), None, self.address())]
                adults.append(adult)
            # Shared address for couples.
            for a in adults[1:]:
                a.addresses = list(adults[0].addresses)
            prior = self.chance(0.3)
            h = AdopterHousehold(
                household_id=self.next_id("H"),
                household_type=htype,
                adult_ids=[a.person_id for a in adults],
                ages=ages,
                ethnicity=eth,
                religion=self.choice(RELIGIONS),
                prior_fostering=prior,
                years_fostering=int(self.rng.integers(1, 15)) if prior else 0,
                birth_children=int(self.rng.choice([0, 0, 0, 1, 1, 2, 3])),
                occupation_sector=self.choice(OCCUPATION_SECTORS),
                region=self.choice(REGIONS),
                approval_date=self.date_between(self.as_of - dt.timedelta(days=6 * 365), self.as_of),
                preferences={},
                matched=self.chance(0.65),
                **{trait: bool(traits.random() < share) for trait, share in TEXT_TRAIT_SHARES.items()},
            )
            h.preferences = {c: self.chance(0.25 + 0.5 * cohort_probability(h, c)) for c in PLANTED_EFFECTS}
            out.append(h)
        return out

    def _adopted_children(self) -> None:
        """Children adopted by matched households; each cohort drawn from the planted effects."""
        budget = max(1, round(self.n_children * ADOPTED_SHARE))
        for h in self.households:
            if h.matched and len(self.children) >= budget:
                h.matched = False  # no child left in this council's adoption budget: still waiting
            if not h.matched:
                continue
            cohorts = self._adopted_cohorts(h)
            size = int(self.rng.integers(2, 4)) if cohorts["sibling_group"] else 1
            size = max(1, min(size, budget - len(self.children)))
            ethnicity = self.choice([c for c in ETHNICITY_WEIGHTS if c not in NOT_MINORITY])
            if not cohorts["minority_ethnic"]:
                ethnicity = "WBRI"
            age_at_placement = int(self.rng.integers(5, 11)) if cohorts["age_5_plus"] else int(self.rng.integers(0, 5))
            placed = self.date_between(max(h.approval_date, self.as_of - dt.timedelta(days=5 * 365)), self.as_of)
            kids = self._family(
                size=size,
                ethnicity=ethnicity,
                eldest_dob=placed - dt.timedelta(days=365 * age_at_placement + int(self.rng.integers(0, 300))),
                force_cla=True,
                born_by=placed - dt.timedelta(days=120),  # every sibling was born, and in care, before the placement
            )
            sibling_group = self.next_id("SG") if len(kids) > 1 else None
            if cohorts["disability"] == "text":
                codes = self.text_traits_rng.integers(0, len(DISABILITY_CODES))
                kids[0].person.disability = DISABILITY_CODES[int(codes)]
            elif cohorts["disability"]:
                kids[0].person.disability = self.choice(DISABILITY_CODES)
            else:
                for k in kids:
                    k.person.disability = None
            by_foster_carer = h.prior_fostering and self.chance(0.4)
            for k in kids:
                self._adoption_journey(k, h, placed, sibling_group, by_foster_carer)

    def _adopted_cohorts(self, h: AdopterHousehold) -> dict[str, bool | str]:
        """Which cohorts the household's adopted child belongs to, drawn with the planted probabilities. Drawn
        in two steps so that the text-only effects moved none of the council's other draws: first without them
        from the main stream, then, for a household the text-only effects favour, a top-up from the traits
        stream that brings the chance to exactly the planted probability ("text" marks such a draw)."""
        cohorts: dict[str, bool | str] = {c: self.chance(cohort_probability(h, c, False)) for c in PLANTED_EFFECTS}
        for c in PLANTED_EFFECTS:
            without, with_text = cohort_probability(h, c, False), cohort_probability(h, c)
            # (the draw is taken only when a top-up is possible: ``and`` short-circuits)
            if (
                not cohorts[c]
                and with_text > without
                and self.text_traits_rng.random() < (with_text - without) / (1 - without)
            ):
                cohorts[c] = "text"
        return cohorts

    def _adoption_journey(
        self, kid: Child, h: AdopterHousehold, placed: dt.date, sibling_group: str | None, by_foster_carer: bool
    ) -> None:
        entered = max(
            kid.person.dob + dt.timedelta(days=3), placed - dt.timedelta(days=int(self.rng.integers(300, 900)))
        )
        decision = entered + dt.timedelta(days=int(self.rng.integers(60, max(61, (placed - entered).days // 2))))
        order = decision + dt.timedelta(days=int(self.rng.integers(30, 120)))
        order = min(order, placed - dt.timedelta(days=30))
        matched = placed - dt.timedelta(days=int(self.rng.integers(7, 28)))
        adoption_order = placed + dt.timedelta(days=int(self.rng.integers(120, 300)))
        self.adoptions.append(
            Adoption(
                adoption_id=self.next_id("AD"),
                child_id=kid.person.person_id,
                household_id=h.household_id,
                entered_care=entered,
                decision_to_place=decision,
                placement_order=order,
                matched=matched,
                placed=placed,
                adoption_order=adoption_order if adoption_order <= self.as_of else None,
                sibling_group_id=sibling_group,
                adopted_by_foster_carer=by_foster_carer,
            )
        )
        # CLA episodes that match the journey: care order, then placement order, then placed.
        foster_pl = "U4" if by_foster_carer else "U1"
        adopt_pl = "A5" if by_foster_carer else "A6"
        # X1: the episode ceased and a new one began the same day (here a change of legal status, then placement).
        spans = [
            (entered, order, "C2", "S", "X1", foster_pl),
            (order, placed, "E1", "L", "X1", foster_pl),
            # With the current foster carers (A5) the move is in status only: RNE T, as the DfE requires.
            (
                placed,
                adoption_order if adoption_order <= self.as_of else None,
                "E1",
                "T" if by_foster_carer else "P",
                "E11",
                adopt_pl,
            ),
        ]
        foster_postcode, adopters_postcode = self.address().postcode, self.address().postcode
        for start, end, ls, rne, rec, pl in spans:
            postcode = adopters_postcode if pl.startswith("A") else foster_postcode  # RNE L: same placement
            moves_next = pl != adopt_pl and end == placed  # the next episode moves the child to the adopters
            self.episodes.append(
                Episode(
                    self.next_id("EP"),
                    kid.person.person_id,
                    "CLA",
                    start,
                    end,
                    ls,
                    rne,
                    rec if end else None,
                    pl,
                    postcode,
                    "PR1" if pl.startswith("U") else "PR2",
                    urn=FOSTERING_URN if pl.startswith("U") else ADOPTION_AGENCY_URN,
                    reason_place_change="LAREQ" if moves_next else None,
                )
            )
        # The child's case ends with the adoption order.
        if adoption_order <= self.as_of:
            kid.closed = adoption_order

    def _family(
        self,
        size: int,
        ethnicity: str | None = None,
        eldest_dob: dt.date | None = None,
        force_cla: bool = False,
        born_by: dt.date | None = None,
    ) -> list[Child]:
        """A family of ``size`` children and the people around them. The phases draw from the one random
        stream in a fixed order (parents, grandparents, step-parent and wider network, the children, then each
        child's record), so a seed always gives the same family."""
        family_id = self.next_id("F")
        eth = ethnicity or self.ethnicity()
        minority = eth not in NOT_MINORITY
        surname = self.surname(minority)
        eldest = eldest_dob or self.date_between(
            self.as_of - dt.timedelta(days=17 * 365), self.as_of - dt.timedelta(days=60)
        )
        mother, father = self._parents(family_id, eth, minority, surname, eldest)
        grand = self._grandparents(eth, minority, mother, father)
        step, wider = self._step_and_wider(eth, surname, mother)
        kids = self._siblings(size, family_id, eth, minority, surname, eldest, born_by, mother)
        children = []
        for kid in kids:
            relations: dict[str, list[Person]] = {"mother": [mother], "father": [father]}
            relations.update({k: [p] for k, p in grand.items()})
            for sib in kids:
                if sib is not kid:
                    relations.setdefault("brother" if sib.sex == "M" else "sister", []).append(sib)
            if step is not None:
                relations["stepfather"] = [step]
            for k, p in wider.items():
                relations[k] = [p]
            children.append(self._child_record(kid, relations, eth, force_cla))
        return children

    def _parents(
        self, family_id: str, eth: str, minority: bool, surname: str, eldest: dt.date
    ) -> tuple[Person, Person]:
        """Mother and father with their home; the mother may move house or change her surname."""
        mother_dob = eldest - dt.timedelta(days=int(self.rng.integers(17, 40)) * 365)
        mother = self.person(
            sex="F", dob=mother_dob, ethnicity=eth, is_child=False, surname=surname, family_id=family_id
        )
        father = self.person(
            sex="M",
            dob=mother_dob - dt.timedelta(days=int(self.rng.integers(-700, 3000))),
            ethnicity=eth,
            is_child=False,
            surname=surname if self.chance(0.6) else None,
            family_id=family_id,
        )
        home = self.address()
        for adult in (mother, father):
            adult.addresses = [AddressSpell(adult.dob + dt.timedelta(days=365 * 18), None, home)]
        if self.chance(0.3):  # the mother moves house during the case: address history
            moved = self.date_between(eldest, self.as_of)
            mother.addresses[0].valid_to = moved
            mother.addresses.append(AddressSpell(moved, None, self.address()))
        if self.chance(0.15):  # the mother changes her surname
            mother.names.append(
                NameSpell(
                    self.date_between(eldest, self.as_of), mother.names[0].first, self.surname(minority), "marriage"
                )
            )
        return mother, father

    def _grandparents(self, eth: str, minority: bool, mother: Person, father: Person) -> dict[str, Person]:
        """Both sets of grandparents, each at an address of their own."""
        mother_dob = mother.dob
        grand = {
            "maternal grandmother": self.person(
                sex="F",
                dob=mother_dob - dt.timedelta(days=int(self.rng.integers(18, 35)) * 365),
                ethnicity=eth,
                is_child=False,
                surname=self.surname(minority),
            ),
            "maternal grandfather": None,
            "paternal grandmother": self.person(
                sex="F",
                dob=father.dob - dt.timedelta(days=int(self.rng.integers(18, 35)) * 365),
                ethnicity=eth,
                is_child=False,
                surname=father.names[0].surname,
            ),
            "paternal grandfather": None,
        }
        grand["maternal grandfather"] = self.person(
            sex="M",
            dob=grand["maternal grandmother"].dob - dt.timedelta(days=700),
            ethnicity=eth,
            is_child=False,
            surname=grand["maternal grandmother"].names[0].surname,
        )
        grand["paternal grandfather"] = self.person(
            sex="M",
            dob=grand["paternal grandmother"].dob - dt.timedelta(days=500),
            ethnicity=eth,
            is_child=False,
            surname=father.names[0].surname,
        )
        for g in grand.values():
            g.addresses = [AddressSpell(g.dob + dt.timedelta(days=365 * 25), None, self.address())]
        return grand

    def _step_and_wider(self, eth: str, surname: str, mother: Person) -> tuple[Person | None, dict[str, Person]]:
        """Perhaps a stepfather living with the mother, and some of the wider network."""
        mother_dob = mother.dob
        step = None
        if self.chance(0.3):
            step = self.person(
                sex="M",
                dob=mother_dob - dt.timedelta(days=int(self.rng.integers(-1500, 3000))),
                ethnicity=self.ethnicity(),
                is_child=False,
            )
            step.addresses = list(mother.addresses)
        wider_kinds = [k for k in ("aunt", "uncle", "family friend", "neighbour", "godparent") if self.chance(0.35)]
        wider = {
            k: self.person(
                sex="F" if k == "aunt" else ("M" if k == "uncle" else self.choice("MF")),
                dob=mother_dob + dt.timedelta(days=int(self.rng.integers(-3000, 3000))),
                ethnicity=eth,
                is_child=False,
                surname=surname if k in ("aunt", "uncle") and self.chance(0.5) else None,
            )
            for k in wider_kinds
        }
        for w in wider.values():
            w.addresses = [AddressSpell(w.dob + dt.timedelta(days=365 * 20), None, self.address())]
        return step, wider

    def _siblings(
        self,
        size: int,
        family_id: str,
        eth: str,
        minority: bool,
        surname: str,
        eldest: dt.date,
        born_by: dt.date | None,
        mother: Person,
    ) -> list[Person]:
        """The children, living with their mother; a few have a disability or change their recorded gender."""
        kids: list[Person] = []
        for i in range(size):
            dob = eldest + dt.timedelta(days=int(self.rng.integers(300, 900)) * i)
            dob = min(dob, born_by or self.as_of - dt.timedelta(days=30))
            kid = self.person(
                sex=self.choice("MF"), dob=dob, ethnicity=eth, is_child=True, surname=surname, family_id=family_id
            )
            kid.upn = upn(self.rng)
            kid.nhs_number = luhn_free_nhs_number(self.rng)
            kid.addresses = [AddressSpell(dob, s.valid_to, s.address) for s in mother.addresses]
            kid.disability = self.choice(DISABILITY_CODES) if self.chance(0.08) else None
            age = (self.as_of - dob).days / 365.25
            if kid.sex == "F":  # SSDA903 asks it of every looked-after girl; no child in this world is a mother
                kid.is_mother = False
            if age > 12 and self.chance(0.04):  # a young person changes their recorded gender and name
                changed = self.date_between(dob + dt.timedelta(days=365 * 12), self.as_of)
                new_sex = "M" if kid.sex == "F" else "F"
                kid.genders.append(GenderSpell(changed, "male" if new_sex == "M" else "female"))
                kid.names.append(
                    NameSpell(changed, self.first_name(new_sex, minority), kid.names[0].surname, "gender change")
                )
            kids.append(kid)
        return kids

    def _child_record(self, kid: Person, relations: dict[str, list[Person]], eth: str, force_cla: bool) -> Child:
        """The child's case: first contact and closure, school, GP and professionals, episodes and workers."""
        first_contact = self.date_between(
            max(kid.dob, self.as_of - dt.timedelta(days=6 * 365)), self.as_of - dt.timedelta(days=20)
        )
        closed = None if self.chance(0.6) else self.date_between(first_contact + dt.timedelta(days=10), self.as_of)
        school = f"{self.choice(self.pools.school_stems)} {self.choice(SCHOOL_KINDS)}"
        gp = f"{self.choice(self.pools.gp_stems)} {self.choice(GP_KINDS)}"
        profs = self._professionals(school, gp, eth)
        child = Child(kid, relations, profs, school, gp, first_contact, closed)
        self.children.append(child)
        self._episodes_and_involvements(child, force_cla=force_cla)
        return child

    def _professionals(self, school: str, gp: str, eth: str) -> list[Professional]:
        roles = [
            ("class teacher", school),
            ("GP", gp),
            ("health visitor", "Health Visiting Team"),
            ("police officer", "Humberside Police"),
            ("school nurse", school),
            ("family support worker", "Early Help Team"),
        ]
        out = []
        for role, org in roles:
            if role in ("class teacher", "GP") or self.chance(0.5):
                p = self.person(
                    sex=self.choice("MF"),
                    dob=self.date_between(dt.date(1965, 1, 1), dt.date(1998, 1, 1)),
                    ethnicity=self.ethnicity(),
                    is_child=False,
                )
                p.recorded = False
                out.append(Professional(p, role, org))
        return out

    def _episodes_and_involvements(self, child: Child, force_cla: bool) -> None:
        cid = child.person.person_id
        start, end = child.first_contact, child.closed
        # Relationships, as the source system records them.
        for relation, people in child.relations.items():
            for p in people:
                self.relationships.append(
                    Relationship(self.next_id("R"), cid, p.person_id, relation, max(child.person.dob, start))
                )
        # Allocated workers in sequence: the "how many social workers has this child had" question.
        n_workers = 1 + int(self.rng.poisson(1.2))
        bounds = sorted(self.date_between(start, end or self.as_of) for _ in range(n_workers - 1))
        edges = [start, *bounds, end]
        for i in range(n_workers):
            w = self.choice(self.workers)
            self.involvements.append(
                Involvement(self.next_id("I"), cid, w.worker_id, edges[i], edges[i + 1], "Allocated social worker")
            )
        if self.chance(0.7):
            cin_end = end if end else (None if self.chance(0.5) else self.date_between(start, self.as_of))
            self.episodes.append(Episode(self.next_id("EP"), cid, "CIN", start, cin_end, self.choice(CIN_REASONS)))
        if self.chance(0.2):
            cp_start = self.date_between(start, end or self.as_of)
            cp_end = cp_start + dt.timedelta(days=int(self.rng.integers(90, 500)))
            self.episodes.append(
                Episode(
                    self.next_id("EP"),
                    cid,
                    "CP",
                    cp_start,
                    cp_end if cp_end <= self.as_of else None,
                    self.choice(CP_CATEGORIES),
                )
            )
        if not force_cla and self.chance(0.12):
            carer = self.person(
                sex=self.choice("MF"),
                dob=self.date_between(dt.date(1960, 1, 1), dt.date(1990, 1, 1)),
                ethnicity=self.ethnicity(),
                is_child=False,
            )
            carer.addresses = [AddressSpell(dt.date(2010, 1, 1), None, self.address())]
            child.relations["foster carer"] = [carer]
            self.relationships.append(Relationship(self.next_id("R"), cid, carer.person_id, "foster carer", start))
            cla_start = self.date_between(start, end or self.as_of)
            legal = self.choice(("V2", "C1", "C2"))
            cla_end = cla_start + dt.timedelta(days=int(self.rng.integers(30, 700)))
            closed = cla_end <= self.as_of
            reason_end = self.choice(("E4A", "E13", "E41")) if closed else None
            placement = self.choice(("U1", "U3", "U4", "U6", "R1", "K2"))
            self.episodes.append(
                Episode(
                    self.next_id("EP"),
                    cid,
                    "CLA",
                    cla_start,
                    cla_end if closed else None,
                    legal,
                    "S",
                    reason_end,
                    placement,
                    carer.addresses[0].address.postcode,
                    "PR1",
                    carer.person_id,
                    urn=None if placement in NO_URN_PLACEMENTS else FOSTERING_URN,
                )
            )

    def _restrictions(self) -> list[Restriction]:
        out = []
        workers_of: dict[str, list[str]] = {}  # a child's workers in allocation order (not a scan per child)
        for inv in self.involvements:
            workers_of.setdefault(inv.child_id, []).append(inv.worker_id)
        for child in self.children:
            if self.chance(0.03):
                allowed = workers_of.get(child.person.person_id, [])[:2]
                reason = self.choice(("Sensitive adoption record", "Staff member's relative", "High-profile case"))
                out.append(Restriction(child.person.person_id, allowed, reason, child.first_contact))
        return out
