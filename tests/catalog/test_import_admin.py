"""CSV/XLSX import of listings and items through the real two-step admin views."""

from __future__ import annotations

import pytest
from django.urls import reverse

from amazonsync.models import SyncException
from catalog.models import Item, Listing
from catalog.services import WAITING_ON_MAPPING, listing_discover, listing_key

from .conftest import (
    HEADER,
    XLSX,
    confirm,
    csv_bytes,
    import_file,
    page_text,
    upload,
    xlsx_bytes,
)

pytestmark = pytest.mark.django_db

GOOD = (
    "A1TESTSELLER,US,MUG-US-MFN,MFN,B07XJ8C8F5,,new_new,,,MUG-1,19.99,USD,yes,2,40",
    "A1TESTSELLER,US,MUG-US-FBA,FBA,B07XJ8C8F5,X001ABCDEF,,,,MUG-1,21.50,,yes,0,",
    "A1TESTSELLER,CA,LAMP-CA,mfn,0306406152,,,,,LAMP-1,,,no,,",
)


@pytest.fixture
def ops(client, ops_user, account, items):
    client.force_login(ops_user)
    return client


def _state():
    return sorted(Listing.objects.values_list(
        "seller_sku", "marketplace__code", "channel", "asin", "item__sku", "price", "currency",
        "push_enabled", "buffer_quantity", "max_quantity", "updated_at"))


def test_good_csv_previews_then_imports_with_history(ops, ops_user):
    preview = upload(ops, csv_bytes(*GOOD))
    text = page_text(preview)
    assert "3 new, 0 changed, 0 unchanged" in text
    assert "MUG-US-MFN @ Amazon.com (US)" in text
    assert Listing.objects.count() == 0  # the preview wrote nothing
    done = confirm(ops, preview)
    assert done.status_code == 302
    listings = {x.seller_sku: x for x in Listing.objects.select_related("item", "marketplace")}
    assert set(listings) == {"MUG-US-MFN", "MUG-US-FBA", "LAMP-CA"}
    mfn = listings["MUG-US-MFN"]
    assert (mfn.channel, mfn.asin, mfn.item.sku, str(mfn.price), mfn.currency) == (
        "MFN", "B07XJ8C8F5", "MUG-1", "19.9900", "USD")
    assert (mfn.buffer_quantity, mfn.max_quantity, mfn.push_enabled) == (2, 40, True)
    assert listings["MUG-US-FBA"].currency == "USD"  # filled from the marketplace
    assert listings["LAMP-CA"].channel == "MFN" and not listings["LAMP-CA"].push_enabled
    assert listings["LAMP-CA"].asin == "0306406152"  # an ISBN-10 is an ASIN too
    history = mfn.history.all()
    assert history.count() == 1
    assert history[0].history_type == "+" and history[0].history_user == ops_user


def test_same_file_twice_changes_nothing(ops):
    content = csv_bytes(*GOOD)
    import_file(ops, content)
    before = _state()
    history = Listing.history.count()
    preview, done = import_file(ops, content)
    assert "0 new, 0 changed, 3 unchanged" in page_text(preview)
    assert "Confirming changes nothing" in page_text(preview)
    assert done.status_code == 302
    assert _state() == before
    assert Listing.history.count() == history


def test_changed_row_is_previewed_and_recorded_in_history(ops):
    import_file(ops, csv_bytes(*GOOD))
    changed = GOOD[0].replace("19.99", "17.49").replace(",2,40", ",5,40")
    preview, _ = import_file(ops, csv_bytes(changed, *GOOD[1:]))
    text = page_text(preview)
    assert "0 new, 1 changed, 2 unchanged" in text
    assert "price: 19.9900 → 17.49" in text
    assert "buffer_quantity: 2 → 5" in text
    mfn = Listing.objects.get(seller_sku="MUG-US-MFN")
    assert str(mfn.price) == "17.4900" and mfn.buffer_quantity == 5
    assert [h.history_type for h in mfn.history.order_by("history_id")] == ["+", "~"]
    assert mfn.history.earliest("history_id").price == mfn.history.earliest(
        "history_id").price  # the first version keeps the old price
    assert str(mfn.history.order_by("history_id").first().price) == "19.9900"


