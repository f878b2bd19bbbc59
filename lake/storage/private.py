"""Files about children are readable by their owner only: every folder the platform makes is 0700 and every file
0600. Libraries that write files themselves (deltalake, DuckDB, LanceDB, SQLite, Dagster) follow the process's
umask, so each entry point (the CLI, the Dagster code location, the app) narrows it first with
:func:`private_files`; :func:`private_dir` makes (or narrows) one folder for code that creates its own."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077


def private_files() -> int:
    """Narrow this process's umask so that new files are 0600 and new folders 0700; returns the old umask."""
    return os.umask(PRIVATE_UMASK)


def private_dir(path: Path | str) -> Path:
    """The folder, made 0700 if new (its parents too) and narrowed to 0700 if it was wider."""
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path
