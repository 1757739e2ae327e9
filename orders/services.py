"""Writes for orders: the idempotent upsert (API pages and report files share it), stock
reservations, unmapped-SKU exceptions, MFN shipments and their confirmation to Amazon.

Every function is keyword-only and atomic. The upsert is keyed on (seller account,
AmazonOrderId) and order lines on (order, order item id) — or (order, seller SKU) for lines
from the all-orders report, which has no order item id; running it twice with the same data
changes nothing.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from amazonsync.models import SyncException, Team
from amazonsync.services import exception_record, exception_resolve, register_retry
from amazonsync.spapi.clock import utcnow
from amazonsync.spapi.errors import InvalidInput, NotFound, SpApiError
from catalog.models import Listing
from catalog.services import (
    MERCHANT,
    WAITING_ON_MAPPING,
    listing_discover,
    listing_key,
    stock_adjust,
)
from marketplaces.models import Marketplace, SellerAccount

from .carriers import canonical_carrier_code
from .models import (
    OPEN_STATUSES,
    SHIPPABLE_STATUSES,
    CarrierMapping,
    Customer,
    FulfillmentChannel,
    Order,
    OrderLine,
    OrderStatus,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    Source,
)
from .parsers import LineData, OrderData

log = logging.getLogger(__name__)

ORDERS_FLOW = "orders"
SHIPMENTS_FLOW = "shipments"
# Exception reasons
UNKNOWN_MARKETPLACE = "unknown_marketplace"
BAD_ORDER = "bad_order_data"
UNKNOWN_CARRIER = "unknown_carrier"
MISSING_TRACKING = "missing_tracking_number"
MISSING_ITEM_IDS = "missing_order_item_ids"
AMAZON_REJECTED = "amazon_rejected"
CONFIRM_ERROR = "confirm_error"
SHIPMENT_REASONS = (UNKNOWN_CARRIER, MISSING_TRACKING, MISSING_ITEM_IDS, AMAZON_REJECTED,
                    CONFIRM_ERROR)


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    exceptions: int = 0
    latest_update: datetime.datetime | None = None
    created_ids: list[str] = field(default_factory=list, repr=False)
    changed_ids: list[str] = field(default_factory=list, repr=False)

    def add(self, other: UpsertCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.exceptions += other.exceptions
        if other.latest_update and (self.latest_update is None
                                    or other.latest_update > self.latest_update):
            self.latest_update = other.latest_update
        self.created_ids += other.created_ids
        self.changed_ids += other.changed_ids

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "exceptions": self.exceptions}


def line_exception_key(order_id: str, seller_sku: str) -> str:
    return f"{order_id}/{seller_sku}"


def shipment_exception_key(shipment: Shipment) -> str:
    return f"{shipment.order.amazon_order_id}/{shipment.package_reference_id}"


# ---------------------------------------------------------------------------- upsert


@dataclass
class _Plan:
    order: Order
    data: OrderData
    new: bool
    changed: set[str]
    old_status: str | None
    old_customer: int | None = None
    lines_changed: bool = False


def orders_upsert(
    *,
    account: SellerAccount,
    batch: Sequence[OrderData],
    flow: str = ORDERS_FLOW,
    run=None,
    now: datetime.datetime | None = None,
) -> UpsertCounts:
    """Store a batch of orders (an API page, a chunk of a report) in one transaction.

    New orders are created, changed ones updated, stale data (older than what is stored,
    or report data for an order the API already gave at the same update time) ignored.
    Lines are upserted when the source gives them; MFN orders reserve merchant stock and
    release it when shipped or canceled; canceled orders cancel their pending shipments;
    lines of unmapped SKUs are stored, flagged and queued as exceptions.
    """
    counts = UpsertCounts()
    if not batch:
        return counts
    with transaction.atomic():
        _upsert(account=account, batch=batch, flow=flow, run=run, counts=counts,
                now=now or timezone.now())
    return counts


def _upsert(*, account, batch, flow, run, counts: UpsertCounts, now) -> None:
    latest: dict[str, OrderData] = {}
    for data in batch:
        seen = latest.get(data.amazon_order_id)
        if seen is None or data.last_update_date >= seen.last_update_date:
            latest[data.amazon_order_id] = data
        stamp = data.last_update_date
        if counts.latest_update is None or stamp > counts.latest_update:
            counts.latest_update = stamp

    markets = {m.pk: m for m in Marketplace.objects.filter(
        pk__in={d.marketplace_id for d in latest.values()})}
    existing = {o.amazon_order_id: o for o in Order.objects.filter(
        account=account, amazon_order_id__in=list(latest))}

    plans: list[_Plan] = []
    for order_id, data in latest.items():
        market = markets.get(data.marketplace_id)
        if market is None:
            counts.exceptions += 1
            exception_record(
                flow=flow, object_kind="order", object_key=order_id,
                reason_code=UNKNOWN_MARKETPLACE, owner_team=Team.OPS, account=account,
                message=f"Order {order_id} is for marketplace {data.marketplace_id!r}, which "
                "is not in the marketplace reference data.",
                payload={"amazon_order_id": order_id, "marketplace_id": data.marketplace_id},
                run=run,
            )
            continue
        order = existing.get(order_id)
        if order is None:
            values = dict(data.values)
            values.setdefault("currency", market.currency)
            order = Order(
                account=account, marketplace=market, amazon_order_id=order_id,
                source=data.source, first_stored_at=now, raw=data.raw, **values,
                version_stored_at=now if data.source == Source.API else None,
            )
            if order.status == OrderStatus.SHIPPED:
                order.shipped_at = order.last_update_date
            plans.append(_Plan(order, data, True, set(), None))
            continue
        if order.last_update_date > data.last_update_date or (
            order.last_update_date == data.last_update_date
            and order.source == Source.API and data.source == Source.REPORT
        ):
            counts.unchanged += 1  # stale, or less complete than what we have
            continue
        new_version = (data.source == Source.API
                       and order.last_update_date != data.last_update_date)
        changed = {name for name, value in data.values.items()
                   if getattr(order, name) != value}
        plan = _Plan(order, data, False, changed, order.status, order.customer_id)
        for name in changed:
            setattr(order, name, data.values[name])
        if new_version:  # a new version from Amazon's API, stored now
            order.version_stored_at = now
            changed.add("version_stored_at")
        if order.marketplace_id != market.pk:
            order.marketplace = market
            changed.add("marketplace")
        if data.source == Source.API and order.source != Source.API:
            order.source = Source.API
            changed.add("source")
        if changed or data.source == Source.API:
            if order.raw != data.raw:
                order.raw = data.raw
                if changed:
                    changed.add("raw")
        if order.status == OrderStatus.SHIPPED and order.shipped_at is None:
            order.shipped_at = order.last_update_date
            changed.add("shipped_at")
        plans.append(plan)

    if not plans:
        return
    orphans = _customers_assign(account=account, plans=plans)
    new_orders = [p.order for p in plans if p.new]
    Order.objects.bulk_create(new_orders)
    if any(o.pk is None for o in new_orders):  # backends without RETURNING
        ids = {o.amazon_order_id: o.pk for o in Order.objects.filter(
            account=account, amazon_order_id__in=[o.amazon_order_id for o in new_orders])}
        for o in new_orders:
            o.pk = o.id = ids[o.amazon_order_id]

    _lines_apply(account=account, plans=plans, flow=flow, run=run, counts=counts)

    fields: set[str] = set()
    to_update = []
    for plan in plans:
        if plan.new:
            counts.created += 1
            counts.created_ids.append(plan.order.amazon_order_id)
        elif plan.changed or plan.lines_changed:
            counts.updated += 1
            counts.changed_ids.append(plan.order.amazon_order_id)
            if plan.changed:
                fields |= plan.changed
                to_update.append(plan.order)
        else:
            counts.unchanged += 1
    if to_update:
        Order.objects.bulk_update(to_update, sorted(fields | {"updated_at"}), batch_size=500)
    if orphans:
        Customer.objects.filter(pk__in=orphans, orders__isnull=True).delete()

    canceled = [p.order.pk for p in plans
                if p.order.status == OrderStatus.CANCELED and p.old_status != OrderStatus.CANCELED]
    if canceled:
        shipments_cancel(order_ids=canceled)


def _customers_assign(*, account, plans: list[_Plan]) -> list[int]:
    """Give every order its customer: by buyer token, else one per order. Returns the ids of
    per-order customers replaced by a token customer (deleted once unused)."""
    tokens = {p.data.buyer_token for p in plans if p.data.buyer_token}
    per_order = {p.order.amazon_order_id for p in plans
                 if not p.data.buyer_token and p.order.customer_id is None}
    by_token: dict[str, Customer] = {}
    if tokens:
        by_token = {c.buyer_token: c for c in Customer.objects.filter(
            account=account, buyer_token__in=tokens)}
        missing = tokens - set(by_token)
        if missing:
            first = {p.data.buyer_token: p for p in plans if p.data.buyer_token in missing}
            Customer.objects.bulk_create([
                Customer(account=account, buyer_token=t, name=first[t].data.buyer_name[:255],
                         country_code=first[t].data.values.get("ship_country", "")[:2])
                for t in sorted(missing)
            ], ignore_conflicts=True)
            by_token.update({c.buyer_token: c for c in Customer.objects.filter(
                account=account, buyer_token__in=missing)})
    by_order: dict[str, Customer] = {}
    if per_order:
        by_order = {c.order_key: c for c in Customer.objects.filter(
            account=account, order_key__in=per_order)}
        missing = per_order - set(by_order)
        if missing:
            Customer.objects.bulk_create(
                [Customer(account=account, order_key=k) for k in sorted(missing)],
                ignore_conflicts=True,
            )
            by_order.update({c.order_key: c for c in Customer.objects.filter(
                account=account, order_key__in=missing)})
    orphans = []
    for plan in plans:
        order = plan.order
        token = plan.data.buyer_token
        customer = by_token[token] if token else by_order.get(order.amazon_order_id)
        if customer is None or customer.pk == order.customer_id:
            continue
        if order.customer_id is not None:
            orphans.append(order.customer_id)
        order.customer = customer
        if not plan.new:
            plan.changed.add("customer")
    return orphans


_LINE_FIELDS = ("asin", "title", "quantity_ordered", "quantity_shipped", "currency",
                "item_price", "item_tax", "shipping_price", "shipping_tax", "shipping_discount",
                "promotion_discount", "promotion_discount_tax", "promotion_ids")


def _match_line(existing: list[OrderLine], incoming: LineData) -> OrderLine | None:
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


def _lines_apply(*, account, plans: list[_Plan], flow, run, counts: UpsertCounts) -> None:
    """Upsert the lines of the planned orders, link them to listings, keep reservations."""
    old_by_order: dict[int, list[OrderLine]] = defaultdict(list)
    existing_ids = [p.order.pk for p in plans if not p.new]
    if existing_ids:
        for line in OrderLine.objects.filter(order_id__in=existing_ids):
            old_by_order[line.order_id].append(line)

    # Listings for every SKU involved, one query (plus discovery of unknown SKUs).
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

    to_create: list[OrderLine] = []
    to_update: dict[int, OrderLine] = {}
    update_fields: set[str] = set()
    waiting: list[tuple[Order, OrderLine]] = []
    mapped_now: list[tuple[Order, OrderLine]] = []
    deltas: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    for plan in plans:
        order = plan.order
        lines = list(old_by_order.get(order.pk, ()))
        old_shipped = {id(line): line.quantity_shipped for line in lines}
        for incoming in plan.data.lines or ():
            line = _match_line(lines, incoming)
            values = dict(incoming.values)
            values.setdefault("currency", order.currency)
            if line is None:
                line = OrderLine(order=order, seller_sku=incoming.seller_sku,
                                 order_item_id=incoming.order_item_id, raw=incoming.raw,
                                 **{k: v for k, v in values.items() if k in _LINE_FIELDS})
                lines.append(line)
                old_shipped[id(line)] = 0
                to_create.append(line)
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
                update_fields |= changed
                to_update[line.pk] = line
                plan.lines_changed = True

        for line in lines:
            key = (order.marketplace_id, line.seller_sku)
            if key not in listings:
                market = order.marketplace
                listing = listing_discover(
                    account=account, marketplace=market, seller_sku=line.seller_sku,
                    source="order", asin=line.asin,
                    channel="FBA" if order.fulfillment_channel == FulfillmentChannel.AFN
                    else "MFN",
                )
                listings[key] = (listing.pk, listing.item_id)
            listing_id, item_id = listings[key]
            link_changed = set()
            if line.listing_id != listing_id:
                line.listing_id = listing_id
                link_changed.add("listing")
            unmapped = item_id is None
            if line.unmapped != unmapped or line.pk is None:
                if unmapped and (line.pk is None or not line.unmapped):
                    waiting.append((order, line))
                elif not unmapped and line.pk is not None and line.unmapped:
                    mapped_now.append((order, line))
                if line.unmapped != unmapped:
                    line.unmapped = unmapped
                    link_changed.add("unmapped")
            link_changed |= _reserve(order=order, line=line, item_id=item_id,
                                     old_shipped=old_shipped[id(line)], deltas=deltas)
            if link_changed and line.pk is not None:
                update_fields |= link_changed
                to_update[line.pk] = line
                if link_changed - {"reserved_quantity", "stock_item"}:
                    plan.lines_changed = True

    if to_create:
        OrderLine.objects.bulk_create(to_create, batch_size=500)
    if to_update:
        OrderLine.objects.bulk_update(list(to_update.values()), sorted(update_fields),
                                      batch_size=500)
    stock_adjust(pool=MERCHANT, deltas=deltas, reason="order")

    for order, line in waiting:
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
    for order, line in mapped_now:
        exception_resolve(
            flow=flow, object_kind="order_line",
            object_key=line_exception_key(order.amazon_order_id, line.seller_sku),
            reason_code=WAITING_ON_MAPPING, note="resolved: the SKU is mapped now",
        )


def _reserve(*, order: Order, line: OrderLine, item_id: int | None, old_shipped: int,
             deltas: dict[int, dict[str, int]]) -> set[str]:
    """Bring the line's merchant-stock reservation to what the order needs now.

    MFN lines of open orders hold their unshipped quantity of the mapped item; FBA lines
    never hold merchant stock. Units shipped while reserved leave the stock (on hand goes
    down with the reservation); a cancellation only releases.
    """
    holds = (order.fulfillment_channel == FulfillmentChannel.MFN
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
        deltas: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
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
                exception_resolve(
                    flow=flow, object_kind="order_line",
                    object_key=line_exception_key(order.amazon_order_id, line.seller_sku),
                    reason_code=WAITING_ON_MAPPING, note="resolved: the SKU is mapped now",
                )
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


# ---------------------------------------------------------------------------- shipments


class ShipmentInvalid(ValueError):
    """A shipment that cannot be recorded (not MFN, too many units, ...)."""


def shipments_cancel(*, order_ids: Iterable[int]) -> int:
    """Cancel the unconfirmed shipments of canceled orders (and close their exceptions)."""
    with transaction.atomic():
        pending = list(Shipment.objects.filter(
            order_id__in=list(order_ids),
            status__in=[ShipmentStatus.PENDING, ShipmentStatus.FAILED],
        ).select_related("order"))
        if not pending:
            return 0
        Shipment.objects.filter(pk__in=[s.pk for s in pending]).update(
            status=ShipmentStatus.CANCELED, last_error="The order was canceled by Amazon."
        )
        for shipment in pending:
            for reason in SHIPMENT_REASONS:
                exception_resolve(flow=SHIPMENTS_FLOW, object_kind="shipment",
                                  object_key=shipment_exception_key(shipment),
                                  reason_code=reason, note="resolved: the order was canceled")
    return len(pending)


def shipment_record(
    *,
    order: Order,
    carrier: str,
    tracking_number: str,
    ship_date: datetime.datetime,
    lines: Sequence[tuple[OrderLine, int]],
    ship_method: str = "",
    package_reference_id: str = "",
    user=None,
) -> Shipment:
    """Record one MFN package for confirmation by the ``shipments`` flow.

    The carrier is our name for it; the Amazon carrier code is looked up in the carrier
    mappings when the flow confirms the package, so a mapping fixed later applies. A missing
    tracking number or an unknown carrier is accepted here and becomes an exception in the
    flow, before any call to Amazon.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.fulfillment_channel != FulfillmentChannel.MFN:
            raise ShipmentInvalid(
                f"Order {order.amazon_order_id} is fulfilled by Amazon: there is nothing to "
                "confirm.")
        if order.status not in SHIPPABLE_STATUSES:
            raise ShipmentInvalid(
                f"Order {order.amazon_order_id} is {order.get_status_display()}: only unshipped "
                "or partially shipped orders can be shipped.")
        wanted = [(line, qty) for line, qty in lines if qty]
        if not wanted:
            raise ShipmentInvalid("A shipment needs at least one line with a quantity.")
        if not carrier.strip():
            raise ShipmentInvalid("A shipment needs a carrier.")
        open_qty: dict[int, int] = defaultdict(int)
        for line_id, qty in ShipmentLine.objects.filter(
            shipment__order=order,
            shipment__status__in=[ShipmentStatus.PENDING, ShipmentStatus.FAILED],
        ).values_list("order_line_id", "quantity"):
            open_qty[line_id] += qty
        for line, qty in wanted:
            line.refresh_from_db()
            if line.order_id != order.pk:
                raise ShipmentInvalid(f"Line {line.pk} is not a line of this order.")
            if qty < 0:
                raise ShipmentInvalid("Quantities cannot be negative.")
            left = line.quantity_unshipped - open_qty[line.pk]
            if qty > left:
                raise ShipmentInvalid(
                    f"{line.seller_sku}: {qty} units to ship but only {left} left unshipped "
                    "(counting packages waiting for confirmation).")
        reference = package_reference_id.strip() or _next_package_reference(order)
        try:
            with transaction.atomic():
                shipment = Shipment.objects.create(
                    order=order, package_reference_id=reference, carrier=carrier.strip(),
                    ship_method=ship_method.strip(), tracking_number=tracking_number.strip(),
                    ship_date=ship_date, created_by=user,
                )
        except IntegrityError:
            raise ShipmentInvalid(
                f"Package {reference} is already recorded for this order.") from None
        ShipmentLine.objects.bulk_create([
            ShipmentLine(shipment=shipment, order_line=line, quantity=qty)
            for line, qty in wanted
        ])
    return shipment


