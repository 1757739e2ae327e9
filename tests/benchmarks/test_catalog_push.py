"""Benchmark: inventory push of 50,000 MFN listings against the live sandbox (issue 5).

    make bench
    CATALOG_BENCH_LISTINGS=5000 pytest tests/benchmarks/test_catalog_push.py -s

A full push (nothing pushed yet) and a push after 1 % of the items' stock changed. The client
runs on a simulated clock, so quota waits are counted, not slept. Prints feeds, messages,
simulated quota seconds, throttled calls, the delta computation time and its ratio against a
baseline read of the same listing rows.
Goals: full push <= 2 feeds, the 1 % push sends exactly those listings, 0 throttled calls,
delta over 50,000 listings < 5 s.
"""

from __future__ import annotations

import math
import os
import time

import pytest
from django.utils import timezone

from amazonsync.flows import FlowContext, get_flow
from amazonsync.models import SyncRun
from catalog import feeds, services
from catalog.models import Item, Listing, MerchantStock

LISTINGS = int(os.environ.get("CATALOG_BENCH_LISTINGS", "50000"))
US = "ATVPDKIKX0DER"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live(db):
    import datetime

    from amazonsync.sandbox import world as sandbox_world
    from amazonsync.sandbox.server import start_sandbox_app
    from marketplaces.services import account_upsert

    started = time.perf_counter()
    world = sandbox_world.World(7, orders=50, products=LISTINGS + LISTINGS // 20 + 50)
    skus = [p.sku for p in world.products.values()][:LISTINGS]
    url, stop, box = start_sandbox_app(world=world, seed=7, orders=50)
    print(f"\nsandbox world with {len(world.products)} products in "
          f"{time.perf_counter() - started:.1f} s")
    account = account_upsert(
        selling_partner_id=sandbox_world.DEFAULT_SELLER, name="Bench", region="NA",
        lwa_client_id=sandbox_world.LWA_CLIENT_ID, client_secret=sandbox_world.LWA_CLIENT_SECRET,
        refresh_token=sandbox_world.REFRESH_TOKEN,
        rotated_on=timezone.localdate() - datetime.timedelta(days=1),
        api_base_url=url, token_url=f"{url}/auth/o2/token", marketplace_codes=["US"])
    try:
        yield box, account, skus
    finally:
        stop()


def _ctx(account, clock):
    from amazonsync.clients import spapi_client
    from amazonsync.spapi.ratelimit import MemoryBucketStore

    run = SyncRun.objects.create(flow="inventory_push", account=account, marketplace_id=US,
                                 started_at=timezone.now())
    client = spapi_client(account, run=run, clock=clock, bucket_store=MemoryBucketStore())
    ctx = FlowContext(run=run, account=account, marketplace=run.marketplace,
                      flow=get_flow("inventory_push"), _client=client)
    return ctx, client


def _seed(account, skus):
    started = time.perf_counter()
    items = Item.objects.bulk_create(
        [Item(sku=f"B-{i:06d}", name=f"bench item {i}") for i in range(len(skus))],
        batch_size=2000)
    MerchantStock.objects.bulk_create(
        [MerchantStock(item=item, on_hand=(i * 7) % 150) for i, item in enumerate(items)],
        batch_size=2000)
    Listing.objects.bulk_create(
        [Listing(account=account, marketplace_id=US, seller_sku=sku, item=items[i],
                 channel="MFN", buffer_quantity=i % 3) for i, sku in enumerate(skus)],
        batch_size=2000)
    print(f"seeded {len(skus)} items, stock rows and listings in "
          f"{time.perf_counter() - started:.1f} s")
    return items


def _baseline_read(account) -> float:
    started = time.perf_counter()
    rows = list(Listing.objects.filter(account=account, marketplace_id=US).values_list(
        "pk", "seller_sku", "item_id", "buffer_quantity", "max_quantity",
        "last_pushed_quantity"))
    list(MerchantStock.objects.values_list("item_id", "on_hand", "reserved"))
    assert len(rows) == LISTINGS
    return time.perf_counter() - started


def _report(label, outcome, client, seconds, baseline):
    print(f"{label}: {outcome.feeds} feed(s), {outcome.messages} messages "
          f"({outcome.accepted} accepted, {outcome.rejected} rejected), "
          f"{client.calls} HTTP calls, {client.throttled} throttled, "
          f"simulated quota {client.quota_seconds:.1f} s, delta {outcome.delta_seconds:.2f} s "
          f"(baseline read {baseline:.2f} s, ratio {outcome.delta_seconds / baseline:.1f}x), "
          f"wall {seconds:.1f} s (build+validate {outcome.build_seconds:.1f} s, "
          f"submit+sandbox processing {outcome.submit_seconds:.1f} s)")


def test_full_push_then_one_percent(live):
    from amazonsync.spapi.clock import SimulatedClock

    box, account, skus = live
    items = _seed(account, skus)
    clock = SimulatedClock(start=1_900_000_000.0)

    baseline = _baseline_read(account)
    ctx, client = _ctx(account, clock)
    started = time.perf_counter()
    outcome = services.quantities_push(ctx=ctx)
    _report("full push", outcome, client, time.perf_counter() - started, baseline)
    assert outcome.messages == LISTINGS
    assert outcome.feeds == math.ceil(LISTINGS / feeds.MAX_MESSAGES) <= 2 or LISTINGS > 50000
    assert outcome.rejected == 0
    assert client.throttled == 0
    assert outcome.delta_seconds < 5

    changed = items[:: 100][: max(1, LISTINGS // 100)]
    MerchantStock.objects.filter(item__in=changed).update(on_hand=999)
    ctx, client = _ctx(account, clock)
    started = time.perf_counter()
    outcome = services.quantities_push(ctx=ctx)
    _report("1 % push", outcome, client, time.perf_counter() - started, baseline)
    assert outcome.messages == len(changed) and outcome.feeds == 1
    assert outcome.accepted == len(changed)
    assert client.throttled == 0
    assert outcome.delta_seconds < 5
    sample = Listing.objects.filter(item=changed[0]).values_list("seller_sku", flat=True)[0]
    state = box.listings_snapshot(sample, US)[0]
    assert state["quantity"] == 999 - Listing.objects.get(seller_sku=sample).buffer_quantity
