"""Demo step: returns from the live sandbox for every marketplace of the demo account, then
refund matching against the settlements loaded before (settlements run earlier in
DEMO_APPS)."""

from __future__ import annotations

from amazonsync.services import flow_run
from marketplaces.models import AccountMarketplace

from .models import ReimbursementCandidate, ReturnEvent
from .services import disposition_rules_ensure, refunds_match


def load(ctx) -> None:
    created = disposition_rules_ensure()
    if created:
        ctx.log(f"returns: {created} default disposition rules")
    if not ctx.sync:
        return
    links = (AccountMarketplace.objects.filter(account=ctx.account, returns=True)
             .select_related("marketplace").order_by("marketplace__code"))
    # the demo loader runs flows on a simulated clock: report polling costs no real time
    for link in links:
        run = flow_run(flow="returns", account_id=ctx.account.pk,
                       marketplace_id=link.marketplace_id)
        ctx.log(f"returns {link.marketplace.code}: {run.status} (created {run.created}, "
                f"updated {run.updated}, unchanged {run.unchanged}, failed {run.failed})")
    counts = refunds_match(account=ctx.account)
    returns = ReturnEvent.objects.filter(account=ctx.account).count()
    open_candidates = ReimbursementCandidate.objects.filter(
        account=ctx.account, status=ReimbursementCandidate.Status.OPEN).count()
    ctx.log(f"returns: {returns} returns, {counts.matches} refund matches, "
            f"{open_candidates} open reimbursement candidates, {counts.follow_ups} MFN "
            "follow-ups")
