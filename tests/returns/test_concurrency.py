"""Two workers applying the same return at the same moment: stock changes once.

Needs real concurrent transactions, so it runs on PostgreSQL (skipped on SQLite)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from catalog.models import FbaStock, Item, Listing
from returns.models import InventoryAdjustment, ReturnEvent
from returns.parsers import FBA_REPORT_TYPE
from returns.services import disposition_rules_ensure, return_adjustment_apply

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_applies_change_stock_once(account):
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent transactions (PostgreSQL)")
    import datetime

    from marketplaces.models import Marketplace

    disposition_rules_ensure()
    us = Marketplace.objects.get(code="US")
    item = Item.objects.create(sku="MUG-1", name="Mug")
    listing = Listing.objects.create(account=account, marketplace=us, seller_sku="SKU-1",
                                     channel="FBA", item=item, price=Decimal("5"),
                                     currency="USD")
    FbaStock.objects.create(listing=listing, fulfillable=0)
    event = ReturnEvent.objects.create(
        account=account, marketplace=us, channel="FBA", order_id="111-1", seller_sku="SKU-1",
        reference="LPN1", return_date=datetime.datetime(2026, 9, 1, tzinfo=datetime.UTC),
        disposition="SELLABLE", quantity=3, listing=listing, item=item,
        report_type=FBA_REPORT_TYPE,
    )
    barrier = threading.Barrier(4)
    applied = []

    def worker():
        try:
            barrier.wait()
            applied.append(return_adjustment_apply(return_event=event).applied)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(applied) == [False, False, False, True]
    assert InventoryAdjustment.objects.count() == 1
    assert FbaStock.objects.get(listing=listing).fulfillable == 3
