"""Real users in a real browser against a live server: Ops imports and maps, accountants
prepare and approve with four eyes, and the dashboard draws its charts."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from amazonsync.models import SyncException
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-pass-123"
HEADER = ("seller_account,marketplace,seller_sku,channel,asin,fnsku,condition,parent_asin,"
          "product_type,item_sku,price,currency,push_enabled,buffer_quantity,max_quantity")


def _user(django_user_model, username, group):
    user = django_user_model.objects.create_user(username=username, password=PASSWORD,
                                                 is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def _upload(page, live_server, tmp_path, rows):
    path = tmp_path / "listings.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    page.goto(f"{live_server.url}/admin/catalog/listing/import/")
    page.set_input_files("input[name=import_file]", str(path))
    page.select_option("select[name=format]", label="csv")
    with page.expect_navigation():
        page.click("form input[type=submit]")


def test_ops_imports_listings_and_maps_an_unmapped_sku(
    live_server, page, tmp_path, account, django_user_model
):
    from catalog.models import Item, Listing
    from catalog.services import listing_discover

    _user(django_user_model, "ops1", "Ops")
    Item.objects.create(sku="MUG-1", name="Mug")
    Item.objects.create(sku="LAMP-1", name="Lamp")
    us = account.marketplaces.get(code="US")
    listing_discover(account=account, marketplace=us, seller_sku="MYSTERY-9", source="orders")
    before = sorted(Listing.objects.values_list("seller_sku", "item_id"))

    login(page, live_server, "ops1", PASSWORD)
    good = "A1TESTSELLER,US,MUG-US,MFN,B07XJ8C8F5,,new_new,,,MUG-1,19.99,USD,yes,1,"
    bad = "A1TESTSELLER,US,LAMP-US,MFN,B07XJ8C8F6,,new_new,,,NO-SUCH-ITEM,9.99,USD,yes,0,"
    _upload(page, live_server, tmp_path, [good, bad])
    errors = page.locator(".catalog-import-errors").inner_text()
    assert "Line 3" in errors and "NO-SUCH-ITEM" in errors
    assert page.locator("text=Nothing was imported").count() >= 1
    assert sorted(Listing.objects.values_list("seller_sku", "item_id")) == before

    fixed = bad.replace("NO-SUCH-ITEM", "LAMP-1")
    _upload(page, live_server, tmp_path, [good, fixed])
    assert "2" in page.locator(".catalog-import-summary").inner_text()
    with page.expect_navigation():
        page.click("form input[type=submit][value='Confirm import']")
    skus = set(Listing.objects.filter(item__isnull=False).values_list("seller_sku", flat=True))
    assert {"MUG-US", "LAMP-US"} <= skus

    # the unmapped SKU waits in the queue; Ops opens it, maps it, and it resolves
    page.goto(f"{live_server.url}/admin/amazonsync/syncexception/?status__exact=open")
    row = page.locator("#result_list tbody tr", has_text="MYSTERY-9")
    assert row.count() == 1
    row.locator("a.fix-link").click()
    page.wait_for_selector(".field-item")
    page.click(".field-item .select2-selection")
    page.fill(".select2-search__field", "MUG")
    page.click(".select2-results__option:has-text('MUG-1')")
    with page.expect_navigation():
        page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    exc = SyncException.objects.get(object_key__endswith="/MYSTERY-9")
    assert exc.status == "resolved"
    page.goto(f"{live_server.url}/admin/amazonsync/syncexception/?status__exact=resolved")
    assert page.locator("#result_list tbody tr", has_text="MYSTERY-9").count() == 1


def _settlement(account):
    from amazonsync.sandbox.reports import settlement_bytes
    from amazonsync.sandbox.world import World
    from settlements.models import JournalBatch
    from settlements.services import settlement_import

    world = World(seed=3, orders=150)
    chosen = next(s for s in world.settlements() if s.currency == "USD")
    settlement_import(account=account, source=settlement_bytes(chosen),
                      name="usd.txt")
    return JournalBatch.objects.filter(settlement__account=account,
                                       unmapped_lines=0).order_by("entry_date").first()


def _run_action(page, live_server, batch, action_label):
    page.goto(f"{live_server.url}/admin/settlements/journalbatch/")
    page.check(f"#result_list input[name=_selected_action][value='{batch.pk}']")
    page.select_option("select[name=action]", label=action_label)
    with page.expect_navigation():
        page.click("button[name=index]")


def test_four_eyes_approval_in_the_browser(live_server, page, account, django_user_model):
    from settlements.models import JournalBatch

    _user(django_user_model, "acc_a", "Accounting")
    _user(django_user_model, "acc_b", "Accounting")
    _user(django_user_model, "ops2", "Ops")
    batch = _settlement(account)
    assert batch is not None and batch.status == "draft"

    login(page, live_server, "acc_a", PASSWORD)
    _run_action(page, live_server, batch, "Mark ready for approval")
    assert JournalBatch.objects.get(pk=batch.pk).status == "ready"
    _run_action(page, live_server, batch, "Approve (four eyes)")
    assert "four eyes" in page.locator(".messagelist").inner_text()
    assert JournalBatch.objects.get(pk=batch.pk).status == "ready"

    page.context.clear_cookies()
    login(page, live_server, "acc_b", PASSWORD)
    page.goto(f"{live_server.url}/admin/settlements/settlement/{batch.settlement_id}"
              "/reconciliation/")
    page.wait_for_selector("text=drift")
    _run_action(page, live_server, batch, "Approve (four eyes)")
    batch.refresh_from_db()
    assert batch.status == "approved" and batch.approved_by.username == "acc_b"
    page.goto(f"{live_server.url}/admin/settlements/journalbatch/{batch.pk}/change/")
    assert page.locator("input[name=_save]").count() == 0
    assert page.locator("input[name=_continue]").count() == 0

    page.context.clear_cookies()
    login(page, live_server, "ops2", PASSWORD)
    response = page.goto(f"{live_server.url}/admin/settlements/journalbatch/")
    assert response.status == 403
    assert page.locator("text=Approve (four eyes)").count() == 0


def test_dashboard_draws_charts_with_data(live_server, page, account, django_user_model):
    from amazonsync.health import health_snapshot_store
    from amazonsync.services import exception_record

    _user(django_user_model, "ops3", "Ops")
    exception_record(flow="orders", object_kind="order_line", object_key="111/SKU",
                     reason_code="unmapped_sku", message="m", owner_team="merch",
                     account=account, marketplace=account.marketplaces.get(code="US"))
    now = timezone.now()
    for days in range(6):
        health_snapshot_store(now=now - datetime.timedelta(days=days))
    login(page, live_server, "ops3", PASSWORD)
    page.click("text=Integration health dashboard")
    page.wait_for_selector("table.health")
    us = page.locator("table.health[data-marketplace='US']")
    assert us.locator("svg.trend polyline").count() >= 1
    assert us.locator("svg.trend circle").count() >= 6
    assert "Exception backlog" in us.inner_text()
