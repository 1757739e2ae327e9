"""Orders screens for people: money with its currency's places and code (lines too),
marketplaces by name, status badges, the order page's tabs and its Record shipment button,
and the home page's MFN ship-by panel with its filtered list."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.urls import reverse

from orders import dashboard
from orders.models import Order
from orders.services import orders_upsert
from tests.catalog.test_screens import REPR, by_first, cells, visible_text
from tests.orders.builders import JP, T0, data, v0_item, v0_order

pytestmark = pytest.mark.django_db
NOW = T0 + datetime.timedelta(days=3)


@pytest.fixture
def two_currencies(account, mapped):
    orders_upsert(account=account, batch=[
        data(v0_order("111-0000001-0000001", total="1234.56"),
             [v0_item("SKU-MFN", item_id="101", price="1234.56", tax="98.7654")]),
        data(v0_order("503-0000002-0000002", channel="AFN", status="Shipped", total="131030",
                      currency="JPY", marketplace=JP),
             [v0_item("SKU-JP", item_id="201", price="131030", tax="0", currency="JPY")]),
    ])


def test_order_list_shows_money_names_and_status_badges(client, ops_user, two_currencies):
    client.force_login(ops_user)
    response = client.get(reverse("admin:orders_order_changelist"))
    rows = by_first(response)
    usd, jpy = rows["111-0000001-0000001"], rows["503-0000002-0000002"]
    assert "1,234.56 USD" in usd and "Amazon.com (US)" in usd and "Unshipped" in usd
    assert "131,030 JPY" in jpy and "Amazon.co.jp (JP)" in jpy and "Shipped" in jpy
    assert "MFN" in usd and "FBA" in jpy
    table = " ".join(" ".join(r) for r in rows.values())
    assert "131030.0000" not in table and "A1VC38T7YXB528" not in table
    assert not REPR.search(visible_text(response))
    headers = [h for h in cells(response)[0] if h != "Select all rows"]
    assert 6 <= len(headers) <= 9


def test_order_list_totals_per_currency_follow_the_filter(client, ops_user, two_currencies):
    orders_upsert(account=Order.objects.first().account, batch=[
        data(v0_order("111-0000003-0000003", total="1000"), [v0_item("SKU-MFN", item_id="301")])])
    client.force_login(ops_user)
    url = reverse("admin:orders_order_changelist")

    def totals(**params):
        text = visible_text(client.get(url, params))
        start = text.find("Order totals")
        return text[start:start + 200] if start >= 0 else ""

    everything = totals()
    assert "2,234.56 USD (2 orders)" in everything and "131,030 JPY (1 order)" in everything
    us_only = totals(marketplace__id__exact="ATVPDKIKX0DER")
    assert "for this selection" in us_only and "JPY" not in us_only
    assert totals(q="nothing-matches") == ""


def test_order_page_has_tabs_money_lines_and_the_record_button(client, ops_user,
                                                              two_currencies):
    client.force_login(ops_user)
    order = Order.objects.get(amazon_order_id="111-0000001-0000001")
    response = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    text = visible_text(response)
    for tab in ("Summary", "Shipping", "History", "Order lines", "MFN shipments"):
        assert tab in text, tab
    assert "1,234.56 USD" in text and "98.77 USD" in text  # line amounts: cents, not 98.7654
    assert "98.7654" not in text and "Amazon.com (US)" in text
    record = reverse("admin:orders_order_record_shipment", args=[order.pk])
    assert f'href="{record}"' in response.content.decode()
    page = client.get(record)
    assert page.status_code == 200
    assert "Record shipment" in visible_text(page) and "Amazon.com (US)" in visible_text(page)

    jpy = Order.objects.get(amazon_order_id="503-0000002-0000002")
    text = visible_text(client.get(reverse("admin:orders_order_change", args=[jpy.pk])))
    assert "131,030 JPY" in text and "131030.00" not in text
    assert "Record shipment" not in text  # FBA: Amazon ships it


# --- MFN orders against their ship-by time ------------------------------------------------


@pytest.fixture
def ship_by_world(account, mapped):
    def order(n, *, latest_ship, channel="MFN", status="Unshipped"):
        return data(v0_order(f"111-{n:07d}-0000001", channel=channel, status=status,
                             latest_ship=latest_ship,
                             updated=T0, purchased=T0 - datetime.timedelta(days=1)),
                    [v0_item("SKU-MFN" if channel == "MFN" else "SKU-FBA", item_id=f"{n}1")])

    orders_upsert(account=account, batch=[
        order(1, latest_ship=NOW - datetime.timedelta(hours=1)),        # overdue
        order(2, latest_ship=NOW + datetime.timedelta(hours=5)),        # due soon
        order(3, latest_ship=NOW + datetime.timedelta(days=3)),         # later
        order(4, latest_ship=NOW - datetime.timedelta(hours=1), channel="AFN"),  # Amazon's
        order(5, latest_ship=NOW - datetime.timedelta(hours=1), status="Shipped"),
        order(6, latest_ship=NOW + datetime.timedelta(hours=2), status="PartiallyShipped"),
    ])


def test_ship_by_panel_counts_and_links_to_the_filtered_list(client, ops_user, ship_by_world,
                                                             django_assert_num_queries, rf):
    with django_assert_num_queries(1):
        panel = dashboard.ship_by(rf.get("/"), NOW)
    overdue, soon = panel.figures
    assert (overdue.value, overdue.tone) == ("1", "bad")
    assert (soon.value, soon.tone) == ("2", "warn")
    client.force_login(ops_user)
    with time_machine.travel(NOW, tick=False):
        listed = client.get(overdue.link).context["cl"].result_list
        assert [o.amazon_order_id for o in listed] == ["111-0000001-0000001"]
        listed = client.get(soon.link).context["cl"].result_list
        assert {o.amazon_order_id for o in listed} == {"111-0000002-0000001",
                                                       "111-0000006-0000001"}
        response = client.get(reverse("admin:orders_order_changelist"))
    body = response.content.decode()
    assert re.search(r"as-badge-red\">[^<]*overdue", body)
    assert "as-badge-amber" in body


def test_ship_by_panel_is_quiet_when_nothing_is_due(account, mapped, rf):
    assert dashboard.ship_by(rf.get("/"), NOW).is_empty


def test_ops_home_page_shows_the_ship_by_panel(client, ops_user, ship_by_world):
    client.force_login(ops_user)
    with time_machine.travel(NOW, tick=False):
        text = visible_text(client.get(reverse("admin:index")))
    assert "MFN orders to ship" in text and "overdue: past their ship-by time" in text


def test_shipments_and_customers_speak_plainly(client, ops_user, two_currencies):
    from orders.services import carrier_mapping_upsert, shipment_record

    carrier_mapping_upsert(carrier="UPS", amazon_carrier_code="UPS")
    order = Order.objects.get(amazon_order_id="111-0000001-0000001")
    shipment_record(order=order, carrier="UPS", tracking_number="1Z", ship_date=T0,
                    lines=[(order.lines.get(), 1)])
    client.force_login(ops_user)
    response = client.get(reverse("admin:orders_shipment_changelist"))
    text = visible_text(response)
    assert "MFN shipments" in text and "Pending confirmation" in text
    assert "as-badge" in response.content.decode() or "bg-orange-100" in response.content.decode()
    text = visible_text(client.get(reverse("admin:orders_customer_changelist")))
    assert "Amazon buyer e-mail (anonymised)" in text and "Buyer token" not in text
