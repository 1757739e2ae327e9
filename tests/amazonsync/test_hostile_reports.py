"""Hostile report files (issue 13): values the business or the database cannot take are
refused naming the file, the line and the column, never stored rounded, cut or guessed;
reading is linear and bounded; an order's rows are grouped wherever they are; a file import
is all or nothing and its counts are what was committed."""

from __future__ import annotations

import datetime
import gzip
import io
import json
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from amazonsync.flatfiles import values
from amazonsync.flatfiles.reading import MAX_LINE_BYTES, ReportFormatError, iter_text_lines
from amazonsync.flatfiles.rows import FlatFile
from tests.orders.builders import T0, report_row, report_text
from tests.returns.samples import fba_file, fba_row, mfn_file, mfn_row
from tests.settlements.settlement_samples import DEFAULT_LINES, settlement_file

ORDERS = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
FBA = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
MFN = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
SETTLEMENT = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
NOW = datetime.datetime(2026, 11, 20, tzinfo=datetime.UTC)


@pytest.fixture
def us(db):
    from marketplaces.models import Marketplace

    return Marketplace.objects.get(code="US")


@pytest.fixture
def mapped(account, us):
    """SKU-MFN (MFN) and SKU-FBA (FBA) in the US marketplace, mapped to one item with
    plenty of merchant stock; SKU-FBA-1 and SKU-MFN-1 for the returns files."""
    from catalog.models import Item, Listing, MerchantStock

    item = Item.objects.create(sku="MUG-1", name="Mug")
    MerchantStock.objects.create(item=item, on_hand=100_000)
    for sku, channel in (("SKU-MFN", "MFN"), ("SKU-FBA", "FBA"), ("SKU-FBA-1", "FBA"),
                         ("SKU-MFN-1", "MFN")):
        Listing.objects.create(account=account, marketplace=us, seller_sku=sku,
                               channel=channel, item=item)
    return item


@pytest.fixture
def rules(db):
    from returns.services import disposition_rules_ensure

    disposition_rules_ensure()


def run(report_type: str, *paths) -> tuple[dict, bool]:
    """import_report --json: (document, succeeded)."""
    out = io.StringIO()
    try:
        call_command("import_report", "--type", report_type, *map(str, paths), "--json",
                     stdout=out)
    except CommandError:
        return json.loads(out.getvalue()), False
    return json.loads(out.getvalue()), True


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(("text", "currency", "expected"), [
    ("4.99", "USD", Decimal("4.99")), ("1.234,56", "EUR", Decimal("1234.56")),
    ("1,234", "JPY", Decimal("1234")), ("500", "JPY", Decimal("500")),
    ("500.00", "JPY", Decimal("500")), ("-0.125", "KWD", Decimal("-0.125")),
    ("999999999999.99", "USD", Decimal("999999999999.99")),
])
def test_money_as_written(text, currency, expected):
    assert values.parse_money(text, currency=currency) == expected


@pytest.mark.parametrize(("text", "currency", "why"), [
    ("4.99", "JPY", "2 decimals but JPY has 0"),
    ("1.2345678901", "USD", "10 decimals but USD has 2"),
    ("19.9999", "EUR", "4 decimals but EUR has 2"),
    ("1.2e23", "USD", "no exponent"), ("1E5", "EUR", "no exponent"),
    ("NaN", "USD", "not an amount"), ("-Infinity", "USD", "not an amount"),
    ("1000000000000", "USD", "out of range"), ("120000000000000000000000", "EUR", "range"),
])
def test_money_refused_never_rounded(text, currency, why):
    with pytest.raises(values.ValueRefused, match=why):
        values.parse_money(text, currency=currency)


@pytest.mark.parametrize("text", ["99999999999", "-5", "1,000", "2.5", "1e3", "", "x"])
def test_quantities_refused(text):
    with pytest.raises(ValueError):
        values.parse_quantity(text)


def test_quantities_within_bounds():
    assert values.parse_quantity("12") == 12
    assert values.parse_quantity("-5", minimum=-10) == -5
    with pytest.raises(values.ValueRefused, match="out of range"):
        values.parse_quantity("1000001")


