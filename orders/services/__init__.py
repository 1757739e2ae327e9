"""Writes for orders, by topic; every public service is importable from here.

- ``upsert``: the idempotent order upsert (API pages and report files share it);
- ``lines``: order lines, their listings, unmapped-SKU exceptions and stock reservations;
- ``shipments``: MFN packages and their confirmation to Amazon;
- ``carrier_mappings``: our carrier names to Amazon's codes;
- ``report``: the all-orders report through the upsert;
- ``reasons`` and ``plans``: flow names, exception reasons and keys; upsert plans and counts.

Every service is keyword-only and atomic.
"""

from __future__ import annotations

from .carrier_mappings import (
    CarrierMappingInvalid,
    carrier_code_checked,
    carrier_mapping_save,
    carrier_mapping_upsert,
)
from .lines import order_lines_fill_ids, order_lines_relink
from .plans import UpsertCounts
from .reasons import (
    AMAZON_REJECTED,
    BAD_ORDER,
    CONFIRM_ERROR,
    MISSING_ITEM_IDS,
    MISSING_TRACKING,
    ORDERS_FLOW,
    SHIPMENTS_FLOW,
    UNKNOWN_CARRIER,
    UNKNOWN_MARKETPLACE,
    line_exception_key,
    shipment_exception_key,
)
from .report import ReportImportResult, orders_report_import
from .shipments import (
    ShipmentInvalid,
    shipment_confirm,
    shipment_mark_confirmed,
    shipment_record,
    shipment_update,
    shipments_cancel,
    shipments_requeue,
)
from .upsert import orders_upsert

__all__ = [
    "AMAZON_REJECTED", "BAD_ORDER", "CONFIRM_ERROR", "MISSING_ITEM_IDS", "MISSING_TRACKING",
    "ORDERS_FLOW", "SHIPMENTS_FLOW", "UNKNOWN_CARRIER", "UNKNOWN_MARKETPLACE",
    "CarrierMappingInvalid", "ReportImportResult", "ShipmentInvalid", "UpsertCounts",
    "carrier_code_checked", "carrier_mapping_save", "carrier_mapping_upsert",
    "line_exception_key", "order_lines_fill_ids", "order_lines_relink",
    "orders_report_import", "orders_upsert", "shipment_confirm", "shipment_exception_key",
    "shipment_mark_confirmed", "shipment_record", "shipment_update", "shipments_cancel",
    "shipments_requeue",
]
