"""The settlements' panels on the home page (Accounting): settlements to review, journal
batches waiting for *my* approval (four eyes: never the ones I prepared), drift per currency
(never summed across currencies) and lines without a GL account. One to three queries a
panel whatever the books' size; every figure opens the filtered list behind it."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html

from amazonsync.dashboard import Figure, PanelData, register_panel
from amazonsync.money import display as money_display

from . import review
from .admin_cells import drift_badge


def _url(name: str, query: str = "") -> str:
    return reverse(f"admin:settlements_{name}_changelist") + (f"?{query}" if query else "")


@register_panel("settlements_review", title="Settlements to review", audience="accounting",
                permission="settlements.view_settlement", order=10)
def settlements_to_review(request, now) -> PanelData:
    counts = review.settlements_to_review()
    if not counts["total"]:
        return PanelData(empty="Every settlement reconciles and every line has a GL account.")
    figures = [Figure("settlements to review", f"{counts['total']:,}",
                      _url("settlement", "drift=review"), tone="bad",
                      detail="drift or lines without a GL account")]
    if counts["drift"]:
        figures.append(Figure("with drift", f"{counts['drift']:,}",
                              _url("settlement", "drift=yes"), tone="bad"))
    return PanelData(figures=figures, link=_url("settlement", "drift=review"),
                     link_label="Review them")


@register_panel("settlements_approval", title="Journal batches waiting for my approval",
                audience="accounting", permission="settlements.approve_journalbatch",
                order=20)
def batches_for_my_approval(request, now) -> PanelData:
    count, batches = review.batches_awaiting(request.user)
    link = _url("journalbatch", "waiting=me")
    if not count:
        return PanelData(empty="No batch waits for your approval.")
    rows = [
        (format_html('<a href="{}">{}</a>',
                     reverse("admin:settlements_journalbatch_change", args=[b.pk]), b.reference),
         money_display(b.debit_total, b.currency),
         b.ready_by.get_username() if b.ready_by else "—")
        for b in batches
    ]
    return PanelData(
        figures=[Figure("ready for your approval", f"{count:,}", link, tone="warn",
                        detail="prepared by another accountant")],
        headers=("Batch", "Total debit", "Prepared by"), rows=rows, link=link,
        link_label="Approve them",
    )


@register_panel("settlements_drift", title="Drift by currency", audience="accounting",
                permission="settlements.view_settlement", order=30)
def drift_by_currency(request, now) -> PanelData:
    rows = review.drift_by_currency()
    chart = reverse("admin:settlements_settlement_drift_chart")
    if not rows:
        return PanelData(empty="No settlement imported yet.")
    table = [
        (format_html('<a href="{}">{}</a>', _url("settlement", f"currency__exact={r['currency']}"),
                     r["currency"]),
         f"{r['with_drift']:,} of {r['settlements']:,}",
         drift_badge(r["journal"], r["currency"]))
        for r in rows
    ]
    if not any(r["with_drift"] for r in rows):
        return PanelData(empty="No drift: every settlement balances.", link=chart,
                         link_label="Drift charts")
    return PanelData(headers=("Currency", "Settlements with drift", "Journal drift"),
                     rows=table, link=chart, link_label="Drift charts")


@register_panel("settlements_unmapped", title="Lines without a GL account",
                audience="accounting", permission="settlements.view_settlement", order=40)
def unmapped_lines(request, now) -> PanelData:
    counts = review.settlements_to_review()
    if not counts["unmapped_lines"]:
        return PanelData(empty="Every settlement line has a GL account.")
    return PanelData(
        figures=[Figure("lines without a GL account", f"{counts['unmapped_lines']:,}",
                        _url("settlement", "drift=unmapped"), tone="bad",
                        detail=f"in {counts['unmapped']:,} settlements: add GL mapping rules")],
        link=_url("glmapping"), link_label="GL mapping rules",
    )
