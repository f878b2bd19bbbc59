"""The Dagster code location: each asset module brings its assets and their checks, ``automation`` every job,
schedule and sensor; this file only merges."""

from __future__ import annotations

import dagster as dg

from assets import (
    audit,
    cin_census,
    documents,
    enterprise,
    entities,
    housekeeping,
    insights,
    landing,
    marts,
    search,
    staging,
)
from assets.resources import LakehouseResource
from lake.storage.private import private_files
from orchestration import automation

# Dagster's runs write the lake, the warehouse and the landing copies: owner-only, as the CLI's are. Here because
# this module is what every Dagster process (the webserver, the daemon, each run) loads first.
private_files()

defs = dg.Definitions.merge(
    landing.defs,
    staging.defs,
    enterprise.defs,
    documents.defs,
    entities.defs,
    marts.defs,
    cin_census.defs,
    search.defs,
    insights.defs,
    audit.defs,
    housekeeping.defs,
    automation.defs,
    dg.Definitions(resources={"lakehouse": LakehouseResource()}),
)
