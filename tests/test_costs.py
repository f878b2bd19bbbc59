"""Cost per asset: every asset metered once, the cost table matching the runs, pounds at the stated prices, the
cost marts; and Delta housekeeping keeping every row and the history audit needs."""

import datetime as dt
import shutil

import dagster as dg
import duckdb
import polars as pl
import pytest
from deltalake import DeltaTable

from assets.metering import METERED, metered
from assets.resources import LakehouseResource
from lake import metering
from lake.ops import costs
from lake.ops.costs import COST_FIELDS, Materialization, Prices, cost_rows
from lake.storage.delta import ENTERPRISE, OPS, Lake


def test_every_asset_in_the_graph_is_metered():
    """A new asset written without ``@metered`` fails here, before any run."""
    from orchestration.definitions import defs

    # executable assets (not the external ones dbt sources declare), with keys (asset checks have none)
    steps = [a for a in defs.resolve_asset_graph().assets_defs if a.is_executable and a.keys]
    assert len(steps) >= 12
    unmetered = [a.op.name for a in steps if not getattr(a.op.compute_fn.decorated_fn, METERED, False)]
    assert unmetered == []


def test_a_steps_use_is_split_by_weight_and_its_own_writes_are_exact():
    usage = metering.Usage(wall_seconds=10.0, cpu_seconds=6.0, worker_cpu_seconds=2.0, peak_memory_bytes=2**30)
    usage.rows_read, usage.model_seconds["ocr"], usage.items["documents"] = 100, 4.0, 7
    usage.writes = [
        metering.Write("delta", "enterprise/a", 3, "merge", rows=10, bytes=1000),
        metering.Write("delta", "enterprise/_watermarks", 5, "merge", rows=4, bytes=100),  # no asset's own table
    ]
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    a, b = cost_rows(
        usage,
        [Materialization("enterprise/a", weight=3.0), Materialization("enterprise/b", weight=1.0)],
        Prices(vcpu_hour_gbp=0.36, gb_month_gbp=2.0),
        run_id="r1",
        step="enterprise_tables",
        started_at=at,
    )
    assert (a["share"], b["share"]) == (0.75, 0.25)
    assert a["wall_seconds"] + b["wall_seconds"] == pytest.approx(10.0)
    assert (a["rows_written"], b["rows_written"]) == (10 + 3, 1)  # its own table exactly, the rest by share
    assert (a["bytes_written"], b["bytes_written"]) == (1000 + 75, 25)
    assert a["compute_gbp"] == pytest.approx((6.0 + 2.0) * 0.75 / 3600 * 0.36)
    assert a["storage_gbp_month"] == pytest.approx(1075 / 1e9 * 2.0)
    assert a["model_seconds"] == pytest.approx(3.0) and a["rows_read"] == 75
    assert a["step_documents"] == b["step_documents"] == 7  # the step's items, repeated: the mart takes them once
    assert a["peak_memory_mb"] == b["peak_memory_mb"] == 1024.0
    assert a["delta_versions"] == '{"enterprise/_watermarks": 5, "enterprise/a": 3}'


