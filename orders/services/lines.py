"""Order lines: upserted with their order, linked to listings, holding merchant stock.

Lines are keyed on (order, order item id) — or (order, seller SKU) for lines from the
all-orders report, which has no order item id. A line of an unmapped SKU is stored,
flagged and queued as a waiting-on-mapping exception; mapping the listing relinks it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction

from amazonsync.models import SyncException, Team
from amazonsync.services import exception_record, exception_resolve, register_retry
from catalog.models import Listing
from catalog.services import (
    MERCHANT,
    WAITING_ON_MAPPING,
    listing_discover,
    listing_key,
    stock_adjust,
)

from ..models import OPEN_STATUSES, FulfillmentChannel, Order, OrderLine, SalesChannel
from ..parsers import LineData
from .plans import OrderPlan, UpsertCounts
from .reasons import ORDERS_FLOW, line_exception_key

_LINE_FIELDS = ("asin", "title", "quantity_ordered", "quantity_shipped", "cancelled",
                "currency", "item_price", "item_tax", "shipping_price", "shipping_tax",
                "shipping_discount", "promotion_discount", "promotion_discount_tax",
                "promotion_ids")

StockDeltas = dict[int, dict[str, int]]  # item id -> {"reserved": units, "on_hand": units}


def _stock_deltas() -> StockDeltas:
    return defaultdict(lambda: defaultdict(int))


@dataclass
class _LineWork:
    """What the lines of one batch need written, gathered order by order."""

    listings: dict[tuple[str, str], tuple[int, int | None]]  # (mp, sku) -> (listing, item)
    to_create: list[OrderLine] = field(default_factory=list)
    to_update: dict[int, OrderLine] = field(default_factory=dict)
    update_fields: set[str] = field(default_factory=set)
    waiting: list[tuple[Order, OrderLine]] = field(default_factory=list)
    mapped_now: list[tuple[Order, OrderLine]] = field(default_factory=list)
    deltas: StockDeltas = field(default_factory=_stock_deltas)

    def update(self, line: OrderLine, fields: set[str]) -> None:
        self.update_fields |= fields
        self.to_update[line.pk] = line


def match_line(existing: list[OrderLine], incoming: LineData) -> OrderLine | None:
    if incoming.order_item_id:
        for line in existing:
            if line.order_item_id == incoming.order_item_id:
                return line
        for line in existing:  # a line from the report, before we knew its id
            if not line.order_item_id and line.seller_sku == incoming.seller_sku:
                return line
        return None
    for line in existing:
        if line.seller_sku == incoming.seller_sku:
            return line
    return None


def lines_apply(*, account, plans: list[OrderPlan], flow, run, counts: UpsertCounts) -> None:
    """Upsert the lines of the planned orders, link them to listings, keep reservations."""
    old_by_order: dict[int, list[OrderLine]] = defaultdict(list)
    existing_ids = [p.order.pk for p in plans if not p.new]
    if existing_ids:
        for line in OrderLine.objects.filter(order_id__in=existing_ids):
            old_by_order[line.order_id].append(line)
    work = _LineWork(listings=_listings_for(account=account, plans=plans,
                                            old_by_order=old_by_order))
    for plan in plans:
        lines = list(old_by_order.get(plan.order.pk, ()))
        old_shipped = {id(line): line.quantity_shipped for line in lines}
        _lines_merge(plan=plan, lines=lines, old_shipped=old_shipped, work=work)
        for line in lines:
            _line_link(account=account, plan=plan, line=line,
                       old_shipped=old_shipped[id(line)], work=work)
    if work.to_create:
        OrderLine.objects.bulk_create(work.to_create, batch_size=500)
    if work.to_update:
        OrderLine.objects.bulk_update(list(work.to_update.values()),
                                      sorted(work.update_fields), batch_size=500)
    stock_adjust(pool=MERCHANT, deltas=work.deltas, reason="order")
    _mapping_exceptions(account=account, work=work, flow=flow, run=run, counts=counts)


def _listings_for(*, account, plans: list[OrderPlan], old_by_order
                  ) -> dict[tuple[str, str], tuple[int, int | None]]:
    """Listings for every SKU involved, one query (discovery of unknown SKUs comes later)."""
    wanted = {(p.order.marketplace_id, ld.seller_sku) for p in plans for ld in p.data.lines or ()}
    wanted |= {(p.order.marketplace_id, line.seller_sku) for p in plans
               for line in old_by_order.get(p.order.pk, ())}
    listings: dict[tuple[str, str], tuple[int, int | None]] = {}
    if wanted:
        for pk, mp, sku, item in Listing.objects.filter(
            account=account, marketplace_id__in={mp for mp, _ in wanted},
            seller_sku__in={sku for _, sku in wanted},
        ).values_list("pk", "marketplace_id", "seller_sku", "item_id"):
            listings[(mp, sku)] = (pk, item)
    return listings


def _lines_merge(*, plan: OrderPlan, lines: list[OrderLine], old_shipped: dict[int, int],
                 work: _LineWork) -> None:
    """The incoming lines of the order matched to the stored ones: new lines added to
    ``lines``, changed ones updated in place."""
    order = plan.order
    for incoming in plan.data.lines or ():
        line = match_line(lines, incoming)
        values = dict(incoming.values)
        values.setdefault("currency", order.currency)
        if line is None:
            line = OrderLine(order=order, seller_sku=incoming.seller_sku,
                             order_item_id=incoming.order_item_id, raw=incoming.raw,
                             **{k: v for k, v in values.items() if k in _LINE_FIELDS})
            lines.append(line)
            old_shipped[id(line)] = 0
            work.to_create.append(line)
            plan.lines_changed = True
            continue
        changed = {k for k, v in values.items()
                   if k in _LINE_FIELDS and getattr(line, k) != v}
        for name in changed:
            setattr(line, name, values[name])
        if incoming.order_item_id and line.order_item_id != incoming.order_item_id:
            line.order_item_id = incoming.order_item_id
            changed.add("order_item_id")
        if changed:
            if line.raw != incoming.raw:
                line.raw = incoming.raw
                changed.add("raw")
            work.update(line, changed)
            plan.lines_changed = True


def _line_link(*, account, plan: OrderPlan, line: OrderLine, old_shipped: int,
               work: _LineWork) -> None:
    """Link one line to its listing (discovered if unknown), flag it unmapped or not, and
    bring its stock reservation to what the order needs now."""
    order = plan.order
    key = (order.marketplace_id, line.seller_sku)
    if key not in work.listings:
        listing = listing_discover(
            account=account, marketplace=order.marketplace, seller_sku=line.seller_sku,
            source="order", asin=line.asin,
            channel="FBA" if order.fulfillment_channel == FulfillmentChannel.AFN else "MFN",
        )
        work.listings[key] = (listing.pk, listing.item_id)
    listing_id, item_id = work.listings[key]
    link_changed = set()
    if line.listing_id != listing_id:
        line.listing_id = listing_id
        link_changed.add("listing")
    unmapped = item_id is None
    if line.unmapped != unmapped or line.pk is None:
        if unmapped and (line.pk is None or not line.unmapped):
            work.waiting.append((order, line))
        elif not unmapped and line.pk is not None and line.unmapped:
            work.mapped_now.append((order, line))
        if line.unmapped != unmapped:
            line.unmapped = unmapped
            link_changed.add("unmapped")
    link_changed |= _reserve(order=order, line=line, item_id=item_id, old_shipped=old_shipped,
                             deltas=work.deltas)
    if link_changed and line.pk is not None:
        work.update(line, link_changed)
        if link_changed - {"reserved_quantity", "stock_item"}:
            plan.lines_changed = True


def _mapping_exceptions(*, account, work: _LineWork, flow, run, counts: UpsertCounts) -> None:
    """Lines newly unmapped wait on their mapping; lines mapped meanwhile stop waiting."""
    for order, line in work.waiting:
        counts.exceptions += 1
        exception_record(
            flow=flow, object_kind="order_line",
            object_key=line_exception_key(order.amazon_order_id, line.seller_sku),
            reason_code=WAITING_ON_MAPPING, owner_team=Team.MERCH, account=account,
            marketplace=order.marketplace,
            message=f"Order {order.amazon_order_id}: seller SKU {line.seller_sku} is not "
            "mapped to an item; the line is stored and holds no stock until it is mapped.",
            payload={
                "listing_key": listing_key(account=account, marketplace=order.marketplace,
                                           seller_sku=line.seller_sku),
                "amazon_order_id": order.amazon_order_id, "seller_sku": line.seller_sku,
            },
            run=run,
        )
    for order, line in work.mapped_now:
        _mapping_resolve(flow=flow, order=order, line=line)


def _mapping_resolve(*, flow: str, order: Order, line: OrderLine) -> None:
    exception_resolve(
        flow=flow, object_kind="order_line",
        object_key=line_exception_key(order.amazon_order_id, line.seller_sku),
        reason_code=WAITING_ON_MAPPING, note="resolved: the SKU is mapped now",
    )


def _reserve(*, order: Order, line: OrderLine, item_id: int | None, old_shipped: int,
             deltas: StockDeltas) -> set[str]:
    """Bring the line's merchant-stock reservation to what the order needs now.

    MFN lines of open Amazon orders hold their unshipped quantity of the mapped item (none
    once the item is cancelled); FBA lines, multi-channel (MCF) orders included, never hold
    merchant stock. Units shipped while reserved leave the stock (on hand goes
    down with the reservation); a cancellation only releases.
    """
    holds = (order.fulfillment_channel == FulfillmentChannel.MFN
             and order.sales_channel == SalesChannel.AMAZON
             and order.status in OPEN_STATUSES and item_id is not None)
    target = line.quantity_unshipped if holds else 0
    target_item = item_id if target else None
    old_item, old_reserved = line.stock_item_id, line.reserved_quantity
    if old_item == target_item or (old_item is not None and target_item is None
                                   and old_item == item_id):
        if old_item is not None:
            shipped_now = max(0, line.quantity_shipped - old_shipped)
            consumed = min(old_reserved, shipped_now)
            deltas[old_item]["reserved"] += target - old_reserved
            deltas[old_item]["on_hand"] -= consumed
    else:
        if old_item is not None and old_reserved:
            deltas[old_item]["reserved"] -= old_reserved
        if target_item is not None:
            deltas[target_item]["reserved"] += target
    changed = set()
    if line.reserved_quantity != target:
        line.reserved_quantity = target
        changed.add("reserved_quantity")
    if line.stock_item_id != target_item:
        line.stock_item_id = target_item
        changed.add("stock_item")
    return changed


def order_lines_relink(*, order: Order, seller_sku: str | None = None, flow: str = ORDERS_FLOW
                       ) -> int:
    """Link the lines of an order to their listings again (after a mapping), resolving their
    waiting-on-mapping exceptions and reserving stock. Returns the lines still unmapped."""
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("marketplace").get(pk=order.pk)
        lines = list(order.lines.all())
        if seller_sku is not None:
            lines = [line for line in lines if line.seller_sku == seller_sku]
        listings = {sku: (pk, item) for pk, sku, item in Listing.objects.filter(
            account_id=order.account_id, marketplace_id=order.marketplace_id,
            seller_sku__in=[line.seller_sku for line in lines],
        ).values_list("pk", "seller_sku", "item_id")}
        deltas = _stock_deltas()
        still = 0
        for line in lines:
            listing_id, item_id = listings.get(line.seller_sku, (None, None))
            line.listing_id = listing_id
            was_unmapped = line.unmapped
            line.unmapped = item_id is None
            _reserve(order=order, line=line, item_id=item_id,
                     old_shipped=line.quantity_shipped, deltas=deltas)
            line.save(update_fields=["listing", "unmapped", "reserved_quantity", "stock_item"])
            if line.unmapped:
                still += 1
            elif was_unmapped:
                _mapping_resolve(flow=flow, order=order, line=line)
        stock_adjust(pool=MERCHANT, deltas=deltas, reason="order")
    return still


@register_retry("order_line")
def _retry_order_line(exc: SyncException) -> bool:
    payload = exc.payload or {}
    order_id, sku = payload.get("amazon_order_id"), payload.get("seller_sku")
    if not order_id or not sku:
        order_id, _, sku = exc.object_key.partition("/")
    order = Order.objects.filter(account_id=exc.account_id, amazon_order_id=order_id).first()
    if order is None:
        return False
    return order_lines_relink(order=order, seller_sku=sku, flow=exc.flow) == 0


def order_lines_fill_ids(*, order: Order, lines: Sequence[LineData]) -> int:
    """Give report lines (matched by SKU) the order item ids the API returned."""
    filled = 0
    with transaction.atomic():
        existing = list(OrderLine.objects.filter(order=order))
        for incoming in lines:
            if not incoming.order_item_id:
                continue
            line = match_line(existing, incoming)
            if line is not None and not line.order_item_id:
                line.order_item_id = incoming.order_item_id
                line.save(update_fields=["order_item_id"])
                filled += 1
    return filled
