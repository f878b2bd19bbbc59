"""``caselake eval ecomap``: the ecomap mart (``child_network``) measured against the synthetic truth.

The truth knows, per child, who and what is around them: the people its records name (every true person
mention carries the person's id; the child themself excluded), its recorded relationships, and the
organisations, schools and addresses its records name (true mentions with those labels). A node of the map is
**correct** when it is one of them:

- a person node whose id is a recorded person (or a worker: the truth knows workers as people of the same
  name) is that person; a person found only in text (an ``M-`` id) is the true person most of its mentions
  are (its mentions in ``child_network_mentions`` matched to true mentions in the same note, page or answer:
  same text first, overlapping span after, since an OCRed page's offsets are not the written text's);
  correct when that person is around the child;
- an organisation, school or address node is correct when its normalised text (lower case, single spaces)
  is the text of a true organisation, school or address mention in the child's records (a partial span,
  "Spring Bank" for "Spring Bank Surgery", is wrong).

Measured: precision per confidence band (and per node type within each band), duplicates (a second node of
a true person already on the child's map), and per child the nodes shown and the true people shown, against
the council pilot's 24-63 raw entities per child (its workers found 6-10 that mattered).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import duckdb
import polars as pl

from evaluation.scoring import outside, unmarked_regions
from lake.settings import Settings

BANDS = ("high", "medium", "low")
NODE_TYPES = ("person", "organisation", "school", "address")
PLACE_LABELS = ("organisation", "school", "address")
ITEM = ["source_type", "source_id", "page"]
PILOT = {"raw_entities_per_child": (24, 63), "found_by_workers": (6, 10)}


def _normalise(col: str) -> pl.Expr:
    return pl.col(col).str.replace_all(r"\s+", " ").str.strip_chars().str.to_lowercase()


def _warehouse_file(warehouse: Path | str | Settings) -> Path:
    if isinstance(warehouse, Settings):
        return warehouse.duckdb_path()
    path = Path(warehouse)
    return path / "caselake.duckdb" if path.is_dir() else path


def read_marts(warehouse: Path | str | Settings) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(_warehouse_file(warehouse)), read_only=True) as con:
        return {
            "network": con.sql("select * from child_network").pl(),
            "mentions": con.sql("select * from child_network_mentions").pl(),
            "workers": con.sql("select worker_id, first_name, surname from stg_enterprise__worker").pl(),
        }


def truth_around(truth_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(true person mentions, people around each child: child_id, person_id, places around each child:
    child_id, normalised)."""
    # day 0's mentions and those of every next-day extract's new and changed texts
    files = [truth_dir / "mentions.parquet", *sorted(truth_dir.glob("days/*/mentions.parquet"))]
    truth = pl.concat(
        [pl.read_parquet(f).with_columns(pl.col("page").fill_null(0).cast(pl.Int32)) for f in files],
        how="diagonal_relaxed",
    )
    people_mentions = truth.filter((pl.col("label") == "person") & pl.col("person_id").is_not_null())
    relationships = pl.read_parquet(truth_dir / "relationships.parquet").select("child_id", "person_id")
    people = (
        pl.concat([people_mentions.select("child_id", "person_id"), relationships])
        .filter(pl.col("person_id") != pl.col("child_id"))
        .unique()
    )
    places = (
        truth.filter(pl.col("label").is_in(PLACE_LABELS))
        .select("child_id", _normalise("text").alias("normalised"))
        .unique()
    )
    return people_mentions, people, places


def _true_person_of_mentions(mentions: pl.DataFrame, truth_people: pl.DataFrame) -> pl.DataFrame:
    """node_id, child_id -> the true person most of the node's mentions are (null when none matches)."""
    pred = mentions.filter(pl.col("node_type") == "person").select(
        "child_id", "node_id", "mention_id", *ITEM, "start", "end", _normalise("mention_text").alias("norm")
    )
    truth = truth_people.select(
        *ITEM,
        pl.col("start").alias("t_start"),
        pl.col("end").alias("t_end"),
        _normalise("text").alias("norm"),
        pl.col("person_id").alias("true_id"),
    )
    by_text = (
        pred.join(truth, on=[*ITEM, "norm"])
        .with_columns((pl.col("start") - pl.col("t_start")).abs().alias("gap"))
        .sort("gap")
        .unique("mention_id", keep="first")
    )
    rest = pred.join(by_text.select("mention_id"), on="mention_id", how="anti")
    by_span = (
        rest.join(truth.drop("norm"), on=ITEM)
        .filter((pl.col("start") < pl.col("t_end")) & (pl.col("t_start") < pl.col("end")))
        .unique("mention_id", keep="first")
    )
    matched = pl.concat(
        [by_text.select("child_id", "node_id", "true_id"), by_span.select("child_id", "node_id", "true_id")]
    )
    return (
        matched.group_by("child_id", "node_id", "true_id")
        .len()
        .sort(["len", "true_id"], descending=[True, False])
        .unique(["child_id", "node_id"], keep="first")
        .select("child_id", "node_id", "true_id")
    )


