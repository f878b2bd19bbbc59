"""The SSDA903 return: export the 903 marts as the DfE's CSVs and run the published validation rules.

The rules (PyPI ``csc-validator-be-903``) pin pandas<2, so they run in their own environment,
``.venv-903``, made by ``make setup``; this module talks to it through a subprocess and JSON.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import duckdb
import yaml

from lake.settings import REPO_ROOT

TABLES = (
    "ssda903_header",
    "ssda903_episodes",
    "ssda903_reviews",
    "ssda903_missing",
    "ssda903_ad1",
    "ssda903_placed_adoption",
)
VALIDATOR_PYTHON = REPO_ROOT / ".venv-903" / "bin" / "python"
VALIDATOR_SCRIPT = REPO_ROOT / "scripts" / "validate_ssda903.py"


def collection_year() -> int:
    """The year the 903 marts are built for (``vars.ssda903_year`` in dbt_project.yml)."""
    return int(yaml.safe_load((REPO_ROOT / "dbt" / "dbt_project.yml").read_text())["vars"]["ssda903_year"])


def export_return(duckdb_file: Path, folder: Path) -> dict[str, int]:
    """Write each 903 mart as the DfE's CSV; return the rows per table."""
    rows = {}
    with duckdb.connect(str(duckdb_file), read_only=True) as con:
        for table in TABLES:
            relation = con.sql(f"select * from {table}")
            relation.write_csv(str(folder / f"{table}.csv"))
            rows[table] = len(relation.fetchall())
    return rows


def validate_folder(folder: Path, year: int) -> dict:
    """Run the DfE rules over the 903 CSVs in ``folder``: errors by rule code, rules run and skipped."""
    if not VALIDATOR_PYTHON.exists():
        raise FileNotFoundError(
            f"{VALIDATOR_PYTHON} is missing: run `make setup` to build the 903 validator's environment"
        )
    run = subprocess.run(
        [str(VALIDATOR_PYTHON), str(VALIDATOR_SCRIPT), str(folder), str(year), f"lac{year - 1}_{year % 100:02d}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if run.returncode != 0:
        raise RuntimeError(f"the 903 validator failed: {run.stderr[-800:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def validate_return(duckdb_file: Path, year: int | None = None) -> dict:
    """Export the 903 marts and validate them; adds the rows per table and the collection year."""
    year = year or collection_year()
    with tempfile.TemporaryDirectory(prefix="caselake-903-") as tmp:
        rows = export_return(duckdb_file, Path(tmp))
        result = validate_folder(Path(tmp), year)
    return {**result, "rows": rows, "collection_year": year}