def test_import_writes_an_admin_log_entry_per_new_or_changed_row(ops, ops_user):
    from django.contrib.admin.models import ADDITION, CHANGE, LogEntry

    import_file(ops, csv_bytes(*GOOD))
    ids = dict(Listing.objects.values_list("seller_sku", "pk"))
    entries = {(e.object_id, e.object_repr, e.action_flag, e.change_message, e.user_id)
               for e in LogEntry.objects.filter(content_type__model="listing")}
    assert entries == {
        (str(ids["MUG-US-MFN"]), "MUG-US-MFN @ Amazon.com (US)", ADDITION,
         "new through import_export", ops_user.pk),
        (str(ids["MUG-US-FBA"]), "MUG-US-FBA @ Amazon.com (US)", ADDITION,
         "new through import_export", ops_user.pk),
        (str(ids["LAMP-CA"]), "LAMP-CA @ Amazon.ca (CA)", ADDITION,
         "new through import_export", ops_user.pk),
    }
    import_file(ops, csv_bytes(GOOD[0].replace("19.99", "17.49"), *GOOD[1:]))
    changed = LogEntry.objects.filter(action_flag=CHANGE)
    assert [(e.object_id, e.change_message) for e in changed] == [
        (str(ids["MUG-US-MFN"]), "update through import_export")]


def test_xlsx_imports_the_same_as_csv(ops):
    rows = [line.split(",") for line in GOOD]
    rows[0][14] = 40  # numbers come back from Excel as numbers
    preview, done = import_file(ops, xlsx_bytes(*rows), fmt=XLSX, name="listings.xlsx")
    assert "3 new" in page_text(preview)
    assert Listing.objects.get(seller_sku="MUG-US-MFN").max_quantity == 40


def test_headings_are_forgiving_about_case_and_spaces(ops):
    header = HEADER.replace("seller_sku", "Seller SKU").replace("marketplace", "Marketplace")
    _, done = import_file(ops, csv_bytes(GOOD[0], header=header))
    assert done.status_code == 302
    assert Listing.objects.filter(seller_sku="MUG-US-MFN").exists()


# --- every bad row is reported with line, column and reason; nothing is written ---------

BAD_ROWS = [
    ("unknown marketplace",
     "A1TESTSELLER,XX,SKU-1,MFN,,,,,,MUG-1,,,,,",
     'Line 2, column "marketplace": "XX" is not a marketplace we know'),
    ("unknown seller account",
     "A9NOBODY,US,SKU-1,MFN,,,,,,MUG-1,,,,,",
     'Line 2, column "seller_account": there is no seller account "A9NOBODY"'),
    ("unknown item SKU",
     "A1TESTSELLER,US,SKU-1,MFN,,,,,,NOPE-9,,,,,",
     'Line 2, column "item_sku": there is no item with internal SKU "NOPE-9"'),
    ("ASIN too short",
     "A1TESTSELLER,US,SKU-1,MFN,B07XJ8,,,,,MUG-1,,,,,",
     'Line 2, column "asin": "B07XJ8" is not an ASIN: an ASIN has exactly 10 characters'),
    ("ASIN not B0",
     "A1TESTSELLER,US,SKU-1,MFN,C07XJ8C8F5,,,,,MUG-1,,,,,",
     'Line 2, column "asin": "C07XJ8C8F5" is not an ASIN: an ASIN starts with B0'),
    ("ISBN-10 with a wrong check digit",
     "A1TESTSELLER,US,SKU-1,MFN,0306406153,,,,,MUG-1,,,,,",
     'Line 2, column "asin": "0306406153" looks like an ISBN-10 but its last (check) digit'),
    ("negative buffer",
     "A1TESTSELLER,US,SKU-1,MFN,,,,,,MUG-1,,,,-3,",
     'Line 2, column "buffer_quantity": buffer_quantity cannot be negative'),
    ("negative maximum",
     "A1TESTSELLER,US,SKU-1,MFN,,,,,,MUG-1,,,,,-1",
     'Line 2, column "max_quantity": max_quantity cannot be negative'),
    ("unknown channel",
     "A1TESTSELLER,US,SKU-1,DROPSHIP,,,,,,MUG-1,,,,,",
     'Line 2, column "channel": "DROPSHIP" is not a fulfilment channel; use FBA'),
    ("empty required field",
     "A1TESTSELLER,US,,MFN,,,,,,MUG-1,,,,,",
     'Line 2, column "seller_sku": The seller SKU is required but the cell is empty'),
    ("text in a number column",
     "A1TESTSELLER,US,SKU-1,MFN,,,,,,MUG-1,,,,ten,",
     'Line 2, column "buffer_quantity": "ten" is not a whole number'),
    ("text in the price column",
     "A1TESTSELLER,US,SKU-1,MFN,,,,,,MUG-1,12;99,,,,",
     'Line 2, column "price": "12;99" is not a number'),
]


