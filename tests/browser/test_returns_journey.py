"""Browser journeys of the returns screens (headless Chromium): ops read a return's reason in
words, apply its disposition rule with the button and see the stock effect; accounting
follow the home page's "at stake" figure to the open candidates and dismiss one."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.returns.test_screens import make_candidate, make_return

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-123"


def login(page, live_server, username: str) -> None:  # noqa: F811
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("form [type=submit]").first.click()
    page.wait_for_url(lambda address: "/login/" not in address)


@pytest.fixture
def terms_and_rules(db):
    """A transactional test starts from an emptied database: the Amazon terms and the
    disposition rules come back as the migrations seed them."""
    from marketplaces.models import AmazonTerm
    from marketplaces.terms_data import seed_terms
    from returns.services import disposition_rules_ensure

    seed_terms(AmazonTerm)
    disposition_rules_ensure()


def test_ops_apply_a_returns_rule_from_its_page(page, live_server, ops_user,  # noqa: F811
                                                account, terms_and_rules):
    from catalog.models import FbaStock, Item, Listing
    from marketplaces.models import Marketplace

    listing = Listing.objects.create(
        account=account, marketplace=Marketplace.objects.get(code="US"), seller_sku="SKU-7",
        channel="FBA", item=Item.objects.create(sku="MUG-7", name="Mug"))
    FbaStock.objects.create(listing=listing, fulfillable=2, unfulfillable=0)
    event = make_return(account, n=7, listing=listing, reason="SWITCHEROO",
                        disposition="CARRIER_DAMAGED")
    login(page, live_server, ops_user.username)
    page.goto(f"{live_server.url}/admin/returns/returnevent/")
    reason = page.locator(".as-term", has_text="Different item returned").first
    assert "What came back is not what was sold" in reason.get_attribute("title")
    assert page.locator("text=Damaged by the carrier").first.is_visible()
    page.click(f"a[href$='/returnevent/{event.pk}/change/']")
    page.click("text=Apply the disposition rule")
    page.locator("#dialog button[type=submit]").click()
    page.wait_for_selector("text=Applied:")
    assert FbaStock.objects.get(listing=listing).unfulfillable == 1
    page.goto(f"{live_server.url}/admin/returns/returnevent/")
    assert page.locator("text=Quarantined").first.is_visible()


def test_accounting_follow_the_home_figure_and_dismiss(page, live_server,  # noqa: F811
                                                      accounting_user, ops_user, account,
                                                      terms_and_rules):
    make_candidate(account, Decimal("131030"), "JPY", "JP", 1)
    candidate = make_candidate(account, Decimal("12.5"), "USD", "US", 2,
                               opened_at=timezone.now() - datetime.timedelta(days=60))
    login(page, live_server, accounting_user.username)
    panel = page.locator("#panel-returns_money")
    assert panel.locator("text=131,030 JPY").first.is_visible()
    panel.locator("a.as-figure", has_text="12.50 USD").click()
    page.wait_for_selector("#currency-totals")
    assert "12.50 USD" in page.locator("#currency-totals").inner_text()
    assert page.locator("#result_list").count() == 1
    assert "131,030 JPY" not in page.locator("#result_list").inner_text()
    page.context.clear_cookies()  # accounting may look; ops decide there is nothing to claim
    login(page, live_server, ops_user.username)
    page.goto(f"{live_server.url}/admin/returns/reimbursementcandidate/{candidate.pk}/change/")
    page.click("text=Dismiss: nothing to claim")
    page.locator("#dialog button[type=submit]").click()
    page.wait_for_selector("text=Dismissed:")
    candidate.refresh_from_db()
    assert candidate.status == "dismissed"
