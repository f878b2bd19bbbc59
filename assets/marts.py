"""dbt models (staging views, intermediate, marts) as Dagster assets; dbt tests become asset checks.

Every model is unpartitioned: the marts that grow with history are incremental dbt models that recompute the
children whose records changed (decision 0038), the others whole-table rebuilds over the enterprise layer.
Row counts and column schemas (with column-level lineage) are fetched after dbt exits.
"""

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from functools import cached_property
from importlib.metadata import version
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource, dbt_assets
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation
from dagster_dbt.core.dbt_event_iterator import DbtEventIterator
from packaging.version import Version

from assets.dbt_project import DBT_PROJECT, TRANSLATOR, dbt_environment
from assets.metering import metered
from assets.resources import LakehouseResource
from lake import metering
from lake.ops import costs
from lake.returns.ssda903 import TABLES, validate_return
from lake.storage.serving import publish_marts
from lake.storage.warehouse import mirror_tables

_MANIFEST = json.loads(DBT_PROJECT.manifest_path.read_text())  # read once: every code location load pays for it

# The lake tables dbt reads, as its sources name them (layer = source name): those whose source says ``mirror: delta``.
MIRRORED_SOURCES = sorted(
    {
        (source["source_name"], source["name"])
        for source in _MANIFEST["sources"].values()
        if source["source_meta"].get("mirror") == "delta"
    }
)

# The marts the app reads (the caselake_app exposure), published out of the warehouse after each build (decision 0046).
APP_MARTS = sorted(
    node.split(".")[-1] for node in _MANIFEST["exposures"]["exposure.caselake.caselake_app"]["depends_on"]["nodes"]
)


class ProjectDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, told the dbt version instead of asking for it.

    dagster-dbt runs ``dbt --version`` once per run (a resource is made per run) to choose between dbt Core
    and the Fusion engine. The ``dbt`` it runs is this environment's dbt Core, and starting it costs 4 seconds
    on this machine, paid by every load's two dbt runs. The version comes from the installed package instead.
    Should dagster-dbt rename the private property, this override is merely unused and the old cost returns."""

    @cached_property
    def _cli_version(self) -> Version:
        return Version(version("dbt-core"))


@dbt_assets(manifest=DBT_PROJECT.manifest_path, project=DBT_PROJECT, dagster_dbt_translator=TRANSLATOR)
@metered
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, lakehouse: LakehouseResource):
    lakehouse.warehouse().mkdir(parents=True, exist_ok=True)
    lake = lakehouse.lake()
    costs.ensure(lake)  # the cost mart's source exists before the first cost is recorded
    # dbt reads DuckDB's copies of the lake tables, brought up to the lake's versions file by file (decision 0045)
    mirrored = mirror_tables(
        lake,
        lakehouse.warehouse() / "caselake.duckdb",
        MIRRORED_SOURCES,
        lakehouse.settings().ops.duckdb_memory,
    )
    updated = [
        f"{m.table} ({m.mode}: +{m.rows_inserted} -{m.rows_deleted} rows)"
        for m in mirrored
        if m.mode in ("files", "full")
    ]
    if updated:
        context.log.info("warehouse copies brought up to date: " + ", ".join(updated))
    with dbt_environment(str(lakehouse.warehouse())):
        # A failing dbt test is an asset check that failed, and dbt skips the models built on what it tested:
        # that mart's dependants wait, the other marts and the later stages go on (issue 43). A model or a test
        # that could not run at all (an error) still fails the step.
        started = dt.datetime.now(dt.UTC)
        invocation = dbt.cli(["build"], context=context, raise_on_error=False)
        incremental: dict[str, int] | None = None
        for event in with_table_metadata(invocation):  # the first event comes once dbt has exited
            rows = getattr(event, "metadata", {}).get("dagster/row_count")
            if isinstance(event, dg.Output) and rows is not None:
                key = context.asset_key_for_output(event.output_name)
                if incremental is None:
                    incremental = incremental_writes(lakehouse.warehouse() / "caselake.duckdb", started)
                # an incremental mart wrote the rows of the children it recomputed (decision 0038); a table, every row
                written = incremental.get(key.path[-1])
                operation, count = ("rebuild", rows.value) if written is None else ("incremental", written)
                metering.record_write(metering.Write("duckdb", "/".join(key.path), None, operation, count, 0))
            yield event
        # The app reads copies of its marts, never the warehouse dbt writes (decision 0046). A mart whose own test
        # failed, or that is built on one, keeps its last good copy: the check says so in Dagster, and the app goes
        # on with what passed.
        run_results = invocation.get_artifact("run_results.json")
        manifest = invocation.get_artifact("manifest.json")
        held_back = marts_held_back(run_results, manifest)
        if held_back & set(APP_MARTS):
            context.log.warning("not published, a test failed: " + ", ".join(sorted(held_back & set(APP_MARTS))))
        changed = models_changed(run_results, manifest)
        published = publish_marts(
            lakehouse.warehouse() / "caselake.duckdb",
            lakehouse.settings().served_dir(),
            [m for m in APP_MARTS if m in changed and m not in held_back],
            lakehouse.settings().ops.duckdb_memory,
        )
        if published:
            context.log.info("published for the app: " + ", ".join(f"{p.mart} ({p.rows} rows)" for p in published))
        errors = dbt_errors(run_results)
        if errors:
            raise dg.Failure(f"dbt: {len(errors)} node(s) could not be built or run: {', '.join(errors[:10])}")


def incremental_writes(database: Path, since: dt.datetime) -> dict[str, int]:
    """The rows each incremental mart built since ``since`` wrote, by model (dbt_state.builds, which its post-hook
    fills: dbt/macros/incremental_marts.sql); empty before the first incremental mart is built."""
    if not database.exists():
        return {}
    with duckdb.connect(str(database), read_only=True) as con:
        exists = "select 1 from information_schema.tables where table_schema = 'dbt_state' and table_name = 'builds'"
        if not con.sql(exists).fetchall():
            return {}
        found = con.execute(
            "select model, rows_written from dbt_state.builds where built_at >= ? and rows_written is not null", [since]
        ).fetchall()
    return dict(found)


def models_changed(run_results: dict, manifest: dict) -> set[str]:
    """The models this build wrote, and every model downstream of one (by model name).

    A view (``child_factors`` over ``child_factor_statements``) shows what its upstream holds now, so its published
    copy is stale whenever anything it reads was rebuilt, even when the view itself was not selected."""
    built = [
        r["unique_id"]
        for r in run_results.get("results", [])
        if r.get("status") == "success" and r["unique_id"].startswith("model.")
    ]
    return _model_names(_downstream(manifest, built))


def marts_held_back(run_results: dict, manifest: dict) -> set[str]:
    """The models a test that failed or could not run is attached to, and every model downstream of one (by model
    name): dbt skips those it would build after them, and a view over one would show the failed rows."""
    tests = {r["unique_id"] for r in run_results.get("results", []) if r.get("status") in ("fail", "error")}
    nodes = manifest.get("nodes", {})
    tested = [nodes[t]["attached_node"] for t in tests if t in nodes and nodes[t].get("attached_node")]
    return _model_names(_downstream(manifest, tested))


def _downstream(manifest: dict, start: Iterable[str]) -> set[str]:
    children = manifest.get("child_map", {})
    found = set(start)
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), []):
            if child.startswith("model.") and child not in found:
                found.add(child)
                stack.append(child)
    return found


def _model_names(nodes: Iterable[str]) -> set[str]:
    return {node.split(".")[-1] for node in nodes}


def dbt_errors(run_results: dict) -> list[str]:
    """The nodes dbt could not build or run (status "error"); a test that ran and failed is not one of them."""
    return [r["unique_id"] for r in run_results.get("results", []) if r.get("status") == "error"]


def with_table_metadata(invocation: DbtCliInvocation) -> Iterator:
    """dbt's events with each table's row count and columns, as ``stream().fetch_row_counts()
    .fetch_column_metadata()`` gives them, one stage at a time over the finished list.

    Why not chained: each stage maps its input on a thread pool (dagster's ``imap``), whose loop polls without
    waiting while its input has nothing new. On DuckDB the input has nothing until dbt exits (the row counts
    need dbt's write lock released), so the two chained stages spun on both cores while dbt ran: a 12-second
    dbt build took 42 seconds as a Dagster step (measured, decision 0026). Drained first, each stage finds every
    event already there. Nothing streams later than before: on DuckDB the events came after dbt exited anyway.
    A failed build still yields the events it had, then raises, as the chained form did."""
    events, failure = _drained(invocation.stream())
    for stage in (DbtEventIterator.fetch_row_counts, DbtEventIterator.fetch_column_metadata):
        events, stage_failure = _drained(stage(DbtEventIterator(iter(events), invocation)))
        failure = failure or stage_failure
    yield from events
    if failure:
        raise failure


def _drained(events: Iterable) -> tuple[list, Exception | None]:
    done: list = []
    try:
        done.extend(events)
    except Exception as error:  # raised after the events before it are kept, like dbt's own failure
        return done, error
    return done, None


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
    resources={"dbt": ProjectDbtCliResource(project_dir=DBT_PROJECT)},
)
