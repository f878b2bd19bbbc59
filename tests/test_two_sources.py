"""Two source systems in one lake (issue 43): a LiquidLogic-shaped and a Mosaic-shaped council whose ids overlap
(both write P0000001 ...), loaded into one lake through the real landing, staging and enterprise code."""

from __future__ import annotations

import shutil

import polars as pl
import pytest

from lake.ingest import enterprise, identity
from lake.ingest.pipeline import build_enterprise, load_landing
from lake.storage.delta import ENTERPRISE, Lake
from synth.council import SynthOptions, generate, generate_next_day


def _council(root, flavour: str, seed: int) -> SynthOptions:
    options = SynthOptions(
        out=root / flavour, children=3, seed=seed, flavour=flavour, structured_only=True, notes_per_child=6
    )
    generate(options)
    return options


@pytest.fixture(scope="module")
def two_councils(tmp_path_factory):
    root = tmp_path_factory.mktemp("two")
    ll, mo = _council(root, "liquidlogic", 101), _council(root, "mosaic", 202)
    landing = root / "landing"
    for options in (ll, mo):
        shutil.copytree(options.out / "landing", landing, dirs_exist_ok=True)
    return root, landing, ll, mo


def _people(lake: Lake) -> pl.DataFrame:
    return lake.read(ENTERPRISE, "person").filter(pl.col("_deleted_at").is_null())


def test_colliding_ids_of_two_sources_each_keep_their_own_person(two_councils):
    root, landing, ll, mo = two_councils
    staged = {s: Lake(str(root / f"only-{s}")) for s in ("liquidlogic", "mosaic")}
    for source, options in (("liquidlogic", ll), ("mosaic", mo)):  # each source alone: the truth of its people
        load_landing(staged[source], options.out / "landing")
    alone = {s: _people(lake).select("person_id", "first_name", "surname", "dob") for s, lake in staged.items()}
    overlap = set(alone["liquidlogic"]["person_id"]) & set(alone["mosaic"]["person_id"])
    assert overlap, "the two councils must share ids for this test to mean anything"

    lake = Lake(str(root / "both"))
    done = load_landing(lake, landing)
    assert not done.failed
    people = _people(lake)
    assert people.height == alone["liquidlogic"].height + alone["mosaic"].height, "nobody overwritten"
    by_id = {r["person_id"]: r for r in people.iter_rows(named=True)}
    for r in alone["liquidlogic"].iter_rows(named=True):  # the first source by name keeps its ids
        assert (by_id[r["person_id"]]["first_name"], by_id[r["person_id"]]["_source"]) == (
            r["first_name"],
            "liquidlogic",
        )
    for r in alone["mosaic"].iter_rows(named=True):
        pid = f"mosaic:{r['person_id']}" if r["person_id"] in overlap else r["person_id"]
        assert (by_id[pid]["first_name"], by_id[pid]["surname"], by_id[pid]["_source"]) == (
            r["first_name"],
            r["surname"],
            "mosaic",
        )
    # every reference to a mosaic person follows them to their enterprise id, and resolves
    notes = lake.read(ENTERPRISE, "case_note")
    mosaic_children = set(notes.filter(pl.col("_source") == "mosaic")["child_id"])
    assert mosaic_children and all(c.startswith("mosaic:") or c not in overlap for c in mosaic_children)
    for table in enterprise.TABLES:  # no reference lost: as many dangle (defects quarantined) as in each alone
        assert enterprise.duplicate_keys(lake, table) == 0, table.name
        dangling = sum(enterprise.check_references(lake, table).values())
        assert dangling == sum(sum(enterprise.check_references(one, table).values()) for one in staged.values())
    crosswalk = lake.read(ENTERPRISE, identity.CROSSWALK)
    renamed = crosswalk.filter((pl.col("entity") == "person") & (pl.col("enterprise_id") != pl.col("source_id")))
    assert overlap <= set(renamed["source_id"]) and set(renamed["source"]) == {"mosaic"}

    # the next day's extracts of both load too, and nobody changes hands
    for options in (ll, mo):
        generate_next_day(options)
        shutil.copytree(options.out / "landing", landing, dirs_exist_ok=True)
    again = load_landing(lake, landing)
    assert not again.failed and again.enterprise
    after = {r["person_id"]: r for r in _people(lake).iter_rows(named=True)}
    for pid in overlap:
        assert after[pid]["_source"] == "liquidlogic" and after[f"mosaic:{pid}"]["_source"] == "mosaic"
    assert lake.read(ENTERPRISE, identity.CROSSWALK).height >= crosswalk.height  # the crosswalk only grows


def test_the_same_person_in_two_sources_is_linked_with_its_evidence_never_merged(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    stamp = pl.datetime(2026, 11, 1, time_zone="UTC")
    base = {"middle_name": None, "sex": "F", "gender": None, "ethnicity": None, "person_type": "adult", "phone": None}
    rows = pl.DataFrame(
        [
            {
                **base,
                "person_id": "P1",
                "first_name": "Amira",
                "surname": "Kowalski",
                "dob": "1990-02-03",
                "_source": "liquidlogic",
            },
            {
                **base,
                "person_id": "mosaic:P1",
                "first_name": "Tanisha",
                "surname": "Gordon",
                "dob": "1985-01-01",
                "_source": "mosaic",
            },
            {
                **base,
                "person_id": "M77",
                "first_name": "amira ",
                "surname": "KOWALSKI",
                "dob": "1990-02-03",
                "_source": "mosaic",
            },
        ]
    ).with_columns(
        pl.col("dob").str.to_date(),
        pl.lit(None, pl.Datetime("us", "UTC")).alias("_deleted_at"),
        stamp.alias("_updated_at"),
    )
    lake.write(ENTERPRISE, "person", rows)
    links = identity.person_links(lake)
    assert links.select("person_id", "linked_person_id", "evidence").rows() == [
        ("P1", "M77", "same name and date of birth")
    ]


def test_rows_that_would_land_on_one_key_stop_the_stage_before_anything_commits(two_councils):
    root, _, ll, _ = two_councils
    lake = Lake(str(root / "collide"))
    load_landing(lake, ll.out / "landing")
    versions = {t.name: lake.version(ENTERPRISE, t.name) for t in enterprise.TABLES}
    # a cin episode and a cla episode of one source under one id: the episode table would hold one of them
    cla = lake.read("staging", "liquidlogic/cla_episode")
    cin = lake.read("staging", "liquidlogic/cin_episode")
    clash = cla.head(1).with_columns(pl.col("_ingested_at").dt.offset_by("1d"))
    taken = cin["episode_id"][0]
    lake.write(
        "staging", "liquidlogic/cla_episode", clash.with_columns(pl.lit(taken).alias("episode_id")), mode="append"
    )
    with pytest.raises(enterprise.EnterpriseCollision) as info:
        build_enterprise(lake)
    assert taken in str(info.value) and "enterprise episode" in str(info.value)
    assert {t.name: lake.version(ENTERPRISE, t.name) for t in enterprise.TABLES} == versions, "nothing committed"
