"""The returns panel of the home page, for accounting: what Amazon may owe (open
reimbursement candidates per currency, the largest ones) and refunds that found no return,
each linking to its filtered list. Three queries, whatever the number of rows."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.html import format_html

from amazonsync.dashboard import Figure, PanelData, register_panel
from amazonsync.money import display as money_display
from marketplaces.reference import marketplace_label

from . import selectors
from .models import RefundOutcome, ReimbursementCandidate


def _list(name: str, **filters) -> str:
    url = reverse(f"admin:returns_{name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


@register_panel("returns_money", title="Reimbursements and refunds", audience="accounting",
                permission="returns.view_creditmemo", order=60)
def returns_money(request, now) -> PanelData:
    open_status = ReimbursementCandidate.Status.OPEN
    figures = []
    for row in selectors.candidates_at_stake():
        count = row["count"]
        oldest = row["oldest_days"]
        figures.append(Figure(
            label=f"At stake in {row['currency'] or 'no currency'}",
            value=money_display(row["amount"], row["currency"]),
            link=_list("reimbursementcandidate", status__exact=open_status,
                       currency__exact=row["currency"]),
            tone="warn",
            detail=f"{count} open candidate{'s' if count != 1 else ''}"
            + (f", oldest {oldest} days" if oldest is not None else ""),
        ))
    outcomes = selectors.refund_outcome_counts()
    for outcome, label, tone in (
        (RefundOutcome.REFUNDED_NOT_RETURNED, "Refunded, not returned in 45 days", "bad"),
        (RefundOutcome.RETURNED_NOT_REFUNDED, "Returned, not refunded", "warn"),
    ):
        count = outcomes.get(outcome, 0)
        if count:
            figures.append(Figure(label=label, value=f"{count:,}", tone=tone,
                                  link=_list("refundmatch", outcome__exact=outcome)))
    rows = [
        (format_html(
            '<a href="{}" style="white-space:nowrap">{}</a><br><small>{} · {}</small>',
            reverse("admin:returns_reimbursementcandidate_change", args=[candidate.pk]),
            candidate.order_id,
            marketplace_label(candidate.marketplace_id) if candidate.marketplace_id else "—",
            candidate.get_kind_display()),
         format_html('<span class="as-money">{}</span>',
                     money_display(candidate.amount_at_stake, candidate.currency)))
        for candidate in selectors.candidates_largest(limit=5)
    ]
    return PanelData(
        figures=figures,
        headers=("Largest open candidates", "At stake") if rows else (),
        rows=rows,
        empty="Nothing to claim from Amazon, and every refund found its return.",
        link=_list("reimbursementcandidate", status__exact=open_status),
        link_label="All open reimbursement candidates",
    )
