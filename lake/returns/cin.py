"""The Children in Need census: the cin_census_* marts written as the DfE's XML and checked by its published rules.

The rules (PyPI ``csc-validator-be-cin``) pin pandas<2, so they run in their own environment, ``.venv-cin``, made by
``make setup``; ``scripts/validate_cin.py`` runs them (working round three defects of the package's XML ingest,
decision 0047) and this module talks to it through a subprocess and JSON.

What blocks the return is an ERROR the rules raise for a child. Queries (codes ending in Q) are for people to
look at, and return-level findings are not about the data the lake holds: 2887Q ("fewer than 8 disability codes")
fires when seven or fewer children have the disability NONE, so on a small council it is noise, not a finding.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import duckdb

from lake.returns.validators import dbt_year, run_validator
from lake.settings import REPO_ROOT

# The census marts (dbt/models/marts/statutory_returns/cin), one per part of the DfE's XML.
TABLES = tuple(
    f"cin_census_{part}"
    for part in ("children", "cin_details", "assessments", "section47", "cp_plans", "cp_reviews", "cin_plans")
)
VALIDATOR_PYTHON = REPO_ROOT / ".venv-cin" / "bin" / "python"
VALIDATOR_SCRIPT = REPO_ROOT / "scripts" / "validate_cin.py"
LEA = "811"  # East Riding of Yorkshire: the synthetic council's UPNs carry the same code
FILE_NAME = "cin_census.xml"


def collection_year() -> int:
    """The year the census marts are built for (``vars.cin_year`` in dbt_project.yml)."""
    return dbt_year("cin_year")


def _rows(con: duckdb.DuckDBPyConnection, table: str, order: str) -> list[dict]:
    relation = con.sql(f"select * from {table} order by {order}")
    return [dict(zip(relation.columns, r, strict=True)) for r in relation.fetchall()]


def _text(parent: ET.Element, tag: str, value) -> None:
    """A child element, left out when the value is blank; dates as YYYY-MM-DD, booleans as true/false."""
    if value is None:
        return
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, dt.date):
        value = value.isoformat()
    ET.SubElement(parent, tag).text = str(value)


def _by(rows: list[dict], key: str) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        grouped[r[key]].append(r)
    return grouped


def build_census(duckdb_file: Path, year: int) -> tuple[ET.ElementTree, dict[str, int]]:
    """The census as the DfE's XML (no namespace; element order as the DfE's specification), and rows per mart."""
    with duckdb.connect(str(duckdb_file), read_only=True) as con:
        children = _rows(con, "cin_census_children", "la_child_id")
        referrals = _by(_rows(con, "cin_census_cin_details", "referral_date, referral_id"), "child_id")
        modules = {
            name: _by(_rows(con, f"cin_census_{name}", f"start_date, {key}"), "referral_id")
            for name, key in (
                ("assessments", "assessment_id"),
                ("section47", "s47_id"),
                ("cp_plans", "cp_plan_id"),
                ("cin_plans", "cin_plan_id"),
            )
        }
        reviews = _by(_rows(con, "cin_census_cp_reviews", "review_date, cp_review_id"), "cp_plan_id")
        counts = {t: con.execute(f"select count(*) from {t}").fetchall()[0][0] for t in TABLES}
    root = ET.Element("Message")
    header = ET.SubElement(root, "Header")
    collection = ET.SubElement(header, "CollectionDetails")
    _text(collection, "Collection", "CIN")
    _text(collection, "Year", year)
    _text(collection, "ReferenceDate", dt.date(year, 3, 31))
    source = ET.SubElement(header, "Source")
    for tag, value in (("SourceLevel", "L"), ("LEA", LEA), ("SoftwareCode", "caselake"), ("Release", "0.1.0")):
        _text(source, tag, value)
    _text(source, "SerialNo", "001")
    _text(source, "DateTime", dt.datetime.now().replace(microsecond=0).isoformat())
    ET.SubElement(ET.SubElement(ET.SubElement(header, "Content"), "CBDSLevels"), "CBDSLevel").text = "Child"
    every = ET.SubElement(root, "Children")
    for child in children:
        node = ET.SubElement(every, "Child")
        ids = ET.SubElement(node, "ChildIdentifiers")
        _text(ids, "LAchildID", child["la_child_id"])
        _text(ids, "UPN", child["upn"])
        _text(ids, "UPNunknown", child["upn_unknown"])
        _text(ids, "PersonBirthDate", child["birth_date"])
        _text(ids, "Sex", child["sex"])
        traits = ET.SubElement(node, "ChildCharacteristics")
        _text(traits, "Ethnicity", child["ethnicity"])
        _text(ET.SubElement(traits, "Disabilities"), "Disability", child["disability"])
        for referral in referrals[child["child_id"]]:
            _cin_details(node, referral, modules, reviews)
    return ET.ElementTree(root), counts


# The modules of a CINdetails, in the DfE's order: element, the mart's rows of the referral, and each child element
# with the column it is written from.
_MODULES = (
    (
        "Assessments",
        "assessments",
        (
            ("AssessmentActualStartDate", "start_date"),
            ("AssessmentInternalReviewDate", "authorised_date"),
            ("AssessmentAuthorisationDate", "authorised_date"),
        ),
    ),
    ("CINPlanDates", "cin_plans", (("CINPlanStartDate", "start_date"), ("CINPlanEndDate", "end_date"))),
    (
        "Section47",
        "section47",
        (
            ("S47ActualStartDate", "start_date"),
            ("InitialCPCtarget", "icpc_target_date"),
            ("DateOfInitialCPC", "icpc_date"),
            ("ICPCnotRequired", "icpc_not_required"),
        ),
    ),
    (
        "ChildProtectionPlans",
        "cp_plans",
        (
            ("CPPstartDate", "start_date"),
            ("CPPendDate", "end_date"),
            ("InitialCategoryOfAbuse", "initial_category"),
            ("LatestCategoryOfAbuse", "latest_category"),
            ("NumberOfPreviousCPP", "previous_plans"),
        ),
    ),
)


def _cin_details(node: ET.Element, referral: dict, modules: dict[str, dict[str, list[dict]]], reviews) -> None:
    details = ET.SubElement(node, "CINdetails")
    for tag, column in (
        ("CINreferralDate", "referral_date"),
        ("ReferralSource", "referral_source"),
        ("PrimaryNeedCode", "primary_need"),
        ("CINclosureDate", "closure_date"),
        ("ReasonForClosure", "closure_reason"),
        ("ReferralNFA", "referral_nfa"),
    ):
        _text(details, tag, referral[column])
    for element, rows, fields in _MODULES:
        for row in modules[rows][referral["referral_id"]]:
            block = ET.SubElement(details, element)
            for tag, column in fields:
                _text(block, tag, row[column])
            if element == "Assessments" and row["authorised_date"] is not None:
                factors = ET.SubElement(block, "FactorsIdentifiedAtAssessment")
                for code in (row["factors"] or "").split(","):
                    _text(factors, "AssessmentFactors", code or None)
            if element == "ChildProtectionPlans" and reviews[row["cp_plan_id"]]:
                # the DfE's shape: one <Reviews> holding every date (the validator script splits it)
                dates = ET.SubElement(block, "Reviews")
                for r in reviews[row["cp_plan_id"]]:
                    _text(dates, "CPPreviewDate", r["review_date"])


def write_census(duckdb_file: Path, folder: Path, year: int | None = None) -> tuple[Path, dict[str, int]]:
    """Write the census XML into ``folder``; return its path and the rows per mart."""
    year = year or collection_year()
    tree, counts = build_census(duckdb_file, year)
    ET.indent(tree)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE_NAME
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path, counts


def validate_file(path: Path, year: int) -> dict:
    """Run the DfE rules over one census XML: the children each rule names, split into errors and queries by
    the rule's type, the return-level findings and the rules that failed to run."""
    result = run_validator(VALIDATOR_PYTHON, VALIDATOR_SCRIPT, [str(path), str(year)], "CIN census")
    types = result["rule_types"]
    named = {rule: len(children) for rule, children in result["children_by_rule"].items()}
    return {
        **result,
        "errors_by_rule": {r: n for r, n in named.items() if types.get(r) == "ERROR"},
        "queries_by_rule": {r: n for r, n in named.items() if types.get(r) != "ERROR"},
    }


def validate_return(duckdb_file: Path, year: int | None = None) -> dict:
    """Write the census and validate it; adds the rows per mart and the collection year."""
    year = year or collection_year()
    with tempfile.TemporaryDirectory(prefix="caselake-cin-") as tmp:
        path, rows = write_census(duckdb_file, Path(tmp), year)
        result = validate_file(path, year)
    return {**result, "rows": rows, "collection_year": year}
