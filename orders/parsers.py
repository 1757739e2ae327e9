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

from django.utils import timezone

from amazonsync.flatfiles import values
from amazonsync.flatfiles.reading import ReportFormatError, ReportSource, replayable
from amazonsync.flatfiles.rows import Row, read_flat_file, typed
from amazonsync.flatfiles.syntax import parse_amazon_datetime

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
            "ship_country": str(address.get("CountryCode") or ""),
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
        "title": str(raw.get("Title") or ""),
        "quantity_ordered": int(raw.get("QuantityOrdered") or 0),
        "quantity_shipped": int(raw.get("QuantityShipped") or 0),
        "promotion_ids": ",".join(str(p) for p in raw.get("PromotionIds") or []),
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
            "ship_country": str(address.get("countryCode") or ""),
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
        "title": str(product.get("title") or ""),
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
    )
    if unit_currency or currency:
        values["currency"] = unit_currency or currency
    return LineData(
        seller_sku=str(product.get("sellerSku") or ""),
        order_item_id=str(raw.get("orderItemId") or ""),
        values=values,
        raw=raw,
    )


def _text_widths(model_name: str) -> dict[str, int]:
    from django.apps import apps

    model = apps.get_model("orders", model_name)
    return {f.name: f.max_length for f in model._meta.get_fields()
            if getattr(f, "max_length", None)}


def _fits_lines(lines: list[LineData], order_id: str = "") -> list[LineData]:
    widths = _text_widths("OrderLine")
    for line in lines:
        _fits_values(line.values, widths, f"item {line.seller_sku or '?'}", order_id)
    return lines


def _fits_values(values: dict, widths: dict[str, int], where: str, order_id: str) -> None:
    for name, value in values.items():
        width = widths.get(name)
        if isinstance(value, str) and width is not None and len(value) > width:
            raise OrderDataError(
                f"{order_id or 'order'}: the {where}'s {name.replace('_', ' ')} is "
                f"{len(value)} characters long; at most {width} can be stored")


def _fits(data: OrderData) -> OrderData:
    """Text from the Orders API longer than its column is refused (the order becomes an
    exception naming the field), never cut to fit."""
    _fits_values(data.values, _text_widths("Order"), "order", data.amazon_order_id)
    _fits_lines(data.lines or [], data.amazon_order_id)
    return data


def order_from_api(raw: dict, items: list[dict] | None = None) -> OrderData:
    """Either API version, told apart by its keys; ``items`` are v0 getOrderItems objects.
    Text longer than its column is refused (``OrderDataError``), never cut."""
    if "AmazonOrderId" in raw:
        data = order_from_v0(raw)
        if items is not None:
            currency = data.values.get("currency", "")
            data.lines = [line_from_v0(i, currency=currency) for i in items]
        return _fits(data)
    if "orderId" in raw:
        return _fits(order_from_2026(raw))
    raise OrderDataError("not an Amazon order object (no AmazonOrderId or orderId)")


def lines_from_api(items: Iterable[dict], *, currency: str = "") -> list[LineData]:
    out = []
    for item in items:
        if "OrderItemId" in item:
            out.append(line_from_v0(item, currency=currency))
        else:
            out.append(line_from_2026(item, currency=currency))
    return _fits_lines(out)


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
# Columns that describe the order (not the item): every row of one order must say the same.
ORDER_COLUMNS = ("purchase-date", "last-updated-date", "order-status", "fulfillment-channel",
                 "sales-channel", "merchant-order-id", "ship-service-level", "ship-city",
                 "ship-state", "ship-postal-code", "ship-country", "is-business-order",
                 "purchase-order-number")
# Free-text columns and the width of the column they are stored in (orders.models); a longer
# value is refused, never cut.
ORDER_TEXT = {"merchant-order-id": 64, "ship-service-level": 32, "purchase-order-number": 64,
              "ship-city": 128, "ship-state": 128, "ship-postal-code": 32}
