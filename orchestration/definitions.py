"""The Dagster code location: each asset module brings its assets and their checks, ``automation`` every job,
schedule and sensor; this file only merges."""

from __future__ import annotations

import dagster as dg

from assets import audit, documents, enterprise, entities, housekeeping, insights, landing, marts, search, staging
from assets.resources import LakehouseResource
from orchestration import automation

defs = dg.Definitions.merge(
    landing.defs,
    staging.defs,
    enterprise.defs,
    documents.defs,
    entities.defs,
    marts.defs,
    search.defs,
    insights.defs,
    audit.defs,
    housekeeping.defs,
    automation.defs,
    dg.Definitions(resources={"lakehouse": LakehouseResource()}),
)
