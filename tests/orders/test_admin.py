"""Orders admin: constant-query changelists, filters, search, read-only lines, the record
shipment form and carrier mapping CSV import."""

from __future__ import annotations

import datetime

import pytest
import tablib
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders.models import CarrierMapping, Order, Shipment
from orders.resources import CarrierMappingResource
from orders.services import carrier_mapping_upsert, orders_upsert, shipment_record
from tests.orders.builders import T0, data, v0_item, v0_order

pytestmark = pytest.mark.django_db
ORDERS_URL = "admin:orders_order_changelist"


def make_orders(account, start: int, n: int) -> None:
    batch = []
    for i in range(start, start + n):
        channel = "MFN" if i % 2 else "AFN"
        sku = "SKU-MFN" if i % 2 else (f"UNMAPPED-{i}" if i % 4 == 0 else "SKU-FBA")
        batch.append(data(
            v0_order(f"111-{i:07d}-0000001", channel=channel,
                     updated=T0 + datetime.timedelta(minutes=i), buyer=f"b{i}@x"),
            [v0_item(sku, item_id=f"{i}01", asin=f"B0ASIN{i:04d}")]))
    orders_upsert(account=account, batch=batch)
    carrier_mapping_upsert(carrier="UPS", amazon_carrier_code="UPS")
    for order in Order.objects.filter(fulfillment_channel="MFN", shipments__isnull=True):
        shipment_record(order=order, carrier="UPS", tracking_number="1Z", ship_date=T0,
                        lines=[(order.lines.get(), 1)])


def count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("query", ["", "?exceptions=yes", "?status__exact=Unshipped",
                                   "?fulfillment_channel__exact=MFN&q=SKU-MFN",
                                   "?purchase_date__year=2026", "?unmapped=yes"])
def test_order_changelist_queries_do_not_grow_with_rows(client, superuser, account, mapped,
                                                        django_assert_num_queries, query):
    client.force_login(superuser)
    make_orders(account, 1, 4)
    url = reverse(ORDERS_URL) + query
    expected = count(client, url)
    make_orders(account, 5, 60)
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert response.status_code == 200


@pytest.mark.parametrize("name", ["shipment", "customer", "carriermapping"])
def test_other_changelists_do_not_grow_with_rows(client, superuser, account, mapped,
                                                 django_assert_num_queries, name):
    client.force_login(superuser)
    make_orders(account, 1, 4)
    url = reverse(f"admin:orders_{name}_changelist")
    expected = count(client, url)
    make_orders(account, 5, 40)
    for i in range(20):
        carrier_mapping_upsert(carrier=f"Carrier {i}", amazon_carrier_code="DHL")
    with django_assert_num_queries(expected):
        client.get(url)


def test_search_by_order_id_sku_and_asin(client, superuser, account, mapped):
    client.force_login(superuser)
    make_orders(account, 1, 6)
    url = reverse(ORDERS_URL)
    for term, expected in (("111-0000003-0000001", 1), ("SKU-MFN", 3), ("B0ASIN0002", 1),
                           ("nothing", 0)):
        response = client.get(url, {"q": term})
        assert response.context["cl"].result_count == expected, term


def test_has_exceptions_filter(client, superuser, account, mapped):
    client.force_login(superuser)
    make_orders(account, 1, 8)  # orders 4 and 8 have unmapped SKUs
    response = client.get(reverse(ORDERS_URL), {"exceptions": "yes"})
    ids = {o.amazon_order_id for o in response.context["cl"].result_list}
    assert ids == {"111-0000004-0000001", "111-0000008-0000001"}