LINE_TEXT = {"product-name": 500, "promotion-ids": 255}
AMOUNT_COLUMNS = ("item-price", "item-tax", "shipping-price", "shipping-tax",
                  "item-promotion-discount", "ship-promotion-discount")
_BOOLEAN = {"true": True, "yes": True, "y": True, "1": True,
            "false": False, "no": False, "n": False, "0": False, "": False}


# Raw rows kept with an order that cannot be stored (its exception's payload stays small
# however many rows a hostile file gives one order id).
ROWS_KEPT = 50


@dataclass
class ReportRowError:
    """An order of the file that cannot be stored: kept raw (its first ROWS_KEPT rows) with
    the reason."""

    line: int
    amazon_order_id: str
    message: str
    column: str | None = None
    rows: list[dict[str, str]] = field(default_factory=list, repr=False)
    row_count: int = 0


class _OrderRows:
    """Reads the values of one order's rows, refusing what cannot be stored with a
    ReportFormatError naming the file, line and column."""

    def __init__(self, rows: list[Row], source: str | None, window: values.DateWindow):
        self.rows = rows
        self.first = rows[0]
        self.source = source
        self.window = window

    def refuse(self, row: Row, column: str | None, message: str) -> ReportFormatError:
        return ReportFormatError(message, line=row.line, column=column, source=self.source)

    def value(self, row: Row, column: str, parse: Callable[[str], Any], *,
              required: bool = False) -> Any:
        return typed(row, column, parse, required=required, source=self.source)

    def order_value(self, column: str) -> str:
        """The order-level value; rows of one order that disagree are refused."""
        text = self.first.get(column)
        for row in self.rows[1:]:
            if row.get(column) != text:
                raise self.refuse(
                    row, column,
                    f"the rows of order {self.first.get('amazon-order-id')} disagree: line "
                    f"{self.first.line} says {values.shown(text)}, this line "
                    f"{values.shown(row.get(column))}",
                )
        return text

    def text(self, row: Row, column: str, width: int) -> str:
        return self.value(row, column, lambda v: values.parse_text(v, max_length=width)) or ""


