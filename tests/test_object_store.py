"""The lake on an S3-compatible object store (moto's S3 server on 127.0.0.1): the product's own load gives the
same tables there as on local disk, nothing of the lake lands on local disk, and two writers committing the
same Delta version both land (conditional put), where a store ignoring ``If-None-Match`` loses one."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lake.settings import Settings
from lake.storage.delta import ENTERPRISE, Lake
from tests.conftest import small_options

pytestmark = pytest.mark.slow

BUCKET = "council-lake"


def _bucket(endpoint: str):
    """A bucket on the server at ``endpoint``: a boto3 client of it, and the storage options that reach it
    (deltalake's names, as ``CASELAKE_STORAGE_OPTIONS`` takes them)."""
    import boto3

    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    client.create_bucket(Bucket=BUCKET)
    options = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
        "AWS_CONDITIONAL_PUT": "etag",  # deltalake 1.x's default, stated: commits are put with If-None-Match: *
    }
    return client, options


# moto's threaded server on a free port of 127.0.0.1, in a process of its own; it stops when its stdin closes.
SERVE = (
    "import sys; from moto.server import ThreadedMotoServer; "
    "server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False); server.start(); "
    "print(server.get_host_and_port()[1], flush=True); sys.stdin.read(); server.stop()"
)


@pytest.fixture
def s3():
    """moto's S3 server with one bucket (see :func:`_bucket`), stopped after the test. It runs in a process of its
    own: deltalake's ``DeltaTable.history()`` (lineage reads it) keeps the GIL through its requests, so a server
    thread in the test's own process could not answer them, and the request times out."""
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = int(server.stdout.readline())
        yield _bucket(f"http://127.0.0.1:{port}")
    finally:
        server.stdin.close()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture
def s3_here():
    """The same server as a thread of the test's process, whose request handler a test can change."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield _bucket(f"http://{host}:{port}")
    finally:
        server.stop()


# ---- the load, on local disk and on S3 ---------------------------------------------------------------------------
# Columns that differ between two loads of the same input wherever they run: when a row was written or read, and
# how long reading a document took. A person mention's match probability is compared too: resolution samples on
# one DuckDB thread from sorted input, so the same mentions give the same probabilities on disk and on S3 (with
# DuckDB's threads they did not, and a form near the threshold changed method). Floats are compared to 6 places.
VOLATILE = ("_at", "seconds")


def _rows(frame: pl.DataFrame) -> list[str]:
    keep = sorted(c for c in frame.columns if not c.endswith(VOLATILE))
    frame = frame.select(keep).with_columns(pl.col(pl.Float32, pl.Float64).round(6))
    return sorted(json.dumps(r, default=str, sort_keys=True) for r in frame.iter_rows(named=True))


def _differences(a: list[str], b: list[str], shown: int = 3) -> str:
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    return f"{len(a)} rows vs {len(b)}; only on disk: {only_a[:shown]}; only on S3: {only_b[:shown]}"


def _environment(root: Path, lake_uri: str, options: dict, model: Path) -> dict[str, str | None]:
    """The settings of one load (None: unset, so no variable of the machine's leaks in)."""
    return {
        "CASELAKE_DATA_ROOT": str(root / "data"),
        "CASELAKE_LAKE_URI": lake_uri,
        "CASELAKE_STORAGE_OPTIONS": json.dumps(options) if options else None,
        "CASELAKE_WAREHOUSE_DIR": str(root / "warehouse"),
        "CASELAKE_GLINER_MODEL": str(model),
        "CASELAKE_LANCEDB_URI": None,
        "CASELAKE_LANDING_DIR": None,
    }


def _load(landing: Path, env: dict[str, str | None]) -> dict:
    """``caselake load`` (orchestration.runner.load_all) up to the search index, under the settings ``env``; runs
    in this process or in a spawned one, so it sets the environment itself and puts it back after."""
    from orchestration.runner import load_all

    saved = {k: os.environ.get(k) for k in env}
    _put(env)
    lines: list[str] = []
    started = time.perf_counter()
    try:
        with dg.instance_for_test() as instance:
            ok = load_all(
                instance,
                landing,
                say=lambda line: lines.append(f"{time.perf_counter() - started:6.1f} s  {line}"),
                until="index_search",
            )
    finally:
        _put(saved)
    return {"ok": ok, "lines": lines, "seconds": time.perf_counter() - started}


def _put(env: dict[str, str | None]) -> None:
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _marts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse / "caselake.duckdb"), read_only=True) as con:
        tables = con.sql("select table_schema, table_name from information_schema.tables").fetchall()
        return {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in sorted(tables)}


