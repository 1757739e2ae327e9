"""The orders and shipments flows against the live local SP-API sandbox: report backfill and
API sync agree, a ``flaky`` run ends with exactly the orders of a clean run, orders change as
simulated time passes, MFN packages are confirmed (or rejected) by the simulator."""

from __future__ import annotations

import datetime

import pytest
import requests
from django.utils import timezone

from amazonsync.models import ApiCall, SyncCursor, SyncException
from amazonsync.sandbox import (
    DEFAULT_SELLER,
    DEFAULT_START,
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    REFRESH_TOKEN,
    SandboxConfig,
    World,
    start_sandbox_app,
)
from amazonsync.services import flow_run
from amazonsync.spapi.clock import SimulatedClock
from catalog.models import Item, Listing, MerchantStock
from catalog.services import listing_map
from marketplaces.services import account_upsert
from orders.models import Order, Shipment, ShipmentStatus
from orders.selectors import order_snapshot
from orders.services import carrier_mapping_upsert, shipment_record

pytestmark = pytest.mark.django_db(transaction=True)
US = "ATVPDKIKX0DER"
SEED = 11
ORDERS = 3000
WINDOW_START = datetime.datetime(2026, 10, 25, tzinfo=datetime.UTC)


START = datetime.datetime.fromisoformat(DEFAULT_START)


_APPS: list = []  # the sandboxes of the running test: the flows' clock follows the last one


@pytest.fixture(autouse=True)
def simulated_clock(monkeypatch):
    """Each client's clock starts at the sandbox's now (its fixed start, or later when the
    test advances it): one notion of time for the flows and the sandbox."""
    monkeypatch.setattr(
        "amazonsync.spapi.client.RealClock",
        lambda: SimulatedClock(start=_APPS[-1].now if _APPS else START.timestamp()))


@pytest.fixture(scope="module")
def world():
    return World(SEED, orders=ORDERS, start=DEFAULT_START)


@pytest.fixture
def sandbox(world):
    stops = []

    def make(**overrides):
        overrides.setdefault("rate_limits", False)
        url, stop, app = start_sandbox_app(SandboxConfig(seed=SEED, orders=ORDERS, **overrides),
                                           world=world)
        stops.append(stop)
        _APPS.append(app)
        return url, app

    yield make
    for stop in stops:
        stop()
    _APPS.clear()


def seller(url: str, selling_partner_id: str = DEFAULT_SELLER):
    return account_upsert(
        selling_partner_id=selling_partner_id, name=selling_partner_id, region="NA",
        lwa_client_id=LWA_CLIENT_ID, client_secret=LWA_CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN, rotated_on=timezone.localdate(), api_base_url=url,
        token_url=f"{url}/auth/o2/token", marketplace_codes=["US"],
    )


def start_at(account, when: datetime.datetime, *, report: bool) -> None:
    """Watermark so the next run reads from ``when``: by API (recent run) or by report
    (the last run is long ago)."""
    cursor = SyncCursor.objects.create(flow="orders", account=account, scope=US,
                                       position=when + datetime.timedelta(minutes=10))
    if report:
        SyncCursor.objects.filter(pk=cursor.pk).update(
            updated_at=START - datetime.timedelta(days=30))
    else:
        SyncCursor.objects.filter(pk=cursor.pk).update(updated_at=START)


def sync(account) -> None:
    for _ in range(5):
        run = flow_run(flow="orders", account_id=account.pk, marketplace_id=US)
        if run.status == "succeeded":
            return
    raise AssertionError(f"orders flow kept failing: {run.error}")


def calls(account, operation: str) -> int:
    return ApiCall.objects.filter(account=account, operation=operation,
                                  status_code__lt=400).count()


def comparable(snapshot: dict) -> dict:
    """The all-orders report has no promotion tax, so totals of promoted orders differ."""
    out = {}
    for order_id, row in snapshot.items():
        row = dict(row)
        if any(line[8] not in (None, "0") for line in row["lines"]):
            row.pop("order_total")
        out[order_id] = row
    return out


def advance(url: str, seconds: int) -> None:
    requests.post(f"{url}/_sandbox/advance", json={"seconds": seconds}, timeout=10)


