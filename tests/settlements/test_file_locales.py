"""Settlement files as each marketplace writes them: numeric dates read in the order of the
row's own marketplace (then the file's, then the account's; refused with file, line and
column when none settles it), and Amazon.co.jp files in Windows-31J stored as the
Japanese they are, never as mojibake."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from amazonsync.flatfiles.reading import ReportFormatError
from marketplaces.models import Marketplace
from marketplaces.services import account_upsert
from settlements.models import Settlement, SettlementLine
from settlements.parsers import line_rows, parse_settlement
from settlements.parsers.report import FileLocale
from settlements.services import settlement_import
from tests.settlements.settlement_samples import settlement_file

TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
pytestmark = pytest.mark.django_db

UK_LINES = [
    {"transaction-type": "Order", "amount-type": "ItemPrice", "amount-description": "Principal",
     "amount": "24.99", "posted-date": "01/07/2025", "order-id": "202-1234567-1234567",
     "sku": "MUG-BLUE", "quantity-purchased": "1"},
    {"transaction-type": "Order", "amount-type": "ItemFees", "amount-description": "Commission",
     "amount": "-3.75", "posted-date": "01/07/2025", "order-id": "202-1234567-1234567",
     "sku": "MUG-BLUE"},
    {"transaction-type": "Refund", "amount-type": "ItemPrice", "amount-description": "Principal",
     "amount": "-12.00", "posted-date": "03/07/2025", "order-id": "202-7654321-7654321",
     "sku": "MUG-RED", "posted-date-time": "03/07/2025 14:05:09 UTC"},
]
UK_SUMMARY = {"start": "21/06/2025 08:00:00 UTC", "end": "05/07/2025 08:00:00 UTC",
              "deposit": "07/07/2025 08:00:00 UTC"}


def uk_file(lines=UK_LINES, marketplace="Amazon.co.uk") -> bytes:
    return settlement_file(lines, settlement_id="24681357900", currency="GBP",
                           marketplace=marketplace, **UK_SUMMARY)


def run(*args):
    out = io.StringIO()
    call_command("import_report", "--type", TYPE, *args, "--json", stdout=out,
                 stderr=io.StringIO())
    return json.loads(out.getvalue())


def test_uk_settlement_with_numeric_dates_through_import_report(account, tmp_path):
    """The account sells in the US (month first) and Canada (no order): the rows say
    Amazon.co.uk, so 05/07/2025 is 5 July, for the lines and for the summary row (which
    names no marketplace: the file's rows do)."""
    path = tmp_path / "uk-settlement.txt"
    path.write_bytes(uk_file())
    doc = run(str(path))["settlements"][0]
    assert doc["total_amount"] == "9.24" and doc["drift"] == "0.00"
    s = Settlement.objects.get(settlement_id="24681357900")
    assert s.start_date == datetime(2025, 6, 21, 8, tzinfo=UTC)
    assert s.end_date == datetime(2025, 7, 5, 8, tzinfo=UTC)
    assert s.deposit_date == datetime(2025, 7, 7, 8, tzinfo=UTC)
    assert s.marketplace.code == "GB"
    lines = list(SettlementLine.objects.filter(settlement=s).order_by("line_number"))
    assert [x.posted_date for x in lines] == [date(2025, 7, 1), date(2025, 7, 1),
                                              date(2025, 7, 3)]
    assert lines[2].posted_date_time == datetime(2025, 7, 3, 14, 5, 9, tzinfo=UTC)


def test_each_row_in_its_own_marketplace_order_on_both_paths():
    """Rows of two marketplaces with the same text: Amazon.co.uk reads 04/07/2025 as
    4 July, Amazon.com as 7 April; the fast way (each text converted once) agrees with
    the full conversion, line by line."""
    lines = []
    for n in range(6):
        market = "Amazon.co.uk" if n % 2 else "Amazon.com"
        lines.append({"transaction-type": "Order", "amount-type": "ItemPrice",
                      "amount-description": "Principal", "amount": "10.00",
                      "posted-date": "04/07/2025", "posted-date-time": "04/07/2025 10:00:00 UTC",
                      "order-id": f"202-1234567-000000{n}", "marketplace-name": market,
                      "quantity-purchased": "1"})
    data = settlement_file(lines, settlement_id="24681357901", currency="GBP",
                           marketplace="", **UK_SUMMARY)
    gb = FileLocale(marketplace="GB", dayfirst=True)  # the summary row: imported for GB
    full = list(parse_settlement(data, locale=gb).lines())
    expected = [date(2025, 7, 4) if x.marketplace_name == "Amazon.co.uk" else date(2025, 4, 7)
                for x in full]
    assert [x.posted_date for x in full] == expected
    fast = [row for rows, _ in line_rows(parse_settlement(data, locale=gb)) for row in rows]
    assert [row[11] for row in fast] == expected  # LINE_FIELDS: posted_date
    assert [row[12].date() for row in fast] == expected


def test_a_date_nothing_settles_is_refused_with_file_line_and_column(account, tmp_path):
    """No row names a marketplace and the account's marketplaces disagree (US month
    first, Canada either): 05/07/2025 is refused, naming the file, line and column;
    ``--marketplace GB`` says where the file comes from and it imports."""
    unnamed = [dict(x, **{"posted-date": "13/07/2025"}) for x in UK_LINES[:2]]
    path = tmp_path / "unnamed.txt"
    path.write_bytes(uk_file(unnamed, marketplace=""))
    with pytest.raises(CommandError):
        run(str(path))
    with pytest.raises(ReportFormatError) as refused:
        settlement_import(account=account, source=path, name="unnamed.txt")
    assert refused.value.source == "unnamed.txt"
    # 21/06/2025 can only be 21 June; 05/07/2025 is refused, not guessed
    assert (refused.value.line, refused.value.column) == (2, "settlement-end-date")
    assert "ambiguous date '05/07/2025 08:00:00 UTC'" in str(refused.value)
    assert not Settlement.objects.exists()
    # An account that sells only in Germany settles it (day first) ...
    de = account_upsert(selling_partner_id="A2DESELLER", name="DE seller", region="EU",
                        marketplace_codes=["DE"])
    s = settlement_import(account=de, source=path, name="unnamed.txt").settlement
    assert s.end_date == datetime(2025, 7, 5, 8, tzinfo=UTC)
    # ... and so does the file's marketplace, given.
    s2 = settlement_import(account=account, source=path, name="unnamed.txt",
                           marketplace=Marketplace.objects.get(code="GB")).settlement
    assert s2.end_date == s.end_date


JP_TITLE = "ステンレス水筒 500ml 保温保冷"
JP_LINES = [
    {"transaction-type": "Order", "amount-type": "ItemPrice", "amount-description": "Principal",
     "amount": "2980", "posted-date": "2025年7月1日", "order-id": "503-1234567-1234567",
     "sku": "水筒-500-黒", "quantity-purchased": "1",
     "promotion-id": "タイムセール祭り"},
    {"transaction-type": "Order", "amount-type": "ItemFees", "amount-description": "Commission",
     "amount": "-447", "posted-date": "2025/07/01", "order-id": "503-1234567-1234567",
     "sku": "水筒-500-黒"},
    {"transaction-type": "other-transaction", "amount-type": "other-transaction",
     "amount-description": "在庫保管手数料", "amount": "-1,250", "posted-date": "2025/07/03"},
    {"transaction-type": "other-transaction", "amount-type": "other-transaction",
     "amount-description": JP_TITLE, "amount": "￥1,500", "posted-date": "2025/07/04"},
]


def jp_file() -> bytes:
    return settlement_file(JP_LINES, settlement_id="13572468000", currency="JPY",
                           marketplace="Amazon.co.jp", total="2783",
                           start="2025/06/21 17:00:00 JST", end="2025/07/05 17:00:00 JST",
                           deposit="2025/07/07 17:00:00 JST", encoding="cp932")


def test_jp_settlement_in_windows_31j_with_japanese_text(tmp_path):
    data = jp_file()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    path = tmp_path / "jp-settlement.txt"
    path.write_bytes(data)
    doc = run(str(path), "--marketplace", "JP")["settlements"][0]
    assert doc["currency"] == "JPY" and doc["total_amount"] == "2783" and doc["drift"] == "0"
    s = Settlement.objects.get(settlement_id="13572468000")
    assert s.start_date == datetime(2025, 6, 21, 8, tzinfo=UTC)
    lines = list(SettlementLine.objects.filter(settlement=s).order_by("line_number"))
    assert lines[0].sku == "水筒-500-黒" and lines[0].promotion_id == "タイムセール祭り"
    assert lines[0].posted_date == date(2025, 7, 1)
    assert lines[2].amount_description == "在庫保管手数料"
    assert lines[2].amount == Decimal("-1250")
    assert lines[3].amount_description == JP_TITLE and lines[3].amount == Decimal("1500")


def test_jp_file_for_an_account_that_sells_in_japan():
    jp = account_upsert(selling_partner_id="A3JPSELLER", name="JP seller", region="FE",
                        marketplace_codes=["JP"])
    s = settlement_import(account=jp, source=jp_file(), name="jp.txt").settlement
    assert s.lines.get(line_number=6).amount_description == JP_TITLE


def test_jp_file_said_to_be_western_is_refused_with_its_line(account):
    """An account selling only in North America: its files may be in Windows-1252 alone,
    which cannot read these bytes: refused with the line, nothing stored."""
    with pytest.raises(ReportFormatError) as refused:
        settlement_import(account=account, source=jp_file(), name="jp.txt")
    assert refused.value.line == 3 and refused.value.source == "jp.txt"
    assert "Windows-1252" in str(refused.value)
    assert not Settlement.objects.exists()


def test_file_locale_of_an_account_and_a_marketplace(account):
    from settlements.selectors import settlement_file_locale

    assert settlement_file_locale(account=account) == FileLocale(
        encodings=("cp1252",), account_dayfirst=None)
    jp = Marketplace.objects.get(code="JP")
    assert settlement_file_locale(account=account, marketplace=jp, encoding="cp932") == (
        FileLocale(encodings=("cp932",), encoding="cp932", marketplace="JP", dayfirst=None))
    gb = Marketplace.objects.get(code="GB")
    assert settlement_file_locale(account=account, marketplace=gb).dayfirst is True


def test_a_canadian_row_is_not_read_in_the_order_of_the_account(tmp_path):
    """Amazon.ca writes both orders: its row's 05/07/2025 is refused even for an account
    that sells only in the US (month first), naming the file, line and column."""
    us = account_upsert(selling_partner_id="A4USSELLER", name="US seller", region="NA",
                        marketplace_codes=["US"])
    lines = [dict(UK_LINES[0], **{"posted-date": "05/07/2025"})]
    data = settlement_file(lines, settlement_id="24681357902", currency="CAD",
                           marketplace="Amazon.ca", start="2025-06-21T08:00:00+00:00",
                           end="2025-07-05T08:00:00+00:00", deposit="2025-07-07T08:00:00+00:00")
    with pytest.raises(ReportFormatError) as refused:
        settlement_import(account=us, source=data, name="ca.txt")
    assert (refused.value.source, refused.value.line, refused.value.column) == (
        "ca.txt", 3, "posted-date")
    assert not Settlement.objects.exists()
    lines[0]["marketplace-name"] = ""  # a row that names no marketplace: the account's
    data = settlement_file(lines, settlement_id="24681357902", currency="CAD",
                           marketplace="", start="2025-06-21T08:00:00+00:00",
                           end="2025-07-05T08:00:00+00:00", deposit="2025-07-07T08:00:00+00:00")
    s = settlement_import(account=us, source=data, name="ca.txt").settlement
    assert s.lines.get().posted_date == date(2025, 5, 7)
