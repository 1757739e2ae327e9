"""The ``settlements`` flow: list V2 settlement reports with getReports (they cannot be
requested with createReport), download each new document once, import it through the same
code path as ``manage.py import_report``. Amazon keeps them for 90 days: run at least daily.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from django.db import transaction
from django.utils.dateparse import parse_datetime

from amazonsync.flatfiles.reading import ReportFormatError
from amazonsync.flows import FlowContext, register_flow
from amazonsync.models import Team

from .parsers import REPORT_TYPE
from .selectors import report_documents_imported

LOOKBACK = datetime.timedelta(days=89)
OVERLAP = datetime.timedelta(days=2)


@register_flow("settlements", switch="settlements", per_marketplace=False,
               owner_team=Team.FINANCE, every=360)
def settlements(ctx: FlowContext) -> None:
    """Import new V2 settlement reports (getReports, each document once)."""
    now = ctx.now
    cursor = ctx.cursor()
    since = now - LOOKBACK
    if cursor.position is not None:
        since = max(since, cursor.position - OVERLAP)
    client = ctx.client
    reports = list(
        client.get_reports(
            reportTypes=REPORT_TYPE, processingStatuses="DONE",
            createdSince=since.isoformat().replace("+00:00", "Z"), pageSize=100,
        )
    )
    reports.sort(key=lambda r: (r.get("createdTime") or "", r.get("reportId") or ""))
    ctx.count(fetched=len(reports))
    done = report_documents_imported(
        account=ctx.account, document_ids=[r.get("reportDocumentId") for r in reports]
    )
    newest = cursor.position
    for report in reports:
        document_id = report.get("reportDocumentId")
        created_time = parse_datetime(report.get("createdTime") or "")
        if not document_id:
            continue
        if document_id in done:
            ctx.count(unchanged=1)
        else:
            _import_one(ctx, report, document_id, created_time)
        if created_time and (newest is None or created_time > newest):
            newest = created_time
    if newest is not None:
        with transaction.atomic():
            ctx.advance_cursor(position=newest)


def _import_one(ctx, report, document_id, created_time) -> None:
    from .services import settlement_import, settlement_report_document_record

    client = ctx.client
    document = client.get_report_document(document_id)
    path: Path = client.download_document(document)
    key = f"{ctx.account.selling_partner_id}/{document_id}"
    try:
        try:
            result = settlement_import(
                account=ctx.account, source=path, name=f"report {report.get('reportId')}",
                report_document_id=document_id, run=ctx.run,
            )
        except ReportFormatError as exc:
            ctx.exception(
                object_kind="settlement_report", object_key=key, reason_code="bad_report",
                message=f"Settlement report {report.get('reportId')} cannot be read: {exc}",
                owner_team=Team.FINANCE,
                payload={"report": report},
            )
            return
    finally:
        path.unlink(missing_ok=True)
    settlement_report_document_record(
        account=ctx.account, report_document_id=document_id,
        report_id=str(report.get("reportId") or ""), created_time=created_time, result=result,
    )
    ctx.resolve(object_kind="settlement_report", object_key=key)
    if result.conflict:
        ctx.count(failed=1)
    elif result.created:
        ctx.count(created=1)
    else:
        ctx.count(unchanged=1)
