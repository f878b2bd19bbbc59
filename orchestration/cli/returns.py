"""``caselake returns``: the statutory returns built from the lake's marts, as the DfE takes them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from orchestration.cli.common import fail, read_settings

returns_app = typer.Typer(help="Statutory returns from the lake's marts.", no_args_is_help=True)


@returns_app.command("cin")
def cin_census(
    out: Annotated[Path, typer.Option(help="Folder to write cin_census.xml into.")],
    validate: Annotated[bool, typer.Option(help="Run the DfE's CIN census rules over it (needs .venv-cin).")] = True,
) -> None:
    """Write the Children in Need census for the year the marts are built for (``vars.cin_year``) as the DfE's
    XML, from the cin_census_* marts that ``caselake load`` builds; then check it with the DfE's rules and print
    the errors and queries by rule. Exits 1 when the rules report an error."""
    from lake.returns import cin

    settings = read_settings()
    try:
        path, rows = cin.write_census(settings.duckdb_path(), out)
    except Exception as exc:  # no warehouse yet, or built before the census marts existed
        fail(f"could not build the census from {settings.duckdb_path()}: {exc}")
    console = Console()
    console.print(
        f"Wrote {path}: {rows['cin_census_children']:,} children, {rows['cin_census_cin_details']:,} referrals"
    )
    if not validate:
        return
    result = cin.validate_file(path, cin.collection_year())
    console.print(f"DfE rules ({result['ruleset']}, {result['rules_in_ruleset']} rules):")
    for label, found in (("errors", result["errors_by_rule"]), ("queries", result["queries_by_rule"])):
        shown = ", ".join(f"{rule} ({n} {'child' if n == 1 else 'children'})" for rule, n in found.items()) or "none"
        console.print(f"  {label}: {shown}")
    console.print(f"  return-level: {', '.join(result['return_level_rules']) or 'none'}")
    if result["errors_by_rule"] or result["rules_failed_to_run"]:
        raise typer.Exit(1)
