"""Demo step: import the sandbox's settlement reports and prepare one journal batch.

The settlements flow lists the V2 settlement reports, imports each document once and
builds the period journal batches. The demo accountant then marks the newest fully mapped
batch ready, so the demo controller has one to review and approve (four eyes).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from amazonsync.services import flow_run

from .models import JournalBatch, Settlement
from .services import SettlementError, journal_batch_mark_ready


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
