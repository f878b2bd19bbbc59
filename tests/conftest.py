"""Shared fixtures: one small synthetic council per test session, generated for real."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import pytest
from _pytest.nodeid import NodeId

from synth.council import SynthOptions, generate, generate_next_day

if TYPE_CHECKING:
    from lake.settings import Settings
    from lake.storage.delta import Lake


@pytest.fixture(scope="session")
def council(tmp_path_factory) -> SynthOptions:
    """Twelve children at the pilot's ratios (about 1,000 notes and 230 documents), plus two next-day extracts."""
    # Seed 39: among its 12 children are a name change, a missing episode and every kind of document fault.
    opts = SynthOptions(out=tmp_path_factory.mktemp("council"), children=12, seed=39, defect_rate=0.05)
    generate(opts)
    generate_next_day(opts)
    generate_next_day(opts)
    return opts


# ``make test`` runs the suite on two xdist workers (--dist loadgroup; decision 0025). A session fixture
# is built once per worker that asks for it, so every test of the shared loaded council goes to one worker, which
# builds it once (6 minutes alone, about 9.5 beside the other worker) while the other runs the rest; Ray's tests
# start a cluster of their own.
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers share the two cores: each worker's models run on one torch thread. With the default two, the
    # four threads' spin-waits cost more than they gave (Ray's embedding test took 398 s instead of 45). The
    # document readers keep their two processes of one thread each, which share a core without spinning. Speed
    # only: a test that compares two runs gives both the same settings.
    for name in ("CASELAKE_ENTITY_THREADS", "CASELAKE_EMBEDDING_THREADS"):
        os.environ.setdefault(name, "1")
XDIST_GROUPS = {"read_council": "loaded_council"}
XDIST_FILES = {"test_ray.py": "loaded_council"}


def pytest_itemcollected(item):
    group = XDIST_FILES.get(item.path.name) or next(
        (g for fixture, g in XDIST_GROUPS.items() if fixture in getattr(item, "fixturenames", ())), None
    )
    if group:
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """What xdist 3.8 means to do for --dist loadgroup and cannot on pytest 9: its scheduler groups tests by an
    "@group" suffix on the node id, which it sets on ``item._nodeid``, an attribute pytest 9 no longer reads
    (the id is ``item._id``). Without this each test is its own group and both workers load the council."""
    if not getattr(config.option, "loadgroup", False):  # set on xdist's workers under --dist loadgroup
        return
    for item in items:
        names = sorted({str(m.args[0]) for m in item.iter_markers("xdist_group") if m.args})
        if names and "@" not in item.nodeid:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")


def small_options(out: Path, **kw) -> SynthOptions:
    """A council small enough to generate several times in one test."""
    defaults = dict(children=3, seed=11, notes_per_child=6, documents_per_child=8, forms_per_child=2)
    defaults.update(kw)
    return SynthOptions(out=out, **defaults)


def _check_status(instance: dg.DagsterInstance, key: dg.AssetKey, name: str) -> str | None:
    found = instance.event_log_storage.get_latest_asset_check_execution_by_key([dg.AssetCheckKey(key, name)])
    return next((e.status.value for e in found.values()), None)


@dataclass(frozen=True)
class LoadedCouncil:
    """The shared council after ``caselake load``: what the tests of the loaded lake read."""

    lake: Lake
    """The lake the load wrote (a temporary folder of the session)."""
    settings: Settings
    """The settings the load ran with (the lake, the warehouse and the project's entity model)."""
    council: SynthOptions
    """The generated council: its extracts under ``council.out / "landing"``, its truth beside them."""
    lines: list[str]
    """What ``load_all`` said, line by line."""
    checks: dict[str, str | None]
    """The latest status of each asset check the tests read (documents, entities, factors, search, insights), by
    name."""
    text_metadata: Mapping[str, Any]
    """The metadata of the last materialization of ``enterprise/document_text``."""
    mentions_metadata: Mapping[str, Any]
    """The metadata of the last materialization of ``enterprise/entity_mentions``."""
    search_metadata: Mapping[str, Any]
    """The metadata of the last materialization of ``lancedb/search_chunks``."""
    materializations: list[dict[str, Any]]
    """Every materialization of the load: run id, asset key, partition and its metadata (the cost fields)."""


@pytest.fixture(scope="session")
def read_council(council, entity_model_dir, tmp_path_factory) -> LoadedCouncil:
    """The shared council through ``caselake load`` (the Dagster jobs): landed, staged, enterprise, every
    document read, entities extracted (with the real model) and people resolved. Loaded once per session."""
    from lake.documents import pipeline as documents
    from lake.entities.items import MENTIONS
    from lake.settings import Settings
    from orchestration.runner import load_all

    lake_dir = tmp_path_factory.mktemp("loaded_lake")
    patch = pytest.MonkeyPatch()
    patch.setenv("CASELAKE_LAKE_URI", str(lake_dir))
    patch.setenv("CASELAKE_WAREHOUSE_DIR", str(tmp_path_factory.mktemp("loaded_warehouse")))  # not the demo's
    patch.setenv("CASELAKE_GLINER_MODEL", str(entity_model_dir))
    lines: list[str] = []
    text_key, mentions_key, search_key, insights_key = (
        dg.AssetKey(["enterprise", documents.TEXT]),
        dg.AssetKey(["enterprise", MENTIONS]),
        dg.AssetKey(["lancedb", "search_chunks"]),
        dg.AssetKey(["insights", "adopter_insights"]),
    )
    factors_key = dg.AssetKey(["enterprise", "factor_statements"])
    try:
        settings = Settings.from_env()
        with dg.instance_for_test() as instance:
            ok = load_all(instance, council.out / "landing", say=lines.append)
            text_event = instance.get_latest_materialization_event(text_key)
            mentions_event = instance.get_latest_materialization_event(mentions_key)
            search_event = instance.get_latest_materialization_event(search_key)
            materializations = [
                {
                    "run_id": record.run_id,
                    "asset_key": "/".join(key.path),
                    "partition": record.partition_key,
                    "metadata": {k: getattr(v, "value", v) for k, v in record.asset_materialization.metadata.items()},
                }
                for key in instance.get_asset_keys()
                for record in instance.fetch_materializations(key, limit=10_000).records
            ]
            checks = {
                name: _check_status(instance, key, name)
                for key, name in (
                    (text_key, "every_document_accounted_for"),
                    (mentions_key, "every_text_item_read"),
                    (mentions_key, "spans_match_source_text"),
                    (search_key, "index_matches_the_lake"),
                    (insights_key, "every_listed_household_explained"),
                    (factors_key, "every_text_item_coded"),
                    (factors_key, "statements_match_source_text"),
                )
            }
    finally:
        patch.undo()
    assert ok, lines
    return LoadedCouncil(
        lake=settings.lake(),
        settings=settings,
        council=council,
        lines=lines,
        checks=checks,
        text_metadata=text_event.asset_materialization.metadata,
        mentions_metadata=mentions_event.asset_materialization.metadata,
        search_metadata=search_event.asset_materialization.metadata,
        materializations=materializations,
    )


@pytest.fixture(scope="session")
def entity_model_dir() -> Path:
    """The project's GLiNER model: built once per machine (cached by a hash of its config and training data,
    under ``~/.cache/caselake/models``), found in the cache by every later session."""
    from lake.settings import Settings
    from synth.training import project_model

    return project_model(Settings.from_env().entities)