def _report_order(rows: list[Row], resolve_marketplace: Callable[[str], str | None], *,
                  source: str | None = None, window: values.DateWindow | None = None
                  ) -> OrderData:
    """One order from its rows (all of them, wherever they are in the file)."""
    window = window or values.window_until_now(timezone.now())
    r = _OrderRows(rows, source, window)
    first = r.first
    order_id = r.value(first, "amazon-order-id", values.parse_order_id, required=True)
    for column in ORDER_COLUMNS:
        r.order_value(column)
    channel_text = first.get("sales-channel")
    marketplace_id = resolve_marketplace(channel_text)
    if marketplace_id is None:
        raise r.refuse(first, "sales-channel", f"order {order_id}: sales channel "
                       f"{values.shown(channel_text)} is not an Amazon marketplace")
    currency = ""
    currency_row = first
    for row in rows:
        code = r.value(row, "currency", values.parse_currency)
        if code and currency and code != currency:
            raise r.refuse(row, "currency", f"two currencies in one order: {currency} on "
                           f"line {currency_row.line} and {code}")
        if code and not currency:
            currency, currency_row = code, row
    priced = bool(currency)
    status_text = first.get("order-status")
    status = REPORT_STATUS.get(status_text.replace(" ", "").lower())
    if status is None:
        raise r.refuse(first, "order-status",
                       f"order {order_id}: unknown order-status {values.shown(status_text)}")
    if status == "Pending" and priced:
        # The report says "Pending" for orders Amazon's API calls Unshipped; a truly pending
        # order has no prices yet.
        status = "Unshipped"
    channel = REPORT_CHANNEL.get(first.get("fulfillment-channel").lower())
    if channel is None:
        raise r.refuse(first, "fulfillment-channel",
                       f"order {order_id}: unknown fulfillment-channel "
                       f"{values.shown(first.get('fulfillment-channel'))}")
    in_window = r.window

    def stamp(v: str) -> datetime.datetime:
        return values.parse_datetime_in(v, in_window)

    purchase = r.value(first, "purchase-date", stamp, required=True)
    updated = r.value(first, "last-updated-date", stamp, required=True)
    if updated < purchase:
        raise r.refuse(first, "last-updated-date",
                       f"last-updated-date {first.get('last-updated-date')} is before "
                       f"purchase-date {first.get('purchase-date')}")
    business_text = first.get("is-business-order").strip().lower()
    if business_text not in _BOOLEAN:
        raise r.refuse(first, "is-business-order",
                       f"not true or false: {values.shown(first.get('is-business-order'))}")

    def money(v: str) -> Decimal:
        return values.parse_money(v, currency=currency)

    lines: dict[str, LineData] = {}
    total = Decimal(0)
    for row in rows:
        sku = r.value(row, "sku", values.parse_sku, required=True)
        quantity = r.value(row, "quantity", values.parse_quantity, required=True)
        amounts: dict[str, Decimal | None] = {}
        for column in AMOUNT_COLUMNS:
            text = row.get(column)
            if text and not priced:
                raise r.refuse(row, column, f"an amount ({values.shown(text)}) in an order "
                               "without a currency code")
            amounts[column] = r.value(row, column, money)
        asin = r.value(row, "asin", values.parse_asin) or ""
        title = r.text(row, "product-name", LINE_TEXT["product-name"])
        promotion_ids = r.text(row, "promotion-ids", LINE_TEXT["promotion-ids"])
        promo = amounts.pop("item-promotion-discount")
        ship_promo = amounts.pop("ship-promotion-discount")
        parts: dict[str, Decimal | None] = {
            "item_price": amounts["item-price"], "item_tax": amounts["item-tax"],
            "shipping_price": amounts["shipping-price"],
            "shipping_tax": amounts["shipping-tax"],
            # The report writes discounts as negative amounts; the API as positive discounts.
            "promotion_discount": abs(promo) if promo is not None else None,
            "shipping_discount": abs(ship_promo) if ship_promo is not None else None,
        }
        shipped = quantity if row.get("item-status").lower() == "shipped" else 0
        if priced:
            total += sum((parts[k] or 0 for k in ("item_price", "item_tax", "shipping_price",
                                                   "shipping_tax")), Decimal(0))
            total -= (parts["promotion_discount"] or 0) + (parts["shipping_discount"] or 0)
        if sku in lines:  # the same SKU twice in one order: one line
            line = lines[sku]
            line.values["quantity_ordered"] += quantity
            line.values["quantity_shipped"] += shipped
            if line.values["quantity_ordered"] > values.MAX_QUANTITY:
                raise r.refuse(row, "quantity", f"the quantities of SKU {sku} in order "
                               f"{order_id} add up to more than {values.MAX_QUANTITY:,}")
            for key, value in parts.items():
                if value is not None:
                    summed = (line.values.get(key) or 0) + value
                    try:
                        values.check_money_total(summed, what=f"{key} of SKU {sku}")
                    except ValueError as exc:
                        raise r.refuse(row, None, str(exc)) from None
                    line.values[key] = summed
            for key, value in (("asin", asin), ("title", title),
                               ("promotion_ids", promotion_ids)):
                if value and not line.values[key]:
                    line.values[key] = value
            continue
        line_values: dict[str, Any] = {
            "asin": asin,
            "title": title,
            "quantity_ordered": quantity,
            "quantity_shipped": shipped,
            "promotion_ids": promotion_ids,
            **parts,
        }
        if currency:
            line_values["currency"] = currency
        # The order keeps the raw rows; its lines do not repeat them.
        lines[sku] = LineData(seller_sku=sku, values=line_values)
    if priced:
        try:
            values.check_money_total(total, what=f"total of order {order_id}")
        except ValueError as exc:
            raise r.refuse(first, None, str(exc)) from None
        if total < 0:
            raise r.refuse(first, "item-price", f"the amounts of order {order_id} add up to a "
                           f"negative total ({total} {currency})")

    order_values: dict[str, Any] = {
        "purchase_date": purchase,
        "last_update_date": updated,
        "status": status,
        "fulfillment_channel": channel,
        "seller_order_id": r.text(first, "merchant-order-id", ORDER_TEXT["merchant-order-id"]),
        "is_business": _BOOLEAN[business_text],
        "purchase_order_number": r.text(first, "purchase-order-number",
                                        ORDER_TEXT["purchase-order-number"]),
        "ship_service_category": r.text(first, "ship-service-level",
                                        ORDER_TEXT["ship-service-level"]),
        "order_total": total if priced else None,
    }
    if currency:
        order_values["currency"] = currency
    if first.get("ship-country"):
        order_values.update({
            "ship_city": r.text(first, "ship-city", ORDER_TEXT["ship-city"]),
            "ship_state": r.text(first, "ship-state", ORDER_TEXT["ship-state"]),
            "ship_postal_code": r.text(first, "ship-postal-code",
                                       ORDER_TEXT["ship-postal-code"]),
            "ship_country": r.value(first, "ship-country", values.parse_country),
        })
    return OrderData(
        amazon_order_id=order_id, marketplace_id=marketplace_id, source="report",
        values=order_values, lines=list(lines.values()),
        raw={"report_rows": [row.as_dict() for row in rows]},
    )


