"""Multi-channel (MCF) orders in the all-orders report (sales channel "Non-Amazon"): their
own channel, fulfilled from FBA stock, linked to the order they fulfil, never an exception.
Cancelled items: kept as lines marked cancelled, out of the order total (report and Orders
API 2026-01-01)."""

from __future__ import annotations

import datetime
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from amazonsync import health
from amazonsync.models import SyncException
from orders.models import Order, OrderLine
from orders.parsers import line_from_2026, order_from_api
from orders.services import orders_report_import, orders_upsert
from tests.orders.builders import T0, US, report_row, report_text, stock

pytestmark = pytest.mark.django_db
TYPE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"


def run_json(*files) -> dict:
    out = io.StringIO()
    call_command("import_report", "--type", TYPE, *map(str, files), "--json", stdout=out)
    return json.loads(out.getvalue())


def write(tmp_path, name: str, rows: list[dict]):
    path = tmp_path / name
    path.write_text(report_text(rows), encoding="utf-8")
    return path


def amazon_row(order_id: str, sku: str = "SKU-MFN", *, merchant_order_id: str = "", **kw):
    row = report_row(order_id, sku, **kw)
    row["merchant-order-id"] = merchant_order_id
    return row


def mcf_row(order_id: str, merchant_order_id: str, *, sku: str = "SKU-FBA",
            status: str = "Shipped", country: str = "US", currency: str = "USD", **kw):
    """An MCF order as the all-orders report shows it: sold elsewhere (sales channel
    "Non-Amazon"), fulfilled by Amazon, the seller's own order id as merchant order id."""
    row = report_row(order_id, sku, status=status, channel="Amazon", sales_channel="Non-Amazon",
                     item_status="Shipped", currency=currency, price="0.00", tax="0.00", **kw)
    row.update({"merchant-order-id": merchant_order_id, "ship-country": country,
                "ship-service-level": "Expedited"})
    return row


def test_mcf_orders_are_stored_as_their_own_channel_linked_and_never_exceptions(
        account, mapped, tmp_path):
    on_hand, reserved = stock(mapped)
    path = write(tmp_path, "orders.txt", [
        amazon_row("111-0000300-0000001"),  # an Amazon order, sent again through MCF
        amazon_row("111-0000300-0000002", merchant_order_id="SHOP-1002"),
        # a replacement: the merchant order id is the Amazon order id
        mcf_row("S01-0000300-0000003", "111-0000300-0000001"),
        # the seller's own id for the sale, also kept on the Amazon order
        mcf_row("S01-0000300-0000004", "SHOP-1002", status="Pending", currency="",
                updated=T0 - datetime.timedelta(hours=1)),
        # a web-shop sale that is no order of ours: stored, unlinked
        mcf_row("S01-0000300-0000005", "SHOP-9999"),
    ])

    doc = run_json(path)

    assert (doc["created"], doc["exceptions"]) == (5, 0)
    assert not SyncException.objects.exists()
    mcf = {o.amazon_order_id: o for o in Order.objects.filter(sales_channel="mcf")}
    assert set(mcf) == {"S01-0000300-0000003", "S01-0000300-0000004", "S01-0000300-0000005"}
    for order in mcf.values():
        assert order.fulfillment_channel == "AFN" and order.marketplace_id == US
        assert order.get_sales_channel_display() == "Multi-channel (MCF)"
        line = order.lines.get()
        assert (line.reserved_quantity, line.stock_item_id) == (0, None)
        assert line.listing.channel == "FBA" and not line.unmapped
    assert mcf["S01-0000300-0000003"].fulfils.amazon_order_id == "111-0000300-0000001"
    assert mcf["S01-0000300-0000004"].fulfils.amazon_order_id == "111-0000300-0000002"
    assert mcf["S01-0000300-0000004"].status == "Pending"
    assert mcf["S01-0000300-0000005"].fulfils is None
    assert mcf["S01-0000300-0000005"].seller_order_id == "SHOP-9999"
    amazon = Order.objects.filter(sales_channel="amazon")
    assert {o.amazon_order_id for o in amazon} == {"111-0000300-0000001",
                                                   "111-0000300-0000002"}
    # FBA stock fulfils them: merchant stock is held only by the two open MFN orders
    assert stock(mapped) == (on_hand, reserved + 2)

    again = run_json(path)
    assert (again["created"], again["updated"], again["exceptions"]) == (0, 0, 0)


def test_an_mcf_order_imported_before_the_order_it_fulfils_links_when_that_arrives(
        account, mapped, tmp_path):
    run_json(write(tmp_path, "mcf.txt", [mcf_row("S01-0000301-0000001", "SHOP-1")]))
    mcf = Order.objects.get()
    assert mcf.fulfils is None
    run_json(write(tmp_path, "amazon.txt", [
        amazon_row("111-0000301-0000002", merchant_order_id="SHOP-1")]))
    mcf.refresh_from_db()
    assert mcf.fulfils.amazon_order_id == "111-0000301-0000002"