def test_a_metered_asset_records_its_commits_its_cost_and_a_failure(tmp_path, monkeypatch):
    """Through Dagster: the commit is labelled with the run, its rows and bytes are the cost row's, the
    materialization carries the cost fields, the prices are the settings'; a failing step is recorded too."""
    monkeypatch.setenv("CASELAKE_PRICE_VCPU_HOUR_GBP", "3.6")
    lake = Lake(str(tmp_path / "lake"))

    @dg.asset(key=["enterprise", "example"])
    @metered
    def example(context: dg.AssetExecutionContext, lakehouse: LakehouseResource):
        lakehouse.lake().write(ENTERPRISE, "example", pl.DataFrame({"n": list(range(1000))}))
        return dg.MaterializeResult(metadata={"mine": 1})

    @dg.asset(key=["enterprise", "broken"])
    @metered
    def broken(context: dg.AssetExecutionContext, lakehouse: LakehouseResource):
        raise RuntimeError("boom")

    resources = {"lakehouse": LakehouseResource(lake_uri=lake.root)}
    result = dg.materialize([example], resources=resources)
    meta = {k: v.value for k, v in result.asset_materializations_for_node("enterprise__example")[0].metadata.items()}
    assert meta["mine"] == 1 and set(COST_FIELDS) <= set(meta)
    commit = lake.table(ENTERPRISE, "example").history(1)[0]
    assert commit["caselake.run_id"] == result.run_id and commit["caselake.step"] == "enterprise__example"
    row = costs.read(lake).row(0, named=True)
    files = DeltaTable(lake.uri(ENTERPRISE, "example")).get_add_actions(flatten=True)
    assert (row["run_id"], row["asset_key"], row["status"]) == (result.run_id, "enterprise/example", "materialized")
    assert row["rows_written"] == meta["cost_rows_written"] == 1000
    assert row["bytes_written"] == sum(files.column("size_bytes").to_pylist()) > 0
    assert row["price_vcpu_hour_gbp"] == 3.6
    assert row["compute_gbp"] == pytest.approx((row["cpu_seconds"] + row["worker_cpu_seconds"]) / 1000)
    assert row["cpu_seconds"] > 0 and row["wall_seconds"] > 0 and row["peak_memory_mb"] > 50

    assert not dg.materialize([broken], resources=resources, raise_on_error=False).success
    failed = costs.read(lake).filter(pl.col("asset_key") == "enterprise/broken")
    assert failed["status"].to_list() == ["failed"] and failed["wall_seconds"][0] > 0


# ---- the loaded council -------------------------------------------------------------------------------------------
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def cost_table(read_council) -> pl.DataFrame:
    return costs.read(read_council.lake)


@slow
def test_every_materialization_of_the_load_carries_its_cost_and_the_table_matches_the_runs(read_council, cost_table):
    materializations = read_council.materializations
    assert len(materializations) > 100
    missing = [m["asset_key"] for m in materializations if not set(COST_FIELDS) <= set(m["metadata"])]
    assert missing == []
    steps = {k.split("/")[0] for k in {m["asset_key"] for m in materializations}}
    assert {"landing", "staging", "enterprise", "models", "lancedb", "marts", "dbt_staging", "insights"} <= steps
    recorded = cost_table.filter(pl.col("status") == "materialized")
    table_keys = set(recorded.select("run_id", "asset_key", "partition").iter_rows())
    run_keys = {(m["run_id"], m["asset_key"], m["partition"]) for m in materializations}
    assert table_keys == run_keys and recorded.height == len(run_keys)  # one row per materialization, no more
    # The metadata is the asset's share of its step: the sum of its rows (a range of partitions sums them).
    per_asset = recorded.group_by("run_id", "asset_key").agg(pl.col("compute_gbp").sum(), pl.col("rows_written").sum())
    sums = {(r["run_id"], r["asset_key"]): r for r in per_asset.iter_rows(named=True)}
    for m in materializations:
        row = sums[(m["run_id"], m["asset_key"])]
        assert m["metadata"]["cost_compute_gbp"] == pytest.approx(row["compute_gbp"], abs=1e-5)
        assert m["metadata"]["cost_rows_written"] == row["rows_written"]


@slow
def test_pounds_follow_the_stated_prices(read_council, cost_table):
    ops = read_council.settings.ops
    assert cost_table["price_vcpu_hour_gbp"].unique().to_list() == [ops.price_vcpu_hour_gbp]
    assert cost_table["price_gb_month_gbp"].unique().to_list() == [ops.price_gb_month_gbp]
    cpu_hours = (cost_table["cpu_seconds"] + cost_table["worker_cpu_seconds"]) / 3600
    assert (cost_table["compute_gbp"] - cpu_hours * ops.price_vcpu_hour_gbp).abs().max() < 1e-12
    gb = cost_table["bytes_written"] / 1e9
    assert (cost_table["storage_gbp_month"] - gb * ops.price_gb_month_gbp).abs().max() < 1e-12
    # the shares of each step add up to the whole step
    shares = cost_table.group_by("run_id", "step").agg(pl.col("share").sum())
    assert shares["share"].min() == pytest.approx(1.0) and shares["share"].max() == pytest.approx(1.0)


