"""Cells the returns screens share: Amazon codes with their words, states as badges,
marketplaces by name, money per currency.

An Amazon code (return reason, disposition) is shown as its label, the plain-language
description on hover, and the code itself underneath for people who search Seller Central
with it. The terms are read once per page (``page_terms``: one query per kind, whatever the
number of rows) and list columns that need them are built per request
(``ReturnTermCells``)."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html
from unfold.decorators import display

from amazonsync.money import display as money_display
from marketplaces.models import AmazonTerm, TermKind
from marketplaces.reference import marketplace_label
from marketplaces.selectors import terms

from .defaults import AMAZON_FAULT
from .models import RefundOutcome, ReimbursementCandidate

# The returns screens' own styles (every returns admin declares it as its media).
CSS = {"all": ("returns/admin.css",)}

# badge colours (the project's css badges: as-badge-green, ...)
OUTCOME_COLOURS = {
    RefundOutcome.REFUNDED_RETURNED: "green",
    RefundOutcome.AWAITING_RETURN: "blue",
    RefundOutcome.REFUNDED_NOT_RETURNED: "red",
    RefundOutcome.RETURNED_NOT_REFUNDED: "amber",
}
CANDIDATE_COLOURS = {
    ReimbursementCandidate.Status.OPEN: "amber",
    ReimbursementCandidate.Status.REIMBURSED: "green",
    ReimbursementCandidate.Status.DISMISSED: "grey",
}


def badge(colour: str, text: str):
    """A coloured state badge, the same on lists and on detail pages."""
    return format_html('<span class="as-badge as-badge-{}">{}</span>', colour, text)


def day(value) -> str:
    """A date or date-time as the day people read it (``2026-10-13``), or a dash."""
    if value is None:
        return "—"
    if hasattr(value, "tzinfo"):
        value = timezone.localdate(value)
    return value.isoformat()


class PageTerms:
    """Amazon terms for one page: each kind read once (one query) when first shown."""

    def __init__(self) -> None:
        self._by_kind: dict[str, dict[str, AmazonTerm]] = {}

    def __call__(self, kind: str) -> dict[str, AmazonTerm]:
        if kind not in self._by_kind:
            self._by_kind[kind] = terms(kind)
        return self._by_kind[kind]


def page_terms(request) -> PageTerms:
    """The request's terms (one ``PageTerms`` per request)."""
    found = getattr(request, "_returns_terms", None)
    if found is None:
        found = request._returns_terms = PageTerms()
    return found


def term_html(kind_terms: dict[str, AmazonTerm], code: str, *, empty: str = "—",
              badge: str = ""):
    """A code as its label (description on hover) with the code underneath; a code with no
    term shows as itself. ``badge``: a css badge colour for the label."""
    if not code:
        return format_html('<span class="as-term-none">{}</span>', empty)
    term = kind_terms.get(code)
    label = term.label if term is not None else code
    title = term.description if term is not None else "Not in the Amazon terms table yet."
    css = f"as-badge as-badge-{badge}" if badge else "as-term-label"
    return format_html('<span class="as-term" title="{}"><span class="{}">{}</span>'
                       '<span class="as-term-code">{}</span></span>', title, css, label, code)


def disposition_colour(code: str) -> str:
    """Badge colour of a disposition: sellable green, Amazon's fault (claimable) blue,
    the seller's loss red."""
    if not code:
        return "grey"
    if code == "SELLABLE":
        return "green"
    return "blue" if code in AMAZON_FAULT else "red"


def disposition_html(kind_terms, code: str, *, inspected: bool = False):
    cell = term_html(kind_terms, code, empty="not inspected yet",
                     badge=disposition_colour(code))
    if inspected:
        return format_html('{}<span class="as-term-code">found on inspection</span>', cell)
    return cell


class ReturnTermCells:
    """List columns showing a return's reason and disposition with their words, for one
    request (the terms are read once for the whole page)."""

    def __init__(self, request) -> None:
        self.terms = page_terms(request)

    @display(description="reason", ordering="reason")
    def reason(self, obj):
        return term_html(self.terms(TermKind.RETURN_REASON), obj.reason,
                         empty="no reason given")

    @display(description="disposition", ordering="disposition")
    def disposition(self, obj):
        return disposition_html(self.terms(TermKind.DISPOSITION), obj.effective_disposition,
                                inspected=bool(obj.graded_disposition))


class RuleTermCells:
    """The disposition and reason of a disposition rule with their words ("any" when
    empty), for one request."""

    def __init__(self, request) -> None:
        self.terms = page_terms(request)

    @display(description="disposition", ordering="disposition")
    def disposition(self, obj):
        return term_html(self.terms(TermKind.DISPOSITION), obj.disposition,
                         badge=disposition_colour(obj.disposition))

    @display(description="return reason", ordering="reason")
    def reason(self, obj):
        return term_html(self.terms(TermKind.RETURN_REASON), obj.reason, empty="any reason")


SHORT_CHANNELS = {"FBA": "FBA", "MFN": "Merchant fulfilled"}


def marketplace_cell(obj, *, channel: bool = False):
    """``Amazon.com (US)`` from the row's marketplace id (no query); with ``channel``, the
    channel (FBA or merchant fulfilled) under it."""
    name = marketplace_label(obj.marketplace_id) if obj.marketplace_id else "—"
    if not channel:
        return name
    return two_lines(name, SHORT_CHANNELS.get(obj.channel, obj.channel))


def money_cell(amount, currency: str):
    """An amount with its currency's places and code; negative in red."""
    if amount is None:
        return "—"
    shown = money_display(amount, currency)
    css = "as-money as-money-neg" if amount < 0 else "as-money"
    return format_html('<span class="{}">{}</span>', css, shown)


def two_lines(first, second=""):
    """A cell of two lines that do not wrap: the value, and a smaller one under it."""
    return format_html('<span class="as-two-lines"><span>{}</span>'
                       '<span class="as-term-code">{}</span></span>', first, second)


def order_and_sku(obj):
    """Order id over SKU."""
    return two_lines(obj.order_id, f"SKU {obj.seller_sku}" if obj.seller_sku else "")


def currency_totals(rows) -> list[dict]:
    """``[{"currency", "count", "amount", "shown"}]`` from per-currency aggregates: money
    shown per currency, never added across currencies."""
    return [{**row, "shown": money_display(row["amount"], row["currency"])} for row in rows]


def back_to(request, url: str):
    """After a dialog button: back to the object's page (htmx asks for the redirect)."""
    if request.headers.get("HX-Request"):
        response = HttpResponse("")
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)