def _next_package_reference(order: Order) -> str:
    n = Shipment.objects.filter(order=order).count() + 1
    while Shipment.objects.filter(order=order, package_reference_id=str(n)).exists():
        n += 1
    return str(n)


def _shipment_problem(*, shipment: Shipment, flow: str, reason: str, message: str,
                      run=None, extra: dict | None = None) -> None:
    Shipment.objects.filter(pk=shipment.pk).update(last_error=message[:5000])
    shipment.last_error = message
    exception_record(
        flow=flow, object_kind="shipment", object_key=shipment_exception_key(shipment),
        reason_code=reason, owner_team=Team.OPS, account=shipment.order.account,
        marketplace=shipment.order.marketplace, message=message,
        payload={"amazon_order_id": shipment.order.amazon_order_id,
                 "shipment_id": shipment.pk,
                 "package_reference_id": shipment.package_reference_id, **(extra or {})},
        run=run,
    )


def shipment_confirm(*, shipment: Shipment, client, flow: str = SHIPMENTS_FLOW, run=None
                     ) -> str:
    """Confirm one package to Amazon (confirmShipment). Returns the shipment's status.

    Checked before any call: the carrier mapping, the tracking number and that every line
    has Amazon's order item id (fetched with the order's items when missing). Amazon's
    rejection is stored on the shipment (failed) and queued as an exception; transport
    failures leave it pending for the next run.
    """
    from .selectors import carrier_mapping_for

    shipment = Shipment.objects.select_related("order__marketplace", "order__account").get(
        pk=shipment.pk)
    order = shipment.order
    if shipment.status in (ShipmentStatus.CONFIRMED, ShipmentStatus.CANCELED):
        return shipment.status
    if order.status == OrderStatus.CANCELED:
        shipments_cancel(order_ids=[order.pk])
        return ShipmentStatus.CANCELED
    mapping = carrier_mapping_for(carrier=shipment.carrier, ship_method=shipment.ship_method)
    if mapping is None:
        _shipment_problem(
            shipment=shipment, flow=flow, reason=UNKNOWN_CARRIER, run=run,
            message=f"No carrier mapping for {shipment.carrier!r}"
            f"{' / ' + repr(shipment.ship_method) if shipment.ship_method else ''}: add it "
            "under Carrier mappings, then retry. Nothing was sent to Amazon.",
            extra={"carrier": shipment.carrier, "ship_method": shipment.ship_method},
        )
        return shipment.status
    _resolve_shipment(shipment, UNKNOWN_CARRIER, "resolved: the carrier is mapped now")
    if not shipment.tracking_number:
        _shipment_problem(
            shipment=shipment, flow=flow, reason=MISSING_TRACKING, run=run,
            message="The package has no tracking number: add it on the shipment, then retry. "
            "Nothing was sent to Amazon.",
        )
        return shipment.status
    _resolve_shipment(shipment, MISSING_TRACKING, "resolved: tracking number added")

    ship_lines = list(shipment.lines.select_related("order_line"))
    if any(not sl.order_line.order_item_id for sl in ship_lines):
        try:
            items = client.orders.items(order.amazon_order_id)
        except SpApiError as err:
            _shipment_problem(shipment=shipment, flow=flow, reason=CONFIRM_ERROR, run=run,
                              message=f"Could not read the order items: {err}")
            return shipment.status
        from .parsers import OrderDataError, lines_from_api

        try:
            api_lines = lines_from_api([i.raw for i in items], currency=order.currency)
        except OrderDataError as err:
            _shipment_problem(shipment=shipment, flow=flow, reason=CONFIRM_ERROR, run=run,
                              message=f"Could not read the order items: {err}")
            return shipment.status
        order_lines_fill_ids(order=order, lines=api_lines)
        ship_lines = list(shipment.lines.select_related("order_line"))
        if any(not sl.order_line.order_item_id for sl in ship_lines):
            _shipment_problem(
                shipment=shipment, flow=flow, reason=MISSING_ITEM_IDS, run=run,
                message="Amazon did not give an order item id for every line of the package.")
            return shipment.status

    detail: dict[str, Any] = {
        "packageReferenceId": shipment.package_reference_id,
        "carrierCode": mapping.amazon_carrier_code,
        "trackingNumber": shipment.tracking_number,
        "shipDate": shipment.ship_date.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "orderItems": [{"orderItemId": sl.order_line.order_item_id, "quantity": sl.quantity}
                       for sl in ship_lines],
    }
    if mapping.amazon_carrier_name:
        detail["carrierName"] = mapping.amazon_carrier_name
    if mapping.shipping_method:
        detail["shippingMethod"] = mapping.shipping_method
    payload = {"marketplaceId": order.marketplace_id, "packageDetail": detail}
    Shipment.objects.filter(pk=shipment.pk).update(
        attempts=F("attempts") + 1, carrier_code=mapping.amazon_carrier_code,
        carrier_name=mapping.amazon_carrier_name, shipping_method=mapping.shipping_method,
    )
    try:
        client.confirm_shipment(order.amazon_order_id, payload)
    except (InvalidInput, NotFound) as err:
        answer = {"status": err.status, "errors": err.errors, "request_id": err.request_id,
                  "message": err.message}
        with transaction.atomic():
            Shipment.objects.filter(pk=shipment.pk).update(
                status=ShipmentStatus.FAILED, amazon_response=answer,
                last_error=f"Amazon rejected the confirmation: {err.message}"[:5000],
            )
            _shipment_problem(
                shipment=shipment, flow=flow, reason=AMAZON_REJECTED, run=run,
                message=f"Amazon rejected the confirmation of package "
                f"{shipment.package_reference_id}: {err.message}",
                extra={"amazon": answer, "request": payload},
            )
        return ShipmentStatus.FAILED
    except SpApiError as err:
        if getattr(err, "reauthorization_required", False):
            raise
        _shipment_problem(shipment=shipment, flow=flow, reason=CONFIRM_ERROR, run=run,
                          message=f"confirmShipment failed, will retry: {err}")
        return shipment.status
    shipment_mark_confirmed(shipment=shipment, request=payload, at=utcnow(client.clock))
    return ShipmentStatus.CONFIRMED


