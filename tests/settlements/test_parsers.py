"""Parser tests: every format quirk and every bad input of issue 7. No database needed."""

from __future__ import annotations

import gzip
import io
import random
import tracemalloc
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from amazonsync.flatfiles.reading import ReportFormatError, iter_text_lines
from amazonsync.flatfiles.syntax import (
    parse_amazon_date,
    parse_amazon_datetime,
    parse_amount,
    parse_int,
)
from amazonsync.money import decimals, quantize
from settlements.parsers import COLUMNS, REPORT_TYPE, parse_settlement
from tests.settlements.settlement_samples import (
    DEFAULT_LINES,
    SETTLEMENT_ID,
    make_rows,
    render,
    settlement_file,
    total_of,
)


def parse_all(data, **kw):
    report = parse_settlement(data, **kw)
    lines = list(report.lines())
    return report, lines


# --------------------------------------------------------------------------- happy path


def test_parses_summary_and_lines_into_typed_dataclasses():
    report, lines = parse_all(settlement_file())
    s = report.summary
    assert s.settlement_id == SETTLEMENT_ID
    assert s.currency == "EUR"
    assert s.total_amount == total_of(DEFAULT_LINES) == Decimal("91.53")
    assert s.start_date == datetime(2024, 1, 25, 8, tzinfo=UTC)
    assert s.end_date == datetime(2024, 2, 8, 8, tzinfo=UTC)
    assert s.deposit_date == datetime(2024, 2, 10, 8, tzinfo=UTC)
    assert len(lines) == len(DEFAULT_LINES) == report.line_count
    assert report.sum_of_lines == s.total_amount
    first = lines[0]
    assert first.transaction_type == "Order"
    assert first.amount_type == "ItemPrice"
    assert first.amount_description == "Principal"
    assert first.amount == Decimal("100.00") and isinstance(first.amount, Decimal)
    assert first.posted_date == date(2024, 1, 30)
    assert first.quantity_purchased == 2
    assert first.marketplace_name == "Amazon.de"
    assert first.line == 3  # header is line 1, summary line 2
    assert lines[2].quantity_purchased is None


def test_order_item_code_keeps_leading_zeros():
    _, lines = parse_all(settlement_file())
    assert lines[0].order_item_code == "00012345678901"


def test_promotion_id_with_spaces_is_kept_verbatim():
    _, lines = parse_all(settlement_file())
    promo = [x for x in lines if x.amount_type == "Promotion"]
    assert promo[0].promotion_id == "Core Free Shipping 2024 01"


def test_columns_in_any_order():
    shuffled = list(COLUMNS)
    random.Random(7).shuffle(shuffled)
    report, lines = parse_all(settlement_file(columns=shuffled))
    baseline, base_lines = parse_all(settlement_file())
    assert report.summary == baseline.summary
    assert [(x.amount, x.sku, x.posted_date) for x in lines] == [
        (x.amount, x.sku, x.posted_date) for x in base_lines
    ]


def test_extra_columns_are_kept_per_line():
    columns = [*COLUMNS, "fulfillment-center-id", "Some New Column"]
    rows = make_rows()
    rows[1]["fulfillment-center-id"] = "LEJ1"
    rows[2]["some new column"] = "x y"
    rows[2]["Some New Column"] = "x y"
    report, lines = parse_all(render(rows, columns=columns))
    assert report.extra_columns == ("fulfillment-center-id", "some new column")
    assert lines[0].extra == {"fulfillment-center-id": "LEJ1"}
    assert lines[1].extra == {"some new column": "x y"}
    assert lines[2].extra == {}


def test_older_files_without_promotion_id():
    columns = [c for c in COLUMNS if c != "promotion-id"]
    report, lines = parse_all(settlement_file(columns=columns))
    assert len(lines) == len(DEFAULT_LINES)
    assert all(x.promotion_id == "" for x in lines)


def test_rows_shorter_than_the_header_are_padded():
    data = settlement_file(trim_trailing=True)
    # the summary row stops after currency: 6 of 24 columns
    assert data.splitlines()[1].count(b"\t") == 5
    report, lines = parse_all(data)
    assert report.summary.currency == "EUR"
    assert lines[-1].sku == "" and lines[-1].promotion_id == ""


def test_rows_longer_than_the_header_with_empty_surplus_are_accepted():
    text = settlement_file().decode().replace("\n", "\t\t\n")
    _, lines = parse_all(text.encode())
    assert len(lines) == len(DEFAULT_LINES)


