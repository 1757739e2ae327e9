"""Flow names, exception reason codes and exception keys the orders services share."""

from __future__ import annotations

from ..models import Shipment

ORDERS_FLOW = "orders"
SHIPMENTS_FLOW = "shipments"
# Exception reasons
UNKNOWN_MARKETPLACE = "unknown_marketplace"
BAD_ORDER = "bad_order_data"
UNKNOWN_CARRIER = "unknown_carrier"
MISSING_TRACKING = "missing_tracking_number"
MISSING_ITEM_IDS = "missing_order_item_ids"
AMAZON_REJECTED = "amazon_rejected"
CONFIRM_ERROR = "confirm_error"
SHIPMENT_REASONS = (UNKNOWN_CARRIER, MISSING_TRACKING, MISSING_ITEM_IDS, AMAZON_REJECTED,
                    CONFIRM_ERROR)


def line_exception_key(order_id: str, seller_sku: str) -> str:
    return f"{order_id}/{seller_sku}"


def shipment_exception_key(shipment: Shipment) -> str:
    return f"{shipment.order.amazon_order_id}/{shipment.package_reference_id}"