def test_report_backfill_and_api_sync_give_the_same_rows(sandbox):
    url, app = sandbox()
    api = seller(url, "A1API")
    report = seller(url, "A1REPORT")
    start_at(api, WINDOW_START, report=False)
    start_at(report, WINDOW_START, report=True)
    sync(api)
    sync(report)
    assert calls(report, "getOrders") == 0 and calls(report, "createReport") == 1
    assert calls(api, "createReport") == 0 and calls(api, "getOrderItems") > 0
    by_api = comparable(order_snapshot(account=api))
    by_report = comparable(order_snapshot(account=report))
    assert len(by_api) > 20
    ceiling = datetime.datetime.fromtimestamp(app.now - 120, datetime.UTC)
    # The report may include orders updated in the last two minutes (the API may not).
    only_report = set(by_report) - set(by_api)
    assert all(by_report[o]["last_update_date"] > ceiling for o in only_report)
    assert set(by_api) - set(by_report) == set()
    assert {o: by_report[o] for o in by_api} == by_api

    # Time passes: pending orders complete, orders ship or are canceled. Both paths follow.
    advance(url, 12 * 3600)
    sync(api)
    sync(report)  # incremental now: the last run is recent
    assert calls(report, "getOrders") >= 1
    after_api = comparable(order_snapshot(account=api))
    after_report = comparable(order_snapshot(account=report))
    common = set(after_api) & set(after_report)
    assert {o: after_api[o] for o in common} == {o: after_report[o] for o in common}
    changed = [o for o in by_api if after_api[o]["status"] != by_api[o]["status"]]
    assert changed, "12 simulated hours should change some orders"


def test_pending_orders_are_completed_when_simulated_time_passes(sandbox, world):
    url, app = sandbox()
    account = seller(url)
    start_at(account, WINDOW_START, report=False)
    sync(account)
    # the next US order of the world that stays pending a while and is not canceled
    target = next(o for o in world.orders if o.purchase > app.now and o.mp.id == US
                  and o.cancel is None and o.pending_until - o.purchase > 900)
    advance(url, target.purchase + 300 - app.now)
    sync(account)
    order = Order.objects.get(amazon_order_id=target.id)
    assert order.status == "Pending" and order.order_total is None
    assert all(line.item_price is None for line in order.lines.all())
    advance(url, target.pending_until + 300 - app.now)
    sync(account)
    order.refresh_from_db()
    assert order.status in ("Unshipped", "Shipped", "PartiallyShipped")
    assert order.order_total is not None and order.order_total > 0
    assert all(line.item_price is not None for line in order.lines.all())
    assert order.customer.buyer_token  # the buyer is known once the order completes


def test_a_flaky_sandbox_ends_with_exactly_the_orders_of_a_clean_run(sandbox):
    clean_url, _ = sandbox()
    flaky_url, _ = sandbox(faults="flaky")
    clean = seller(clean_url, "A1CLEAN")
    flaky = seller(flaky_url, "A1FLAKY")
    start_at(clean, WINDOW_START, report=False)
    start_at(flaky, WINDOW_START, report=False)
    sync(clean)
    sync(flaky)
    failures = ApiCall.objects.filter(account=flaky).exclude(status_code__lt=400).count()
    assert failures > 0, "the flaky profile injected no fault"
    assert order_snapshot(account=flaky) == order_snapshot(account=clean)
    assert Order.objects.filter(account=flaky).count() > 20
    # and the report path converges under faults too
    report = seller(flaky_url, "A1FLAKYREPORT")
    start_at(report, WINDOW_START, report=True)
    sync(report)
    got = comparable(order_snapshot(account=report))
    want = comparable(order_snapshot(account=clean))
    assert {o: got[o] for o in want} == want


def test_mfn_packages_are_confirmed_by_the_sandbox_and_the_order_ships(sandbox):
    url, app = sandbox()
    account = seller(url)
    start_at(account, WINDOW_START, report=False)
    sync(account)
    order = next(o for o in Order.objects.filter(fulfillment_channel="MFN", status="Unshipped")
                 .order_by("purchase_date") if sum(line.quantity_ordered
                                                   for line in o.lines.all()) >= 2)
    item = Item.objects.create(sku="WAREHOUSE-1", name="stock")
    MerchantStock.objects.create(item=item, on_hand=100)
    for line in order.lines.all():
        listing_map(listing=Listing.objects.get(pk=line.listing_id), item=item)
    ordered = sum(line.quantity_ordered for line in order.lines.all())
    assert MerchantStock.objects.get(item=item).reserved >= ordered

    carrier_mapping_upsert(carrier="UPS", amazon_carrier_code="UPS")
    units = [(line, 1) for line in order.lines.all() for _ in range(line.quantity_ordered)]
    packages = [shipment_record(order=order, carrier="UPS", tracking_number=f"1Z{n}",
                                ship_date=timezone.now(), lines=[unit])
                for n, unit in enumerate(units)]
    run = flow_run(flow="shipments", account_id=account.pk, marketplace_id=US)
    assert run.status == "succeeded" and run.updated == len(packages) >= 2
    assert calls(account, "confirmShipment") == len(packages)
    assert all(Shipment.objects.get(pk=p.pk).status == ShipmentStatus.CONFIRMED
               for p in packages)
    order.refresh_from_db()
    assert order.acknowledged_at is not None and order.ack_sla_met is not None

    advance(url, 3600)
    sync(account)
    order.refresh_from_db()
    assert order.status == "Shipped"
    stock = MerchantStock.objects.get(item=item)
    assert all(line.reserved_quantity == 0 for line in order.lines.all())
    # only other open orders of the same SKUs still hold stock
    assert stock.reserved == _other_reservations(order, item)
    assert stock.on_hand == 100 - ordered


