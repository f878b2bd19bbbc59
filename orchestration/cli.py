"""The ``caselake`` command line. Each command is a thin shell over a plain function."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

app = typer.Typer(help="caselake: a lakehouse for children's social care records.", no_args_is_help=True)
console = Console(stderr=True)


@app.callback()
def main() -> None:
    """caselake: land case-management exports, make every record searchable, serve the app."""


@contextmanager
def progress_bars() -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(stage, done, total)`` callback drawing one bar per stage on stderr."""
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done if total else 1, total=max(total, 1))

        yield progress


def _settings():
    from lake.settings import Settings

    try:
        return Settings.from_env()
    except ValueError as exc:  # a malformed CASELAKE_* variable: say which, and stop
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command()
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
        out=out or _settings().data_root,
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
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
    rows = sum(result.rows.values())
    console.print(
        f"wrote {'day ' + str(result.day) + ' change' if result.day else 'full'} extract {result.extract_dir} "
        f"({rows:,} rows in {len(result.rows)} tables, {result.documents:,} documents) "
        f"and truth {result.truth_dir} in {result.seconds:.1f} s"
    )


@app.command()
def load(
    landing: Annotated[
        Path | None, typer.Option(help="Landing folder (default: CASELAKE_LANDING_DIR or lake/data/landing).")
    ] = None,
    documents: Annotated[bool, typer.Option(help="Also read new and changed documents into text.")] = True,
    entities: Annotated[bool, typer.Option(help="Also extract entities and resolve people (after documents).")] = True,
    search: Annotated[bool, typer.Option(help="Also bring the search index up to date (after entities).")] = True,
    insights: Annotated[bool, typer.Option(help="Also analyse the adopters (after search).")] = True,
) -> None:
    """Land and stage every extract not yet loaded, then run the stages in their declared order (enterprise
    and marts, documents, entities, search index, adopter insights), through the Dagster jobs."""
    import dagster as dg

    from orchestration.automation import STAGE_NAMES
    from orchestration.runner import ensure_dagster_home, load_all

    home = ensure_dagster_home(_settings())
    wanted = (
        True,
        documents,
        documents and entities,
        documents and entities and search,
        documents and entities and search and insights,
    )
    until = STAGE_NAMES[max(i for i, on in enumerate(wanted) if on)]
    with dg.DagsterInstance.get() as instance:
        ok = load_all(instance, landing, say=console.print, until=until)
    console.print(f"Dagster runs recorded in {home}")
    if not ok:
        raise typer.Exit(1)


