"""dbt models (staging views, intermediate, marts) as Dagster assets; dbt tests become asset checks.

Every model is unpartitioned for now: the marts are whole-table rebuilds over the enterprise layer.
Row counts and column schemas (with column-level lineage) are fetched after dbt exits.
"""

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.dbt import DBT_PROJECT, TRANSLATOR, dbt_environment
from orchestration.resources import LakeResource


@dbt_assets(manifest=DBT_PROJECT.manifest_path, project=DBT_PROJECT, dagster_dbt_translator=TRANSLATOR)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: LakeResource):
    lake.warehouse().mkdir(parents=True, exist_ok=True)
    with dbt_environment(lake.lake().root, str(lake.warehouse())):
        yield from dbt.cli(["build"], context=context).stream().fetch_row_counts().fetch_column_metadata()


defs = dg.Definitions(assets=[dbt_models], resources={"dbt": DbtCliResource(project_dir=DBT_PROJECT)})
