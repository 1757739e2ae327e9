"""The client against the live local sandbox (a real HTTP server on a free port).

Rate limits are enforced by the sandbox with Amazon's rates, judged on the client's
simulated clock (``x-sandbox-clock``): the client must never be throttled, and all the
waiting happens in simulated time.
"""

from __future__ import annotations

import time

import pytest
import requests

from amazonsync.models import ApiCall
from amazonsync.sandbox import (
    DEFAULT_SELLER,
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    REFRESH_TOKEN,
    World,
    start_sandbox_app,
)
from amazonsync.spapi.clock import SimulatedClock
from amazonsync.spapi.errors import AuthError, NotFound, ReportFailed

SEED = 11
ORDERS = 300
US = "ATVPDKIKX0DER"
ALL_ORDERS = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
SINCE = "2026-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def world():
    return World(SEED, orders=ORDERS)


@pytest.fixture
def sandbox(world):
    """Factory: start a sandbox in a thread; returns (url, app). Stopped after the test."""
    stops = []

    def start(**overrides):
        overrides.setdefault("seed", SEED)
        overrides.setdefault("orders", ORDERS)
        url, stop, app = start_sandbox_app(world=world, **overrides)
        stops.append(stop)
        return url, app

    yield start
    for stop in stops:
        stop()


@pytest.fixture
def live_client(db, sandbox):
    from amazonsync.clients import spapi_client
    from marketplaces.models import SellerAccount

    def make(orders_api_version="v0", selling_partner_id=DEFAULT_SELLER, **overrides):
        url, app = sandbox(**overrides)
        account = SellerAccount.objects.create(
            selling_partner_id=selling_partner_id, name="Sandbox seller", region="NA",
            lwa_client_id=LWA_CLIENT_ID, lwa_client_secret=LWA_CLIENT_SECRET,
            refresh_token=REFRESH_TOKEN, api_base_url=url, token_url=f"{url}/auth/o2/token",
            orders_api_version=orders_api_version,
        )
        client = spapi_client(account, clock=SimulatedClock(start=1_900_000_000))
        return client, app

    return make


def _throttled_calls() -> int:
    return ApiCall.objects.filter(throttled=True).count()


