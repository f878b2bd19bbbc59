"""The input contract: what an agency's export must hold for the adopter analysis to run on it.

``features``: one row per approved household, the columns of the ``adopter_features`` mart (docs/insights.md
lists them with their meaning). ``reports``: household_id and report_text, the prospective adopter report
(PAR) summary. Anything else in the export is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

FEATURE_COLUMNS: dict[str, type[pl.DataType]] = {
    "household_id": pl.String,
    "household_type": pl.String,
    "status": pl.String,
    "region": pl.String,
    "religion": pl.String,
    "ethnicity": pl.String,
    "is_minority_ethnic_household": pl.Boolean,
    "prior_fostering": pl.Boolean,
    "years_fostering": pl.Int64,
    "birth_children": pl.Int64,
    "oldest_adult_age": pl.Int64,
    "occupation_sector": pl.String,
    "pref_sibling_group": pl.Boolean,
    "pref_age_5_plus": pl.Boolean,
    "pref_minority_ethnic": pl.Boolean,
    "pref_disability": pl.Boolean,
    "adopted_sibling_group": pl.Boolean,
    "adopted_age_5_plus": pl.Boolean,
    "adopted_minority_ethnic": pl.Boolean,
    "adopted_disabled": pl.Boolean,
}
REPORT_COLUMNS: dict[str, type[pl.DataType]] = {"household_id": pl.String, "report_text": pl.String}
MATCHED, WAITING = "Matched", "Approved - waiting"


@dataclass(frozen=True)
class Cohort:
    name: str
    label: str  # "a sibling group": reads after "adopting"
    outcome: str  # the column that says the household adopted such a child
    preference: str  # the column that says the household is open to such a child


COHORTS: tuple[Cohort, ...] = (
    Cohort("sibling_group", "a sibling group", "adopted_sibling_group", "pref_sibling_group"),
    Cohort("age_5_plus", "a child aged 5 or over", "adopted_age_5_plus", "pref_age_5_plus"),
    Cohort("minority_ethnic", "a minority ethnic child", "adopted_minority_ethnic", "pref_minority_ethnic"),
    Cohort("disability", "a disabled child", "adopted_disabled", "pref_disability"),
)


def pool(features: pl.DataFrame, cohort: Cohort) -> pl.DataFrame:
    """The households a list for ``cohort`` is drawn from: approved, waiting, and open to such a child."""
    return features.filter((pl.col("status") == WAITING) & pl.col(cohort.preference).fill_null(False))


class InsightsInputError(ValueError):
    """The export does not meet the input contract; the message says every way it falls short."""


def checked(features: pl.DataFrame, reports: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The two frames cast to the contract's types, or an error naming every missing column, bad type,
    duplicate or unknown status at once."""
    problems = []
    for frame, columns, what in ((features, FEATURE_COLUMNS, "features"), (reports, REPORT_COLUMNS, "reports")):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            problems.append(f"{what}: missing column(s) {', '.join(missing)}")
    if problems:
        raise InsightsInputError("; ".join(problems))
    try:
        features = features.select(pl.col(c).cast(t, strict=True) for c, t in FEATURE_COLUMNS.items())
        reports = reports.select(pl.col(c).cast(t, strict=True) for c, t in REPORT_COLUMNS.items())
    except pl.exceptions.PolarsError as e:
        raise InsightsInputError(f"a column does not have the contract's type: {e}") from e
    if features["household_id"].is_duplicated().any():
        problems.append(f"features: {features['household_id'].is_duplicated().sum()} duplicate household_id rows")
    if features["household_id"].is_null().any():
        problems.append("features: household_id is empty on some rows")
    unknown = set(features["status"].unique().to_list()) - {MATCHED, WAITING}
    if unknown:
        problems.append(f"features: status must be {MATCHED!r} or {WAITING!r}, found {sorted(map(str, unknown))}")
    if reports["household_id"].is_duplicated().any():
        problems.append("reports: more than one report for a household")
    if problems:
        raise InsightsInputError("; ".join(problems))
    # A household with no report has no text themes, never an error: many agencies hold reports as scans.
    reports = (
        features.select("household_id")
        .join(reports, on="household_id", how="left")
        .with_columns(pl.col("report_text").fill_null(""))
    )
    return features, reports
