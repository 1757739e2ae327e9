"""Orders API objects (v0 and 2026-01-01) to ``OrderData``; text longer than its column is
refused, never cut."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from .data import STATUSES, LineData, OrderData, OrderDataError, required, to_bool, to_datetime

# The ship-to address's fields in each API version, by the Order column they fill.
_V0_ADDRESS = {"ship_city": "City", "ship_state": "StateOrRegion",
               "ship_postal_code": "PostalCode", "ship_country": "CountryCode"}
_2026_ADDRESS = {"ship_city": "city", "ship_state": "stateOrRegion",
                 "ship_postal_code": "postalCode", "ship_country": "countryCode"}


def _sales_channel(order_id: str, is_mcf: bool | None, channel: str) -> dict[str, str]:
    """``sales_channel`` when the order says (``{}`` when it does not): a multi-channel
    (MCF) order, sold outside Amazon, is always fulfilled by Amazon."""
    if is_mcf is None:
        return {}
    if is_mcf and channel != "AFN":
        raise OrderDataError(f"order {order_id}: a multi-channel (Non-Amazon) order fulfilled "
                             f"by {channel or 'nobody'}; multi-channel orders are fulfilled "
                             "by Amazon")
    return {"sales_channel": "mcf" if is_mcf else "amazon"}


def _ship_to(address: dict, fields: dict[str, str]) -> dict[str, str]:
    """The address columns, all of them when the order gives an address, none otherwise."""
    if not address:
        return {}
    return {column: str(address.get(key) or "") for column, key in fields.items()}


# ---------------------------------------------------------------------------- Orders v0


def _v0_money(obj: Any) -> tuple[Decimal | None, str]:
    if not isinstance(obj, dict) or obj.get("Amount") in (None, ""):
        return None, ""
    return Decimal(str(obj["Amount"])), str(obj.get("CurrencyCode") or "")


def order_from_v0(raw: dict) -> OrderData:
    order_id = str(raw.get("AmazonOrderId") or "")
    required("", "AmazonOrderId", order_id)
    status = required(order_id, "OrderStatus", raw.get("OrderStatus"))
    if status not in STATUSES:
        raise OrderDataError(f"order {order_id}: unknown OrderStatus {status!r}")
    total, currency = _v0_money(raw.get("OrderTotal"))
    channel = str(raw.get("FulfillmentChannel") or "")
    is_prime = to_bool(raw.get("IsPrime"))
    values: dict[str, Any] = {
        "purchase_date": to_datetime(required(order_id, "PurchaseDate", raw.get("PurchaseDate"))),
        "last_update_date": to_datetime(required(order_id, "LastUpdateDate",
                                          raw.get("LastUpdateDate"))),
        "status": status,
        "fulfillment_channel": required(order_id, "FulfillmentChannel", channel),
        "seller_order_id": str(raw.get("SellerOrderId") or ""),
        "is_prime": is_prime,
        "is_seller_fulfilled_prime": is_prime and channel == "MFN",
        "is_premium": to_bool(raw.get("IsPremiumOrder")),
        "is_business": to_bool(raw.get("IsBusinessOrder")),
        "is_replacement": to_bool(raw.get("IsReplacementOrder")),
        "replaced_order_id": str(raw.get("ReplacedOrderId") or ""),
        "order_total": total,
        "ship_service_level": str(raw.get("ShipServiceLevel") or ""),
        "ship_service_category": str(raw.get("ShipmentServiceLevelCategory") or ""),
        "earliest_ship_date": to_datetime(raw.get("EarliestShipDate")),
        "latest_ship_date": to_datetime(raw.get("LatestShipDate")),
    }
    if currency:
        values["currency"] = currency
    sales_channel = str(raw.get("SalesChannel") or "").strip()
    values.update(_sales_channel(
        order_id, sales_channel.lower().startswith("non-amazon") if sales_channel else None,
        channel))
    buyer = raw.get("BuyerInfo") or {}
    if buyer:
        values["purchase_order_number"] = str(buyer.get("PurchaseOrderNumber") or "")
    values.update(_ship_to(raw.get("ShippingAddress") or {}, _V0_ADDRESS))
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
    required("", "orderId", order_id)
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
        "purchase_date": to_datetime(required(order_id, "createdTime", raw.get("createdTime"))),
        "last_update_date": to_datetime(required(order_id, "lastUpdatedTime",
                                          raw.get("lastUpdatedTime"))),
        "status": status,
        "fulfillment_channel": required(order_id, "fulfilledBy", channel),
        "seller_order_id": str(aliases.get("SELLER_ORDER_ID") or ""),
        "is_prime": "PRIME" in programs,
        "is_seller_fulfilled_prime": "PRIME" in programs and channel == "MFN",
        "is_premium": "PREMIUM" in programs,
        "is_business": "AMAZON_BUSINESS" in programs,
        "order_total": total,
        "ship_service_category": _LEVEL_2026.get(fulfillment.get("fulfillmentServiceLevel"),
                                                 ""),
        "earliest_ship_date": to_datetime(window.get("earliestDateTime")),
        "latest_ship_date": to_datetime(window.get("latestDateTime")),
    }
    if currency:
        values["currency"] = currency
    channel_name = (raw.get("salesChannel") or {}).get("channelName")
    values.update(_sales_channel(
        order_id, {"AMAZON": False, "NON_AMAZON": True}.get(channel_name), channel))
    buyer = raw.get("buyer") or {}
    if buyer:
        values["purchase_order_number"] = str(buyer.get("buyerPurchaseOrderNumber") or "")
    values.update(_ship_to((raw.get("recipient") or {}).get("deliveryAddress") or {},
                           _2026_ADDRESS))
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
    cancellation = raw.get("cancellation")
    if isinstance(cancellation, dict):
        # Given when asked for (includedData CANCELLATION): a cancellation executed (not
        # only requested) cancels what of the item has not shipped.
        values["cancelled"] = bool(cancellation.get("cancellationExecution"))
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
