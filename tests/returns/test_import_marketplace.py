"""Returns files given by hand and the marketplace they come from: ``import_report
--marketplace``, a fresh install (no account selling anywhere), the "Imported files"
account learning where its files come from."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from amazonsync.models import SyncException
from marketplaces.models import AccountMarketplace, SellerAccount
from marketplaces.services import IMPORTED_FILES_ID
from returns.models import ReturnEvent
from returns.parsers import FBA_REPORT_TYPE, MFN_REPORT_TYPE
from tests.returns.samples import fba_file, fba_row, mfn_file, mfn_row

pytestmark = pytest.mark.django_db


def run_import(path, *args, report_type=FBA_REPORT_TYPE):
    out = io.StringIO()
    call_command("import_report", "--type", report_type, str(path), "--json", *args,
                 stdout=out)
    return json.loads(out.getvalue())


def imported_account():
    return SellerAccount.objects.get(selling_partner_id=IMPORTED_FILES_ID)


def sells_in(account):
    return sorted(AccountMarketplace.objects.filter(account=account)
                  .values_list("marketplace__code", flat=True))


def test_fresh_install_without_marketplace_says_the_account_sells_nowhere(tmp_path):
    path = tmp_path / "fba.txt"
    path.write_bytes(fba_file(fba_row(), fba_row(**{"license-plate-number": "LPN2"})))
    doc = run_import(path)
    assert (doc["rows"], doc["created"], doc["exceptions"]) == (2, 0, 2)
    assert not ReturnEvent.objects.exists()
    messages = set(SyncException.objects.filter(reason_code="marketplace_unknown")
                   .values_list("message", flat=True))
    assert messages == {
        "Return of order 111-0000001-0000001 (SKU SKU-FBA-1): cannot tell its marketplace: "
        "the account sells in no marketplace yet: import with --marketplace CODE or switch "
        "a marketplace on for it."}
    assert sells_in(imported_account()) == []


def test_fresh_install_with_marketplace_imports_and_the_account_sells_there(tmp_path):
    path = tmp_path / "fba.txt"
    path.write_bytes(fba_file(fba_row(), fba_row(**{"license-plate-number": "LPN2"})))
    doc = run_import(path, "--marketplace", "uk")
    assert (doc["rows"], doc["created"], doc["exceptions"]) == (2, 2, 0)
    assert set(ReturnEvent.objects.values_list("marketplace__code", flat=True)) == {"GB"}
    account = imported_account()
    assert sells_in(account) == ["GB"] and account.region == "EU" and not account.active
    # the account sells in GB now: the next GB file needs no --marketplace
    again = tmp_path / "mfn.txt"
    again.write_bytes(mfn_file(mfn_row(**{"Currency code": "GBP"})))
    doc = run_import(again, report_type=MFN_REPORT_TYPE)
    assert (doc["created"], doc["exceptions"]) == (1, 0)
    assert ReturnEvent.objects.get(channel="MFN").marketplace.code == "GB"


def test_rows_placed_otherwise_teach_the_imported_files_account(tmp_path):
    from catalog.models import Listing
    from marketplaces.models import Marketplace
    from marketplaces.services import account_for_import

    # the account sells nowhere, but a listing says where this SKU sells
    account = account_for_import()
    Listing.objects.create(account=account, marketplace=Marketplace.objects.get(code="DE"),
                           seller_sku="SKU-FBA-1", channel="FBA")
    path = tmp_path / "fba.txt"
    path.write_bytes(fba_file())
    doc = run_import(path)
    assert (doc["created"], doc["exceptions"]) == (1, 0)
    assert sells_in(imported_account()) == ["DE"] and imported_account().region == "EU"
    # a file said to be from GB adds GB; the region stays (it sold somewhere already)
    run_import(path, "--marketplace", "GB")
    assert sells_in(imported_account()) == ["DE", "GB"]


def test_an_unknown_marketplace_is_a_plain_error(tmp_path):
    path = tmp_path / "fba.txt"
    path.write_bytes(fba_file())
    with pytest.raises(CommandError, match=r"unknown marketplace 'XX'; known: AE, AU, BE"):
        call_command("import_report", "--type", FBA_REPORT_TYPE, str(path),
                     "--marketplace", "XX")
    assert not SellerAccount.objects.exists()


def test_a_real_account_must_already_sell_in_the_marketplace(account, tmp_path, rules):
    path = tmp_path / "fba.txt"
    path.write_bytes(fba_file())
    with pytest.raises(CommandError, match=r"A1TESTSELLER does not sell in GB \(it sells in "
                                           r"CA, US\): add GB to the account first"):
        call_command("import_report", "--type", FBA_REPORT_TYPE, str(path),
                     "--marketplace", "GB")
    assert sells_in(account) == ["CA", "US"] and not ReturnEvent.objects.exists()
    # in one it sells in: every row is filed there, even with a second one it sells in
    doc = run_import(path, "--marketplace", "CA")
    assert doc["created"] == 1
    assert ReturnEvent.objects.get().marketplace.code == "CA"


def test_the_several_marketplaces_wording_points_at_the_option(account, rules):
    from returns.services import returns_import

    returns_import(account=account, source=fba_file(fba_row(sku="NOWHERE")),
                   report_type=FBA_REPORT_TYPE, name="fba.txt")
    message = SyncException.objects.get(reason_code="marketplace_unknown").message
    assert "the account sells in several" in message
    assert "import the file with --marketplace CODE" in message
