"""The order upsert: idempotency, status transitions, cancellations, FBA vs MFN stock,
multi-currency money, pending orders, unmapped SKUs, customers and database invariants."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from amazonsync.models import SyncException
from catalog.models import Listing
from catalog.services import UNMAPPED_SKU, WAITING_ON_MAPPING, listing_map
from orders.models import Customer, Order, OrderLine, Shipment, ShipmentStatus
from orders.selectors import order_snapshot
from orders.services import ShipmentInvalid, orders_upsert, shipment_record
from tests.orders.builders import CA, JP, T0, data, stock, v0_item, v0_order

pytestmark = pytest.mark.django_db
HOUR = datetime.timedelta(hours=1)


def upsert(account, *pairs):
    return orders_upsert(account=account, batch=[data(o, i) for o, i in pairs])


def test_upserting_the_same_orders_twice_changes_nothing(account, mapped):
    pairs = [
        (v0_order("111-0000001-0000001"), [v0_item("SKU-MFN", qty=2)]),
        (v0_order("111-0000001-0000002", channel="AFN"), [v0_item("SKU-FBA")]),
        (v0_order("111-0000001-0000003", status="Pending"), [v0_item("SKU-MFN", price=None)]),
    ]
    first = upsert(account, *pairs)
    assert (first.created, first.updated, first.unchanged) == (3, 0, 0)
    before = order_snapshot(account=account)
    stamps = dict(Order.objects.values_list("amazon_order_id", "updated_at"))
    stock_before = stock(mapped)

    second = upsert(account, *pairs)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 3)
    assert order_snapshot(account=account) == before
    assert dict(Order.objects.values_list("amazon_order_id", "updated_at")) == stamps
    assert stock(mapped) == stock_before
    assert OrderLine.objects.count() == 3


def test_status_transitions_and_shipping_consume_the_reservation(account, mapped):
    oid = "111-0000002-0000001"
    item_id = "20000000000001"
    upsert(account, (v0_order(oid), [v0_item("SKU-MFN", item_id=item_id, qty=3)]))
    assert stock(mapped) == (10, 3)  # MFN reserves merchant stock
    order = Order.objects.get(amazon_order_id=oid)
    assert order.status == "Unshipped" and order.shipped_at is None

    counts = upsert(account, (v0_order(oid, status="PartiallyShipped", updated=T0 + HOUR),
                              [v0_item("SKU-MFN", item_id=item_id, qty=3, shipped=1)]))
    assert counts.updated == 1
    assert stock(mapped) == (9, 2)  # one unit left the warehouse, two still held

    upsert(account, (v0_order(oid, status="Shipped", updated=T0 + 2 * HOUR),
                     [v0_item("SKU-MFN", item_id=item_id, qty=3, shipped=3)]))
    order.refresh_from_db()
    assert order.status == "Shipped"
    assert order.shipped_at == T0 + 2 * HOUR
    assert stock(mapped) == (7, 0)
    assert OrderLine.objects.get(order=order).reserved_quantity == 0


def test_older_data_never_overwrites_newer(account, mapped):
    oid = "111-0000003-0000001"
    upsert(account, (v0_order(oid, status="Shipped", updated=T0 + HOUR),
                     [v0_item("SKU-MFN", item_id="1", shipped=1)]))
    counts = upsert(account, (v0_order(oid, status="Unshipped", updated=T0),
                              [v0_item("SKU-MFN", item_id="1")]))
    assert counts.unchanged == 1
    assert Order.objects.get(amazon_order_id=oid).status == "Shipped"


def test_cancellation_releases_stock_and_cancels_pending_shipments(account, mapped):
    oid = "111-0000004-0000001"
    upsert(account, (v0_order(oid), [v0_item("SKU-MFN", item_id="41", qty=2)]))
    order = Order.objects.get(amazon_order_id=oid)
    line = order.lines.get()
    shipment = shipment_record(order=order, carrier="UPS", tracking_number="1Z999",
                               ship_date=T0, lines=[(line, 2)])
    assert stock(mapped) == (10, 2)

    upsert(account, (v0_order(oid, status="Canceled", updated=T0 + HOUR),
                     [v0_item("SKU-MFN", item_id="41", qty=2, price=None)]))
    order.refresh_from_db()
    assert order.status == "Canceled"
    assert stock(mapped) == (10, 0)  # released, nothing consumed
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.CANCELED
    with pytest.raises(ShipmentInvalid):
        shipment_record(order=order, carrier="UPS", tracking_number="1Z1", ship_date=T0,
                        lines=[(line, 1)])


def test_fba_orders_never_reserve_or_ship_merchant_stock(account, mapped):
    oid = "111-0000005-0000001"
    upsert(account, (v0_order(oid, channel="AFN"), [v0_item("SKU-FBA", item_id="51", qty=4)]))
    assert stock(mapped) == (10, 0)
    upsert(account, (v0_order(oid, channel="AFN", status="Shipped", updated=T0 + HOUR),
                     [v0_item("SKU-FBA", item_id="51", qty=4, shipped=4)]))
    assert stock(mapped) == (10, 0)
    order = Order.objects.get(amazon_order_id=oid)
    with pytest.raises(ShipmentInvalid, match="fulfilled by Amazon"):
        shipment_record(order=order, carrier="UPS", tracking_number="1Z", ship_date=T0,
                        lines=[(order.lines.get(), 1)])
    assert not Shipment.objects.exists()


def test_seller_fulfilled_prime_flag(account, mapped):
    upsert(account,
           (v0_order("111-0000006-0000001", prime=True), [v0_item("SKU-MFN")]),
           (v0_order("111-0000006-0000002", prime=True, channel="AFN"), [v0_item("SKU-FBA")]))
    sfp = dict(Order.objects.values_list("amazon_order_id", "is_seller_fulfilled_prime"))
    assert sfp == {"111-0000006-0000001": True, "111-0000006-0000002": False}


def test_money_is_decimal_with_the_order_currency(account, db):
    from marketplaces.models import AccountMarketplace, Marketplace

    AccountMarketplace.objects.get_or_create(account=account,
                                             marketplace=Marketplace.objects.get(pk=JP))
    upsert(account,
           (v0_order("249-0000007-0000001", marketplace=JP, currency="JPY", total="2178"),
            [v0_item("SKU-JP", price="1980", tax="198", currency="JPY")]),
           (v0_order("701-0000007-0000002", marketplace=CA, currency="CAD", total="0.10"),
            [v0_item("SKU-CA", price="0.07", tax="0.03", currency="CAD")]))
    jp = Order.objects.get(amazon_order_id="249-0000007-0000001")
    assert (jp.currency, jp.order_total) == ("JPY", Decimal("2178"))
    line = jp.lines.get()
    assert line.currency == "JPY" and line.item_price == Decimal("1980")
    ca = Order.objects.get(amazon_order_id="701-0000007-0000002")
    line = ca.lines.get()
    assert isinstance(line.item_price, Decimal)
    # exact decimal arithmetic: 0.07 + 0.03 is 0.10, not 0.09999999999999999
    assert line.item_price + line.item_tax == ca.order_total == Decimal("0.10")
    assert ca.currency == line.currency == "CAD"


def test_pending_orders_are_stored_without_prices_and_completed_later(account, mapped):
    oid = "111-0000008-0000001"
    upsert(account, (v0_order(oid, status="Pending"), [v0_item("SKU-MFN", item_id="81",
                                                               price=None)]))
    order = Order.objects.get(amazon_order_id=oid)
    assert order.order_total is None and order.currency == "USD"
    assert order.lines.get().item_price is None
    assert order.customer.order_key == oid  # no buyer token yet: one customer per order
    assert stock(mapped) == (10, 1)  # pending MFN orders hold stock too

    upsert(account, (v0_order(oid, updated=T0 + HOUR, buyer="tok@marketplace.amazon.com"),
                     [v0_item("SKU-MFN", item_id="81")]))
    order.refresh_from_db()
    assert order.status == "Unshipped" and order.order_total == Decimal("21.98")
    assert order.lines.get().item_price == Decimal("19.99")
    assert order.customer.buyer_token == "tok@marketplace.amazon.com"
    assert not Customer.objects.filter(order_key=oid).exists()  # the placeholder is gone
    assert stock(mapped) == (10, 1)


def test_customers_are_matched_by_buyer_token(account, mapped):
    upsert(account,
           (v0_order("111-0000009-0000001", buyer="same@x"), [v0_item("SKU-MFN")]),
           (v0_order("111-0000009-0000002", buyer="same@x"), [v0_item("SKU-MFN")]),
           (v0_order("111-0000009-0000003", buyer=None), [v0_item("SKU-MFN")]))
    assert Customer.objects.filter(buyer_token="same@x").get().orders.count() == 2
    assert Customer.objects.get(order_key="111-0000009-0000003").orders.count() == 1


def test_unmapped_sku_is_stored_flagged_and_resolved_once_mapped(account, us, item):
    oid = "111-0000010-0000001"
    upsert(account, (v0_order(oid), [v0_item("NEW-SKU", qty=2)]))
    line = OrderLine.objects.get(order__amazon_order_id=oid)
    assert line.unmapped and line.reserved_quantity == 0
    listing = Listing.objects.get(seller_sku="NEW-SKU")
    assert line.listing == listing and listing.item is None
    waiting = SyncException.objects.get(reason_code=WAITING_ON_MAPPING)
    assert waiting.object_key == f"{oid}/NEW-SKU" and waiting.status == "open"
    assert SyncException.objects.filter(reason_code=UNMAPPED_SKU, status="open").exists()

    listing_map(listing=listing, item=item)  # ops maps it in the admin

    waiting.refresh_from_db()
    assert waiting.status == "resolved"
    line.refresh_from_db()
    assert not line.unmapped and line.reserved_quantity == 2
    assert stock(item) == (10, 2)
    # syncing the order again does not reopen anything
    counts = upsert(account, (v0_order(oid), [v0_item("NEW-SKU", qty=2,
                                                      item_id=line.order_item_id)]))
    assert counts.unchanged == 1 and counts.exceptions == 0


def test_report_lines_get_their_order_item_id_from_the_api(account, mapped):
    from orders.parsers import LineData, OrderData

    oid = "111-0000011-0000001"
    report = data(v0_order(oid), [v0_item("SKU-MFN")])
    report = OrderData(amazon_order_id=oid, marketplace_id=report.marketplace_id,
                       source="report", values={k: v for k, v in report.values.items()
                                                if k not in ("is_prime", "latest_ship_date")},
                       lines=[LineData(seller_sku="SKU-MFN", values={"quantity_ordered": 1})])
    orders_upsert(account=account, batch=[report])
    assert OrderLine.objects.get().order_item_id == ""
    counts = upsert(account, (v0_order(oid), [v0_item("SKU-MFN", item_id="555")]))
    assert counts.updated == 1
    line = OrderLine.objects.get()
    assert line.order_item_id == "555" and line.item_price == Decimal("19.99")
    assert Order.objects.get().source == "api"


def test_database_refuses_duplicates_and_bad_values(account, us):
    upsert(account, (v0_order("111-0000012-0000001"), [v0_item("X")]))
    order = Order.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(account=account, marketplace=us, amazon_order_id=order.
                             amazon_order_id, purchase_date=T0, last_update_date=T0,
                             status="Unshipped", fulfillment_channel="MFN", currency="USD",
                             first_stored_at=T0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(status="Lost")
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(currency="usd")
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderLine.objects.filter(order=order).update(reserved_quantity=5)
    line = order.lines.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderLine.objects.create(order=order, seller_sku="X", order_item_id=line.order_item_id,
                                 currency="USD")


def test_a_kit_order_reserves_and_ships_its_components(account, us):
    from catalog.models import Item, KitComponent, MerchantStock

    mug = Item.objects.create(sku="MUG", name="Mug")
    lid = Item.objects.create(sku="LID", name="Lid")
    kit = Item.objects.create(sku="MUG-SET", name="Two mugs and a lid")
    KitComponent.objects.create(kit=kit, component=mug, quantity=2)
    KitComponent.objects.create(kit=kit, component=lid, quantity=1)
    MerchantStock.objects.create(item=mug, on_hand=10)
    MerchantStock.objects.create(item=lid, on_hand=5)
    Listing.objects.create(account=account, marketplace=us, seller_sku="SKU-KIT",
                           channel="MFN", item=kit, asin="B0TESTKIT1")
    oid = "111-0000099-0000001"
    upsert(account, (v0_order(oid), [v0_item("SKU-KIT", item_id="91", qty=2)]))
    assert (stock(mug), stock(lid)) == ((10, 4), (5, 2))
    assert not MerchantStock.objects.filter(item=kit).exclude(reserved=0).exists()
    upsert(account, (v0_order(oid, status="PartiallyShipped", updated=T0 + HOUR),
                     [v0_item("SKU-KIT", item_id="91", qty=2, shipped=1)]))
    assert (stock(mug), stock(lid)) == ((8, 2), (4, 1))
    upsert(account, (v0_order(oid, status="Canceled", updated=T0 + 2 * HOUR),
                     [v0_item("SKU-KIT", item_id="91", qty=2, shipped=1, price=None)]))
    assert (stock(mug), stock(lid)) == ((8, 0), (4, 0))


def test_version_stored_at_marks_api_versions_on_the_syncs_clock(account, mapped):
    from orders.parsers import OrderData

    oid = "111-0000012-0000001"
    first = data(v0_order(oid), [v0_item("SKU-MFN")])
    report = OrderData(amazon_order_id=oid, marketplace_id=first.marketplace_id,
                       source="report", values=dict(first.values), lines=first.lines)
    sync_clock = T0 + 5 * HOUR
    orders_upsert(account=account, batch=[report], now=sync_clock)
    assert Order.objects.get().version_stored_at is None  # a report version: no latency
    # the API gives the same version: the order becomes an API order, still no latency
    orders_upsert(account=account, batch=[first], now=sync_clock + HOUR)
    order = Order.objects.get()
    assert order.source == "api" and order.version_stored_at is None
    # a new version from the API is stamped with the sync's clock, not the wall clock
    newer = data(v0_order(oid, updated=T0 + 2 * HOUR), [v0_item("SKU-MFN")])
    orders_upsert(account=account, batch=[newer], now=sync_clock + 2 * HOUR)
    assert Order.objects.get().version_stored_at == sync_clock + 2 * HOUR
