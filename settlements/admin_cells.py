"""What the accountants' screens show in a cell: money as money (the currency's places,
thousands separators, sign, the ISO code), drift as a badge ("Balanced" in green, "Drift
0.02 USD" in red, "Not checked" in grey), batch states as coloured badges, and Amazon codes
with their plain-language description. Pure formatting: no query, no rule."""

from __future__ import annotations

import threading
from decimal import Decimal

from django.utils.html import format_html

from amazonsync.money import display as money_display
from marketplaces.selectors import terms

from .models import JournalBatch, Settlement

STATUS_COLOURS = {
    JournalBatch.Status.DRAFT: "grey",
    JournalBatch.Status.READY: "amber",
    JournalBatch.Status.APPROVED: "green",
    JournalBatch.Status.EXPORTED: "blue",
}


def badge(text: str, colour: str, title: str = ""):
    if title:
        return format_html('<span class="as-badge as-badge-{}" title="{}">{}</span>',
                           colour, title, text)
    return format_html('<span class="as-badge as-badge-{}">{}</span>', colour, text)


def money_cell(amount: Decimal | None, currency: str):
    """A money cell: ``-1,234.50 USD`` with tabular digits, a negative amount in red."""
    if amount is None:
        return format_html('<span class="as-muted">{}</span>', "—")
    css = "as-money as-money-neg" if amount < 0 else "as-money"
    return format_html('<span class="{}">{}</span>', css, money_display(amount, currency))


def drift_badge(value: Decimal | None, currency: str, *, unchecked: str = "Not checked"):
    """One drift figure: green "Balanced" at zero, red "Drift 0.02 USD" otherwise."""
    if value is None:
        return badge(unchecked, "grey")
    if value:
        return badge(f"Drift {money_display(value, currency)}", "red")
    return badge("Balanced", "green")


def settlement_drift(settlement: Settlement) -> Decimal:
    """The settlement's drift worth naming first: the journal's (what is left unexplained on
    Amazon clearing), then Amazon's own (total against its lines), deposit, reserve."""
    for value in (settlement.journal_drift, settlement.internal_drift,
                  settlement.deposit_drift, settlement.reserve_drift):
        if value:
            return value
    return Decimal(0)


def settlement_state(settlement: Settlement):
    """The settlement's badge: "Balanced", "Drift 0.02 USD", or "12 lines unmapped"."""
    drift = settlement_drift(settlement)
    if drift:
        return drift_badge(drift, settlement.currency)
    if settlement.unmapped_lines:
        return badge(f"{settlement.unmapped_lines:,} lines without a GL account", "amber")
    if settlement.has_drift:  # figures not reconciled again yet
        return badge("Needs review", "amber")
    return badge("Balanced", "green")


def status_badge(batch: JournalBatch):
    return badge(batch.get_status_display(), STATUS_COLOURS.get(batch.status, "grey"))


def term_cell(code: str, *kinds: dict):
    """An Amazon code with its label after it (and its description on hover) from the first
    of ``kinds`` (``{code: AmazonTerm}``, as ``marketplaces.selectors.terms`` gives) that
    knows it; the code alone when none does."""
    if not code:
        return format_html('<span class="as-muted">{}</span>', "—")
    term = next((known[code] for known in kinds if code in known), None)
    if term is None:
        return code
    label = term.label or ""
    description = term.description or ""
    if label and label.lower() != code.lower():
        return format_html('{} <span class="as-muted" title="{}">· {}</span>', code,
                           description, label)
    if description:
        return format_html('<span title="{}">{}</span>', description, code)
    return code


# The Amazon terms of the settlement codes, read once per list page (one query per kind)
# and kept for this thread's request only.
_page = threading.local()
SETTLEMENT_TERM_KINDS = ("transaction_type", "amount_type", "fee_type")


def page_terms_load() -> None:
    _page.terms = {kind: terms(kind) for kind in SETTLEMENT_TERM_KINDS}


def settlement_term(field: str, code: str):
    """A settlement code (transaction type, amount type or amount description) in words."""
    known = getattr(_page, "terms", None) or {}
    kinds = {
        "transaction_type": ("transaction_type",),
        "amount_type": ("amount_type",),
        "amount_description": ("fee_type", "amount_type"),
    }[field]
    return term_cell(code, *(known.get(kind, {}) for kind in kinds))

