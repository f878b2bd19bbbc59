"""The adopter insights as an asset: a thin wrapper around ``lake.insights.analysis``. It reads the lake's own
``adopter_features`` mart and report text, or an adoption agency's export when ``CASELAKE_AGENCY_EXPORT`` names
one, and writes the effects, the list, its fairness audit, the themes and the groups to the ``insights`` layer."""

from pathlib import Path

import dagster as dg
import polars as pl

from assets.resources import LakehouseResource
from lake.insights import analysis
from lake.insights.contract import WAITING
from lake.search.embedding import Embedder
from lake.storage.delta import INSIGHTS

ADOPTER_INSIGHTS = dg.AssetKey([INSIGHTS, "adopter_insights"])


@dg.asset(
    key=ADOPTER_INSIGHTS,
    group_name="insights",
    deps=[dg.AssetKey(["marts", "adopter_features"])],
    kinds={"delta", "python"},
    description="Who adopts the children who wait longest (Firth odds ratios with profile-likelihood intervals "
    "and q-values, from records and report text), the approved households not yet matched ranked for each "
    "cohort without protected characteristics, the list's fairness audit, and descriptive groups.",
    check_specs=[
        dg.AssetCheckSpec(
            "every_listed_household_explained",
            asset=ADOPTER_INSIGHTS,
            description="Every listed household is waiting, open to the cohort it is listed for, has its reasons "
            "in words and an estimate inside its own interval.",
        )
    ],
)
def adopter_insights(context: dg.AssetExecutionContext, lakehouse: LakehouseResource):
    settings = lakehouse.settings()
    lake = settings.lake()
    if settings.insights.agency_export:
        features, reports = analysis.export_inputs(Path(settings.insights.agency_export))
    else:
        features, reports = analysis.lake_inputs(lake, settings.duckdb_path())
    result = analysis.analyse(
        features,
        reports,
        Embedder(settings.search).encode,
        history=analysis.history(lake),
        top_k=settings.insights.top_k,
    )
    rows = analysis.write(lake, result, context.run_id)
    yield dg.MaterializeResult(metadata={**result.summary, **{f"rows_{k}": v for k, v in rows.items()}})
    listed = result.candidates.join(features.select("household_id", "status", *_preferences()), on="household_id")
    bad = listed.filter(
        (pl.col("status") != WAITING)
        | (pl.col("reasons").str.len_chars() == 0)
        | ~pl.col("estimate").is_between(pl.col("estimate_low"), pl.col("estimate_high"))
        | ~pl.struct("cohort", *_preferences()).map_elements(
            lambda r: bool(r[f"pref_{r['cohort']}"]), return_dtype=pl.Boolean
        )
    )
    yield dg.AssetCheckResult(
        check_name="every_listed_household_explained",
        passed=bad.height == 0 and listed.height == result.candidates.height,
        metadata={"listed": result.candidates.height, "problems": bad.height},
    )


def _preferences() -> list[str]:
    return ["pref_sibling_group", "pref_age_5_plus", "pref_minority_ethnic", "pref_disability"]


defs = dg.Definitions(assets=[adopter_insights])
