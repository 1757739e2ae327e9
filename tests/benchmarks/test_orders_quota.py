"""Benchmark: quota time to fetch N orders with their items, API pages vs flat-file report.

    make bench
    SPAPI_BENCH_ORDERS=2000 pytest tests/benchmarks/test_orders_quota.py -s -o addopts=""

A sandbox with Amazon's rate limits runs in-process with N orders (every marketplace, its
clock moved past the last one). The client runs on a simulated clock, so every wait for a
rate-limit token is counted, not slept. The same orders are fetched twice:

* API path: getOrders pages (100 orders a page) + one getOrderItems per order;
* report path: GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL (createReport, getReport
  polls, getReportDocument, streamed gzip download) — one row per order item.

Printed per path: API calls, quota seconds (simulated time spent waiting for tokens),
simulated elapsed seconds (quota waits + report polling), and the quota the calls consume
at Amazon's restore rates (sum of 1/rate: what the path costs a seller who runs it every
day, whatever the burst), then the ratios API / report.
"""

from __future__ import annotations

import csv
import os
import time

import pytest

from amazonsync.sandbox import (
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    MARKETPLACES,
    REFRESH_TOKEN,
    World,
    start_sandbox_app,
)
from amazonsync.spapi.clock import SimulatedClock
from amazonsync.spapi.operations import OPERATIONS
from amazonsync.spapi.ratelimit import MemoryBucketStore

N = int(os.environ.get("SPAPI_BENCH_ORDERS", "10000"))
SEED = 4
REPORT = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
SINCE = "2000-01-01T00:00:00Z"


def _client(url: str, spid: str):
    from amazonsync.clients import spapi_client
    from marketplaces.models import SellerAccount

    account = SellerAccount.objects.create(
        selling_partner_id=spid, name=spid, region="NA", lwa_client_id=LWA_CLIENT_ID,
        lwa_client_secret=LWA_CLIENT_SECRET, refresh_token=REFRESH_TOKEN, api_base_url=url,
        token_url=f"{url}/auth/o2/token",
    )
    # Buckets in memory: the figures are about Amazon's quotas, not the database.
    return spapi_client(account, clock=SimulatedClock(start=2_000_000_000),
                        bucket_store=MemoryBucketStore())


def _consumed(client) -> float:
    """Quota consumed: each call costs 1/rate seconds of its operation's restore time."""
    return sum(n / OPERATIONS[op].rate for op, n in client.calls_by_operation.items()
               if op in OPERATIONS)


def _figures(name: str, client, started_at: float, wall: float, orders: int) -> dict:
    return {
        "path": name,
        "orders": orders,
        "api_calls": sum(n for op, n in client.calls_by_operation.items() if op in OPERATIONS),
        "http_requests": client.calls,
        "quota_seconds": client.quota_seconds,
        "simulated_seconds": client.clock.now() - started_at,
        "quota_consumed_seconds": _consumed(client),
        "throttled": client.throttled,
        "wall_seconds": wall,
    }


@pytest.mark.django_db
def test_orders_quota_api_vs_report():
    built = time.perf_counter()
    world = World(SEED, orders=N)
    url, stop, app = start_sandbox_app(world=world, seed=SEED, orders=N, rate_limits=True)
    app.now = max(world.window_end, app.now)  # every generated order is in the past
    print(f"\nsandbox: {N} orders, built in {time.perf_counter() - built:.1f} s")
    marketplace_ids = sorted({m.id for m in MARKETPLACES.values()})
    try:
        # --- API path: getOrders + getOrderItems ---------------------------------------
        api = _client(url, "A1QUOTAAPI")
        t0, wall = api.clock.now(), time.perf_counter()
        api_orders: set[str] = set()
        api_items = 0
        for order in api.get_orders(MarketplaceIds=marketplace_ids, CreatedAfter=SINCE,
                                    MaxResultsPerPage=100):
            api_orders.add(order["AmazonOrderId"])
            api_items += len(api.get_order_items(order["AmazonOrderId"]))
        api_fig = _figures("getOrders + getOrderItems", api, t0,
                           time.perf_counter() - wall, len(api_orders))

        # --- report path: all-orders flat file ------------------------------------------
        rep = _client(url, "A1QUOTAREPORT")
        t0, wall = rep.clock.now(), time.perf_counter()
        path = rep.report_fetch(REPORT, marketplace_ids=marketplace_ids,
                                data_start_time=SINCE)
        report_orders: set[str] = set()
        report_rows = 0
        try:
            with open(path, encoding="utf-8", newline="") as fh:
                for row in csv.DictReader(fh, delimiter="\t"):
                    report_orders.add(row["amazon-order-id"])
                    report_rows += 1
        finally:
            path.unlink(missing_ok=True)
        rep_fig = _figures("all-orders report", rep, t0, time.perf_counter() - wall,
                           len(report_orders))
    finally:
        stop()

    print(f"{'path':<28}{'orders':>8}{'calls':>8}{'quota s':>12}{'simulated s':>14}"
          f"{'consumed s':>13}{'429s':>6}{'wall s':>9}")
    for f in (api_fig, rep_fig):
        print(f"{f['path']:<28}{f['orders']:>8}{f['api_calls']:>8}{f['quota_seconds']:>12.1f}"
              f"{f['simulated_seconds']:>14.1f}{f['quota_consumed_seconds']:>13.1f}"
              f"{f['throttled']:>6}{f['wall_seconds']:>9.1f}")
    print(f"items: API {api_items}, report rows {report_rows}")
    for f, client in ((api_fig, api), (rep_fig, rep)):
        per_op = ", ".join(f"{op} {n}" for op, n in sorted(client.calls_by_operation.items()))
        print(f"  {f['path']}: {per_op}")
    ratio_calls = api_fig["api_calls"] / rep_fig["api_calls"]
    ratio_sim = api_fig["simulated_seconds"] / max(rep_fig["simulated_seconds"], 1e-9)
    ratio_consumed = api_fig["quota_consumed_seconds"] / rep_fig["quota_consumed_seconds"]
    print(f"ratio API/report: calls {ratio_calls:.0f}x, simulated seconds {ratio_sim:.0f}x, "
          f"quota consumed {ratio_consumed:.0f}x "
          f"(report quota waits {rep_fig['quota_seconds']:.1f} s: within the bursts)")

    assert api_orders == report_orders
    assert api_fig["throttled"] == 0 and rep_fig["throttled"] == 0
    # The report path is the cheap one at any size (at 10,000 orders: >1000x fewer calls).
    assert ratio_calls > 1 and ratio_consumed > 1
