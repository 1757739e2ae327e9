"""Runs a person asks for in the admin: "Run now" and "Backfill from…".

``run_enqueue`` records the run at once (status *queued*, so it shows in Sync runs with who
asked) and hands it to the django-q2 workers once the transaction commits; ``run_start`` is
what the worker calls: the runner (``services.flow_run``) takes the queued row over, marks it
running, writes its counts as it goes and finishes it. A request the engine would refuse is
refused here first, in words, before anything is queued: a flow switched off for the
marketplace, an account that may not run (inactive, needs re-authorisation, expired or
unreadable secret), a run of the same flow already queued or going, a backfill date for a
flow that cannot read from a date.

Also the reads the run screens share: flow labels, the latest run per flow of an account,
the flows whose latest run failed.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from .accounts import accounts
from .models import SyncLock, SyncRun
from .registry import UnknownFlow, all_flows, get_flow
from .services import LOCK_TTL, flow_run

TASK = "amazonsync.tasks.run_queued"

FLOW_LABELS = {
    "orders": "Orders",
    "shipments": "Shipment confirmations",
    "inventory_push": "Stock push",
    "price_push": "Price push",
    "fba_inventory_pull": "FBA stock",
    "inbound_pull": "Inbound shipments",
    "settlements": "Settlements",
    "returns": "Returns",
    "account_check": "Account check",
}

ACTIVE = (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)
FAILING = (SyncRun.Status.FAILED, SyncRun.Status.REFUSED)
FINISHED = (SyncRun.Status.SUCCEEDED, *FAILING)
NEVER_STARTED = "never started: no worker picked the run up"


def flow_label(name: str) -> str:
    """A flow as people name it: ``fba_inventory_pull`` -> "FBA stock"."""
    return FLOW_LABELS.get(name) or name.replace("_", " ").capitalize()


class RunRefused(Exception):
    """A run a person asked for that may not be queued; the message says why, in words."""


def _since_moment(since: datetime.date | datetime.datetime | None) -> datetime.datetime | None:
    if since is None or isinstance(since, datetime.datetime):
        return since
    return datetime.datetime.combine(since, datetime.time.min, tzinfo=datetime.UTC)


def _check(*, spec, account, marketplace, since: datetime.datetime | None) -> None:
    """Refuse what the engine would refuse, before anything is queued."""
    label = flow_label(spec.name)
    if since is not None:
        if not spec.backfill:
            raise RunRefused(f"The {label} flow cannot backfill from a date.")
        if since > timezone.now():
            raise RunRefused("The backfill date is in the future: choose a past date.")
    if spec.per_marketplace and marketplace is None:
        raise RunRefused(f"The {label} flow runs per marketplace: choose a marketplace.")
    problem = accounts().problem(account)
    if problem is not None:
        raise RunRefused(f"Not queued: {problem[1]}")
    code = marketplace.code if marketplace is not None else None
    if not accounts().targets(flow=spec, account_id=account.pk, marketplace_code=code):
        where = f" in {marketplace}" if marketplace is not None else ""
        raise RunRefused(
            f"The {label} flow is switched off{where} for {account.name}: switch it on in the "
            "account's marketplaces first."
        )


def run_enqueue(
    *,
    flow: str,
    account_id: int,
    marketplace_id: str | None = None,
    user: Any = None,
    since: datetime.date | datetime.datetime | None = None,
) -> SyncRun:
    """Queue one run of a flow for an account (and marketplace), or raise ``RunRefused``.

    The run is recorded as queued with who asked; the worker gets it after the commit.
    ``since``: read again from this date (a backfill; a date means midnight UTC)."""
    try:
        spec = get_flow(flow)
    except UnknownFlow:
        raise RunRefused(f"There is no flow called {flow!r}.") from None
    directory = accounts()
    account = directory.account(account_id)
    marketplace = (directory.marketplace(marketplace_id)
                   if marketplace_id and spec.per_marketplace else None)
    moment = _since_moment(since)
    _check(spec=spec, account=account, marketplace=marketplace, since=moment)
    now = timezone.now()
    scope = marketplace.pk if marketplace is not None else ""
    with transaction.atomic():
        # one request at a time per target: the lock row serialises them
        SyncLock.objects.get_or_create(flow=flow, account=account, scope=scope)
        lock = SyncLock.objects.select_for_update().get(flow=flow, account=account, scope=scope)
        same = SyncRun.objects.filter(flow=flow, account=account, marketplace=marketplace)
        same.filter(status=SyncRun.Status.QUEUED, started_at__lt=now - LOCK_TTL).update(
            status=SyncRun.Status.FAILED, finished_at=now, error=NEVER_STARTED)
        busy = same.filter(status__in=ACTIVE, started_at__gte=now - LOCK_TTL).first()
        if busy is None and lock.holder and lock.expires_at and lock.expires_at > now:
            busy = lock.run
        if busy is not None:
            raise RunRefused(
                f"The {flow_label(flow)} flow is already "
                f"{busy.get_status_display().lower()} for this account"
                f"{' in ' + str(marketplace) if marketplace else ''} (run #{busy.pk}): "
                "wait for it to finish."
            )
        run = SyncRun.objects.create(
            flow=flow, account=account, marketplace=marketplace,
            trigger=SyncRun.Trigger.MANUAL, status=SyncRun.Status.QUEUED, started_at=now,
            since=moment, requested_by=user if getattr(user, "pk", None) else None,
        )
        transaction.on_commit(lambda: _hand_over(run.pk))
    return run


def _hand_over(run_id: int) -> None:
    from django_q.tasks import async_task

    async_task(TASK, run_id, task_name=f"run {run_id}")


def run_start(*, run_id: int) -> SyncRun:
    """Run a queued run (the worker's side of ``run_enqueue``); a run no longer queued is
    left as it is."""
    run = SyncRun.objects.select_related("account", "marketplace").get(pk=run_id)
    if run.status != SyncRun.Status.QUEUED:
        return run
    return flow_run(flow=run.flow, account_id=run.account_id,
                    marketplace_id=run.marketplace_id, trigger=run.trigger, queued=run)


# --- reads -----------------------------------------------------------------------------------


def latest_runs(*, account_id: int) -> dict[tuple[str, str | None], SyncRun]:
    """{(flow, marketplace id or None): the account's newest run} (one query)."""
    partition = [F("flow"), F("marketplace_id")]
    rows = (
        SyncRun.objects.filter(account_id=account_id)
        .annotate(newest=Window(RowNumber(), partition_by=partition,
                                order_by=[F("started_at").desc(), F("id").desc()]))
        .filter(newest=1)
        .order_by()
    )
    return {(run.flow, run.marketplace_id): run for run in rows}


@dataclass(frozen=True)
class FailingFlow:
    flow: str
    account_id: int
    account: str
    marketplace_id: str | None
    marketplace: str  # "Amazon.de (DE)", or "" for a flow run once per account
    status: str
    error: str
    finished_at: datetime.datetime

    @property
    def label(self) -> str:
        return flow_label(self.flow)


def failing_flows() -> list[FailingFlow]:
    """The flows whose latest finished run failed or was refused, per active account and
    marketplace where the flow is switched on (two queries)."""
    specs = {spec.name: spec for spec in all_flows()}
    switches = sorted({spec.switch for spec in specs.values() if spec.switch})
    on: dict[int, dict[str, dict[str, bool]]] = defaultdict(dict)
    for account_id, marketplace_id, _code, flags in accounts().switched_links(switches=switches):
        on[account_id][marketplace_id] = flags
    partition = [F("flow"), F("account_id"), F("marketplace_id")]
    latest = (
        SyncRun.objects.filter(flow__in=list(specs), status__in=FINISHED,
                               finished_at__isnull=False, account__active=True)
        .annotate(newest=Window(RowNumber(), partition_by=partition,
                                order_by=[F("finished_at").desc(), F("id").desc()]))
        .filter(newest=1)
        .select_related("account", "marketplace")
        .order_by()
    )
    out = []
    for run in latest:
        if run.status not in FAILING:
            continue
        switch = specs[run.flow].switch
        links = on.get(run.account_id, {})
        if run.marketplace_id is not None:
            flags = links.get(run.marketplace_id)
            if flags is None or (switch and not flags[switch]):
                continue
        elif switch and not any(flags[switch] for flags in links.values()):
            continue
        out.append(FailingFlow(
            flow=run.flow, account_id=run.account_id, account=run.account.name,
            marketplace_id=run.marketplace_id,
            marketplace=str(run.marketplace) if run.marketplace_id else "",
            status=run.status, error=" ".join(run.error.split()),
            finished_at=run.finished_at,
        ))
    out.sort(key=lambda f: (f.account, f.label, f.marketplace))
    return out