@slow
def test_writes_are_measured_at_the_commit_and_the_heavy_steps_count_their_items(read_council, cost_table):
    first = min(m["partition"] for m in read_council.materializations if m["asset_key"].startswith("staging/"))
    landed = next(
        m["metadata"]["rows_landed"]
        for m in read_council.materializations
        if m["asset_key"] == "staging/liquidlogic/case_note" and m["partition"] == first
    )
    row = cost_table.filter((pl.col("asset_key") == "staging/liquidlogic/case_note") & (pl.col("partition") == first))
    # The table's first commit, plus its share (by weight) of the step's bookkeeping that no asset owns: the extract's
    # row in landing/extracts and its files' hashes in landing/staged_files (21 rows over the step's 21 tables).
    assert landed <= row["rows_written"][0] <= landed + 1 and row["bytes_written"][0] > 0
    assert row["rows_read"][0] > 0  # the extract's CSV rows

    def step(name: str) -> dict:
        rows = cost_table.filter(pl.col("step") == name).sort("started_at")
        return rows.row(0, named=True)

    documents, entities, search = step("document_text"), step("entity_mentions"), step("lancedb__search_chunks")
    assert documents["step_documents"] > 100 and documents["step_pages"] >= documents["step_documents"]
    assert documents["worker_cpu_seconds"] > 0  # the OCR and .doc workers' CPU is counted
    assert "ocr" in documents["model_seconds_by_kind"]
    assert entities["step_text_items"] > 500 and '"ner"' in entities["model_seconds_by_kind"]
    assert search["step_chunks"] > 500 and '"embedding"' in search["model_seconds_by_kind"]
    for mirror in ("lancedb/search_chunks", "lancedb/entity_mentions"):  # LanceDB writes are the asset's own
        lance = cost_table.filter(pl.col("asset_key") == mirror).sort("started_at")
        assert lance["rows_written"][0] > 0 and lance["bytes_written"][0] > 0, mirror
    insights = cost_table.filter(pl.col("asset_key") == "insights/adopter_insights")
    assert '"embedding"' in insights["model_seconds_by_kind"][0]  # the report themes' sentence embeddings


@slow
def test_the_cost_marts_give_unit_costs_and_the_pilots_backlog(read_council, cost_table):
    with duckdb.connect(str(read_council.settings.duckdb_path()), read_only=True) as con:
        rates = pl.from_arrow(con.sql("select * from main.cost_unit_rates").to_arrow_table())
        backlog = pl.from_arrow(con.sql("select * from main.cost_backlog_estimate").to_arrow_table())
        daily = pl.from_arrow(con.sql("select * from main.asset_costs_daily").to_arrow_table())
    assert sorted(rates["work"]) == ["documents to text", "entity extraction", "search embedding"]
    # the mart's documents rate, recomputed from the cost table: every document_text run that read documents
    runs = (
        cost_table.filter((pl.col("step") == "document_text") & (pl.col("status") == "materialized"))
        .group_by("run_id")
        .agg(pl.col("compute_gbp").sum(), pl.col("step_documents").max())
        .filter(pl.col("step_documents") > 0)
    )
    expected = 1000 * runs["compute_gbp"].sum() / runs["step_documents"].sum()
    documents = rates.filter(pl.col("work") == "documents to text").row(0, named=True)
    assert documents["gbp_per_1000"] == pytest.approx(expected) and documents["pilot_gbp_per_1000"] == 7.92
    assert backlog.height == 6 and backlog["estimated_gbp"].null_count() == 0
    pilot = backlog.filter(pl.col("scope") == "backlog").sort("work")["pilot_gbp"].to_list()
    assert pilot[0] == pytest.approx(2_058_858 / 1000 * 7.92) and pilot[2] is None
    # the marts hold every cost recorded before they were built: all but their own run's, written after it
    last = cost_table.sort("started_at")["run_id"][-1]
    before = cost_table.filter(pl.col("run_id") != last)
    assert daily["compute_gbp"].sum() == pytest.approx(before["compute_gbp"].sum(), rel=1e-9)