def judge_nodes(marts: dict[str, pl.DataFrame], truth_dir: Path) -> pl.DataFrame:
    """child_network with true_id (what the node truly is, if anything), correct and duplicate columns."""
    network, mentions = marts["network"], marts["mentions"]
    truth_people, people, places = truth_around(truth_dir)
    persons = pl.read_parquet(truth_dir / "persons.parquet").select("person_id", "first_name", "surname")
    worker_person = (
        marts["workers"]
        .join(persons, on=["first_name", "surname"])
        .unique("worker_id", keep="first")
        .select(pl.col("worker_id").alias("node_id"), pl.col("person_id").alias("worker_true_id"))
    )
    by_mentions = _true_person_of_mentions(mentions, truth_people).rename({"true_id": "mention_true_id"})
    place_text = (
        mentions.filter(pl.col("node_type") != "person")
        .select("node_id", _normalise("mention_text").alias("normalised"))
        .unique("node_id", keep="first")
    )
    known = set(persons["person_id"].to_list())
    nodes = (
        network.join(worker_person, on="node_id", how="left")
        .join(by_mentions, on=["child_id", "node_id"], how="left")
        .join(place_text, on="node_id", how="left")
        .with_columns(
            pl.when(pl.col("node_type") != "person")
            .then(pl.lit(None, pl.String))
            .when(pl.col("node_id").is_in(list(known)))
            .then(pl.col("node_id"))
            .otherwise(pl.coalesce("worker_true_id", "mention_true_id"))
            .alias("true_id")
        )
    )
    around = people.with_columns(pl.lit(True).alias("person_around"))
    near = places.with_columns(pl.lit(True).alias("place_around"))
    nodes = (
        nodes.join(around, left_on=["child_id", "true_id"], right_on=["child_id", "person_id"], how="left")
        .join(near, on=["child_id", "normalised"], how="left")
        .with_columns(
            pl.when(pl.col("node_type") == "person")
            .then(pl.col("person_around").fill_null(False))
            .otherwise(pl.col("place_around").fill_null(False))
            .alias("correct"),
            pl.when(pl.col("node_type") == "person")
            .then(pl.col("true_id"))
            .otherwise(pl.col("normalised"))
            .alias("entity"),
        )
    )
    # a duplicate: a correct node whose true person is already shown for this child by a node of a better band
    rank = pl.col("confidence_band").replace_strict({b: i for i, b in enumerate(BANDS)}, return_dtype=pl.Int8)
    nodes = nodes.with_columns(rank.alias("band_rank")).sort(
        "child_id", "band_rank", "mention_count", "edge_id", descending=[False, False, True, False]
    )
    return nodes.with_columns(
        (pl.col("correct") & (pl.col("entity").cum_count().over("child_id", "node_type", "entity") > 1)).alias(
            "duplicate"
        )
    ).drop("band_rank")


def _band_table(nodes: pl.DataFrame) -> dict[str, dict]:
    out = {}
    for band in BANDS:
        b = nodes.filter(pl.col("confidence_band") == band)
        n, correct = b.height, int(b["correct"].sum()) if b.height else 0
        duplicates = int(b["duplicate"].sum()) if n else 0
        out[band] = {
            "nodes": n,
            "correct": correct,
            "precision": round(correct / n, 3) if n else None,
            "duplicates": duplicates,
            # a second node of a true person already on the child's map counted wrong
            "distinct_precision": round((correct - duplicates) / n, 3) if n else None,
        }
    return out


