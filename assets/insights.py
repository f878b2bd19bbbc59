"""The adopter insights as an asset: a thin wrapper around ``lake.insights.analysis``. It reads the lake's own
``adopter_features`` mart and report text, or an adoption agency's export when ``CASELAKE_AGENCY_EXPORT`` names
one, and writes the effects, the list, its fairness audit, the themes and the groups to the ``insights`` layer."""

import dagster as dg
import polars as pl

from assets.metering import metered
from assets.resources import LakehouseResource
from lake.embedding import Embedder
from lake.insights import analysis
from lake.insights.contract import COHORTS, WAITING
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
@metered
def adopter_insights(context: dg.AssetExecutionContext, lakehouse: LakehouseResource):
    settings = lakehouse.settings()
    result = analysis.run(settings, context.run_id, Embedder(settings.search).encode)
    yield dg.MaterializeResult(metadata=result.summary)
    listed = result.candidates.join(result.households, on="household_id")
    open_to_cohort = pl.coalesce(pl.when(pl.col("cohort") == c.name).then(pl.col(c.preference)) for c in COHORTS)
    bad = listed.filter(
        (pl.col("status") != WAITING)
        | ~open_to_cohort.fill_null(False)
        | (pl.col("reasons").str.len_chars() == 0)
        | ~pl.col("estimate").is_between(pl.col("estimate_low"), pl.col("estimate_high"))
    )
    yield dg.AssetCheckResult(
        check_name="every_listed_household_explained",
        passed=bad.height == 0 and listed.height == result.candidates.height,
        metadata={"listed": result.candidates.height, "problems": bad.height},
    )


defs = dg.Definitions(assets=[adopter_insights])
