"""The orders panel on the home page (Ops): MFN orders we still have to ship whose ship-by
time has passed or comes within 24 hours. One query; each figure opens the orders list
filtered the same way."""

from __future__ import annotations

from django.urls import reverse

from amazonsync.dashboard import Figure, PanelData, register_panel

from . import selectors


def _orders_url(window: str) -> str:
    return f"{reverse('admin:orders_order_changelist')}?ship_by={window}"


@register_panel("orders_ship_by", title="MFN orders to ship", audience="ops",
                permission="orders.view_order", order=20)
def ship_by(request, now) -> PanelData:
    counts = selectors.ship_by_counts(now=now)
    overdue, soon = counts[selectors.OVERDUE], counts[selectors.DUE_SOON]
    if not overdue and not soon:
        return PanelData(empty="No MFN order is due within 24 hours.")
    return PanelData(figures=[
        Figure("overdue: past their ship-by time", f"{overdue:,}",
               _orders_url(selectors.OVERDUE), tone="bad" if overdue else "ok"),
        Figure("due within 24 hours", f"{soon:,}", _orders_url(selectors.DUE_SOON),
               tone="warn" if soon else "ok"),
    ])
