"""What every command shares: the stderr console, the one way to stop with an error, the settings (read when
a command starts) and the progress bars."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    from lake.settings import Settings

console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Say what went wrong on stderr and stop with ``code`` (2: the input was wrong; 1: the work failed)."""
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def read_settings() -> Settings:
    """The settings, read from the environment when the command starts."""
    from lake.settings import Settings

    try:
        return Settings.from_env()
    except ValueError as exc:  # a malformed CASELAKE_* variable: say which, and stop
        fail(str(exc), 2)


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


def stage_runner(log: Path) -> Callable[[str], AbstractContextManager]:
    """What wraps each stage's run in the terminal: a spinner with the time so far, which goes when the stage ends
    (the stage's own line, done or failed with its time, takes its place). dbt's lines, which dagster-dbt writes
    to stdout, are appended to ``log``: the runs' events are in the Dagster UI."""

    @contextmanager
    def running(doing: str) -> Iterator[None]:
        log.parent.mkdir(parents=True, exist_ok=True)
        with (
            log.open("a") as out,
            redirect_stdout(out),
            Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
                redirect_stdout=False,  # rich would print what is written to stdout above the spinner
            ) as spinner,
        ):
            spinner.add_task(doing, total=None)
            yield

    return running


def query_service():
    """The query service over the settings' lake: every command that reads case data goes through it."""
    from app.service import QueryService

    return QueryService(read_settings())


def sign_in(service, login: str):
    """A CLI session: the login's own password, asked on the terminal (never an argument: shell history)."""
    from app.service import NotSignedIn

    password = typer.prompt(f"password for {login}", hide_input=True, err=True)
    try:
        return service.login(login, password)
    except NotSignedIn as exc:
        fail(str(exc))


def date_option(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"--{name}: {value!r} is not a date (YYYY-MM-DD)", 2)
