"""Amounts with currency symbols, Amazon.co.jp files from the sandbox, and the rule that
every refusal of the flat-file layer names the file, the line and (for a value) the column
(issue 15)."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from amazonsync.flatfiles.reading import ReportFormatError
from amazonsync.flatfiles.rows import FlatFile, typed
from amazonsync.flatfiles.values import (
    ValueRefused,
    parse_date_in,
    parse_datetime_in,
    parse_money,
    parse_quantity,
    window_until_now,
)
from amazonsync.sandbox import World
from amazonsync.sandbox.reports import (
    all_orders_bytes,
    fba_returns_bytes,
    japanese_title,
    mfn_returns_bytes,
)
from amazonsync.sandbox.shapes import DAY

# --------------------------------------------------------------------------- amounts


@pytest.mark.parametrize("text, currency, expected", [
    ("¥1,500", "JPY", "1500"), ("￥1,500", "JPY", "1500"), ("1,500円", "JPY", "1500"),
    ("JPY 1,500", "JPY", "1500"), ("1,500 JPY", "JPY", "1500"), ("-¥1,500", "JPY", "-1500"),
    ("£12.00", "GBP", "12.00"), ("-£12.00", "GBP", "-12.00"), ("(£12.00)", "GBP", "-12.00"),
    ("£1,234.50", "GBP", "1234.50"),
    ("€12,50", "EUR", "12.50"), ("12,50 €", "EUR", "12.50"), ("-1.234,50 €", "EUR", "-1234.50"),
    ("EUR 12,50", "EUR", "12.50"),
    ("$3.99", "USD", "3.99"), ("US$3.99", "USD", "3.99"), ("$3.99", "CAD", "3.99"),
    ("CA$3.99", "CAD", "3.99"), ("C$3.99", "CAD", "3.99"), ("CDN$ 3.99", "CAD", "3.99"),
    ("MX$1,234.50", "MXN", "1234.50"), ("R$ 1.234,50", "BRL", "1234.50"),
    ("A$3.99", "AUD", "3.99"), ("£3.50", "", "3.50"),
])
def test_amounts_with_a_currency_symbol_that_agrees(text, currency, expected):
    assert parse_money(text, currency=currency) == Decimal(expected)


@pytest.mark.parametrize("text, currency, fragment", [
    ("£12.00", "EUR", "written in GBP but the amount is in EUR"),
    ("€12,50", "GBP", "written in EUR"),
    ("¥1,500", "USD", "written in CNY or JPY"),
    ("US$3.99", "CAD", "written in USD"),
    ("R$3,99", "USD", "written in BRL"),
    ("GBP 12.00", "EUR", "written in GBP"),
    ("$3.99", "", "may be"),  # a dollar of which country?
    ("¥1,500", "", "may be"),
    ("12 abc", "USD", "not an amount"),
    ("£1£2", "GBP", "not an amount"),
    ("1£2", "GBP", "not an amount"),
    ("¥4.99", "JPY", "has 2 decimals"),
    ("1.2e23", "USD", "no exponent"),
])
def test_amounts_with_a_symbol_that_contradicts_or_is_ambiguous_are_refused(
        text, currency, fragment):
    with pytest.raises(ValueRefused, match=fragment):
        parse_money(text, currency=currency)


# --------------------------------------------------------------------------- sandbox JP files

JP = "A1VC38T7YXB528"


def _jp_files(world: World) -> dict[str, bytes]:
    end = world.start
    return {
        "orders": all_orders_bytes(world, end - 60 * DAY, end, end, [JP]),
        "fba": fba_returns_bytes(world, end - 120 * DAY, end, end, [JP]),
        "mfn": mfn_returns_bytes(world, end - 120 * DAY, end, end, [JP]),
    }


def test_sandbox_reports_for_amazon_co_jp_are_windows_31j_in_japanese():
    files = _jp_files(World(seed=7, orders=600))
    titles = {"orders": "product-name", "fba": "product-name", "mfn": "item name"}
    for name, data in files.items():
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        flat = FlatFile(data, encodings=("cp932",))
        rows = list(flat.rows())
        assert rows, name
        expected = [line.split("\t") for line in data.decode("cp932").splitlines()[1:]]
        assert [r.values for r in rows] == expected
        assert all(any("\u30a0" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff"
                       for ch in r[titles[name]]) for r in rows), name
    states = {r["ship-state"] for r in FlatFile(files["orders"], encodings=("cp932",)).rows()}
    assert states <= {"東京都", "大阪府", ""} and states - {""}


def test_sandbox_jp_reports_without_a_marketplace_are_read_right_or_refused():
    """Without the marketplace's encoding the evidence decides: Windows-31J when a byte of
    the file is not Windows-1252 (0x81 starts ー, （ and 、), else the file is refused
    naming the candidates. Never mojibake."""
    outcomes = set()
    for seed in (1, 2, 3, 7):
        for data in _jp_files(World(seed=seed)).values():
            try:
                rows = [r.values for r in FlatFile(data).rows()]
            except ReportFormatError as exc:
                assert "Windows-31J" in str(exc) and "Windows-1252" in str(exc)
                outcomes.add("refused")
            else:
                assert rows == [line.split("\t")
                                for line in data.decode("cp932").splitlines()[1:]]
                outcomes.add("read")
    assert outcomes == {"read", "refused"}


def test_other_sandbox_reports_stay_utf8_and_english():
    world = World(seed=7, orders=300)
    end = world.start
    data = all_orders_bytes(world, end - 60 * DAY, end, end)
    text = data.decode("utf-8")
    assert "Amazon.co.jp" in text and "マグ" not in text and "Tokyo" in text


def test_japanese_title():
    assert (japanese_title("Classic Mug, Black, Small")
            == "クラシック マグカップ（ブラック、Sサイズ）")
    assert japanese_title("Eco Water Bottle Bundle") == "エコ 水筒 セット"


# --------------------------------------------------------------------------- every refusal

NOW = datetime(2025, 6, 1, tzinfo=UTC)
WINDOW = window_until_now(NOW)
PARSERS = {
    "date": lambda v: parse_date_in(v, WINDOW, dayfirst=None),
    "time": lambda v: parse_datetime_in(v, WINDOW, dayfirst=True),
    "amount": lambda v: parse_money(v, currency="EUR"),
    "qty": parse_quantity,
}
GOOD = {"date": "2025-03-15", "time": "15/03/2025 10:00:00", "amount": "€12,50", "qty": "1"}
BAD_VALUES = [
    ("date", "05/07/2025"), ("date", "09/06/25"), ("date", "2019年13月1日"),
    ("date", "2030-01-01"), ("time", "09/06/75"), ("time", "32/01/2025"),
    ("amount", "£12.00"), ("amount", "€4.9999"), ("amount", "$1"), ("amount", "1.2e3"),
    ("qty", "1,000"), ("qty", "¥5"),
]


def _file(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("sep", ["\t", ",", ";"])
@pytest.mark.parametrize("column, bad", BAD_VALUES)
def test_every_value_refusal_names_file_line_and_column(tmp_path, sep, column, bad):
    columns = list(PARSERS)
    good = [GOOD[c] for c in columns]
    bad_row = [bad if c == column else GOOD[c] for c in columns]
    quote = (lambda v: f'"{v}"') if sep != "\t" else (lambda v: v)
    lines = [sep.join(columns)] + [sep.join(map(quote, r)) for r in (good, good, bad_row)]
    path = _file(tmp_path, "report.csv", ("\r\n".join(lines) + "\r\n").encode("cp1252", "ignore")
                 if "¥" not in bad else ("\n".join(lines) + "\n").encode())
    flat = FlatFile(path)
    errors = []
    for row in flat.rows():
        for c in columns:
            try:
                typed(row, c, PARSERS[c], source=flat.source_name)
            except ReportFormatError as exc:
                errors.append(exc)
    assert len(errors) == 1, [str(e) for e in errors]
    error = errors[0]
    assert (error.source, error.line, error.column) == (str(path), 4, column)
    assert str(path) in str(error) and "line 4" in str(error) and f"'{column}'" in str(error)


FILE_REFUSALS = [
    b"",  # empty
    b"\n\n",
    b"a\tb\n1\t\x81 x\n",  # in no encoding
    b"a\tb\nplain\tx\nCr\xe8me\tx\n",  # two encodings, two readings
    b"a\tb\nx\tbi\xc3\xa8re\ny\tbi\xe8re \n",  # UTF-8 then Windows-1252
    b"\xef\xbb\xbfa\tb\nx\tCaf\xe9 \n",  # a BOM, then not UTF-8
    b"a;b,c\n1;2,3\n",  # ambiguous separators
    b'a,b\n1,"unclosed\n2,3\n',  # unclosed quote
    b'a,b\n1,"x"y\n',  # a quote inside a value
    b"a,b\n1,2,3\n",  # more values than the header
    b"a\ta\n1\t2\n",  # a column named twice
    b"<?xml version='1.0'?><a/>\n",
    b"PK\x03\x04" + bytes(50),
    b"a\tb\n\x01\x02\x03\x8f\x90\n",  # binary without NUL bytes
    gzip.compress(b"".join(b"a\tb\n%d\t%d\n" % (i, i * 7) for i in range(5000)))[:3000],
]


@pytest.mark.parametrize("data", FILE_REFUSALS)
def test_every_file_refusal_names_file_and_line(tmp_path, data):
    path = _file(tmp_path, "report.txt", data)
    with pytest.raises(ReportFormatError) as info:
        flat = FlatFile(path, required=("a", "b"))
        for _ in flat.rows():
            pass
    assert info.value.source == str(path)
    assert info.value.line is not None and info.value.line >= 1
    assert f"line {info.value.line}" in str(info.value)


def test_a_missing_required_column_names_file_line_and_column(tmp_path):
    path = _file(tmp_path, "report.txt", b"a\tc\n1\t2\n")
    with pytest.raises(ReportFormatError) as info:
        FlatFile(path, required=("a", "b"))
    assert (info.value.source, info.value.line, info.value.column) == (str(path), 1, "b")
