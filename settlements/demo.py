"""Demo step: import the sandbox's settlement reports and prepare one journal batch.

The settlements flow lists the V2 settlement reports, imports each document once and
builds the period journal batches. The newest Canadian settlement is then read again from
its V1 flat file (the layout Amazon.ca archives are in) through the same import: it must be
recognised as the settlement its V2 file stored, not counted twice. The demo accountant then
marks the newest fully mapped batch ready, so the demo controller has one to review and
approve (four eyes).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from amazonsync.services import flow_run

from .models import JournalBatch, Settlement
from .parsers import V1_REPORT_TYPE
from .services import SettlementError, journal_batch_mark_ready, settlement_import


def load(ctx) -> None:
    if ctx.sync:
        run = flow_run(flow="settlements", account_id=ctx.account.pk)
        ctx.log(f"settlements: {run.status} — {run.created} imported, {run.unchanged} "
                f"already there, {run.api_calls} API calls")
    settlements = Settlement.objects.filter(account=ctx.account)
    if ctx.sync and not settlements.exists():
        ctx.problem("no settlement loaded from the sandbox")
    ctx.log(f"settlements: {settlements.count()} stored, "
            f"{settlements.filter(has_drift=True).count()} with drift")
    if ctx.sync:
        _v1_layout(ctx)
    preparer = get_user_model().objects.filter(username="accountant").first()
    if preparer is None:
        return
    if JournalBatch.objects.filter(
        settlement__account=ctx.account, status=JournalBatch.Status.READY
    ).exists():
        return
    candidates = JournalBatch.objects.filter(
        settlement__account=ctx.account, status=JournalBatch.Status.DRAFT, unmapped_lines=0,
    ).order_by("-entry_date", "-pk")
    for batch in candidates[:5]:
        try:
            journal_batch_mark_ready(batch=batch, user=preparer)
        except SettlementError as err:
            ctx.log(f"could not prepare {batch.reference}: {err}")
            continue
        ctx.log(f"journal batch {batch.reference} marked ready by {preparer.username}; "
                "log in as controller to approve it")
        return


def _v1_layout(ctx) -> None:
    """The newest Canadian V1 flat-file settlement report, imported: the same settlement as
    its V2 file (unchanged), or a new one; a conflict is a problem of the demo."""
    from amazonsync.clients import spapi_client
    from marketplaces.models import Marketplace, SellerAccount

    canada = Marketplace.objects.filter(code="CA").first()
    if canada is None:
        return
    client = spapi_client(SellerAccount.objects.get(pk=ctx.account.pk))  # as pointed now
    reports = list(client.get_reports(reportTypes=V1_REPORT_TYPE, marketplaceIds=canada.pk,
                                      processingStatuses="DONE", pageSize=10))
    if not reports:
        ctx.problem("no V1 flat-file settlement report listed for Amazon.ca")
        return
    newest = max(reports, key=lambda r: (r.get("createdTime") or "", r.get("reportId") or ""))
    path = client.download_document(client.get_report_document(newest["reportDocumentId"]))
    try:
        result = settlement_import(account=ctx.account, source=path,
                                   name=f"report {newest.get('reportId')} (V1 flat file)")
    finally:
        path.unlink(missing_ok=True)
    if result.conflict:
        ctx.problem(f"V1 flat file of settlement {result.settlement.settlement_id}: "
                    f"{result.message}")
        return
    outcome = ("imported" if result.created
               else "recognised as the settlement its V2 file stored")
    ctx.log(f"settlements: V1 flat file of Amazon.ca settlement "
            f"{result.settlement.settlement_id} {outcome}")
