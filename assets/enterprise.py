"""Enterprise assets: source-agnostic entities with history and soft deletes.

Not partitioned: each run rebuilds only the groups touched since its watermarks (see
``lake.ingest.enterprise``), whichever source and extract they came from. Inline checks: keys unique and
references between enterprise tables resolve.
"""

import dagster as dg

from assets.metering import metered
from assets.resources import LakehouseResource
from assets.staging import staging_key
from lake.contracts.sources import NEUTRAL_TABLES, SOURCES
from lake.ingest import enterprise, identity
from lake.ingest.pipeline import build_enterprise


def enterprise_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["enterprise", table])


_specs = [
    dg.AssetSpec(
        enterprise_key(t.name),
        deps=[staging_key(source, s) for source in SOURCES for s in t.sources],
        kinds={"delta", "polars"},
        description=f"Enterprise {t.name}: key {', '.join(t.key)}.",
        metadata={"key": ", ".join(t.key)},
    )
    for t in enterprise.TABLES
] + [
    dg.AssetSpec(
        enterprise_key(identity.CROSSWALK),
        deps=[staging_key(source, s) for source in SOURCES for s in NEUTRAL_TABLES],
        kinds={"delta", "polars"},
        description="Each source's ids and the enterprise id each maps to (decision 0033): the first source to "
        "send an id keeps it, a later one gets <source>:<id>.",
        metadata={"key": "entity, source, source_id"},
    ),
    dg.AssetSpec(
        enterprise_key(identity.PERSON_LINK),
        deps=[enterprise_key("person"), enterprise_key("child")],
        kinds={"delta", "polars"},
        description="People of two sources who look like one real person (same NHS number, or the same name and "
        "date of birth), with the evidence: a link for a person to review, never a merge.",
        metadata={"key": "person_id, linked_person_id"},
    ),
]
_checks = [dg.AssetCheckSpec("keys_unique", asset=enterprise_key(t.name)) for t in enterprise.TABLES] + [
    dg.AssetCheckSpec(
        "references_resolve",
        asset=enterprise_key(t.name),
        description=(
            "Every reference finds its row. A warning, not an error: a parent row quarantined in staging "
            "leaves its children dangling until the source corrects it."
        ),
    )
    for t in enterprise.TABLES
    if t.references
]


@dg.multi_asset(name="enterprise_tables", group_name="enterprise", specs=_specs, check_specs=_checks, can_subset=False)
@metered
def enterprise_tables(context: dg.AssetExecutionContext, lakehouse: LakehouseResource):
    lake = lakehouse.lake()
    loads = build_enterprise(lake)
    for t in enterprise.TABLES:
        load = loads[t.name]
        yield dg.MaterializeResult(asset_key=enterprise_key(t.name), metadata={**load.metadata()})
        dupes = enterprise.duplicate_keys(lake, t)
        yield dg.AssetCheckResult(
            asset_key=enterprise_key(t.name),
            check_name="keys_unique",
            passed=dupes == 0,
            metadata={"duplicate_keys": dupes},
        )
        if t.references:
            broken = enterprise.check_references(lake, t)
            yield dg.AssetCheckResult(
                asset_key=enterprise_key(t.name),
                check_name="references_resolve",
                passed=not any(broken.values()),
                metadata=broken,
                severity=dg.AssetCheckSeverity.WARN,
            )
    for name in (identity.CROSSWALK, identity.PERSON_LINK):
        yield dg.MaterializeResult(asset_key=enterprise_key(name), metadata={**loads[name].metadata()})


defs = dg.Definitions(assets=[enterprise_tables])
