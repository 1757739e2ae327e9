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

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from amazonsync.money import quantize

from .models import Channel, FbaStock, Item, KitComponent, Listing, MerchantStock

Components = dict[int, list[tuple[int, int]]]  # kit item id -> [(component id, quantity)]


def kit_available(components: Iterable[tuple[int, int]], available: dict[int, int]) -> int:
    """A kit's available quantity: min over its components of floor(available / quantity)."""
    best: int | None = None
    for component_id, quantity in components:
        can = max(0, available.get(component_id, 0)) // max(1, quantity)
        best = can if best is None else min(best, can)
    return best or 0


def kit_components(item_ids: Iterable[int] | None = None) -> Components:
    qs = KitComponent.objects.all()
    if item_ids is not None:
        qs = qs.filter(kit_id__in=list(item_ids))
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
    from their components, simple items from merchant stock."""
    stock = merchant_available() if stock is None else stock
    components = kit_components() if components is None else components
    out = {item_id: qty for item_id, qty in stock.items() if item_id not in components}
    resolving: set[int] = set()

    def resolve(item_id: int) -> int:
        if item_id in out:
            return out[item_id]
        if item_id not in components:
            return 0
        if item_id in resolving:  # a kit that contains itself through another kit
            return 0
        resolving.add(item_id)
        value = kit_available(((c, q) for c, q in components[item_id]),
                              {c: resolve(c) for c, _ in components[item_id]})
        resolving.discard(item_id)
        out[item_id] = value
        return value

    for kit_id in components:
        resolve(kit_id)
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


def fba_freshness(*, account_id: int, marketplace_id: str,
                  stale_after: datetime.timedelta = datetime.timedelta(hours=24)) -> dict:
    """FBA stock freshness for the health dashboard: how many FBA listings have stock
    pulled, the oldest and newest pull, and how many are stale or were never pulled."""
    now = timezone.now()
    listings = Listing.objects.filter(account_id=account_id, marketplace_id=marketplace_id,
                                      channel=Channel.FBA)
    total = listings.count()
    stock = FbaStock.objects.filter(listing__in=listings).aggregate(
        pulled=Count("pk", filter=Q(pulled_at__isnull=False)),
        oldest=Min("pulled_at"), newest=Max("pulled_at"),
        stale=Count("pk", filter=Q(pulled_at__lt=now - stale_after)),
    )
    return {
        "fba_listings": total,
        "pulled": stock["pulled"],
        "never_pulled": total - stock["pulled"],
        "stale": stock["stale"],
        "oldest_pull": stock["oldest"],
        "newest_pull": stock["newest"],
        "oldest_age_seconds": (now - stock["oldest"]).total_seconds() if stock["oldest"]
        else None,
    }


def listing_stale_fba(*, account_id: int, marketplace_id: str,
                      older_than: datetime.timedelta) -> list[str]:
    """Seller SKUs of FBA listings whose stock was not pulled within ``older_than``."""
    cutoff = timezone.now() - older_than
    return list(
        Listing.objects.filter(account_id=account_id, marketplace_id=marketplace_id,
                               channel=Channel.FBA)
        .filter(Q(fba_stock__isnull=True) | Q(fba_stock__pulled_at__lt=cutoff))
        .order_by("seller_sku").values_list("seller_sku", flat=True)
    )
