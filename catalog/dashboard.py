"""The catalog's panels on the home page (Ops): unmapped SKUs per marketplace, FBA inbound
shipments closed with a difference, and pushes Amazon did not apply. One or two queries a
panel whatever the catalog's size; every figure opens the filtered list behind it."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html

from amazonsync.dashboard import Figure, PanelData, register_panel
from marketplaces.reference import marketplace_label

from . import selectors

TOP_MARKETPLACES = 6


def _url(name: str, query: str = "") -> str:
    return reverse(f"admin:catalog_{name}_changelist") + (f"?{query}" if query else "")


@register_panel("catalog_unmapped", title="Unmapped SKUs", audience="ops",
                permission="catalog.view_listing", order=30)
def unmapped_skus(request, now) -> PanelData:
    rows = selectors.unmapped_per_marketplace()
    total = sum(n for _, n in rows)
    if not total:
        return PanelData(empty="Every listing is mapped to an item.")
    table = [
        (format_html('<a href="{}">{}</a>',
                     _url("listing", f"mapped=no&marketplace__id__exact={mid}"),
                     marketplace_label(mid)), n)
        for mid, n in rows[:TOP_MARKETPLACES]
    ]
    return PanelData(
        figures=[Figure("listings without an item", f"{total:,}", _url("listing", "mapped=no"),
                        tone="bad", detail="their orders wait until they are mapped")],
        headers=("Marketplace", "Unmapped"), rows=table,
        link=_url("listing", "mapped=no"), link_label="Map them",
    )


@register_panel("catalog_inbound", title="FBA inbound discrepancies", audience="ops",
                permission="catalog.view_inboundshipment", order=40)
def inbound_discrepancies(request, now) -> PanelData:
    count = selectors.inbound_with_discrepancy().count()
    if not count:
        return PanelData(empty="Every closed inbound shipment was received as shipped.")
    return PanelData(figures=[Figure(
        "closed shipments received ≠ shipped", f"{count:,}",
        _url("inboundshipment", "discrepancy=yes"), tone="warn",
        detail="check the boxes; open a case in Seller Central for lost units")])


@register_panel("catalog_pushes", title="Stock and price pushes failing", audience="ops",
                permission="catalog.view_pushfeed", order=50)
def pushes_failing(request, now) -> PanelData:
    count = selectors.pushes_failing(since=now - selectors.RECENT_PUSHES).count()
    if not count:
        return PanelData(empty="Amazon applied every push of the last 7 days.")
    return PanelData(figures=[Figure(
        "pushes failed or refused listings (7 days)", f"{count:,}",
        _url("pushfeed", "outcome=failing_recent"), tone="bad",
        detail="the exception queue names each refused listing")])
