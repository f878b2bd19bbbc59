"""``caselake eval <what>``: the pipeline measured against the synthetic truth. Every evaluation module speaks
the same two words, ``evaluate(...)`` (the scores, as data) and ``report(...)`` (them as text); the registry
below says, per name, what it measures and how the command's options reach its ``evaluate``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestration.cli.common import fail, progress_bars, read_settings

if TYPE_CHECKING:
    from lake.settings import Settings


@dataclass(frozen=True)
class EvalOptions:
    """The command's options; each evaluation reads the ones it needs."""

    truth: Path | None
    children: int
    seed: int
    keep: Path | None
    seeds: int
    households: int
    hard: bool = False
    tuning: bool = False
    per_kind: int = 3
    handwritten: bool = False

    def truth_dir(self, settings: Settings) -> Path:
        return self.truth or settings.data_root / "truth"


@dataclass(frozen=True)
class Evaluation:
    measures: str  # the words the command's help gives it
    run: Callable[[EvalOptions], str]  # the report to print (the evaluation module is imported when it runs)


def _documents(options: EvalOptions) -> str:
    if options.hard:
        from evaluation import hard_scans

        part = "tuning part" if options.tuning else "held-out part"
        pages = hard_scans.evaluate(tuning=options.tuning, per_kind=options.per_kind, keep=options.keep)
        return f"hard scans, {part}:\n{hard_scans.report(pages)}"
    from evaluation import documents

    settings = read_settings()
    return documents.report(documents.evaluate(settings.lake(), options.truth_dir(settings)))


def _entities(options: EvalOptions) -> str:
    if options.handwritten:
        from evaluation import handwritten
        from lake.entities.extraction import EntityExtractor
        from synth.training import entity_model

        settings = read_settings().entities
        with progress_bars() as progress:
            extractor = EntityExtractor.load(entity_model(settings, progress), settings)
        return handwritten.report(handwritten.evaluate(extractor, "train" if options.tuning else "eval"))
    from evaluation import entities

    with progress_bars() as progress:
        result = entities.evaluate(children=options.children, seed=options.seed, progress=progress, keep=options.keep)
    return entities.report(result)


def _search(options: EvalOptions) -> str:
    from evaluation import search

    settings = read_settings()
    return search.report(search.evaluate(settings.lake(), settings.lancedb(), options.truth_dir(settings)))


def _ecomap(options: EvalOptions) -> str:
    from evaluation import ecomap

    settings = read_settings()
    return ecomap.report(ecomap.evaluate(settings, options.truth_dir(settings)))


def _insights(options: EvalOptions) -> str:
    from evaluation import insights

    top_k = read_settings().insights.top_k
    return insights.report(insights.evaluate(seeds=options.seeds, households=options.households, top_k=top_k))


def _factors(options: EvalOptions) -> str:
    from evaluation import factors
    from lake.entities.coding import FactorCoder
    from synth.training import project_factor_coder

    settings = read_settings().entities
    coder = FactorCoder.load(project_factor_coder(settings), threads=settings.threads)
    result = factors.evaluate(coder, "train" if options.tuning else "eval")
    if not options.tuning:
        with progress_bars() as progress:
            result.council = factors.evaluate_council(coder, options.children, options.seed, progress)
    return factors.report(result)


def _disclosure(options: EvalOptions) -> str:
    from evaluation import disclosure

    settings = read_settings()
    results = []
    with progress_bars() as progress:
        if options.truth_dir(settings).exists():
            results.append(
                disclosure.evaluate(
                    settings.lake(), options.truth_dir(settings), label="the loaded council", progress=progress
                )
            )
        results.append(disclosure.evaluate_held_out(options.children, options.seed, progress=progress))
    return disclosure.report(results)


EVALUATIONS = {
    "documents": Evaluation("text quality", _documents),
    "entities": Evaluation("NER and person resolution", _entities),
    "factors": Evaluation("CIN factor and strength coding of statements", _factors),
    "search": Evaluation("ranking", _search),
    "ecomap": Evaluation("the ecomap's confidence bands", _ecomap),
    "insights": Evaluation("the adopter analysis by simulation", _insights),
    "disclosure": Evaluation(
        "proposed redactions of subject access bundles, beside a kind-of-text baseline", _disclosure
    ),
}


def evaluate(
    what: Annotated[
        str,
        typer.Argument(help="; ".join(f"{name}: {e.measures}" for name, e in EVALUATIONS.items()) + "."),
    ],
    truth: Annotated[
        Path | None, typer.Option(help="The synthetic council's truth folder (default: <data root>/truth).")
    ] = None,
    children: Annotated[
        int, typer.Option(help="entities, factors, disclosure: size of the held-out (eval split) council.")
    ] = 30,
    seed: Annotated[int, typer.Option(help="entities, factors, disclosure: seed of the held-out council.")] = 2027,
    keep: Annotated[
        Path | None,
        typer.Option(help="entities: keep the held-out council and lake here; documents --hard: the scans."),
    ] = None,
    seeds: Annotated[int, typer.Option(min=1, help="insights: how many synthetic agencies to simulate.")] = 200,
    households: Annotated[int, typer.Option(min=20, help="insights: approved households per agency.")] = 500,
    hard: Annotated[
        bool, typer.Option(help="documents: read a made set of hard scans (fax, photocopy, stamps, handwriting...).")
    ] = False,
    tuning: Annotated[
        bool,
        typer.Option(
            help="documents --hard, entities --handwritten, factors: score the part tuned or trained on "
            "(factors: each training author coded by a coder trained on the others)."
        ),
    ] = False,
    handwritten: Annotated[
        bool, typer.Option(help="entities: score the hand-written notes' held-out authors (corpus/handwritten).")
    ] = False,
    per_kind: Annotated[int, typer.Option(min=1, help="documents --hard: pages of each kind of damage.")] = 3,
) -> None:
    """Measure the pipeline against the synthetic truth. ``entities`` generates a held-out council (eval-split
    templates and name pools, never trained on), loads it through the real pipeline and scores it."""
    if what not in EVALUATIONS:
        fail(f"unknown evaluation {what!r}; known: {', '.join(EVALUATIONS)}", 2)
    print(
        EVALUATIONS[what].run(
            EvalOptions(truth, children, seed, keep, seeds, households, hard, tuning, per_kind, handwritten)
        )
    )
