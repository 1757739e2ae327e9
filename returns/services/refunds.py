"""Refund matching: settlement refund lines paired with returns per (order, SKU) in one
``RefundMatch`` each, and the outcome acted on.

Outcomes: refunded and returned; refunded and the return not due yet; refunded but not
returned after 45 days (FBA: a reimbursement candidate, MFN: a follow-up in the ops queue);
returned but not refunded. Candidates are opened and closed by ``reimbursements``, credit
memos kept by ``credit_memos``. Running it twice changes nothing the second time."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from amazonsync.models import Team
from amazonsync.money import display
from amazonsync.services import exception_record, exception_resolve
from catalog.models import Listing
from marketplaces.models import Marketplace, SellerAccount

from ..models import RefundMatch, RefundOutcome, ReturnEvent
from .common import FLOW, MFN_FOLLOW_UP, ZERO, line_time
from .credit_memos import credit_memos_sync
from .imports import returns_link_orders
from .reimbursements import candidates_apply, reimbursements_apply

NOT_RETURNED_AFTER = datetime.timedelta(days=45)


@dataclass
class MatchCounts:
    matches: int = 0
    changed: int = 0
    credit_memos: int = 0
    candidates_opened: int = 0
    candidates_closed: int = 0
    candidates_dismissed: int = 0
    follow_ups: int = 0


@dataclass
class _Refund:
    amount: Decimal = ZERO  # principal refunded, positive
    quantity: int = 0
    currency: str = ""
    first: datetime.datetime | None = None
    marketplace_id: str | None = None
    channel: str = ""
    line_ids: list[int] = field(default_factory=list)


def _refund_lines(account: SellerAccount, marketplace: Marketplace | None):
    from settlements.models import SettlementLine

    qs = SettlementLine.objects.filter(settlement__account=account,
                                       transaction_type__iexact="Refund").exclude(order_id="")
    if marketplace is not None:
        qs = qs.filter(Q(settlement__marketplace=marketplace)
                       | Q(settlement__marketplace__isnull=True))
    return qs.select_related("settlement").order_by("pk")


def _is_principal(line) -> bool:
    return (line.amount_type.lower() == "itemprice"
            and line.amount_description.lower() == "principal")


def _refunds(account: SellerAccount, marketplace: Marketplace | None
             ) -> tuple[dict[tuple[str, str], _Refund], dict[tuple[str, str], list]]:
    """Refunds per (order, SKU), and refund lines per (order, order item or SKU) for the
    credit memos."""
    refunds: dict[tuple[str, str], _Refund] = defaultdict(_Refund)
    memo_lines: dict[tuple[str, str], list] = defaultdict(list)
    for line in _refund_lines(account, marketplace):
        sku = line.sku or ""
        memo_lines[(line.order_id, line.order_item_code or sku)].append(line)
        if not sku:
            continue
        refund = refunds[(line.order_id, sku)]
        refund.line_ids.append(line.pk)
        refund.currency = refund.currency or line.settlement.currency
        refund.marketplace_id = refund.marketplace_id or line.settlement.marketplace_id
        if not refund.channel and line.fulfillment_id:
            refund.channel = "FBA" if line.fulfillment_id.upper() in ("AFN", "AMAZON") \
                else "MFN"
        when = line_time(line)
        if when is not None and (refund.first is None or when < refund.first):
            refund.first = when
        if _is_principal(line):
            refund.amount -= line.amount
            refund.quantity += line.quantity_purchased or 0
    return refunds, memo_lines


def _returned(account: SellerAccount, marketplace: Marketplace | None
              ) -> dict[tuple[str, str], list[ReturnEvent]]:
    """Returns per (order, SKU), oldest first (linked to their orders first)."""
    returns_qs = ReturnEvent.objects.filter(account=account)
    if marketplace is not None:
        returns_qs = returns_qs.filter(marketplace=marketplace)
    returns_link_orders(returns=returns_qs.filter(linked_order__isnull=True))
    returned: dict[tuple[str, str], list[ReturnEvent]] = defaultdict(list)
    for event in returns_qs.order_by("return_date", "pk"):
        returned[(event.order_id, event.seller_sku)].append(event)
    return returned


def refunds_match(
    *,
    account: SellerAccount,
    marketplace: Marketplace | None = None,
    now: datetime.datetime | None = None,
    run=None,
) -> MatchCounts:
    """Match settlement refund lines with returns per (order, SKU), and act on the outcome.

    Outcomes: refunded and returned; refunded but not returned after 45 days (FBA: a
    reimbursement candidate, MFN: a follow-up in the ops queue); returned but not refunded.
    FBA returns unsellable by Amazon's fault become reimbursement candidates too.
    Reimbursement lines in later settlements close candidates. Credit memos are kept one
    per refunded order line. Running it twice changes nothing the second time.
    """
    now = now or timezone.now()
    counts = MatchCounts()
    refunds, memo_lines = _refunds(account, marketplace)
    returned = _returned(account, marketplace)
    existing = {
        (m.order_id, m.seller_sku): m
        for m in RefundMatch.objects.filter(account=account).filter(
            Q(order_id__in={k[0] for k in refunds} | {k[0] for k in returned})
        )
    }
    with transaction.atomic():
        for key in sorted(set(refunds) | set(returned)):
            match, changed = _match_upsert(
                account=account, key=key, refund=refunds.get(key), events=returned.get(key, []),
                existing=existing.get(key), now=now,
            )
            counts.matches += 1
            counts.changed += changed
            _act_on(match=match, events=returned.get(key, []), counts=counts, run=run)
        counts.credit_memos = credit_memos_sync(account=account, memo_lines=memo_lines,
                                                run=run)
        counts.candidates_closed = reimbursements_apply(account=account)
    return counts


def _outcome(refund: _Refund | None, returned_qty: int, refunded_qty: int, now) -> str:
    if refund is None:
        return RefundOutcome.RETURNED_NOT_REFUNDED
    if returned_qty >= refunded_qty:
        return RefundOutcome.REFUNDED_RETURNED
    if refund.first is not None and now - refund.first >= NOT_RETURNED_AFTER:
        return RefundOutcome.REFUNDED_NOT_RETURNED
    return RefundOutcome.AWAITING_RETURN


def _match_values(*, account, sku: str, refund: _Refund | None, events: list[ReturnEvent],
                  now) -> dict:
    """The fields of the (order, SKU)'s match as its refunds and returns give them."""
    returned_qty = sum(e.quantity for e in events)
    channel = events[0].channel if events else (refund.channel if refund else "")
    if not channel:
        channel = (Listing.objects.filter(account=account, seller_sku=sku)
                   .values_list("channel", flat=True).first() or "")
    refunded_qty = (refund.quantity or 1) if refund else 0
    outcome = _outcome(refund, returned_qty, refunded_qty, now)
    return {
        "marketplace_id": events[0].marketplace_id if events else refund.marketplace_id,
        "channel": channel,
        "refunded_amount": refund.amount if refund else ZERO,
        "currency": (refund.currency if refund else "") or (events[0].currency if events
                                                            else ""),
        "refunded_quantity": refunded_qty,
        "refunded_at": refund.first if refund else None,
        "returned_quantity": returned_qty,
        "returned_at": events[0].return_date if events else None,
        "outcome": outcome,
        "follow_up": outcome == RefundOutcome.REFUNDED_NOT_RETURNED and channel == "MFN",
    }


