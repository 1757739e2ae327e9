"""django-q2 entry points: ids in, services called. The returns flow itself runs through
``amazonsync.tasks.run_flow`` like every flow."""

from __future__ import annotations

from django_q.models import Schedule

from amazonsync.registry import register_housekeeping


def match_refunds(account_id: int, marketplace_id: str | None = None) -> dict:
    """Re-run refund matching (the 45-day clock moves even when no report brings rows)."""
    from marketplaces.models import Marketplace, SellerAccount

    from .services import refunds_match

    account = SellerAccount.objects.get(pk=account_id)
    marketplace = Marketplace.objects.get(pk=marketplace_id) if marketplace_id else None
    counts = refunds_match(account=account, marketplace=marketplace)
    return {"matches": counts.matches, "changed": counts.changed,
            "candidates_opened": counts.candidates_opened,
            "candidates_closed": counts.candidates_closed, "follow_ups": counts.follow_ups}


@register_housekeeping("refund matching", schedule_type=Schedule.DAILY)
def match_refunds_all() -> int:
    """Daily: refund matching for every active account, so returns cross the 45-day line
    even on days without new reports."""
    from marketplaces.models import SellerAccount

    accounts = list(SellerAccount.objects.filter(active=True).values_list("pk", flat=True))
    for account_id in accounts:
        match_refunds(account_id)
    return len(accounts)