@pytest.mark.parametrize("case,row,message", BAD_ROWS, ids=[c[0] for c in BAD_ROWS])
def test_bad_row_is_reported_and_nothing_is_written(ops, case, row, message):
    # the bad row is the second data row: line 3 of the file
    response = upload(ops, csv_bytes(GOOD[0], row))
    text = page_text(response)
    expected = message.replace("Line 2,", "Line 3,")
    assert expected in text, text[text.find("Nothing was imported"):][:800]
    assert "Nothing was imported: 1 row needs fixing" in text
    assert response.context.get("confirm_form") is None
    assert Listing.objects.count() == 0


def test_duplicate_key_within_the_file(ops):
    response = upload(ops, csv_bytes(GOOD[0], GOOD[1], GOOD[0].replace("19.99", "18.00")))
    text = page_text(response)
    assert ('Line 4, column "seller_sku": this seller account, marketplace and seller SKU are '
            "already on line 2") in text
    assert Listing.objects.count() == 0


def test_every_bad_row_is_reported_not_just_the_first(ops):
    rows = [GOOD[0]] + [row for _, row, _ in BAD_ROWS[:5]]
    rows = [r.replace("SKU-1", f"SKU-{n}") for n, r in enumerate(rows)]
    text = page_text(upload(ops, csv_bytes(*rows)))
    assert "Nothing was imported: 5 rows need fixing" in text
    for line in range(3, 8):
        assert f"Line {line}, column" in text
    assert Listing.objects.count() == 0


def test_several_problems_on_one_row_are_all_listed(ops):
    text = page_text(upload(ops, csv_bytes("A9NOBODY,XX,SKU-1,BOAT,B0SHORT,,,,,NOPE,abc,,,-1,")))
    for column in ("seller_account", "marketplace", "channel", "asin", "item_sku", "price",
                   "buffer_quantity"):
        assert f'Line 2, column "{column}"' in text


# --- files that cannot be read at all ----------------------------------------------------

def test_wrong_columns(ops):
    response = upload(ops, csv_bytes("A1TESTSELLER,US,SKU-1", header="account,mp,sellersku"))
    text = page_text(response)
    assert "The file's columns do not match the listings template" in text
    assert "missing column(s): seller_account, marketplace, seller_sku, channel" in text
    assert "column(s) we do not know: account, mp, sellersku" in text
    assert response.context.get("confirm_form") is None
    assert Listing.objects.count() == 0


def test_empty_file(ops):
    response = upload(ops, b"")
    assert "The file is empty" in page_text(response)
    assert Listing.objects.count() == 0