def _other_reservations(order, item) -> int:
    from orders.models import OrderLine

    return sum(OrderLine.objects.filter(stock_item=item).exclude(order=order)
               .values_list("reserved_quantity", flat=True))


def test_the_sandbox_rejects_a_carrier_code_and_the_rejection_is_kept(sandbox):
    url, app = sandbox()
    account = seller(url)
    start_at(account, WINDOW_START, report=False)
    sync(account)
    order = Order.objects.filter(fulfillment_channel="MFN", status="Unshipped").first()
    carrier_mapping_upsert(carrier="Yodel", amazon_carrier_code="Yodel")
    line = order.lines.first()
    shipment = shipment_record(order=order, carrier="yodel", tracking_number="JJD01",
                               ship_date=timezone.now(), lines=[(line, 1)])
    flow_run(flow="shipments", account_id=account.pk, marketplace_id=US)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.FAILED
    assert "Invalid carrierCode" in shipment.last_error
    exc = SyncException.objects.get(reason_code="amazon_rejected")
    assert exc.status == "open"

    carrier_mapping_upsert(carrier="Yodel", amazon_carrier_code="Other",
                           amazon_carrier_name="Yodel")
    from amazonsync.services import exceptions_retry

    assert exceptions_retry(exception_ids=[exc.pk]).resolved == 1
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.CONFIRMED


JP = "A1VC38T7YXB528"


def test_a_jp_backfill_imports_the_windows_31j_report_with_its_japanese_text(sandbox, world):
    from amazonsync.sandbox.reports import japanese_title

    url, app = sandbox()
    account = account_upsert(
        selling_partner_id=DEFAULT_SELLER, name="JP seller", region="FE",
        lwa_client_id=LWA_CLIENT_ID, client_secret=LWA_CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN, rotated_on=timezone.localdate(), api_base_url=url,
        token_url=f"{url}/auth/o2/token", marketplace_codes=["JP"],
    )
    run = flow_run(flow="orders", account_id=account.pk, marketplace_id=JP)  # no cursor yet
    assert run.status == "succeeded", run.error
    assert calls(account, "createReport") == 1 and calls(account, "getOrders") == 0
    assert not SyncException.objects.filter(account=account, reason_code="bad_order_data")
    orders = {o.amazon_order_id: o for o in Order.objects.filter(account=account)
              .prefetch_related("lines")}
    assert len(orders) > 5 and {o.marketplace_id for o in orders.values()} == {JP}
    expected = {(o.id, i.product.sku): japanese_title(i.product.title)
                for o in world.orders if o.id in orders for i in o.items}
    stored = {(o.amazon_order_id, line.seller_sku): line.title
              for o in orders.values() for line in o.lines.all()}
    assert stored == expected
    assert any(not title.isascii() for title in stored.values())
    assert not any("ƒ" in title or "�" in title for title in stored.values())


def test_orders_api_2026_marks_the_items_of_canceled_orders_cancelled(sandbox):
    url, _ = sandbox()
    account = seller(url)
    account.orders_api_version = "2026-01-01"
    account.save(update_fields=["orders_api_version"])
    start_at(account, WINDOW_START, report=False)
    sync(account)
    assert calls(account, "searchOrders") > 0 and calls(account, "getOrders") == 0
    canceled = Order.objects.filter(account=account, status="Canceled")
    live = Order.objects.filter(account=account).exclude(status="Canceled")
    assert canceled.exists() and live.exists()
    assert sum(o.lines.count() for o in canceled) > 0
    assert all(line.cancelled for o in canceled for line in o.lines.all())
    assert not any(line.cancelled for o in live for line in o.lines.all())
    assert not any(line.reserved_quantity for o in canceled for line in o.lines.all())