def shipment_mark_confirmed(*, shipment: Shipment, request: dict,
                            at: datetime.datetime | None = None) -> Shipment:
    """Amazon accepted the package: store it and the order's acknowledgement SLA."""
    at = at or timezone.now()
    with transaction.atomic():
        Shipment.objects.filter(pk=shipment.pk).update(
            status=ShipmentStatus.CONFIRMED, confirmed_at=at, last_error="",
            amazon_response={"status": 204, "request": request},
        )
        order = Order.objects.select_for_update().get(pk=shipment.order_id)
        if order.acknowledged_at is None:
            order.acknowledged_at = at
            order.ack_sla_met = (order.latest_ship_date is None
                                 or at <= order.latest_ship_date)
            order.save(update_fields=["acknowledged_at", "ack_sla_met", "updated_at"])
        for reason in SHIPMENT_REASONS:
            _resolve_shipment(shipment, reason, "resolved: Amazon accepted the package")
    shipment.refresh_from_db()
    return shipment


def order_lines_fill_ids(*, order: Order, lines: Sequence[LineData]) -> int:
    """Give report lines (matched by SKU) the order item ids the API returned."""
    filled = 0
    with transaction.atomic():
        existing = list(OrderLine.objects.filter(order=order))
        for incoming in lines:
            if not incoming.order_item_id:
                continue
            line = _match_line(existing, incoming)
            if line is not None and not line.order_item_id:
                line.order_item_id = incoming.order_item_id
                line.save(update_fields=["order_item_id"])
                filled += 1
    return filled