def test_rows_longer_than_the_header_with_values_are_an_error():
    text = settlement_file().decode().splitlines()
    text[3] = text[3] + "\t" * 30 + "surprise"
    with pytest.raises(ReportFormatError, match="line 4.*values but the header has 24"):
        parse_all("\n".join(text).encode())


def test_gzip_and_plain_give_the_same_result():
    plain_report, plain = parse_all(settlement_file())
    gz_report, gz = parse_all(settlement_file(gzip=True))
    assert plain_report.summary == gz_report.summary
    assert plain == gz


def test_utf8_bom_is_removed():
    report, lines = parse_all(settlement_file(bom=True))
    assert report.columns[0] == "settlement-id"
    assert report.summary.settlement_id == SETTLEMENT_ID


def test_crlf_line_endings():
    report, lines = parse_all(settlement_file(newline="\r\n"))
    assert len(lines) == len(DEFAULT_LINES)
    assert all("\r" not in x.sku and "\r" not in x.promotion_id for x in lines)
    assert lines[-1].posted_date == date(2024, 2, 5)


def test_windows_1252_fallback():
    lines = [dict(DEFAULT_LINES[0], **{"amount-description": "Gebühr für Rücksendung"})]
    data = settlement_file(lines, encoding="cp1252", marketplace="Amazon.fr – été")
    assert b"\xfc" in data  # really not UTF-8
    _, parsed = parse_all(data)
    assert parsed[0].amount_description == "Gebühr für Rücksendung"
    assert parsed[0].marketplace_name == "Amazon.fr – été"


def test_utf8_with_non_ascii():
    lines = [dict(DEFAULT_LINES[0], **{"amount-description": "Gebühr"})]
    _, parsed = parse_all(settlement_file(lines))
    assert parsed[0].amount_description == "Gebühr"


def test_utf16_with_bom():
    data = settlement_file().decode("utf-8").encode("utf-16")
    report, lines = parse_all(data)
    assert report.summary.total_amount == Decimal("91.53")
    assert len(lines) == len(DEFAULT_LINES)


def test_eu_decimals_and_dates():
    lines = [
        dict(DEFAULT_LINES[0], amount="1.234,56", **{"posted-date": "30.01.2024"}),
        dict(DEFAULT_LINES[3], amount="-234,56", **{"posted-date": "31.01.2024"}),
    ]
    data = settlement_file(
        lines,
        total="1.000,00",
        start="15.01.2024 08:00:00 UTC",
        end="29.01.2024 08:00:00 UTC",
        deposit="31.01.2024",
    )
    report, parsed = parse_all(data)
    assert report.summary.total_amount == Decimal("1000.00")
    assert report.summary.start_date == datetime(2024, 1, 15, 8, tzinfo=UTC)
    assert report.summary.deposit_date == datetime(2024, 1, 31, tzinfo=UTC)
    assert [x.amount for x in parsed] == [Decimal("1234.56"), Decimal("-234.56")]
    assert parsed[1].posted_date == date(2024, 1, 31)
    assert report.sum_of_lines == report.summary.total_amount


def test_jpy_amounts_have_no_decimals():
    lines = [
        dict(DEFAULT_LINES[0], amount="1,234"),
        dict(DEFAULT_LINES[3], amount="-234"),
        dict(DEFAULT_LINES[4], amount="-1.000"),
    ]
    report, parsed = parse_all(settlement_file(lines, total="0", currency="JPY",
                                               marketplace="Amazon.co.jp"))
    assert report.summary.currency == "JPY"
    assert report.summary.total_amount == Decimal("0")
    assert [x.amount for x in parsed] == [Decimal("1234"), Decimal("-234"), Decimal("-1000")]


def test_negative_total():
    lines = [dict(DEFAULT_LINES[-1], amount="-39.00")]
    report, parsed = parse_all(settlement_file(lines, total="-39.00"))
    assert report.summary.total_amount == Decimal("-39.00")
    assert report.sum_of_lines == Decimal("-39.00")


def test_total_of_zero():
    lines = [dict(DEFAULT_LINES[0], amount="10.00"), dict(DEFAULT_LINES[3], amount="-10.00")]
    report, parsed = parse_all(settlement_file(lines, total="0.00"))
    assert report.summary.total_amount == Decimal("0.00")
    assert len(parsed) == 2


