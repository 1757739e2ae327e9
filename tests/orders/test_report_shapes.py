"""The all-orders report in every shape real files come in, through ``import_report``:
day/month order from the row's marketplace (never guessed), Windows-31J files from
Amazon.co.jp with their Japanese text intact, comma- and semicolon-separated files,
amounts written with their currency's symbol."""

from __future__ import annotations

import datetime
import io
import json
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command

from amazonsync.models import SyncException
from orders.models import Order
from tests.orders.builders import REPORT_COLUMNS, report_row

pytestmark = pytest.mark.django_db
TYPE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
NOW = datetime.datetime(2026, 11, 2, 12, 0, tzinfo=datetime.UTC)


def run_json(*args) -> dict:
    out = io.StringIO()
    call_command("import_report", "--type", TYPE, *map(str, args), "--json", stdout=out)
    return json.loads(out.getvalue())


def text(rows: list[dict], delimiter: str = "\t") -> str:
    def cell(value: str) -> str:
        if delimiter != "\t" and (delimiter in value or '"' in value):
            return '"' + value.replace('"', '""') + '"'
        return value

    lines = [delimiter.join(REPORT_COLUMNS)]
    lines += [delimiter.join(cell(str(r.get(c, ""))) for c in REPORT_COLUMNS) for r in rows]
    return "\r\n".join(lines) + "\r\n"


def dated(order_id: str, when: str, *, sales_channel: str, currency: str, country: str,
          sku: str = "SKU-1", **kw) -> dict:
    row = report_row(order_id, sku, sales_channel=sales_channel, currency=currency, **kw)
    row.update({"purchase-date": when, "last-updated-date": when, "ship-country": country})
    return row


@time_machine.travel(NOW, tick=False)
def test_uk_dates_are_day_first_and_us_dates_month_first_whatever_the_account(tmp_path):
    # no account yet: the "Imported files" account (NA) is created, as for a new user
    path = tmp_path / "orders.txt"
    path.write_text(text([
        dated("202-0000400-0000001", "05/07/2025", sales_channel="Amazon.co.uk",
              currency="GBP", country="GB"),
        dated("111-0000400-0000002", "05/07/2025", sales_channel="Amazon.com",
              currency="USD", country="US"),
        dated("302-0000400-0000003", "05.07.2025 14:30:00", sales_channel="Amazon.de",
              currency="EUR", country="DE"),
    ]), encoding="utf-8")
    doc = run_json(path)
    assert doc["created"] == 3
    stored = {o.amazon_order_id: o for o in Order.objects.all()}
    uk, us, de = (stored[k] for k in ("202-0000400-0000001", "111-0000400-0000002",
                                      "302-0000400-0000003"))
    assert (uk.marketplace.code, uk.purchase_date.date()) == ("GB", datetime.date(2025, 7, 5))
    assert (us.marketplace.code, us.purchase_date.date()) == ("US", datetime.date(2025, 5, 7))
    assert de.purchase_date == datetime.datetime(2025, 7, 5, 14, 30, tzinfo=datetime.UTC)


@time_machine.travel(NOW, tick=False)
def test_an_ambiguous_date_no_marketplace_settles_is_refused_with_line_and_column(
        account, tmp_path):
    # the account sells in US (month first) and CA (either order): a row naming no
    # marketplace (multi-channel) or CA has no order of day and month to read 05/07/2025 in
    mcf = dated("S01-0000401-0000001", "05/07/2025", sales_channel="Non-Amazon",
                currency="USD", country="US", channel="Amazon", status="Shipped")
    canada = dated("702-0000401-0000002", "05/07/2025", sales_channel="Amazon.ca",
                   currency="CAD", country="CA")
    clear = dated("702-0000401-0000003", "25/07/2025", sales_channel="Amazon.ca",
                  currency="CAD", country="CA")
    path = tmp_path / "ambiguous.txt"
    path.write_text(text([mcf, canada, clear]), encoding="utf-8")
    doc = run_json(path)
    assert doc["created"] == 1  # 25/07/2025 can only be 25 July
    assert Order.objects.get().purchase_date.date() == datetime.date(2025, 7, 25)
    refused = {e.object_key: e for e in SyncException.objects.filter(
        reason_code="bad_order_data")}
    assert set(refused) == {"S01-0000401-0000001", "702-0000401-0000002"}
    for line, key in ((2, "S01-0000401-0000001"), (3, "702-0000401-0000002")):
        exc = refused[key]
        assert (exc.payload["line"], exc.payload["column"]) == (line, "purchase-date")
        assert "ambiguous.txt" in exc.message and "ambiguous date '05/07/2025'" in exc.message
        assert exc.payload["rows"][0]["purchase-date"] == "05/07/2025"  # kept raw