def test_headings_only(ops):
    response = upload(ops, csv_bytes())
    assert "The file has the column headings but no rows to import" in page_text(response)


def test_non_utf8_file(ops):
    content = csv_bytes(GOOD[0], "A1TESTSELLER,US,CAFÉ-1,MFN,,,,,,MUG-1,,,,,").decode()
    response = upload(ops, content.encode("cp1252"))
    text = page_text(response)
    assert "The file is not saved as UTF-8 text (line 3 has a character" in text
    assert "CSV UTF-8" in text
    assert Listing.objects.count() == 0


def test_not_a_workbook(ops):
    response = upload(ops, csv_bytes(*GOOD), fmt=XLSX, name="listings.xlsx")
    assert "The file is not an Excel .xlsx workbook" in page_text(response)


def test_xlsx_with_a_bad_row(ops):
    rows = [line.split(",") for line in GOOD]
    rows[2][1] = "ZZ"
    text = page_text(upload(ops, xlsx_bytes(*rows), fmt=XLSX, name="l.xlsx"))
    assert 'Line 4, column "marketplace": "ZZ" is not a marketplace we know' in text
    assert Listing.objects.count() == 0


def test_confirm_step_is_all_or_nothing_too(ops, items):
    """Data changed between preview and confirm: the confirm step refuses the whole file."""
    preview = upload(ops, csv_bytes(GOOD[0], GOOD[2]))
    assert preview.context["confirm_form"] is not None
    # the second row now refers to an item SKU that is gone
    Item.objects.filter(pk=items["LAMP-1"].pk).update(sku="LAMP-OLD")
    response = confirm(ops, preview)
    assert response.status_code == 400
    text = page_text(response)
    assert 'Line 3, column "item_sku": there is no item with internal SKU "LAMP-1"' in text
    assert Listing.objects.count() == 0


# --- permissions -------------------------------------------------------------------------

def test_only_catalog_staff_can_import(client, accounting_user, account, items):
    client.force_login(accounting_user)
    assert client.get(reverse("admin:catalog_listing_import")).status_code == 403
    assert upload(client, csv_bytes(*GOOD)).status_code == 403
    assert Listing.objects.count() == 0


def test_view_only_staff_cannot_import(client, django_user_model, account, items):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="x-pw-123456", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_listing"))
    client.force_login(user)
    assert client.get(reverse("admin:catalog_listing_changelist")).status_code == 200
    assert upload(client, csv_bytes(*GOOD)).status_code == 403


def test_superuser_can_import(client, superuser, account, items):
    client.force_login(superuser)
    _, done = import_file(client, csv_bytes(*GOOD))
    assert done.status_code == 302 and Listing.objects.count() == 3


# --- mapping by import resolves and retries ----------------------------------------------

def test_import_that_maps_resolves_the_merch_exception_and_retries_waiting(
        ops, account, django_capture_on_commit_callbacks):
    from amazonsync.services import exception_record, register_retry
    from marketplaces.models import Marketplace

    us = Marketplace.objects.get(code="US")
    listing = listing_discover(account=account, marketplace=us, seller_sku="MUG-US-MFN",
                               source="orders")
    assert listing.item_id is None
    key = listing_key(account=account, marketplace=us, seller_sku="MUG-US-MFN")
    waiting = exception_record(
        flow="orders", object_kind="test_waiting_line", object_key="111-1/MUG-US-MFN",
        reason_code=WAITING_ON_MAPPING, message="order line waits for the mapping",
        owner_team="merch", account=account, payload={"listing_key": key})
    retried = []

    @register_retry("test_waiting_line")
    def _retry(exc):
        retried.append(exc.pk)
        return True

    with django_capture_on_commit_callbacks(execute=True):
        import_file(ops, csv_bytes(*GOOD))
    listing.refresh_from_db()
    assert listing.item.sku == "MUG-1"
    unmapped = SyncException.objects.get(reason_code="unmapped_sku", object_key=key)
    assert unmapped.status == SyncException.Status.RESOLVED
    waiting.refresh_from_db()
    assert retried == [waiting.pk]
    assert waiting.status == SyncException.Status.RESOLVED


