"""Account-level flows."""

from __future__ import annotations

from amazonsync.flows import FlowContext, register_flow
from amazonsync.models import Team

from .models import AccountMarketplace


@register_flow("account_check", per_marketplace=False, owner_team=Team.OPS,
               every=1440)
def account_check(ctx: FlowContext) -> None:
    """Check the account's credentials and that it sells where we think it sells."""
    participations = ctx.client.get_marketplace_participations()
    ctx.count(fetched=len(participations))
    active = {
        p["marketplace"]["id"]
        for p in participations
        if p.get("participation", {}).get("isParticipating")
    }
    links = AccountMarketplace.objects.filter(account=ctx.account).select_related("marketplace")
    for link in links:
        key = f"{ctx.account.selling_partner_id}/{link.marketplace.code}"
        if link.marketplace_id in active:
            ctx.resolve(object_kind="account_marketplace", object_key=key)
            ctx.count(unchanged=1)
        else:
            ctx.exception(
                object_kind="account_marketplace",
                object_key=key,
                reason_code="not_participating",
                message=(
                    f"Amazon says {ctx.account.name} does not sell in "
                    f"{link.marketplace.name}; switch its flows off or fix the account."
                ),
                payload={"participations": participations},
            )