# Mart columns with no upstream column, by design: counts and constants. Any other column must resolve.
DERIVED_COLUMNS = {
    "marts/adopter_features": {"children_adopted"},  # count(*)
    "marts/asset_costs_daily": {"materializations"},  # count(*)
    "marts/child_network": {"mention_count"},  # count(*)
    "marts/child_timeline": {"source_table"},  # the name of the enterprise table, a literal per branch
    "marts/cin_census_cp_plans": {"previous_plans"},  # count(*) of the child's earlier plans
    "marts/cost_backlog_estimate": {"scope", "work", "pilot_gbp"},  # the pilot's figures, dbt vars
    "marts/cost_unit_rates": {"runs"},  # count(*)
    "marts/ssda903_header": {"MC_DOB"},  # null: the source records no mother's child's date of birth
    "marts/ssda903_placed_adoption": {"DATE_PLACED_CEASED", "REASON_PLACED_CEASED"},  # null: no reversals recorded
}


@slow
def test_every_marts_columns_resolve_to_their_sources(read_council):
    """dbt's column-level lineage reaches Dagster for every mart, and every column but the counts and constants
    above has an upstream column."""
    marts = {
        m["asset_key"]: m["metadata"] for m in read_council.materializations if m["asset_key"].startswith("marts/")
    }
    assert len(marts) >= 15
    unresolved = {}
    for key, meta in marts.items():
        lineage = {c.lower(): deps for c, deps in meta["dagster/column_lineage"].deps_by_column.items()}
        columns = [c.name for c in meta["dagster/column_schema"].columns]
        missing = {c for c in columns if not lineage.get(c.lower())}
        if missing:
            unresolved[key] = missing
    assert unresolved == DERIVED_COLUMNS


@slow
def test_housekeeping_compacts_keeps_every_row_and_the_history_for_audit(read_council, tmp_path, monkeypatch):
    from assets.housekeeping import delta_housekeeping
    from lake.ops import housekeeping

    shutil.copytree(read_council.lake.root, tmp_path / "lake")
    lake = Lake(str(tmp_path / "lake"))
    before = {t: lake.read(*t).sort(pl.all()) for t in lake.tables() if t[0] != "ops"}
    mentions = lake.table(ENTERPRISE, "entity_mentions")
    version, files = mentions.version(), len(mentions.file_uris())
    assert files > housekeeping.SMALL_FILES  # the entity stage commits in batches: small files to compact
    old = pl.from_arrow(mentions.to_pyarrow_table()).sort(pl.all())

    monkeypatch.setenv("CASELAKE_DELTA_RETENTION_DAYS", "90")
    result = dg.materialize([delta_housekeeping], resources={"lakehouse": LakehouseResource(lake_uri=lake.root)})
    assert result.get_asset_check_evaluations()[0].passed
    done = lake.read(OPS, housekeeping.TABLE)
    assert set(done["table_name"]) >= {f"{layer}/{name}" for layer, name in before}
    assert (done["rows_before"] == done["rows_after"]).all()
    for table, frame in before.items():
        assert lake.read(*table).sort(pl.all()).equals(frame), table
    after = lake.table(ENTERPRISE, "entity_mentions")
    assert len(after.file_uris()) == 1 and after.version() > version
    assert after.metadata().configuration["delta.logRetentionDuration"] == "interval 90 days"
    # time travel: the version before compaction still reads, from files vacuum kept
    travelled = DeltaTable(lake.uri(ENTERPRISE, "entity_mentions"), version=version)
    assert pl.from_arrow(travelled.to_pyarrow_table()).sort(pl.all()).equals(old)
    cost = costs.read(lake).filter(pl.col("asset_key") == "ops/housekeeping")
    assert cost.height == 1 and cost["bytes_written"][0] > 0  # compaction's rewrite is what it wrote