def _index(settings: Settings) -> tuple[list[str], int]:
    """The search index's chunk ids and the rows of the mentions' mirror, read from LanceDB."""
    from lake.search.index import TABLE, connect

    db = connect(settings.lancedb(), dict(settings.storage_options))
    chunks = db.open_table(TABLE).to_arrow()["chunk_id"].to_pylist()
    return sorted(chunks), db.open_table("entity_mentions").count_rows()


def _provenance(settings: Settings, landing: Path, chunk_id: str) -> list[tuple]:
    from lake.ops.lineage import Tracer

    tracer = Tracer(settings.lake(), settings.warehouse(), landing)
    found = tracer.trace(
        "hit", chunk_id, lancedb_uri=settings.lancedb(), storage_options=dict(settings.storage_options)
    )
    assert found.landing_files()
    return [(link.what, link.table, link.key) for link in found.links]


def test_the_load_on_s3_gives_the_same_lake_as_on_local_disk(s3, entity_model_dir, tmp_path):
    client, options = s3
    # few texts: the load's time is mostly dbt's (three builds) and the models', which more rows only lengthen
    council = small_options(tmp_path / "council", notes_per_child=4, documents_per_child=3, forms_per_child=1)
    from synth.council import generate

    generate(council)
    landing = council.out / "landing"

    envs = {
        "local": _environment(tmp_path / "local", str(tmp_path / "local" / "delta"), {}, entity_model_dir),
        "s3": _environment(tmp_path / "s3", f"s3://{BUCKET}/caselake", options, entity_model_dir),
    }
    # The two loads at once, the local one in a spawned process: most of a load's time is dbt's and the models',
    # each mostly on one core, and this machine has two.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = pool.submit(_load, landing, envs["local"])
        runs = {"s3": _load(landing, envs["s3"]), "local": pending.result()}
    for name, run in runs.items():
        print(f"\n{name}: {run['seconds']:.0f} s", *run["lines"], sep="\n")
        assert run["ok"], run["lines"]
    local, remote = (Settings.from_env({k: v for k, v in envs[n].items() if v}) for n in ("local", "s3"))
    here, there = local.lake(), remote.lake()

    # the lake and its LanceDB are in the bucket; nothing at all was written under the local data root
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="caselake/")
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert any(k.startswith("caselake/enterprise/child/_delta_log/") for k in keys)
    assert any(k.startswith("caselake/lancedb/search_chunks.lance/") for k in keys)
    assert remote.lancedb() == f"s3://{BUCKET}/caselake/lancedb"
    assert not [p for p in remote.data_root.rglob("*") if p.is_file()]

    # the same tables in every layer (Lake.tables lists the bucket through pyarrow's S3 filesystem) ...
    tables = here.tables()
    assert there.tables() == tables
    assert {layer for layer, _ in tables} >= {"landing", "staging", "enterprise", "ops"}
    # ... the same rows in the enterprise tables (the documents' text and the entity mentions among them) ...
    enterprise = [name for layer, name in tables if layer == ENTERPRISE]
    assert {"child", "case_note", "document_text", "entity_mentions", "person_mention"} <= set(enterprise)
    for name in enterprise:
        on_disk, on_s3 = here.read(ENTERPRISE, name), there.read(ENTERPRISE, name)
        if name.startswith("_"):  # bookkeeping (_watermarks: when each table was built): as many rows
            assert on_disk.height == on_s3.height, f"enterprise/{name}"
            continue
        on_disk, on_s3 = _rows(on_disk), _rows(on_s3)
        assert on_disk == on_s3, f"enterprise/{name}: {_differences(on_disk, on_s3)}"
    assert here.size(ENTERPRISE, "entity_mentions")[0] > 0
    # ... and in the staging and landing layers as many rows
    for layer, name in tables:
        if layer in ("staging", "landing"):
            assert there.size(layer, name)[0] == here.size(layer, name)[0], f"{layer}/{name}"
    # dbt built on the lake on S3 (the warehouse copies its tables with the storage options, decision 0045)
    marts = _marts(local.warehouse())
    assert marts and any(v > 0 for k, v in marts.items() if k.startswith("main.") and "child" in k)
    assert _marts(remote.warehouse()) == marts
    # the search index and the mentions' mirror in LanceDB on S3 hold the same chunks and rows
    chunks, mirrored = _index(local)
    assert chunks and mirrored
    assert _index(remote) == (chunks, mirrored)
    # a search hit's provenance, followed through the lake on S3, reaches the same rows and extract files
    assert _provenance(remote, landing, chunks[0]) == _provenance(local, landing, chunks[0])
    # what the lake stores (the cost report's storage), measured in the bucket
    from lake.ops.costs import stored_bytes

    assert stored_bytes(there) > 0


