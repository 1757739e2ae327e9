"""The integration health metrics, per marketplace: a registry the apps fill.

Each figure has a target and a red/amber/green state. Every app registers the figures made
of its own data next to its flows, in ``<app>/health.py`` (``register_metric``, discovered at
start-up by ``AmazonsyncConfig.ready``), so this module imports no app; the engine registers
the one made of its own table, the exception backlog. A metric's ``compute(now)`` answers
for every marketplace with one query (values lists grouped in Python), so the dashboard
costs the same number of queries whatever the data size. Daily snapshots keep the trends.

A figure is only as good as the flow that feeds it: each metric names its flows, and when
the latest finished run of one of them (for an active account, with the flow switched on
for the marketplace) failed or was refused, the metric is red with the failure in plain
words, whatever its figure says. Two more queries answer that for every metric at once
(seller accounts and their switches come from the account directory,
``amazonsync.accounts``).
"""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Max, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from .accounts import accounts
from .models import HealthSnapshot, Severity, SyncException, SyncRun
from .registry import UnknownFlow, get_flow

GREEN, AMBER, RED, NO_DATA = "green", "amber", "red", "no_data"
WINDOW = datetime.timedelta(days=7)
SLA_WINDOW = datetime.timedelta(days=30)
NEVER = 10.0**9  # seconds: the age of something never synced

# compute(now) -> {marketplace code: {"value": ..., details...}}
Compute = Callable[[datetime.datetime], dict[str, dict]]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str  # "s", "ratio", "money", "count"
    target: Decimal
    amber: Decimal  # the edge between amber and red
    higher_is_better: bool
    compute: Compute
    # the registered flows whose data the figure is made of: a failing one makes it red
    flows: tuple[str, ...] = ()
    # (state, reason) of an entry when the value against the target is not the whole rule
    rule: Callable[[Metric, dict], tuple[str, str]] | None = None
    # the entry of a marketplace without rows (None: "no data")
    empty: Callable[[], dict] | None = None
    # where the figure stands on the dashboard, in ``health --json`` and in snapshots
    position: int = 0

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


# --- the registry ---------------------------------------------------------------------------

_METRICS: dict[str, Metric] = {}


def register_metric(
    key: str,
    *,
    label: str,
    unit: str,
    target: Decimal,
    amber: Decimal,
    higher_is_better: bool,
    position: int,
    flows: tuple[str, ...] = (),
    rule: Callable[[Metric, dict], tuple[str, str]] | None = None,
    empty: Callable[[], dict] | None = None,
) -> Callable[[Compute], Compute]:
    """Decorate ``compute(now)`` to make it a health metric (see ``Metric``); ``position``
    orders the metrics (the dashboard's rows, the command's lines)."""

    def decorator(compute: Compute) -> Compute:
        _METRICS[key] = Metric(
            key=key, label=label, unit=unit, target=target, amber=amber,
            higher_is_better=higher_is_better, compute=compute, flows=tuple(flows),
            rule=rule, empty=empty, position=position,
        )
        return compute

    return decorator


def metrics() -> list[Metric]:
    """The registered metrics, in their order."""
    return sorted(_METRICS.values(), key=lambda m: (m.position, m.key))


def get_metric(key: str) -> Metric:
    return _METRICS[key]


def unregister_metric(key: str) -> None:
    """For tests that register throw-away metrics."""
    _METRICS.pop(key, None)


# --- helpers for the apps' compute functions ------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of a list (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return ordered[rank - 1]


def as_seconds(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(int(value))


def as_ratio(num: int, den: int) -> Decimal | None:
    return None if den == 0 else (Decimal(num) / Decimal(den)).quantize(Decimal("0.0001"))


# --- the engine's own metric: the exception backlog -----------------------------------------


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


# the value is the number of open exceptions; overdue and critical ones are details
@register_metric("exception_backlog", label="Exception backlog (open)", unit="count",
                 target=Decimal(0), amber=Decimal(10), higher_is_better=False, position=70,
                 rule=_backlog_rule, empty=_backlog_empty)
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
    # account id -> [(marketplace id, code, {switch: on})]
    by_account: dict[int, list[tuple[str, str, dict[str, bool]]]] = defaultdict(list)
    for account_id, marketplace_id, code, on in accounts().switched_links(
        switches=switches, codes=None if codes is None else list(codes)
    ):
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


def health_compute(*, now: datetime.datetime | None = None,
                   codes: Iterable[str] | None = None) -> dict[str, dict[str, dict]]:
    """{marketplace code: {metric key: {value, target, state, label, unit, ...details}}}.

    A red entry may carry ``reason`` (plain words) and, when a feeding flow is failing,
    ``failures`` (one dict per failing flow and account)."""
    now = now or timezone.now()
    codes = list(codes) if codes is not None else accounts().active_marketplace_codes()
    result: dict[str, dict[str, dict]] = {code: {} for code in codes}
    registered = metrics()
    failures = flow_failures({f for m in registered for f in m.flows}, codes=codes)
    for metric in registered:
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
    ids = accounts().marketplace_ids(codes=list(data))
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