@pytest.mark.django_db
def test_every_operation_round_trip(live_client, world):
    client, app = live_client()
    started = time.monotonic()

    # Sellers
    participations = client.get_marketplace_participations()
    assert US in {p["marketplace"]["id"] for p in participations}

    # Orders v0: listing, one order, its items, a shipment confirmation.
    orders = list(client.get_orders(MarketplaceIds=[US], CreatedAfter=SINCE,
                                    MaxResultsPerPage=20))
    assert len(orders) > 40
    assert client.calls_by_operation["getOrders"] >= 3  # several pages
    assert len({o["AmazonOrderId"] for o in orders}) == len(orders)
    mfn = next(o for o in orders if o["FulfillmentChannel"] == "MFN"
               and o["OrderStatus"] == "Unshipped")
    assert client.get_order(mfn["AmazonOrderId"])["AmazonOrderId"] == mfn["AmazonOrderId"]
    items = client.get_order_items(mfn["AmazonOrderId"])
    assert items and all(i["OrderItemId"] for i in items)
    client.confirm_shipment(mfn["AmazonOrderId"], {
        "marketplaceId": US,
        "packageDetail": {
            "packageReferenceId": "PKG1", "carrierCode": "UPS", "trackingNumber": "1Z999",
            "shipDate": "2026-11-01T00:00:00Z",
            "orderItems": [{"orderItemId": i["OrderItemId"], "quantity": i["QuantityOrdered"]}
                           for i in items],
        },
    })
    assert client.get_order(mfn["AmazonOrderId"])["OrderStatus"] == "Shipped"
    with pytest.raises(NotFound) as info:
        client.get_order("999-0000000-0000000")
    assert info.value.request_id

    # Orders through the interface (v0 here).
    normalized = client.orders.get(mfn["AmazonOrderId"])
    assert normalized.status == "Shipped" and normalized.items

    # Reports: create + poll + download, list, document.
    path = client.report_fetch(ALL_ORDERS, marketplace_ids=[US], data_start_time=SINCE)
    try:
        header = path.read_text(encoding="utf-8").splitlines()[0]
        assert header.startswith("amazon-order-id")
    finally:
        path.unlink()
    settlements = list(client.get_reports(
        reportTypes=["GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"], pageSize=10))
    assert len(settlements) > 10  # more than one page
    report = client.get_report(settlements[0]["reportId"])
    document = client.get_report_document(report["reportDocumentId"])
    path = client.download_document(document)
    try:
        assert path.read_text(encoding="utf-8").startswith("settlement-id")
    finally:
        path.unlink()

    # Listings and feeds.
    sku = next(p.sku for p in world.products.values()
               if p.channels.get("US") == "MFN" and p.sellable)
    item = client.get_listings_item(sku, marketplace_ids=[US],
                                    included_data=["summaries", "offers"])
    assert item["sku"] == sku
    patched = client.patch_listings_item(sku, marketplace_ids=[US], product_type="HOME",
                                         patches=[{
                                             "op": "replace",
                                             "path": "/attributes/fulfillment_availability",
                                             "value": [{"fulfillment_channel_code": "DEFAULT",
                                                        "quantity": 7}]}])
    assert patched["status"] == "ACCEPTED"
    feed = {
        "header": {"sellerId": DEFAULT_SELLER, "version": "2.0", "issueLocale": "en_US"},
        "messages": [
            {"messageId": 1, "sku": sku, "operationType": "PATCH", "productType": "HOME",
             "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                          "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}]}]},
            {"messageId": 2, "sku": "NO-SUCH-SKU", "operationType": "PATCH",
             "productType": "HOME",
             "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                          "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}]}]},
        ],
    }
    result = client.feed_submit("JSON_LISTINGS_FEED", feed, marketplace_ids=[US])
    assert result.processing_status == "DONE"
    assert result.errors_for(2) and not result.errors_for(1)

    # FBA inventory, inbound, finances.
    summaries = list(client.get_inventory_summaries(marketplace_id=US))
    assert summaries and all("sellerSku" in s for s in summaries)
    shipments = list(client.get_inbound_shipments(
        marketplace_id=US, statuses=["WORKING", "SHIPPED", "RECEIVING", "CLOSED", "CANCELLED"]))
    assert shipments
    assert client.get_shipment_items(shipments[0]["ShipmentId"], marketplace_id=US)
    pages = list(client.list_financial_events(posted_after="2026-08-01T00:00:00Z"))
    assert pages and any(page.get("ShipmentEventList") for page in pages)

    # Past the burst of getOrder (30, then 0.5/s): the client waits instead of being
    # throttled.
    for _ in range(35):
        client.get_order(mfn["AmazonOrderId"])
    # Amazon's quotas were respected by waiting in simulated time, never by being throttled.
    assert _throttled_calls() == 0
    assert client.throttled == 0
    assert client.quota_seconds >= 4 / 0.5
    assert time.monotonic() - started < 20


def _listing(client):
    return [
        (o["AmazonOrderId"], o["OrderStatus"], o["LastUpdateDate"],
         (o.get("OrderTotal") or {}).get("Amount"))
        for o in client.get_orders(MarketplaceIds=[US, "A2EUQ1WTGCTBG2"], CreatedAfter=SINCE)
    ]