@app.command("extract-text")
def extract_text(
    files: Annotated[
        list[Path], typer.Argument(help="Document files (PDF, DOCX, DOC, HTML, Markdown, PNG, JPEG, TIFF).")
    ],
    timeout_s: Annotated[float | None, typer.Option(help="Per-file time limit in seconds (default 120).")] = None,
    max_mb: Annotated[int | None, typer.Option(help="Larger files are refused as oversized (default 100).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Print one JSON line per file: its page texts and method, or the error (the document asset's code path)."""
    import json

    from lake.documents.formats import ExtractionSettings
    from lake.documents.pipeline import extract_files

    defaults = _settings().documents
    settings = ExtractionSettings(
        timeout_s=timeout_s or defaults.timeout_s, max_bytes=(max_mb or defaults.max_mb) * 1024 * 1024
    )
    failed = 0
    for result in extract_files(files, settings, workers):
        failed += "error" in result
        print(json.dumps(result, ensure_ascii=False), flush=True)
    if failed:
        console.print(f"{failed} of {len(files)} files had no text")
        raise typer.Exit(1)


@app.command("build-entity-model")
def build_entity_model(
    steps: Annotated[int | None, typer.Option(help="Training steps (default: the project's build config).")] = None,
) -> None:
    """Build (or find cached) the offline GLiNER model from the packaged MiniLM encoder and the synthetic
    council's train split; prints the model directory."""
    import dataclasses

    from lake.entities.model import BuildConfig
    from synth.training import project_model

    cfg = BuildConfig() if steps is None else dataclasses.replace(BuildConfig(), steps=steps)
    with progress_bars() as progress:
        path = project_model(_settings().entities, cfg, progress=progress)
    print(path)


@app.command("extract-entities")
def extract_entities(
    files: Annotated[list[Path], typer.Argument(help="Text files (.txt) or documents (PDF, DOCX, DOC, images...).")],
    threshold: Annotated[float | None, typer.Option(help="GLiNER score threshold (default 0.5).")] = None,
) -> None:
    """Print one JSON line per file with its entity mentions (the entity asset's code path)."""
    import json

    from lake.entities.extraction import EntityExtractor, extract_files
    from synth.training import entity_model

    settings = _settings().entities
    failed = 0
    extractor = EntityExtractor.load(entity_model(settings), settings, threshold=threshold)
    for result in extract_files(files, extractor):
        failed += "error" in result
        print(json.dumps(result, ensure_ascii=False), flush=True)
    if failed:
        console.print(f"{failed} of {len(files)} files could not be read")
        raise typer.Exit(1)


@app.command("eval")
def evaluate(
    what: Annotated[
        str,
        typer.Argument(
            help="documents: text quality; entities: NER and person resolution; search: ranking; ecomap: the ecomap's confidence bands; insights: the adopter analysis by simulation."
        ),
    ],
    truth: Annotated[
        Path | None, typer.Option(help="The synthetic council's truth folder (default: <data root>/truth).")
    ] = None,
    children: Annotated[int, typer.Option(help="entities: size of the held-out (eval split) council.")] = 30,
    seed: Annotated[int, typer.Option(help="entities: seed of the held-out council.")] = 2027,
    keep: Annotated[Path | None, typer.Option(help="entities: keep the held-out council and lake here.")] = None,
    seeds: Annotated[int, typer.Option(min=1, help="insights: how many synthetic agencies to simulate.")] = 200,
    households: Annotated[int, typer.Option(min=20, help="insights: approved households per agency.")] = 500,
) -> None:
    """Measure the pipeline against the synthetic truth. ``entities`` generates a held-out council (eval-split
    templates and name pools, never trained on), loads it through the real pipeline and scores it."""
    if what == "documents":
        from evaluation.documents import quality_against_truth

        settings = _settings()
        quality = quality_against_truth(settings.lake(), truth or settings.data_root / "truth")
        with_text = quality["pages_with_text"].sum()
        print(quality)
        print(f"pages with text {with_text}/{quality['pages'].sum()}")
        return
    if what == "entities":
        from evaluation.entities import evaluate_held_out, report

        with progress_bars() as progress:
            result = evaluate_held_out(children=children, seed=seed, progress=progress, keep=keep)
        print(report(result))
        return
    if what == "search":
        from evaluation.search import evaluate_search, report

        settings = _settings()
        result = evaluate_search(settings.lake(), settings.lancedb(), truth or settings.data_root / "truth")
        print(report(result))
        return
    if what == "ecomap":
        from evaluation.ecomap import evaluate_ecomap, format_report

        settings = _settings()
        print(format_report(evaluate_ecomap(settings, truth or settings.data_root / "truth")))
        return
    if what == "insights":
        from evaluation.insights import format_report, simulate

        print(format_report(simulate(seeds=seeds, households=households, top_k=_settings().insights.top_k)))
        return
    console.print(
        f"[red]error:[/red] unknown evaluation {what!r}; known: documents, entities, search, ecomap, insights"
    )
    raise typer.Exit(2)


@app.command("synth-agency")
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


insights_app = typer.Typer(help="Analyses over the marts.", no_args_is_help=True)
app.add_typer(insights_app, name="insights")


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

    settings = _settings()
    try:
        result = analysis.run(settings, f"cli-{uuid.uuid4().hex[:12]}", Embedder(settings.search).encode, export)
    except (InsightsInputError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    sim = ""
    if simulation:
        from evaluation.insights import format_report, simulate

        sim = format_report(simulate(seeds=simulation, households=max(20, result.summary["households"])))
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


# ---- reading case data: always through the query service ------------------------------------------------
def _service():
    from app.service import QueryService

    return QueryService(_settings())


def _sign_in(service, login: str):
    """A CLI session: the login's own password, asked on the terminal (never an argument: shell history)."""
    from app.service import NotSignedIn

    password = typer.prompt(f"password for {login}", hide_input=True, err=True)
    try:
        return service.login(login, password)
    except NotSignedIn as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc


def _date_option(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        console.print(f"[red]error:[/red] --{name}: {value!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from exc


@app.command("search")
def search_command(
    text: Annotated[str, typer.Argument(help="What to look for: words, a question, or a person's name.")],
    as_login: Annotated[str, typer.Option("--as", help="The login to search as (asks for its password).")],
    child: Annotated[list[str] | None, typer.Option(help="Only this child's records (repeatable).")] = None,
    sort: Annotated[str, typer.Option(help="relevance, newest or oldest.")] = "relevance",
    mode: Annotated[str, typer.Option(help="hybrid, text (words) or vector (meaning).")] = "hybrid",
    source: Annotated[list[str] | None, typer.Option(help="case_note, document_page or form_answer.")] = None,
    item_type: Annotated[list[str] | None, typer.Option("--type", help="A note, document or form type.")] = None,
    author: Annotated[list[str] | None, typer.Option(help="A worker id.")] = None,
    person: Annotated[str | None, typer.Option(help="Only chunks that mention this resolved person id.")] = None,
    event_from: Annotated[str | None, typer.Option(help="Event date from (YYYY-MM-DD).")] = None,
    event_to: Annotated[str | None, typer.Option(help="Event date to.")] = None,
    recorded_from: Annotated[str | None, typer.Option(help="Recorded date from.")] = None,
    recorded_to: Annotated[str | None, typer.Option(help="Recorded date to.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per hit.")] = False,
) -> None:
    """Search notes, document pages and form answers as a user: their access rules apply and the search is
    written to the audit log."""
    import json

    from lake.search.query import InvalidRequest, SearchFilters, SearchRequest

    service = _service()
    session = _sign_in(service, as_login)
    request = SearchRequest(
        text,
        mode=mode,
        sort=sort,
        limit=limit,
        filters=SearchFilters(
            child_ids=tuple(child or ()),
            source_types=tuple(source or ()),
            item_types=tuple(item_type or ()),
            author_ids=tuple(author or ()),
            person_id=person,
            event_from=_date_option(event_from, "event-from"),
            event_to=_date_option(event_to, "event-to"),
            recorded_from=_date_option(recorded_from, "recorded-from"),
            recorded_to=_date_option(recorded_to, "recorded-to"),
        ),
    )
    from app.service import AccessDenied

    try:
        result = service.search(session, request)
    except (InvalidRequest, AccessDenied) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if as_json:
        for hit in result.hits:
            print(json.dumps(hit.to_json(), default=str))
        return
    if result.people:
        console.print("person: " + "; ".join(result.people))
    for i, hit in enumerate(result.hits, 1):
        event = hit.event_date.isoformat() if hit.event_date else "-"
        recorded = hit.recorded_date.isoformat() if hit.recorded_date else "-"
        where = f"{hit.source_type} {hit.record_id}" + (f" p.{hit.page}" if hit.page else "")
        print(f"{i:>2}. {hit.child_id}  {where}  {hit.item_type}  event {event}  recorded {recorded}  by {hit.author}")
        print(f"    {'; '.join(hit.reasons)}")
        print(f"    {_plain(hit.snippet_html)}")
    if not result.hits:
        print("no results")


def _plain(snippet_html: str) -> str:
    """A snippet for the terminal: marks as [brackets], entities unescaped."""
    import html

    return html.unescape(snippet_html.replace("<mark>", "[").replace("</mark>", "]")).replace("\n", " ")


users_app = typer.Typer(help="The users file: logins, roles, worker ids, hashed passwords.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    login: Annotated[str, typer.Argument(help="The login (lower case).")],
    role: Annotated[
        str, typer.Option(help="social_worker, team_manager, iro, auditor, analyst, admin or family_finder.")
    ],
    name: Annotated[str, typer.Option(help="The person's name, as the app shows it.")],
    worker: Annotated[str | None, typer.Option(help="The case-management worker id (case readers need one).")] = None,
    oidc_only: Annotated[
        bool, typer.Option("--oidc-only", help="No password: signs in through the identity provider.")
    ] = False,
    replace: Annotated[bool, typer.Option(help="Replace an existing login.")] = False,
) -> None:
    """Add a login (asks for its password twice unless --oidc-only)."""
    from app.users import UserError, UserStore

    password = None if oidc_only else typer.prompt("password", hide_input=True, confirmation_prompt=True, err=True)
    try:
        user = UserStore(_settings().users_file()).add(login, role, name, password, worker, replace=replace)
    except (UserError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"added {user.login} ({user.role})")


@users_app.command("list")
def users_list() -> None:
    """The logins, their roles and worker ids (never the hashes)."""
    from app.users import UserStore

    for user in UserStore(_settings().users_file()).list():
        print(
            f"{user.login:<24} {user.role!s:<14} {user.worker_id or '-':<10} {user.name}{'  (disabled)' if user.disabled else ''}"
        )


@users_app.command("demo")
def users_demo() -> None:
    """Make (once) and print a demo login for every role, for the synthetic council only."""
    from app.demo import demo_logins

    settings = _settings()
    for login, role, worker, password in demo_logins(settings.lake(), settings.users_file()):
        print(f"  {login:<22} password {password:<18} {role:<14} {worker}")


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="The port the app listens on.")] = 5006,
    address: Annotated[str, typer.Option(help="The address it listens on.")] = "127.0.0.1",
    origin: Annotated[
        list[str] | None, typer.Option(help="host:port a browser may reach it as (behind a proxy); repeatable.")
    ] = None,
) -> None:
    """Serve the app: search, the child pages with timeline and ecomap, the audit log. Sign in with a login
    from the users file (``caselake users add`` / ``users demo``) or the council's OIDC provider."""
    from app.web.server import serve as serve_app

    console.print(f"caselake app: http://{address}:{port}/search  (Ctrl-C stops it)")
    serve_app(_settings(), port=port, address=address, origins=origin or None)


@app.command()
def costs(
    days: Annotated[int, typer.Option(help="Sum the per-asset costs over this many recent days.")] = 7,
) -> None:
    """What the platform costs: measured unit costs beside the council pilot's cloud prices, the pilot's backlog
    and a year of its new data at those rates, the costliest assets, and what the lake stores now. Reads the
    cost marts that ``caselake load`` (and the daily report_costs job) rebuild."""
    from rich.table import Table

    from lake.ops import costs as cost_report

    settings = _settings()
    prices = cost_report.Prices(settings.ops.price_vcpu_hour_gbp, settings.ops.price_gb_month_gbp)
    try:
        r = cost_report.report(settings.lake(), settings.duckdb_path(), prices, days)
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc

    def money(v) -> str:
        return "—" if v is None else f"£{v:,.2f}" if v >= 1 else f"£{v:.4f}"

    out = Console(width=max(Console().width, 120))  # tables this wide wrap badly in a log or a pipe
    out.print(f"Prices: £{prices.vcpu_hour_gbp} per vCPU-hour, £{prices.gb_month_gbp} per GB-month (docs/costs.md)")
    rates = Table("work", "unit", "runs", "items", "CPU s per 1,000", "£ per 1,000", "pilot £ per 1,000",
                  title="Measured unit costs")  # fmt: skip
    for row in r.unit_rates.iter_rows(named=True):
        rates.add_row(row["work"], row["unit"], str(row["runs"]), f"{row['items']:,}",
                      f"{row['cpu_seconds_per_1000']:,.0f}", money(row["gbp_per_1000"]),
                      money(row["pilot_gbp_per_1000"]))  # fmt: skip
    out.print(rates)
    backlog = Table("scope", "work", "items", "vCPU-hours", "£ here", "£ pilot",
                    title="The pilot council's backlog and new data, at these rates")  # fmt: skip
    for row in r.backlog.iter_rows(named=True):
        backlog.add_row(row["scope"], row["work"], f"{row['items'] or 0:,.0f}",
                        "—" if row["cpu_hours"] is None else f"{row['cpu_hours']:,.0f}",
                        money(row["estimated_gbp"]), money(row["pilot_gbp"]))  # fmt: skip
    out.print(backlog)
    assets = Table("asset", "runs", "wall s", "CPU s", "model s", "MB written", "£ compute",
                   title=f"Costliest assets, last {days} days")  # fmt: skip
    for row in r.by_asset.head(12).iter_rows(named=True):
        assets.add_row(row["asset_key"], str(row["runs"]), f"{row['wall_seconds']:,.1f}", f"{row['cpu_seconds']:,.1f}",
                       f"{row['model_seconds']:,.1f}", f"{(row['bytes_written'] or 0) / 1e6:,.2f}",
                       money(row["compute_gbp"]))  # fmt: skip
    out.print(assets)
    out.print(
        f"Stored now: {r.stored_bytes / 1e6:,.1f} MB of Delta tables = {money(r.storage_gbp_year)} a year "
        "(the pilot's standing cost: £1,657 a year)"
    )


lake_app = typer.Typer(
    help="The lake's Delta tables: history, time travel, housekeeping, lineage.", no_args_is_help=True
)
app.add_typer(lake_app, name="lake")


@lake_app.command("history")
def lake_history(
    table: Annotated[str, typer.Argument(help="layer/name, e.g. enterprise/child")],
    limit: Annotated[int, typer.Option(help="Newest versions shown.")] = 20,
) -> None:
    """A table's versions: when, what operation, and the Dagster run and step that made each."""
    from rich.table import Table

    layer, _, name = table.partition("/")
    dt_ = _settings().lake().table(layer, name)
    if dt_ is None:
        console.print(f"[red]error:[/red] no Delta table {table}")
        raise typer.Exit(1)
    out = Table("version", "committed (UTC)", "operation", "run", "step", title=table)
    for c in dt_.history(limit):
        at = dt.datetime.fromtimestamp(c["timestamp"] / 1000, dt.UTC).isoformat(timespec="seconds")
        out.add_row(
            str(c["version"]), at, c["operation"], (c.get("caselake.run_id") or "")[:8], c.get("caselake.step", "")
        )
    Console().print(out)


@lake_app.command("snapshot")
def lake_snapshot(
    table: Annotated[str, typer.Argument(help="layer/name, e.g. enterprise/child")],
    out: Annotated[Path, typer.Option(help="A Parquet file to write the table as it was to.")],
    version: Annotated[int | None, typer.Option(help="A version (caselake lake history lists them).")] = None,
    as_of: Annotated[str | None, typer.Option(help="Or a moment, ISO 8601 (e.g. 2026-11-30T18:00:00Z).")] = None,
) -> None:
    """Time travel: the table as it was at a version or a moment inside the retention, written to Parquet."""
    from deltalake import DeltaTable

    layer, _, name = table.partition("/")
    lake = _settings().lake()
    if lake.table(layer, name) is None or (version is None) == (as_of is None):
        console.print("[red]error:[/red] give an existing table and exactly one of --version or --as-of")
        raise typer.Exit(2)
    dt_ = DeltaTable(lake.uri(layer, name), storage_options=lake.storage_options or None)
    dt_.load_as_version(version if version is not None else as_of)
    import pyarrow.parquet as pq

    data = dt_.to_pyarrow_table()
    pq.write_table(data, out)
    console.print(f"{table} at version {dt_.version()}: {data.num_rows} rows written to {out}")


@lake_app.command("housekeep")
def lake_housekeep() -> None:
    """Compact and vacuum every Delta table now, keeping CASELAKE_DELTA_RETENTION_DAYS of history (the weekly
    delta_housekeeping job does the same)."""
    from lake.ops.housekeeping import housekeep

    settings = _settings()
    done = housekeep(settings.lake(), settings.ops.delta_retention_days)
    console.print(
        f"{done.height} tables: {int(done['files_compacted'].sum())} small files compacted, "
        f"{int(done['files_vacuumed'].sum())} old files vacuumed; history kept {settings.ops.delta_retention_days} days"
    )


@app.command()
def lineage(
    kind: Annotated[str, typer.Argument(help="edge, mention, hit (a search chunk) or row (a mart row).")],
    ident: Annotated[str, typer.Argument(help="The edge_id, mention_id or chunk_id; for a row, the mart's name.")],
    key: Annotated[list[str] | None, typer.Argument(help="For a row: its key as column=value (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the chain as JSON.")] = False,
) -> None:
    """Where a fact came from: an ecomap edge, an entity mention, a search hit or a mart row, back through the
    enterprise and staging rows to the landing file (SHA-256, row number), with the Delta versions and runs
    that wrote each, and for text the page, span, method and model. Shows ids and hashes, never content."""
    import json

    from lake.ops.lineage import LineageError, Tracer

    settings = _settings()
    tracer = Tracer(settings.lake(), settings.warehouse(), settings.landing())
    pairs = [k.partition("=") for k in key or []]
    try:
        if any(not sep for _, sep, _ in pairs):
            raise LineageError("a mart row's key is column=value")
        found = tracer.trace(
            kind, ident, {c: v for c, _, v in pairs}, settings.lancedb(), dict(settings.storage_options)
        )
    except LineageError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    print(json.dumps(found.to_dict(), indent=2) if as_json else found.as_text())


audit_app = typer.Typer(help="The audit log of every read of case data.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit journal's hash chain: any changed, removed or inserted row, or a cut-off end, fails."""
    from app.audit import AuditLog

    settings = _settings()
    path = settings.audit_db()
    report = AuditLog(path).verify(settings.lake())
    for problem in report.problems:
        console.print(f"[red]tampered:[/red] {problem}")
    if not report.ok:
        raise typer.Exit(1)
    console.print(f"audit log intact: {report.rows} rows, chain, anchor and exported copy verified ({path})")


@audit_app.command("export")
def audit_export() -> None:
    """Append the journal's new rows to the ops/audit_log Delta table (for auditors, dbt, and as a copy
    ``audit verify`` compares the journal with)."""
    from app.audit import AuditLog

    settings = _settings()
    added = AuditLog(settings.audit_db()).export(settings.lake())
    console.print(f"exported {added} audit rows to {settings.lake().uri('ops', 'audit_log')}")


if __name__ == "__main__":
    app()
