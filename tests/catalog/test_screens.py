"""Catalog screens for people: marketplaces by name, money with its currency's places and
code, coloured states, the listing page as the exception queue's fix target, and the home
page panels (figures, links to the filtered lists, a constant number of queries)."""

from __future__ import annotations

import datetime
import html
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from amazonsync.dashboard import sections_for
from amazonsync.models import SyncException
from catalog import dashboard
from catalog.models import (
    InboundShipment,
    InboundShipmentItem,
    Item,
    Listing,
    PushFeed,
)
from catalog.services import listing_discover
from marketplaces.models import Marketplace

pytestmark = pytest.mark.django_db
REPR = re.compile(r"Decimal\(|\bNone\b|\{'|\[\{")


def cells(response) -> list[list[str]]:
    """The changelist's body rows as lists of non-empty cell texts."""
    body = response.content.decode()
    body = body[body.find('id="result_list"'):]
    out = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S):
        texts = [html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c))).strip()
                 for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)]
        texts = [t for t in texts if t]
        if texts:
            out.append(texts)
    return out


def by_first(response) -> dict[str, list[str]]:
    return {row[0]: row for row in cells(response)}


def visible_text(response) -> str:
    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", response.content.decode(),
                  flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)))


@pytest.fixture
def world(account, items):
    us = Marketplace.objects.get(code="US")
    ca = Marketplace.objects.get(code="CA")
    jp = Marketplace.objects.get(code="JP")
    Listing.objects.create(account=account, marketplace=us, seller_sku="MUG-US", channel="MFN",
                           item=items["MUG-1"], price=Decimal("1234.5"), currency="USD")
    Listing.objects.create(account=account, marketplace=jp, seller_sku="MUG-JP", channel="FBA",
                           item=items["MUG-1"], price=Decimal("1500.0000"), currency="JPY")
    for n in range(3):
        Listing.objects.create(account=account, marketplace=us, seller_sku=f"LOST-US-{n}")
    Listing.objects.create(account=account, marketplace=ca, seller_sku="LOST-CA-0")
    Item.objects.filter(pk=items["MUG-1"].pk).update(unit_cost=Decimal("1234.5678"),
                                                     cost_currency="EUR")
    return {"us": us, "ca": ca, "jp": jp}


def test_listing_list_shows_names_money_and_mapping_badges(client, ops_user, world):
    client.force_login(ops_user)
    response = client.get(reverse("admin:catalog_listing_changelist"))
    rows = by_first(response)
    assert "Amazon.com (US)" in rows["MUG-US"] and "1,234.50 USD" in rows["MUG-US"]
    assert "Amazon.co.jp (JP)" in rows["MUG-JP"] and "1,500 JPY" in rows["MUG-JP"]
    assert "Unmapped" in rows["LOST-CA-0"] and "Amazon.ca (CA)" in rows["LOST-CA-0"]
    assert "MFN" in rows["MUG-US"] and "FBA" in rows["MUG-JP"]
    table = " ".join(" ".join(r) for r in rows.values())
    assert "ATVPDKIKX0DER" not in table and "1500.0000" not in table
    assert not REPR.search(visible_text(response))
    assert 'as-badge-red' in response.content.decode()
    headers = cells(response)[0]
    assert "Mapped to item" in " ".join(headers) and "Fulfilment" in " ".join(headers)
    assert len([h for h in headers if h != "Select all rows"]) <= 9


def test_item_list_money_has_the_currency_places_and_code(client, ops_user, world):
    client.force_login(ops_user)
    rows = by_first(client.get(reverse("admin:catalog_item_changelist")))
    assert "1,234.57 EUR" in rows["MUG-1"]


def test_fba_stock_and_warehouse_stock_speak_plainly(client, ops_user, world):
    from catalog.models import FbaStock

    FbaStock.objects.create(listing=Listing.objects.get(seller_sku="MUG-JP"), fulfillable=4)
    client.force_login(ops_user)
    response = client.get(reverse("admin:catalog_fbastock_changelist"))
    assert "Amazon.co.jp (JP)" in by_first(response)["MUG-JP"]
    text = visible_text(response)
    assert "FBA stock" in text and "Fba stocks" not in text and "Sellable" in text
    text = visible_text(client.get(reverse("admin:catalog_merchantstock_changelist")))
    assert "Warehouse stock" in text


def _shipment(account, shipment_id, status, shipped, received, marketplace="ATVPDKIKX0DER"):
    shipment = InboundShipment.objects.create(account=account, marketplace_id=marketplace,
                                              shipment_id=shipment_id, status=status)
    InboundShipmentItem.objects.create(shipment=shipment, seller_sku="MUG-JP",
                                       quantity_shipped=shipped, quantity_received=received)
    return shipment


def test_inbound_shipments_show_status_labels_and_discrepancies(client, ops_user, account):
    _shipment(account, "FBA-SHORT", "CLOSED", 10, 8)
    _shipment(account, "FBA-OK", "CLOSED", 5, 5)
    _shipment(account, "FBA-OPEN", "RECEIVING", 10, 2)
    client.force_login(ops_user)
    url = reverse("admin:catalog_inboundshipment_changelist")
    rows = by_first(client.get(url))
    assert "Closed" in rows["FBA-SHORT"] and "-2" in rows["FBA-SHORT"]
    assert "Receiving" in rows["FBA-OPEN"] and "CLOSED" not in rows["FBA-OK"]
    assert "Amazon.com (US)" in rows["FBA-OK"]
    filtered = client.get(url, {"discrepancy": "yes"}).context["cl"].result_list
    assert [s.shipment_id for s in filtered] == ["FBA-SHORT"]


