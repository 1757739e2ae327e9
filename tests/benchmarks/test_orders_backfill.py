"""Benchmark: backfill 10,000 orders with their items from the live sandbox (issue 6).

    make bench
    ORDERS_BENCH_ORDERS=2000 pytest tests/benchmarks/test_orders_backfill.py -s

The same orders (every marketplace, from the start of the sandbox's history to its "now")
are backfilled twice, in the same run, into two seller accounts:

* the flow's path: the all-orders flat-file report (createReport, getReport polls,
  getReportDocument, download) through the shared upsert;
* the naive path: getOrders pages + one getOrderItems per order (the flow's incremental path
  run over the whole history).

Clients run on simulated clocks with Amazon's default usage plans, so quota waits are
counted, not slept. Prints API calls, simulated seconds, database time (time inside the
upsert) and wall time per path, and the ratios. Goals: report path <= 300 simulated seconds
and >= 50x fewer calls than the naive path; the upsert of 10,000 orders in seconds.
"""

from __future__ import annotations

import datetime
import os
import time

import pytest
from django.utils import timezone

from amazonsync.flows import FlowContext, get_flow
from amazonsync.models import SyncRun
from amazonsync.spapi.clock import SimulatedClock
from amazonsync.spapi.ratelimit import MemoryBucketStore

ORDERS = int(os.environ.get("ORDERS_BENCH_ORDERS", "10000"))
CODES = ["US", "CA", "GB", "DE", "JP"]

pytestmark = pytest.mark.django_db(transaction=True)


class Timer:
    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, func):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


@pytest.fixture
def live(db):
    from amazonsync.sandbox import world as sandbox_world
    from amazonsync.sandbox.server import start_sandbox_app
    from catalog.models import Item, Listing
    from marketplaces.models import Marketplace
    from marketplaces.services import account_upsert

    started = time.perf_counter()
    # Two thirds of the world's orders are in the past at the sandbox's "now".
    world = sandbox_world.World(5, orders=ORDERS * 3 // 2)
    visible = sum(1 for o in world.orders if o.purchase <= world.start)
    url, stop, box = start_sandbox_app(world=world, seed=5, orders=ORDERS * 3 // 2,
                                       rate_limits=True)
    print(f"\nsandbox world: {visible} orders up to its now "
          f"({time.perf_counter() - started:.1f} s to build)")
    accounts = []
    for spid in ("A1BENCHREPORT", "A1BENCHNAIVE"):
        accounts.append(account_upsert(
            selling_partner_id=spid, name=spid, region="NA",
            lwa_client_id=sandbox_world.LWA_CLIENT_ID,
            client_secret=sandbox_world.LWA_CLIENT_SECRET,
            refresh_token=sandbox_world.REFRESH_TOKEN,
            rotated_on=timezone.localdate() - datetime.timedelta(days=1),
            api_base_url=url, token_url=f"{url}/auth/o2/token", marketplace_codes=CODES))
    # A seller's catalog exists before its orders: every SKU is mapped.
    markets = {m.code: m for m in Marketplace.objects.filter(code__in=CODES)}
    items = Item.objects.bulk_create([Item(sku=p.sku, name=p.title[:255])
                                      for p in world.products.values()])
    by_sku = {i.sku: i for i in items}
    Listing.objects.bulk_create([
        Listing(account=account, marketplace=markets["GB" if mp.code == "UK" else mp.code],
                seller_sku=product.sku, asin=product.asin,
                channel="FBA" if channel == "AFN" else "MFN", item=by_sku[product.sku])
        for account in accounts for product, mp, channel in world.listings()
    ])
    try:
        yield box, world, accounts, markets, visible
    finally:
        stop()


def _backfill(account, markets, world, *, naive: bool, monkeypatch):
    from amazonsync.clients import spapi_client
    from orders import flows, services
    from orders.services import report

    timer = Timer()
    timed_upsert = timer.wrap(services.orders_upsert)
    monkeypatch.setattr(services, "orders_upsert", timed_upsert)  # the API pages
    monkeypatch.setattr(report, "orders_upsert", timed_upsert)  # the all-orders report
    clock = SimulatedClock(start=world.start)
    client = spapi_client(account, clock=clock, bucket_store=MemoryBucketStore())
    start = datetime.datetime.fromtimestamp(world.window_start, datetime.UTC)
    wall = time.perf_counter()
    for code in CODES:
        run = SyncRun.objects.create(flow="orders", account=account, marketplace=markets[code],
                                     started_at=timezone.now())
        ctx = FlowContext(run=run, account=account, marketplace=markets[code],
                          flow=get_flow("orders"))
        ctx._client = client
        if naive:
            flows.orders_incremental(ctx=ctx, client=client, after=start)
        else:
            flows.orders_backfill(ctx=ctx, client=client, start=start)
    return {
        "calls": client.calls,
        "simulated": clock.now() - world.start,
        "quota": client.quota_seconds,
        "db": timer.seconds,
        "wall": time.perf_counter() - wall,
        "by_operation": dict(sorted(client.calls_by_operation.items())),
    }


def test_orders_backfill_report_vs_naive(live, monkeypatch):
    from orders.models import Order, OrderLine
    from orders.selectors import order_snapshot

    box, world, (report_account, naive_account), markets, visible = live
    report = _backfill(report_account, markets, world, naive=False, monkeypatch=monkeypatch)
    naive = _backfill(naive_account, markets, world, naive=True, monkeypatch=monkeypatch)

    n_report = Order.objects.filter(account=report_account).count()
    n_naive = Order.objects.filter(account=naive_account).count()
    lines = OrderLine.objects.filter(order__account=report_account).count()
    for name, figures in (("report (flow path)", report), ("naive getOrders+items", naive)):
        print(f"{name:24} {figures['calls']:6d} API calls  {figures['simulated']:9.0f} "
              f"simulated s (quota waits {figures['quota']:.0f} s)  database "
              f"{figures['db']:.2f} s  wall {figures['wall']:.1f} s")
        print(f"{'':24} {figures['by_operation']}")
    ratio = naive["calls"] / report["calls"]
    print(f"orders: {n_report} via report, {n_naive} via API ({lines} lines); "
          f"calls ratio naive/report {ratio:.0f}x; simulated time ratio "
          f"{naive['simulated'] / max(report['simulated'], 1):.0f}x; upsert "
          f"{n_report / max(report['db'], 1e-9):.0f} orders/s (report), "
          f"{n_naive / max(naive['db'], 1e-9):.0f} orders/s (naive)")

    assert n_report >= visible * 0.95 and abs(n_report - n_naive) <= visible * 0.01
    assert report["simulated"] <= 300
    # The goal is set at 10,000 orders; the report path's ~30 calls are fixed, so small
    # runs (ORDERS_BENCH_ORDERS) have a smaller ratio.
    assert ratio >= (50 if ORDERS >= 5000 else 10)
    assert report["db"] < 120  # seconds, not minutes
    # both paths stored the same orders (the API leaves out the last two minutes)
    a, b = order_snapshot(account=report_account), order_snapshot(account=naive_account)
    common = set(a) & set(b)
    assert len(common) >= visible * 0.95
    assert all(a[o]["status"] == b[o]["status"] for o in common)