def _match_upsert(*, account, key, refund: _Refund | None, events: list[ReturnEvent],
                  existing: RefundMatch | None, now) -> tuple[RefundMatch, bool]:
    order_id, sku = key
    values = _match_values(account=account, sku=sku, refund=refund, events=events, now=now)
    line_ids = sorted(refund.line_ids) if refund else []
    if existing is None:
        match = RefundMatch.objects.create(account=account, order_id=order_id,
                                           seller_sku=sku, matched_at=now, **values)
        if line_ids:
            match.refund_lines.set(line_ids)
        changed = True
    else:
        match = existing
        dirty = [k for k, v in values.items() if getattr(match, k) != v]
        if dirty:
            for k in dirty:
                setattr(match, k, values[k])
            match.matched_at = now
            match.save(update_fields=[*dirty, "matched_at"])
        stored = sorted(match.refund_lines.values_list("pk", flat=True))
        if stored != line_ids:
            match.refund_lines.set(line_ids)
            dirty.append("refund_lines")
        changed = bool(dirty)
    stale = [e.pk for e in events if e.refund_match_id != match.pk]
    if stale:
        ReturnEvent.objects.filter(pk__in=stale).update(refund_match=match)
    return match, changed


def _act_on(*, match: RefundMatch, events: list[ReturnEvent], counts: MatchCounts,
            run) -> None:
    """Reimbursement candidates for FBA; for MFN refunded and not returned after 45 days,
    a follow-up in the ops queue (resolved once the return arrives)."""
    opened, dismissed = candidates_apply(match=match, events=events)
    counts.candidates_opened += opened
    counts.candidates_dismissed += dismissed
    key = f"{match.account.selling_partner_id}/{match.order_id}/{match.seller_sku}"
    if not match.follow_up:
        exception_resolve(flow=FLOW, object_kind="refund_match", object_key=key,
                          reason_code=MFN_FOLLOW_UP,
                          note="resolved: the return arrived (or it was not MFN)")
        return
    exception_record(
        flow=FLOW, account=match.account, marketplace=match.marketplace,
        object_kind="refund_match", object_key=key, reason_code=MFN_FOLLOW_UP,
        owner_team=Team.OPS, run=run,
        message=f"Order {match.order_id} ({match.seller_sku}) was refunded "
        f"{display(match.refunded_amount, match.currency)} on "
        f"{match.refunded_at:%Y-%m-%d} and nothing came back in 45 days: follow up "
        "with the buyer (or file a SAFE-T claim).",
        payload={"match_id": match.pk, "order_id": match.order_id,
                 "seller_sku": match.seller_sku},
    )
    counts.follow_ups += 1
