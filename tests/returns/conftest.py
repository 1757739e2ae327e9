"""Fixtures for the returns tests: mapped FBA and MFN listings in the test account's US
marketplace, with stock rows."""

from __future__ import annotations

from decimal import Decimal

import pytest


@pytest.fixture
def us(db):
    from marketplaces.models import Marketplace

    return Marketplace.objects.get(code="US")


@pytest.fixture
def rules(db):
    from returns.services import disposition_rules_ensure

    disposition_rules_ensure()


@pytest.fixture
def fba_listing(account, us, rules):
    from catalog.models import FbaStock, Item, Listing

    item = Item.objects.create(sku="MUG-1", name="Bamboo Mug")
    listing = Listing.objects.create(account=account, marketplace=us, seller_sku="SKU-FBA-1",
                                     channel="FBA", item=item, price=Decimal("20.00"),
                                     currency="USD")
    FbaStock.objects.create(listing=listing, fulfillable=10, unfulfillable=1)
    return listing


@pytest.fixture
def mfn_listing(account, us, rules):
    from catalog.models import Item, Listing, MerchantStock

    item = Item.objects.create(sku="LAMP-1", name="Desk Lamp")
    MerchantStock.objects.create(item=item, on_hand=5, reserved=0)
    return Listing.objects.create(account=account, marketplace=us, seller_sku="SKU-MFN-1",
                                  channel="MFN", item=item, price=Decimal("40.00"),
                                  currency="USD")