def _feed(account, status, rejected=0, *, days_ago=1, messages=3):
    return PushFeed.objects.create(
        account=account, marketplace_id="ATVPDKIKX0DER", kind="quantity", status=status,
        messages=messages, accepted=messages - rejected, rejected=rejected,
        submitted_at=timezone.now() - datetime.timedelta(days=days_ago))


def test_push_list_labels_statuses_and_filters_the_failing(client, ops_user, account):
    done = _feed(account, "DONE")
    fatal = _feed(account, "FATAL", messages=0)
    refused = _feed(account, "DONE", rejected=2)
    client.force_login(ops_user)
    url = reverse("admin:catalog_pushfeed_changelist")
    response = client.get(url)
    text = visible_text(response)
    assert "Stock pushes to Amazon" in text and "Failed" in text and "Processed" in text
    failing = client.get(url, {"outcome": "failing"}).context["cl"].result_list
    assert {f.pk for f in failing} == {fatal.pk, refused.pk} and done.pk not in failing


# --- the listing page as the queue's fix target -------------------------------------------


def test_listing_fix_from_the_queue_returns_there_and_resolves(
        client, ops_user, account, items, django_capture_on_commit_callbacks):
    us = Marketplace.objects.get(code="US")
    listing = listing_discover(account=account, marketplace=us, seller_sku="MYSTERY-9",
                               source="orders")
    exc = SyncException.objects.get(object_key__endswith="/MYSTERY-9")
    queue = reverse("admin:amazonsync_syncexception_changelist") + "?status__exact=open"
    client.force_login(ops_user)
    change = reverse("admin:catalog_listing_change", args=[listing.pk])
    page = client.get(change, {"next": queue})
    body = page.content.decode()
    assert 'id="back-link"' in body and queue.replace("&", "&amp;") in body
    assert "admin-autocomplete" in body  # the item is picked by typing, not from 10,000 rows
    assert body.find('name="item"') < body.find('name="channel"')  # mapping comes first
    data = {
        "account": account.pk, "marketplace": us.pk, "seller_sku": "MYSTERY-9",
        "item": items["MUG-1"].pk, "asin": "", "fnsku": "", "parent_asin": "",
        "channel": "MFN", "condition": "new_new", "product_type": "PRODUCT", "price": "",
        "currency": "", "push_enabled": "on", "buffer_quantity": "0", "max_quantity": "",
        "next": queue,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{change}?next={queue}", data)
    assert response.status_code == 302 and response.url == queue
    exc.refresh_from_db()
    assert exc.status == "resolved"
    assert Listing.objects.get(pk=listing.pk).item == items["MUG-1"]


def test_map_to_item_page_renders_in_the_admin_look(client, ops_user, world):
    client.force_login(ops_user)
    lost = list(Listing.objects.filter(item__isnull=True).values_list("pk", flat=True))
    response = client.post(reverse("admin:catalog_listing_changelist"),
                           {"action": "map_to_item", "_selected_action": lost})
    text = visible_text(response)
    assert "Map these 4 listings to one item" in text
    assert "LOST-CA-0 @ Amazon.ca (CA)" in text
    assert 'id="nav-sidebar"' in response.content.decode() or "sidebar" in text.lower()


# --- home page panels ---------------------------------------------------------------------


def test_unmapped_panel_counts_per_marketplace_with_links(client, ops_user, world,
                                                          django_assert_num_queries, rf):
    with django_assert_num_queries(1):
        data = dashboard.unmapped_skus(rf.get("/"), timezone.now())
    figure = data.figures[0]
    assert figure.value == "4" and figure.tone == "bad"
    assert [(re.sub(r"<[^>]+>", "", str(c)), n) for c, n in data.rows] == [
        ("Amazon.com (US)", 3), ("Amazon.ca (CA)", 1)]
    client.force_login(ops_user)
    assert client.get(figure.link).context["cl"].result_count == 4
    us_link = html.unescape(re.search(r'href="([^"]+)"', str(data.rows[0][0])).group(1))
    assert client.get(us_link).context["cl"].result_count == 3
    Listing.objects.update(item=Item.objects.first())
    assert dashboard.unmapped_skus(rf.get("/"), timezone.now()).is_empty


def test_inbound_and_push_panels(client, ops_user, account, django_assert_num_queries, rf):
    _shipment(account, "FBA-SHORT", "CLOSED", 10, 8)
    _shipment(account, "FBA-OPEN", "RECEIVING", 10, 2)
    _feed(account, "FATAL", messages=0)
    _feed(account, "DONE", rejected=1)
    _feed(account, "FATAL", days_ago=30, messages=0)  # too old to count
    now = timezone.now()
    with django_assert_num_queries(1):
        inbound = dashboard.inbound_discrepancies(rf.get("/"), now)
    with django_assert_num_queries(1):
        pushes = dashboard.pushes_failing(rf.get("/"), now)
    assert inbound.figures[0].value == "1" and pushes.figures[0].value == "2"
    client.force_login(ops_user)
    assert client.get(inbound.figures[0].link).context["cl"].result_count == 1
    assert client.get(pushes.figures[0].link).context["cl"].result_count == 2


def test_ops_home_page_shows_the_catalog_panels(client, ops_user, world, rf):
    request = rf.get("/")
    request.user = ops_user
    keys = {item["panel"].key for section in sections_for(request)
            for item in section["panels"]}
    assert {"catalog_unmapped", "catalog_inbound", "catalog_pushes"} <= keys
    client.force_login(ops_user)
    text = visible_text(client.get(reverse("admin:index")))
    assert "Unmapped SKUs" in text and "listings without an item" in text