# ---- two writers, one version -------------------------------------------------------------------------------------
def _race(options: dict, uri: str, monkeypatch, *, honour_if_none_match: bool) -> tuple[list, DeltaTable]:
    """Two writers append to one table at once. The server holds each commit PUT (``_delta_log/*.json`` after
    the first) a second before answering, so both writers find the next version free and both PUT it; the
    server then handles the two one at a time, as S3 does. Returns the commit PUTs' outcomes and the table."""
    from moto.s3.responses import S3Response
    from requests.structures import CaseInsensitiveDict

    write_deltalake(uri, pa.table({"writer": ["first"]}), storage_options=options)
    original, serial, outcomes = S3Response.put_object, threading.Lock(), []

    def put_object(self):
        key = self.parse_key_name()
        if "/_delta_log/" not in key or not key.endswith(".json") or key.endswith("/00000000000000000000.json"):
            return original(self)
        time.sleep(1.0)
        if not honour_if_none_match:  # a store without conditional put
            self.headers = CaseInsensitiveDict({k: v for k, v in self.headers.items() if k.lower() != "if-none-match"})
        with serial:
            try:
                response = original(self)
            except Exception as exc:
                outcomes.append((key.rsplit("/", 1)[1], type(exc).__name__))
                raise
            outcomes.append((key.rsplit("/", 1)[1], "ok"))
            return response

    monkeypatch.setattr(S3Response, "put_object", put_object)
    barrier = threading.Barrier(2)

    def writer(name: str) -> None:
        barrier.wait()
        write_deltalake(uri, pa.table({"writer": [name]}), mode="append", storage_options=options)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    monkeypatch.setattr(S3Response, "put_object", original)
    return outcomes, DeltaTable(uri, storage_options=options)


def test_two_writers_committing_the_same_version_both_land(s3_here, monkeypatch):
    """deltalake 1.x commits a version with a conditional put (``If-None-Match: *``): the writer that loses the
    race gets 412, reads the new version, finds no conflict (two appends) and commits the next one."""
    _, options = s3_here
    outcomes, table = _race(options, f"s3://{BUCKET}/race/safe", monkeypatch, honour_if_none_match=True)
    assert sorted(outcomes) == [
        ("00000000000000000001.json", "PreconditionFailed"),
        ("00000000000000000001.json", "ok"),
        ("00000000000000000002.json", "ok"),
    ]
    assert table.version() == 2
    assert sorted(table.to_pyarrow_table()["writer"].to_pylist()) == ["a", "b", "first"]


def test_a_store_ignoring_if_none_match_loses_a_commit(s3_here, monkeypatch):
    """The control: the same race against a store that ignores the header overwrites one writer's commit. An
    S3-compatible store must honour conditional puts for concurrent writers to be safe (docs/deployment-object-store.md)."""
    _, options = s3_here
    outcomes, table = _race(options, f"s3://{BUCKET}/race/unsafe", monkeypatch, honour_if_none_match=False)
    assert outcomes == [("00000000000000000001.json", "ok")] * 2
    assert table.version() == 1 and table.to_pyarrow_table().num_rows == 2  # one append lost


def test_the_tables_of_a_lake_on_s3_are_listed_from_the_bucket(s3):
    """Lake.tables (housekeeping and the stored bytes go by it) lists the bucket through pyarrow's S3 filesystem,
    built from the same storage options: tables at layer/name, LanceDB's folder skipped."""
    import lancedb

    _, options = s3
    lake = Lake(f"s3://{BUCKET}/lake", options)
    lake.write("enterprise", "child", pl.DataFrame({"child_id": ["C1", "C2"]}))
    lake.write("ops", "asset_costs", pl.DataFrame({"n": [1]}))
    lancedb.connect(f"s3://{BUCKET}/lake/lancedb", storage_options=options).create_table("t", data=[{"x": 1}])
    assert lake.tables() == [("enterprise", "child"), ("ops", "asset_costs")]
    assert lake.size("enterprise", "child")[0] == 2
    assert Lake(f"s3://{BUCKET}/nothing-here", options).tables() == []
