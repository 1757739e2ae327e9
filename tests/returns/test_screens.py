"""The returns screens in words people use: reasons and dispositions by their label (the
description on hover, the code underneath) read once per page, marketplaces by name, money
with its currency's places and per-currency totals, state badges, the Dismiss and Apply
buttons, and the accounting panel of the home page."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from amazonsync.dashboard import sections_for
from returns.dashboard import returns_money
from returns.models import (
    CreditMemo,
    RefundMatch,
    ReimbursementCandidate,
    ReturnEvent,
)

pytestmark = pytest.mark.django_db

# a number followed by a currency code, as the money formatter writes it
MONEY = re.compile(r"(-?[\d,]+(?:\.(\d+))?) (USD|CAD|EUR|GBP|JPY)\b")
PLACES = {"JPY": 0, "USD": 2, "CAD": 2, "EUR": 2, "GBP": 2}
CONFIRM = {"_form_submitted": "on"}  # what the confirmation dialog posts


def url(name, *args):
    return reverse(f"admin:returns_{name}", args=args)


def page(client, address) -> str:
    response = client.get(address)
    assert response.status_code == 200, address
    return response.content.decode()


class _Visible(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in ("script", "style", "template")

    def handle_endtag(self, tag):
        self.hidden -= tag in ("script", "style", "template") and self.hidden > 0

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def assert_money_well_formed(html: str) -> list[str]:
    """Every amount on the page has exactly its currency's places; returns them."""
    found = MONEY.findall(html)
    for amount, places, currency in found:
        assert len(places) == PLACES[currency], f"{amount} {currency}"
    text = visible_text(html)
    assert not re.search(r"\d\.\d{3,}\b", text), "a number with too many decimals"
    for repr_start in ("Decimal(", "{'", "('", " None "):
        assert repr_start not in text, f"Python repr {repr_start!r} on the page"
    return [f"{amount} {currency}" for amount, _, currency in found]


def make_return(account, code="US", n=0, **over) -> ReturnEvent:
    from marketplaces.models import Marketplace

    values = {
        "account": account, "marketplace": Marketplace.objects.get(code=code),
        "channel": "FBA", "order_id": f"111-0000000-{n:07d}", "seller_sku": f"SKU-{n}",
        "reference": f"LPN{n}", "license_plate_number": f"LPN{n}",
        "return_date": timezone.now() - datetime.timedelta(days=n + 1), "quantity": 1,
        "reason": "SWITCHEROO", "disposition": "CUSTOMER_DAMAGED",
        "report_type": "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA",
        "raw": {"order-id": f"111-0000000-{n:07d}", "reason": "SWITCHEROO"},
    }
    values.update(over)
    return ReturnEvent.objects.create(**values)


def make_candidate(account, amount, currency, code, n, **over) -> ReimbursementCandidate:
    from marketplaces.models import Marketplace

    marketplace = Marketplace.objects.get(code=code)
    now = timezone.now()
    match = RefundMatch.objects.create(
        account=account, marketplace=marketplace, order_id=f"113-0000000-{n:07d}",
        seller_sku=f"SKU-{n}", channel="FBA", refunded_amount=amount, currency=currency,
        refunded_quantity=1, refunded_at=now - datetime.timedelta(days=50),
        outcome="refunded_not_returned", matched_at=now)
    values = {"account": account, "marketplace": marketplace, "kind": "refunded_not_returned",
              "order_id": match.order_id, "seller_sku": match.seller_sku, "quantity": 1,
              "amount_at_stake": amount, "currency": currency, "match": match,
              "opened_at": now - datetime.timedelta(days=50)}
    values.update(over)
    return ReimbursementCandidate.objects.create(**values)


# ------------------------------------------------------------------ returns list


def test_returns_list_shows_reasons_and_dispositions_in_words(client, ops_user, account):
    make_return(account, n=1)
    make_return(account, n=2, reason="", disposition="SELLABLE", code="JP")
    make_return(account, n=3, reason="BRAND_NEW_CODE", disposition="")
    client.force_login(ops_user)
    html = page(client, url("returnevent_changelist"))
    assert "Different item returned" in html and "SWITCHEROO" in html
    assert 'title="What came back is not what was sold' in html
    assert "Damaged by the buyer" in html and "as-badge-red" in html
    assert "Sellable" in html and "as-badge-green" in html
    assert "no reason given" in html
    assert "BRAND_NEW_CODE" in html and "Not in the Amazon terms table yet." in html
    assert "Amazon.co.jp (JP)" in html and "Amazon.com (US)" in html
    assert "Refund not matched" in html and "Stock unchanged" in html
    # the filters name the codes in words too
    assert "Different item returned (SWITCHEROO)" in html
    assert "Damaged by the buyer (CUSTOMER_DAMAGED)" in html
    assert "Python" not in html and "Decimal(" not in html


