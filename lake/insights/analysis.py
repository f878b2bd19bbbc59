"""The adopter analysis end to end: from an agency's export (the input contract) to the tables people read.

``analyse`` is pure (frames in, frames out); ``lake_inputs`` reads the lake's own ``adopter_features`` mart and
the report text; ``write`` keeps the results in the lake's ``insights`` layer, the candidate lists appended to
a history so each listing can say how often a household was listed before.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from lake import metering
from lake.insights.candidates import TOP_K, fairness_audit, rank_candidates
from lake.insights.characteristics import record_characteristics, theme_characteristics
from lake.insights.clusters import household_groups
from lake.insights.contract import COHORTS, MATCHED, WAITING, checked
from lake.insights.effects import WITHOUT_PREFERENCES, association_table
from lake.insights.themes import THEMES, Encoder, ThemeFinder, example_phrases
from lake.settings import Settings
from lake.storage.delta import ENTERPRISE, INSIGHTS, Lake

EFFECTS, CANDIDATES, LISTINGS, FAIRNESS, GROUPS, THEME_TABLE = (
    "adopter_effects",
    "adopter_candidates",
    "adopter_candidate_listings",
    "adopter_fairness",
    "adopter_groups",
    "adopter_themes",
)


@dataclass
class AdopterInsights:
    effects: pl.DataFrame
    candidates: pl.DataFrame
    fairness: pl.DataFrame
    groups: pl.DataFrame
    themes: pl.DataFrame  # theme, label, households, examples and borderline phrases (each joined by " | ")
    summary: dict = field(default_factory=dict)
    households: pl.DataFrame | None = None  # household_id, status and preferences of the analysed export


def analyse(
    features: pl.DataFrame,
    reports: pl.DataFrame,
    encode: Encoder | ThemeFinder,
    *,
    history: pl.DataFrame | None = None,
    top_k: int = TOP_K,
    bootstrap: int = 30,
    seed: int = 0,
) -> AdopterInsights:
    """Everything the agency asked for, from one export. ``encode`` is the sentence encoder (or a ready
    ThemeFinder, so a simulation embeds each phrasing once)."""
    features, reports = checked(features, reports)
    finder = encode if isinstance(encode, ThemeFinder) else ThemeFinder(encode)
    flags, phrases = finder.household_themes(reports)
    characteristics = record_characteristics(features) + theme_characteristics()
    effects = association_table(features, flags, characteristics)
    candidates = rank_candidates(features, flags, characteristics, history=history, effects=effects, top_k=top_k)
    fairness = fairness_audit(features, candidates, characteristics)
    groups, _ = household_groups(
        features,
        flags,
        {t.name: t.label for t in THEMES},
        {c.label: c.outcome for c in COHORTS},
        bootstrap=bootstrap,
        seed=seed,
    )
    examples = example_phrases(phrases)
    theme_rows = []
    for t in THEMES:
        typical, borderline = examples.get(t.name, ([], []))
        theme_rows.append(
            {
                "theme": t.name,
                "label": t.label,
                "households": int(flags[t.name].sum()),
                "examples": " | ".join(typical),
                "borderline": " | ".join(borderline),
            }
        )
    themes = pl.DataFrame(
        theme_rows,
        schema={
            "theme": pl.String,
            "label": pl.String,
            "households": pl.Int64,
            "examples": pl.String,
            "borderline": pl.String,
        },
    )
    main = effects.filter(pl.col("model") == WITHOUT_PREFERENCES)
    summary = {
        "households": features.height,
        "matched": int((features["status"] == MATCHED).sum()),
        "waiting": int((features["status"] == WAITING).sum()),
        "associations_found": int(main["finding"].is_in(["more likely", "less likely"]).sum()),
        "too_small": int(main["too_small"].sum()),
        "tests": main.height,
        "candidates": candidates.height,
        "groups": groups.height,
    }
    households = features.select("household_id", "status", *(c.preference for c in COHORTS))
    return AdopterInsights(effects, candidates, fairness, groups, themes, summary, households)


def lake_inputs(lake: Lake, duckdb_path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The lake's own export: the ``adopter_features`` mart and each household's report text."""
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        features = con.sql("select * from main.adopter_features").pl()
    adopters = lake.read(ENTERPRISE, "adopter")
    if adopters is None:
        raise FileNotFoundError("the lake has no enterprise adopter table yet: load a council first")
    reports = adopters.filter(pl.col("_deleted_at").is_null()).select("household_id", "report_text")
    return features, reports


EXPORT_FILES = ("adopter_features.parquet", "adopter_reports.parquet")


def export_inputs(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """An agency's own export: the two files of the input contract (docs/insights.md)."""
    missing = [name for name in EXPORT_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} lacks {', '.join(missing)}: an agency export holds {' and '.join(EXPORT_FILES)}"
        )
    return pl.read_parquet(folder / EXPORT_FILES[0]), pl.read_parquet(folder / EXPORT_FILES[1])


def history(lake: Lake) -> pl.DataFrame | None:
    return lake.read(INSIGHTS, LISTINGS)


def write(lake: Lake, insights: AdopterInsights, run_id: str, at: dt.datetime | None = None) -> dict[str, int]:
    """The current results replace the last; the candidate list is also appended to the listing history."""
    at = at or dt.datetime.now(dt.UTC)
    stamp = [pl.lit(run_id).alias("run_id"), pl.lit(at).alias("analysed_at")]
    tables = {
        EFFECTS: insights.effects,
        CANDIDATES: insights.candidates,
        FAIRNESS: insights.fairness,
        GROUPS: insights.groups,
        THEME_TABLE: insights.themes,
    }
    for name, frame in tables.items():
        lake.write(INSIGHTS, name, frame.with_columns(stamp))
    lake.write(
        INSIGHTS,
        LISTINGS,
        insights.candidates.select("cohort", "rank", "household_id").with_columns(stamp),
        mode="append",
    )
    return {name: frame.height for name, frame in tables.items()}


def run(settings: Settings, run_id: str, encode: Encoder, export: Path | None = None) -> AdopterInsights:
    """What the asset and the CLI do: read the configured export (``export``, else ``CASELAKE_AGENCY_EXPORT``,
    else the lake's own mart and report text), analyse it with the listing history, keep the results."""
    lake = settings.lake()
    folder = export or (Path(settings.insights.agency_export) if settings.insights.agency_export else None)
    features, reports = export_inputs(folder) if folder else lake_inputs(lake, settings.duckdb_path())

    def timed_encode(texts):  # the themes' sentence embeddings: model time, metered
        started = time.perf_counter()
        vectors = encode(texts)
        metering.record_model_seconds("embedding", time.perf_counter() - started)
        return vectors

    result = analyse(features, reports, timed_encode, history=history(lake), top_k=settings.insights.top_k)
    write(lake, result, run_id)
    return result


def read(lake: Lake) -> AdopterInsights | None:
    """The latest results, or None before the first analysis."""
    frames = {name: lake.read(INSIGHTS, name) for name in (EFFECTS, CANDIDATES, FAIRNESS, GROUPS, THEME_TABLE)}
    if any(f is None for f in frames.values()):
        return None
    return AdopterInsights(frames[EFFECTS], frames[CANDIDATES], frames[FAIRNESS], frames[GROUPS], frames[THEME_TABLE])