def _resolve_shipment(shipment: Shipment, reason: str, note: str) -> None:
    exception_resolve(flow=SHIPMENTS_FLOW, object_kind="shipment",
                      object_key=shipment_exception_key(shipment), reason_code=reason,
                      note=note)


def shipment_update(*, shipment: Shipment, tracking_number: str | None = None,
                    carrier: str | None = None, ship_method: str | None = None) -> Shipment:
    """Correct an unconfirmed package (e.g. add the tracking number); it is retried."""
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(pk=shipment.pk)
        if shipment.status in (ShipmentStatus.CONFIRMED, ShipmentStatus.CANCELED):
            raise ShipmentInvalid("A confirmed or canceled package cannot be changed.")
        if tracking_number is not None:
            shipment.tracking_number = tracking_number.strip()
        if carrier is not None:
            shipment.carrier = carrier.strip()
        if ship_method is not None:
            shipment.ship_method = ship_method.strip()
        shipment.status = ShipmentStatus.PENDING
        shipment.save()
    return shipment


@register_retry("shipment")
def _retry_shipment(exc: SyncException) -> bool:
    """Retry one package: back to pending, then confirm it now (through the engine's client:
    calls recorded, the stored token and shared buckets used, a revoked token flagged)."""
    from amazonsync.clients import spapi_client

    shipment_id = (exc.payload or {}).get("shipment_id")
    shipment = Shipment.objects.filter(pk=shipment_id).select_related("order__account").first()
    if shipment is None:
        return False
    if shipment.status in (ShipmentStatus.CONFIRMED, ShipmentStatus.CANCELED):
        return True
    Shipment.objects.filter(pk=shipment.pk, status=ShipmentStatus.FAILED).update(
        status=ShipmentStatus.PENDING)
    client = spapi_client(shipment.order.account)
    status = shipment_confirm(shipment=shipment, client=client, flow=exc.flow)
    return status in (ShipmentStatus.CONFIRMED, ShipmentStatus.CANCELED)


