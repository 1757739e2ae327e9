"""Both returns report formats, with the quirks of real files. No database needed."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from amazonsync.flatfiles.reading import ReportFormatError
from returns.parsers import (
    FBA_REPORT_TYPE,
    MFN_REPORT_TYPE,
    BadReturnRow,
    ReturnRow,
    parse_returns,
    parse_row,
)
from tests.returns.samples import FBA_HEADER, MFN_HEADER, fba_file, fba_row, mfn_file, mfn_row


def rows_of(data, report_type=FBA_REPORT_TYPE, **kw):
    return list(parse_returns(data, report_type=report_type, **kw).rows())


def test_fba_row_is_typed():
    [row] = rows_of(fba_file(fba_row(quantity="2", **{"customer-comments": "Did not fit"})))
    assert isinstance(row, ReturnRow)
    assert row.channel == "FBA"
    assert row.order_id == "111-0000001-0000001"
    assert row.seller_sku == "SKU-FBA-1"
    assert row.return_date == datetime(2026, 9, 10, 10, tzinfo=UTC)
    assert row.quantity == 2
    assert row.disposition == "SELLABLE"
    assert row.reason == "UNWANTED_ITEM"
    assert row.status == "Unit returned to inventory"
    assert row.fulfillment_center == "PHX7"
    assert row.license_plate_number == "LPN0000000001"
    assert row.reference == "LPN0000000001"
    assert row.customer_comment == "Did not fit"
    assert row.raw["license-plate-number"] == "LPN0000000001"


def test_mfn_row_is_typed_with_money_next_to_its_currency():
    [row] = rows_of(mfn_file(mfn_row(**{"Refunded Amount": "40.00",
                                         "Return delivery date": "2026-09-15"})),
                    MFN_REPORT_TYPE)
    assert row.channel == "MFN"
    assert row.order_id == "112-0000001-0000001"
    assert row.seller_sku == "SKU-MFN-1"
    assert row.reference == row.rma_id == "DRMA00001"
    assert row.return_date == datetime(2026, 9, 12, tzinfo=UTC)
    assert row.disposition == ""
    assert row.refunded_amount == Decimal("40.00") and row.currency == "USD"
    assert row.received_at == date(2026, 9, 15)
    assert row.raw["merchant sku"] == "SKU-MFN-1"


def test_columns_in_any_order_extra_columns_and_missing_optional_ones():
    header = ("sku", "quantity", "order-id", "detailed-disposition", "return-date",
              "some-new-column")
    data = fba_file(fba_row(**{"some-new-column": "x"}), header=header)
    [row] = rows_of(data)
    assert row.seller_sku == "SKU-FBA-1" and row.license_plate_number == ""
    assert row.raw["some-new-column"] == "x"
    # MFN without the optional money and RMA columns
    header = ("Order ID", "Return request date", "Merchant SKU", "Return quantity")
    [row] = rows_of(mfn_file(mfn_row(), header=header), MFN_REPORT_TYPE)
    assert row.refunded_amount is None and row.rma_id == ""


def test_empty_optional_values_and_short_rows():
    data = fba_file(fba_row(**{"license-plate-number": "", "status": "", "reason": "",
                               "customer-comments": ""}))
    data = data.rstrip(b"\t\n") + b"\n"  # Amazon drops trailing empty columns
    [row] = rows_of(data)
    assert row.license_plate_number == "" and row.status == "" and row.reason == ""


def test_gzip_bom_crlf_and_windows_1252():
    row = fba_row(**{"product-name": "Tasse für Kaffee", "customer-comments": "Zu groß"})
    plain = rows_of(fba_file(row))[0]
    for data in (
        gzip.compress(fba_file(row)),
        fba_file(row, bom=True, newline="\r\n"),
        fba_file(row, encoding="cp1252"),
    ):
        parsed = rows_of(data)[0]
        assert parsed.product_name == plain.product_name == "Tasse für Kaffee"
        assert parsed.customer_comment == "Zu groß"


@pytest.mark.parametrize("text,expected", [
    ("2026-09-10T10:00:00+00:00", datetime(2026, 9, 10, 10, tzinfo=UTC)),
    ("2026-09-10 12:00:00 CEST", datetime(2026, 9, 10, 10, tzinfo=UTC)),
    ("10.09.2026 10:00:00 UTC", datetime(2026, 9, 10, 10, tzinfo=UTC)),
    ("2026/09/10 19:00:00 JST", datetime(2026, 9, 10, 10, tzinfo=UTC)),
    ("Sep 10, 2026 3:00:00 AM PDT", datetime(2026, 9, 10, 10, tzinfo=UTC)),
])
def test_marketplace_date_formats(text, expected):
    assert rows_of(fba_file(fba_row(**{"return-date": text})))[0].return_date == expected


def test_us_slash_dates_are_month_first_and_eu_day_first():
    data = mfn_file(mfn_row(**{"Return request date": "09/03/2026"}))
    assert rows_of(data, MFN_REPORT_TYPE, dayfirst=False)[0].return_date.month == 9
    assert rows_of(data, MFN_REPORT_TYPE, dayfirst=True)[0].return_date.month == 3


def test_eu_amounts():
    data = mfn_file(mfn_row(**{"Currency code": "EUR", "Refunded Amount": "1.234,50",
                               "Order Amount": "1.234,50"}))
    assert rows_of(data, MFN_REPORT_TYPE)[0].refunded_amount == Decimal("1234.50")


def test_bad_rows_are_yielded_raw_with_the_reason_and_do_not_stop_the_file():
    data = fba_file(
        fba_row(quantity="two"),
        fba_row(**{"return-date": "yesterday"}),
        fba_row(**{"order-id": ""}),
        fba_row(quantity="0"),
        fba_row(),
    )
    rows = rows_of(data)
    bad = [r for r in rows if isinstance(r, BadReturnRow)]
    assert [b.column for b in bad] == ["quantity", "return-date", "order-id", "quantity"]
    assert bad[0].raw["quantity"] == "two" and bad[0].line == 2
    assert "not a" in bad[1].error
    assert isinstance(rows[-1], ReturnRow)


def test_mfn_amount_without_currency_is_a_bad_row():
    [row] = rows_of(mfn_file(mfn_row(**{"Currency code": "", "Refunded Amount": "10.00"})),
                    MFN_REPORT_TYPE)
    assert isinstance(row, BadReturnRow) and "currency" in row.error


def test_wrong_report_type_is_refused_with_a_hint():
    with pytest.raises(ReportFormatError) as err:
        parse_returns(mfn_file(), report_type=FBA_REPORT_TYPE)
    assert "return-date" in str(err.value)
    with pytest.raises(ReportFormatError, match="required column"):
        parse_returns(fba_file(), report_type=MFN_REPORT_TYPE)
    with pytest.raises(ReportFormatError, match="empty"):
        parse_returns(b"", report_type=FBA_REPORT_TYPE)


def test_parse_row_reads_a_kept_raw_row_again():
    [row] = rows_of(fba_file(fba_row()))
    again = parse_row(row.raw, report_type=FBA_REPORT_TYPE)
    assert again.order_id == row.order_id and again.return_date == row.return_date
    assert list(FBA_HEADER) and list(MFN_HEADER)
