"""Name, place and organisation pools for the synthetic council, split into disjoint train/eval halves.

A model trained on a council generated with ``split="train"`` must be evaluated on names, places and
templates it has never seen, so every pool is partitioned deterministically by a hash of each value:
about a quarter of the values go to ``eval`` and the rest to ``train``, and no value is in both.

The lists themselves are data files in ``synth/data/`` (one value a line in the ``.txt`` files, ``#`` lines are
comments; a header row in the ``.csv`` files), read once at import in file order: the order decides which value a
seed draws, so a list is edited there and its order kept.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from faker.providers.person.en_GB import Provider as GBPerson

SPLITS = ("train", "eval")
DATA_DIR = Path(__file__).resolve().parent / "data"


def _values(name: str) -> tuple[str, ...]:
    """The values of ``data/<name>.txt``, one a line, in file order."""
    lines = (DATA_DIR / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    return tuple(line for line in lines if line and not line.startswith("#"))


def _rows(name: str) -> list[dict[str, str]]:
    """The rows of ``data/<name>.csv`` (header first), in file order."""
    with (DATA_DIR / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _grouped(rows: list[dict[str, str]], key: str, value: str) -> dict[str, tuple[str, ...]]:
    """Each ``key``'s ``value``s, keys and values in file order."""
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row[value])
    return {k: tuple(v) for k, v in groups.items()}


# Common nicknames and short forms: the name-variant problem the council pilot never solved
# ("Jon, John, Jonny, Johnathan, J"). The generator uses them to write realistic variants; the
# pipeline must not read this map (it has its own alias list), or evaluation would be circular.
_NICKNAME_ROWS = _rows("nicknames")
NICKNAMES: dict[str, tuple[str, ...]] = {row["name"]: tuple(row["short_forms"].split()) for row in _NICKNAME_ROWS}
# The map's men's names (its ``sex`` column): Faker's list of men's names lacks some of them, and a name of the map
# that is in neither counts as a woman's.
_MALE_NICK_BASES = {row["name"] for row in _NICKNAME_ROWS if row["sex"] == "M"}

# Names common in the minority ethnic communities of English councils, so a child's or adopter's
# recorded ethnicity and their name are plausible together. Split like every other pool.
EXTRA_FIRST_MALE = _values("minority_first_names_male")
EXTRA_FIRST_FEMALE = _values("minority_first_names_female")
EXTRA_SURNAMES = _values("minority_surnames")

STREET_STEMS = _values("street_stems")
STREET_SUFFIXES = _values("street_suffixes")
POSTCODES_FILE = DATA_DIR / "postcodes.csv"


@cache
def _postcodes_by_district() -> dict[str, tuple[str, ...]]:
    by_district: dict[str, list[str]] = {}
    for line in POSTCODES_FILE.read_text(encoding="utf-8").splitlines()[1:]:
        district, postcode, _ = line.split(",")
        by_district.setdefault(district, []).append(postcode)
    return {d: tuple(p) for d, p in by_district.items()}


def real_postcodes(district: str) -> tuple[str, ...]:
    """Real postcodes of an outward district (scripts/extract_real_postcodes.py took them from the ONS-derived
    register the DfE 903 validator bundles): the 903 rules look postcodes up, so fictional ones fail them."""
    return _postcodes_by_district()[district]


# East Riding of Yorkshire: its LA code has been stable since 2021, which the DfE 903 validator's data needs.
TOWNS: tuple[tuple[str, str], ...] = tuple((row["town"], row["district"]) for row in _rows("towns"))
SCHOOL_STEMS = _values("school_stems")
SCHOOL_KINDS = _values("school_kinds")
GP_STEMS = _values("gp_stems")
GP_KINDS = _values("gp_kinds")
# Organisations as case recording names them, composed per kind from real naming patterns (police forces,
# prisons, courts, hospitals, family centres, housing providers, charities, statutory teams), so the model
# learns what an organisation looks like rather than a short list of names. Each composed name falls in one
# split (by its hash, like every pool), so the eval council names organisations the model never saw.
ORG_TOWNS = _values("organisation_towns")
POLICE_FORCES = _values("police_forces")
PRISONS = _values("prisons")
ORG_STEMS = _values("organisation_stems")
NATIONAL_ORGANISATIONS = _grouped(_rows("national_organisations"), "kind", "name")