def test_reserve_rows_anywhere_and_summary_not_first():
    rows = make_rows()
    summary, lines = rows[0], rows[1:]
    reserve_first = [lines[-3], *lines[:-3], lines[-2], lines[-1]]
    data = render([reserve_first[0], summary, *reserve_first[1:]])
    report, parsed = parse_all(data)
    assert report.summary.line == 3
    assert parsed[0].transaction_type == "Previous Reserve Amount Balance"
    assert report.sum_of_lines == report.summary.total_amount
    assert len(parsed) == len(DEFAULT_LINES)


def test_summary_far_down_the_file_is_found_by_rereading(tmp_path, monkeypatch):
    from settlements.parsers import report as parsers

    monkeypatch.setattr(parsers, "BUFFER_LIMIT", 3)
    rows = make_rows()
    data = render([*rows[1:], rows[0]])
    path = tmp_path / "late.txt"
    path.write_bytes(data)
    report, parsed = parse_all(path)
    assert report.summary.line == len(rows) + 1
    assert len(parsed) == len(DEFAULT_LINES)
    assert report.sum_of_lines == report.summary.total_amount


def test_repeated_identical_summary_row_is_skipped():
    rows = make_rows()
    report, parsed = parse_all(render([*rows, rows[0]]))
    assert len(parsed) == len(DEFAULT_LINES)


def test_blank_lines_are_skipped():
    data = settlement_file().replace(b"\n", b"\n\n", 3)
    _, parsed = parse_all(data)
    assert len(parsed) == len(DEFAULT_LINES)


def test_reads_paths_and_streams(tmp_path):
    path = tmp_path / "s.txt.gz"
    path.write_bytes(settlement_file(gzip=True))
    by_path = parse_all(path)[1]
    by_str = parse_all(str(path))[1]
    by_stream = parse_all(io.BytesIO(settlement_file()))[1]
    with open(path, "rb") as fh:
        by_handle = parse_all(fh)[1]
    assert by_path == by_str == by_stream == by_handle


def test_streaming_does_not_hold_the_file_in_memory(tmp_path):
    line = dict(DEFAULT_LINES[0])
    n = 60_000
    path = tmp_path / "big.txt"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("\t".join(COLUMNS) + "\n")
        summary = make_rows([])[0]
        summary["total-amount"] = str(Decimal("100.00") * n)
        fh.write("\t".join(summary.get(c, "") for c in COLUMNS).rstrip("\t") + "\n")
        row = make_rows([line])[1]
        text = "\t".join(row.get(c, "") for c in COLUMNS).rstrip("\t") + "\n"
        for _ in range(n):
            fh.write(text)
    size = path.stat().st_size
    assert size > 6_000_000
    tracemalloc.start()
    report = parse_settlement(path)
    count = 0
    for _ in report.lines():
        count += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == n
    assert report.sum_of_lines == report.summary.total_amount
    assert peak < size / 4, f"peak {peak} bytes for a {size} byte file"


# --------------------------------------------------------------------------- bad input


def expect_error(data, *fragments):
    with pytest.raises(ReportFormatError) as info:
        parse_all(data)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return info.value


def test_empty_file():
    expect_error(b"", "empty")


def test_whitespace_only_file():
    expect_error(b"\n\r\n  \n", "empty")


def test_header_only():
    expect_error(render([]), "header but no data rows")


def test_missing_required_column_is_named():
    columns = [c for c in COLUMNS if c != "amount-description"]
    err = expect_error(settlement_file(columns=columns), "'amount-description'", "missing")
    assert err.column == "amount-description"


def test_non_numeric_amount_names_line_and_column():
    lines = [dict(DEFAULT_LINES[0]), dict(DEFAULT_LINES[1], amount="12.3O")]
    err = expect_error(settlement_file(lines, total="1.00"), "line 4", "column 'amount'", "12.3O")
    assert err.line == 4


def test_non_numeric_total():
    expect_error(settlement_file(total="lots"), "line 2", "total-amount", "lots")


def test_bad_date():
    lines = [dict(DEFAULT_LINES[0], **{"posted-date": "31.02.2024"})]
    expect_error(settlement_file(lines), "line 3", "posted-date")


def test_bad_quantity():
    lines = [dict(DEFAULT_LINES[0], **{"quantity-purchased": "two"})]
    expect_error(settlement_file(lines), "line 3", "quantity-purchased")


def test_two_currencies_in_one_settlement():
    rows = make_rows()
    rows[3]["currency"] = "GBP"
    expect_error(render(rows), "two currencies", "EUR", "GBP", "line 5")


