"""Amazon order data in, typed ``OrderData`` out: Orders API v0, Orders API 2026-01-01
(``api``) and the all-orders flat-file report (``report``).

``OrderData.values`` and ``LineData.values`` hold only the columns the source actually
carries: a value a source does not give (the report has no Prime flag, no ship-by window, no
buyer token, no promotion tax) is absent, so the upsert never blanks what another source
stored.
"""

from __future__ import annotations

from .api import (
    line_from_2026,
    line_from_v0,
    lines_from_api,
    order_from_2026,
    order_from_api,
    order_from_v0,
)
from .data import STATUSES, LineData, OrderData, OrderDataError
from .report import REPORT_TYPE, ROWS_KEPT, ReportRowError, iter_report_orders

__all__ = [
    "REPORT_TYPE", "ROWS_KEPT", "STATUSES", "LineData", "OrderData", "OrderDataError",
    "ReportRowError", "iter_report_orders", "line_from_2026", "line_from_v0",
    "lines_from_api", "order_from_2026", "order_from_api", "order_from_v0",
]
