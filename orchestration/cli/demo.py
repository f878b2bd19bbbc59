"""``caselake demo``: what ``make demo`` runs once the synthetic council is written.

A newcomer waited 50 minutes for the first page when the app was served only after every stage (documents 21,
the one-off entity model build 12.5, entities 7, search 6), with 525 Dagster DEBUG lines on the terminal. Now the
structured records load first (about a minute for 100 children), the app and the Dagster UI are served at once,
and the documents, entities, search index and adopter insights are read while they serve: the app says what is
still being read, the terminal shows one line a stage with its time, and the runs' events are in the Dagster UI.

Dagster's daemon (its sensors and schedules) starts once everything is read. Started earlier, its stage sensors
would see this command's runs succeed and launch the next stage a second time beside this command's own run.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from orchestration.cli.common import console, fail, read_settings, stage_runner
from orchestration.cli.users import users_demo


def demo(
    landing: Annotated[
        Path | None, typer.Option(help="Landing folder (default: CASELAKE_LANDING_DIR or lake/data/landing).")
    ] = None,
    port: Annotated[int, typer.Option(help="The Dagster UI's port.")] = 3000,
    app_port: Annotated[int, typer.Option(help="The app's port.")] = 5006,
) -> None:
    """Load the structured records, serve the app and the Dagster UI, then read the documents, entities, search
    index and adopter insights while they serve. Dagster's sensors take over once all is read. Ctrl-C stops it."""
    import dagster as dg

    from orchestration.automation import STAGE_NAMES
    from orchestration.runner import ensure_dagster_home, load_all, took

    settings = read_settings()
    home = ensure_dagster_home(settings)
    logs = settings.data_root / "logs"  # not under DAGSTER_HOME, whose logs/ folder Dagster keeps for itself
    logs.mkdir(parents=True, exist_ok=True)
    running = stage_runner(logs / "load.log")
    started = time.monotonic()
    servers: list[subprocess.Popen] = []
    try:
        with dg.DagsterInstance.get() as instance:
            if not load_all(instance, landing, say=console.print, until=STAGE_NAMES[0], running=running):
                fail(f"the structured load failed: the runs are in {home} (dagster dev -w workspace.yaml shows them)")
            console.print("Demo logins (one per role; synthetic data only):")
            users_demo()
            servers.append(_start("app", [*_caselake(), "serve", "--port", str(app_port)], logs))
            servers.append(
                _start("dagster-webserver", [_tool("dagster-webserver"), *_dagster_args(port)], logs),
            )
            for server, at in ((servers[0], app_port), (servers[1], port)):
                _wait_for(server, at)
            console.print(
                f"[bold]App: http://127.0.0.1:{app_port}/search[/bold]   Dagster UI: http://127.0.0.1:{port} "
                f"(loopback only: it has no sign-in; docs/deployment.md)   ready {took(time.monotonic() - started)} after the load "
                "began. Ctrl-C stops both."
            )
            console.print(
                "Now reading the documents, entities, search index and adopter insights; the app says what is "
                "still being read."
            )
            ok = load_all(instance, landing, say=console.print, first=STAGE_NAMES[1], running=running)
        console.print(
            f"{'Everything is read' if ok else 'A stage failed (its run is in the Dagster UI)'}, "
            f"{took(time.monotonic() - started)} after the load began. Dagster's sensors now load each new extract as it lands "
            f"(`make demo` again writes the next day's). Logs: {logs}"
        )
        servers.append(_start("dagster-daemon", [_tool("dagster-daemon"), "run", "-w", str(_workspace())], logs))
        while all(s.poll() is None for s in servers):
            time.sleep(1)
        stopped = next(s for s in servers if s.poll() is not None)
        fail(f"{Path(stopped.args[0]).name} stopped (exit {stopped.returncode}); its log is in {logs}")
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        for server in servers:
            if server.poll() is None:
                server.send_signal(signal.SIGINT)
        for server in servers:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


def _caselake() -> list[str]:
    return [sys.executable, "-m", "orchestration.cli"]


def _tool(name: str) -> str:
    """A console script of this environment (``dagster-webserver``), found beside its Python."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        fail(f"{name} is not installed in this environment (uv sync)")
    return found


def _dagster_args(port: int) -> list[str]:
    return ["-w", str(_workspace()), "-h", "127.0.0.1", "-p", str(port)]


def _workspace() -> Path:
    from lake.settings import REPO_ROOT

    return REPO_ROOT / "workspace.yaml"


def _start(name: str, command: list[str], logs: Path) -> subprocess.Popen:
    """One server in the background, its output in ``logs/<name>.log`` (the terminal keeps the stage lines). It
    stays in the terminal's process group, so Ctrl-C reaches it as it reaches this command."""
    log = (logs / f"{name}.log").open("ab")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ, cwd=_workspace().parent)


def _wait_for(server: subprocess.Popen, port: int, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            fail(f"{Path(server.args[0]).name} stopped before it served (exit {server.returncode}); see its log")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    fail(f"nothing listened on port {port} within {seconds:.0f} s")
