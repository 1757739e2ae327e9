"""Home page panel of the seller accounts: secrets about to expire, accounts Amazon refused."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html

from amazonsync.dashboard import Figure, PanelData, register_panel

from .models import SellerAccount
from .selectors import EXPIRED, EXPIRING, secret_expiry


def _account_link(account: SellerAccount) -> str:
    url = reverse("admin:marketplaces_selleraccount_change", args=[account.pk])
    return format_html('<a href="{}">{}</a>', url, account.name)


@register_panel("seller_accounts", title="Seller accounts needing attention",
                audience="everyone", permission="marketplaces.view_selleraccount", order=10)
def seller_accounts_panel(request, now) -> PanelData:
    """Active accounts whose LWA client secret expired or expires soon, or that Amazon wants
    authorised again: one row per account, linking to it (one query)."""
    rows = []
    expired = expiring = reauth = 0
    for account in SellerAccount.objects.filter(active=True).order_by("name"):
        problems = []
        state, days = secret_expiry(account) or (None, None)
        if state == EXPIRED:
            expired += 1
            problems.append(format_html(
                '<span class="as-badge as-badge-red">secret expired {} days ago</span>', -days))
        elif state == EXPIRING:
            expiring += 1
            problems.append(format_html(
                '<span class="as-badge as-badge-amber">secret expires in {} days</span>', days))
        if account.needs_reauthorization:
            reauth += 1
            problems.append(format_html(
                '<span class="as-badge as-badge-red">must be authorised again</span>'))
        if problems:
            rows.append((_account_link(account), format_html(" ".join(["{}"] * len(problems)),
                                                             *problems)))
    changelist = reverse("admin:marketplaces_selleraccount_changelist")
    figures = []
    if expired:
        figures.append(Figure(label="secrets expired", value=str(expired), tone="bad",
                              link=changelist, detail="flows refuse to run"))
    if expiring:
        figures.append(Figure(label="secrets expiring", value=str(expiring), tone="warn",
                              link=changelist, detail="rotate them in the developer console"))
    if reauth:
        figures.append(Figure(label="to authorise again", value=str(reauth), tone="bad",
                              link=f"{changelist}?needs_reauthorization__exact=1"))
    return PanelData(figures=figures, headers=("account", "what to do") if rows else (),
                     rows=rows, empty="Every account's credentials are in order.",
                     link=changelist, link_label="All seller accounts")
