"""Reads for the catalog: available stock, kit arithmetic, push targets and deltas.

Everything a push needs is read in a handful of queries (listings, merchant stock, kit
components) and computed in Python, so the delta over 50,000 listings takes well under a
second or two and never issues a query per listing.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from amazonsync.money import quantize

from .models import (
    FEED_FAILED_STATUSES,
    Channel,
    InboundShipment,
    InboundShipmentItem,
    InboundStatus,
    Item,
    KitComponent,
    Listing,
    MerchantStock,
    PushFeed,
)

Components = dict[int, list[tuple[int, int]]]  # kit item id -> [(component id, quantity)]


def kit_expand(quantities: Iterable[tuple[int, int]], kits: Components) -> dict[int, int]:
    """The kit rule: the stocked items (and units) that ``quantities`` of items stand for.

    A kit holds no stock of its own: each unit of it is its components in the kit's
    quantities, kits of kits expanded all the way down (a component used by two nested kits
    adds up). A simple item stands for itself. A kit met again inside its own expansion
    (kits in a cycle, which the constraints cannot forbid) stays as it is there, so no unit
    is lost. Quantities may be negative (stock leaving). ``kits``: every kit's components,
    as ``kit_components`` reads them.
    """
    out: dict[int, int] = defaultdict(int)

    def add(item_id: int, units: int, path: frozenset[int]) -> None:
        parts = kits.get(item_id)
        if not parts or item_id in path:
            out[item_id] += units
            return
        for component_id, quantity in parts:
            add(component_id, units * quantity, path | {item_id})

    for item_id, units in quantities:
        add(item_id, units, frozenset())
    return dict(out)


def kit_available(components: Iterable[tuple[int, int]], available: dict[int, int], *,
                  kits: Components | None = None) -> int:
    """A kit's available quantity: min over its components of floor(available / quantity).

    With ``kits`` (every kit's components), kits among ``components`` are first expanded to
    the stocked items they stand for (``kit_expand``), so ``available`` needs stocked items
    only.
    """
    if kits is not None:
        components = kit_expand(components, kits).items()
    best: int | None = None
    for component_id, quantity in components:
        can = max(0, available.get(component_id, 0)) // max(1, quantity)
        best = can if best is None else min(best, can)
    return best or 0


def kit_components(item_ids: Iterable[int] | None = None) -> Components:
    """Every kit's components; with ``item_ids``, those of these items and of every kit
    inside them, all the way down (one query per level)."""
    if item_ids is None:
        return _components_of(KitComponent.objects.all())
    out: Components = {}
    asked: set[int] = set()
    pending = set(item_ids)
    while pending:
        asked |= pending
        level = _components_of(KitComponent.objects.filter(kit_id__in=sorted(pending)))
        out.update(level)
        pending = {c for parts in level.values() for c, _ in parts} - asked
    return out


def _components_of(qs) -> Components:
    out: Components = defaultdict(list)
    for kit_id, component_id, quantity in qs.values_list("kit_id", "component_id", "quantity"):
        out[kit_id].append((component_id, quantity))
    return dict(out)


def merchant_available() -> dict[int, int]:
    """Merchant (own warehouse) stock available per item: on hand − reserved, ≥ 0; inactive
    items have none to sell."""
    inactive = set(Item.objects.filter(active=False).values_list("pk", flat=True))
    return {
        item_id: 0 if item_id in inactive else max(0, on_hand - reserved)
        for item_id, on_hand, reserved in MerchantStock.objects.values_list(
            "item_id", "on_hand", "reserved")
    }


def available_by_item(
    *, stock: dict[int, int] | None = None, components: Components | None = None
) -> dict[int, int]:
    """Available quantity of every item that has stock or is a kit; kits (nested ones too)
    from the stocked items they stand for, simple items from merchant stock."""
    stock = merchant_available() if stock is None else stock
    components = kit_components() if components is None else components
    stocked = {item_id: qty for item_id, qty in stock.items() if item_id not in components}
    out = dict(stocked)
    for kit_id, parts in components.items():
        out[kit_id] = kit_available(parts, stocked, kits=components)
    return out


def item_available(*, item: Item) -> int:
    """Available quantity of one item (for the admin)."""
    return available_by_item().get(item.pk, 0)


def target_quantity(*, available: int, buffer: int, maximum: int | None) -> int:
    """What Amazon should show: max(0, available − buffer), capped by the maximum."""
    target = max(0, available - buffer)
    if maximum is not None:
        target = min(target, maximum)
    return target


@dataclass(frozen=True)
class QuantityChange:
    listing_id: int
    seller_sku: str
    product_type: str
    quantity: int
    last_pushed: int | None


@dataclass(frozen=True)
class PriceChange:
    listing_id: int
    seller_sku: str
    product_type: str
    price: Decimal
    currency: str
    last_pushed: Decimal | None


def quantity_deltas(*, account_id: int, marketplace_id: str,
                    available: dict[int, int] | None = None) -> list[QuantityChange]:
    """MFN listings whose target quantity differs from what was last pushed.

    Only merchant-fulfilled, mapped, push-enabled listings: FBA quantities belong to Amazon's
    fulfilment centres and are never pushed from our warehouse stock.
    """
    available = available_by_item() if available is None else available
    rows = Listing.objects.filter(
        account_id=account_id, marketplace_id=marketplace_id, channel=Channel.MFN,
        push_enabled=True, item__isnull=False,
    ).values_list("pk", "seller_sku", "product_type", "item_id", "buffer_quantity",
                  "max_quantity", "last_pushed_quantity")
    out = []
    for pk, sku, product_type, item_id, buffer, maximum, last in rows.iterator(chunk_size=5000):
        target = target_quantity(available=available.get(item_id, 0), buffer=buffer,
                                 maximum=maximum)
        if target != last:
            out.append(QuantityChange(pk, sku, product_type, target, last))
    out.sort(key=lambda c: c.seller_sku)
    return out


def price_deltas(*, account_id: int, marketplace_id: str) -> list[PriceChange]:
    """Listings (either channel) with a price that differs from the last pushed price."""
    rows = Listing.objects.filter(
        account_id=account_id, marketplace_id=marketplace_id, push_enabled=True,
        item__isnull=False, price__isnull=False,
    ).values_list("pk", "seller_sku", "product_type", "price", "currency", "last_pushed_price")
    out = []
    for pk, sku, product_type, price, currency, last in rows.iterator(chunk_size=5000):
        price = quantize(price, currency)
        if last is None or quantize(last, currency) != price:
            out.append(PriceChange(pk, sku, product_type, price, currency, last))
    out.sort(key=lambda c: c.seller_sku)
    return out


# --- what needs attention (lists' filters and the home page) ------------------------------


def unmapped_listings() -> QuerySet[Listing]:
    """Listings no item is mapped to: their orders and stock wait until someone maps them."""
    return Listing.objects.filter(item__isnull=True)


def unmapped_per_marketplace() -> list[tuple[str, int]]:
    """(marketplace id, unmapped listings) for every marketplace that has some, most first;
    one query."""
    rows = (unmapped_listings().order_by().values("marketplace_id")
            .annotate(n=Count("pk")).values_list("marketplace_id", "n"))
    return sorted(rows, key=lambda row: (-row[1], row[0]))


def inbound_discrepancy_q() -> Q:
    """Closed FBA inbound shipments where Amazon received a different quantity than was
    shipped for at least one SKU."""
    differs = InboundShipmentItem.objects.filter(shipment=OuterRef("pk")).exclude(
        quantity_received=F("quantity_shipped"))
    return Q(status=InboundStatus.CLOSED) & Q(Exists(differs))


def inbound_with_discrepancy() -> QuerySet[InboundShipment]:
    return InboundShipment.objects.filter(inbound_discrepancy_q())


def push_failing_q() -> Q:
    """Pushes Amazon did not apply: the whole feed failed, or it refused some listings."""
    return Q(status__in=FEED_FAILED_STATUSES) | Q(rejected__gt=0)


RECENT_PUSHES = datetime.timedelta(days=7)


def pushes_failing(*, since) -> QuerySet[PushFeed]:
    return PushFeed.objects.filter(push_failing_q(), submitted_at__gte=since)