def test_second_summary_with_other_currency():
    rows = make_rows()
    rows.append(dict(rows[0], currency="USD"))
    expect_error(render(rows), "two currencies")


def test_two_settlement_ids_in_one_file():
    rows = make_rows()
    rows[4]["settlement-id"] = "99999999999"
    expect_error(render(rows), "two settlement ids", SETTLEMENT_ID, "99999999999", "line 6")


def test_no_summary_row():
    rows = make_rows()[1:]
    expect_error(render(rows), "no settlement summary row")


def test_truncated_gzip():
    data = settlement_file(gzip=True)
    expect_error(data[: len(data) // 2], "gzip", "truncated")


def test_truncated_large_gzip_fails_mid_stream():
    data = settlement_file(DEFAULT_LINES * 2000, gzip=True)
    report = parse_settlement(data[: len(data) - 40])
    with pytest.raises(ReportFormatError, match="truncated"):
        for _ in report.lines():
            pass


def test_binary_garbage():
    rnd = random.Random(1)
    garbage = bytes(rnd.randrange(256) for _ in range(4096))
    expect_error(garbage, "binary")


def test_binary_garbage_without_nul_bytes():
    rnd = random.Random(2)
    garbage = bytes(rnd.choice([1, 2, 3, 4, 5, 6, 7, 0x8F, 0x90, 0x9D]) for _ in range(500))
    expect_error(garbage, "binary")


def test_png_file():
    expect_error(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100), "binary")


def test_different_report_type_is_named():
    header = "amazon-order-id\tmerchant-order-id\tpurchase-date\torder-status\tsku\n"
    row = "302-1\t\t2024-01-01T00:00:00+00:00\tShipped\tSKU-1\n"
    expect_error(
        (header + row).encode(),
        "missing",
        "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
        REPORT_TYPE,
    )


def test_xml_settlement_is_refused():
    expect_error(b'<?xml version="1.0"?>\n<AmazonEnvelope/>\n', "XML")


def test_comma_separated_file_is_refused():
    expect_error(b"settlement-id,total-amount\n1,2\n", "not tab separated")


def test_duplicate_header_column():
    columns = [*COLUMNS, "sku"]
    expect_error(settlement_file(columns=columns), "twice", "sku")


def test_second_summary_with_different_total():
    rows = make_rows()
    rows.append(dict(rows[0], **{"total-amount": "1.00"}))
    expect_error(render(rows), "different total-amount")


def test_bad_currency_code():
    expect_error(settlement_file(currency="EURO"), "currency", "EURO")


def test_error_names_the_file(tmp_path):
    path = tmp_path / "broken.txt"
    path.write_bytes(b"")
    expect_error(path, "broken.txt", "empty")


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.txt", "not found")


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1234.56", "1234.56"),
        ("-1234,56", "-1234.56"),
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("-1.234.567,89", "-1234567.89"),
        ("1 234,56", "1234.56"),
        ("1\u00a0234,56", "1234.56"),
        ("1'234.56", "1234.56"),
        ("0.00", "0.00"),
        ("0,5", "0.5"),
        ("+12.00", "12.00"),
        ("(12.00)", "-12.00"),
        ("12.00-", "-12.00"),
        (" 7 ", "7"),
        (",5", "0.5"),
    ],
)
def test_parse_amount(text, expected):
    value = parse_amount(text)
    assert value == Decimal(expected)
    assert str(value) == expected


@pytest.mark.parametrize(
    "text, places, expected",
    [
        ("1.234", 0, "1234"),
        ("1,234", 0, "1234"),
        ("1,234", 2, "1234"),
        ("1,234", None, "1.234"),
        ("1.234", 3, "1.234"),
        ("12,50", 2, "12.50"),
        ("1.234,5", 2, "1234.5"),
    ],
)
def test_parse_amount_with_currency_places(text, places, expected):
    assert parse_amount(text, places=places) == Decimal(expected)


@pytest.mark.parametrize(
    "text", ["", "abc", "1.2.3,4,5", "12,34,5", "1e5", "NaN", "Infinity", "--1", "1,23.45", "$5"]
)
def test_parse_amount_rejects(text):
    with pytest.raises(ValueError):
        parse_amount(text)


