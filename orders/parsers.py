"""Amazon order data in, typed ``OrderData`` out: Orders API v0, Orders API 2026-01-01 and
the all-orders flat-file report (GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL).

``OrderData.values`` and ``LineData.values`` hold only the columns the source actually
carries: a value a source does not give (the report has no Prime flag, no ship-by window, no
buyer token, no promotion tax) is absent, so the upsert never blanks what another source
stored.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from amazonsync.reports import (
    ReportFormatError,
    ReportSource,
    Row,
    currency_places,
    parse_amazon_datetime,
    parse_amount,
    parse_int,
    read_flat_file,
)

REPORT_TYPE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"

STATUSES = (
    "Pending", "Unshipped", "PartiallyShipped", "Shipped", "Canceled", "Unfulfillable",
    "InvoiceUnconfirmed", "PendingAvailability",
)


class OrderDataError(ValueError):
    """An order that cannot be read (missing id, unknown status...)."""


@dataclass
class LineData:
    seller_sku: str
    order_item_id: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False)


@dataclass
class OrderData:
    amazon_order_id: str
    marketplace_id: str
    source: str  # "api" | "report"
    values: dict[str, Any]  # Order columns this source carries (purchase/update dates...)
    lines: list[LineData] | None = None  # None: this source did not give the lines
    buyer_token: str | None = None  # None: unknown (pending orders, the report)
    buyer_name: str = ""
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def last_update_date(self) -> datetime.datetime:
        return self.values["last_update_date"]

    @property
    def status(self) -> str:
        return self.values["status"]


def _dt(value: Any) -> datetime.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    return parse_amazon_datetime(str(value))


def _dec(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    return Decimal(str(value))


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "y")
    return bool(value)


def _required(order_id: str, name: str, value: Any) -> Any:
    if value in (None, ""):
        raise OrderDataError(f"order {order_id or '?'}: {name} is missing")
    return value


# ---------------------------------------------------------------------------- Orders v0


def _v0_money(obj: Any) -> tuple[Decimal | None, str]:
    if not isinstance(obj, dict) or obj.get("Amount") in (None, ""):
        return None, ""
    return Decimal(str(obj["Amount"])), str(obj.get("CurrencyCode") or "")


def order_from_v0(raw: dict) -> OrderData:
    order_id = str(raw.get("AmazonOrderId") or "")
    _required("", "AmazonOrderId", order_id)
    status = _required(order_id, "OrderStatus", raw.get("OrderStatus"))
    if status not in STATUSES:
        raise OrderDataError(f"order {order_id}: unknown OrderStatus {status!r}")
    total, currency = _v0_money(raw.get("OrderTotal"))
    channel = str(raw.get("FulfillmentChannel") or "")
    is_prime = _bool(raw.get("IsPrime"))
    values: dict[str, Any] = {
        "purchase_date": _dt(_required(order_id, "PurchaseDate", raw.get("PurchaseDate"))),
        "last_update_date": _dt(_required(order_id, "LastUpdateDate",
                                          raw.get("LastUpdateDate"))),
        "status": status,
        "fulfillment_channel": _required(order_id, "FulfillmentChannel", channel),
        "seller_order_id": str(raw.get("SellerOrderId") or ""),
        "is_prime": is_prime,
        "is_seller_fulfilled_prime": is_prime and channel == "MFN",
        "is_premium": _bool(raw.get("IsPremiumOrder")),
        "is_business": _bool(raw.get("IsBusinessOrder")),
        "is_replacement": _bool(raw.get("IsReplacementOrder")),
        "replaced_order_id": str(raw.get("ReplacedOrderId") or ""),
        "order_total": total,
        "ship_service_level": str(raw.get("ShipServiceLevel") or ""),
        "ship_service_category": str(raw.get("ShipmentServiceLevelCategory") or ""),
        "earliest_ship_date": _dt(raw.get("EarliestShipDate")),
        "latest_ship_date": _dt(raw.get("LatestShipDate")),
    }
    if currency:
        values["currency"] = currency
    buyer = raw.get("BuyerInfo") or {}
    if buyer:
        values["purchase_order_number"] = str(buyer.get("PurchaseOrderNumber") or "")
    address = raw.get("ShippingAddress") or {}
    if address:
        values.update({
            "ship_city": str(address.get("City") or ""),
            "ship_state": str(address.get("StateOrRegion") or ""),
            "ship_postal_code": str(address.get("PostalCode") or ""),
            "ship_country": str(address.get("CountryCode") or "")[:2],
        })
    return OrderData(
        amazon_order_id=order_id,
        marketplace_id=str(raw.get("MarketplaceId") or ""),
        source="api",
        values=values,
        buyer_token=(str(buyer.get("BuyerEmail") or "") or None) if buyer else None,
        buyer_name=str(buyer.get("BuyerName") or ""),
        raw=raw,
    )


def line_from_v0(raw: dict, *, currency: str = "") -> LineData:
    values: dict[str, Any] = {
        "asin": str(raw.get("ASIN") or ""),
        "title": str(raw.get("Title") or "")[:500],
        "quantity_ordered": int(raw.get("QuantityOrdered") or 0),
        "quantity_shipped": int(raw.get("QuantityShipped") or 0),
        "promotion_ids": ",".join(str(p) for p in raw.get("PromotionIds") or [])[:255],
    }
    found_currency = ""
    for column, key in (
        ("item_price", "ItemPrice"), ("item_tax", "ItemTax"),
        ("shipping_price", "ShippingPrice"), ("shipping_tax", "ShippingTax"),
        ("shipping_discount", "ShippingDiscount"),
        ("promotion_discount", "PromotionDiscount"),
        ("promotion_discount_tax", "PromotionDiscountTax"),
    ):
        amount, cur = _v0_money(raw.get(key))
        values[column] = amount
        found_currency = found_currency or cur
    if found_currency or currency:
        values["currency"] = found_currency or currency
    return LineData(
        seller_sku=str(raw.get("SellerSKU") or ""),
        order_item_id=str(raw.get("OrderItemId") or ""),
        values=values,
        raw=raw,
    )


# ---------------------------------------------------------------------------- Orders 2026-01-01

_STATUS_2026 = {
    "PENDING_AVAILABILITY": "PendingAvailability", "PENDING": "Pending",
    "UNSHIPPED": "Unshipped", "PARTIALLY_SHIPPED": "PartiallyShipped", "SHIPPED": "Shipped",
    "CANCELLED": "Canceled", "UNFULFILLABLE": "Unfulfillable",
}
_LEVEL_2026 = {"STANDARD": "Standard", "EXPEDITED": "Expedited", "NEXT_DAY": "NextDay",
               "SECOND_DAY": "SecondDay", "SCHEDULED": "Scheduled",
               "FREE_ECONOMY": "FreeEconomy", "PRIORITY": "Priority", "SAME_DAY": "SameDay"}


def _money_2026(obj: Any) -> tuple[Decimal | None, str]:
    if not isinstance(obj, dict) or obj.get("amount") in (None, ""):
        return None, ""
    return Decimal(str(obj["amount"])), str(obj.get("currencyCode") or "")


def _breakdowns(proceeds: dict) -> dict[str, tuple[Decimal | None, str]]:
    return {b.get("type"): _money_2026(b.get("subtotal")) for b in
            proceeds.get("breakdowns") or [] if isinstance(b, dict)}


def order_from_2026(raw: dict) -> OrderData:
    order_id = str(raw.get("orderId") or "")
    _required("", "orderId", order_id)
    fulfillment = raw.get("fulfillment") or {}
    status = _STATUS_2026.get(fulfillment.get("fulfillmentStatus"))
    if status is None:
        raise OrderDataError(
            f"order {order_id}: unknown fulfillmentStatus {fulfillment.get('fulfillmentStatus')!r}"
        )
    channel = {"AMAZON": "AFN", "MERCHANT": "MFN"}.get(fulfillment.get("fulfilledBy"), "")
    programs = set(raw.get("programs") or [])
    total, currency = _money_2026((raw.get("proceeds") or {}).get("grandTotal"))
    window = fulfillment.get("shipByWindow") or {}
    aliases = {a.get("aliasType"): a.get("aliasId") for a in raw.get("orderAliases") or []
               if isinstance(a, dict)}
    values: dict[str, Any] = {
        "purchase_date": _dt(_required(order_id, "createdTime", raw.get("createdTime"))),
        "last_update_date": _dt(_required(order_id, "lastUpdatedTime",
                                          raw.get("lastUpdatedTime"))),
        "status": status,
        "fulfillment_channel": _required(order_id, "fulfilledBy", channel),
        "seller_order_id": str(aliases.get("SELLER_ORDER_ID") or ""),
        "is_prime": "PRIME" in programs,
        "is_seller_fulfilled_prime": "PRIME" in programs and channel == "MFN",
        "is_premium": "PREMIUM" in programs,
        "is_business": "AMAZON_BUSINESS" in programs,
        "order_total": total,
        "ship_service_category": _LEVEL_2026.get(fulfillment.get("fulfillmentServiceLevel"),
                                                 ""),
        "earliest_ship_date": _dt(window.get("earliestDateTime")),
        "latest_ship_date": _dt(window.get("latestDateTime")),
    }
    if currency:
        values["currency"] = currency
    buyer = raw.get("buyer") or {}
    if buyer:
        values["purchase_order_number"] = str(buyer.get("buyerPurchaseOrderNumber") or "")
    address = (raw.get("recipient") or {}).get("deliveryAddress") or {}
    if address:
        values.update({
            "ship_city": str(address.get("city") or ""),
            "ship_state": str(address.get("stateOrRegion") or ""),
            "ship_postal_code": str(address.get("postalCode") or ""),
            "ship_country": str(address.get("countryCode") or "")[:2],
        })
    lines = None
    if "orderItems" in raw:
        lines = [line_from_2026(i, currency=currency) for i in raw.get("orderItems") or []]
    return OrderData(
        amazon_order_id=order_id,
        marketplace_id=str((raw.get("salesChannel") or {}).get("marketplaceId") or ""),
        source="api",
        values=values,
        lines=lines,
        buyer_token=(str(buyer.get("buyerEmail") or "") or None) if buyer else None,
        buyer_name=str(buyer.get("buyerName") or ""),
        raw=raw,
    )


def line_from_2026(raw: dict, *, currency: str = "") -> LineData:
    product = raw.get("product") or {}
    quantity = int(raw.get("quantityOrdered") or 0)
    parts = _breakdowns(raw.get("proceeds") or {})
    values: dict[str, Any] = {
        "asin": str(product.get("asin") or ""),
        "title": str(product.get("title") or "")[:500],
        "quantity_ordered": quantity,
        "quantity_shipped": int((raw.get("fulfillment") or {}).get("quantityFulfilled") or 0),
    }
    unit, unit_currency = _money_2026((product.get("price") or {}).get("unitPrice"))
    if parts:
        discount = parts.get("DISCOUNT", (None, ""))[0]
        values.update({
            "item_price": parts.get("ITEM", (None, ""))[0],
            "shipping_price": parts.get("SHIPPING", (None, ""))[0],
            "item_tax": parts.get("TAX", (None, ""))[0],
            "promotion_discount": -discount if discount is not None else None,
        })
    elif unit is not None:
        values["item_price"] = unit * quantity
    promotions = (raw.get("promotion") or {}).get("breakdowns") or []
    values["promotion_ids"] = ",".join(
        str(p.get("promotionId")) for p in promotions if isinstance(p, dict)
    )[:255]
    if unit_currency or currency:
        values["currency"] = unit_currency or currency
    return LineData(
        seller_sku=str(product.get("sellerSku") or ""),
        order_item_id=str(raw.get("orderItemId") or ""),
        values=values,
        raw=raw,
    )


def order_from_api(raw: dict, items: list[dict] | None = None) -> OrderData:
    """Either API version, told apart by its keys; ``items`` are v0 getOrderItems objects."""
    if "AmazonOrderId" in raw:
        data = order_from_v0(raw)
        if items is not None:
            currency = data.values.get("currency", "")
            data.lines = [line_from_v0(i, currency=currency) for i in items]
        return data
    if "orderId" in raw:
        return order_from_2026(raw)
    raise OrderDataError("not an Amazon order object (no AmazonOrderId or orderId)")


def lines_from_api(items: Iterable[dict], *, currency: str = "") -> list[LineData]:
    out = []
    for item in items:
        if "OrderItemId" in item:
            out.append(line_from_v0(item, currency=currency))
        else:
            out.append(line_from_2026(item, currency=currency))
    return out


# ---------------------------------------------------------------------------- all-orders report

REPORT_STATUS = {
    "pending": "Pending", "unshipped": "Unshipped", "shipping": "PartiallyShipped",
    "partiallyshipped": "PartiallyShipped", "shipped": "Shipped", "cancelled": "Canceled",
    "canceled": "Canceled", "unfulfillable": "Unfulfillable",
    "invoiceunconfirmed": "InvoiceUnconfirmed", "pendingavailability": "PendingAvailability",
}
REPORT_CHANNEL = {"amazon": "AFN", "afn": "AFN", "merchant": "MFN", "mfn": "MFN"}
REQUIRED_COLUMNS = ("amazon-order-id", "purchase-date", "last-updated-date", "order-status",
                    "fulfillment-channel", "sales-channel", "sku", "quantity")


@dataclass
class ReportRowError:
    line: int
    amazon_order_id: str
    message: str


def _report_amount(row: Row, column: str, currency: str) -> Decimal | None:
    text = row.get(column)
    if not text:
        return None
    try:
        return parse_amount(text, places=currency_places(currency) if currency else None)
    except ValueError as exc:
        raise ReportFormatError(f"{exc} (value {text!r})", line=row.line,
                                column=column) from None


def _report_order(rows: list[Row], resolve_marketplace: Callable[[str], str | None]
                  ) -> OrderData:
    first = rows[0]
    order_id = first.get("amazon-order-id")
    channel_text = first.get("sales-channel")
    marketplace_id = resolve_marketplace(channel_text)
    if marketplace_id is None:
        raise OrderDataError(f"order {order_id}: sales channel {channel_text!r} is not an "
                             "Amazon marketplace")
    currency = next((r.get("currency") for r in rows if r.get("currency")), "")
    priced = bool(currency)
    status_text = first.get("order-status")
    status = REPORT_STATUS.get(status_text.replace(" ", "").lower())
    if status is None:
        raise OrderDataError(f"order {order_id}: unknown order-status {status_text!r}")
    if status == "Pending" and priced:
        # The report says "Pending" for orders Amazon's API calls Unshipped; a truly pending
        # order has no prices yet.
        status = "Unshipped"
    channel = REPORT_CHANNEL.get(first.get("fulfillment-channel").lower())
    if channel is None:
        raise OrderDataError(
            f"order {order_id}: unknown fulfillment-channel {first.get('fulfillment-channel')!r}"
        )
    try:
        purchase = parse_amazon_datetime(first.get("purchase-date"))
        updated = parse_amazon_datetime(first.get("last-updated-date"))
    except ValueError as exc:
        raise ReportFormatError(str(exc), line=first.line) from None

    lines: dict[str, LineData] = {}
    total = Decimal(0)
    for row in rows:
        sku = row.get("sku")
        if not sku:
            raise ReportFormatError("a value is required", line=row.line, column="sku")
        try:
            quantity = parse_int(row.get("quantity") or "0")
        except ValueError as exc:
            raise ReportFormatError(str(exc), line=row.line, column="quantity") from None
        amounts = {
            "item_price": _report_amount(row, "item-price", currency),
            "item_tax": _report_amount(row, "item-tax", currency),
            "shipping_price": _report_amount(row, "shipping-price", currency),
            "shipping_tax": _report_amount(row, "shipping-tax", currency),
        }
        promo = _report_amount(row, "item-promotion-discount", currency)
        ship_promo = _report_amount(row, "ship-promotion-discount", currency)
        # The report writes discounts as negative amounts; the API as positive discounts.
        amounts["promotion_discount"] = abs(promo) if promo is not None else None
        amounts["shipping_discount"] = abs(ship_promo) if ship_promo is not None else None
        item_status = row.get("item-status").lower()
        shipped = quantity if item_status == "shipped" else 0
        if priced:
            total += sum((amounts[k] or 0 for k in ("item_price", "item_tax", "shipping_price",
                                                     "shipping_tax")), Decimal(0))
            total -= (amounts["promotion_discount"] or 0) + (amounts["shipping_discount"] or 0)
        if sku in lines:  # the same SKU twice in one order: one line
            line = lines[sku]
            line.values["quantity_ordered"] += quantity
            line.values["quantity_shipped"] += shipped
            for key, value in amounts.items():
                if value is not None:
                    line.values[key] = (line.values.get(key) or 0) + value
            continue
        values: dict[str, Any] = {
            "asin": row.get("asin")[:10],
            "title": row.get("product-name")[:500],
            "quantity_ordered": quantity,
            "quantity_shipped": shipped,
            "promotion_ids": row.get("promotion-ids")[:255],
            **amounts,
        }
        if currency:
            values["currency"] = currency
        # The order keeps the raw rows; its lines do not repeat them.
        lines[sku] = LineData(seller_sku=sku, values=values)

    values: dict[str, Any] = {
        "purchase_date": purchase,
        "last_update_date": updated,
        "status": status,
        "fulfillment_channel": channel,
        "seller_order_id": first.get("merchant-order-id"),
        "is_business": _bool(first.get("is-business-order")),
        "purchase_order_number": first.get("purchase-order-number"),
        "ship_service_category": first.get("ship-service-level"),
        "order_total": total if priced else None,
    }
    if currency:
        values["currency"] = currency
    if first.get("ship-country"):
        values.update({
            "ship_city": first.get("ship-city"),
            "ship_state": first.get("ship-state"),
            "ship_postal_code": first.get("ship-postal-code"),
            "ship_country": first.get("ship-country")[:2],
        })
    return OrderData(
        amazon_order_id=order_id, marketplace_id=marketplace_id, source="report",
        values=values, lines=list(lines.values()),
        raw={"report_rows": [r.as_dict() for r in rows]},
    )


def iter_report_orders(
    source: ReportSource,
    *,
    resolve_marketplace: Callable[[str], str | None],
    errors: list[ReportRowError] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[OrderData]:
    """Stream the orders of an all-orders flat file, one ``OrderData`` per order.

    Rows of one order are consecutive in Amazon's file. An order that cannot be read is
    appended to ``errors`` (when given) and skipped; a broken file raises
    ``ReportFormatError``.
    """
    flat = read_flat_file(source, required=REQUIRED_COLUMNS, report=REPORT_TYPE)
    group: list[Row] = []

    def emit(rows: list[Row]) -> Iterator[OrderData]:
        try:
            yield _report_order(rows, resolve_marketplace)
        except OrderDataError as exc:
            if errors is None:
                raise
            errors.append(ReportRowError(rows[0].line, rows[0].get("amazon-order-id"),
                                         str(exc)))

    for row in flat.rows():
        if progress is not None:
            progress(1)
        order_id = row.get("amazon-order-id")
        if not order_id:
            raise ReportFormatError("a value is required", line=row.line,
                                    column="amazon-order-id")
        if group and group[0].get("amazon-order-id") != order_id:
            yield from emit(group)
            group = []
        group.append(row)
    if group:
        yield from emit(group)