def test_returns_list_reads_the_terms_once_whatever_the_rows(client, ops_user, account):
    make_return(account, n=1)
    client.force_login(ops_user)
    address = url("returnevent_changelist")
    with CaptureQueriesContext(connection) as small:
        page(client, address)
    for n in range(2, 12):
        make_return(account, n=n, reason=("DEFECTIVE", "UNWANTED_ITEM")[n % 2],
                    disposition=("SELLABLE", "DAMAGED")[n % 2])
    with CaptureQueriesContext(connection) as large:
        html = page(client, address)
    assert len(large.captured_queries) == len(small.captured_queries)
    term_reads = [q["sql"] for q in large.captured_queries
                  if "marketplaces_amazonterm" in q["sql"]]
    assert len(term_reads) == 2  # reasons, dispositions: one query each
    assert "Damaged in Amazon&#x27;s warehouse" in html or "Damaged in Amazon's warehouse" in html


def test_return_page_shows_the_report_row_and_money_in_words(client, ops_user, account):
    event = make_return(account, n=4, channel="MFN", disposition="", currency="JPY",
                        refunded_amount=Decimal("1500.0000"), reason="AMZ-PG-BAD-DESC")
    client.force_login(ops_user)
    html = page(client, url("returnevent_change", event.pk))
    assert "1,500 JPY" in html and "1500.0000" not in html
    assert "Not as described on Amazon" in html
    assert "<th>order-id</th>" in html  # the report row as a table, not a dict
    assert_money_well_formed(html)


def test_apply_rule_button_applies_once_and_says_so(client, ops_user, account, rules):
    from catalog.models import FbaStock, Item, Listing
    from marketplaces.models import Marketplace

    us = Marketplace.objects.get(code="US")
    listing = Listing.objects.create(account=account, marketplace=us, seller_sku="SKU-5",
                                     channel="FBA", item=Item.objects.create(sku="I-5"))
    FbaStock.objects.create(listing=listing, fulfillable=0, unfulfillable=0)
    event = make_return(account, n=5, listing=listing, reason="UNWANTED_ITEM",
                        disposition="SELLABLE")
    client.force_login(ops_user)
    button = url("returnevent_apply_rule_button", event.pk)
    assert button in page(client, url("returnevent_change", event.pk))
    assert client.get(button).status_code == 200  # the confirmation dialog
    assert not hasattr(ReturnEvent.objects.get(pk=event.pk), "adjustment")
    response = client.post(button, CONFIRM, follow=True)
    assert response.status_code == 200
    assert "Applied:" in response.content.decode()
    assert FbaStock.objects.get(listing=listing).fulfillable == 1
    response = client.post(button, CONFIRM, follow=True)
    assert "Already applied" in response.content.decode()
    assert FbaStock.objects.get(listing=listing).fulfillable == 1


def test_disposition_rules_list_names_codes_in_words(client, ops_user, rules):
    client.force_login(ops_user)
    html = page(client, url("dispositionrule_changelist"))
    assert "Damaged by the carrier" in html and "CARRIER_DAMAGED" in html
    assert "Different item returned" in html and "any reason" in html
    assert "Both channels" in html


# ------------------------------------------------------------------ money lists


def test_candidates_list_money_per_currency_and_badges(client, accounting_user, account):
    make_candidate(account, Decimal("1500.0000"), "JPY", "JP", 1)
    make_candidate(account, Decimal("131030.0000"), "JPY", "JP", 2)
    make_candidate(account, Decimal("12.9900"), "CAD", "CA", 3)
    make_candidate(account, Decimal("1234.5"), "CAD", "CA", 4,
                   status="dismissed", closed_at=timezone.now())
    client.force_login(accounting_user)
    html = page(client, url("reimbursementcandidate_changelist"))
    amounts = assert_money_well_formed(html)
    assert {"1,500 JPY", "131,030 JPY", "12.99 CAD", "1,234.50 CAD"} <= set(amounts)
    # per currency, open candidates only, never summed across currencies
    totals = html[html.index('id="currency-totals"'):]
    totals = totals[:totals.index("</div>")]
    assert "132,530 JPY" in totals and "12.99 CAD" in totals and "1,247.49" not in totals
    assert "Open" in html and "Dismissed" in html
    assert "Amazon.co.jp (JP)" in html
    assert "131030.0000" not in html


def test_candidate_dismiss_button_and_refusal_as_a_message(client, ops_user, account):
    candidate = make_candidate(account, Decimal("20"), "USD", "US", 5)
    client.force_login(ops_user)
    change = url("reimbursementcandidate_change", candidate.pk)
    button = url("reimbursementcandidate_dismiss_button", candidate.pk)
    html = page(client, change)
    assert button in html and "20.00 USD" in html
    assert '<span class="as-badge as-badge-amber">Open</span>' in html
    assert_money_well_formed(html)
    response = client.post(button, CONFIRM, follow=True)
    assert "Dismissed:" in response.content.decode()
    candidate.refresh_from_db()
    assert candidate.status == "dismissed" and candidate.closed_at is not None
    assert button not in page(client, change)  # nothing left to dismiss
    response = client.post(button, CONFIRM, follow=True)
    assert response.status_code == 200
    assert "already dismissed" in response.content.decode()


