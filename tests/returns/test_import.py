"""Importing returns: idempotent upsert on the natural key, status updates on the same row,
bad rows kept raw in the queue, unmapped SKUs discovered, and ``import_report --json``."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from amazonsync.models import SyncException
from catalog.models import FbaStock, Item, Listing
from catalog.services import UNMAPPED_SKU, WAITING_ON_MAPPING, listing_map
from returns.models import InventoryAdjustment, ReturnEvent
from returns.parsers import FBA_REPORT_TYPE, MFN_REPORT_TYPE
from returns.services import returns_import
from tests.returns.samples import fba_file, fba_row, mfn_file, mfn_row

pytestmark = pytest.mark.django_db


def fba_import(account, data, marketplace=None):
    return returns_import(account=account, source=data, report_type=FBA_REPORT_TYPE,
                          marketplace=marketplace, name="fba.txt")


def test_import_stores_returns_with_listing_item_and_raw_row(account, us, fba_listing):
    counts = fba_import(account, fba_file(fba_row(), fba_row(**{
        "license-plate-number": "LPN2", "detailed-disposition": "CUSTOMER_DAMAGED"})))
    assert (counts.rows, counts.created, counts.updated, counts.unchanged,
            counts.exceptions) == (2, 2, 0, 0, 0)
    event = ReturnEvent.objects.get(reference="LPN0000000001")
    assert event.channel == "FBA" and event.marketplace == us
    assert event.listing == fba_listing and event.item == fba_listing.item
    assert event.raw["order-id"] == "111-0000001-0000001"
    assert event.report_type == FBA_REPORT_TYPE and event.source == "fba.txt"


def test_importing_twice_changes_nothing(account, us, fba_listing):
    data = fba_file(fba_row(), fba_row(**{"license-plate-number": "LPN2"}))
    fba_import(account, data)
    stock = FbaStock.objects.get(listing=fba_listing)
    snapshot = list(ReturnEvent.objects.values())
    adjustments = list(InventoryAdjustment.objects.values())
    counts = fba_import(account, data)
    assert (counts.created, counts.updated, counts.unchanged) == (0, 0, 2)
    assert list(ReturnEvent.objects.values()) == snapshot
    assert list(InventoryAdjustment.objects.values()) == adjustments
    stock2 = FbaStock.objects.get(listing=fba_listing)
    assert (stock2.fulfillable, stock2.unfulfillable) == (stock.fulfillable, stock.unfulfillable)


def test_a_status_change_updates_the_same_row(account, us, fba_listing):
    fba_import(account, fba_file(fba_row(**{"detailed-disposition": "CARRIER_DAMAGED",
                                            "status": "Unit returned to inventory"})))
    counts = fba_import(account, fba_file(fba_row(**{"detailed-disposition": "CARRIER_DAMAGED",
                                                     "status": "Reimbursed"})))
    assert (counts.created, counts.updated) == (0, 1)
    event = ReturnEvent.objects.get()
    assert event.status == "Reimbursed" and event.raw["status"] == "Reimbursed"
    assert InventoryAdjustment.objects.count() == 1


def test_natural_key_is_unique_in_the_database(account, us, fba_listing):
    from django.db import IntegrityError, transaction

    fba_import(account, fba_file())
    event = ReturnEvent.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        ReturnEvent.objects.create(
            account=account, marketplace=us, channel="FBA", order_id=event.order_id,
            seller_sku=event.seller_sku, reference=event.reference,
            return_date=event.return_date, disposition=event.disposition, quantity=1,
            report_type=FBA_REPORT_TYPE,
        )


def test_same_order_sku_with_two_dispositions_are_two_returns(account, us, fba_listing):
    counts = fba_import(account, fba_file(fba_row(), fba_row(**{
        "detailed-disposition": "DEFECTIVE"})))
    assert counts.created == 2


def test_bad_rows_become_exceptions_with_the_raw_row_kept(account, us, fba_listing):
    counts = fba_import(account, fba_file(fba_row(quantity="lots"), fba_row()))
    assert (counts.rows, counts.created, counts.exceptions) == (2, 1, 1)
    exc = SyncException.objects.get(reason_code="bad_row")
    assert exc.flow == "returns" and exc.owner_team == "ops"
    assert exc.payload["row"]["quantity"] == "lots"
    assert exc.payload["report_type"] == FBA_REPORT_TYPE
    assert "line 2" in exc.message and "quantity" in exc.message
    # the same bad row again: the same exception, one more occurrence
    fba_import(account, fba_file(fba_row(quantity="lots")))
    exc.refresh_from_db()
    assert exc.occurrences == 2 and SyncException.objects.filter(reason_code="bad_row").count() == 1


def test_unmapped_sku_follows_the_discovery_path(account, us, rules):
    from amazonsync.services import exceptions_retry  # noqa: F401 - retried via listing_map

    counts = mfn_import(account, mfn_file(mfn_row(**{"Merchant SKU": "NEW-SKU"})), us)
    assert counts.created == 1
    listing = Listing.objects.get(seller_sku="NEW-SKU")
    assert listing.item is None and listing.discovered_from == "returns"
    assert listing.channel == "MFN"
    assert SyncException.objects.filter(reason_code=UNMAPPED_SKU, status="open").exists()
    event = ReturnEvent.objects.get()
    assert event.listing == listing and event.item is None
    # ops inspect it: sellable, but the stock has nowhere to go until the SKU is mapped
    from returns.services import return_grade

    outcome = return_grade(return_event=event, disposition="SELLABLE")
    assert outcome.adjustment is None and outcome.pending == "waiting on mapping"
    waiting = SyncException.objects.get(reason_code=WAITING_ON_MAPPING)
    assert waiting.payload["listing_key"] == f"{account.selling_partner_id}/US/NEW-SKU"
    # merch maps the listing: the waiting return is applied to merchant stock
    item = Item.objects.create(sku="NEW-1", name="New thing")
    listing_map(listing=listing, item=item)
    waiting.refresh_from_db()
    assert waiting.status == "resolved"
    adjustment = InventoryAdjustment.objects.get()
    assert adjustment.item == item and adjustment.pool == "merchant_on_hand"
    assert item.merchant_stock.on_hand == 1
    assert ReturnEvent.objects.get().item == item


def mfn_import(account, data, marketplace=None):
    return returns_import(account=account, source=data, report_type=MFN_REPORT_TYPE,
                          marketplace=marketplace, name="mfn.txt")


def test_marketplace_is_worked_out_for_a_file_or_the_row_is_queued(account, us, rules):
    # the account sells in US and CA; nothing says where this order was
    counts = fba_import(account, fba_file(fba_row(sku="NOWHERE")))
    assert counts.exceptions == 1 and not ReturnEvent.objects.exists()
    exc = SyncException.objects.get(reason_code="marketplace_unknown")
    assert exc.payload["row"]["sku"] == "NOWHERE"
    # once a listing says where the SKU sells, retrying the exception stores the return
    Listing.objects.create(account=account, marketplace=us, seller_sku="NOWHERE",
                           channel="FBA")
    from amazonsync.services import exceptions_retry

    outcome = exceptions_retry(exception_ids=[exc.pk])
    assert outcome.resolved == 1
    assert ReturnEvent.objects.get().marketplace == us


def test_mfn_currency_tells_the_marketplace(account, rules):
    mfn_import(account, mfn_file(mfn_row(**{"Currency code": "CAD", "Merchant SKU": "X-1",
                                            "Refunded Amount": "10.00"})))
    assert ReturnEvent.objects.get().marketplace.code == "CA"


def test_import_report_json_output_and_rerun(account, us, fba_listing, mfn_listing, tmp_path):
    fba = tmp_path / "fba.txt"
    fba.write_bytes(fba_file(fba_row(), fba_row(**{"license-plate-number": "LPN2"}),
                             fba_row(quantity="x")))
    out = io.StringIO()
    call_command("import_report", "--type", FBA_REPORT_TYPE, str(fba), "--json", stdout=out)
    doc = json.loads(out.getvalue())
    assert doc == {"report_type": FBA_REPORT_TYPE, "rows": 3, "created": 2, "updated": 0,
                   "unchanged": 0, "exceptions": 1}
    out = io.StringIO()
    call_command("import_report", "--type", FBA_REPORT_TYPE, str(fba), "--json",
                 "--account", account.selling_partner_id, stdout=out)
    assert json.loads(out.getvalue())["unchanged"] == 2
    mfn = tmp_path / "mfn.txt.gz"
    import gzip

    mfn.write_bytes(gzip.compress(mfn_file()))
    out = io.StringIO()
    call_command("import_report", "--type", MFN_REPORT_TYPE, str(mfn), "--json", stdout=out)
    assert json.loads(out.getvalue())["created"] == 1


def test_import_report_refuses_a_file_of_the_other_type(account, tmp_path):
    path = tmp_path / "mfn.txt"
    path.write_bytes(mfn_file())
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_report", "--type", FBA_REPORT_TYPE, str(path), "--json",
                     stdout=out)
    doc = json.loads(out.getvalue())
    assert doc["rows"] == 0 and "return-date" in doc["errors"][0]["error"]
