"""The integration health metrics, per marketplace.

Seven figures, each with a target and a red/amber/green state. Every metric is computed by
one query across all marketplaces (values lists grouped in Python), so the dashboard costs
the same number of queries whatever the data size. Daily snapshots keep the trends.
"""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from marketplaces.models import AccountMarketplace

from .models import HealthSnapshot, SyncException

GREEN, AMBER, RED, NO_DATA = "green", "amber", "red", "no_data"
WINDOW = datetime.timedelta(days=7)
SLA_WINDOW = datetime.timedelta(days=30)
NEVER = 10.0**9  # seconds: the age of something never synced


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str  # "s", "ratio", "money", "count"
    target: Decimal
    amber: Decimal  # the edge between amber and red
    higher_is_better: bool
    compute: Callable[[datetime.datetime], dict[str, dict]]

    def state(self, value: Decimal | None) -> str:
        if value is None:
            return NO_DATA
        if self.higher_is_better:
            if value >= self.target:
                return GREEN
            return AMBER if value >= self.amber else RED
        if value <= self.target:
            return GREEN
        return AMBER if value <= self.amber else RED


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of a list (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return ordered[rank - 1]


def _installed(label: str) -> bool:
    return apps.is_installed(label)


def _seconds(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(int(value))


def _ratio(num: int, den: int) -> Decimal | None:
    return None if den == 0 else (Decimal(num) / Decimal(den)).quantize(Decimal("0.0001"))


# --- the seven metrics (one query each) -----------------------------------------------------


def _order_sync_latency(now):
    if not _installed("orders"):
        return {}
    from orders.models import Order

    per: dict[str, list[float]] = defaultdict(list)
    rows = Order.objects.filter(first_stored_at__gte=now - WINDOW, source="api").values_list(
        "marketplace__code", "last_update_date", "first_stored_at"
    )
    for code, updated, stored in rows:
        if updated <= stored:  # not changed since we first stored it
            per[code].append((stored - updated).total_seconds())
    return {
        code: {"value": _seconds(percentile(v, 0.95)), "p50": _seconds(percentile(v, 0.5)),
               "orders": len(v)}
        for code, v in per.items()
    }


def _ack_sla_hit_rate(now):
    if not _installed("orders"):
        return {}
    from orders.models import Order

    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = Order.objects.filter(
        fulfillment_channel="MFN", latest_ship_date__gte=now - SLA_WINDOW,
        latest_ship_date__lte=now,
    ).exclude(status="Canceled").values_list("marketplace__code", "ack_sla_met")
    for code, met in rows:
        hits[code][1] += 1
        hits[code][0] += bool(met)
    return {code: {"value": _ratio(h, n), "orders": n} for code, (h, n) in hits.items()}


def _inventory_freshness(now):
    if not _installed("catalog"):
        return {}
    from catalog.models import Listing

    ages: dict[str, list[float]] = defaultdict(list)
    rows = Listing.objects.filter(item__isnull=False).values_list(
        "marketplace__code", "channel", "push_enabled", "last_pushed_quantity_at",
        "fba_stock__pulled_at",
    )
    for code, channel, push, pushed_at, pulled_at in rows:
        if channel == "FBA":
            stamp = pulled_at
        elif push:
            stamp = pushed_at
        else:
            continue
        # never pushed or pulled counts as stale as can be
        ages[code].append((now - stamp).total_seconds() if stamp else NEVER)
    return {
        code: {
            "value": _seconds(percentile(values, 0.95)),
            "stale_over_1h": sum(1 for a in values if a > 3600),
            "skus": len(values),
        }
        for code, values in ages.items()
    }


def _catalog_publish_success_rate(now):
    if not _installed("catalog"):
        return {}
    from catalog.models import PushFeed

    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = PushFeed.objects.filter(
        submitted_at__gte=now - WINDOW, finished_at__isnull=False
    ).values_list("marketplace__code", "accepted", "messages")
    for code, accepted, messages in rows:
        totals[code][0] += accepted
        totals[code][1] += messages
    return {code: {"value": _ratio(a, m), "messages": m} for code, (a, m) in totals.items()}


def _settlement_drift(now):
    if not _installed("settlements"):
        return {}
    from settlements.models import Settlement

    out: dict[str, dict] = {}
    rows = Settlement.objects.filter(end_date__gte=now - datetime.timedelta(days=90)
                                     ).values_list(
        "marketplace__code", "internal_drift", "journal_drift", "deposit_drift", "has_drift"
    )
    for code, internal, journal, deposit, has_drift in rows:
        entry = out.setdefault(code or "-", {"value": Decimal(0), "unreconciled": 0,
                                             "settlements": 0})
        entry["value"] += sum(abs(d) for d in (internal, journal, deposit) if d is not None)
        entry["unreconciled"] += bool(has_drift)
        entry["settlements"] += 1
    return out


def _refund_latency(now):
    if not _installed("returns"):
        return {}
    from returns.models import RefundMatch

    per: dict[str, list[float]] = defaultdict(list)
    rows = RefundMatch.objects.filter(
        returned_at__isnull=False, refunded_at__isnull=False,
        returned_at__gte=now - SLA_WINDOW,
    ).values_list("marketplace__code", "returned_at", "refunded_at")
    for code, returned, refunded in rows:
        per[code or "-"].append(max(0.0, (refunded - returned).total_seconds()))
    return {code: {"value": _seconds(percentile(v, 0.95)), "refunds": len(v)}
            for code, v in per.items()}


def _exception_backlog(now):
    out: dict[str, dict] = {}
    rows = SyncException.objects.filter(
        status__in=[SyncException.Status.OPEN, SyncException.Status.RETRYING]
    ).values_list("marketplace__code", "owner_team", "first_seen", "due_at", "severity")
    for code, team, first_seen, due_at, severity in rows:
        entry = out.setdefault(code or "-", {"value": Decimal(0), "overdue": 0,
                                             "critical_overdue": 0, "by_team": {}})
        entry["value"] += 1
        overdue = due_at is not None and due_at < now
        entry["overdue"] += overdue
        entry["critical_overdue"] += overdue and severity == "critical"
        team_entry = entry["by_team"].setdefault(team, {"count": 0, "oldest_hours": 0})
        team_entry["count"] += 1
        team_entry["oldest_hours"] = max(
            team_entry["oldest_hours"], int((now - first_seen).total_seconds() // 3600)
        )
    return out


METRICS: list[Metric] = [
    Metric("order_sync_latency", "Order sync latency (p95)", "s", Decimal(900),
           Decimal(1800), False, _order_sync_latency),
    Metric("ack_sla_hit_rate", "Acknowledgement SLA hit rate", "ratio", Decimal("0.99"),
           Decimal("0.95"), True, _ack_sla_hit_rate),
    Metric("inventory_freshness", "Inventory freshness (p95 age)", "s", Decimal(3600),
           Decimal(7200), False, _inventory_freshness),
    Metric("catalog_publish_success_rate", "Catalog publish success rate", "ratio",
           Decimal("0.99"), Decimal("0.95"), True, _catalog_publish_success_rate),
    Metric("settlement_reconciliation_drift", "Settlement reconciliation drift", "money",
           Decimal(0), Decimal("1.00"), False, _settlement_drift),
    Metric("refund_processing_latency", "Refund processing latency (p95)", "s",
           Decimal(2 * 86400), Decimal(4 * 86400), False, _refund_latency),
    Metric("exception_backlog", "Exception backlog (overdue)", "count", Decimal(0),
           Decimal(10), False, _exception_backlog),
]
METRIC_BY_KEY = {m.key: m for m in METRICS}


def _backlog_state(entry: dict) -> str:
    if entry["critical_overdue"]:
        return RED
    if entry["overdue"] > METRIC_BY_KEY["exception_backlog"].amber:
        return RED
    return AMBER if entry["overdue"] else GREEN


def active_marketplace_codes() -> list[str]:
    return sorted(
        set(
            AccountMarketplace.objects.filter(account__active=True).values_list(
                "marketplace__code", flat=True
            )
        )
    )


def health_compute(*, now: datetime.datetime | None = None,
                   codes: Iterable[str] | None = None) -> dict[str, dict[str, dict]]:
    """{marketplace code: {metric key: {value, target, state, label, unit, ...details}}}."""
    now = now or timezone.now()
    codes = list(codes) if codes is not None else active_marketplace_codes()
    result: dict[str, dict[str, dict]] = {code: {} for code in codes}
    for metric in METRICS:
        figures = metric.compute(now)
        for code in codes:
            entry = dict(figures.get(code, {"value": None}))
            value = entry.get("value")
            if metric.key == "exception_backlog":
                entry.setdefault("overdue", 0)
                entry.setdefault("critical_overdue", 0)
                value = Decimal(entry["value"] or 0)
                entry["value"] = value
                state = _backlog_state(entry)
            else:
                state = metric.state(value)
            entry.update(target=metric.target, state=state, label=metric.label,
                         unit=metric.unit)
            result[code][metric.key] = entry
    return result


def health_as_json(data: dict[str, dict[str, dict]]) -> dict:
    def clean(value):
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return {"marketplaces": {code: {key: clean(entry) for key, entry in metrics.items()}
                             for code, metrics in data.items()}}


def health_snapshot_store(*, now: datetime.datetime | None = None) -> int:
    """Store (or refresh) today's figures per marketplace; idempotent per day."""
    now = now or timezone.now()
    data = health_compute(now=now)
    from marketplaces.models import Marketplace

    ids = dict(Marketplace.objects.filter(code__in=list(data)).values_list("code", "id"))
    stored = 0
    with transaction.atomic():
        for code, metrics in data.items():
            for key, entry in metrics.items():
                HealthSnapshot.objects.update_or_create(
                    day=now.date(), marketplace_id=ids[code], metric=key,
                    defaults={"value": entry["value"], "state": entry["state"]},
                )
                stored += 1
    return stored


def health_trends(*, days: int = 30, today: datetime.date | None = None) -> dict:
    """{code: {metric: [(day, value or None), ...]}} for the last ``days`` days."""
    today = today or timezone.localdate()
    start = today - datetime.timedelta(days=days - 1)
    out: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for code, metric, day, value in HealthSnapshot.objects.filter(day__gte=start).order_by(
        "day"
    ).values_list("marketplace__code", "metric", "day", "value"):
        out[code][metric].append((day, value))
    return out
