"""``caselake insights``: analyses over the marts (today the adopters: who adopts the children who wait
longest)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestration.cli.common import console, fail, read_settings

insights_app = typer.Typer(help="Analyses over the marts.", no_args_is_help=True)


@insights_app.command("adopters")
def insights_adopters(
    export: Annotated[
        Path | None,
        typer.Option(help="An agency's export folder (default: CASELAKE_AGENCY_EXPORT, else the lake's own mart)."),
    ] = None,
    html: Annotated[
        Path | None, typer.Option(help="Write the report here (default: <data root>/adopter_insights.html).")
    ] = None,
    simulation: Annotated[
        int, typer.Option(min=0, help="Also run the simulation study over this many agencies for the report.")
    ] = 0,
) -> None:
    """Who adopts the children who wait longest, and the approved households not yet matched: analysed, kept in
    the lake's insights layer and written as an HTML report."""
    import uuid

    import polars as pl

    from lake.embedding import Embedder
    from lake.insights import analysis
    from lake.insights.contract import InsightsInputError
    from lake.insights.effects import WITHOUT_PREFERENCES
    from lake.insights.report import html_report

    settings = read_settings()
    try:
        result = analysis.run(settings, f"cli-{uuid.uuid4().hex[:12]}", Embedder(settings.search).encode, export)
    except (InsightsInputError, FileNotFoundError) as exc:
        fail(str(exc), 2)
    sim = ""
    if simulation:
        from evaluation import insights as simulation_study

        study = simulation_study.evaluate(seeds=simulation, households=max(20, result.summary["households"]))
        sim = simulation_study.report(study)
    path = html or settings.data_root / "adopter_insights.html"
    path.write_text(html_report(result, sim), encoding="utf-8")
    found = result.effects.filter(
        (pl.col("model") == WITHOUT_PREFERENCES) & pl.col("finding").is_in(["more likely", "less likely"])
    )
    console.print(result.summary)
    for r in found.iter_rows(named=True):
        console.print(
            f"{r['cohort']}: {r['label']} — {r['finding']} (odds ratio {r['odds_ratio']:.2f}, "
            f"95% {r['ci_low']:.2f}–{r['ci_high']:.2f}, q {r['q_value']:.3g})"
        )
    console.print(f"report: {path}")
