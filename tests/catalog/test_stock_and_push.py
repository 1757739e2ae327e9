"""Kit arithmetic, push targets and deltas, feed documents, FBA vs MFN pools (no network)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from amazonsync.flows import FlowContext, get_flow
from amazonsync.models import SyncException, SyncRun
from amazonsync.spapi.clock import RealClock
from amazonsync.spapi.roundtrips import FeedResult
from catalog import feeds, selectors, services
from catalog.models import FbaStock, Item, KitComponent, Listing, MerchantStock, PushFeed
from marketplaces.models import Marketplace

pytestmark = pytest.mark.django_db


def _item(sku, on_hand=0, reserved=0, active=True):
    item = Item.objects.create(sku=sku, name=sku, active=active)
    MerchantStock.objects.create(item=item, on_hand=on_hand, reserved=reserved)
    return item


def _listing(account, sku, item, *, channel="MFN", mp="US", **kw):
    return Listing.objects.create(account=account, marketplace=Marketplace.objects.get(code=mp),
                                  seller_sku=sku, item=item, channel=channel, **kw)


# --- kits --------------------------------------------------------------------------------

@pytest.mark.parametrize("components,available,expected", [
    ([(1, 1)], {1: 7}, 7),
    ([(1, 2), (2, 1)], {1: 17, 2: 5}, 5),
    ([(1, 2), (2, 1)], {1: 9, 2: 50}, 4),  # floor(9 / 2)
    ([(1, 3), (2, 3)], {1: 2, 2: 300}, 0),  # not enough for one kit
    ([(1, 1), (2, 1)], {1: 10}, 0),  # a component with no stock at all
    ([(1, 1)], {1: -4}, 0),  # oversold component
])
def test_kit_available_is_min_of_floor_available_over_quantity(components, available, expected):
    assert selectors.kit_available(components, available) == expected


def test_kits_from_the_database_including_nested_kits():
    mug, lid = _item("MUG", 17), _item("LID", 5)
    kit = _item("MUG-KIT", on_hand=999)  # a kit's own stock row is not what it can sell
    KitComponent.objects.create(kit=kit, component=mug, quantity=2)
    KitComponent.objects.create(kit=kit, component=lid, quantity=1)
    double = Item.objects.create(sku="DOUBLE-KIT", name="two kits")
    KitComponent.objects.create(kit=double, component=kit, quantity=2)
    available = selectors.available_by_item()
    assert available[kit.pk] == 5
    assert available[double.pk] == 2
    assert selectors.item_available(item=mug) == 17


def test_a_component_shared_by_nested_kits_counts_the_units_of_both():
    mug = _item("MUG", 10)
    single = Item.objects.create(sku="ONE-MUG", name="one mug")
    KitComponent.objects.create(kit=single, component=mug, quantity=1)
    pair = Item.objects.create(sku="PAIR", name="a one-mug kit and a mug")
    KitComponent.objects.create(kit=pair, component=single, quantity=1)
    KitComponent.objects.create(kit=pair, component=mug, quantity=1)
    assert selectors.kit_expand([(pair.pk, 3)], selectors.kit_components([pair.pk])) == {
        mug.pk: 6}
    assert selectors.available_by_item()[pair.pk] == 5  # two mugs a pair


# --- stock_adjust: the one write of stock ---------------------------------------------------

def test_stock_adjust_puts_kits_on_their_components_all_the_way_down():
    mug, lid = _item("MUG", 10), _item("LID", 5)
    kit = Item.objects.create(sku="MUG-KIT", name="two mugs and a lid")
    KitComponent.objects.create(kit=kit, component=mug, quantity=2)
    KitComponent.objects.create(kit=kit, component=lid, quantity=1)
    double = Item.objects.create(sku="DOUBLE-KIT", name="two kits")
    KitComponent.objects.create(kit=double, component=kit, quantity=2)
    changes = services.stock_adjust(pool=services.MERCHANT, item=double, delta=3,
                                    reason="test")
    assert [(c.key, c.column, c.before, c.after) for c in changes] == [
        (mug.pk, "on_hand", 10, 22), (lid.pk, "on_hand", 5, 11)]
    assert not MerchantStock.objects.filter(item__in=[kit, double]).exists()
    assert services.stock_changes_detail(changes) == {"merchant_stock": [
        {"item": mug.pk, "column": "on_hand", "before": 10, "after": 22},
        {"item": lid.pk, "column": "on_hand", "before": 5, "after": 11}]}


def test_stock_adjust_on_hand_may_go_negative_reserved_never():
    mug = _item("MUG", 1, reserved=2)
    services.stock_adjust(pool=services.MERCHANT, reason="test",
                          deltas={mug.pk: {"on_hand": -3, "reserved": -5}})
    stock = MerchantStock.objects.get(item=mug)
    assert (stock.on_hand, stock.reserved) == (-2, 0)


def test_stock_adjust_fba_changes_the_listings_row_only(account):
    kit = Item.objects.create(sku="KIT", name="kit")
    KitComponent.objects.create(kit=kit, component=_item("MUG", 4), quantity=2)
    fba = _listing(account, "KIT-FBA", kit, channel="FBA")
    changes = services.stock_adjust(pool=services.FBA, listing=fba, column="unfulfillable",
                                    delta=2, reason="test")
    assert services.stock_changes_detail(changes) == {"fba_stock": [
        {"listing": fba.pk, "column": "unfulfillable", "before": 0, "after": 2}]}
    assert FbaStock.objects.get(listing=fba).unfulfillable == 2
    assert MerchantStock.objects.get(item__sku="MUG").on_hand == 4
    with pytest.raises(services.StockError):
        services.stock_adjust(pool=services.FBA, listing=fba, column="on_hand", delta=1,
                              reason="test")


def test_reserved_and_inactive_reduce_what_is_available():
    a, b, c = _item("A", 10, reserved=4), _item("B", 10, reserved=14), _item("C", 10,
                                                                             active=False)
    available = selectors.available_by_item()
    assert (available[a.pk], available[b.pk], available[c.pk]) == (6, 0, 0)


@pytest.mark.parametrize("available,buffer,maximum,expected", [
    (10, 0, None, 10), (10, 3, None, 7), (2, 5, None, 0), (100, 5, 40, 40), (30, 0, 0, 0),
])
def test_target_quantity(available, buffer, maximum, expected):
    assert selectors.target_quantity(available=available, buffer=buffer,
                                     maximum=maximum) == expected


# --- delta selection ---------------------------------------------------------------------

def test_only_changed_mfn_listings_are_selected(account):
    mug = _item("MUG", 20)
    _listing(account, "SAME", mug, last_pushed_quantity=20)
    _listing(account, "CHANGED", mug, buffer_quantity=5, last_pushed_quantity=20)
    _listing(account, "NEVER", mug)
    _listing(account, "OFF", mug, push_enabled=False)
    _listing(account, "UNMAPPED", None)
    _listing(account, "FBA-ONE", mug, channel="FBA")
    _listing(account, "OTHER-MP", mug, mp="CA")
    changes = selectors.quantity_deltas(account_id=account.pk, marketplace_id="ATVPDKIKX0DER")
    assert [(c.seller_sku, c.quantity, c.last_pushed) for c in changes] == [
        ("CHANGED", 15, 20), ("NEVER", 20, None)]


def test_fba_stock_never_feeds_mfn_and_merchant_stock_never_feeds_fba(account):
    mug = _item("MUG", 10)
    mfn = _listing(account, "MUG-MFN", mug)
    fba = _listing(account, "MUG-FBA", mug, channel="FBA")
    FbaStock.objects.create(listing=fba, fulfillable=500)
    changes = selectors.quantity_deltas(account_id=account.pk, marketplace_id="ATVPDKIKX0DER")
    assert [(c.listing_id, c.quantity) for c in changes] == [(mfn.pk, 10)]  # not 510
    # an FBA stock row cannot sneak into the MFN target either
    FbaStock.objects.create(listing=mfn, fulfillable=300)
    changes = selectors.quantity_deltas(account_id=account.pk, marketplace_id="ATVPDKIKX0DER")
    assert [(c.listing_id, c.quantity) for c in changes] == [(mfn.pk, 10)]


def test_price_delta(account):
    mug = _item("MUG")
    _listing(account, "P-SAME", mug, price=Decimal("9.99"), currency="USD",
             last_pushed_price=Decimal("9.9900"))
    _listing(account, "P-NEW", mug, price=Decimal("12.50"), currency="USD")
    _listing(account, "P-FBA", mug, channel="FBA", price=Decimal("13"), currency="USD",
             last_pushed_price=Decimal("12"))
    _listing(account, "P-NONE", mug)
    changes = selectors.price_deltas(account_id=account.pk, marketplace_id="ATVPDKIKX0DER")
    assert [(c.seller_sku, c.price) for c in changes] == [
        ("P-FBA", Decimal("13.00")), ("P-NEW", Decimal("12.50"))]


# --- feed documents ----------------------------------------------------------------------

def test_feed_documents_are_valid_against_amazons_schema():
    q = selectors.QuantityChange(1, "SKU-1", "PRODUCT", 7, None)
    p = selectors.PriceChange(2, "SKU-2", "LUGGAGE", Decimal("1234.50"), "EUR", None)
    doc = feeds.document(seller_id="A1SELLER", messages=[
        feeds.quantity_message(1, q), feeds.price_message(2, p, "A1PA6795UKMFR9")])
    content = feeds.dumps(doc)
    assert b'"value_with_tax":1234.50' in content  # an exact JSON number, not a float/str
    parsed = feeds.loads(content)
    feeds.validate_document(parsed)
    assert parsed["messages"][1]["patches"][0]["value"][0]["our_price"][0]["schedule"][0][
        "value_with_tax"] == Decimal("1234.50")


@pytest.mark.parametrize("breakage", [
    lambda d: d["header"].pop("sellerId"),
    lambda d: d["header"].update(version="1.0"),
    lambda d: d["messages"][0].update(messageId=0),
    lambda d: d["messages"][0].update(operationType="UPSERT"),
    lambda d: d["messages"][0].pop("productType"),
    lambda d: d.update(messages=[]),
])
def test_invalid_documents_are_refused(breakage):
    q = selectors.QuantityChange(1, "SKU-1", "PRODUCT", 7, None)
    doc = feeds.document(seller_id="A1SELLER", messages=[feeds.quantity_message(1, q)])
    breakage(doc)
    with pytest.raises(feeds.FeedDocumentInvalid):
        feeds.validate_document(doc)


def test_feeds_hold_at_most_25000_messages():
    batches = list(feeds.chunks(list(range(50_001))))
    assert [len(b) for b in batches] == [25_000, 25_000, 1]


# --- applying a processing report (fake client) ------------------------------------------

class FakeClient:
    def __init__(self, reject=(), status="DONE"):
        self.reject, self.status, self.sent = set(reject), status, []
        self.clock = RealClock()  # the flow's now, like any client's

    def feed_submit(self, feed_type, document, *, marketplace_ids):
        doc = feeds.loads(document)
        feeds.validate_document(doc)
        self.sent.append((feed_type, doc, marketplace_ids))
        issues = [{"messageId": m["messageId"], "sku": m["sku"], "code": "4000001",
                   "severity": "ERROR", "message": f"The SKU '{m['sku']}' was not found."}
                  for m in doc["messages"] if m["sku"] in self.reject]
        issues += [{"messageId": 1, "code": "18000", "severity": "WARNING",
                    "message": "a warning is not a failure"}]
        return FeedResult(feed_id=str(100 + len(self.sent)), feed_type=feed_type,
                          processing_status=self.status, issues=issues)


def _ctx(account, client, flow="inventory_push"):
    from django.utils import timezone

    us = Marketplace.objects.get(code="US")
    run = SyncRun.objects.create(flow=flow, account=account, marketplace=us,
                                 started_at=timezone.now())
    return FlowContext(run=run, account=account, marketplace=us, flow=get_flow(flow),
                       _client=client)


def test_report_results_update_last_pushed_or_open_an_exception(account):
    mug = _item("MUG", 8)
    ok = _listing(account, "OK-1", mug)
    bad = _listing(account, "BAD-1", mug)
    client = FakeClient(reject={"BAD-1"})
    outcome = services.quantities_push(ctx=_ctx(account, client))
    assert (outcome.feeds, outcome.messages, outcome.accepted, outcome.rejected) == (1, 2, 1, 1)
    ok.refresh_from_db()
    bad.refresh_from_db()
    assert ok.last_pushed_quantity == 8 and ok.last_pushed_quantity_at is not None
    assert bad.last_pushed_quantity is None
    exc = SyncException.objects.get(reason_code=services.QUANTITY_REJECTED)
    assert exc.object_key.endswith("/US/BAD-1") and "4000001" in exc.message
    feed = PushFeed.objects.get()
    assert (feed.feed_id, feed.messages, feed.accepted, feed.rejected) == ("101", 2, 1, 1)
    # next run: only the rejected one is sent again; once accepted, its exception resolves
    client = FakeClient()
    outcome = services.quantities_push(ctx=_ctx(account, client))
    assert [m["sku"] for m in client.sent[0][1]["messages"]] == ["BAD-1"]
    exc.refresh_from_db()
    assert exc.status == SyncException.Status.RESOLVED
    # and then nothing at all
    client = FakeClient()
    assert services.quantities_push(ctx=_ctx(account, client)).feeds == 0
    assert client.sent == []


def test_fatal_feed_applies_nothing(account):
    mug = _item("MUG", 8)
    listing = _listing(account, "OK-1", mug)
    services.quantities_push(ctx=_ctx(account, FakeClient(status="FATAL")))
    listing.refresh_from_db()
    assert listing.last_pushed_quantity is None
    exc = SyncException.objects.get(reason_code=services.FEED_FAILED)
    assert "FATAL" in exc.message


def test_price_push_sends_purchasable_offer(account):
    mug = _item("MUG")
    listing = _listing(account, "P-1", mug, price=Decimal("19.99"), currency="USD")
    client = FakeClient()
    services.prices_push(ctx=_ctx(account, client, flow="price_push"))
    patch = client.sent[0][1]["messages"][0]["patches"][0]
    assert patch["path"] == "/attributes/purchasable_offer"
    assert patch["value"][0] == {"marketplace_id": "ATVPDKIKX0DER", "currency": "USD",
                                 "our_price": [{"schedule": [{"value_with_tax":
                                                              Decimal("19.99")}]}]}
    listing.refresh_from_db()
    assert listing.last_pushed_price == Decimal("19.99")


def test_flows_are_registered_with_their_switches():
    assert get_flow("inventory_push").switch == "inventory"
    assert get_flow("price_push").switch == "prices"
    assert get_flow("fba_inventory_pull").per_marketplace
    assert get_flow("inbound_pull").per_marketplace
