"""The Children in Need census (issue 40): the DfE's CIN rules over the census built from the cin_census_* marts,
as a check that fails with ERROR severity on any error (decision 0047).

Not blocking, though the issue asked for it: a blocking check fails its run, and the run is the day's enterprise
stage. The default demo council's one malformed UPN (a deliberate cell defect, which the 903 rules catch too) then
stopped the documents, entities and search stages and the app from being served. A return filed once a year must
not hold the day's load: the check fails loudly in Dagster with the rules and the children, nothing built on the
census exists, and `caselake returns cin` exits 1 while the census has errors: that is the gate before filing.
Queries and the return-level 2887Q (noise on a small council: lake/returns/cin.py) are reported, never failed on.
"""

from __future__ import annotations

import dagster as dg

from assets.resources import LakehouseResource
from lake.returns.cin import TABLES, validate_return

CIN_KEYS = [dg.AssetKey(["marts", t]) for t in TABLES]


@dg.asset_check(
    asset=CIN_KEYS[1],
    additional_deps=[k for k in CIN_KEYS if k != CIN_KEYS[1]],
    description="The DfE's CIN census rules over the census XML built from the lake: errors by rule, 0 to pass.",
)
def cin_census_dfe_validation(lakehouse: LakehouseResource) -> dg.AssetCheckResult:
    result = validate_return(lakehouse.warehouse() / "caselake.duckdb")
    errors = result["errors_by_rule"]
    return dg.AssetCheckResult(
        passed=not errors and not result["rules_failed_to_run"],
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "collection_year": result["collection_year"],
            "ruleset": result["ruleset"],
            "rules_in_ruleset": result["rules_in_ruleset"],
            "children_with_errors": len({c for r in errors for c in result["children_by_rule"][r]}),
            "errors_by_rule": dg.MetadataValue.json(errors),
            "queries_by_rule": dg.MetadataValue.json(result["queries_by_rule"]),
            "return_level_rules": dg.MetadataValue.json(result["return_level_rules"]),
            "rules_failed_to_run": dg.MetadataValue.json(result["rules_failed_to_run"]),
            **{f"rows_{t}": n for t, n in result["rows"].items()},
        },
    )


defs = dg.Definitions(asset_checks=[cin_census_dfe_validation])
