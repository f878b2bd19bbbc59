"""Run the DfE's published SSDA903 validation rules (csc-validator-be-903) over a folder of 903 CSVs.

Runs in its own environment (.venv-903, made by `make setup`): the validator pins pandas<2, which
caselake's own environment does not. Prints one JSON object: errors by rule code, rules run/skipped.

    .venv-903/bin/python scripts/validate_ssda903.py FOLDER COLLECTION_YEAR RULESET
"""

import importlib
import json
import sys
from pathlib import Path

from lac_validator.lac_validator import LacValidator
from lac_validator.utils import process_uploaded_files


def main() -> None:
    folder, year, ruleset = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    files = [str(p) for p in sorted(folder.glob("*.csv"))]
    registry = importlib.import_module(f"lac_validator.rules.{ruleset}").registry
    validator = LacValidator(
        metadata={
            "collectionYear": year,
            "localAuthority": "E06000011",
        },  # East Riding of Yorkshire (the synthetic council)
        files=process_uploaded_files({"This year": files}),
        registry=registry,
    )
    errors: dict[str, int] = {}
    for table in (t for t in validator.ds_results.values() if hasattr(t, "columns")):
        for column in (c for c in table.columns if str(c).startswith("ERR_")):
            n = int(table[column].fillna(False).astype(bool).sum())
            if n:
                errors[column[4:]] = errors.get(column[4:], 0) + n
    print(
        json.dumps(
            {
                "errors_by_rule": dict(sorted(errors.items())),
                "rules_run": len(validator.dones),
                "rules_skipped": len(validator.skips),
                "rules_failed_to_run": list(validator.fails),
            }
        )
    )


if __name__ == "__main__":
    main()