def test_lines_are_read_only_and_orders_cannot_be_added(client, ops_user, account, mapped):
    make_orders(account, 1, 2)
    order = Order.objects.get(amazon_order_id="111-0000001-0000001")
    client.force_login(ops_user)
    response = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200
    assert b"SKU-MFN" in response.content and b"Record shipment" in response.content
    inline = next(f for f in response.context["inline_admin_formsets"]
                  if f.opts.model.__name__ == "OrderLine")
    assert not inline.has_add_permission and not inline.has_change_permission
    assert client.get(reverse("admin:orders_order_add")).status_code == 403
    before = Order.objects.get(pk=order.pk).status
    client.post(reverse("admin:orders_order_change", args=[order.pk]), {"status": "Shipped"})
    assert Order.objects.get(pk=order.pk).status == before


def test_record_shipment_form(client, ops_user, account, mapped):
    orders_upsert(account=account, batch=[data(
        v0_order("111-0000300-0000001"), [v0_item("SKU-MFN", item_id="301", qty=3)])])
    order = Order.objects.get()
    mapping = carrier_mapping_upsert(carrier="DHL", ship_method="Express",
                                     amazon_carrier_code="DHL Express")
    line = order.lines.get()
    client.force_login(ops_user)
    url = reverse("admin:orders_order_record_shipment", args=[order.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"mapping": mapping.pk, "tracking_number": "JD0001",
                                 "ship_date": "2026-11-02 10:00:00", f"qty_{line.pk}": 4})
    assert response.status_code == 200 and not Shipment.objects.exists()  # too many units
    response = client.post(url, {"mapping": mapping.pk, "tracking_number": "JD0001",
                                 "ship_date": "2026-11-02 10:00:00", f"qty_{line.pk}": 2})
    assert response.status_code == 302
    shipment = Shipment.objects.get()
    assert (shipment.carrier, shipment.ship_method, shipment.tracking_number) == \
        ("DHL", "Express", "JD0001")
    assert shipment.lines.get().quantity == 2 and shipment.created_by == ops_user


def test_record_shipment_is_refused_for_fba_orders(client, ops_user, account, mapped):
    orders_upsert(account=account, batch=[data(
        v0_order("111-0000301-0000001", channel="AFN"), [v0_item("SKU-FBA")])])
    client.force_login(ops_user)
    order = Order.objects.get()
    response = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert b"Record shipment" not in response.content
    response = client.get(reverse("admin:orders_order_record_shipment", args=[order.pk]))
    assert response.status_code == 302


def test_carrier_mapping_csv_import_checks_codes_and_is_idempotent(db):
    resource = CarrierMappingResource()
    bad = tablib.Dataset(headers=["carrier", "ship_method", "amazon_carrier_code",
                                  "amazon_carrier_name", "shipping_method", "active"])
    bad.append(["UPS", "", "ups", "", "Ground", "yes"])
    bad.append(["Pigeon", "", "Speedy Pigeon", "", "", "yes"])
    result = resource.import_data(bad, dry_run=False, raise_errors=False)
    assert result.has_errors() or result.has_validation_errors()
    assert not CarrierMapping.objects.exists()

    good = tablib.Dataset(headers=bad.headers)
    good.append(["UPS", "", "ups", "", "Ground", "yes"])
    good.append(["Acme", "Economy", "other", "Acme Ltd", "", "no"])
    result = resource.import_data(good, dry_run=False, raise_errors=True)
    assert result.totals["new"] == 2
    assert CarrierMapping.objects.get(carrier="UPS").amazon_carrier_code == "UPS"
    acme = CarrierMapping.objects.get(carrier="Acme")
    assert (acme.amazon_carrier_code, acme.active) == ("Other", False)
    again = resource.import_data(good, dry_run=False, raise_errors=True)
    assert again.totals["new"] == 0 and again.totals["update"] == 0


def test_carrier_mappings_are_editable_by_ops(client, ops_user, db):
    client.force_login(ops_user)
    response = client.post(reverse("admin:orders_carriermapping_add"), {
        "carrier": "Royal Mail", "ship_method": "", "amazon_carrier_code": "Royal Mail",
        "amazon_carrier_name": "", "shipping_method": "Tracked 48", "active": "on"})
    assert response.status_code == 302
    assert CarrierMapping.objects.get().shipping_method == "Tracked 48"
