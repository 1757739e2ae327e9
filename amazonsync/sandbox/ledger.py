"""The world's money: ledger postings, and the settlements that group them every 14 days.

What Amazon pays and charges for the generated orders (shipments, refunds) and for the
account (storage and subscription fees, FBA reimbursements), as ``Posting`` rows:
``listFinancialEvents`` pages through them by time, and each settlement report lists the
postings of one marketplace and one 14-day period. Functions of their inputs only (random
draws come from the ``rng`` the world passes in); ``World`` builds and caches the results.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from .money import ZERO, quantize
from .shapes import (
    DAY,
    MARKETPLACES,
    LedgerLine,
    Marketplace,
    Order,
    OrderItem,
    Posting,
    Product,
    Settlement,
)

SETTLEMENT_DAYS = 14
# Settlement periods are counted from the world start: the last one before the start closed
# this long before it (its report exists a day later).
SETTLEMENT_CLOSE_BEFORE_START = 10 * DAY
_REIMBURSEMENT_REASONS = ("WAREHOUSE_DAMAGE", "WAREHOUSE_LOST", "REVERSAL_REIMBURSEMENT",
                          "CUSTOMER_RETURN")


def _digest(*parts: object) -> int:
    text = "/".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def _day_of_month(ts: int) -> int:
    return datetime.fromtimestamp(ts, UTC).day


def commission(item: OrderItem, mp: Marketplace) -> Decimal:
    """Amazon's referral fee: 15 % of the item price, at least 0.30 USD (converted)."""
    fee = quantize(item.item_price * Decimal("0.15"), mp.currency)
    return max(fee, quantize(Decimal("0.30") * mp.fx, mp.currency))


# ---------------------------------------------------------------------------- orders


def order_postings(order: Order) -> list[Posting]:
    """One ``Order`` posting per shipment, then one ``Refund`` posting per returned item."""
    return [*_shipment_postings(order), *_refund_postings(order)]


def _shipment_postings(order: Order) -> list[Posting]:
    by_shipment: dict[tuple[int, str], list[OrderItem]] = {}
    for item in order.items:
        if item.ship_time is not None:
            by_shipment.setdefault((item.ship_time, item.shipment_id or ""), []).append(item)
    out = []
    for (when, shipment_id), items in sorted(by_shipment.items()):
        lines = [line for item in items for line in _shipped_item_lines(order, item)]
        out.append(Posting(when, order.mp, "Order", lines, order=order,
                           shipment_id=shipment_id, key=f"{order.id}/{shipment_id}"))
    return out


def _shipped_item_lines(order: Order, item: OrderItem) -> list[LedgerLine]:
    """Charges, promotion, withheld tax and fees of one shipped item, in settlement order."""
    mp = order.mp
    sku, code = item.product.sku, item.id
    lines = [LedgerLine("ItemPrice", "Principal", item.item_price, code, sku,
                        str(item.quantity)),
             LedgerLine("ItemPrice", "Tax", item.item_tax, code, sku)]
    if item.shipping_price:
        lines.append(LedgerLine("ItemPrice", "Shipping", item.shipping_price, code, sku))
        lines.append(LedgerLine("ItemPrice", "ShippingTax", item.shipping_tax, code, sku))
    if item.promotion:
        lines.append(LedgerLine("Promotion", "Principal", -item.promotion, code, sku,
                                promotion_id=item.promotion_id or ""))
    if mp.facilitator_tax:
        withheld = item.item_tax - item.promotion_tax
        lines.append(LedgerLine("ItemWithheldTax", "MarketplaceFacilitatorTax-Principal",
                                -withheld, code, sku))
        if item.shipping_tax:
            lines.append(LedgerLine("ItemWithheldTax", "MarketplaceFacilitatorTax-Shipping",
                                    -item.shipping_tax, code, sku))
    elif item.promotion_tax:
        lines.append(LedgerLine("Promotion", "Tax", -item.promotion_tax, code, sku,
                                promotion_id=item.promotion_id or ""))
    lines.append(LedgerLine("ItemFees", "Commission", -commission(item, mp), code, sku))
    if order.channel == "AFN":
        fee = item.product.fba_fee(mp) * item.quantity
        lines.append(LedgerLine("ItemFees", "FBAPerUnitFulfillmentFee", -fee, code, sku))
    return lines


