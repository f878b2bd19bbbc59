"""An adoption agency's adopter history alone: approved households, several years of matches and the text of
each prospective adopter report (PAR), from the council's world model and planted effects — fast enough to
simulate hundreds of agencies (the council generator makes only one household per five children).

The PAR text carries two traits no field records: caring for a disabled relative (a planted effect on adopting
a disabled child, written in varied wording) and an outdoor family life (a theme with no effect at all).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from synth.pools import pools_for
from synth.world import (
    NOT_MINORITY,
    PLANTED_EFFECTS,
    AdopterHousehold,
    WorldBuilder,
    cohort_fit_rows,
    household_features,
)

# The caring-for-a-disabled-relative trait, in the many ways report writers put it (no names, so the same
# phrasing recurs across agencies and an embedding cache stays small).
_RELATIVES = (
    "a younger brother",
    "an older sister",
    "her mother",
    "his father",
    "a grandparent",
    "an uncle",
    "a cousin",
    "a nephew",
    "their niece",
)
_CONDITIONS = (
    "cerebral palsy",
    "a learning disability",
    "multiple sclerosis",
    "autism",
    "Down's syndrome",
    "a spinal injury",
    "muscular dystrophy",
    "sight loss",
    "early-onset dementia",
)
_CARING_FRAMES = (
    "One applicant helped care for {rel} who has {cond}.",
    "They shared the care of {rel} living with {cond} for several years.",
    "Growing up, one of them was a young carer for {rel} with {cond}.",
    "They have supported {rel} with {cond}, including personal care and hospital appointments.",
    "Family life has included looking after {rel}, who has {cond}.",
    "The applicant was the main carer for {rel} with {cond} until last year.",
    "They know the daily reality of disability: {rel} has {cond} and they help with care every week.",
)
_OUTDOOR = (
    "They enjoy hill walking and camping at weekends.",
    "The household keeps two dogs and walks them daily.",
    "Weekends are spent cycling, gardening and at the allotment.",
    "They are keen wild swimmers and go to the coast whenever they can.",
    "Holidays are spent fell-walking in the Lake District.",
    "They love being outdoors and plan to build a treehouse.",
)
_CLOSING = (
    "Their referees describe them as patient, warm and resilient.",
    "They have a strong support network of family and friends nearby.",
    "They have attended preparation training and reflected well on attachment and loss.",
    "They enjoy outdoor activities and have a large garden.",
)
# Near misses a theme finder must not take for the caring trait.
_NO_CARING = (
    "Neither applicant has caring responsibilities for relatives.",
    "They volunteer at a local hospice charity shop.",
)


def prospective_adopter_report(h: AdopterHousehold, names: str, rng: np.random.Generator) -> str:
    """The PAR summary: recorded facts in words, then what only the text says."""
    live, were = ("lives", "was") if len(h.adult_ids) == 1 else ("live", "were")
    parts = [
        f"{names} ({h.household_type.lower()}) {live} in {h.region} and {were} approved on {h.approval_date:%d %B %Y}."
    ]
    if h.prior_fostering:
        years = "one year" if h.years_fostering == 1 else f"{h.years_fostering} years"
        parts.append(f"They have fostered for {years} and describe caring for children with complex histories.")
    else:
        parts.append("They have not fostered before but have volunteered with children's groups.")
    parts.append(
        {0: "They have no birth children.", 1: "They have one birth child."}.get(
            h.birth_children, f"They have {h.birth_children} birth children."
        )
    )
    parts.append(f"Work: {h.occupation_sector.lower()}. Faith: {h.religion.lower()}.")
    parts.append(str(rng.choice(_CLOSING)))
    if h.cared_for_disabled_relative:
        frame = _CARING_FRAMES[int(rng.integers(len(_CARING_FRAMES)))]
        rel, cond = _RELATIVES[int(rng.integers(len(_RELATIVES)))], _CONDITIONS[int(rng.integers(len(_CONDITIONS)))]
        parts.append(frame.format(rel=rel, cond=cond))
    elif rng.random() < 0.15:
        parts.append(str(rng.choice(_NO_CARING)))
    if h.outdoor_family_life:
        parts.append(str(rng.choice(_OUTDOOR)))
    return " ".join(parts)


@dataclass
class Agency:
    """An agency's export in the insights input contract, and the truth it was drawn from."""

    features: pl.DataFrame  # one row per household, the columns of the ``adopter_features`` mart
    reports: pl.DataFrame  # household_id, report_text
    planted_effects: pl.DataFrame  # cohort, characteristic, odds_ratio (1.0 = no effect)
    cohort_fit: pl.DataFrame  # the waiting households: true probability, odds ratio and fit per cohort
    traits: pl.DataFrame  # household_id and the true value of every characteristic, text-only ones included