def _organisation_names() -> dict[str, tuple[str, ...]]:
    """Every organisation name by kind: the national names plus names composed from towns and stems."""
    kinds: dict[str, list[str]] = {k: list(v) for k, v in NATIONAL_ORGANISATIONS.items()}
    kinds["police"] = [f"{f} Police" for f in POLICE_FORCES]
    kinds["prison"] = [f"HMP {p}" for p in PRISONS] + [f"HMYOI {p}" for p in PRISONS[::4]]
    kinds["court"] = [f"{t} {k}" for t in ORG_TOWNS[::2] for k in ("Family Court", "Magistrates' Court")] + [
        f"{t} Crown Court" for t in ORG_TOWNS[::5]
    ]
    kinds["health"] += [f"{t} {k}" for t in ORG_TOWNS for k in ("Hospital", "CAMHS")] + [
        f"{s} {k}" for s in ORG_STEMS[::2] for k in ("Dental Practice", "Community Hospital", "Recovery Service")
    ]
    kinds["family_centre"] = [f"{t} Family Centre" for t in ORG_TOWNS] + [
        f"{s} {k}" for s in ORG_STEMS for k in ("Children's Centre", "Family Hub")
    ]
    kinds["housing"] += [f"{s} {k}" for s in ORG_STEMS for k in ("Housing", "Homes", "Housing Association")]
    kinds["charity"] += [f"{t} {k}" for t in ORG_TOWNS for k in ("Foodbank", "Women's Refuge", "Young Carers")] + [
        f"{s} {k}" for s in ORG_STEMS for k in ("Trust", "Project", "Community Interest Company")
    ]
    kinds["statutory"] += [f"{t} {k}" for t in ORG_TOWNS[1::2] for k in ("Early Help Hub", "Jobcentre")]
    return {k: tuple(dict.fromkeys(v)) for k, v in sorted(kinds.items())}


# Risk and protective factors, written as records phrase them (a noun phrase that reads after "a"). Unlike the
# name pools they are not split by hash: the eval phrases were written apart from the train ones, so the
# held-out score is on factors neither the model nor the factor classifier saw. 30 train phrases alone taught
# the model the phrases, not what a factor is (held-out factor recall 0.40 and 0.13): hence 46 and 42.
TRAIN_RISK_FACTORS = _values("risk_factors_train")
TRAIN_PROTECTIVE_FACTORS = _values("protective_factors_train")
EVAL_RISK_FACTORS = _values("risk_factors_eval")
EVAL_PROTECTIVE_FACTORS = _values("protective_factors_eval")
FACTORS = {
    "train": (TRAIN_RISK_FACTORS, TRAIN_PROTECTIVE_FACTORS),
    "eval": (EVAL_RISK_FACTORS, EVAL_PROTECTIVE_FACTORS),
}


EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.co.uk")


def split_of(value: str) -> str:
    """The split a pool value belongs to: stable across runs, machines and Python versions."""
    digest = hashlib.sha1(value.encode("utf-8")).digest()
    return "eval" if digest[0] % 4 == 0 else "train"


def _take(values, split: str) -> tuple:
    seen: dict = {}
    for v in values:
        key = v[0] if isinstance(v, tuple) else v
        if split_of(key) == split:
            seen.setdefault(key, v)
    return tuple(seen.values())


@dataclass(frozen=True)
class Pools:
    split: str
    first_male: tuple[str, ...]
    first_female: tuple[str, ...]
    minority_first_male: tuple[str, ...]
    minority_first_female: tuple[str, ...]
    surnames: tuple[str, ...]
    minority_surnames: tuple[str, ...]
    street_stems: tuple[str, ...]
    towns: tuple[tuple[str, str], ...]
    school_stems: tuple[str, ...]
    gp_stems: tuple[str, ...]
    organisations: tuple[str, ...]  # every kind together
    organisations_by_kind: dict[str, tuple[str, ...]]  # police, prison, court, health, housing, charity, ...
    risk_factors: tuple[str, ...]
    protective_factors: tuple[str, ...]


@cache
def pools_for(split: str) -> Pools:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    nick_male = {n for n in NICKNAMES if n in set(GBPerson.first_names_male) or n in _MALE_NICK_BASES}
    male = sorted(set(GBPerson.first_names_male) | nick_male)
    female = sorted((set(GBPerson.first_names_female) | set(NICKNAMES)) - set(male))
    by_kind = {kind: _take(names, split) for kind, names in _organisation_names().items()}
    return Pools(
        split=split,
        first_male=_take(male, split),
        first_female=_take(female, split),
        minority_first_male=_take(EXTRA_FIRST_MALE, split),
        minority_first_female=_take(EXTRA_FIRST_FEMALE, split),
        surnames=_take(sorted(set(GBPerson.last_names)), split),
        minority_surnames=_take(EXTRA_SURNAMES, split),
        street_stems=_take(STREET_STEMS, split),
        towns=_take(TOWNS, split),
        school_stems=_take(SCHOOL_STEMS, split),
        gp_stems=_take(GP_STEMS, split),
        organisations=tuple(name for names in by_kind.values() for name in names),
        organisations_by_kind=by_kind,
        risk_factors=FACTORS[split][0],
        protective_factors=FACTORS[split][1],
    )