def _refund_postings(order: Order) -> list[Posting]:
    mp, cur = order.mp, order.currency
    out = []
    for item in order.items:
        ret = item.ret
        if ret is None:
            continue
        ratio = Decimal(ret.quantity) / item.quantity
        principal = quantize(item.item_price * ratio, cur)
        tax = quantize(item.item_tax * ratio, cur)
        refunded_fee = quantize(commission(item, mp) * ratio, cur)
        admin = min(quantize(refunded_fee * Decimal("0.20"), cur),
                    quantize(Decimal(5) * mp.fx, cur))
        code, sku = item.id, item.product.sku
        lines = [
            LedgerLine("ItemPrice", "Principal", -principal, code, sku, str(ret.quantity)),
            LedgerLine("ItemPrice", "Tax", -tax, code, sku),
            LedgerLine("ItemFees", "Commission", refunded_fee, code, sku),
            LedgerLine("ItemFees", "RefundCommission", -admin, code, sku),
        ]
        if mp.facilitator_tax:
            lines.append(LedgerLine("ItemWithheldTax", "MarketplaceFacilitatorTax-Principal",
                                    tax, code, sku))
        out.append(Posting(ret.refund_time, mp, "Refund", lines, order=order,
                           adjustment_id=f"amzn1:crow:{ret.rma}",
                           key=f"{order.id}/refund/{item.id}"))
    return out


# ---------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class SettlementCalendar:
    """Settlement periods of ``SETTLEMENT_DAYS`` days; period 0 starts at ``anchor``."""

    anchor: int

    def period(self, ts: int) -> int:
        return (ts - self.anchor) // (SETTLEMENT_DAYS * DAY)

    def bounds(self, period: int) -> tuple[int, int]:
        start = self.anchor + period * SETTLEMENT_DAYS * DAY
        return start, start + SETTLEMENT_DAYS * DAY

    def periods(self, start: int, end: int) -> range:
        """Every period holding an instant of ``[start, end]``."""
        return range(self.period(start), self.period(end) + 1)


# ---------------------------------------------------------------------------- the account


def account_postings(
    calendar: SettlementCalendar,
    periods: Iterable[int],
    fba_by_mp: dict[str, list[Product]],
    *,
    seed: int,
    rng: Callable[..., random.Random],
) -> list[Posting]:
    """Per period and marketplace: a storage fee, the monthly subscription fee (in the
    period holding the 1st), and zero to two FBA inventory reimbursements.

    ``rng(*parts)`` is the world's seeded generator for ``("account", period, mp code)``.
    """
    out = []
    for period in periods:
        start, _ = calendar.bounds(period)
        for mp in MARKETPLACES.values():
            draw = rng("account", period, mp.code)
            cur = mp.currency
            storage = quantize(Decimal(draw.randrange(2000, 9000)) / 100 * mp.fx, cur)
            out.append(Posting(start + 7 * DAY, mp, "Storage Fee", [
                LedgerLine("other-transaction", "Storage Fee", -storage)],
                key=f"storage/{period}/{mp.code}"))
            if any(_day_of_month(start + d * DAY) == 1 for d in range(SETTLEMENT_DAYS)):
                fee = quantize(Decimal("39.99") * mp.fx, cur)
                out.append(Posting(start + DAY, mp, "Subscription Fee", [
                    LedgerLine("other-transaction", "Subscription Fee", -fee)],
                    key=f"subscription/{period}/{mp.code}"))
            products = fba_by_mp.get(mp.code) or []
            for n in range(draw.randrange(0, 3) if products else 0):
                product = draw.choice(products)
                qty = draw.randint(1, 3)
                amount = quantize(product.price(mp) * Decimal("0.6") * qty, cur)
                reason = draw.choice(_REIMBURSEMENT_REASONS)
                out.append(Posting(
                    start + draw.randrange(DAY, (SETTLEMENT_DAYS - 1) * DAY), mp,
                    "other-transaction",
                    [LedgerLine("FBA Inventory Reimbursement", reason, amount, "",
                                product.sku, str(qty))],
                    adjustment_id=f"{_digest(seed, period, mp.code, n) % 10**10:010d}",
                    key=f"reimb/{period}/{mp.code}/{n}"))
    return out


# ---------------------------------------------------------------------------- settlements


def reserve(postings: Iterable[Posting], mp: Marketplace) -> Decimal:
    """The reserve Amazon holds back: 3 % of the period's order principal."""
    sales = sum(
        (line.amount for p in postings if p.transaction_type == "Order" for line in p.lines
         if line.amount_type == "ItemPrice" and line.description == "Principal"),
        ZERO,
    )
    return quantize(sales * Decimal("0.03"), mp.currency)


def make_settlement(
    calendar: SettlementCalendar,
    mp: Marketplace,
    period: int,
    postings_by_period: dict[tuple[str, int], list[Posting]],
    *,
    seed: int,
) -> Settlement:
    """The settlement of ``mp`` for ``period``; ``postings_by_period`` keyed (mp code, period)."""
    start, end = calendar.bounds(period)
    return Settlement(
        id=str(10_000_000_000 + _digest(seed, "settlement", mp.code, period) % 90_000_000_000),
        mp=mp, period=period, start=start, end=end, deposit=end + 3 * DAY,
        postings=postings_by_period.get((mp.code, period), []),
        reserve_previous=reserve(postings_by_period.get((mp.code, period - 1), []), mp),
        reserve_current=reserve(postings_by_period.get((mp.code, period), []), mp),
    )