def _spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"min": 0, "median": 0, "max": 0}
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def evaluate(warehouse: Path | str | Settings, truth_dir: Path | str) -> dict:
    """Band precision and per-child coverage of ``child_network`` in the warehouse (a Settings, the folder of
    caselake.duckdb or the file) against the council truth in ``truth_dir``."""
    truth_dir = Path(truth_dir)
    marts = read_marts(warehouse)
    # A node the text alone gives, whose every mention is inside a hand-written factor statement (which marks no
    # entity), is neither right nor wrong: it is not scored, nor are those mentions.
    regions = unmarked_regions(truth_dir)
    kept = outside(marts["mentions"], regions)
    unscored = set(marts["mentions"]["edge_id"].to_list()) - set(kept["edge_id"].to_list())
    marts["mentions"] = kept
    marts["network"] = marts["network"].filter(
        ~(pl.col("edge_id").is_in(list(unscored)) & (pl.col("evidence") == "text"))
    )
    nodes = judge_nodes(marts, truth_dir)
    _, people, places = truth_around(truth_dir)
    children = sorted(nodes["child_id"].unique().to_list())
    shown, shown_hm, around, recall, per_child_nodes, per_child_people = [], [], [], [], [], []
    places_shown, places_around = [], []
    for child in children:
        mine = nodes.filter(pl.col("child_id") == child)
        true_people = set(people.filter(pl.col("child_id") == child)["person_id"].to_list())
        found = set(mine.filter((pl.col("node_type") == "person") & pl.col("correct"))["true_id"].to_list())
        shown.append(len(found))
        confident = mine.filter(
            (pl.col("node_type") == "person") & pl.col("correct") & (pl.col("confidence_band") != "low")
        )
        shown_hm.append(confident["true_id"].n_unique())
        around.append(len(true_people))
        recall.append(round(len(found) / len(true_people), 3) if true_people else 1.0)
        places_around.append(places.filter(pl.col("child_id") == child).height)
        places_shown.append(mine.filter((pl.col("node_type") != "person") & pl.col("correct"))["normalised"].n_unique())
        per_child_nodes.append(mine.height)
        per_child_people.append(mine.filter(pl.col("node_type") == "person").height)
    high_medium = nodes.filter(pl.col("confidence_band") != "low")
    return {
        "children": len(children),
        "nodes": nodes.height,
        "bands": _band_table(nodes),
        "bands_by_type": {t: _band_table(nodes.filter(pl.col("node_type") == t)) for t in NODE_TYPES},
        "by_evidence": {
            e: {"nodes": g.height, "precision": round(float(g["correct"].mean()), 3)}
            for (e,), g in nodes.group_by("evidence", maintain_order=True)
        },
        "per_child": {
            "nodes": _spread(per_child_nodes),
            "nodes_high_or_medium": _spread(high_medium.group_by("child_id").len()["len"].to_list()),
            "person_nodes": _spread(per_child_people),
            "true_people_shown": _spread(shown),
            "true_people_shown_high_or_medium": _spread(shown_hm),
            "true_people_around": _spread(around),
            "people_recall": _spread(recall),
            "true_places_shown": _spread(places_shown),
            "true_places_around": _spread(places_around),
        },
        "pilot": PILOT,
    }


def report(result: dict) -> str:
    lines = [f"ecomap (child_network) against the truth: {result['children']} children, {result['nodes']} nodes", ""]
    lines.append(f"{'band':<8} {'nodes':>6} {'correct':>8} {'precision':>10} {'duplicates':>11} {'distinct':>9}")
    for band, r in result["bands"].items():
        p = "-" if r["precision"] is None else f"{r['precision']:.3f}"
        d = "-" if r["distinct_precision"] is None else f"{r['distinct_precision']:.3f}"
        lines.append(f"{band:<8} {r['nodes']:>6} {r['correct']:>8} {p:>10} {r['duplicates']:>11} {d:>9}")
    lines.append("(distinct: precision with a second node of an entity already on the child's map counted wrong)")
    lines += ["", "precision by node type and band (nodes):"]
    for node_type, bands in result["bands_by_type"].items():
        cells = [
            f"{b} {'-' if r['precision'] is None else format(r['precision'], '.3f')} ({r['nodes']})"
            for b, r in bands.items()
        ]
        lines.append(f"  {node_type:<13} " + "   ".join(cells))
    lines += [
        "",
        "precision by evidence: "
        + ", ".join(f"{e} {r['precision']:.3f} ({r['nodes']})" for e, r in result["by_evidence"].items()),
    ]
    lines += ["", "per child (min / median / max):"]
    for name, s in result["per_child"].items():
        lines.append(f"  {name.replace('_', ' '):<34} {s['min']} / {s['median']} / {s['max']}")
    lo, hi = result["pilot"]["raw_entities_per_child"]
    wlo, whi = result["pilot"]["found_by_workers"]
    lines.append(f"  (the council pilot: {lo}-{hi} raw entities per child; its workers found {wlo}-{whi})")
    return "\n".join(lines)
