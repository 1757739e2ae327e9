"""Reads for orders: lookups the flows need, admin querysets, and comparable snapshots."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from amazonsync.flatfiles.locale import locale_by_code
from amazonsync.models import SyncException
from marketplaces.models import Marketplace

from .models import (
    SHIPPABLE_STATUSES,
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


def mcf_marketplace_resolver(*, account, marketplace: Marketplace | None = None):
    """A function: (ship-to country, currency) of a multi-channel (MCF) order -> the
    marketplace whose FBA stock fulfils it, or None when they do not tell.

    Among the account's marketplaces (every marketplace while it sells in none) with the
    order's currency (any, without one): the one in the ship-to country; else
    ``marketplace``, the one the file is imported for, when it is among them; else the only
    one. Never a guess: several candidates and nothing to choose between them is None."""
    rows = list(account.marketplaces.values_list("pk", "code", "currency")) \
        if account.pk else []
    if not rows:
        rows = list(Marketplace.objects.values_list("pk", "code", "currency"))

    def resolve(country: str, currency: str) -> str | None:
        pool = [r for r in rows if not currency or r[2] == currency]
        local = [pk for pk, code, _ in pool if code == country]
        if len(local) == 1:
            return local[0]
        if marketplace is not None and any(pk == marketplace.pk for pk, _, _ in pool):
            return marketplace.pk
        return pool[0][0] if len(pool) == 1 else None

    return resolve


def report_file_locale(*, account, marketplace: Marketplace | None = None
                       ) -> tuple[tuple[str, ...], bool | None]:
    """How an all-orders file of the account is written, from the marketplace it is for
    (the flow's, ``import_report --marketplace``), else the account's marketplaces: the
    legacy encodings it may be in (Windows-31J for JP, Windows-1252 elsewhere; none known:
    both, decided by evidence) and the order of day and month of rows that name no
    marketplace (None unless every one of those marketplaces writes dates the same way)."""
    if marketplace is not None:
        codes = [marketplace.code]
    else:
        codes = sorted(account.marketplaces.values_list("code", flat=True)) if account.pk else []
    locales = [loc for loc in map(locale_by_code, codes) if loc is not None]
    encodings = tuple(dict.fromkeys(loc.legacy_encoding for loc in locales))
    orders = {loc.dayfirst for loc in locales}
    return encodings, orders.pop() if len(orders) == 1 else None


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


# --- MFN orders against their ship-by time (the orders list's filter, the home page) ------

SHIP_BY_SOON = datetime.timedelta(hours=24)
OVERDUE = "overdue"
DUE_SOON = "due24h"


def awaiting_shipment_q() -> Q:
    """MFN orders we still have to ship (unshipped or partly shipped)."""
    return Q(fulfillment_channel=FulfillmentChannel.MFN, status__in=SHIPPABLE_STATUSES)


def ship_by_q(window: str, *, now: datetime.datetime) -> Q:
    """Orders awaiting shipment whose latest ship date has passed (``OVERDUE``) or comes
    within the next 24 hours (``DUE_SOON``)."""
    if window == OVERDUE:
        return awaiting_shipment_q() & Q(latest_ship_date__lt=now)
    if window == DUE_SOON:
        return awaiting_shipment_q() & Q(latest_ship_date__gte=now,
                                         latest_ship_date__lt=now + SHIP_BY_SOON)
    raise ValueError(f"unknown ship-by window {window!r}")


def ship_by_counts(*, now: datetime.datetime) -> dict[str, int]:
    """How many MFN orders are overdue and due within 24 hours; one query."""
    return Order.objects.aggregate(
        **{OVERDUE: Count("pk", filter=ship_by_q(OVERDUE, now=now)),
           DUE_SOON: Count("pk", filter=ship_by_q(DUE_SOON, now=now))})


def totals_by_currency(orders: QuerySet[Order]) -> list[tuple[str, Decimal, int]]:
    """(currency, order total, orders) of these orders, one row per currency (never a sum
    across currencies), largest count first; one query whatever the filter joins."""
    rows = (Order.objects.filter(pk__in=orders.order_by().values("pk")).order_by()
            .values("currency").annotate(total=Sum("order_total"), n=Count("pk"))
            .values_list("currency", "total", "n"))
    return sorted(((c, t or Decimal(0), n) for c, t, n in rows), key=lambda r: (-r[2], r[0]))
