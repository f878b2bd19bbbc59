"""The audit log's copy in the lake: the query service's journal (``app/audit.py``) appended to the Delta
table ``ops/audit_log`` on a schedule, for auditors and dbt, and as the copy ``caselake audit verify``
compares the journal with. A thin wrapper: the work is in ``AuditLog.export`` and ``AuditLog.verify``."""

import dagster as dg

from app.audit import EXPORT_TABLE, AuditLog
from assets.metering import metered
from assets.resources import LakehouseResource
from lake.storage.delta import OPS

AUDIT_KEY = dg.AssetKey([OPS, EXPORT_TABLE])


@dg.asset(
    key=AUDIT_KEY,
    group_name="ops",
    kinds={"delta", "sqlite"},
    description="Every call of the query service (login, search with its text, filters and returned ids, open, "
    "download, timeline, network, denials), appended from the hash-chained audit journal.",
    check_specs=[
        dg.AssetCheckSpec(
            "journal_intact",
            asset=AUDIT_KEY,
            description="The journal's hash chain and anchor hold, and every exported row is in the journal "
            "unchanged: nothing was changed, removed or inserted.",
        )
    ],
)
@metered
def audit_log(context: dg.AssetExecutionContext, lakehouse: LakehouseResource):
    settings = lakehouse.settings()
    journal = AuditLog(settings.audit_db())
    exported = journal.export(settings.lake())
    report = journal.verify(settings.lake())
    context.log.info(f"audit rows exported: {exported}")  # counts only: queries are personal data
    yield dg.MaterializeResult(metadata={"rows_exported": exported, "journal_rows": report.rows})
    yield dg.AssetCheckResult(
        check_name="journal_intact",
        passed=report.ok,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"problems": len(report.problems), "first_problem": report.problems[0] if report.problems else ""},
    )


defs = dg.Definitions(assets=[audit_log])
