"""The household characteristics the analysis looks at, in plain words, with which are protected.

Protected characteristics (Equality Act 2010: age, race and ethnicity, religion or belief, sex, sexual
orientation, marriage and civil partnership, disability) are analysed — recruitment targeting needs to know
who adopts which children — but never enter the score that ranks approved households (``candidates.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from lake.insights.themes import THEMES


@dataclass(frozen=True)
class Characteristic:
    name: str
    label: str
    source: str  # "record" or "report text"
    protected: str | None  # which protected characteristic it is (or reveals), else None
    value: Callable[[pl.DataFrame], pl.Series] | None = None  # from the features frame; None for text themes


def _col(expr: pl.Expr) -> Callable[[pl.DataFrame], pl.Series]:
    return lambda df: df.select(expr.fill_null(False).alias("v"))["v"]


REGIONS_SEEN_AS_REFERENCE = "the commonest region"


def record_characteristics(features: pl.DataFrame) -> list[Characteristic]:
    """The recorded characteristics; regions as one indicator each against the commonest region."""
    out = [
        Characteristic("prior_fostering", "Has fostered before", "record", None, _col(pl.col("prior_fostering"))),
        Characteristic("birth_children", "Has birth children", "record", None, _col(pl.col("birth_children") > 0)),
        Characteristic(
            "health_or_care_sector",
            "Works in health or care",
            "record",
            None,
            _col(pl.col("occupation_sector") == "Health and care"),
        ),
        Characteristic(
            "oldest_adult_45_plus",
            "Oldest adult is 45 or over",
            "record",
            "age",
            _col(pl.col("oldest_adult_age") >= 45),
        ),
        Characteristic(
            "minority_ethnic_household",
            "Minority ethnic household",
            "record",
            "race and ethnicity",
            _col(pl.col("is_minority_ethnic_household")),
        ),
        Characteristic(
            "has_faith",
            "Has a religious faith",
            "record",
            "religion or belief",
            _col(pl.col("religion").is_not_null() & ~pl.col("religion").is_in(["None", "No religion", ""])),
        ),
        Characteristic(
            "single_adopter",
            "Single adopter",
            "record",
            "sex, marriage and civil partnership",
            _col(pl.col("household_type") == "Single adopter"),
        ),
        Characteristic(
            "civil_partners",
            "Civil partners",
            "record",
            "sexual orientation, marriage and civil partnership",
            _col(pl.col("household_type") == "Civil partners"),
        ),
    ]
    regions = features["region"].drop_nulls().value_counts(sort=True)["region"].to_list()
    for region in regions[1:]:
        out.append(
            Characteristic(f"region: {region}", f"Lives in {region}", "record", None, _col(pl.col("region") == region))
        )
    return out


def theme_characteristics() -> list[Characteristic]:
    return [Characteristic(t.name, t.label, "report text", None) for t in THEMES]


def household_matrix(features: pl.DataFrame, themes: pl.DataFrame, characteristics: list[Characteristic]) -> np.ndarray:
    """0/1 matrix, one row per household of ``features`` (in order), one column per characteristic."""
    by_id = features.select("household_id").join(themes, on="household_id", how="left")
    columns = []
    for c in characteristics:
        series = c.value(features) if c.value is not None else by_id[c.name].fill_null(False)
        columns.append(series.cast(pl.Float64).to_numpy())
    return np.column_stack(columns) if columns else np.zeros((features.height, 0))
