"""Builders for Amazon order payloads (Orders API v0 shapes)."""

from __future__ import annotations

import datetime
import itertools

from amazonsync.sandbox.reports import ALL_ORDERS_COLUMNS

US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"
JP = "A1VC38T7YXB528"
DE = "A1PA6795UKMFR9"
T0 = datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.UTC)

_ids = itertools.count(10_000_000_000_001)


def iso(dt: datetime.datetime) -> str:
    return dt.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: str, currency: str) -> dict:
    return {"CurrencyCode": currency, "Amount": amount}


def v0_order(order_id: str, *, status: str = "Unshipped", channel: str = "MFN",
             updated: datetime.datetime = T0, purchased: datetime.datetime | None = None,
             total: str | None = "21.98", currency: str = "USD", marketplace: str = US,
             buyer: str | None = "buyer-1@marketplace.amazon.com", prime: bool = False,
             latest_ship: datetime.datetime | None = None) -> dict:
    purchased = purchased or (updated - datetime.timedelta(hours=2))
    order = {
        "AmazonOrderId": order_id,
        "PurchaseDate": iso(purchased),
        "LastUpdateDate": iso(updated),
        "OrderStatus": status,
        "FulfillmentChannel": channel,
        "SalesChannel": "Amazon.com",
        "ShipServiceLevel": "Std US D2D Dom",
        "MarketplaceId": marketplace,
        "ShipmentServiceLevelCategory": "Standard",
        "EarliestShipDate": iso(purchased + datetime.timedelta(hours=4)),
        "LatestShipDate": iso(latest_ship or purchased + datetime.timedelta(days=2)),
        "IsBusinessOrder": False,
        "IsPrime": prime,
        "IsPremiumOrder": False,
        "IsReplacementOrder": False,
    }
    if total is not None and status not in ("Pending", "Canceled"):
        order["OrderTotal"] = money(total, currency)
    if buyer and status not in ("Pending", "Canceled"):
        order["BuyerInfo"] = {"BuyerEmail": buyer}
        order["ShippingAddress"] = {"City": "Seattle", "StateOrRegion": "WA",
                                    "PostalCode": "98109", "CountryCode": "US"}
    return order


def v0_item(sku: str, *, item_id: str | None = None, qty: int = 1, shipped: int = 0,
            price: str | None = "19.99", tax: str = "1.99", currency: str = "USD",
            asin: str = "B0TEST0001", promo: str = "0.00") -> dict:
    item = {
        "ASIN": asin, "SellerSKU": sku, "OrderItemId": item_id or str(next(_ids)),
        "Title": f"Product {sku}", "QuantityOrdered": qty, "QuantityShipped": shipped,
    }
    if price is not None:
        item.update({
            "ItemPrice": money(price, currency), "ItemTax": money(tax, currency),
            "ShippingPrice": money("0.00" if currency != "JPY" else "0", currency),
            "ShippingTax": money("0.00" if currency != "JPY" else "0", currency),
            "PromotionDiscount": money(promo, currency),
            "PromotionDiscountTax": money("0.00" if currency != "JPY" else "0", currency),
        })
    return item


def data(order: dict, items: list[dict] | None = None):
    from orders.parsers import order_from_api

    return order_from_api(order, items=items)


def stock(item):
    from catalog.models import MerchantStock

    s = MerchantStock.objects.get(item=item)
    return s.on_hand, s.reserved


REPORT_COLUMNS = ALL_ORDERS_COLUMNS  # Amazon's all-orders header, as the sandbox writes it


def report_row(order_id: str, sku: str, *, status: str = "Pending", channel: str = "Merchant",
               updated: datetime.datetime = T0, qty: int = 1, price: str = "19.99",
               tax: str = "1.99", currency: str = "USD", sales_channel: str = "Amazon.com",
               item_status: str = "Unshipped", promo: str = "0.00") -> dict:
    purchased = updated - datetime.timedelta(hours=2)
    priced = bool(currency)
    return {
        "amazon-order-id": order_id, "purchase-date": purchased.isoformat(),
        "last-updated-date": updated.isoformat(), "order-status": status,
        "fulfillment-channel": channel, "sales-channel": sales_channel,
        "ship-service-level": "Standard", "product-name": f"Product {sku}", "sku": sku,
        "asin": "B0TEST0001", "item-status": item_status, "quantity": str(qty),
        "currency": currency, "item-price": price if priced else "",
        "item-tax": tax if priced else "", "shipping-price": "0.00" if priced else "",
        "shipping-tax": "0.00" if priced else "",
        "item-promotion-discount": f"-{promo}" if priced and promo != "0.00" else
        ("0.00" if priced else ""),
        "ship-city": "Seattle" if priced else "", "ship-state": "WA" if priced else "",
        "ship-postal-code": "98109" if priced else "", "ship-country": "US",
        "is-business-order": "false",
    }


def report_text(rows: list[dict]) -> str:
    lines = ["\t".join(REPORT_COLUMNS)]
    lines += ["\t".join(str(r.get(c, "")) for c in REPORT_COLUMNS) for r in rows]
    return "\n".join(lines) + "\n"
