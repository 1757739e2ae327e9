"""As the Ops user, in a real browser: log in, open the exception queue, see the seeded
exception, and open it."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from amazonsync.models import SyncException
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ops_user_sees_the_seeded_exception(live_server, page):
    call_command("demo", "--no-sync", verbosity=0, stdout=open("/dev/null", "w"))
    from amazonsync.demo import DEMO_USERS
    from amazonsync.services import exception_record
    from marketplaces.models import SellerAccount

    account = SellerAccount.objects.get(selling_partner_id="A3LEGACYEUSELLER")
    exception_record(
        flow="orders", object_kind="order_line", object_key="114-0000001-0000001/SKU-MISSING",
        reason_code="unmapped_sku", message="Seller SKU SKU-MISSING has no mapped listing",
        owner_team="merch", account=account,
    )
    ops_password = next(p for u, p, _ in DEMO_USERS if u == "ops")
    login(page, live_server, "ops", ops_password)
    page.click("text=Sync exceptions")
    page.wait_for_selector("#result_list")
    row = page.locator("#result_list tbody tr", has_text="SKU-MISSING")
    assert row.count() == 1
    assert "unmapped_sku" in row.inner_text()
    # Ops can filter the queue by team and open the exception
    page.click("#changelist-filter >> text=Merchandising")
    page.wait_for_url("**owner_team__exact=merch**")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr", has_text="SKU-MISSING").count() == 1
    page.click("#result_list tbody tr >> a >> nth=0")
    page.wait_for_selector("text=Seller SKU SKU-MISSING has no mapped listing")
    assert SyncException.objects.get(object_key__endswith="SKU-MISSING").status == "open"
