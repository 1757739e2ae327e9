"""Returns files in the shapes real sellers have them: numeric dates in the marketplace's
order (never guessed), Seller Central's .csv downloads, Excel-saved and Japanese dates,
Amazon.co.jp files in Windows-31J; through ``import_report`` as a new user would."""

from __future__ import annotations

import csv
import datetime
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from amazonsync.models import SyncException
from marketplaces.models import AccountMarketplace, Marketplace
from marketplaces.services import IMPORTED_FILES_ID
from returns.models import ReturnEvent
from returns.parsers import FBA_REPORT_TYPE, MFN_REPORT_TYPE
from returns.services import returns_import
from tests.returns.samples import FBA_HEADER, fba_file, fba_row, mfn_file, mfn_row

pytestmark = pytest.mark.django_db
UTC = datetime.UTC

JP_TITLES = ("竹製マグカップ（ブラウン、Mサイズ）", "ステンレス水筒 500ml ホワイト")


def run_import(path, *args, report_type=FBA_REPORT_TYPE):
    out = io.StringIO()
    call_command("import_report", "--type", report_type, str(path), "--json", *args,
                 stdout=out)
    return json.loads(out.getvalue())


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def csv_file(header, rows, *, delimiter=",", encoding="utf-8") -> bytes:
    """A report as Seller Central's .csv download writes it: every value quoted."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(c, "") for c in header])
    return out.getvalue().encode(encoding)


def dates():
    return {e.reference: e.return_date for e in ReturnEvent.objects.all()}


def test_numeric_dates_follow_the_file_marketplace_uk_day_first_us_month_first(tmp_path):
    uk = write(tmp_path, "uk.txt", fba_file(fba_row(**{"return-date": "05/07/2025"})))
    assert run_import(uk, "--marketplace", "GB")["created"] == 1
    us = write(tmp_path, "us.txt", fba_file(fba_row(**{"return-date": "05/07/2025",
                                                       "license-plate-number": "LPN2"})))
    assert run_import(us, "--marketplace", "US")["created"] == 1
    assert dates() == {"LPN0000000001": datetime.datetime(2025, 7, 5, tzinfo=UTC),
                       "LPN2": datetime.datetime(2025, 5, 7, tzinfo=UTC)}
    assert dict(ReturnEvent.objects.values_list("reference", "marketplace__code")) == {
        "LPN0000000001": "GB", "LPN2": "US"}
    # the Imported files account sells in both now: a file that does not say which is
    # refused row by row rather than read one way
    other = write(tmp_path, "other.txt", fba_file(fba_row(**{"return-date": "05/07/2025",
                                                             "license-plate-number": "LPN3"})))
    assert run_import(other)["exceptions"] == 1 and ReturnEvent.objects.count() == 2
    assert "ambiguous date '05/07/2025'" in SyncException.objects.get(
        reason_code="bad_row").message


def test_a_date_no_marketplace_settles_is_refused_naming_line_and_column(account,
                                                                         fba_listing):
    # the account sells in the US (month first) and Canada (both orders in use)
    data = fba_file(fba_row(**{"return-date": "05/07/2025"}),
                    fba_row(**{"return-date": "15/07/2025", "license-plate-number": "LPN2"}),
                    fba_row(**{"return-date": "07/07/2025", "license-plate-number": "LPN3"}))
    counts = returns_import(account=account, source=data, report_type=FBA_REPORT_TYPE,
                            name="returns.txt")
    assert (counts.created, counts.exceptions) == (2, 1)
    # 15/07 can only be day first, 07/07 reads the same either way: both stored
    assert dates() == {"LPN2": datetime.datetime(2025, 7, 15, tzinfo=UTC),
                       "LPN3": datetime.datetime(2025, 7, 7, tzinfo=UTC)}
    exc = SyncException.objects.get(reason_code="bad_row")
    assert exc.message.startswith("returns.txt line 2: ambiguous date '05/07/2025'")
    assert "(column 'return-date')" in exc.message and "not guessed" in exc.message
    assert exc.payload["row"]["return-date"] == "05/07/2025"  # kept raw
    assert (exc.payload["line"], exc.payload["column"]) == (2, "return-date")


def test_a_fresh_install_refuses_ambiguous_dates_but_reads_iso_ones(tmp_path):
    path = write(tmp_path, "fba.txt", fba_file(
        fba_row(**{"return-date": "05/07/2025"}),
        fba_row(**{"return-date": "2025-07-05", "license-plate-number": "LPN2"})))
    doc = run_import(path)
    assert (doc["rows"], doc["exceptions"]) == (2, 2)
    reasons = dict(SyncException.objects.values_list("reason_code", "payload__line"))
    assert reasons == {"bad_row": 2, "marketplace_unknown": 3}


def test_seller_central_csv_download_of_fba_returns(tmp_path):
    rows = [fba_row(**{"return-date": "05/07/2025", "product-name": 'Mug, "Bamboo", 350 ml',
                       "customer-comments": "Arrived chipped,\nsent back"}),
            fba_row(**{"return-date": "2025-07-06T09:30:00+01:00",
                       "license-plate-number": "LPN2", "detailed-disposition": "DEFECTIVE"})]
    path = write(tmp_path, "Customer Returns.csv", csv_file(FBA_HEADER, rows))
    doc = run_import(path, "--marketplace", "GB")
    assert (doc["rows"], doc["created"], doc["exceptions"]) == (2, 2, 0)
    first = ReturnEvent.objects.get(reference="LPN0000000001")
    assert first.product_name == 'Mug, "Bamboo", 350 ml'
    assert first.customer_comment == "Arrived chipped,\nsent back"
    assert first.return_date == datetime.datetime(2025, 7, 5, tzinfo=UTC)
    assert dates()["LPN2"] == datetime.datetime(2025, 7, 6, 8, 30, tzinfo=UTC)


def test_semicolon_separated_mfn_file_saved_by_excel(tmp_path):
    from tests.returns.samples import MFN_HEADER

    row = mfn_row(**{"Return request date": "09/06/25", "Currency code": "EUR",
                     "Order Amount": "1.234,50", "Refunded Amount": "1.234,50",
                     "Return delivery date": "12/06/25", "Item Name": "Lampe; Messing"})
    path = write(tmp_path, "retouren.csv", csv_file(MFN_HEADER, [row], delimiter=";",
                                                     encoding="cp1252"))
    doc = run_import(path, "--marketplace", "DE", report_type=MFN_REPORT_TYPE)
    assert (doc["created"], doc["exceptions"]) == (1, 0)
    event = ReturnEvent.objects.get()
    assert event.return_date == datetime.datetime(2025, 6, 9, tzinfo=UTC)
    assert event.received_at == datetime.date(2025, 6, 12)
    assert (event.refunded_amount, event.currency) == (Decimal("1234.50"), "EUR")
    assert event.product_name == "Lampe; Messing"


def test_excel_two_digit_years_and_japanese_dates(tmp_path):
    path = write(tmp_path, "fba.txt", fba_file(
        fba_row(**{"return-date": "09/06/25"}),
        fba_row(**{"return-date": "2019年3月15日", "license-plate-number": "LPN2"}),
        fba_row(**{"return-date": "2019年3月16日 10:20:30", "license-plate-number": "LPN3"})))
    doc = run_import(path, "--marketplace", "GB")
    assert (doc["created"], doc["exceptions"]) == (3, 0)
    assert dates() == {"LPN0000000001": datetime.datetime(2025, 6, 9, tzinfo=UTC),
                       "LPN2": datetime.datetime(2019, 3, 15, tzinfo=UTC),
                       "LPN3": datetime.datetime(2019, 3, 16, 10, 20, 30, tzinfo=UTC)}


def jp_rows():
    return [fba_row(**{"order-id": "503-1234567-1234567", "sku": "JP-MUG-1",
                       "return-date": "2026年9月10日", "product-name": JP_TITLES[0],
                       "customer-comments": "サイズが合わなかった",
                       "fulfillment-center-id": "NRT5"}),
            fba_row(**{"order-id": "503-1234567-7654321", "sku": "JP-BOTTLE-1",
                       "return-date": "2026/09/11 19:00:00 JST", "product-name": JP_TITLES[1],
                       "license-plate-number": "LPN2", "fulfillment-center-id": "NRT5"})]


def test_windows_31j_jp_returns_keep_their_japanese_text(tmp_path):
    path = write(tmp_path, "jp.txt", fba_file(*jp_rows(), encoding="cp932"))
    doc = run_import(path, "--marketplace", "JP")
    assert (doc["created"], doc["exceptions"]) == (2, 0)
    names = dict(ReturnEvent.objects.values_list("reference", "product_name"))
    assert names == {"LPN0000000001": JP_TITLES[0], "LPN2": JP_TITLES[1]}
    assert ReturnEvent.objects.get(reference="LPN0000000001").customer_comment == (
        "サイズが合わなかった")
    assert dates()["LPN2"] == datetime.datetime(2026, 9, 11, 10, tzinfo=UTC)
    assert set(ReturnEvent.objects.values_list("marketplace__code", flat=True)) == {"JP"}


def test_a_file_not_in_its_marketplace_encoding_is_refused_not_misread(tmp_path):
    # Windows-1252 German text said to be from Amazon.co.jp: not Windows-31J, refused
    german = fba_row(**{"product-name": "Tasse für Kaffee", "customer-comments": "Zu groß",
                        "license-plate-number": "LPN2"})
    path = write(tmp_path, "de.txt", fba_file(fba_row(), german, encoding="cp1252"))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_report", "--type", FBA_REPORT_TYPE, str(path), "--json",
                     "--marketplace", "JP", stdout=out)
    error = json.loads(out.getvalue())["errors"][0]["error"]
    assert "de.txt, line 3: this line is not UTF-8" in error
    assert "Windows-31J" in error
    assert not ReturnEvent.objects.exists()
    # said to be from Amazon.de it reads as it was written
    assert run_import(path, "--marketplace", "DE")["created"] == 2
    assert ReturnEvent.objects.get(customer_comment="Zu groß").product_name == (
        "Tasse für Kaffee")


def test_a_file_that_reads_two_ways_is_refused_unless_its_encoding_is_named(tmp_path):
    from catalog.models import Listing
    from marketplaces.services import account_for_import

    # an account selling in the US and Japan: a non-UTF-8 file may be in either encoding
    account = account_for_import(marketplace=Marketplace.objects.get(code="US"))
    account_for_import(marketplace=Marketplace.objects.get(code="JP"))
    Listing.objects.create(account=account, marketplace=Marketplace.objects.get(code="US"),
                           seller_sku="SKU-FBA-1", channel="FBA")
    # "Cafés" in Windows-1252 is "Caf駸" in Windows-31J: both decode, differently
    path = write(tmp_path, "fba.txt", fba_file(fba_row(**{"product-name": "Cafés"}),
                                               encoding="cp1252"))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_report", "--type", FBA_REPORT_TYPE, str(path), "--json",
                     stdout=out)
    error = json.loads(out.getvalue())["errors"][0]["error"]
    assert "fba.txt, line 2: this line is not UTF-8 and reads differently" in error
    assert "Caf駸" in error and "Cafés" in error and not ReturnEvent.objects.exists()
    with pytest.raises(CommandError, match="unknown encoding 'klingon'"):
        run_import(path, "--encoding", "klingon")
    assert run_import(path, "--encoding", "Windows-1252")["created"] == 1
    assert ReturnEvent.objects.get().product_name == "Cafés"


def test_rows_that_name_their_marketplace_are_read_and_filed_by_it(tmp_path):
    header = (*FBA_HEADER, "marketplace-name")
    rows = [fba_row(**{"return-date": "05/07/2025", "marketplace-name": "Amazon.co.uk"}),
            fba_row(**{"return-date": "05/07/2025", "marketplace-name": "Amazon.com",
                       "license-plate-number": "LPN2"}),
            fba_row(**{"return-date": "2025-07-05", "marketplace-name": "Amazon.moon",
                       "license-plate-number": "LPN3"})]
    path = write(tmp_path, "fba.txt", fba_file(*rows, header=header))
    doc = run_import(path)  # a fresh install, no --marketplace: the rows say
    assert (doc["created"], doc["exceptions"]) == (2, 1)
    stored = {e.reference: (e.marketplace.code, e.return_date)
              for e in ReturnEvent.objects.select_related("marketplace")}
    assert stored == {"LPN0000000001": ("GB", datetime.datetime(2025, 7, 5, tzinfo=UTC)),
                      "LPN2": ("US", datetime.datetime(2025, 5, 7, tzinfo=UTC))}
    exc = SyncException.objects.get(reason_code="bad_row")
    assert "line 4: not a marketplace Amazon has: 'Amazon.moon'" in exc.message
    assert "(column 'marketplace-name')" in exc.message
    imported = AccountMarketplace.objects.filter(account__selling_partner_id=IMPORTED_FILES_ID)
    assert sorted(imported.values_list("marketplace__code", flat=True)) == ["GB", "US"]
    assert Marketplace.objects.filter(code="GB").exists()


def test_mfn_amounts_with_currency_symbols_and_japanese_item_names(tmp_path):
    jp = mfn_row(**{"Order ID": "503-7654321-1234567", "Merchant SKU": "JP-LAMP-1",
                    "Item Name": "北欧風 デスクランプ（ホワイト）", "Currency code": "JPY",
                    "Return request date": "2026年9月12日", "Order Amount": "1,500円",
                    "Refunded Amount": "￥1,500", "Return delivery date": "2026/09/15"})
    path = write(tmp_path, "jp-mfn.txt", mfn_file(jp, encoding="cp932"))
    assert run_import(path, "--marketplace", "JP", report_type=MFN_REPORT_TYPE)["created"] == 1
    event = ReturnEvent.objects.get()
    assert event.product_name == "北欧風 デスクランプ（ホワイト）"
    assert (event.refunded_amount, event.currency) == (Decimal("1500"), "JPY")
    assert event.raw["order amount"] == "1,500円"  # read (a bad amount refuses the row)
    assert event.return_date == datetime.datetime(2026, 9, 12, tzinfo=UTC)
    assert event.received_at == datetime.date(2026, 9, 15)
    uk = mfn_row(**{"Order ID": "202-7654321-1234567", "Currency code": "GBP",
                    "Return request date": "12/09/2026", "Order Amount": "£12.00",
                    "Refunded Amount": "€12.00"})
    path = write(tmp_path, "uk-mfn.txt", mfn_file(uk))
    doc = run_import(path, "--marketplace", "GB", report_type=MFN_REPORT_TYPE)
    assert (doc["created"], doc["exceptions"]) == (0, 1)  # a euro amount in a GBP row
    exc = SyncException.objects.get(reason_code="bad_row")
    assert "line 2" in exc.message and "(column 'refunded amount')" in exc.message
