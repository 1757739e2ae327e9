"""Catalog flows against the live local SP-API sandbox (real HTTP, real feeds)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from amazonsync.models import SyncException, SyncRun
from amazonsync.services import flow_run
from catalog.models import (
    FbaStock,
    InboundShipment,
    Item,
    KitComponent,
    Listing,
    MerchantStock,
    PushFeed,
)
from catalog.services import INBOUND_DISCREPANCY, QUANTITY_REJECTED, listing_key
from marketplaces.models import Marketplace

pytestmark = pytest.mark.django_db(transaction=True)
US = "ATVPDKIKX0DER"


def _products(box, channel, n, kind="simple"):
    out = [p for p in box.world.products.values()
           if p.kind == kind and p.channels.get("US") == channel]
    assert len(out) >= n
    return out[:n]


def _quantity(box, sku):
    rows = requests.get(f"{box.url}/_sandbox/state/listings",
                        params={"sku": sku, "marketplaceId": US}, timeout=10).json()["listings"]
    return rows[0]["quantity"] if rows else None


def _run(box, flow):
    run = flow_run(flow=flow, account_id=box.account.pk, marketplace_id=US)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    return run


def test_inventory_push_updates_the_sandbox_and_a_rejection_becomes_an_exception(sandbox):
    box = sandbox
    us = Marketplace.objects.get(pk=US)
    p1, p2, p3, p4 = _products(box, "MFN", 4)
    (fba_product,) = _products(box, "AFN", 1)
    stock = {p1.sku: 17, p2.sku: 5, p3.sku: 0}
    items = {}
    for product in (p1, p2, p3):
        items[product.sku] = Item.objects.create(sku=f"OUR-{product.sku}", name=product.title)
        MerchantStock.objects.create(item=items[product.sku], on_hand=stock[product.sku])
        Listing.objects.create(account=box.account, marketplace=us, seller_sku=product.sku,
                               asin=product.asin, item=items[product.sku], channel="MFN",
                               buffer_quantity=2 if product is p1 else 0)
    kit = Item.objects.create(sku="OUR-KIT", name="kit")
    KitComponent.objects.create(kit=kit, component=items[p1.sku], quantity=2)
    KitComponent.objects.create(kit=kit, component=items[p2.sku], quantity=1)
    Listing.objects.create(account=box.account, marketplace=us, seller_sku=p4.sku, item=kit,
                           channel="MFN")
    Listing.objects.create(account=box.account, marketplace=us, seller_sku="GHOST-SKU-1",
                           item=items[p1.sku], channel="MFN")
    fba_before = _quantity(box, fba_product.sku)
    Listing.objects.create(account=box.account, marketplace=us, seller_sku=fba_product.sku,
                           item=items[p1.sku], channel="FBA")

    run = _run(box, "inventory_push")
    assert _quantity(box, p1.sku) == 15  # 17 − buffer 2
    assert _quantity(box, p2.sku) == 5
    assert _quantity(box, p3.sku) == 0
    assert _quantity(box, p4.sku) == 5  # kit: min(17 // 2, 5 // 1)
    assert _quantity(box, fba_product.sku) == fba_before  # FBA never pushed from our stock
    feed = PushFeed.objects.get()
    assert (feed.status, feed.messages, feed.accepted, feed.rejected) == ("DONE", 5, 4, 1)
    assert run.updated == 4 and run.failed == 1 and run.api_calls >= 5
    pushed = dict(Listing.objects.values_list("seller_sku", "last_pushed_quantity"))
    assert pushed[p1.sku] == 15 and pushed[p4.sku] == 5 and pushed["GHOST-SKU-1"] is None
    exc = SyncException.objects.get(reason_code=QUANTITY_REJECTED)
    assert exc.object_key == listing_key(account=box.account, marketplace=us,
                                         seller_sku="GHOST-SKU-1")
    assert exc.status == SyncException.Status.OPEN and "GHOST-SKU-1" in exc.message
    assert exc.flow == "inventory_push" and exc.owner_team == "ops"

    # stock moves: only the listings whose target changed are sent
    MerchantStock.objects.filter(item=items[p2.sku]).update(on_hand=9)
    Listing.objects.filter(seller_sku="GHOST-SKU-1").update(push_enabled=False)
    _run(box, "inventory_push")
    feed = PushFeed.objects.order_by("-pk").first()
    assert (feed.messages, feed.accepted) == (2, 2)  # p2 and the kit (min(8, 9) = 8)
    assert _quantity(box, p2.sku) == 9 and _quantity(box, p4.sku) == 8
    _run(box, "inventory_push")
    assert PushFeed.objects.count() == 2  # nothing changed: no feed


def test_price_push_updates_sandbox_prices(sandbox):
    box = sandbox
    us = Marketplace.objects.get(pk=US)
    (product,) = _products(box, "MFN", 1)
    item = Item.objects.create(sku="OUR-1", name="x")
    Listing.objects.create(account=box.account, marketplace=us, seller_sku=product.sku,
                           item=item, channel="MFN", price=Decimal("23.45"), currency="USD")
    _run(box, "price_push")
    rows = requests.get(f"{box.url}/_sandbox/state/listings",
                        params={"sku": product.sku, "marketplaceId": US}, timeout=10).json()
    assert rows["listings"][0]["price"] == {"amount": "23.45", "currencyCode": "USD"}
    assert Listing.objects.get().last_pushed_price == Decimal("23.45")


def test_fba_inventory_pull_stores_stock_per_sku_and_discovers_unmapped(sandbox):
    box = sandbox
    us = Marketplace.objects.get(pk=US)
    afn = [(sku, q) for (code, sku), q in box.world.fba_inventory.items() if code == "US"]
    mapped_sku, mismatch_sku = afn[0][0], afn[1][0]
    item = Item.objects.create(sku="OUR-FBA", name="x")
    Listing.objects.create(account=box.account, marketplace=us, seller_sku=mapped_sku,
                           item=item, channel="FBA")
    Listing.objects.create(account=box.account, marketplace=us, seller_sku=mismatch_sku,
                           item=item, channel="MFN")
    run = _run(box, "fba_inventory_pull")
    assert run.fetched == len(afn)
    stock = FbaStock.objects.get(listing__seller_sku=mapped_sku)
    assert stock.fulfillable == dict(afn)[mapped_sku]["fulfillable"]
    assert stock.pulled_at is not None and stock.amazon_updated_at is not None
    # FBA stock never lands on an MFN listing
    assert not FbaStock.objects.filter(listing__seller_sku=mismatch_sku).exists()
    assert SyncException.objects.filter(reason_code="fba_stock_on_mfn_listing").count() == 1
    # the rest were discovered as unmapped FBA listings with merch exceptions
    unmapped = Listing.objects.filter(item__isnull=True)
    assert unmapped.count() == len(afn) - 2
    assert set(unmapped.values_list("channel", flat=True)) == {"FBA"}
    assert SyncException.objects.filter(reason_code="unmapped_sku", owner_team="merch",
                                        status="open").count() == len(afn) - 2
    # a second pull changes nothing but freshness
    first = stock.pulled_at
    _run(box, "fba_inventory_pull")
    stock.refresh_from_db()
    assert stock.pulled_at > first
    assert FbaStock.objects.count() == len(afn) - 1


def test_inbound_pull_and_discrepancies_after_closing(sandbox):
    """Canada: in this world one shipment is still receiving and closes short later."""
    box = sandbox
    ca = "A2EUQ1WTGCTBG2"

    def short(at):
        return {(s.id, p.sku) for s in box.world.inbound_shipments
                if s.mp.code == "CA" and s.created <= box.now and s.status(at) == "CLOSED"
                for p, shipped, final in s.items if shipped != final}

    def found():
        return {tuple(e.object_key.split("/")) for e in SyncException.objects.filter(
            reason_code=INBOUND_DISCREPANCY)}

    visible = [s for s in box.world.inbound_shipments
               if s.mp.code == "CA" and s.created <= box.now]
    run = flow_run(flow="inbound_pull", account_id=box.account.pk, marketplace_id=ca)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert InboundShipment.objects.count() == len(visible)
    assert found() == short(box.now)
    open_now = InboundShipment.objects.filter(closed_at__isnull=True).count()
    assert open_now >= 1
    # time passes: the open shipment closes short, and the next pull (by id) sees it
    requests.post(f"{box.url}/_sandbox/advance", json={"seconds": 40 * 86400}, timeout=10)
    later = short(box.now)
    assert later - found(), "the world closes a short shipment later"
    run = flow_run(flow="inbound_pull", account_id=box.account.pk, marketplace_id=ca)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert later <= found()
    for exc in SyncException.objects.filter(reason_code=INBOUND_DISCREPANCY):
        assert exc.owner_team == "ops" and "received" in exc.message
        assert exc.status == SyncException.Status.OPEN
    assert InboundShipment.objects.filter(status="CLOSED", closed_at__isnull=True).count() == 0
    item = InboundShipment.objects.get(shipment_id=sorted(later)[0][0]).items.get(
        seller_sku=sorted(later)[0][1])
    assert item.quantity_received != item.quantity_shipped
