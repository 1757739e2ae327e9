"""The health metrics made of orders (``amazonsync.health``): how late the sync stores
Amazon's order updates, and how many MFN orders were acknowledged within their SLA.

Both are about orders sold on Amazon: multi-channel (MCF) orders, sold elsewhere and
fulfilled by Amazon, count in neither."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from amazonsync.health import SLA_WINDOW, WINDOW, as_ratio, as_seconds, percentile, register_metric

from .models import FulfillmentChannel, Order, OrderStatus, SalesChannel, Source


@register_metric("order_sync_latency", label="Order sync latency (p95)", unit="s",
                 target=Decimal(900), amber=Decimal(1800), higher_is_better=False,
                 position=10, flows=("orders",))
def order_sync_latency(now):
    # From Amazon's last update to when the sync stored that version (on the sync's clock);
    # versions read from a report (a backfill of old orders) are not sync latency.
    per: dict[str, list[float]] = defaultdict(list)
    rows = Order.objects.filter(
        version_stored_at__gte=now - WINDOW, source=Source.API,
        sales_channel=SalesChannel.AMAZON,
    ).values_list("marketplace__code", "last_update_date", "version_stored_at")
    for code, updated, stored in rows:
        per[code].append(max(0.0, (stored - updated).total_seconds()))
    return {
        code: {"value": as_seconds(percentile(v, 0.95)), "p50": as_seconds(percentile(v, 0.5)),
               "orders": len(v)}
        for code, v in per.items()
    }


@register_metric("ack_sla_hit_rate", label="Acknowledgement SLA hit rate", unit="ratio",
                 target=Decimal("0.99"), amber=Decimal("0.95"), higher_is_better=True,
                 position=20, flows=("orders",))
def ack_sla_hit_rate(now):
    """MFN orders due to ship in the last 30 days (not canceled): the share acknowledged in
    time."""
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = Order.objects.filter(
        fulfillment_channel=FulfillmentChannel.MFN, sales_channel=SalesChannel.AMAZON,
        latest_ship_date__gte=now - SLA_WINDOW,
        latest_ship_date__lte=now,
    ).exclude(status=OrderStatus.CANCELED).values_list("marketplace__code", "ack_sla_met")
    for code, met in rows:
        hits[code][1] += 1
        hits[code][0] += bool(met)
    return {code: {"value": as_ratio(h, n), "orders": n} for code, (h, n) in hits.items()}
