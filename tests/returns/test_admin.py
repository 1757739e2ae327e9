"""Returns admin screens with data: filters, search, grading, rules edited by ops,
candidates with amount at stake and age, credit memo export, the by-reason chart and the
latency view; queries stay bounded as rows grow; each group sees what it may."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import MerchantStock
from returns.models import CreditMemo, DispositionRule, ReimbursementCandidate, ReturnEvent
from returns.parsers import FBA_REPORT_TYPE, MFN_REPORT_TYPE
from returns.services import refunds_match, returns_import
from tests.returns.samples import (
    fba_file,
    fba_row,
    mfn_file,
    mfn_row,
    refund,
    settlement,
)

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)


def populate(account, us, n=1, start=0):
    rows = [fba_row(**{"order-id": f"111-0000000-{i:07d}", "license-plate-number": f"LPN{i}",
                       "detailed-disposition": ("SELLABLE", "CARRIER_DAMAGED")[i % 2],
                       "reason": ("UNWANTED_ITEM", "DEFECTIVE")[i % 2]})
            for i in range(start, start + n)]
    returns_import(account=account, source=fba_file(*rows), report_type=FBA_REPORT_TYPE,
                   marketplace=us)
    returns_import(account=account, source=mfn_file(*[
        mfn_row(**{"Order ID": f"112-0000000-{i:07d}", "Amazon RMA ID": f"R{i}"})
        for i in range(start, start + n)]), report_type=MFN_REPORT_TYPE, marketplace=us)
    s = settlement(account)
    for i in range(start, start + n):
        refund(s, order_id=f"111-0000000-{i:07d}", item_code=f"A{i}")
        refund(s, order_id=f"113-0000000-{i:07d}", item_code=f"B{i}")
    refunds_match(account=account, now=NOW)


def url(name, *args):
    return reverse(f"admin:returns_{name}", args=args)


def test_returns_changelist_filters_and_search(client, superuser, account, us, fba_listing,
                                               mfn_listing):
    populate(account, us, 2)
    client.force_login(superuser)
    base = url("returnevent_changelist")
    assert client.get(base).status_code == 200
    for query, expected in [
        ("channel__exact=MFN", 2), ("disposition=CARRIER_DAMAGED", 1), ("disposition=-", 2),
        ("reason=DEFECTIVE", 1), ("matched=refunded_returned", 2),
        ("matched=returned_not_refunded", 2), ("stock=inspect", 2), ("stock=applied", 2),
        ("marketplace__id__exact=ATVPDKIKX0DER", 4), ("q=LPN1", 1), ("q=R0", 1),
        ("q=111-0000000-0000001", 1), ("q=SKU-MFN-1", 2),
    ]:
        response = client.get(f"{base}?{query}")
        assert response.status_code == 200, query
        assert response.context["cl"].result_count == expected, query


def test_changelists_do_not_grow_queries_with_rows(client, superuser, account, us,
                                                   fba_listing, mfn_listing):
    client.force_login(superuser)
    populate(account, us, 1)
    names = ["returnevent", "refundmatch", "reimbursementcandidate", "creditmemo",
             "inventoryadjustment", "dispositionrule"]
    counts = {}
    for name in names:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url(f"{name}_changelist")).status_code == 200
        counts[name] = len(ctx.captured_queries)
    populate(account, us, 8, start=1)
    for name in names:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url(f"{name}_changelist")).status_code == 200
        assert len(ctx.captured_queries) == counts[name], name
    for model in (ReturnEvent, ReimbursementCandidate, CreditMemo):
        obj = model.objects.first()
        name = model._meta.model_name
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url(f"{name}_change", obj.pk)).status_code == 200
        assert len(ctx.captured_queries) <= 40


def test_ops_grade_an_mfn_return_in_the_admin(client, ops_user, account, us, mfn_listing):
    returns_import(account=account, source=mfn_file(), report_type=MFN_REPORT_TYPE,
                   marketplace=us)
    event = ReturnEvent.objects.get()
    client.force_login(ops_user)
    form = client.get(url("returnevent_change", event.pk)).content.decode()
    assert '<datalist id="terms-disposition">' in form
    assert '<option value="CUSTOMER_DAMAGED">Damaged by the buyer</option>' in form
    response = client.post(url("returnevent_change", event.pk),
                           {"graded_disposition": "sellable", "adjustment-TOTAL_FORMS": "0",
                            "adjustment-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.content[:500]
    event.refresh_from_db()
    assert event.graded_disposition == "SELLABLE"
    assert event.adjustment.pool == "merchant_on_hand"
    assert MerchantStock.objects.get(item=mfn_listing.item).on_hand == 6
    # once applied the grade is read-only
    page = client.get(url("returnevent_change", event.pk)).content.decode()
    assert 'name="graded_disposition"' not in page


def test_ops_edit_disposition_rules(client, ops_user, rules):
    client.force_login(ops_user)
    form = client.get(url("dispositionrule_add")).content.decode()
    assert '<option value="SWITCHEROO">Different item returned</option>' in form
    assert '<option value="CARRIER_DAMAGED">Damaged by the carrier</option>' in form
    rule = DispositionRule.objects.get(disposition="EXPIRED", channel="", reason="")
    response = client.post(url("dispositionrule_change", rule.pk), {
        "disposition": "EXPIRED", "channel": "", "reason": "", "action": "quarantine",
        "active": "on", "note": "keep for inspection"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.action == "quarantine"
    response = client.post(url("dispositionrule_add"), {
        "disposition": "sellable", "channel": "MFN", "reason": "CR-DAMAGED_BY_CARRIER",
        "action": "quarantine", "active": "on", "note": ""})
    assert response.status_code == 302
    assert DispositionRule.objects.filter(disposition="SELLABLE", channel="MFN").exists()


def test_candidates_show_amount_at_stake_and_age(client, superuser, account, us,
                                                 fba_listing):
    refund(settlement(account), order_id="111-0000009-0000009")
    refunds_match(account=account, now=NOW)
    cand = ReimbursementCandidate.objects.get()
    client.force_login(superuser)
    response = client.get(url("reimbursementcandidate_changelist") + "?status__exact=open")
    page = response.content.decode()
    assert "20.00 USD" in page
    assert str((datetime.datetime.now(datetime.UTC) - cand.opened_at).days) in page
    assert "Open candidates" in page
    client.post(url("reimbursementcandidate_changelist"),
                {"action": "dismiss", "_selected_action": [cand.pk]})
    assert ReimbursementCandidate.objects.get().status == "dismissed"


def test_accounting_exports_credit_memos_as_csv(client, accounting_user, ops_user, account,
                                                us, fba_listing):
    refund(settlement(account))
    refunds_match(account=account, now=NOW)
    memo = CreditMemo.objects.get()
    client.force_login(ops_user)
    assert client.get(url("creditmemo_changelist")).status_code == 403
    client.force_login(accounting_user)
    response = client.post(url("creditmemo_changelist"),
                           {"action": "export_for_erp", "_selected_action": [memo.pk]})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows[0]["memo_number"] == memo.number and rows[0]["total"] == "21.60"
    memo.refresh_from_db()
    assert memo.exported_by == accounting_user


def test_by_reason_chart_and_latency_views(client, superuser, ops_user, account, us,
                                           fba_listing, mfn_listing):
    populate(account, us, 3)
    client.force_login(superuser)
    page = client.get(url("returnevent_by_reason")).content.decode()
    assert "SKU-FBA-1" in page and "No longer wanted" in page and 'class="as-bar"' in page
    assert "UNWANTED_ITEM" not in page  # the reason in words, its meaning on hover
    page = client.get(url("returnevent_by_reason") + "?sku=SKU-MFN-1").content.decode()
    assert "SKU-MFN-1" in page and "LPN" not in page
    response = client.get(url("returnevent_latency"))
    rows = response.context["rows"]
    assert [r["marketplace"] for r in rows] == ["US"] and rows[0]["matches"] == 3
    assert rows[0]["refunded_first"] == 3  # refunded on 8 Sep, returned on 10 Sep
    assert "Amazon.com (US)" in response.content.decode()
    client.force_login(ops_user)
    assert client.get(url("returnevent_latency")).status_code == 200
    assert b"Returns by reason" in client.get(url("returnevent_changelist")).content
