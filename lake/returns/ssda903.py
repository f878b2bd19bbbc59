"""The SSDA903 return: export the 903 marts as the DfE's CSVs and run the published validation rules.

The rules (PyPI ``csc-validator-be-903``) pin pandas<2, so they run in their own environment,
``.venv-903``, made by ``make setup``; this module talks to it through a subprocess and JSON.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

from lake.returns.validators import dbt_year, run_validator
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
    return dbt_year("ssda903_year")


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
    ruleset = f"lac{year - 1}_{year % 100:02d}"
    return run_validator(VALIDATOR_PYTHON, VALIDATOR_SCRIPT, [str(folder), str(year), ruleset], "903")


def validate_return(duckdb_file: Path, year: int | None = None) -> dict:
    """Export the 903 marts and validate them; adds the rows per table and the collection year."""
    year = year or collection_year()
    with tempfile.TemporaryDirectory(prefix="caselake-903-") as tmp:
        rows = export_return(duckdb_file, Path(tmp))
        result = validate_folder(Path(tmp), year)
    return {**result, "rows": rows, "collection_year": year}
