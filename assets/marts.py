"""dbt models (staging views, intermediate, marts) as Dagster assets; dbt tests become asset checks.

Every model is unpartitioned for now: the marts are whole-table rebuilds over the enterprise layer.
Row counts and column schemas (with column-level lineage) are fetched after dbt exits.
"""

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from assets.dbt_project import DBT_PROJECT, TRANSLATOR, dbt_environment
from assets.metering import metered
from assets.resources import LakehouseResource
from lake import metering
from lake.ops import costs
from lake.returns.ssda903 import TABLES, validate_return


@dbt_assets(manifest=DBT_PROJECT.manifest_path, project=DBT_PROJECT, dagster_dbt_translator=TRANSLATOR)
@metered
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, lakehouse: LakehouseResource):
    lakehouse.warehouse().mkdir(parents=True, exist_ok=True)
    lake = lakehouse.lake()
    costs.ensure(lake)  # the cost mart's source exists before the first cost is recorded
    with dbt_environment(lake.root, str(lakehouse.warehouse()), lake.storage_options):
        for event in dbt.cli(["build"], context=context).stream().fetch_row_counts().fetch_column_metadata():
            rows = getattr(event, "metadata", {}).get("dagster/row_count")
            if isinstance(event, dg.Output) and rows is not None:  # a table model: rebuilt whole, every row written
                key = context.asset_key_for_output(event.output_name)
                metering.record_write(metering.Write("duckdb", "/".join(key.path), None, "rebuild", rows.value, 0))
            yield event


SSDA903_KEYS = [dg.AssetKey(["marts", t]) for t in TABLES]


@dg.asset_check(
    asset=SSDA903_KEYS[1],
    additional_deps=[k for k in SSDA903_KEYS if k != SSDA903_KEYS[1]],
    description="The DfE's published SSDA903 validation rules over the return's tables: errors by rule.",
)
def ssda903_dfe_validation(lakehouse: LakehouseResource) -> dg.AssetCheckResult:
    result = validate_return(lakehouse.warehouse() / "caselake.duckdb")
    errors = result["errors_by_rule"]
    return dg.AssetCheckResult(
        passed=not errors,
        severity=dg.AssetCheckSeverity.WARN,  # the return is filed by people: errors are theirs to fix, not a stop
        metadata={
            "collection_year": result["collection_year"],
            "errors": sum(errors.values()),
            "errors_by_rule": dg.MetadataValue.json(errors),
            "rules_run": result["rules_run"],
            "rules_skipped_missing_tables": result["rules_skipped"],
            **{f"rows_{t}": n for t, n in result["rows"].items()},
        },
    )


defs = dg.Definitions(
    assets=[dbt_models],
    asset_checks=[ssda903_dfe_validation],
    resources={"dbt": DbtCliResource(project_dir=DBT_PROJECT)},
)
