"""Catalog admin pages: search, filters, no N+1, history, export safe for spreadsheets."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog.models import (
    FbaStock,
    InboundShipment,
    InboundShipmentItem,
    Item,
    KitComponent,
    Listing,
    PushFeed,
)
from marketplaces.models import Marketplace

pytestmark = pytest.mark.django_db


def _listings(account, items, n: int, start: int = 0):
    us = Marketplace.objects.get(code="US")
    for i in range(start, start + n):
        listing = Listing.objects.create(
            account=account, marketplace=us, seller_sku=f"SKU-{i:03d}",
            channel="FBA" if i % 2 else "MFN", asin=f"B0{i:08d}",
            item=items["MUG-1"] if i % 3 else None, price=Decimal("9.99"), currency="USD")
        if listing.channel == "FBA":
            FbaStock.objects.create(listing=listing, fulfillable=i, pulled_at=timezone.now())


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


@pytest.mark.parametrize("model", ["listing", "item", "fbastock", "inboundshipment",
                                   "merchantstock", "pushfeed"])
def test_changelists_do_not_grow_queries_with_rows(client, superuser, account, items, model):
    client.force_login(superuser)
    url = reverse(f"admin:catalog_{model}_changelist")
    _listings(account, items, 2)
    one, _ = _queries(client, url)
    _listings(account, items, 20, start=10)
    for n in range(8):
        item = Item.objects.create(sku=f"EXTRA-{n}", name="extra")
        KitComponent.objects.create(kit=item, component=items["MUG-1"], quantity=2)
        shipment = InboundShipment.objects.create(account=account, shipment_id=f"FBA{n}",
                                                  status="CLOSED")
        InboundShipmentItem.objects.create(shipment=shipment, seller_sku="SKU-001",
                                           quantity_shipped=10, quantity_received=9)
        PushFeed.objects.create(account=account, marketplace_id="ATVPDKIKX0DER",
                                kind="quantity", submitted_at=timezone.now())
    many, _ = _queries(client, url)
    assert many == one or many <= one + 1, f"{model}: {one} queries → {many}"


def test_listing_search_and_filters(client, ops_user, account, items):
    client.force_login(ops_user)
    _listings(account, items, 9)
    url = reverse("admin:catalog_listing_changelist")
    assert client.get(url, {"q": "SKU-004"}).context["cl"].result_count == 1
    assert client.get(url, {"q": "B000000005"}).context["cl"].result_count == 1
    mapped = Listing.objects.filter(item__isnull=False).count()
    assert client.get(url, {"q": "MUG-1"}).context["cl"].result_count == mapped  # item SKU
    assert client.get(url, {"q": "MUG-1 name"}).context["cl"].result_count == mapped  # name
    assert client.get(url, {"mapped": "no"}).context["cl"].result_count == 9 - mapped
    assert client.get(url, {"channel": "FBA"}).context["cl"].result_count == 4
    assert client.get(url, {"push_enabled__exact": "1"}).context["cl"].result_count == 9
    assert client.get(url, {"marketplace__id__exact": "ATVPDKIKX0DER"}
                      ).context["cl"].result_count == 9


def test_change_pages_and_history(client, ops_user, account, items):
    client.force_login(ops_user)
    _listings(account, items, 3)
    listing = Listing.objects.get(seller_sku="SKU-000")
    kit = Item.objects.create(sku="KIT-1", name="Kit")
    KitComponent.objects.create(kit=kit, component=items["MUG-1"], quantity=3)
    response = client.get(reverse("admin:catalog_item_change", args=[kit.pk]))
    assert b"kit components" in response.content.lower()
    assert b"16" in response.content  # 50 mugs / 3 per kit
    response = client.get(reverse("admin:catalog_listing_change", args=[listing.pk]))
    assert response.status_code == 200
    # map it through the admin: history records the change and who made it
    data = {
        "account": account.pk, "marketplace": "ATVPDKIKX0DER", "seller_sku": "SKU-000",
        "item": items["LAMP-1"].pk, "asin": "B000000000", "fnsku": "", "parent_asin": "",
        "channel": "MFN", "condition": "new_new", "product_type": "PRODUCT", "price": "9.99",
        "currency": "USD", "push_enabled": "on", "buffer_quantity": "1", "max_quantity": "",
    }
    response = client.post(reverse("admin:catalog_listing_change", args=[listing.pk]), data)
    assert response.status_code == 302, response.content[:3000]
    listing.refresh_from_db()
    assert listing.item == items["LAMP-1"]
    latest = listing.history.latest()
    assert latest.history_user == ops_user and latest.item_id == items["LAMP-1"].pk
    response = client.get(reverse("admin:catalog_listing_history", args=[listing.pk]))
    assert response.status_code == 200 and b"opsuser" in response.content


def test_map_to_item_action(client, ops_user, account, items):
    client.force_login(ops_user)
    _listings(account, items, 6)
    unmapped = list(Listing.objects.filter(item__isnull=True).values_list("pk", flat=True))
    url = reverse("admin:catalog_listing_changelist")
    response = client.post(url, {"action": "map_to_item", "_selected_action": unmapped})
    assert b"Internal SKU of the item" in response.content
    response = client.post(url, {"action": "map_to_item", "_selected_action": unmapped,
                                 "apply": "1", "item_sku": "BAG-1"})
    assert response.status_code == 302
    assert set(Listing.objects.filter(pk__in=unmapped).values_list("item__sku", flat=True)) \
        == {"BAG-1"}


def test_export_neutralises_formulas(client, ops_user, account, items):
    client.force_login(ops_user)
    us = Marketplace.objects.get(code="US")
    Listing.objects.create(account=account, marketplace=us, seller_sku="=HYPERLINK(\"x\")",
                           item=items["MUG-1"], channel="MFN")
    Listing.objects.create(account=account, marketplace=us, seller_sku="@SUM(A1)",
                           channel="MFN")
    Listing.objects.create(account=account, marketplace=us, seller_sku="+1-PLAIN",
                           channel="MFN")
    Listing.objects.create(account=account, marketplace=us, seller_sku="-CMD", channel="MFN")
    Item.objects.filter(pk=items["MUG-1"].pk).update(name="=cmd|' /C calc'!A0")
    response = client.post(reverse("admin:catalog_listing_export"), {
        "format": "0", "resource": "0",
        **{f"listingresource_{c}": "on" for c in ("seller_account", "marketplace",
                                                   "seller_sku", "item_sku", "channel")}})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    skus = {row[2] for row in rows[1:]}
    assert skus == {"'=HYPERLINK(\"x\")", "'@SUM(A1)", "'+1-PLAIN", "'-CMD"}
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@"))
    response = client.post(reverse("admin:catalog_item_export"), {
        "format": "1", "resource": "0",
        **{f"itemresource_{c}": "on" for c in ("sku", "name")}})
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert "'=cmd|' /C calc'!A0" in names


def test_exported_file_reimports_unchanged(client, ops_user, account, items):
    from .conftest import import_file, page_text

    client.force_login(ops_user)
    _listings(account, items, 5)
    Listing.objects.filter(seller_sku="SKU-001").update(seller_sku="-DASH-SKU")
    response = client.post(reverse("admin:catalog_listing_export"), {
        "format": "0", "resource": "0",
        **{f"listingresource_{c}": "on" for c in (
            "seller_account", "marketplace", "seller_sku", "channel", "asin", "fnsku",
            "condition", "parent_asin", "product_type", "item_sku", "price", "currency",
            "push_enabled", "buffer_quantity", "max_quantity")}})
    preview, _ = import_file(client, response.content)
    assert "0 new, 0 changed, 5 unchanged" in page_text(preview)
    assert Listing.objects.filter(seller_sku="-DASH-SKU").exists()