# ---------------------------------------------------------------------------- carrier mappings


def carrier_mapping_upsert(*, carrier: str, ship_method: str = "", amazon_carrier_code: str,
                           amazon_carrier_name: str = "", shipping_method: str = "",
                           active: bool = True) -> CarrierMapping:
    """Add or change one mapping; the code must be one Amazon accepts."""
    code = canonical_carrier_code(amazon_carrier_code)
    if code is None:
        raise ValueError(f"{amazon_carrier_code!r} is not a carrier code Amazon accepts")
    if code == "Other" and not amazon_carrier_name.strip():
        raise ValueError('carrier code "Other" needs the carrier name Amazon should show')
    with transaction.atomic():
        mapping, _ = CarrierMapping.objects.update_or_create(
            carrier=carrier.strip(), ship_method=ship_method.strip(),
            defaults={"amazon_carrier_code": code,
                      "amazon_carrier_name": amazon_carrier_name.strip(),
                      "shipping_method": shipping_method.strip(), "active": active},
        )
    return mapping


# ---------------------------------------------------------------------------- report backfill

REPORT_BATCH = 500


@dataclass
class ReportImportResult:
    rows: int = 0
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    skipped: int = 0

    def as_dict(self, report_type: str) -> dict:
        return {"report_type": report_type, "rows": self.rows, **self.counts.as_dict()}


