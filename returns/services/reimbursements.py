"""Reimbursement candidates: what may be claimed from Amazon, opened and closed.

A refunded FBA unit that did not come back in 45 days, and an FBA return that came back
unsellable by Amazon's fault, each open a candidate (once: keyed on the match or the return)
with the amount at stake; a refund that was returned after all dismisses its open
candidate. Reimbursement lines of later settlements close candidates (by SKU, and by order
when the line names one), a line paying at most its quantity of units."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from amazonsync.money import quantize
from catalog.models import Listing
from marketplaces.models import Marketplace, SellerAccount

from ..models import Channel, RefundMatch, RefundOutcome, ReimbursementCandidate, ReturnEvent
from .common import line_time
from .dispositions import amazon_fault

# Settlement lines that pay the seller back for lost, damaged or unreturned FBA units.
REIMBURSEMENT_TYPES = ("fba inventory reimbursement",)
REIMBURSEMENT_DESCRIPTIONS = (
    "reversal_reimbursement", "warehouse_damage", "warehouse_lost", "customer_return",
    "customerreturn", "customer_return_reimbursement", "carrier_damage",
    "inbound_carrier_damage", "free_replacement_refund_items", "compensated_clawback",
)
# Which reimbursement reasons fit which candidate kind best (others still close them).
PREFERRED = {
    ReimbursementCandidate.Kind.REFUNDED_NOT_RETURNED: ("customer_return", "customerreturn",
                                                        "reversal_reimbursement",
                                                        "customer_return_reimbursement"),
    ReimbursementCandidate.Kind.AMAZON_DAMAGED: ("warehouse_damage", "carrier_damage",
                                                 "inbound_carrier_damage", "warehouse_lost"),
}

Kind = ReimbursementCandidate.Kind
Status = ReimbursementCandidate.Status


def _unit_value(match: RefundMatch | None) -> Decimal | None:
    if match is None or not match.refunded_amount or not match.refunded_quantity:
        return None
    return match.refunded_amount / match.refunded_quantity


def _at_stake(amount: Decimal | None, currency: str) -> Decimal | None:
    """The amount at stake in its currency's places (unknown without a value or currency)."""
    if amount is None or not currency:
        return None
    return quantize(amount, currency)


def candidates_apply(*, match: RefundMatch, events: list[ReturnEvent]) -> tuple[int, int]:
    """Open (or dismiss) the candidates a refund match and its returns call for, inside the
    caller's transaction; returns (opened, dismissed)."""
    opened = dismissed = 0
    not_returned = match.outcome == RefundOutcome.REFUNDED_NOT_RETURNED
    # Refunded, never came back: FBA -> claim from Amazon (MFN: refunds' follow-up).
    if not_returned and match.channel == Channel.FBA:
        opened += _not_returned_open(match)
    elif not not_returned:
        dismissed += ReimbursementCandidate.objects.filter(
            match=match, status=Status.OPEN, kind=Kind.REFUNDED_NOT_RETURNED,
        ).update(status=Status.DISMISSED, closed_at=timezone.now())
    # Returned unsellable by Amazon's fault: claim each such FBA return.
    for event in events:
        if event.channel == Channel.FBA and amazon_fault(event):
            opened += _damaged_open(match, event)
    return opened, dismissed


def _not_returned_open(match: RefundMatch) -> int:
    missing = max(1, match.refunded_quantity - match.returned_quantity)
    unit = _unit_value(match)
    _, made = ReimbursementCandidate.objects.get_or_create(
        match=match,
        defaults={
            "account_id": match.account_id, "marketplace_id": match.marketplace_id,
            "kind": Kind.REFUNDED_NOT_RETURNED, "order_id": match.order_id,
            "seller_sku": match.seller_sku, "quantity": missing,
            "amount_at_stake": _at_stake(unit * missing if unit is not None else None,
                                         match.currency),
            "currency": match.currency, "opened_at": match.refunded_at,
        },
    )
    return int(made)


