"""As the Ops user, in a real browser: open the exception queue, see an unmapped SKU met in two
marketplaces as one row, click its fix link, choose the item, save, and land back in the
queue as it was filtered, the fixed problem gone from it."""

from __future__ import annotations

import pytest

from amazonsync.models import SyncException

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.locator("form [type=submit]").click()
    page.wait_for_url(f"{live_server.url}/admin/")


def test_fix_an_unmapped_sku_from_the_queue_and_come_back(live_server, page, ops_user, account):
    from catalog.models import Item
    from catalog.services import listing_discover
    from marketplaces.models import Marketplace

    listing = listing_discover(account=account, marketplace=Marketplace.objects.get(code="US"),
                               seller_sku="SKU-MISSING", source="orders")
    listing_discover(account=account, marketplace=Marketplace.objects.get(code="CA"),
                     seller_sku="SKU-MISSING", source="orders")
    listing_discover(account=account, marketplace=Marketplace.objects.get(code="US"),
                     seller_sku="OTHER-SKU", source="orders")
    Item.objects.create(sku="WIDGET-1", name="Blue widget")

    _login(page, live_server, ops_user.username, "pw-for-tests-123")
    page.goto(f"{live_server.url}/admin/amazonsync/syncexception/?owner_team__exact=merch")
    page.wait_for_selector("#result_list")
    row = page.locator("#result_list tbody tr", has_text="SKU-MISSING")
    assert row.count() == 1  # two marketplaces, one problem
    text = row.inner_text()
    assert "SKU not mapped to an item" in text and "×2 marketplaces" in text
    assert "Amazon.com (US)" in text and "Amazon.ca (CA)" in text
    assert "unmapped_sku" not in text

    row.locator("a.fix-link").click()  # "Fix: map SKU SKU-MISSING"
    page.wait_for_url(f"**/admin/catalog/listing/{listing.pk}/change/**")
    assert page.locator(".as-back-link").count() == 1
    page.locator("#id_item").locator("xpath=following-sibling::span[1]").click()
    page.locator(".select2-search__field").fill("WIDGET")
    page.locator(".select2-results__option", has_text="WIDGET-1").click()
    page.locator("button[name=_save]").click()

    page.wait_for_url("**/admin/amazonsync/syncexception/?owner_team__exact=merch")
    page.wait_for_selector("#result_list")
    assert "You are back where you started" in page.content()
    remaining = page.locator("#result_list tbody tr", has_text="SKU-MISSING")
    assert remaining.count() == 1 and "×2" not in remaining.inner_text()  # CA still to map
    assert page.locator("#result_list tbody tr", has_text="OTHER-SKU").count() == 1
    fixed = SyncException.objects.get(object_key__endswith="/US/SKU-MISSING")
    assert fixed.status == "resolved" and fixed.resolved_by_id == ops_user.pk
    assert fixed.resolved_cause == "mapping saved"
