"""Writes for the catalog, by topic; every public service is importable from here.

- ``listings``: unmapped discovery (the contract every importer uses), mapping, push switch;
- ``stock``: ``stock_adjust``, the one write of merchant and FBA stock (kits included);
- ``push``: quantities and prices sent to Amazon as listings feeds;
- ``fba``: FBA stock and inbound shipments pulled from Amazon.
"""

from __future__ import annotations

from .fba import (
    CHANNEL_MISMATCH,
    FBA_SOURCE,
    INBOUND_DISCREPANCY,
    INBOUND_SOURCE,
    fba_stock_pull,
    inbound_pull,
)
from .listings import (
    DISCOVERY_FLOW,
    UNMAPPED_SKU,
    WAITING_ON_MAPPING,
    listing_discover,
    listing_key,
    listing_map,
    listings_map,
    listings_mapping_applied,
    listings_set_push,
    mapping_applied,
)
from .push import (
    FEED_FAILED,
    PRICE_REJECTED,
    QUANTITY_REJECTED,
    PushOutcome,
    prices_push,
    quantities_push,
)
from .stock import (
    FBA,
    MERCHANT,
    StockChange,
    StockError,
    stock_adjust,
    stock_changes_detail,
)

__all__ = [
    "CHANNEL_MISMATCH", "DISCOVERY_FLOW", "FBA", "FBA_SOURCE", "FEED_FAILED",
    "INBOUND_DISCREPANCY", "INBOUND_SOURCE", "MERCHANT", "PRICE_REJECTED",
    "QUANTITY_REJECTED", "UNMAPPED_SKU", "WAITING_ON_MAPPING", "PushOutcome", "StockChange",
    "StockError", "fba_stock_pull", "inbound_pull", "listing_discover", "listing_key",
    "listing_map", "listings_map", "listings_mapping_applied", "listings_set_push",
    "mapping_applied", "prices_push", "quantities_push", "stock_adjust",
    "stock_changes_detail",
]
