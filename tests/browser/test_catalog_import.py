"""Ops imports a listings CSV in a real browser: a bad row is refused with its line and
column and nothing is written; the fixed file previews, imports, and the list shows the
new listings with their marketplace by name and their price as money."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-pass-123"
HEADER = ("seller_account,marketplace,seller_sku,channel,asin,fnsku,condition,parent_asin,"
          "product_type,item_sku,price,currency,push_enabled,buffer_quantity,max_quantity")
GOOD = "A1TESTSELLER,US,MUG-US,MFN,B07XJ8C8F5,,new_new,,,MUG-1,1234.5,USD,yes,1,"
BAD = "A1TESTSELLER,CA,LAMP-CA,MFN,B07XJ8C8F6,,new_new,,,NO-SUCH-ITEM,9.99,CAD,yes,0,"


def _login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("form [type=submit]")


def _upload(page, path, rows):
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    page.set_input_files("input[name=import_file]", str(path))
    page.select_option("select[name=format]", label="csv")
    with page.expect_navigation():
        page.click("#catalog-import form button[type=submit]")


def test_import_with_a_bad_row_then_fixed(live_server, page, tmp_path, account,
                                          django_user_model):
    from catalog.models import Item, Listing

    user = django_user_model.objects.create_user(username="ops-import", password=PASSWORD,
                                                 is_staff=True)
    user.groups.add(Group.objects.get(name="Ops"))
    Item.objects.create(sku="MUG-1", name="Mug")
    Item.objects.create(sku="LAMP-1", name="Lamp")

    _login(page, live_server, "ops-import")
    page.goto(f"{live_server.url}/admin/catalog/listing/")
    with page.expect_navigation():
        page.click("a[href$='/admin/catalog/listing/import/']")
    assert page.locator("text=Nothing is written until you confirm").count() == 1

    _upload(page, tmp_path / "listings.csv", [GOOD, BAD])
    heading = page.locator(".catalog-import-failed h2").inner_text()
    assert "Nothing was imported: 1 row needs fixing" in heading
    errors = page.locator(".catalog-import-errors").inner_text()
    assert 'Line 3, column "item_sku"' in errors and "NO-SUCH-ITEM" in errors
    assert not Listing.objects.exists()

    _upload(page, tmp_path / "listings-fixed.csv", [GOOD, BAD.replace("NO-SUCH-ITEM", "LAMP-1")])
    summary = page.locator(".catalog-import-summary").inner_text()
    assert "2 new, 0 changed, 0 unchanged" in " ".join(summary.split())
    assert page.locator(".import-preview", has_text="LAMP-CA @ Amazon.ca (CA)").count() == 1
    with page.expect_navigation():
        page.click("button:has-text('Confirm import')")
    assert "Import finished: 2 new" in page.content()
    assert set(Listing.objects.values_list("seller_sku", "item__sku")) == {
        ("MUG-US", "MUG-1"), ("LAMP-CA", "LAMP-1")}

    row = page.locator("#result_list tbody tr", has_text="MUG-US")
    assert "Amazon.com (US)" in row.inner_text() and "1,234.50 USD" in row.inner_text()
