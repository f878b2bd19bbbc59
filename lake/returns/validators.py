"""The DfE's published validators run in environments of their own (they pin pandas<2, caselake does not): each
return's module calls its script through this one subprocess-and-JSON bridge."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from lake.settings import REPO_ROOT


def dbt_year(var: str) -> int:
    """A collection year the marts are built for: ``vars.<var>`` in dbt_project.yml."""
    return int(yaml.safe_load((REPO_ROOT / "dbt" / "dbt_project.yml").read_text())["vars"][var])


def run_validator(python: Path, script: Path, args: list[str], what: str) -> dict:
    """Run ``script`` with ``python`` (a validator's environment, made by ``make setup``); its last line of output
    is one JSON object, returned. ``what`` names the return in the errors."""
    if not python.exists():
        raise FileNotFoundError(f"{python} is missing: run `make setup` to build the {what} validator's environment")
    run = subprocess.run([str(python), str(script), *args], capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise RuntimeError(f"the {what} validator failed: {run.stderr[-800:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])
