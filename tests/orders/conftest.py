"""Catalog fixtures for the orders tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def us(db):
    from marketplaces.models import Marketplace

    return Marketplace.objects.get(code="US")


@pytest.fixture
def item(db):
    from catalog.models import Item, MerchantStock

    item = Item.objects.create(sku="MUG-1", name="Mug")
    MerchantStock.objects.create(item=item, on_hand=10)
    return item


@pytest.fixture
def mapped(account, us, item):
    """SKU-MFN (MFN) and SKU-FBA (FBA) mapped to the item in the US marketplace."""
    from catalog.models import Listing

    Listing.objects.create(account=account, marketplace=us, seller_sku="SKU-MFN",
                           channel="MFN", item=item, asin="B0TEST0001")
    Listing.objects.create(account=account, marketplace=us, seller_sku="SKU-FBA",
                           channel="FBA", item=item, asin="B0TEST0002")
    return item
