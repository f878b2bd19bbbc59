"""The dbt project as Dagster sees it: one project, one translator driven by dbt ``meta``."""

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from lake.settings import REPO_ROOT

DBT_PROJECT = DbtProject(project_dir=REPO_ROOT / "dbt", profiles_dir=REPO_ROOT / "dbt")
# `dagster dev` re-parses on start; everywhere else `make setup` runs `dbt parse`. A missing manifest
# (a fresh clone used without make) is prepared here once, so the code location always loads.
DBT_PROJECT.prepare_if_dev()
if not DBT_PROJECT.manifest_path.exists():
    DBT_PROJECT.preparer.prepare(DBT_PROJECT)


class CaselakeDbtTranslator(DagsterDbtTranslator):
    """Asset keys and groups come from each model's ``meta.dagster.group`` (set per folder in
    dbt_project.yml), sources from their ``meta.dagster.asset_key``: no model is named here. A folder whose
    models run in another stage than their layer's (the ecomap marts, after the entities stage) names the
    layer's key prefix in ``meta.dagster.key_prefix``, so its group changes and its asset keys do not."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        dagster_meta = dbt_resource_props.get("meta", {}).get("dagster", {})
        prefix = dagster_meta.get("key_prefix") or dagster_meta.get("group")
        if dbt_resource_props["resource_type"] == "model" and prefix:
            return dg.AssetKey([prefix, dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        """dbt's tests as asset checks that do not block: a failing test fails its check, and dbt itself skips
        the models built on what it tested; the step, the other marts and the later stages go on (issue 43).
        Blocking (dagster-dbt's default for error-severity tests) failed the whole step for one mart's test."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        return None if spec is None else spec._replace(blocking=False)  # AssetCheckSpec is a NamedTuple


TRANSLATOR = CaselakeDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_code_references=True))


@contextmanager
def dbt_environment(warehouse_dir: str) -> Iterator[None]:
    """The variable dbt/profiles.yml reads, set for one dbt invocation, then restored.

    dbt reads only the warehouse: the lake tables it builds on are copied there first (lake/storage/warehouse.py),
    so the dbt process needs no lake location and no object-store credentials."""
    wanted = {"CASELAKE_WAREHOUSE_DIR": warehouse_dir}
    before = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
