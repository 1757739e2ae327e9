"""The SP-API operations this back office uses, with Amazon's default usage plans.

One table shared by the client (token buckets, URL building) and the local sandbox
(rate-limit enforcement, routing). Rates are requests per second, bursts are bucket sizes,
as published in each operation's model description (../shared/spapi/models).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: str  # template with {placeholders}
    rate: float  # requests per second (restore rate)
    burst: int

    def format_path(self, **params: str) -> str:
        return self.path.format(**params)


_OPS = [
    # Orders v0
    Operation("getOrders", "GET", "/orders/v0/orders", 0.0167, 20),
    Operation("getOrder", "GET", "/orders/v0/orders/{orderId}", 0.5, 30),
    Operation("getOrderItems", "GET", "/orders/v0/orders/{orderId}/orderItems", 0.5, 30),
    Operation(
        "confirmShipment", "POST", "/orders/v0/orders/{orderId}/shipmentConfirmation", 2, 10
    ),
    # Orders v2026-01-01
    Operation("searchOrders", "GET", "/orders/2026-01-01/orders", 0.0056, 20),
    Operation("getOrder2026", "GET", "/orders/2026-01-01/orders/{orderId}", 0.5, 30),
    # Reports 2021-06-30
    Operation("createReport", "POST", "/reports/2021-06-30/reports", 0.0167, 15),
    Operation("getReports", "GET", "/reports/2021-06-30/reports", 0.0222, 10),
    Operation("getReport", "GET", "/reports/2021-06-30/reports/{reportId}", 2, 15),
    Operation(
        "getReportDocument",
        "GET",
        "/reports/2021-06-30/documents/{reportDocumentId}",
        0.0167,
        15,
    ),
    # Feeds 2021-06-30
    Operation("createFeedDocument", "POST", "/feeds/2021-06-30/documents", 0.5, 15),
    Operation("createFeed", "POST", "/feeds/2021-06-30/feeds", 0.0083, 15),
    Operation("getFeed", "GET", "/feeds/2021-06-30/feeds/{feedId}", 2, 15),
    Operation(
        "getFeedDocument", "GET", "/feeds/2021-06-30/documents/{feedDocumentId}", 0.0222, 10
    ),
    # Listings items 2021-08-01
    Operation(
        "getListingsItem", "GET", "/listings/2021-08-01/items/{sellerId}/{sku}", 5, 10
    ),
    Operation(
        "patchListingsItem", "PATCH", "/listings/2021-08-01/items/{sellerId}/{sku}", 5, 5
    ),
    # FBA inventory v1
    Operation("getInventorySummaries", "GET", "/fba/inventory/v1/summaries", 2, 2),
    # Fulfillment inbound v0
    Operation("getShipments", "GET", "/fba/inbound/v0/shipments", 2, 30),
    Operation(
        "getShipmentItemsByShipmentId",
        "GET",
        "/fba/inbound/v0/shipments/{shipmentId}/items",
        2,
        30,
    ),
    # Finances v0
    Operation("listFinancialEvents", "GET", "/finances/v0/financialEvents", 0.5, 30),
    # Sellers v1
    Operation(
        "getMarketplaceParticipations",
        "GET",
        "/sellers/v1/marketplaceParticipations",
        0.016,
        15,
    ),
]

OPERATIONS: dict[str, Operation] = {op.name: op for op in _OPS}

# Regional SP-API endpoints and the Login with Amazon token endpoint.
REGION_HOSTS = {
    "NA": "https://sellingpartnerapi-na.amazon.com",
    "EU": "https://sellingpartnerapi-eu.amazon.com",
    "FE": "https://sellingpartnerapi-fe.amazon.com",
}
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
