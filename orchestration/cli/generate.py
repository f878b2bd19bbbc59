"""``caselake synth`` and ``caselake synth-agency``: the generators' synthetic exports and their truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from orchestration.cli.common import console, fail, progress_bars, read_settings


def synth(
    out: Annotated[
        Path | None, typer.Option(help="Folder for landing/ and truth/ (default: the data root, lake/data).")
    ] = None,
    children: Annotated[int, typer.Option(min=1, help="Number of children in the council.")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed: same seed and options, byte-identical output.")] = 42,
    flavour: Annotated[str, typer.Option(help="Export shape: liquidlogic or mosaic.")] = "liquidlogic",
    split: Annotated[str, typer.Option(help="train, or eval for held-out templates and name/place pools.")] = "train",
    as_of: Annotated[str, typer.Option(help="Date of the base (day-0) extract, YYYY-MM-DD.")] = "2026-11-01",
    next_day: Annotated[bool, typer.Option("--next-day", help="Write the next day's change extract.")] = False,
    notes_per_child: Annotated[float, typer.Option(help="Mean case notes per child (pilot: 87).")] = 87.0,
    documents_per_child: Annotated[float, typer.Option(help="Mean documents per child (pilot: 19).")] = 19.0,
    forms_per_child: Annotated[float, typer.Option(help="Mean forms per child.")] = 4.0,
    defect_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of rows given one defect.")] = 0.02,
    structured_only: Annotated[
        bool,
        typer.Option(
            "--structured-only",
            help="Every structured table, notes and forms included, and no documents (an empty document "
            "manifest, no files): councils at scale in minutes. Its next-day extracts stay without documents.",
        ),
    ] = False,
    describe: Annotated[bool, typer.Option("--describe", help="Print the export mappings and exit.")] = False,
) -> None:
    """Write a synthetic council's landing drop and its ground truth."""
    from lake.contracts.sources import describe as describe_mappings
    from synth.council import SynthOptions, generate, generate_next_day

    if describe:
        print(describe_mappings())
        return
    opts = SynthOptions(
        out=out or read_settings().data_root,
        children=children,
        seed=seed,
        flavour=flavour,
        split=split,
        as_of=dt.date.fromisoformat(as_of),
        notes_per_child=notes_per_child,
        documents_per_child=documents_per_child,
        forms_per_child=forms_per_child,
        defect_rate=defect_rate,
        structured_only=structured_only,
    )
    with progress_bars() as progress:
        try:
            result = generate_next_day(opts, progress) if next_day else generate(opts, progress)
        except (FileExistsError, FileNotFoundError, ValueError, RuntimeError) as exc:
            fail(str(exc), 2)
    rows = sum(result.rows.values())
    console.print(
        f"wrote {'day ' + str(result.day) + ' change' if result.day else 'full'} extract {result.extract_dir} "
        f"({rows:,} rows in {len(result.rows)} tables, {result.documents:,} documents) "
        f"and truth {result.truth_dir} in {result.seconds:.1f} s"
    )


def synth_agency(
    out: Annotated[Path, typer.Option(help="Folder for the export (adopter_features and adopter_reports) and truth/.")],
    households: Annotated[int, typer.Option(min=1, help="Approved households over six years.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    split: Annotated[str, typer.Option(help="train, or eval for held-out name pools.")] = "train",
) -> None:
    """Write a synthetic adoption agency's export (its adopter history alone, in the insights input contract)
    and the truth it was drawn from."""
    from synth.agency import generate_agency, write_agency

    paths = write_agency(generate_agency(households, seed=seed, split=split), out)
    console.print(
        f"wrote {paths['features']} and {paths['reports']} ({households} households), truth in {out / 'truth'}"
    )