def test_credit_memos_and_refund_matches_show_money_with_currency(client, accounting_user,
                                                                   account):
    from marketplaces.models import Marketplace

    jp = Marketplace.objects.get(code="JP")
    for n, (total, currency, mp) in enumerate([(Decimal("2480.0000"), "JPY", jp),
                                               (Decimal("-3.5000"), "CAD", None)]):
        CreditMemo.objects.create(
            account=account, marketplace=mp, number=f"CM-{n}", order_id=f"O-{n}",
            line_key=f"L-{n}", seller_sku=f"S-{n}", quantity=1, currency=currency,
            principal=total, total=total, refund_date=datetime.date(2026, 10, 1))
    make_candidate(account, Decimal("99.9"), "USD", "US", 9)
    client.force_login(accounting_user)
    html = page(client, url("creditmemo_changelist"))
    assert {"2,480 JPY", "-3.50 CAD"} <= set(assert_money_well_formed(html))
    assert "as-money-neg" in html and "Not yet" in html
    memo = CreditMemo.objects.get(number="CM-0")
    html = page(client, url("creditmemo_change", memo.pk))
    assert "2,480 JPY" in html and "2480.0000" not in html
    assert_money_well_formed(html)
    html = page(client, url("refundmatch_changelist"))
    assert "99.90 USD" in set(assert_money_well_formed(html))
    assert "Refunded but not returned (45 days)" in html
    match = RefundMatch.objects.get()
    html = page(client, url("refundmatch_change", match.pk))
    assert "99.90 USD" in html and "99.9000" not in html
    assert "as-badge-red" in html
    assert_money_well_formed(html)


# ------------------------------------------------------------------ home page panel


def test_panel_per_currency_largest_candidates_and_unmatched_refunds(
        rf, accounting_user, account, django_assert_num_queries):
    for n, (amount, currency, code) in enumerate([
            ("500", "JPY", "JP"), ("131030", "JPY", "JP"), ("12.99", "CAD", "CA"),
            ("40", "USD", "US"), ("30", "USD", "US"), ("20", "USD", "US"),
            ("10", "USD", "US")]):
        make_candidate(account, Decimal(amount), currency, code, n)
    make_candidate(account, Decimal("999"), "USD", "US", 20, status="dismissed",
                   closed_at=timezone.now())
    request = rf.get("/admin/")
    request.user = accounting_user
    with django_assert_num_queries(3):
        data = returns_money(request, timezone.now())
    figures = {f.label: f for f in data.figures}
    assert figures["At stake in JPY"].value == "131,530 JPY"
    assert figures["At stake in USD"].value == "100.00 USD"  # the dismissed one is out
    assert figures["At stake in CAD"].value == "12.99 CAD"
    assert figures["At stake in USD"].link.endswith("status__exact=open&currency__exact=USD")
    assert figures["At stake in USD"].detail.startswith("4 open candidates")
    unmatched = figures["Refunded, not returned in 45 days"]
    assert unmatched.value == "8" and "outcome__exact=refunded_not_returned" in unmatched.link
    assert len(data.rows) == 5
    shown = [str(row[1]) for row in data.rows]
    # each currency's largest first: compared within a currency only
    assert {s.split(">")[1].split("<")[0] for s in shown[:3]} == {
        "131,030 JPY", "12.99 CAD", "40.00 USD"}
    assert "/admin/returns/reimbursementcandidate/" in str(data.rows[0][0])
    assert "Amazon.co.jp (JP)" in "".join(str(row[0]) for row in data.rows)


def test_panel_shown_to_accounting_and_links_work(client, rf, accounting_user, account):
    make_candidate(account, Decimal("15"), "GBP", "GB", 1)
    request = rf.get("/admin/")
    request.user = accounting_user
    keys = [item["panel"].key for section in sections_for(request)
            for item in section["panels"]]
    assert "returns_money" in keys
    data = returns_money(request, timezone.now())
    client.force_login(accounting_user)
    html = page(client, data.figures[0].link)
    assert "15.00 GBP" in html
    home = page(client, reverse("admin:index"))
    assert "Reimbursements and refunds" in home and "15.00 GBP" in home


def test_panel_empty_says_so(rf, accounting_user):
    request = rf.get("/admin/")
    request.user = accounting_user
    data = returns_money(request, timezone.now())
    assert data.is_empty and "Nothing to claim" in data.empty