def generate_agency(
    households: int = 600, seed: int = 0, as_of: dt.date = dt.date(2026, 11, 1), split: str = "train"
) -> Agency:
    """An agency with ``households`` approved households over six years, about 65% of them matched."""
    if households < 1:
        raise ValueError("households must be at least 1")
    builder = WorldBuilder(pools_for(split), seed, as_of, n_children=0)
    builder.people = {}
    homes = builder._households(households)
    rng = np.random.default_rng([seed, 9])
    rows, reports = [], []
    for h in homes:
        names = " and ".join(builder.people[a].names[-1].first for a in h.adult_ids)
        h.report_text = prospective_adopter_report(h, names, rng)
        adopted = dict.fromkeys(PLANTED_EFFECTS, False)
        children = 0
        if h.matched:
            adopted = {c: bool(v) for c, v in builder._adopted_cohorts(h).items()}
            children = int(rng.integers(2, 4)) if adopted["sibling_group"] else 1
        rows.append(
            {
                "household_id": h.household_id,
                "household_type": h.household_type,
                "status": "Matched" if h.matched else "Approved - waiting",
                "approval_date": h.approval_date,
                "region": h.region,
                "religion": h.religion,
                "ethnicity": h.ethnicity,
                "is_minority_ethnic_household": h.ethnicity not in NOT_MINORITY,
                "prior_fostering": h.prior_fostering,
                "years_fostering": h.years_fostering,
                "birth_children": h.birth_children,
                "has_birth_children": h.birth_children > 0,
                "oldest_adult_age": max(h.ages),
                "occupation_sector": h.occupation_sector,
                **{f"pref_{c}": h.preferences[c] for c in PLANTED_EFFECTS},
                "children_adopted": children,
                "adopted_sibling_group": adopted["sibling_group"],
                "adopted_age_5_plus": adopted["age_5_plus"],
                "adopted_minority_ethnic": adopted["minority_ethnic"],
                "adopted_disabled": adopted["disability"],
            }
        )
        reports.append({"household_id": h.household_id, "report_text": h.report_text})
    effects = [
        {"cohort": c, "characteristic": f, "odds_ratio": r} for c, fx in PLANTED_EFFECTS.items() for f, r in fx.items()
    ]
    return Agency(
        features=pl.DataFrame(rows),
        reports=pl.DataFrame(reports),
        planted_effects=pl.DataFrame(effects),
        cohort_fit=pl.DataFrame(cohort_fit_rows(homes)),
        traits=pl.DataFrame([{"household_id": h.household_id, **household_features(h)} for h in homes]),
    )


def write_agency(agency: Agency, out: Path) -> dict[str, Path]:
    """The export another agency would hand over (features and report text), and the truth beside it."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(exist_ok=True)
    paths = {
        "features": out / "adopter_features.parquet",
        "reports": out / "adopter_reports.parquet",
        "planted_effects": out / "truth" / "planted_effects.parquet",
        "cohort_fit": out / "truth" / "adopter_cohort_fit.parquet",
        "traits": out / "truth" / "household_traits.parquet",
    }
    agency.features.write_parquet(paths["features"])
    agency.reports.write_parquet(paths["reports"])
    agency.planted_effects.write_parquet(paths["planted_effects"])
    agency.cohort_fit.write_parquet(paths["cohort_fit"])
    agency.traits.write_parquet(paths["traits"])
    return paths