@pytest.mark.parametrize(("parse", "good", "bad"), [
    (values.parse_order_id, ["111-1234567-1234567", "D01-1234567-1234567"],
     ["1" * 40, "111-1234567-123456", "111-1234567-1234567 ", "abc-1234567-1234567"]),
    (values.parse_settlement_id, ["11223344556", "1"], ["1" * 40, "12a", "-1", ""]),
    (values.parse_sku, ["SKU-1", "S" * 40, "Mug – blue"], ["S" * 41, "X" * 100, "", "a\x01"]),
    (values.parse_currency, ["EUR", "jpy", "KWD"], ["EUROS", "EU", "ABC", "€€€", ""]),
    (values.parse_asin, ["B0TEST0001"], ["B0TEST", "b0test0001", "B0TEST00012"]),
    (values.parse_country, ["US"], ["USA", "us", ""]),
])
def test_ids_and_codes_have_amazon_shapes(parse, good, bad):
    for text in good:
        assert parse(text)
    for text in bad:
        with pytest.raises(values.ValueRefused):
            parse(text)


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+00:00", "9999-12-31T00:00:00+00:00",
                                  "0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00",
                                  "1999-12-31", "2026-11-25T00:00:00Z"])
def test_dates_outside_the_window_are_refused(text):
    window = values.window_until_now(NOW)
    with pytest.raises(ValueError):
        values.parse_datetime_in(text, window)


def test_text_longer_than_its_column_is_refused_not_cut():
    assert values.parse_text("x" * 500, max_length=500) == "x" * 500
    with pytest.raises(values.ValueRefused, match="501 characters, more than the 500"):
        values.parse_text("x" * 501, max_length=500)


