"""Orders behind one interface: Orders API v0 and v2026-01-01 give the same shape.

``client.orders`` is the implementation the account is set to (``orders_api_version``).
Both yield ``NormalizedOrder`` (with ``NormalizedItem`` lines), using the v0 vocabulary for
statuses (``Pending``, ``Unshipped``, ``PartiallyShipped``, ``Shipped``, ``Canceled``,
``Unfulfillable``, ``PendingAvailability``) and fulfilment channels (``AFN``, ``MFN``), and
``Money`` with ``Decimal`` amounts. ``raw`` keeps Amazon's object as it came.

v0 needs one getOrderItems call per order; v2026-01-01 returns the items inside the order.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol


class OrdersClient(Protocol):
    """What the orders implementations use of ``client.SpApiClient`` (which builds them:
    named here, not imported, so the two modules do not import each other)."""

    account: Any

    def get_orders(self, **filters) -> Iterator[dict]: ...

    def get_order(self, order_id: str) -> dict: ...

    def get_order_items(self, order_id: str) -> list[dict]: ...

    def paginate(self, operation_name: str, **kw) -> Iterator[Any]: ...

    def request(self, operation_name: str, **kw) -> dict: ...


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def parse(cls, value: Any, *, amount_key: str, currency_key: str) -> Money | None:
        if not isinstance(value, dict) or value.get(amount_key) in (None, ""):
            return None
        return cls(Decimal(str(value[amount_key])), str(value.get(currency_key) or ""))


@dataclass
class NormalizedItem:
    order_item_id: str
    asin: str
    seller_sku: str
    title: str
    quantity_ordered: int
    quantity_shipped: int
    item_price: Money | None  # for the whole line (unit price x quantity)
    raw: dict = field(repr=False, default_factory=dict)


@dataclass
class NormalizedOrder:
    order_id: str
    marketplace_id: str
    status: str
    fulfillment_channel: str  # AFN | MFN | ""
    purchase_date: str
    last_update_date: str
    order_total: Money | None
    is_prime: bool
    is_business: bool
    items: list[NormalizedItem] | None  # None: not fetched (v0 search)
    raw: dict = field(repr=False, default_factory=dict)


class OrdersApi(Protocol):
    version: str

    def search(
        self,
        *,
        marketplace_ids: list[str],
        created_after: datetime.datetime | str | None = None,
        created_before: datetime.datetime | str | None = None,
        last_updated_after: datetime.datetime | str | None = None,
        last_updated_before: datetime.datetime | str | None = None,
        statuses: list[str] | None = None,
        fulfillment_channels: list[str] | None = None,
    ) -> Iterator[NormalizedOrder]:
        """Every matching order, over all pages (give created_after or last_updated_after)."""

    def get(self, order_id: str) -> NormalizedOrder:
        """One order, with its items."""

    def items(self, order_id: str) -> list[NormalizedItem]:
        """The items of one order."""


# ---------------------------------------------------------------------------- v0


def _v0_money(value: Any) -> Money | None:
    return Money.parse(value, amount_key="Amount", currency_key="CurrencyCode")


def normalize_v0_item(item: dict) -> NormalizedItem:
    return NormalizedItem(
        order_item_id=str(item.get("OrderItemId", "")),
        asin=str(item.get("ASIN", "")),
        seller_sku=str(item.get("SellerSKU") or ""),
        title=str(item.get("Title") or ""),
        quantity_ordered=int(item.get("QuantityOrdered") or 0),
        quantity_shipped=int(item.get("QuantityShipped") or 0),
        item_price=_v0_money(item.get("ItemPrice")),
        raw=item,
    )


def normalize_v0_order(order: dict, items: list[dict] | None = None) -> NormalizedOrder:
    return NormalizedOrder(
        order_id=str(order["AmazonOrderId"]),
        marketplace_id=str(order.get("MarketplaceId") or ""),
        status=str(order.get("OrderStatus") or ""),
        fulfillment_channel=str(order.get("FulfillmentChannel") or ""),
        purchase_date=str(order.get("PurchaseDate") or ""),
        last_update_date=str(order.get("LastUpdateDate") or ""),
        order_total=_v0_money(order.get("OrderTotal")),
        is_prime=bool(order.get("IsPrime")),
        is_business=bool(order.get("IsBusinessOrder")),
        items=[normalize_v0_item(i) for i in items] if items is not None else None,
        raw=order,
    )


class OrdersV0:
    version = "v0"

    def __init__(self, client: OrdersClient) -> None:
        self.client = client

    def search(self, *, marketplace_ids, created_after=None, created_before=None,
               last_updated_after=None, last_updated_before=None, statuses=None,
               fulfillment_channels=None):
        filters = {
            "MarketplaceIds": list(marketplace_ids),
            "CreatedAfter": created_after,
            "CreatedBefore": created_before,
            "LastUpdatedAfter": last_updated_after,
            "LastUpdatedBefore": last_updated_before,
            "OrderStatuses": statuses,
            "FulfillmentChannels": fulfillment_channels,
            "MaxResultsPerPage": 100,
        }
        for order in self.client.get_orders(**filters):
            yield normalize_v0_order(order)

    def get(self, order_id):
        return normalize_v0_order(self.client.get_order(order_id),
                                  self.client.get_order_items(order_id))

    def items(self, order_id):
        return [normalize_v0_item(i) for i in self.client.get_order_items(order_id)]


# ---------------------------------------------------------------------------- v2026-01-01

STATUS_2026_TO_V0 = {
    "PENDING_AVAILABILITY": "PendingAvailability",
    "PENDING": "Pending",
    "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped",
    "SHIPPED": "Shipped",
    "CANCELLED": "Canceled",
    "UNFULFILLABLE": "Unfulfillable",
}
STATUS_V0_TO_2026 = {v: k for k, v in STATUS_2026_TO_V0.items()}
CHANNEL_2026_TO_V0 = {"AMAZON": "AFN", "MERCHANT": "MFN"}
CHANNEL_V0_TO_2026 = {v: k for k, v in CHANNEL_2026_TO_V0.items()}
INCLUDED_DATA = ["FULFILLMENT", "PROCEEDS", "CANCELLATION"]


def _money_2026(value: Any) -> Money | None:
    return Money.parse(value, amount_key="amount", currency_key="currencyCode")


def normalize_2026_item(item: dict) -> NormalizedItem:
    product = item.get("product") or {}
    quantity = int(item.get("quantityOrdered") or 0)
    unit = _money_2026((product.get("price") or {}).get("unitPrice"))
    fulfillment = item.get("fulfillment") or {}
    return NormalizedItem(
        order_item_id=str(item.get("orderItemId", "")),
        asin=str(product.get("asin") or ""),
        seller_sku=str(product.get("sellerSku") or ""),
        title=str(product.get("title") or ""),
        quantity_ordered=quantity,
        quantity_shipped=int(fulfillment.get("quantityFulfilled") or 0),
        item_price=Money(unit.amount * quantity, unit.currency) if unit else None,
        raw=item,
    )


def normalize_2026_order(order: dict) -> NormalizedOrder:
    fulfillment = order.get("fulfillment") or {}
    programs = set(order.get("programs") or [])
    return NormalizedOrder(
        order_id=str(order["orderId"]),
        marketplace_id=str((order.get("salesChannel") or {}).get("marketplaceId") or ""),
        status=STATUS_2026_TO_V0.get(fulfillment.get("fulfillmentStatus"),
                                     str(fulfillment.get("fulfillmentStatus") or "")),
        fulfillment_channel=CHANNEL_2026_TO_V0.get(fulfillment.get("fulfilledBy"), ""),
        purchase_date=str(order.get("createdTime") or ""),
        last_update_date=str(order.get("lastUpdatedTime") or ""),
        order_total=_money_2026((order.get("proceeds") or {}).get("grandTotal")),
        is_prime="PRIME" in programs,
        is_business="AMAZON_BUSINESS" in programs,
        items=[normalize_2026_item(i) for i in order.get("orderItems") or []],
        raw=order,
    )


class Orders2026:
    version = "2026-01-01"

    def __init__(self, client: OrdersClient) -> None:
        self.client = client

    def search(self, *, marketplace_ids, created_after=None, created_before=None,
               last_updated_after=None, last_updated_before=None, statuses=None,
               fulfillment_channels=None):
        params = {
            "marketplaceIds": list(marketplace_ids),
            "createdAfter": created_after,
            "createdBefore": created_before,
            "lastUpdatedAfter": last_updated_after,
            "lastUpdatedBefore": last_updated_before,
            "fulfillmentStatuses": [STATUS_V0_TO_2026.get(s, s) for s in statuses]
            if statuses else None,
            "fulfilledBy": [CHANNEL_V0_TO_2026.get(c, c) for c in fulfillment_channels]
            if fulfillment_channels else None,
            "maxResultsPerPage": 100,
            "includedData": INCLUDED_DATA,
        }
        pages = self.client.paginate(
            "searchOrders",
            params=params,
            extract=lambda b: (b.get("orders", []),
                               (b.get("pagination") or {}).get("nextToken")),
            next_params=lambda p, t: {**p, "paginationToken": t},
        )
        for order in pages:
            yield normalize_2026_order(order)

    def _get_raw(self, order_id: str) -> dict:
        body = self.client.request("getOrder2026", path_params={"orderId": order_id},
                                   params={"includedData": INCLUDED_DATA})
        return body.get("order", {})

    def get(self, order_id):
        return normalize_2026_order(self._get_raw(order_id))

    def items(self, order_id):
        return [normalize_2026_item(i) for i in self._get_raw(order_id).get("orderItems") or []]


def orders_api_for(client: OrdersClient) -> OrdersApi:
    version = getattr(client.account, "orders_api_version", "v0") or "v0"
    if version == Orders2026.version:
        return Orders2026(client)
    if version == OrdersV0.version:
        return OrdersV0(client)
    raise ValueError(f"unknown Orders API version {version!r}")
