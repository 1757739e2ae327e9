"""Real Amazon files in every shape they come in (issue 15), read by the flat-file layer:
encodings decided by evidence (Windows-31J from Amazon.co.jp, Windows-1252, UTF-8 and its
BOMs), tab, comma and semicolon files with quoted values, and each way a date is written."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime

import pytest

from amazonsync.flatfiles.locale import MARKETPLACES, date_order, locale_by_code, locale_for
from amazonsync.flatfiles.reading import BLOCK_SIZE, ReportFormatError, iter_text_lines
from amazonsync.flatfiles.rows import FlatFile, typed
from amazonsync.flatfiles.syntax import AmbiguousDate, parse_amazon_date, parse_amazon_datetime
from amazonsync.flatfiles.values import ValueRefused, parse_date_in, window_until_now

HEADER = ["return-date", "order-id", "sku", "product-name", "ship-state", "quantity"]
# Titles and states as Amazon.co.jp lists them (full-width parentheses, long vowel marks).
JP_ROWS = [
    ["2025-03-15", "503-1234567-1234567", "JP-MUG-01",
     "アサヒ スーパードライ 350ml×24本（ケース販売）", "東京都", "1"],
    ["2025-03-16", "250-7654321-7654321", "ティー-02",
     "無印良品 ステンレス保温マグ・ホワイト", "大阪府", "2"],
    ["2025-03-17", "249-1111111-2222222", "JP-TOWEL", "今治タオル バスタオル 2枚セット",
     "北海道", "1"],
]


def tsv(rows, header=HEADER, sep="\t", newline="\n") -> str:
    return newline.join(sep.join(r) for r in [header, *rows]) + newline


def read_all(data, **kwargs) -> tuple[FlatFile, list[list[str]]]:
    flat = FlatFile(data, **kwargs)
    return flat, [values for _, values in flat.raw_rows()]


def refused(data, **kwargs) -> ReportFormatError:
    with pytest.raises(ReportFormatError) as info:
        read_all(data, **kwargs)
    return info.value


# --------------------------------------------------------------------------- encodings


def test_japanese_titles_in_windows_31j_read_right_with_the_marketplace_encoding(tmp_path):
    path = tmp_path / "fba-returns-jp.txt.gz"
    path.write_bytes(gzip.compress(tsv(JP_ROWS).encode("cp932")))
    flat, rows = read_all(path, encodings=(locale_for("Amazon.co.jp").legacy_encoding,))
    assert rows == JP_ROWS
    assert flat.header.names == tuple(HEADER)


def test_japanese_file_decided_by_evidence_when_the_marketplace_is_unknown():
    # "ー", "（" and "・" start with byte 0x81, which Windows-1252 does not define: only
    # Windows-31J reads the file, so it is read in Windows-31J (never as mojibake).
    data = tsv(JP_ROWS).encode("cp932")
    with pytest.raises(UnicodeDecodeError):
        data.decode("cp1252")
    _, rows = read_all(data)
    assert [r[3] for r in rows] == [r[3] for r in JP_ROWS]
    assert "ƒ" not in "".join(r[3] for r in rows)


def test_windows_1252_file_with_accents_and_pound_sign():
    rows = [["2025-03-15", "202-1234567-1234567", "CAFE-1", "Café au lait £12 été", "Île", "1"]]
    data = tsv(rows).encode("cp1252")
    assert read_all(data)[1] == rows  # "é " is not Windows-31J: only Windows-1252 reads it
    assert read_all(data, encodings=("cp1252",))[1] == rows


def test_a_file_two_encodings_read_differently_is_refused_naming_line_and_candidates():
    rows = [["2025-03-15", "202-1234567-1234567", "PLAIN", "Plain mug", "Kent", "1"],
            ["2025-03-16", "202-1234567-1234568", "CREME", "Crème brûlée set", "Kent", "1"]]
    data = tsv(rows).encode("cp1252")
    error = refused(data)
    assert error.line == 3
    for fragment in ("not UTF-8", "Windows-31J", "Windows-1252", "--encoding", "Crème"):
        assert fragment in str(error), str(error)
    # The marketplace (or a person) settles it.
    assert read_all(data, encodings=("cp1252",))[1] == rows
    assert read_all(data, encoding="cp1252")[1] == rows


def test_a_file_valid_in_no_candidate_is_refused_naming_the_line():
    data = b"sku\tproduct-name\nA\tok\nB\tbad \x81 byte\n"  # 0x81 then a space: neither
    error = refused(data)
    assert error.line == 3
    assert "Windows-31J" in str(error) and "Windows-1252" in str(error)
    error = refused(b"sku\tproduct-name\nA\tCaf\xe9 au lait\n", encodings=("cp932",))
    assert error.line == 2 and "Windows-31J" in str(error)


def test_a_later_block_not_in_the_decided_encoding_is_refused_with_its_line():
    row = "\t".join(JP_ROWS[0]) + "\n"
    count = BLOCK_SIZE // len(row.encode("cp932")) + 50  # past the first block
    data = (tsv([]) + row * count).encode("cp932") + b"x\t\xe9 \t\n"
    with pytest.raises(ReportFormatError) as info:
        list(iter_text_lines(data))
    assert info.value.line == count + 2
    assert "Windows-31J" in str(info.value) and "decided by line 2" in str(info.value)


def test_non_ascii_utf8_then_a_legacy_line_is_refused_as_mixed():
    data = "sku\tname\nA\tbière\n".encode() + "B\tbière\n".encode("cp1252")
    error = refused(data)
    assert error.line == 3 and "line 2" in str(error) and "mixes encodings" in str(error)


@pytest.mark.parametrize("encode", [
    lambda text: text.encode("utf-8"),
    lambda text: b"\xef\xbb\xbf" + text.encode("utf-8"),
    lambda text: text.encode("utf-16"),  # with its BOM, little or big endian
    lambda text: b"\xfe\xff" + text.encode("utf-16-be"),
    lambda text: b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"),
], ids=["utf8", "utf8-bom", "utf16", "utf16-be", "utf8-bom-crlf"])
def test_utf_variants_with_japanese_text(encode):
    flat, rows = read_all(encode(tsv(JP_ROWS)))
    assert flat.header.names[0] == "return-date"
    assert rows == JP_ROWS


def test_a_utf8_bom_then_bytes_that_are_not_utf8_is_refused():
    data = b"\xef\xbb\xbfsku\tname\nA\tok\nB\tCaf\xe9 \n"
    error = refused(data)
    assert error.line == 3 and "byte-order mark" in str(error)
    assert "byte-order mark" in str(refused(b"\xef\xbb\xbfsku\nA\n", encoding="cp932"))


# --------------------------------------------------------------------------- delimiters

CSV_HEADER = ["return-date", "order-id", "sku", "product-name", "quantity", "customer-comments"]


def test_seller_central_csv_with_quoted_values():
    text = (
        '"return-date","order-id","sku","product-name","quantity","customer-comments"\r\n'
        '2025-03-15T10:00:00+00:00,202-1234567-1234567,SKU-1,"Mug, 350 ml",1,'
        '"Said ""too small"", sent back"\r\n'
        "\r\n"
        '2025-03-16T10:00:00+00:00,202-1234567-1234568,SKU-2,Lamp,2,"Two lines:\r\nsecond"\r\n'
        "2025-03-17T10:00:00+00:00,202-1234567-1234569,SKU-3,Plain,1\r\n"
    )
    flat = FlatFile(b"\xef\xbb\xbf" + text.encode(), required=("order-id", "sku"))
    assert flat.delimiter == ","
    rows = list(flat.raw_rows())
    assert [line for line, _ in rows] == [2, 4, 6]
    assert rows[0][1][3] == "Mug, 350 ml"
    assert rows[0][1][5] == 'Said "too small", sent back'
    assert rows[1][1][5] == "Two lines:\nsecond"
    assert rows[2][1][5] == ""  # short rows are padded like tab files


def test_excel_semicolon_file_keeps_decimal_commas():
    text = tsv([["15.03.2025", "302-1234567-1234567", "SKU-1", '"Becher; 0,3 l"', "1",
                 "12,50"]], header=[*CSV_HEADER[:5], "amount"], sep=";")
    flat, rows = read_all(text.encode("cp1252"))
    assert flat.delimiter == ";"
    assert rows == [["15.03.2025", "302-1234567-1234567", "SKU-1", "Becher; 0,3 l", "1",
                     "12,50"]]


def test_tab_stays_the_default_even_with_commas_in_values():
    flat, rows = read_all(tsv([["2025-03-15", "1", "S", "Mug, blue", "Kent", "1"]]).encode())
    assert flat.delimiter == "\t" and rows[0][3] == "Mug, blue"


def test_an_ambiguous_header_is_refused_unless_the_required_columns_settle_it():
    data = b"sku;name,colour;qty\nA;B,C;1\n"
    error = refused(data)
    assert error.line == 1 and "commas and semicolons" in str(error)
    flat, rows = read_all(data, required=("sku", "name,colour", "qty"))
    assert flat.delimiter == ";" and rows == [["A", "B,C", "1"]]


def test_an_unclosed_quote_is_refused_naming_the_line_it_starts_on():
    error = refused(b'sku,name\nA,"never closed\nB,x\nC,y\n')
    assert error.line == 2 and "never closed" in str(error)


def test_a_comma_file_missing_required_columns_says_how_it_was_read():
    error = refused(b"settlement-id,total-amount\n1,2\n", required=("settlement-id", "currency"))
    assert "comma-separated" in str(error) and "not tab separated" in str(error)
    assert error.column == "currency"


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize("text, dayfirst, expected", [
    ("05/07/2025", True, date(2025, 7, 5)),  # Amazon.co.uk
    ("05.07.2025", True, date(2025, 7, 5)),  # Amazon.de
    ("05.07.2025 10:20:30 UTC", None, date(2025, 7, 5)),  # dots are always day first
    ("05/07/2025", False, date(2025, 5, 7)),  # Amazon.com
    ("13/07/2025", None, date(2025, 7, 13)),  # day > 12: no doubt
    ("07/13/2025", None, date(2025, 7, 13)),
    ("05/05/2025", None, date(2025, 5, 5)),  # same either way
    ("2025-07-05", None, date(2025, 7, 5)),
    ("2025/07/05", None, date(2025, 7, 5)),
    ("5 Jul 2025", None, date(2025, 7, 5)),
    ("Jul 5, 2025 10:00:00 AM PST", None, date(2025, 7, 5)),
    ("2019年3月15日", None, date(2019, 3, 15)),
    ("2019年3月15日 10:20:30", None, date(2019, 3, 15)),
    ("2019年03月05日(金)", None, date(2019, 3, 5)),
    ("09/06/25", True, date(2025, 6, 9)),  # re-saved by Excel
    ("09/06/25", False, date(2025, 9, 6)),
    ("25/06/25", None, date(2025, 6, 25)),
    ("09.06.25", None, date(2025, 6, 9)),
])
def test_each_date_shape(text, dayfirst, expected):
    assert parse_amazon_date(text, dayfirst=dayfirst) == expected
    assert parse_amazon_datetime(text, dayfirst=dayfirst).date() == expected


def test_japanese_date_and_time():
    assert parse_amazon_datetime("2019年3月15日 10:20:30") == datetime(2019, 3, 15, 10, 20, 30,
                                                                     tzinfo=UTC)
    assert parse_amazon_datetime("2019年3月15日 10:20:30 JST") == datetime(2019, 3, 15, 1, 20,
                                                                         30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["05/07/2025", "09/06/25", "01/02/2024 10:00:00"])
def test_an_ambiguous_date_with_no_known_order_is_refused(text):
    with pytest.raises(AmbiguousDate, match="ambiguous"):
        parse_amazon_date(text, dayfirst=None)
    with pytest.raises(AmbiguousDate, match="ambiguous"):
        parse_amazon_datetime(text, dayfirst=None)
    with pytest.raises(ValueError, match="ambiguous"):
        parse_date_in(text, window_until_now(), dayfirst=None)


def test_two_digit_years_more_than_a_year_ahead_are_refused(time_machine):
    time_machine.move_to(datetime(2025, 6, 1, tzinfo=UTC))
    assert parse_amazon_date("01/05/26", dayfirst=True) == date(2026, 5, 1)
    with pytest.raises(ValueError, match="two-digit year"):
        parse_amazon_date("01/07/26", dayfirst=True)
    with pytest.raises(ValueError, match="two-digit year"):
        parse_amazon_datetime("09/06/75", dayfirst=True)
    time_machine.move_to(datetime(2025, 8, 1, tzinfo=UTC))
    assert parse_amazon_date("01/07/26", dayfirst=True) == date(2026, 7, 1)  # not cached


def test_an_ambiguous_date_is_refused_naming_file_line_and_column(tmp_path):
    path = tmp_path / "returns.csv"
    path.write_text("return-date,sku\n13/07/2025,A\n05/07/2025,B\n")
    flat = FlatFile(path)
    window = window_until_now(datetime(2026, 1, 1, tzinfo=UTC))
    parse = lambda v: parse_date_in(v, window, dayfirst=None)  # noqa: E731
    rows = list(flat.rows())
    assert typed(rows[0], "return-date", parse, source=flat.source_name) == date(2025, 7, 13)
    with pytest.raises(ReportFormatError) as info:
        typed(rows[1], "return-date", parse, source=flat.source_name)
    assert (info.value.source, info.value.line, info.value.column) == (
        str(path), 3, "return-date")
    assert "ambiguous" in str(info.value)


# --------------------------------------------------------------------------- marketplaces


@pytest.mark.parametrize("text, code", [
    ("Amazon.co.uk", "GB"), ("amazon.co.jp", "JP"), ("Amazon.com", "US"),
    ("Amazon.de", "DE"), ("Amazon.ca", "CA"), ("Amazon.com.mx", "MX"),
    ("www.amazon.co.uk", "GB"), ("WWW.AMAZON.FR", "FR"), ("https://www.amazon.it/", "IT"),
    ("A1F83G8C2ARO7P", "GB"), ("A1VC38T7YXB528", "JP"), ("ATVPDKIKX0DER", "US"),
    ("UK", "GB"), ("gb", "GB"), ("JP", "JP"), (" Amazon.es ", "ES"),
    ("SI CA Prod Marketplace", "CA"),
])
def test_locale_for_every_way_a_file_names_its_marketplace(text, code):
    assert locale_for(text).code == code


@pytest.mark.parametrize("text", ["Non-Amazon", "non-amazon", "", "Amazon.example",
                                  "Amazon.co.uk.example", "XX"])
def test_locale_for_what_is_no_marketplace(text):
    assert locale_for(text) is None


def test_locale_facts():
    assert (MARKETPLACES["US"].dayfirst, MARKETPLACES["GB"].dayfirst,
            MARKETPLACES["DE"].dayfirst) == (False, True, True)
    assert MARKETPLACES["JP"].dayfirst is None and MARKETPLACES["CA"].dayfirst is None
    assert locale_by_code("JP").legacy_encoding == "cp932"
    assert {m.legacy_encoding for c, m in MARKETPLACES.items() if c != "JP"} == {"cp1252"}
    assert locale_by_code("UK") is MARKETPLACES["GB"]
    assert len({m.marketplace_id for m in MARKETPLACES.values()}) == len(MARKETPLACES)


def test_an_ambiguous_date_parses_under_its_rows_marketplace():
    for channel, expected in (("Amazon.co.uk", date(2025, 7, 5)),
                              ("Amazon.com", date(2025, 5, 7))):
        dayfirst = locale_for(channel).dayfirst
        assert parse_amazon_date("05/07/2025", dayfirst=dayfirst) == expected
    with pytest.raises(AmbiguousDate):
        parse_amazon_date("05/07/2025", dayfirst=locale_for("Amazon.ca").dayfirst)


def test_value_refused_is_a_value_error():
    assert issubclass(AmbiguousDate, ValueError) and issubclass(ValueRefused, ValueError)


def test_a_caller_that_names_the_separator_gets_that_one_or_a_refusal():
    flat, rows = read_all(b"a,b\n1,2\n", delimiter=",")
    assert flat.delimiter == "," and rows == [["1", "2"]]
    error = refused(b"a,b\n1,2\n", delimiter="\t")
    assert error.line == 1 and "not tab separated" in str(error) and "comma" in str(error)


def test_date_order_from_the_row_then_the_file_then_the_account():
    uk, us, ca = locale_for("Amazon.co.uk"), locale_for("Amazon.com"), locale_for("Amazon.ca")
    assert date_order(uk, None, us) is True  # a UK row in a file of an NA account
    assert date_order(locale_for("Non-Amazon"), uk, us) is True  # the file's marketplace
    assert date_order(None, None, us) is False
    assert date_order(ca, None, us) is None  # Amazon.ca settles nothing: refused, not US
    assert date_order(None, None, None) is None
    with pytest.raises(AmbiguousDate):
        parse_amazon_date("05/07/2025", dayfirst=date_order(ca, None, us))