def test_known_currencies_agree_with_the_money_helpers():
    from amazonsync import money

    # One table: a currency's places are the same when a report's amount is read and when
    # an amount is rounded or shown.
    for code, places in {"JPY": 0, "KRW": 0, "CLP": 0, "VND": 0, "ISK": 0, "HUF": 2,
                         "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}.items():
        assert money.ISO_4217[code] == places
        assert money.decimals(code) == places
        smallest = Decimal(1).scaleb(-places)
        assert values.parse_money(str(smallest), currency=code) == smallest
        assert money.quantize(smallest, code) == smallest


# --------------------------------------------------------------------------- reading


def _seconds(func) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def test_a_40_mb_line_is_refused_at_once_naming_the_line(tmp_path):
    path = tmp_path / "long.txt"
    path.write_bytes(b"a\tb\n1\t2\n" + b"x" * 40_000_000 + b"\n")

    def read():
        with pytest.raises(ReportFormatError, match="longer than 1,048,576 bytes") as err:
            list(iter_text_lines(path))
        assert err.value.line == 3 and err.value.source == str(path)

    assert _seconds(read) < 2  # was 20 s (and then read whole)


def test_a_small_gzip_holding_one_50_mb_line_is_refused_at_once(tmp_path):
    path = tmp_path / "bomb.txt.gz"
    path.write_bytes(gzip.compress(b"x" * 50_000_000, compresslevel=9))
    assert path.stat().st_size < 100_000

    def read():
        with pytest.raises(ReportFormatError, match="longer than") as err:
            FlatFile(path)
        assert err.value.line == 1

    assert _seconds(read) < 2  # was 53 s


def test_reading_is_linear_in_the_line_length(tmp_path):
    """Lines just under the cap, read whole: twice the data, about twice the time."""
    line = b"y" * (MAX_LINE_BYTES - 1)
    small, big = tmp_path / "small.txt", tmp_path / "big.txt"
    small.write_bytes((line + b"\n") * 8)
    big.write_bytes((line + b"\n") * 16)
    assert [len(t) for _, t in iter_text_lines(small)] == [MAX_LINE_BYTES - 1] * 8
    a = min(_seconds(lambda: list(iter_text_lines(small))) for _ in range(3))
    b = min(_seconds(lambda: list(iter_text_lines(big))) for _ in range(3))
    assert b < 4 * a + 0.05


def test_a_long_utf16_line_is_refused(tmp_path):
    path = tmp_path / "utf16.txt"
    path.write_bytes(("a\tb\n1\t" + "z" * (MAX_LINE_BYTES + 10) + "\n").encode("utf-16"))
    with pytest.raises(ReportFormatError, match="longer than") as err:
        list(iter_text_lines(path))
    assert err.value.line == 2


def test_a_huge_value_is_refused_naming_its_column():
    data = b"a\tdescription\n1\tok\n2\t" + b"d" * 100_000 + b"\n"
    flat = FlatFile(data)
    with pytest.raises(ReportFormatError, match="100,000 characters") as err:
        list(flat.rows())
    assert (err.value.line, err.value.column) == (3, "description")


# --------------------------------------------------------------------------- all-orders


@pytest.fixture
def big_stock(mapped):
    return mapped


def _orders_file(tmp_path, rows, name="orders.txt"):
    path = tmp_path / name
    path.write_text(report_text(rows), encoding="utf-8")
    return path


def _exception_for(order_id):
    from amazonsync.models import SyncException

    return SyncException.objects.get(reason_code="bad_order_data", object_key=order_id)


def test_an_order_whose_rows_are_apart_keeps_every_line(account, big_stock, tmp_path):
    from orders.models import Order

    a, b = "111-0000300-0000001", "111-0000300-0000002"
    rows = [report_row(a, "SKU-MFN", qty=1, price="10.00", tax="1.00"),
            report_row(b, "SKU-MFN", qty=1, price="5.00", tax="0.50"),
            report_row(a, "SKU-FBA", qty=2, price="20.00", tax="2.00")]
    doc, ok = run(ORDERS, _orders_file(tmp_path, rows))
    assert ok and (doc["created"], doc["exceptions"]) == (2, 0)
    order = Order.objects.get(amazon_order_id=a)
    assert sorted((x.seller_sku, x.quantity_ordered) for x in order.lines.all()) == \
        [("SKU-FBA", 2), ("SKU-MFN", 1)]
    assert order.order_total == Decimal("33.00")  # was one line and 22.00


def test_rows_of_one_order_that_disagree_are_refused(account, big_stock, tmp_path):
    from orders.models import Order

    a = "111-0000301-0000001"
    rows = [report_row(a, "SKU-MFN"), report_row(a, "SKU-FBA", status="Shipped")]
    doc, ok = run(ORDERS, _orders_file(tmp_path, rows))
    assert ok and (doc["created"], doc["exceptions"]) == (0, 1)
    assert not Order.objects.exists()
    assert "line 3, column 'order-status'" in _exception_for(a).message


@pytest.mark.parametrize(("column", "value", "why"), [
    ("item-price", "1.2e23", "exponent"),
    ("item-price", "4.99", "2 decimals but JPY has 0"),
    ("item-tax", "1.1234567891", "10 decimals"),
    ("quantity", "99999999999", "out of range"),
    ("quantity", "-5", "out of range"),
    ("amazon-order-id", "1" * 40, "not an Amazon order id"),
    ("sku", "S" * 100, "Amazon allows 40"),
    ("currency", "EUROS", "not an ISO 4217 currency code"),
    ("last-updated-date", "9999-12-31T00:00:00+00:00", "outside"),
    ("purchase-date", "0001-01-01T00:00:00+00:00", "outside"),
    ("product-name", "p" * 600, "600 characters, more than the 500"),
    ("ship-country", "USA", "two-letter country code"),
    ("is-business-order", "maybe", "not true or false"),
])
def test_all_orders_values_refused_naming_file_line_and_column(
        account, big_stock, tmp_path, column, value, why):
    from catalog.models import MerchantStock
    from orders.models import Order, OrderLine

    good = report_row("111-0000302-0000001", "SKU-MFN")
    bad = report_row("111-0000302-0000002", "SKU-MFN", currency="JPY", price="500",
                     tax="50")
    bad[column] = value
    path = _orders_file(tmp_path, [good, bad], name="hostile.txt")
    doc, ok = run(ORDERS, path)
    assert ok and (doc["created"], doc["exceptions"]) == (1, 1), doc
    assert list(Order.objects.values_list("amazon_order_id", flat=True)) == \
        ["111-0000302-0000001"]
    assert OrderLine.objects.count() == 1
    assert MerchantStock.objects.get(item=big_stock).reserved == 1
    key = value if column == "amazon-order-id" else "111-0000302-0000002"
    message = _exception_for(key).message
    assert f"hostile.txt, line 3, column '{column}'" in message and why in message, message


def test_a_bad_amount_on_line_601_is_an_exception_and_the_counts_are_true(
        account, big_stock, tmp_path):
    from catalog.models import MerchantStock
    from orders.models import Order

    rows = [report_row(f"111-{i:07d}-0000001", "SKU-MFN") for i in range(600)]
    rows[-1]["item-price"] = "12.3.4"
    doc, ok = run(ORDERS, _orders_file(tmp_path, rows))
    assert ok and (doc["rows"], doc["created"], doc["exceptions"]) == (600, 599, 1)
    assert Order.objects.count() == doc["created"]
    assert MerchantStock.objects.get(item=big_stock).reserved == 599
    assert "line 601, column 'item-price'" in _exception_for("111-0000599-0000001").message


def test_a_refused_orders_file_commits_nothing(account, big_stock, tmp_path):
    """600 orders, then a line the reader refuses: nothing stored, no stock reserved, and the
    JSON says so (was: 500 orders and their reservations committed, "created": 0)."""
    from catalog.models import MerchantStock
    from orders.models import Order

    rows = [report_row(f"111-{i:07d}-0000002", "SKU-MFN") for i in range(600)]
    path = tmp_path / "broken.txt"
    path.write_bytes(report_text(rows).encode() + b"x" * (MAX_LINE_BYTES + 1) + b"\n")
    doc, ok = run(ORDERS, path)
    assert not ok and doc["created"] == 0
    assert "line 602" in doc["errors"][0]["error"]
    assert not Order.objects.exists()
    assert MerchantStock.objects.get(item=big_stock).reserved == 0


def test_a_refused_file_does_not_even_create_the_imported_files_account(db, tmp_path):
    from marketplaces.models import SellerAccount

    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    doc, ok = run(ORDERS, path)
    assert not ok and not SellerAccount.objects.exists()


# --------------------------------------------------------------------------- returns


@pytest.mark.parametrize(("report_type", "row", "column", "value", "why"), [
    (FBA, fba_row, "order-id", "1" * 40, "not an Amazon order id"),
    (FBA, fba_row, "sku", "S" * 100, "Amazon allows 40"),
    (FBA, fba_row, "quantity", "99999999999", "out of range"),
    (FBA, fba_row, "quantity", "-5", "out of range"),
    (FBA, fba_row, "return-date", "9999-12-31T00:00:00+00:00", "outside"),
    (FBA, fba_row, "asin", "B0123456789XYZ", "not an ASIN"),
    (FBA, fba_row, "fulfillment-center-id", "F" * 20, "20 characters, more than the 16"),
    (FBA, fba_row, "customer-comments", "c" * 6000, "more than the 5,000"),
    (MFN, mfn_row, "Refunded Amount", "4.99", "2 decimals but JPY has 0"),
    (MFN, mfn_row, "Currency code", "EUROS", "not an ISO 4217 currency code"),
    (MFN, mfn_row, "Return request date", "0001-01-01", "outside"),
    (MFN, mfn_row, "Order Amount", "1.2e23", "exponent"),
])
def test_returns_values_refused_naming_file_line_and_column(
        account, mapped, rules, tmp_path, report_type, row, column, value, why):
    from amazonsync.models import SyncException
    from returns.models import ReturnEvent

    good = row()
    bad = row(**{"Currency code": "JPY", "Order Amount": "4000"} if report_type == MFN
              else {"license-plate-number": "LPN-BAD"})
    bad[column] = value
    path = tmp_path / "returns.txt"
    path.write_bytes((fba_file if report_type == FBA else mfn_file)(good, bad))
    doc, ok = run(report_type, path)
    assert ok and (doc["created"], doc["exceptions"]) == (1, 1), doc
    assert ReturnEvent.objects.count() == 1
    message = SyncException.objects.get(reason_code="bad_row").message
    assert "returns.txt line 3: " in message and f"(column '{column.lower()}')" in message
    assert why in message, message


def test_a_returns_file_with_a_huge_comment_is_refused_whole(account, mapped, rules,
                                                            tmp_path):
    from returns.models import ReturnEvent

    path = tmp_path / "huge.txt"
    path.write_bytes(fba_file(fba_row(), fba_row(**{"customer-comments": "c" * 200_000,
                                                    "license-plate-number": "LPN2"})))
    doc, ok = run(FBA, path)
    assert not ok and "line 3, column 'customer-comments'" in doc["errors"][0]["error"]
    assert not ReturnEvent.objects.exists()  # was stored whole (200,000 characters)


# --------------------------------------------------------------------------- settlements


def _line(**over):
    return [dict(DEFAULT_LINES[0], **over), *DEFAULT_LINES[1:]]


@pytest.mark.parametrize(("file_kw", "line", "column", "why"), [
    ({"settlement_id": "1" * 40}, 2, "settlement-id", "1 to 20 digits"),
    ({"currency": "JPY", "total": "4.99"}, 2, "total-amount", "2 decimals but JPY has 0"),
    ({"currency": "ABC"}, 2, "currency", "unknown currency code"),
    ({"currency": "EUROS"}, 2, "currency", "not an ISO 4217 currency code"),
    ({"end": "9999-12-31T00:00:00+00:00"}, 2, "settlement-end-date", "outside"),
    ({"start": "0001-01-01T00:00:00+00:00"}, 2, "settlement-start-date", "outside"),
    ({"total": "1.2e23"}, 2, "total-amount", "exponent"),
    ({"total": "120000000000000"}, 2, "total-amount", "out of range"),
    ({"lines": _line(amount="1.2345678901")}, 3, "amount", "10 decimals"),
    ({"lines": _line(**{"posted-date": "9999-12-31"})}, 3, "posted-date", "outside"),
    ({"lines": _line(**{"posted-date": "0001-01-01"})}, 3, "posted-date", "outside"),
    ({"lines": _line(**{"quantity-purchased": "99999999999"})}, 3, "quantity-purchased",
     "out of range"),
    ({"lines": _line(**{"order-id": "1" * 40})}, 3, "order-id", "more than the 32"),
    ({"lines": _line(sku="S" * 100)}, 3, "sku", "more than the 40"),
])
def test_settlement_values_refused_and_nothing_stored(account, tmp_path, file_kw, line,
                                                      column, why):
    from settlements.models import Settlement, SettlementLine

    path = tmp_path / "settlement.txt"
    kw = dict(file_kw)
    lines = kw.pop("lines", None)
    if "total" not in kw and (lines is not None or kw.get("currency") == "JPY"):
        kw["total"] = "0"
    path.write_bytes(settlement_file(lines, **kw))
    doc, ok = run(SETTLEMENT, path)
    assert not ok
    error = doc["errors"][0]["error"]
    assert f"settlement.txt, line {line}, column '{column}'" in error and why in error, error
    assert not Settlement.objects.exists() and not SettlementLine.objects.exists()


def test_settlement_sums_beyond_the_books_are_refused(account, tmp_path):
    from settlements.models import Settlement

    lines = [dict(DEFAULT_LINES[0], amount="999999999999.00") for _ in range(20)]
    path = tmp_path / "sums.txt"
    path.write_bytes(settlement_file(lines, total="0"))
    doc, ok = run(SETTLEMENT, path)
    assert not ok and "column 'amount'" in doc["errors"][0]["error"]
    assert not Settlement.objects.exists()


def test_last_updated_far_in_the_future_cannot_freeze_an_order(account, big_stock, tmp_path):
    """A last-updated date in 9999 is refused; a later real update still applies."""
    from orders.models import Order

    oid = "111-0000303-0000001"
    first = report_row(oid, "SKU-MFN", updated=T0)
    frozen = report_row(oid, "SKU-MFN", updated=T0)
    frozen["last-updated-date"] = "9999-12-31T00:00:00+00:00"
    run(ORDERS, _orders_file(tmp_path, [first], name="1.txt"))
    run(ORDERS, _orders_file(tmp_path, [frozen], name="2.txt"))
    later = report_row(oid, "SKU-MFN", updated=T0 + datetime.timedelta(hours=3),
                       status="Cancelled", currency="", item_status="Cancelled")
    doc, ok = run(ORDERS, _orders_file(tmp_path, [later], name="3.txt"))
    assert ok and doc["updated"] == 1
    assert Order.objects.get().status == "Canceled"


def test_an_orders_stream_is_read_twice_through_a_temporary_copy(account, big_stock):
    """Grouping reads the file twice: a stream that cannot be re-read is spooled first."""
    from orders.parsers import iter_report_orders

    a, b = "111-0000304-0000001", "111-0000304-0000002"
    data = report_text([report_row(a, "SKU-MFN"), report_row(b, "SKU-MFN"),
                        report_row(a, "SKU-FBA")]).encode()

    class OneWay(io.RawIOBase):  # readable once, not seekable
        def __init__(self):
            self.inner = io.BytesIO(gzip.compress(data))

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = self.inner.read(len(buffer))
            buffer[:len(chunk)] = chunk
            return len(chunk)

    orders = list(iter_report_orders(OneWay(), resolve_marketplace=lambda _: "ATVPDKIKX0DER"))
    assert sorted((o.amazon_order_id, len(o.lines)) for o in orders) == [(a, 2), (b, 1)]


def test_an_unstorable_order_keeps_a_bounded_raw_payload(account, big_stock, tmp_path):
    from orders.parsers import ROWS_KEPT

    oid = "111-0000305-0000001"
    rows = [report_row(oid, f"SKU-{i}") for i in range(200)]
    rows[150]["quantity"] = "-1"
    doc, ok = run(ORDERS, _orders_file(tmp_path, rows))
    assert ok and doc["exceptions"] == 1
    payload = _exception_for(oid).payload
    assert (len(payload["rows"]), payload["row_count"]) == (ROWS_KEPT, 200)
    assert (payload["line"], payload["column"]) == (152, "quantity")


def test_an_unclosed_quote_in_a_comma_file_is_refused_at_its_line_without_reading_on():
    lines = b"sku,name\nA,ok\nB,\"never closed\n" + b"C,more text here\n" * 2_000_000
    started = time.perf_counter()
    with pytest.raises(ReportFormatError) as info:
        for _ in FlatFile(lines).raw_rows():
            pass
    assert info.value.line == 3 and "starts on this line" in str(info.value)
    assert time.perf_counter() - started < 5
