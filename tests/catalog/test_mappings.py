"""A listing saved by hand: the mapping is applied when, and only when, it is new."""

from __future__ import annotations

import pytest
from django.urls import reverse

from amazonsync.models import SyncException
from catalog.models import Listing
from catalog.services import listing_discover
from catalog.services.mappings import listing_save
from marketplaces.models import Marketplace

pytestmark = pytest.mark.django_db


@pytest.fixture
def applied(monkeypatch):
    skus: list[str] = []
    monkeypatch.setattr("catalog.services.mappings.mapping_applied",
                        lambda *, listing: skus.append(listing.seller_sku))
    return skus


def _save(listing, capture, **changes):
    for name, value in changes.items():
        setattr(listing, name, value)
    with capture(execute=True):
        return listing_save(listing=listing)


@pytest.mark.parametrize("before,after,expected", [
    ("new", "MUG-1", True),   # a new listing with an item
    ("new", None, False),
    (None, "MUG-1", True),    # an unmapped listing mapped
    (None, None, False),
    ("MUG-1", "LAMP-1", False),  # re-mapped: was mapped already
    ("MUG-1", None, False),      # unmapped
    ("MUG-1", "MUG-1", False),   # saved unchanged
])
def test_listing_save_applies_a_new_mapping_only(
        account, items, applied, django_capture_on_commit_callbacks, before, after, expected):
    us = Marketplace.objects.get(code="US")
    listing = Listing(account=account, marketplace=us, seller_sku="SKU-1", channel="MFN")
    if before != "new":
        listing.item = items[before] if before else None
        listing.save()
    _save(listing, django_capture_on_commit_callbacks, item=items[after] if after else None)
    assert Listing.objects.get(seller_sku="SKU-1").item_id == (items[after].pk if after else None)
    assert applied == (["SKU-1"] if expected else [])


def test_mapping_in_the_change_form_resolves_the_unmapped_sku(
        client, ops_user, account, items, django_capture_on_commit_callbacks):
    us = Marketplace.objects.get(code="US")
    listing = listing_discover(account=account, marketplace=us, seller_sku="MYSTERY-1",
                               source="orders")
    exception = SyncException.objects.get(reason_code="unmapped_sku")
    client.force_login(ops_user)
    data = {
        "account": account.pk, "marketplace": us.pk, "seller_sku": "MYSTERY-1",
        "item": items["MUG-1"].pk, "asin": "", "fnsku": "", "parent_asin": "",
        "channel": "MFN", "condition": "new_new", "product_type": "PRODUCT", "price": "",
        "currency": "", "buffer_quantity": "0", "max_quantity": "",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:catalog_listing_change", args=[listing.pk]), data)
    assert response.status_code == 302, response.content[:3000]
    exception.refresh_from_db()
    assert exception.status == SyncException.Status.RESOLVED
    latest = Listing.objects.get(pk=listing.pk).history.latest()
    assert latest.history_user == ops_user and latest.item_id == items["MUG-1"].pk
