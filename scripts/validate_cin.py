"""Run the DfE's CIN census rules (csc-validator-be-cin 0.1.13) over one CIN census XML file.

Runs in its own environment (.venv-cin, made by `make setup`): the validator pins pandas<2, which caselake's own
environment does not, and leaves numpy unpinned (pandas 1.5 fails to import under numpy 2). Prints one JSON
object: the ruleset, its rules, the children each rule names by type (ERROR / QUERY), the return-level findings,
and the rules that failed to run.

    .venv-cin/bin/python scripts/validate_cin.py FILE.xml COLLECTION_YEAR

COLLECTION_YEAR is the year the census ends in (2026: 2025-26, ruleset cin2025_26).

Three defects of the package's XML ingest are worked round here (decision 0047):
- it stores an assessment's factors as a list, while rules 8869, 8945Q and 8950Q expect one factor per row (they
  never fire on XML input) and 8898 fails on the list ("unhashable type: 'list'"). Pass A runs every other rule
  with the factors joined ("3B,4B"); pass B runs those three on the assessments exploded to one row per factor
  (exploding for every rule makes 8898 fire falsely);
- it reads only the first <CPPreviewDate> of each <Reviews> block, so a block with several dates is split into
  one block per date first.
"""

import contextlib
import copy
import io
import json
import sys
import warnings
import xml.etree.ElementTree as ET

warnings.simplefilter("ignore")  # the rules' pandas FutureWarnings, on stderr

from cin_validator import cin_validator  # noqa: E402
from cin_validator.rules.ruleset_utils import get_year_ruleset  # noqa: E402

SCALAR_FACTOR_RULES = ["8869", "8945Q", "8950Q"]


def split_reviews(root: ET.Element) -> None:
    """<Reviews> with n dates -> n <Reviews> with one date each (the ingest reads one date per block)."""
    for plan in root.iter("ChildProtectionPlans"):
        for reviews in plan.findall("Reviews"):
            dates = reviews.findall("CPPreviewDate")
            if len(dates) > 1:
                at = list(plan).index(reviews)
                plan.remove(reviews)
                for offset, date in enumerate(dates):
                    block = ET.Element("Reviews")
                    block.append(date)
                    plan.insert(at + offset, block)


def main() -> None:
    path, year = sys.argv[1], sys.argv[2]
    root = ET.parse(path).getroot()
    registry = get_year_ruleset(year)
    split_reviews(root)
    raw = cin_validator.convert_data(root)
    joined = copy.deepcopy(raw)
    joined["Assessments"]["AssessmentFactors"] = joined["Assessments"]["AssessmentFactors"].map(
        lambda x: ",".join(x) if isinstance(x, list) else x
    )
    exploded = copy.deepcopy(raw)
    exploded["Assessments"] = exploded["Assessments"].explode("AssessmentFactors", ignore_index=True)
    noise = io.StringIO()
    with contextlib.redirect_stdout(noise):  # a rule that raises prints "Error with rule X: ..." to stdout
        passes = (
            cin_validator.CinValidator(
                cin_validator.process_data(joined),
                {k: r for k, r in registry.items() if str(r.code) not in SCALAR_FACTOR_RULES},
            ),
            cin_validator.CinValidator(
                cin_validator.process_data(exploded), registry, selected_rules=SCALAR_FACTOR_RULES
            ),
        )
    kind = {str(r.code): r.rule_type.name for r in registry.values()}
    children: dict[str, set[str]] = {}
    return_level: set[str] = set()
    for v in passes:
        for rec in v.full_issue_df[["child_id", "rule_code"]].astype(str).to_dict("records"):
            children.setdefault(rec["rule_code"], set()).add(rec["child_id"])
        if len(v.multichild_issues):  # return-level and Header rules (e.g. 100, 2887Q)
            return_level |= set(v.multichild_issues["rule_code"].astype(str))
    fired = set(children) | return_level
    print(
        json.dumps(
            {
                "ruleset": registry_name(year),
                "rules_in_ruleset": len(registry),
                "children_by_rule": {k: sorted(v) for k, v in sorted(children.items())},
                "rule_types": {k: kind.get(k, "ERROR") for k in sorted(fired)},
                "return_level_rules": sorted(return_level),
                "messages": {str(r.code): r.message for r in registry.values() if str(r.code) in fired},
                "rules_failed_to_run": [x for x in noise.getvalue().splitlines() if x.startswith("Error with rule")],
            }
        )
    )


def registry_name(year: str) -> str:
    return f"cin{int(year) - 1}_{year[2:4]}"


if __name__ == "__main__":
    main()