def orders_report_import(
    *,
    account: SellerAccount,
    source,
    flow: str = ORDERS_FLOW,
    run=None,
    progress=None,
    batch_size: int = REPORT_BATCH,
    finish=None,
    now: datetime.datetime | None = None,
) -> ReportImportResult:
    """Import an all-orders flat file through the same upsert as the API, in batches.

    All or nothing: the whole file is one transaction, with the unreadable orders queued
    as exceptions and whatever the caller moves with it (``finish``: the flow's cursor).
    A file that is refused (not a report, over the reading limits, a crash) stores
    nothing, and the counts returned are exactly what was committed. An order that cannot
    be stored (a refused value, named by file, line and column) is not stored and becomes
    an exception with its raw rows; the rest of the file is imported. Importing the file
    again converges (what is stored is unchanged).
    """
    from .parsers import iter_report_orders
    from .selectors import marketplace_resolver

    result = ReportImportResult()
    errors: list = []

    def counting(n: int) -> None:
        result.rows += n
        if progress is not None:
            progress(n)

    counts = UpsertCounts()
    with transaction.atomic():
        batch: list[OrderData] = []
        for data in iter_report_orders(source, resolve_marketplace=marketplace_resolver(),
                                       errors=errors, progress=counting, now=now):
            batch.append(data)
            if len(batch) >= batch_size:
                counts.add(orders_upsert(account=account, batch=batch, flow=flow, run=run))
                batch = []
        counts.add(orders_upsert(account=account, batch=batch, flow=flow, run=run))
        for error in errors:
            result.skipped += 1
            counts.exceptions += 1
            exception_record(
                flow=flow, object_kind="order",
                object_key=error.amazon_order_id or f"line {error.line}",
                reason_code=BAD_ORDER, owner_team=Team.OPS, account=account,
                message=f"{error.message}. The order is kept as it was read and not stored; "
                "fix it at the source and import the file again.",
                payload={"amazon_order_id": error.amazon_order_id, "line": error.line,
                         "column": error.column or "", "rows": error.rows,
                         "row_count": error.row_count},
                run=run,
            )
        result.counts = counts
        if finish is not None:
            finish(result)
    return result


def carrier_mapping_save(*, mapping: CarrierMapping) -> CarrierMapping:
    """Save a mapping edited in the admin (validated, Amazon's spelling of the code)."""
    code = canonical_carrier_code(mapping.amazon_carrier_code)
    if code is None:
        raise ValueError(f"{mapping.amazon_carrier_code!r} is not a carrier code Amazon accepts")
    mapping.amazon_carrier_code = code
    with transaction.atomic():
        mapping.full_clean()
        mapping.save()
    return mapping


def shipments_requeue(*, shipment_ids: Iterable[int]) -> int:
    """Send rejected packages again on the next shipments run (after fixing them)."""
    with transaction.atomic():
        return Shipment.objects.filter(
            pk__in=list(shipment_ids), status=ShipmentStatus.FAILED
        ).update(status=ShipmentStatus.PENDING)