# --- items -------------------------------------------------------------------------------

ITEM_HEADER = "sku,name,barcode,unit_cost,cost_currency,active"


def test_items_import_and_reimport(ops):
    content = csv_bytes("NEW-1,New thing,4006381333931,3.20,EUR,yes", "NEW-2,Other,,,,no",
                        header=ITEM_HEADER)
    preview, done = import_file(ops, content, model="item", name="items.csv")
    assert "2 new" in page_text(preview)
    assert Item.objects.get(sku="NEW-1").cost_currency == "EUR"
    assert not Item.objects.get(sku="NEW-2").active
    preview, _ = import_file(ops, content, model="item", name="items.csv")
    assert "0 new, 0 changed, 2 unchanged" in page_text(preview)


def test_items_bad_rows(ops):
    content = csv_bytes("NEW-1,,,abc,EUR,maybe", "NEW-1,Dup,,1.00,,", header=ITEM_HEADER)
    text = page_text(upload(ops, content, model="item", name="items.csv"))
    assert 'Line 2, column "name": The name is required but the cell is empty' in text
    assert 'Line 2, column "unit_cost": "abc" is not a number' in text
    assert 'Line 2, column "active": "maybe" is not yes or no' in text
    assert 'Line 3, column "sku": this internal SKU is already on line 2' in text
    assert 'Line 3, column "cost_currency": a unit cost needs a currency' in text
    assert not Item.objects.filter(sku="NEW-1").exists()


def test_a_file_over_one_write_batch_logs_each_row_with_its_id(
        ops, monkeypatch, django_capture_on_commit_callbacks):
    """import-export writes every 1,000 queued rows: each new row's log entry still names
    its listing, changed rows flushed mid-file keep theirs, and every listing the file
    mapped (new, or stored unmapped) is reported once."""
    from django.contrib.admin.models import ADDITION, CHANGE, LogEntry

    def rows(n, item):
        return [f"A1TESTSELLER,US,BATCH-{i:05d},MFN,,,,,,{item},,,yes,0," for i in range(n)]

    import_file(ops, csv_bytes(*rows(1200, "")))
    unmapped = dict(Listing.objects.values_list("seller_sku", "pk"))
    assert len(unmapped) == 1200
    added = dict(LogEntry.objects.filter(action_flag=ADDITION).values_list(
        "object_repr", "object_id"))
    assert added == {f"{sku} @ Amazon.com (US)": str(pk) for sku, pk in unmapped.items()}
    new = [f"A1TESTSELLER,US,BATCH-NEW-{i:04d},MFN,,,,,,MUG-1,,,yes,0," for i in range(1100)]
    mapped = []
    monkeypatch.setattr("catalog.services.listings_mapping_applied",
                        lambda *, listing_ids, **_: mapped.append(listing_ids))
    with django_capture_on_commit_callbacks(execute=True):
        preview, _ = import_file(ops, csv_bytes(*rows(1200, "MUG-1"), *new))
    assert "1100 new, 1200 changed, 0 unchanged" in page_text(preview)
    ids = dict(Listing.objects.values_list("seller_sku", "pk"))
    changed = dict(LogEntry.objects.filter(action_flag=CHANGE).values_list(
        "object_id", "change_message"))
    assert changed == {str(pk): "update through import_export" for pk in unmapped.values()}
    added = dict(LogEntry.objects.filter(action_flag=ADDITION).values_list(
        "object_repr", "object_id"))
    assert added == {f"{sku} @ Amazon.com (US)": str(pk) for sku, pk in ids.items()}
    assert Listing.objects.filter(item__sku="MUG-1").count() == 2300
    assert len(mapped) == 1 and sorted(mapped[0]) == sorted(ids.values())
