"""``caselake audit``: the audit journal of every read of case data, verified and exported to the lake."""

from __future__ import annotations

import typer

from orchestration.cli.common import console, read_settings

audit_app = typer.Typer(help="The audit log of every read of case data.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit journal's hash chain: any changed, removed or inserted row, or a cut-off end, fails."""
    from app.audit import AuditLog

    settings = read_settings()
    path = settings.audit_db()
    report = AuditLog(path).verify(settings.lake())
    for problem in report.problems:
        console.print(f"[red]tampered:[/red] {problem}")
    if not report.ok:
        raise typer.Exit(1)
    console.print(f"audit log intact: {report.rows} rows, chain, anchor and exported copy verified ({path})")


@audit_app.command("export")
def audit_export() -> None:
    """Append the journal's new rows to the ops/audit_log Delta table (for auditors, dbt, and as a copy
    ``audit verify`` compares the journal with)."""
    from app.audit import AuditLog

    settings = read_settings()
    added = AuditLog(settings.audit_db()).export(settings.lake())
    console.print(f"exported {added} audit rows to {settings.lake().uri('ops', 'audit_log')}")