def _damaged_open(match: RefundMatch, event: ReturnEvent) -> int:
    unit = _unit_value(match)
    if unit is None and event.listing_id:
        listing = Listing.objects.filter(pk=event.listing_id).only("price", "currency").first()
        if listing is not None and listing.price is not None:
            unit = listing.price
    currency = match.currency or event.currency
    if not currency and event.marketplace_id:
        currency = Marketplace.objects.get(pk=event.marketplace_id).currency
    _, made = ReimbursementCandidate.objects.get_or_create(
        return_event=event,
        defaults={
            "account_id": event.account_id, "marketplace_id": event.marketplace_id,
            "kind": Kind.AMAZON_DAMAGED, "order_id": event.order_id,
            "seller_sku": event.seller_sku, "quantity": event.quantity,
            "amount_at_stake": _at_stake(unit * event.quantity if unit is not None else None,
                                         currency),
            "currency": currency,
            "opened_at": event.return_date,
        },
    )
    return int(made)


def _is_reimbursement(line) -> bool:
    if line.amount <= 0:
        return False
    kinds = (line.transaction_type.lower(), line.amount_type.lower())
    return (any(k in REIMBURSEMENT_TYPES for k in kinds)
            or line.amount_description.lower() in REIMBURSEMENT_DESCRIPTIONS)


def reimbursements_apply(*, account: SellerAccount) -> int:
    """Close open candidates with reimbursement lines of later settlements (by SKU, and by
    order when the line names one). A line pays at most its quantity of units."""
    from settlements.models import SettlementLine

    open_candidates = list(
        ReimbursementCandidate.objects.filter(account=account, status=Status.OPEN)
        .order_by("opened_at", "pk")
    )
    if not open_candidates:
        return 0
    skus = {c.seller_sku for c in open_candidates}
    lines = [
        line for line in SettlementLine.objects.filter(
            settlement__account=account, sku__in=skus, amount__gt=0,
        ).select_related("settlement").order_by("settlement__end_date", "pk")
        if _is_reimbursement(line)
    ]
    if not lines:
        return 0
    used: dict[int, int] = defaultdict(int)
    for row in (ReimbursementCandidate.objects.filter(reimbursement_line__in=lines)
                .values("reimbursement_line", "quantity")):
        used[row["reimbursement_line"]] += row["quantity"]
    closed = 0
    with transaction.atomic():
        for cand in open_candidates:
            line = _pick_line(cand, lines, used)
            if line is None:
                continue
            capacity = line.quantity_purchased or cand.quantity
            used[line.pk] += cand.quantity
            share = (line.amount * cand.quantity / capacity
                     if capacity > cand.quantity else line.amount)
            ReimbursementCandidate.objects.filter(pk=cand.pk, status=Status.OPEN).update(
                status=Status.REIMBURSED, reimbursement_line=line,
                reimbursed_amount=quantize(share, line.settlement.currency),
                closed_at=line_time(line) or line.settlement.end_date,
            )
            closed += 1
    return closed


def _pick_line(cand: ReimbursementCandidate, lines: list, used: dict[int, int]):
    preferred = PREFERRED.get(cand.kind, ())
    best = None
    best_rank = None
    for line in lines:
        if line.sku != cand.seller_sku:
            continue
        if line.order_id and line.order_id != cand.order_id:
            continue
        if line.settlement.end_date < cand.opened_at:
            continue  # only later settlements pay for it
        capacity = line.quantity_purchased or cand.quantity
        if used[line.pk] + cand.quantity > capacity:
            continue
        rank = (0 if line.order_id == cand.order_id else 1,
                0 if line.amount_description.lower() in preferred else 1)
        if best_rank is None or rank < best_rank:
            best, best_rank = line, rank
    return best


def candidate_dismiss(*, candidate: ReimbursementCandidate, user=None) -> bool:
    """Ops decided there is nothing to claim. False when the candidate was not open any more
    (reimbursed or dismissed already): nothing changes then."""
    return bool(ReimbursementCandidate.objects.filter(pk=candidate.pk, status=Status.OPEN)
                .update(status=Status.DISMISSED, closed_at=timezone.now()))
