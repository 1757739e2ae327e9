"""``manage.py import_report --type GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL``."""

from __future__ import annotations

import gzip
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from amazonsync.models import SyncException
from orders.models import Order
from tests.orders.builders import T0, report_row, report_text

pytestmark = pytest.mark.django_db
TYPE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"


def run_json(*files) -> dict:
    out = io.StringIO()
    call_command("import_report", "--type", TYPE, *map(str, files), "--json", stdout=out)
    return json.loads(out.getvalue())


def test_import_report_json_and_second_import_changes_nothing(account, mapped, tmp_path):
    rows = [
        report_row("111-0000200-0000001", "SKU-MFN", qty=2, price="39.98", tax="3.20"),
        report_row("111-0000200-0000002", "SKU-FBA", channel="Amazon", status="Shipped",
                   item_status="Shipped", promo="2.00"),
        report_row("111-0000200-0000003", "SKU-MFN", currency="", status="Pending"),
        report_row("302-0000200-0000004", "SKU-DE", currency="EUR", price="1.234,50",
                   tax="234,56", sales_channel="Amazon.de"),
        report_row("111-0000200-0000005", "SKU-X", sales_channel="Non-Amazon"),
    ]
    path = tmp_path / "orders.txt.gz"
    path.write_bytes(gzip.compress(report_text(rows).encode("cp1252")))

    doc = run_json(path)
    assert doc == {"report_type": TYPE, "rows": 5, "created": 4, "updated": 0,
                   "unchanged": 0, "exceptions": 2}  # SKU-DE unmapped; a Non-Amazon (MCF)
    # row fulfilled by the merchant (multi-channel orders are fulfilled by Amazon)
    mfn = Order.objects.get(amazon_order_id="111-0000200-0000001")
    assert (mfn.status, mfn.order_total, mfn.currency) == ("Unshipped", Decimal("43.18"), "USD")
    pending = Order.objects.get(amazon_order_id="111-0000200-0000003")
    assert pending.status == "Pending" and pending.order_total is None
    fba = Order.objects.get(amazon_order_id="111-0000200-0000002")
    assert fba.lines.get().promotion_discount == Decimal("2.00")
    assert fba.order_total == Decimal("19.98")
    de = Order.objects.get(amazon_order_id="302-0000200-0000004")
    assert (de.marketplace.code, de.currency) == ("DE", "EUR")
    assert de.lines.get().item_price == Decimal("1234.50")
    assert SyncException.objects.get(reason_code="bad_order_data").object_key == \
        "111-0000200-0000005"

    assert run_json(path) == {"report_type": TYPE, "rows": 5, "created": 0, "updated": 0,
                              "unchanged": 4, "exceptions": 1}


def test_a_newer_report_updates_orders(account, mapped, tmp_path):
    first = tmp_path / "a.txt"
    first.write_text(report_text([report_row("111-0000201-0000001", "SKU-MFN")]))
    run_json(first)
    second = tmp_path / "b.txt"
    second.write_text(report_text([report_row(
        "111-0000201-0000001", "SKU-MFN", status="Cancelled", currency="", item_status="Cancelled",
        updated=T0.replace(hour=14))]))
    assert run_json(second)["updated"] == 1
    assert Order.objects.get().status == "Canceled"


def test_a_file_that_is_not_an_orders_report_is_refused(account, tmp_path):
    from django.core.management.base import CommandError

    path = tmp_path / "x.txt"
    path.write_text("settlement-id\tamount-type\tamount-description\n1\ta\tb\n")
    with pytest.raises(CommandError):
        run_json(path)
    assert not Order.objects.exists()