@pytest.mark.django_db
def test_full_orders_listing_under_flaky_equals_the_one_under_none(live_client):
    calm, calm_app = live_client(faults="none")
    expected = _listing(calm)
    calm_items = [calm.get_order_items(order_id) for order_id, *_ in expected[:15]]
    flaky, flaky_app = live_client(faults="flaky", selling_partner_id="A1FLAKYCOPY")
    got = _listing(flaky)
    flaky_items = [flaky.get_order_items(order_id) for order_id, *_ in expected[:15]]
    assert got == expected
    assert flaky_items == calm_items
    assert flaky_app.seq > calm_app.seq  # faults happened and were retried
    flaky_calls = ApiCall.objects.filter(account=flaky.account)
    assert flaky_calls.filter(status_code__gte=500).exists() or \
        flaky_calls.filter(status_code__isnull=True).exists()


@pytest.mark.django_db
def test_orders_2026_and_v0_give_the_same_normalised_orders(live_client):
    v0, _ = live_client(orders_api_version="v0")
    v2026, _ = live_client(orders_api_version="2026-01-01", selling_partner_id="A1V2026COPY")
    assert v0.orders.version == "v0" and v2026.orders.version == "2026-01-01"
    since = "2026-09-01T00:00:00Z"
    old = list(v0.orders.search(marketplace_ids=[US], created_after=since))
    new = list(v2026.orders.search(marketplace_ids=[US], created_after=since))
    assert [o.order_id for o in new] == [o.order_id for o in old]
    for a, b in zip(old, new, strict=True):
        assert (a.marketplace_id, a.status, a.fulfillment_channel) == \
            (b.marketplace_id, b.status, b.fulfillment_channel)
        assert a.items is None and b.items is not None  # 2026 brings the items along
    sample = next(o for o in old if o.status == "Shipped")
    a, b = v0.orders.get(sample.order_id), v2026.orders.get(sample.order_id)
    assert [(i.order_item_id, i.seller_sku, i.quantity_ordered, i.item_price)
            for i in a.items] == \
        [(i.order_item_id, i.seller_sku, i.quantity_ordered, i.item_price) for i in b.items]
    assert a.order_total is None or a.order_total.currency == "USD"


@pytest.mark.django_db
def test_hostile_sandbox(live_client):
    client, app = live_client(faults="hostile", gzip_threshold=1000)
    client.report_attempts = 1  # see each FATAL/CANCELLED instead of requesting again
    outcomes = []
    for _ in range(4):
        try:
            path = client.report_fetch(ALL_ORDERS, marketplace_ids=[US], data_start_time=SINCE)
        except ReportFailed as exc:
            outcomes.append(str(exc))
        else:
            # The first download of a gzip document is cut short; the client downloads again.
            assert path.read_text(encoding="utf-8").startswith("amazon-order-id")
            path.unlink()
            outcomes.append("DONE")
    assert "DONE" in outcomes
    assert any("FATAL" in o for o in outcomes) and any("CANCELLED" in o for o in outcomes)
    # By default a failed report is requested again, so the same rhythm of failures ends
    # with the document every time.
    client.report_attempts = 3
    for _ in range(4):
        path = client.report_fetch(ALL_ORDERS, marketplace_ids=[US], data_start_time=SINCE)
        assert path.read_text(encoding="utf-8").startswith("amazon-order-id")
        path.unlink()
    # Access tokens expire early: the client refreshes once and carries on.
    for _ in range(40):
        client.get_order_items(next(iter(client.get_orders(MarketplaceIds=[US],
                                                            CreatedAfter=SINCE)))["AmazonOrderId"])
    assert client.auth.refreshes > 1
    # A revoked refresh token marks the account for re-authorisation.
    requests.post(f"{client.base_url}/_sandbox/revoke", json={"refresh_token": REFRESH_TOKEN},
                  timeout=5)
    client.auth.invalidate()
    client.account.__class__.objects.filter(pk=client.account.pk).update(
        access_token="", access_token_expires_at=None)
    with pytest.raises(AuthError) as info:
        client.get_marketplace_participations()
    assert info.value.reauthorization_required
    client.account.refresh_from_db()
    assert client.account.needs_reauthorization
