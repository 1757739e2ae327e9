"""The integration health metrics, per marketplace.

Seven figures, each with a target and a red/amber/green state. Every metric is computed by
one query across all marketplaces (values lists grouped in Python), so the dashboard costs
the same number of queries whatever the data size. Daily snapshots keep the trends.

A figure is only as good as the flow that feeds it: each metric names its flows, and when
the latest finished run of one of them (for an active account, with the flow switched on
for the marketplace) failed or was refused, the metric is red with the failure in plain
words, whatever its figure says. Two more queries answer that for every metric at once.
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
from django.db.models import F, Max, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from marketplaces.models import AccountMarketplace

from .models import HealthSnapshot, Severity, SyncException, SyncRun
from .registry import UnknownFlow, get_flow

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
    # the registered flows whose data the figure is made of: a failing one makes it red
    flows: tuple[str, ...] = ()
    # (state, reason) of an entry when the value against the target is not the whole rule
    rule: Callable[[Metric, dict], tuple[str, str]] | None = None
    # the entry of a marketplace without rows (None: "no data")
    empty: Callable[[], dict] | None = None

    def judge(self, entry: dict) -> tuple[str, str]:
        """(state, reason in plain words or "") of one computed entry."""
        if self.rule is not None:
            return self.rule(self, entry)
        return self.state(entry.get("value")), ""

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

    # From Amazon's last update to when the sync stored that version (on the sync's clock);
    # versions read from a report (a backfill of old orders) are not sync latency.
    per: dict[str, list[float]] = defaultdict(list)
    rows = Order.objects.filter(version_stored_at__gte=now - WINDOW, source="api").values_list(
        "marketplace__code", "last_update_date", "version_stored_at"
    )
    for code, updated, stored in rows:
        per[code].append(max(0.0, (stored - updated).total_seconds()))
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
    from catalog.models import Listing, PushFeed

    # Per listing, not per message: a SKU Amazon keeps rejecting (already an open exception
    # on the listing) is one failed listing, however often it is sent again. Listings whose
    # latest push was accepted in the window, against those plus the ones still rejected;
    # a feed Amazon did not process at all counts all its messages as failed.
    since = now - WINDOW
    accepted: dict[str, int] = defaultdict(int)
    for code, in Listing.objects.filter(
        Q(last_pushed_quantity_at__gte=since) | Q(last_pushed_price_at__gte=since)
    ).values_list("marketplace__code"):
        accepted[code] += 1
    rejected: dict[str, int] = defaultdict(int)
    for code, _listing in SyncException.objects.filter(
        status__in=[SyncException.Status.OPEN, SyncException.Status.RETRYING],
        reason_code__in=["quantity_push_rejected", "price_push_rejected"],
    ).values_list("marketplace__code", "object_key").distinct().order_by():
        rejected[code] += 1
    for code, messages in PushFeed.objects.filter(
        submitted_at__gte=since, finished_at__isnull=False,
    ).exclude(status="DONE").values_list("marketplace__code", "messages"):
        rejected[code] += messages
    out = {}
    for code in set(accepted) | set(rejected):
        total = accepted[code] + rejected[code]
        out[code] = {"value": _ratio(accepted[code], total), "listings": total,
                     "rejected": rejected[code]}
    return out


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


def _backlog_empty() -> dict:
    return {"value": Decimal(0), "overdue": 0, "critical": 0, "critical_overdue": 0,
            "by_team": {}}


def _backlog_rule(metric: Metric, entry: dict) -> tuple[str, str]:
    """The one rule of the backlog: no open exception is green; open exceptions within their
    SLA are amber (someone has work, nothing is late); any overdue or critical open exception
    makes it red."""
    value = Decimal(entry["value"] or 0)
    urgent = [f"{entry[k]} {k}" for k in ("overdue", "critical") if entry[k]]
    if urgent:
        return RED, f"{value:.0f} open, of which {' and '.join(urgent)}"
    if value > metric.target:
        return AMBER, ""
    return GREEN, ""


def _exception_backlog(now):
    out: dict[str, dict] = {}
    rows = SyncException.objects.filter(
        status__in=[SyncException.Status.OPEN, SyncException.Status.RETRYING]
    ).values_list("marketplace__code", "owner_team", "first_seen", "due_at", "severity")
    for code, team, first_seen, due_at, severity in rows:
        entry = out.setdefault(code or "-", _backlog_empty())
        entry["value"] += 1
        overdue = due_at is not None and due_at < now
        critical = severity == Severity.CRITICAL
        entry["overdue"] += overdue
        entry["critical"] += critical
        entry["critical_overdue"] += overdue and critical
        team_entry = entry["by_team"].setdefault(team, {"count": 0, "oldest_hours": 0})
        team_entry["count"] += 1
        team_entry["oldest_hours"] = max(
            team_entry["oldest_hours"], int((now - first_seen).total_seconds() // 3600)
        )
    return out


METRICS: list[Metric] = [
    Metric("order_sync_latency", "Order sync latency (p95)", "s", Decimal(900),
           Decimal(1800), False, _order_sync_latency, flows=("orders",)),
    Metric("ack_sla_hit_rate", "Acknowledgement SLA hit rate", "ratio", Decimal("0.99"),
           Decimal("0.95"), True, _ack_sla_hit_rate, flows=("orders",)),
    Metric("inventory_freshness", "Inventory freshness (p95 age)", "s", Decimal(3600),
           Decimal(7200), False, _inventory_freshness,
           flows=("fba_inventory_pull", "inventory_push")),
    Metric("catalog_publish_success_rate", "Catalog publish success rate", "ratio",
           Decimal("0.99"), Decimal("0.95"), True, _catalog_publish_success_rate,
           flows=("inventory_push", "price_push")),
    Metric("settlement_reconciliation_drift", "Settlement reconciliation drift", "money",
           Decimal(0), Decimal("1.00"), False, _settlement_drift, flows=("settlements",)),
    Metric("refund_processing_latency", "Refund processing latency (p95)", "s",
           Decimal(2 * 86400), Decimal(4 * 86400), False, _refund_latency,
           flows=("returns",)),
    # the value is the number of open exceptions; overdue and critical ones are details
    Metric("exception_backlog", "Exception backlog (open)", "count", Decimal(0),
           Decimal(10), False, _exception_backlog, rule=_backlog_rule, empty=_backlog_empty),
]
METRIC_BY_KEY = {m.key: m for m in METRICS}


# --- failing flows (two queries for all metrics) --------------------------------------------

FINISHED = (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED, SyncRun.Status.REFUSED)
FAILING = (SyncRun.Status.FAILED, SyncRun.Status.REFUSED)  # a skipped run says nothing


def _ago(moment: datetime.datetime, now: datetime.datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


@dataclass(frozen=True)
class FlowFailure:
    """The latest finished run of a flow for one account (and marketplace) did not succeed."""

    flow: str
    account: str
    marketplace: str | None  # None: a flow that runs once per account
    status: str  # failed or refused
    error: str
    failed_at: datetime.datetime
    last_success: datetime.datetime | None

    def describe(self, now: datetime.datetime) -> str:
        verb = "was refused" if self.status == SyncRun.Status.REFUSED else "failed"
        where = f"{self.account}, {self.marketplace}" if self.marketplace else self.account
        error = " ".join(self.error.split()) or "no error recorded"
        if len(error) > 300:
            error = error[:299] + "…"
        since = (f"last success {_ago(self.last_success, now)}" if self.last_success
                 else "never succeeded")
        return f"{self.flow} flow {verb} {_ago(self.failed_at, now)} ({where}): {error}; {since}"

    def as_dict(self) -> dict:
        return {"flow": self.flow, "account": self.account, "marketplace": self.marketplace,
                "status": self.status, "error": self.error[:1000],
                "failed_at": self.failed_at, "last_success": self.last_success}


def flow_failures(flow_names: Iterable[str], *, codes: Iterable[str] | None = None
                  ) -> dict[tuple[str, str], list[FlowFailure]]:
    """{(marketplace code, flow): failures} for the flows whose latest finished run failed or
    was refused, for active accounts whose switch of that flow is on in that marketplace.

    A flow that runs once per account (no marketplace on its runs) counts for every
    marketplace of the account that has its switch on. Two queries whatever the history:
    the switched-on links, and the latest finished run per (flow, account, marketplace).
    """
    specs = {}
    for name in flow_names:
        try:
            specs[name] = get_flow(name)
        except UnknownFlow:  # the app that registers it is not installed
            continue
    if not specs:
        return {}
    switches = sorted({spec.switch for spec in specs.values() if spec.switch})
    links = AccountMarketplace.objects.filter(account__active=True)
    if codes is not None:
        links = links.filter(marketplace__code__in=list(codes))
    # account id -> [(marketplace id, code, {switch: on})]
    by_account: dict[int, list[tuple[str, str, dict[str, bool]]]] = defaultdict(list)
    for account_id, marketplace_id, code, *flags in links.values_list(
        "account_id", "marketplace_id", "marketplace__code", *switches
    ):
        on = dict(zip(switches, flags, strict=True))
        by_account[account_id].append((marketplace_id, code, on))
    if not by_account:
        return {}

    partition = [F("flow"), F("account_id"), F("marketplace_id")]
    latest = (
        SyncRun.objects.filter(flow__in=list(specs), status__in=FINISHED,
                               finished_at__isnull=False, account__active=True)
        .annotate(
            newest=Window(RowNumber(), partition_by=partition,
                          order_by=[F("finished_at").desc(), F("id").desc()]),
            last_success=Window(Max("finished_at", filter=Q(status=SyncRun.Status.SUCCEEDED)),
                                partition_by=partition),
        )
        .filter(newest=1)
        .order_by()
        .values_list("flow", "account_id", "account__name", "marketplace_id", "status",
                     "error", "finished_at", "last_success")
    )
    out: dict[tuple[str, str], list[FlowFailure]] = defaultdict(list)
    for flow, account_id, account, marketplace_id, status, error, finished, last_ok in latest:
        if status not in FAILING:
            continue
        switch = specs[flow].switch
        for link_marketplace, code, flags in by_account.get(account_id, ()):
            if marketplace_id is not None and link_marketplace != marketplace_id:
                continue
            if switch and not flags[switch]:
                continue
            out[(code, flow)].append(FlowFailure(
                flow=flow, account=account,
                marketplace=code if marketplace_id is not None else None,
                status=status, error=error, failed_at=finished, last_success=last_ok,
            ))
    for failures in out.values():
        failures.sort(key=lambda f: (f.account, f.marketplace or ""))
    return out


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
    """{marketplace code: {metric key: {value, target, state, label, unit, ...details}}}.

    A red entry may carry ``reason`` (plain words) and, when a feeding flow is failing,
    ``failures`` (one dict per failing flow and account)."""
    now = now or timezone.now()
    codes = list(codes) if codes is not None else active_marketplace_codes()
    result: dict[str, dict[str, dict]] = {code: {} for code in codes}
    failures = flow_failures({f for m in METRICS for f in m.flows}, codes=codes)
    for metric in METRICS:
        figures = metric.compute(now)
        for code in codes:
            empty = metric.empty() if metric.empty else {"value": None}
            entry = {**empty, **figures.get(code, {})}
            state, reason = metric.judge(entry)
            failing = [f for flow in metric.flows for f in failures.get((code, flow), ())]
            if failing:  # the figure cannot be trusted while its data stopped coming
                state = RED
                reason = "; ".join(f.describe(now) for f in failing)
                entry["failures"] = [f.as_dict() for f in failing]
            entry.update(target=metric.target, state=state, label=metric.label,
                         unit=metric.unit)
            if reason:
                entry["reason"] = reason
            result[code][metric.key] = entry
    return result


def health_as_json(data: dict[str, dict[str, dict]]) -> dict:
    def clean(value):
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, datetime.datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
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
