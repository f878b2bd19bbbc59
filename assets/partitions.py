"""Partitions: each source system's extracts, one partition per extract date.

Dynamic, because extracts arrive when the council sends them; the landing sensor adds a partition
for each complete extract it sees, so backfills and re-runs of any extract work from the UI.
"""

from __future__ import annotations

import dagster as dg

from lake.contracts.sources import SOURCES

EXTRACT_PARTITIONS: dict[str, dg.DynamicPartitionsDefinition] = {
    source: dg.DynamicPartitionsDefinition(name=f"{source}_extracts") for source in SOURCES
}