def test_an_mcf_order_matching_two_orders_is_not_linked_to_either(account, mapped, tmp_path):
    run_json(write(tmp_path, "orders.txt", [
        amazon_row("111-0000302-0000001", merchant_order_id="SHOP-7"),
        amazon_row("111-0000302-0000002", merchant_order_id="SHOP-7"),
        mcf_row("S01-0000302-0000003", "SHOP-7"),
    ]))
    assert Order.objects.get(sales_channel="mcf").fulfils is None


def test_mcf_marketplace_from_the_ship_to_country_else_refused_naming_line_and_column(
        account, us, tmp_path):
    # the account sells in US (USD) and CA (CAD): the ship-to country and currency decide
    run_json(write(tmp_path, "ca.txt", [
        mcf_row("S01-0000303-0000001", "SHOP-CA", country="CA", currency="CAD")]))
    assert Order.objects.get().marketplace.code == "CA"
    # shipped to Mexico without a currency: US or CA, nothing tells which
    doc = run_json(write(tmp_path, "mx.txt", [
        mcf_row("S01-0000303-0000002", "SHOP-MX", country="MX", currency="")]))
    assert doc["exceptions"] == 1
    exc = SyncException.objects.get(reason_code="bad_order_data")
    assert exc.payload["line"] == 2 and exc.payload["column"] == "sales-channel"
    assert "mx.txt" in exc.message and "which marketplace's FBA stock" in exc.message
    # the same file imported for one marketplace is placed there
    result = orders_report_import(account=account, source=tmp_path / "mx.txt", marketplace=us)
    assert result.counts.created == 1  # (its SKU waits on a mapping: no listing here)
    assert SyncException.objects.filter(reason_code="bad_order_data").count() == 1
    assert Order.objects.get(amazon_order_id="S01-0000303-0000002").marketplace.code == "US"


def test_an_mcf_row_fulfilled_by_the_merchant_is_refused(account, mapped, tmp_path):
    row = mcf_row("S01-0000304-0000001", "SHOP-1")
    row["fulfillment-channel"] = "Merchant"
    doc = run_json(write(tmp_path, "bad.txt", [row]))
    assert doc["exceptions"] == 1
    exc = SyncException.objects.get()
    assert exc.payload["column"] == "fulfillment-channel"
    assert not Order.objects.exists()


def test_health_metrics_never_count_mcf_orders(account, us):
    now = timezone.now()
    stored = now - datetime.timedelta(hours=1)
    common = {"account": account, "marketplace": us, "status": "Shipped",
              "purchase_date": stored - datetime.timedelta(hours=2), "currency": "USD",
              "first_stored_at": stored, "version_stored_at": stored, "source": "api",
              "latest_ship_date": now - datetime.timedelta(hours=2)}
    Order.objects.create(amazon_order_id="111-0000305-0000001", fulfillment_channel="MFN",
                         last_update_date=stored - datetime.timedelta(seconds=60),
                         ack_sla_met=True, **common)
    # an MCF order stored an hour after Amazon's update, never acknowledged: not ours to ack
    Order.objects.create(amazon_order_id="S01-0000305-0000002", fulfillment_channel="AFN",
                         sales_channel="mcf", ack_sla_met=False,
                         last_update_date=stored - datetime.timedelta(hours=1), **common)
    data = health.health_compute(now=now)["US"]
    assert data["order_sync_latency"]["orders"] == 1
    assert data["order_sync_latency"]["value"] == Decimal(60)
    assert data["ack_sla_hit_rate"]["orders"] == 1
    assert data["ack_sla_hit_rate"]["value"] == Decimal(1)


def _list_cells(response) -> list[list[str]]:
    """The changelist's rows as lists of cell texts."""
    import re

    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", response.content.decode(), flags=re.S)
    out = []
    for row in rows:
        cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip()
                 for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)]
        cells = [c for c in cells if c]
        if cells:
            out.append(cells)
    return out


def test_the_orders_list_shows_and_filters_the_channel(client, superuser, account, mapped,
                                                       tmp_path):
    run_json(write(tmp_path, "orders.txt", [
        amazon_row("111-0000306-0000001"), mcf_row("S01-0000306-0000002", "SHOP-1")]))
    client.force_login(superuser)
    url = reverse("admin:orders_order_changelist")
    response = client.get(url)
    cells = {row[0]: row for row in _list_cells(response)}
    assert "MCF" in cells["S01-0000306-0000002"]
    assert "MCF" not in cells["111-0000306-0000001"]
    assert {"FBA", "MFN"} & set(cells["111-0000306-0000001"])
    mcf = client.get(url, {"sales_channel__exact": "mcf"}).context["cl"].result_list
    assert [o.amazon_order_id for o in mcf] == ["S01-0000306-0000002"]
    amazon = client.get(url, {"sales_channel__exact": "amazon"}).context["cl"].result_list
    assert [o.amazon_order_id for o in amazon] == ["111-0000306-0000001"]


