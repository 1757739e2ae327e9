"""The ``orders`` flow against Amazon's HTTP API mocked with ``responses``: overlap window,
pages, items only for new/changed orders, cursor and crash behaviour, report backfill."""

from __future__ import annotations

import datetime
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from amazonsync.models import SyncCursor, SyncRun
from amazonsync.services import flow_run
from amazonsync.spapi.clock import SimulatedClock
from amazonsync.spapi.operations import LWA_TOKEN_URL
from orders.models import Order
from orders.selectors import order_snapshot
from tests.orders.builders import T0, US, iso, report_row, report_text, v0_item, v0_order

pytestmark = pytest.mark.django_db
API = "https://sandbox.invalid"
ORDERS = f"{API}/orders/v0/orders"
ITEMS = re.compile(rf"{re.escape(ORDERS)}/([^/]+)/orderItems")
MIN = datetime.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def simulated_clock(monkeypatch):
    """Clients built by the runner wait for rate limits and back off in simulated time; the
    flows' now is an hour after T0 (Amazon's answers are about T0)."""
    monkeypatch.setattr("amazonsync.spapi.client.RealClock",
                        lambda: SimulatedClock(start=(T0 + 60 * MIN).timestamp()))


class FakeAmazon:
    """getOrders (paged by NextToken) and getOrderItems answered from dictionaries."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.rsps = rsps
        self.pages: list[list[dict]] = []
        self.items: dict[str, list[dict]] = {}
        self.failing_items: set[str] = set()
        self.queries: list[dict] = []
        self.item_calls: list[str] = []
        rsps.add(responses.POST, LWA_TOKEN_URL, json={
            "access_token": "Atza|test", "token_type": "bearer", "expires_in": 3600})
        rsps.add_callback(responses.GET, ORDERS, callback=self._orders)
        rsps.add_callback(responses.GET, ITEMS, callback=self._items)

    def _orders(self, request):
        query = parse_qs(urlsplit(request.url).query)
        self.queries.append(query)
        page = int(query.get("NextToken", ["0"])[0])
        payload = {"Orders": self.pages[page] if self.pages else [],
                   "LastUpdatedBefore": iso(T0 + 60 * MIN)}
        if page + 1 < len(self.pages):
            payload["NextToken"] = str(page + 1)
        return 200, {}, json.dumps({"payload": payload})

    def _items(self, request):
        order_id = ITEMS.match(request.url.split("?")[0]).group(1)
        self.item_calls.append(order_id)
        if order_id in self.failing_items:
            return 400, {}, json.dumps({"errors": [{"code": "InvalidInput",
                                                    "message": "simulated failure"}]})
        return 200, {}, json.dumps({"payload": {"AmazonOrderId": order_id,
                                                "OrderItems": self.items[order_id]}})

    def order(self, order_id: str, page: int = 0, **kw) -> dict:
        while len(self.pages) <= page:
            self.pages.append([])
        order = v0_order(order_id, **kw)
        self.pages[page].append(order)
        self.items.setdefault(order_id, [v0_item("SKU-MFN", item_id=f"{order_id[-4:]}1")])
        return order


@pytest.fixture
def amazon():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeAmazon(rsps)


def cursor_at(account, position):
    return SyncCursor.objects.create(flow="orders", account=account, scope=US,
                                     position=position)


def run(account) -> SyncRun:
    return flow_run(flow="orders", account_id=account.pk, marketplace_id=US)


def position(account):
    return SyncCursor.objects.get(flow="orders", account=account, scope=US).position


def test_overlap_window_catches_an_order_updated_at_the_boundary(account, mapped, amazon):
    cursor_at(account, T0)
    # Amazon shows an order late whose LastUpdateDate is just before our watermark.
    amazon.order("111-0000001-0001", updated=T0 - 3 * MIN)
    amazon.order("111-0000001-0002", updated=T0 + 5 * MIN)
    result = run(account)
    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    assert amazon.queries[0]["LastUpdatedAfter"] == [iso(T0 - 10 * MIN)]
    assert amazon.queries[0]["MarketplaceIds"] == [US]
    assert set(Order.objects.values_list("amazon_order_id", flat=True)) == {
        "111-0000001-0001", "111-0000001-0002"}
    assert position(account) == T0 + 5 * MIN
    assert (result.fetched, result.created) == (2, 2)


def test_all_pages_items_only_for_new_or_changed_and_second_sync_changes_nothing(
        account, mapped, amazon):
    cursor_at(account, T0)
    for n in range(5):
        amazon.order(f"111-0000002-000{n}", page=n // 2, updated=T0 + n * MIN)
    first = run(account)
    assert first.status == "succeeded", first.error
    assert len(amazon.queries) == 3  # three pages
    assert amazon.queries[1]["NextToken"] == ["1"]
    assert sorted(amazon.item_calls) == [f"111-0000002-000{n}" for n in range(5)]
    snapshot = order_snapshot(account=account)

    amazon.item_calls.clear()
    second = run(account)
    assert second.status == "succeeded"
    assert amazon.item_calls == []  # nothing new or changed: no item calls
    assert (second.created, second.updated, second.unchanged) == (0, 0, 5)
    assert order_snapshot(account=account) == snapshot

    amazon.pages[0][1] = v0_order("111-0000002-0001", status="Canceled",
                                  updated=T0 + 30 * MIN)
    amazon.items["111-0000002-0001"] = [v0_item("SKU-MFN", item_id="00011", price=None)]
    third = run(account)
    assert amazon.item_calls == ["111-0000002-0001"]
    assert (third.updated, third.unchanged) == (1, 4)
    assert Order.objects.get(amazon_order_id="111-0000002-0001").status == "Canceled"
    assert position(account) == T0 + 30 * MIN


def test_a_failure_half_way_through_leaves_the_cursor_and_a_rerun_converges(
        account, mapped, amazon, monkeypatch):
    monkeypatch.setattr("orders.flows.PAGE", 3)
    cursor_at(account, T0)
    for n in range(6):
        amazon.order(f"111-0000003-000{n}", updated=T0 + n * MIN)
    amazon.failing_items = {"111-0000003-0004"}  # the middle of the second chunk

    failed = run(account)
    assert failed.status == SyncRun.Status.FAILED
    assert "simulated failure" in failed.error
    assert position(account) == T0  # the cursor did not move
    # the first chunk committed on its own; nothing of the failed chunk is stored
    assert set(Order.objects.values_list("amazon_order_id", flat=True)) == {
        f"111-0000003-000{n}" for n in range(3)}

    amazon.failing_items = set()
    rerun = run(account)
    assert rerun.status == SyncRun.Status.SUCCEEDED
    assert Order.objects.count() == 6
    assert (rerun.created, rerun.unchanged) == (3, 3)
    assert position(account) == T0 + 5 * MIN


def test_a_crash_in_the_database_rolls_back_the_page_and_the_cursor(account, mapped, amazon,
                                                                    monkeypatch):
    cursor_at(account, T0)
    amazon.order("111-0000004-0001", updated=T0 + MIN)
    amazon.order("111-0000004-0002", updated=T0 + 2 * MIN)
    from orders.services import upsert

    real = upsert._customers_assign

    def crash(**kw):
        real(**kw)
        raise RuntimeError("database went away")

    monkeypatch.setattr(upsert, "_customers_assign", crash)
    assert run(account).status == "failed"
    assert Order.objects.count() == 0 and position(account) == T0
    monkeypatch.setattr(upsert, "_customers_assign", real)
    assert run(account).status == "succeeded"
    assert Order.objects.count() == 2 and position(account) == T0 + 2 * MIN


def test_a_new_account_is_backfilled_from_the_all_orders_report(account, mapped, amazon):
    rows = [report_row("111-0000005-0000001", "SKU-MFN", updated=T0),
            report_row("111-0000005-0000002", "SKU-MFN", updated=T0 + 7 * MIN, status="Shipped",
                       item_status="Shipped", channel="Amazon"),
            report_row("111-0000005-0000002", "SKU-OTHER", updated=T0 + 7 * MIN,
                       status="Shipped", item_status="Shipped", channel="Amazon")]
    reports = f"{API}/reports/2021-06-30"
    amazon.rsps.add(responses.POST, f"{reports}/reports", json={"reportId": "42"}, status=202)
    amazon.rsps.add(responses.GET, f"{reports}/reports/42", json={
        "reportId": "42", "processingStatus": "DONE", "reportDocumentId": "doc-1"})
    amazon.rsps.add(responses.GET, f"{reports}/documents/doc-1",
                    json={"reportDocumentId": "doc-1", "url": "https://docs.invalid/doc-1"})
    amazon.rsps.add(responses.GET, "https://docs.invalid/doc-1", body=report_text(rows))

    result = run(account)
    assert result.status == "succeeded", result.error
    assert amazon.queries == []  # no per-order calls
    created = json.loads(next(c.request.body for c in amazon.rsps.calls
                              if c.request.url.endswith("/reports")))
    assert created["reportType"] == "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
    assert created["marketplaceIds"] == [US]
    assert Order.objects.count() == 2
    shipped = Order.objects.get(amazon_order_id="111-0000005-0000002")
    assert (shipped.status, shipped.fulfillment_channel, shipped.source) == \
        ("Shipped", "AFN", "report")
    assert shipped.lines.count() == 2
    assert Order.objects.get(amazon_order_id="111-0000005-0000001").status == "Unshipped"
    assert position(account) == T0 + 7 * MIN
    assert result.created == 2 and result.fetched == 3


def test_api_text_longer_than_its_column_is_refused_never_cut(account, mapped, amazon):
    from amazonsync.models import SyncException

    cursor_at(account, T0)
    amazon.order("111-0000009-0000001", updated=T0 + MIN)
    long_title = "Ünïcödé " * 100  # 800 characters; the column holds 500
    amazon.items["111-0000009-0000001"] = [
        {**v0_item("SKU-MFN"), "Title": long_title}]
    amazon.order("111-0000009-0000002", updated=T0 + 2 * MIN)
    result = run(account)
    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    assert not Order.objects.filter(amazon_order_id="111-0000009-0000001").exists()
    assert Order.objects.filter(amazon_order_id="111-0000009-0000002").exists()
    exc = SyncException.objects.get(object_key="111-0000009-0000001")
    assert "title is 800 characters long; at most 500 can be stored" in exc.message