def test_parse_amount_never_returns_float():
    assert type(parse_amount("1,5")) is Decimal


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024-01-15T08:00:00+00:00", datetime(2024, 1, 15, 8, tzinfo=UTC)),
        ("2024-01-15T08:00:00Z", datetime(2024, 1, 15, 8, tzinfo=UTC)),
        ("2024-01-15T09:00:00+01:00", datetime(2024, 1, 15, 8, tzinfo=UTC)),
        ("2024-01-15T08:00:00.123+00:00", datetime(2024, 1, 15, 8, 0, 0, 123000, tzinfo=UTC)),
        ("2024-01-15 08:00:00 UTC", datetime(2024, 1, 15, 8, tzinfo=UTC)),
        ("15.01.2024 08:00:00 UTC", datetime(2024, 1, 15, 8, tzinfo=UTC)),
        ("15.01.2024", datetime(2024, 1, 15, tzinfo=UTC)),
        ("2024-01-15", datetime(2024, 1, 15, tzinfo=UTC)),
        ("2024/01/15 17:00:00 JST", datetime(2024, 1, 15, 8, tzinfo=UTC)),
        ("15/01/2024 08:00:00 GMT", datetime(2024, 1, 15, 8, tzinfo=UTC)),
        ("01/15/2024 00:00:00 PST", datetime(2024, 1, 15, 8, tzinfo=UTC)),
        ("Jan 15, 2024 12:00:00 AM PST", datetime(2024, 1, 15, 8, tzinfo=UTC)),
        ("Jan 15, 2024 1:30:00 PM PDT", datetime(2024, 1, 15, 20, 30, tzinfo=UTC)),
        ("15-Jan-2024", datetime(2024, 1, 15, tzinfo=UTC)),
        ("15 Mär 2024", datetime(2024, 3, 15, tzinfo=UTC)),
        ("2024-01-15 08:00:00 GMT+01:00", datetime(2024, 1, 15, 7, tzinfo=UTC)),
        ("2024-01-15 08:00:00 +0100", datetime(2024, 1, 15, 7, tzinfo=UTC)),
    ],
)
def test_parse_amazon_datetime(text, expected):
    value = parse_amazon_datetime(text)
    assert value == expected
    assert value.tzinfo is UTC


def test_ambiguous_slash_dates_follow_dayfirst():
    assert parse_amazon_date("01/02/2024") == date(2024, 2, 1)
    assert parse_amazon_date("01/02/2024", dayfirst=False) == date(2024, 1, 2)


def test_posted_date_keeps_the_written_calendar_date():
    assert parse_amazon_date("2024-01-31T23:30:00-08:00") == date(2024, 1, 31)
    assert parse_amazon_datetime("2024-01-31T23:30:00-08:00") == datetime(
        2024, 2, 1, 7, 30, tzinfo=UTC
    )
    tz = timezone(timedelta(hours=-8))
    assert parse_amazon_datetime("2024-01-31T23:30:00-08:00") == datetime(
        2024, 1, 31, 23, 30, tzinfo=tz
    )


@pytest.mark.parametrize(
    "text", ["", "yesterday", "2024-13-01", "32.01.2024", "2024-01-15 08:00:00 XYZT", "15.01.2x"]
)
def test_parse_amazon_datetime_rejects(text):
    with pytest.raises(ValueError):
        parse_amazon_datetime(text)


def test_two_digit_years_as_excel_saves_them():
    assert parse_amazon_date("15.01.24") == date(2024, 1, 15)
    assert parse_amazon_date("09/06/25", dayfirst=True) == date(2025, 6, 9)
    assert parse_amazon_date("09/06/25", dayfirst=False) == date(2025, 9, 6)


def test_parse_int():
    assert parse_int("007") == 7
    assert parse_int("1.000") == 1000 or parse_int("1.000") == 1
    with pytest.raises(ValueError):
        parse_int("1.5")


def test_currency_places_and_rounding():
    assert decimals("JPY") == 0
    assert decimals("eur") == 2
    assert quantize(Decimal("100.5"), "JPY") == Decimal("101")
    assert quantize(Decimal("-0.005"), "EUR") == Decimal("-0.01")
    assert str(quantize(Decimal("3"), "USD")) == "3.00"


def test_iter_text_lines_mixed_line_endings():
    data = b"a\tb\r\nc\td\ne\tf\r"
    assert list(iter_text_lines(data)) == [(1, "a\tb"), (2, "c\td"), (3, "e\tf")]


def test_iter_text_lines_gzip_stream():
    data = gzip.compress(b"x\ty\n")
    assert list(iter_text_lines(io.BytesIO(data))) == [(1, "x\ty")]
