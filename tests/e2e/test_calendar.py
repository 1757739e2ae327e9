"""Any day, any clock: the demo and a month of every flow at several dates.

The whole process is moved to each date with time-machine (Django's ``timezone.now``, the
sandbox's present, the clients' simulated clocks all follow). The sandbox world lives in the
present, so at every date the demo must load orders in every marketplace, an MFN package,
settlements whose reconciliation finds their orders, and then four weekly rounds of every
flow must succeed with nothing refused and no request rejected for its dates.
"""

from __future__ import annotations

import datetime

import pytest
import requests
import time_machine

from amazonsync.demo import demo_load
from amazonsync.flows import client_options
from amazonsync.health import health_compute
from amazonsync.models import SyncRun
from amazonsync.sandbox import world as sandbox_world
from amazonsync.sandbox.server import start_sandbox_app
from amazonsync.services import flow_run
from amazonsync.spapi.clock import SimulatedClock
from amazonsync.spapi.ratelimit import MemoryBucketStore
from marketplaces.models import AccountMarketplace, SellerAccount
from orders.models import Order, Shipment
from settlements.models import Settlement
from settlements.selectors import order_reconciliation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.calendar]

ORDERS = 600
UTC = datetime.UTC
_NOW = datetime.datetime.now(UTC).replace(microsecond=0)

DATES = {
    "today": _NOW,
    "400 days ahead": _NOW + datetime.timedelta(days=400),
    "month end": datetime.datetime(2027, 4, 30, 23, 50, tzinfo=UTC),
    "EU summer time starts": datetime.datetime(2027, 3, 28, 0, 59, tzinfo=UTC),
    "US summer time ends": datetime.datetime(2027, 11, 7, 5, 59, tzinfo=UTC),
    "29 February": datetime.datetime(2028, 2, 29, 12, 0, tzinfo=UTC),
    "31 December 23:59": datetime.datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
}
WEEK = 7 * sandbox_world.DAY


MONTH_MARKETPLACES = ("US", "JP")  # two currencies, two regions: the month stays cheap


def _month_of_flows(account: SellerAccount, traveller) -> list[SyncRun]:
    """Every flow of the account (per-marketplace flows in US and JP), then four weekly
    rounds, against a sandbox that lives in the (travelled) present; the process clock moves
    with the sandbox's."""
    url, stop, app = start_sandbox_app(port=0, orders=ORDERS)
    SellerAccount.objects.filter(pk=account.pk).update(
        api_base_url=url, token_url=f"{url}/auth/o2/token", access_token="",
        access_token_expires_at=None)
    # ...and wherever the demo's MFN package waits for the shipments flow
    codes = set(MONTH_MARKETPLACES) | set(Shipment.objects.filter(
        order__account=account).values_list("order__marketplace__code", flat=True))
    links = list(AccountMarketplace.objects.filter(
        account=account, marketplace__code__in=codes).order_by("marketplace_id"))
    first = SyncRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    try:
        for week in range(5):
            if week:
                requests.post(f"{url}/_sandbox/advance", json={"seconds": WEEK},
                              timeout=10).raise_for_status()
                traveller.shift(WEEK)
            with client_options(clock=SimulatedClock(start=app.now),
                                bucket_store=MemoryBucketStore()):
                for link in links:
                    for flow in ("orders", "shipments", "returns", "fba_inventory_pull",
                                 "inbound_pull", "inventory_push", "price_push"):
                        flow_run(flow=flow, account_id=account.pk,
                                 marketplace_id=link.marketplace_id)
                flow_run(flow="settlements", account_id=account.pk)
                flow_run(flow="account_check", account_id=account.pk)
    finally:
        stop()
    return list(SyncRun.objects.filter(pk__gt=first, account=account))


@pytest.mark.parametrize("when", list(DATES.values()), ids=list(DATES))
def test_demo_and_a_month_of_flows_on_any_date(when):
    with time_machine.travel(when, tick=True) as traveller:
        lines: list[str] = []
        demo_load(sandbox={"orders": ORDERS}, log=lines.append)  # raises if a flow fails
        account = SellerAccount.objects.get(
            selling_partner_id=sandbox_world.DEFAULT_SELLER)
        codes = set(AccountMarketplace.objects.filter(account=account)
                    .values_list("marketplace__code", flat=True))
        with_orders = set(Order.objects.filter(account=account)
                          .values_list("marketplace__code", flat=True))
        assert with_orders == codes, lines
        # the newest order is from the travelled present, not from a frozen world
        newest = Order.objects.filter(account=account).order_by("-purchase_date").first()
        assert when - newest.purchase_date < datetime.timedelta(days=2)
        assert Shipment.objects.filter(order__account=account).exists()
        settlements = Settlement.objects.filter(account=account)
        assert settlements.exists()
        # reconciliation finds the orders of the settlements of the last two months (older
        # ones may refund orders bought before the 90-day backfill)
        recent = settlements.filter(end_date__gte=when - datetime.timedelta(days=60))
        assert recent.count() >= 3 * len(codes)
        unmatched = {s.settlement_id: [(i.kind, i.order_id) for i in
                                       order_reconciliation(s).issues]
                     for s in recent.filter(order_issues__gt=0)}
        assert not unmatched, unmatched

        # the dashboard shows no red for the demo seller (only the legacy account is refused)
        reds = {(code, key): entry.get("reason")
                for code, metrics in health_compute(codes=sorted(codes)).items()
                for key, entry in metrics.items() if entry["state"] == "red"}
        assert not reds, reds

        runs = _month_of_flows(account, traveller)
        bad = [(r.flow, r.marketplace_id, r.status, r.error) for r in runs
               if r.status != SyncRun.Status.SUCCEEDED]
        assert not bad, bad
        assert Shipment.objects.filter(order__account=account, status="confirmed").exists()
        assert Order.objects.filter(
            account=account,
            purchase_date__gte=when + datetime.timedelta(days=21)).exists()