@time_machine.travel(NOW, tick=False)
def test_excel_two_digit_years_and_japanese_dates(account, tmp_path):
    path = tmp_path / "excel.txt"
    path.write_text(text([
        dated("111-0000402-0000001", "09/06/25", sales_channel="Amazon.com", currency="USD",
              country="US"),
        dated("503-0000402-0000002", "2019年3月15日", sales_channel="Amazon.co.jp",
              currency="JPY", country="JP", price="1500", tax="0"),
    ]), encoding="utf-8")
    assert run_json(path)["created"] == 2
    assert Order.objects.get(amazon_order_id="111-0000402-0000001").purchase_date.date() == \
        datetime.date(2025, 9, 6)
    assert Order.objects.get(amazon_order_id="503-0000402-0000002").purchase_date.date() == \
        datetime.date(2019, 3, 15)


JP_TITLE = "クラシック マグカップ（ブラック、Sサイズ）"


def jp_row(order_id: str, **kw) -> dict:
    row = report_row(order_id, "JP-MUG-1", sales_channel="Amazon.co.jp", currency="JPY",
                     price="￥1,500", tax="￥120", **kw)
    row.update({"product-name": JP_TITLE, "ship-city": "渋谷区", "ship-state": "東京都",
                "ship-postal-code": "150-0002", "ship-country": "JP",
                "shipping-price": "0", "shipping-tax": "0", "item-promotion-discount": "0"})
    return row


def test_a_windows_31j_file_from_amazon_co_jp_keeps_its_japanese_text(tmp_path):
    path = tmp_path / "jp-orders.txt"
    path.write_bytes(text([jp_row("503-0000403-0000001")]).encode("cp932"))
    doc = run_json(path, "--marketplace", "JP")
    assert (doc["created"], doc.get("errors")) == (1, None)
    order = Order.objects.get()
    assert (order.marketplace.code, order.currency) == ("JP", "JPY")
    assert (order.ship_city, order.ship_state) == ("渋谷区", "東京都")
    assert order.order_total == Decimal("1620")
    line = order.lines.get()
    assert line.title == JP_TITLE and line.item_price == Decimal("1500")


def test_a_windows_31j_file_is_told_apart_without_being_told(tmp_path):
    # the "Imported files" account sells nowhere yet: both legacy encodings are candidates,
    # and only Windows-31J reads these bytes
    path = tmp_path / "jp-orders.txt"
    path.write_bytes(text([jp_row("503-0000404-0000001")]).encode("cp932"))
    assert run_json(path)["created"] == 1
    assert Order.objects.get().lines.get().title == JP_TITLE


def test_japanese_text_read_in_the_wrong_encoding_is_refused_not_stored(account, tmp_path):
    # an account selling in US and CA only: its files may be Windows-1252. Japanese text
    # that Windows-1252 happens to read is not stored garbled.
    row = jp_row("503-0000405-0000001")
    # every byte of this row is one Windows-1252 reads too
    row.update({"product-name": "ヨガマット", "ship-city": "東京", "ship-state": "東京",
                "item-price": "1500", "item-tax": "120"})
    path = tmp_path / "jp.txt"
    path.write_bytes(text([row]).encode("cp932"))
    assert "ƒˆƒKƒ}ƒbƒg" == "ヨガマット".encode("cp932").decode("cp1252")
    doc = run_json(path)
    assert doc["created"] == 0
    exc = SyncException.objects.get(reason_code="bad_order_data")
    assert exc.payload["column"] == "product-name" and "Windows-31J" in exc.message
    assert not Order.objects.exists()


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_comma_and_semicolon_separated_files(account, mapped, tmp_path, delimiter):
    rows = [
        report_row("111-0000406-0000001", "SKU-MFN", price="$1,234.50", tax="$98.76"),
        report_row("111-0000406-0000002", "SKU-FBA", channel="Amazon", status="Shipped",
                   item_status="Shipped"),
    ]
    rows[0]["product-name"] = 'Mug, "large"; blue'
    path = tmp_path / ("orders.csv" if delimiter == "," else "orders-semicolon.csv")
    path.write_text(text(rows, delimiter), encoding="utf-8-sig")
    doc = run_json(path)
    assert (doc["created"], doc["exceptions"]) == (2, 0)
    order = Order.objects.get(amazon_order_id="111-0000406-0000001")
    assert order.order_total == Decimal("1333.26")
    assert order.lines.get().title == 'Mug, "large"; blue'


def test_a_currency_symbol_that_contradicts_the_currency_is_refused(account, mapped, tmp_path):
    path = tmp_path / "orders.txt"
    path.write_text(text([report_row("111-0000407-0000001", "SKU-MFN", price="£19.99")]),
                    encoding="utf-8")
    assert run_json(path)["exceptions"] == 1
    exc = SyncException.objects.get(reason_code="bad_order_data")
    assert (exc.payload["line"], exc.payload["column"]) == (2, "item-price")
