"""The ``settlements`` flow: list V2 settlement reports with getReports (they cannot be
requested with createReport), download each new document once, import it through the same
code path as ``manage.py import_report``. Amazon keeps them for 90 days: run at least daily.

The V1 flat-file settlement report (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE) is fetched too
when the setting ``SETTLEMENTS_V1_FALLBACK`` asks for it: ``True`` for every account, or a
list of selling partner ids. Amazon offered V1 to all sellers and V2 to Seller Central
sellers only, and removed V1 on 11 November 2026 (all marketplaces), so it is off by default:
it is for the accounts whose settlements were (or still are) listed as V1 only, e.g.
Amazon.ca archives. With it, a V1 report is imported unless a V2 report of the same
marketplace and period is listed; a settlement imported from both layouts is still one
settlement (the import recognises it). A refused V1 listing is one finance exception, and
the V2 settlements are imported all the same.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.dateparse import parse_datetime

from amazonsync.flatfiles.locale import locale_for
from amazonsync.flatfiles.reading import ReportFormatError
from amazonsync.flows import FlowContext, register_flow
from amazonsync.models import Team
from amazonsync.spapi.errors import InvalidInput, NotFound
from marketplaces.selectors import marketplace_for_code

from .parsers import REPORT_TYPE, V1_REPORT_TYPE
from .selectors import report_documents_imported

LOOKBACK = datetime.timedelta(days=89)
OVERLAP = datetime.timedelta(days=2)


@register_flow("settlements", switch="settlements", per_marketplace=False,
               owner_team=Team.FINANCE, every=360)
def settlements(ctx: FlowContext) -> None:
    """Import new settlement reports (getReports, each document once): V2, and V1 where
    the account asks for it (see the module)."""
    now = ctx.now
    cursor = ctx.cursor()
    since = now - LOOKBACK
    if cursor.position is not None:
        since = max(since, cursor.position - OVERLAP)
    reports = _listed(ctx, REPORT_TYPE, since)
    if v1_fallback(ctx.account):
        reports += _v1_not_in_v2(ctx, reports, since)
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


def v1_fallback(account) -> bool:
    """Whether the flow fetches V1 flat-file settlements for ``account`` (the setting
    ``SETTLEMENTS_V1_FALLBACK``: a bool, or the selling partner ids it applies to)."""
    option = getattr(settings, "SETTLEMENTS_V1_FALLBACK", False)
    if isinstance(option, bool):
        return option
    return account.selling_partner_id in set(option or ())


def _listed(ctx: FlowContext, report_type: str, since: datetime.datetime) -> list[dict]:
    return list(
        ctx.client.get_reports(
            reportTypes=report_type, processingStatuses="DONE",
            createdSince=since.isoformat().replace("+00:00", "Z"), pageSize=100,
        )
    )


def _period(report: dict) -> tuple:
    return (tuple(sorted(report.get("marketplaceIds") or ())),
            report.get("dataStartTime"), report.get("dataEndTime"))


def _v1_not_in_v2(ctx: FlowContext, v2: list[dict], since: datetime.datetime) -> list[dict]:
    """The V1 settlement reports whose marketplace and period no V2 report covers."""
    try:
        v1 = _listed(ctx, V1_REPORT_TYPE, since)
    except (InvalidInput, NotFound) as exc:
        ctx.exception(
            object_kind="settlement_report_type", reason_code="v1_unavailable",
            object_key=f"{ctx.account.selling_partner_id}/{V1_REPORT_TYPE}",
            message=(f"Amazon did not list the V1 flat-file settlement reports ({exc}); the "
                     "V2 ones were imported. Amazon removed V1 on 11 November 2026: turn "
                     "SETTLEMENTS_V1_FALLBACK off for this account."),
            owner_team=Team.FINANCE,
        )
        return []
    ctx.resolve(object_kind="settlement_report_type",
                object_key=f"{ctx.account.selling_partner_id}/{V1_REPORT_TYPE}")
    covered = {_period(r) for r in v2}
    return [r for r in v1 if _period(r) not in covered]


def _report_marketplace(report: dict):
    """The one marketplace a report is listed for (its ``marketplaceIds``), else None."""
    ids = report.get("marketplaceIds") or ()
    found = locale_for(ids[0]) if len(ids) == 1 else None
    return marketplace_for_code(found.code) if found is not None else None


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
                marketplace=_report_marketplace(report),
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