def iter_report_orders(
    source: ReportSource,
    *,
    resolve_marketplace: Callable[[str], str | None],
    errors: list[ReportRowError] | None = None,
    progress: Callable[[int], None] | None = None,
    now: datetime.datetime | None = None,
) -> Iterator[OrderData]:
    """Stream the orders of an all-orders flat file, one ``OrderData`` per order.

    The rows of one order are grouped wherever they are in the file (A, B, A is order A
    with both its rows, once). The file is read twice: the first pass counts the rows of
    each order id (a dict of order id -> count: memory grows with the file's number of
    orders, ~100 bytes each, not with its rows); the second yields each order as soon as
    its last row has been read, so only the rows of orders whose rows are still to come
    are held (none in Amazon's files, which keep an order's rows together; in a file that
    scatters them, the rows in between). A stream that cannot be read twice is copied to
    a temporary file first.

    An order that cannot be stored (a refused value, an unknown status, rows that
    disagree, a sales channel that is not Amazon) is appended to ``errors`` (when given,
    else raised) naming the file, line and column, and skipped; a broken file (not a
    report, binary, a line or value over the reading limits, ...) raises
    ``ReportFormatError`` before any order is yielded. Dates must fall between 2000 and
    ``now`` (default: the application's clock, ``timezone.now``) plus two days.
    """
    window = values.window_until_now(now or timezone.now())
    with replayable(source) as replay:
        counts: dict[str, int] = {}
        flat = read_flat_file(replay, required=REQUIRED_COLUMNS, report=REPORT_TYPE)
        name = flat.source_name
        i_order = flat.header.index["amazon-order-id"]
        for _, row_values in flat.raw_rows():
            order_id = row_values[i_order]
            counts[order_id] = counts.get(order_id, 0) + 1

        flat = read_flat_file(replay, required=REQUIRED_COLUMNS, report=REPORT_TYPE)
        pending: dict[str, list[Row]] = {}
        for row in flat.rows():
            if progress is not None:
                progress(1)
            order_id = row.get("amazon-order-id")
            if not order_id:
                group = [row]
            else:
                group = pending.setdefault(order_id, [])
                group.append(row)
                if len(group) < counts[order_id]:
                    continue
                del pending[order_id]
            try:
                yield _report_order(group, resolve_marketplace, source=name, window=window)
            except (ReportFormatError, OrderDataError) as exc:
                if errors is None:
                    raise
                errors.append(ReportRowError(
                    line=getattr(exc, "line", None) or group[0].line,
                    amazon_order_id=order_id, message=str(exc),
                    column=getattr(exc, "column", None),
                    rows=[r.as_dict() for r in group[:ROWS_KEPT]], row_count=len(group),
                ))