# ------------------------------------------------------------------------- cancelled items


def test_a_cancelled_item_of_a_shipped_order_is_kept_but_not_in_the_total(
        account, mapped, tmp_path):
    rows = [
        report_row("111-0000310-0000001", "SKU-FBA", status="Shipped", channel="Amazon",
                   item_status="Shipped", price="19.99", tax="1.99"),
        report_row("111-0000310-0000001", "SKU-OTHER", status="Shipped", channel="Amazon",
                   item_status="Cancelled", price="50.00", tax="5.00"),
    ]
    doc = run_json(write(tmp_path, "shipped.txt", rows))
    assert doc["created"] == 1
    order = Order.objects.get()
    assert order.status == "Shipped"
    assert order.order_total == Decimal("21.98")  # not 76.98
    lines = {line.seller_sku: line for line in order.lines.all()}
    assert not lines["SKU-FBA"].cancelled
    cancelled = lines["SKU-OTHER"]
    assert cancelled.cancelled and cancelled.item_price == Decimal("50.00")
    assert cancelled.quantity_unshipped == 0


def test_an_open_mfn_order_reserves_only_its_items_not_cancelled(account, mapped, tmp_path):
    on_hand, reserved = stock(mapped)
    row = report_row("111-0000311-0000001", "SKU-MFN", qty=2, item_status="Cancelled")
    live = report_row("111-0000311-0000001", "SKU-MFN", qty=1)
    run_json(write(tmp_path, "open.txt", [row, live]))
    order = Order.objects.get()
    line = order.lines.get()  # the same SKU: the live row's line, the cancelled row raw
    assert (line.quantity_ordered, line.cancelled, line.reserved_quantity) == (1, False, 1)
    assert order.order_total == Decimal("21.98")
    assert len(order.raw["report_rows"]) == 2
    assert stock(mapped) == (on_hand, reserved + 1)


def test_every_item_cancelled_gives_a_zero_total(account, mapped, tmp_path):
    run_json(write(tmp_path, "c.txt", [
        report_row("111-0000312-0000001", "SKU-FBA", status="Shipped", channel="Amazon",
                   item_status="Cancelled")]))
    order = Order.objects.get()
    assert order.order_total == Decimal("0") and order.lines.get().cancelled


def _item_2026(**extra) -> dict:
    return {"orderItemId": "70000000000001", "quantityOrdered": 2,
            "product": {"sellerSku": "SKU-MFN", "asin": "B0TEST0001",
                        "price": {"unitPrice": {"amount": "10.00", "currencyCode": "USD"}}},
            "fulfillment": {"quantityFulfilled": 0, "quantityUnfulfilled": 2}, **extra}


def test_orders_api_2026_item_cancellation_marks_the_line_cancelled(account, mapped):
    executed = {"cancellation": {"cancellationExecution": {"cancelledBy": "BUYER",
                                                           "cancelReason": "BUYER_CANCELED"}}}
    assert line_from_2026(_item_2026(**executed)).values["cancelled"] is True
    requested = {"cancellation": {"cancellationRequest": {"requester": "BUYER"}}}
    assert line_from_2026(_item_2026(**requested)).values["cancelled"] is False
    assert "cancelled" not in line_from_2026(_item_2026()).values  # not asked for: unknown

    on_hand, reserved = stock(mapped)
    order = {
        "orderId": "111-0000313-0000001", "createdTime": "2026-11-01T10:00:00Z",
        "lastUpdatedTime": "2026-11-01T12:00:00Z",
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": US},
        "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"},
        "proceeds": {"grandTotal": {"amount": "0.00", "currencyCode": "USD"}},
        "orderItems": [_item_2026(**executed)],
    }
    orders_upsert(account=account, batch=[order_from_api(order)])
    line = OrderLine.objects.get()
    assert line.cancelled and line.reserved_quantity == 0
    assert stock(mapped) == (on_hand, reserved)
    assert Order.objects.get().sales_channel == "amazon"


def test_orders_api_2026_non_amazon_channel_is_an_mcf_order(account, mapped):
    order = {
        "orderId": "S01-0000314-0000001", "createdTime": "2026-11-01T10:00:00Z",
        "lastUpdatedTime": "2026-11-01T12:00:00Z",
        "salesChannel": {"channelName": "NON_AMAZON", "marketplaceId": US},
        "orderAliases": [{"aliasType": "SELLER_ORDER_ID", "aliasId": "SHOP-5"}],
        "fulfillment": {"fulfillmentStatus": "SHIPPED", "fulfilledBy": "AMAZON"},
        "orderItems": [],
    }
    orders_upsert(account=account, batch=[order_from_api(order)])
    stored = Order.objects.get()
    assert (stored.sales_channel, stored.seller_order_id) == ("mcf", "SHOP-5")
