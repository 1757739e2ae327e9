"""Reads for orders: lookups the flows need, admin querysets, and comparable snapshots."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q, QuerySet

from amazonsync.models import SyncException
from marketplaces.models import Marketplace

from .models import (
    CarrierMapping,
    FulfillmentChannel,
    Order,
    OrderLine,
    Shipment,
    ShipmentStatus,
)

ORDER_EXCEPTION_KINDS = ("order", "order_line", "shipment")
OPEN = (SyncException.Status.OPEN, SyncException.Status.RETRYING)


def carrier_mapping_for(*, carrier: str, ship_method: str = "") -> CarrierMapping | None:
    """The active mapping for our carrier and ship method; a method-less mapping of the
    carrier applies to every method. Case-insensitive."""
    candidates = CarrierMapping.objects.filter(carrier__iexact=carrier.strip(), active=True)
    if ship_method.strip():
        exact = candidates.filter(ship_method__iexact=ship_method.strip()).first()
        if exact is not None:
            return exact
    return candidates.filter(ship_method="").first()


def marketplace_resolver():
    """A function: report ``sales-channel`` (``Amazon.com``, ``Amazon.co.uk``) or marketplace
    id -> marketplace id, or None (``Non-Amazon`` channels)."""
    by_key: dict[str, str] = {}
    for pk, domain, name in Marketplace.objects.values_list("pk", "domain", "name"):
        by_key[domain.lower()] = pk
        by_key[f"www.{domain.lower()}"] = pk
        by_key[pk.lower()] = pk
        by_key[name.lower()] = pk

    def resolve(text: str) -> str | None:
        return by_key.get((text or "").strip().lower())

    return resolve


def order_last_updates(*, account, order_ids: list[str]) -> dict[str, datetime.datetime]:
    """Stored LastUpdateDate per Amazon order id (to fetch items only for new/changed)."""
    return dict(Order.objects.filter(account=account, amazon_order_id__in=order_ids)
                .values_list("amazon_order_id", "last_update_date"))


def shipments_to_confirm(*, account, marketplace=None) -> QuerySet[Shipment]:
    qs = Shipment.objects.filter(
        order__account=account, status=ShipmentStatus.PENDING,
        order__fulfillment_channel=FulfillmentChannel.MFN,
    ).select_related("order")
    if marketplace is not None:
        qs = qs.filter(order__marketplace=marketplace)
    return qs.order_by("order__latest_ship_date", "pk")


def open_exceptions_exist():
    """Exists() of open order/line/shipment exceptions for an Order row (OuterRef)."""
    return Exists(SyncException.objects.filter(
        account=OuterRef("account"), object_kind__in=ORDER_EXCEPTION_KINDS,
        status__in=OPEN,
    ).filter(Q(object_key=OuterRef("amazon_order_id"))
             | Q(object_key__startswith=OuterRef("amazon_order_id"))))


def unshipped_lines(order: Order) -> list[OrderLine]:
    return [line for line in order.lines.order_by("pk") if line.quantity_unshipped > 0]


def order_snapshot(*, account, fields: tuple[str, ...] = (
    "marketplace_id", "status", "fulfillment_channel", "purchase_date", "last_update_date",
    "currency", "is_business", "seller_order_id", "ship_service_category",
)) -> dict[str, dict]:
    """Orders and lines as comparable plain data (tests, report-vs-API checks)."""
    out: dict[str, dict] = {}
    for order in Order.objects.filter(account=account).prefetch_related("lines"):
        row = {name: getattr(order, name) for name in fields}
        row["order_total"] = _norm(order.order_total)
        row["lines"] = sorted(
            (line.seller_sku, line.asin, line.quantity_ordered, line.quantity_shipped,
             _norm(line.item_price), _norm(line.item_tax), _norm(line.shipping_price),
             _norm(line.shipping_tax), _norm(line.promotion_discount), line.currency)
            for line in order.lines.all()
        )
        out[order.amazon_order_id] = row
    return out


def _norm(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.normalize():f}"
