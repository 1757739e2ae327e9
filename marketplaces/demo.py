"""Demo step: check both demo accounts, which fills the run history and the queue."""

from __future__ import annotations

from amazonsync.services import flow_run
from marketplaces.models import SellerAccount


def load(ctx) -> None:
    if not ctx.sync:
        return
    for account in SellerAccount.objects.filter(
        pk__in=[ctx.account.pk, ctx.extra["legacy_account"].pk]
    ).order_by("pk"):
        run = flow_run(flow="account_check", account_id=account.pk)
        ctx.log(f"account_check {account.selling_partner_id}: {run.status}")
