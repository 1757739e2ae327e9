"""The health metric made of returns (``amazonsync.health``): how long refunds take."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from amazonsync.health import SLA_WINDOW, as_seconds, percentile, register_metric

from .models import RefundMatch


@register_metric("refund_processing_latency", label="Refund processing latency (p95)",
                 unit="s", target=Decimal(2 * 86400), amber=Decimal(4 * 86400),
                 higher_is_better=False, position=60, flows=("returns",))
def refund_latency(now):
    """From the return to its refund, for returns of the last 30 days that were refunded."""
    per: dict[str, list[float]] = defaultdict(list)
    rows = RefundMatch.objects.filter(
        returned_at__isnull=False, refunded_at__isnull=False,
        returned_at__gte=now - SLA_WINDOW,
    ).values_list("marketplace__code", "returned_at", "refunded_at")
    for code, returned, refunded in rows:
        per[code or "-"].append(max(0.0, (refunded - returned).total_seconds()))
    return {code: {"value": as_seconds(percentile(v, 0.95)), "refunds": len(v)}
            for code, v in per.items()}
