"""Refund matching against settlement refund lines: every outcome, with time; reimbursement
candidates and the lines that close them; credit memos and their CSV export."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest

from amazonsync.models import SyncException
from returns.models import CreditMemo, RefundMatch, ReimbursementCandidate, ReturnEvent
from returns.parsers import FBA_REPORT_TYPE, MFN_REPORT_TYPE
from returns.services import credit_memos_export, refunds_match, returns_import
from tests.returns.samples import (
    fba_file,
    fba_row,
    mfn_file,
    mfn_row,
    refund,
    reimbursement,
    settlement,
)

pytestmark = pytest.mark.django_db

REFUNDED = datetime.datetime(2026, 9, 8, 12, tzinfo=datetime.UTC)


def day(n: int) -> datetime.datetime:
    return REFUNDED + datetime.timedelta(days=n)


def match_of(order_id="111-0000001-0000001", sku="SKU-FBA-1") -> RefundMatch:
    return RefundMatch.objects.get(order_id=order_id, seller_sku=sku)


def fba_import(account, us, *rows):
    returns_import(account=account, source=fba_file(*rows), report_type=FBA_REPORT_TYPE,
                   marketplace=us)


def test_refunded_and_returned(account, us, fba_listing):
    refund(settlement(account))
    fba_import(account, us, fba_row())
    counts = refunds_match(account=account, now=day(3))
    m = match_of()
    assert m.outcome == "refunded_returned"
    assert (m.refunded_amount, m.currency, m.refunded_quantity, m.returned_quantity) == (
        Decimal("20.00"), "USD", 1, 1)
    assert m.channel == "FBA" and m.marketplace == us and m.refund_lines.count() == 4
    assert ReturnEvent.objects.get().refund_match == m
    assert m.refund_latency == m.refunded_at - m.returned_at
    assert not ReimbursementCandidate.objects.exists()
    assert counts.matches == 1


def test_fba_refunded_not_returned_after_45_days_is_a_reimbursement_candidate(account, us,
                                                                             fba_listing):
    refund(settlement(account), qty=1)
    refunds_match(account=account, now=day(44))
    assert match_of().outcome == "awaiting_return"
    assert not ReimbursementCandidate.objects.exists()
    refunds_match(account=account, now=day(45))
    assert match_of().outcome == "refunded_not_returned"
    cand = ReimbursementCandidate.objects.get()
    assert cand.kind == "refunded_not_returned" and cand.status == "open"
    assert (cand.amount_at_stake, cand.currency, cand.quantity) == (Decimal("20.00"), "USD", 1)
    assert cand.opened_at == REFUNDED
    assert not match_of().follow_up


def test_a_late_return_dismisses_the_candidate(account, us, fba_listing):
    refund(settlement(account))
    refunds_match(account=account, now=day(50))
    fba_import(account, us, fba_row(**{"return-date": "2026-10-30T10:00:00+00:00"}))
    counts = refunds_match(account=account, now=day(52))
    assert match_of().outcome == "refunded_returned"
    assert ReimbursementCandidate.objects.get().status == "dismissed"
    assert counts.candidates_dismissed == 1


def test_mfn_refunded_not_returned_is_a_follow_up(account, us, mfn_listing):
    refund(settlement(account), order_id="112-0000001-0000001", sku="SKU-MFN-1",
           fulfillment="MFN")
    refunds_match(account=account, now=day(46))
    m = match_of("112-0000001-0000001", "SKU-MFN-1")
    assert m.outcome == "refunded_not_returned" and m.channel == "MFN" and m.follow_up
    assert not ReimbursementCandidate.objects.exists()
    exc = SyncException.objects.get(reason_code="mfn_refund_not_returned")
    assert exc.status == "open" and exc.owner_team == "ops"
    assert "112-0000001-0000001" in exc.message
    assert "refunded 20.00 USD on 2026-09-08" in exc.message
    # the buyer sends it back after all
    returns_import(account=account, source=mfn_file(mfn_row()), report_type=MFN_REPORT_TYPE,
                   marketplace=us)
    refunds_match(account=account, now=day(50))
    exc.refresh_from_db()
    assert exc.status == "resolved" and not match_of("112-0000001-0000001", "SKU-MFN-1").follow_up


def test_daily_housekeeping_matches_refunds_for_every_active_account(account, us,
                                                                    fba_listing):
    from returns.tasks import match_refunds_all

    refund(settlement(account))
    fba_import(account, us, fba_row())
    assert match_refunds_all() == 1
    assert match_of().outcome == "refunded_returned"


def test_returned_but_not_refunded(account, us, fba_listing):
    fba_import(account, us, fba_row())
    refunds_match(account=account, now=day(3))
    assert match_of().outcome == "returned_not_refunded"
    # the refund lands in the next settlement
    refund(settlement(account), posted=day(4))
    refunds_match(account=account, now=day(5))
    assert match_of().outcome == "refunded_returned"


def test_partial_return_after_45_days_claims_the_missing_units(account, us, fba_listing):
    refund(settlement(account), principal="-60.00", qty=3)
    fba_import(account, us, fba_row(quantity="1"))
    refunds_match(account=account, now=day(60))
    assert match_of().outcome == "refunded_not_returned"
    cand = ReimbursementCandidate.objects.get()
    assert (cand.quantity, cand.amount_at_stake) == (2, Decimal("40.00"))


def test_returned_unsellable_by_amazons_fault_is_a_candidate(account, us, fba_listing):
    refund(settlement(account))
    fba_import(account, us,
               fba_row(**{"detailed-disposition": "CARRIER_DAMAGED"}),
               fba_row(**{"detailed-disposition": "CUSTOMER_DAMAGED",
                          "license-plate-number": "LPN2"}))
    refunds_match(account=account, now=day(2))
    cand = ReimbursementCandidate.objects.get()
    assert cand.kind == "amazon_damaged" and cand.return_event.disposition == "CARRIER_DAMAGED"
    assert (cand.amount_at_stake, cand.currency) == (Decimal("20.00"), "USD")
    # unrefunded damaged return: the listing price is what is at stake
    fba_import(account, us, fba_row(**{"order-id": "111-0000002-0000002",
                                       "detailed-disposition": "DAMAGED", "quantity": "2",
                                       "license-plate-number": "LPN3"}))
    refunds_match(account=account, now=day(2))
    other = ReimbursementCandidate.objects.get(order_id="111-0000002-0000002")
    assert other.amount_at_stake == Decimal("40.00")


def test_reimbursement_in_a_later_settlement_closes_the_candidate(account, us, fba_listing):
    refund(settlement(account))
    refunds_match(account=account, now=day(46))
    cand = ReimbursementCandidate.objects.get()
    # a reimbursement settled before the refund does not pay for it
    early = settlement(account, end=REFUNDED - datetime.timedelta(days=5))
    reimbursement(early, posted=REFUNDED - datetime.timedelta(days=6))
    # another SKU's reimbursement does not either
    later = settlement(account, end=day(60))
    reimbursement(later, sku="OTHER")
    refunds_match(account=account, now=day(47))
    cand.refresh_from_db()
    assert cand.status == "open"
    paid = reimbursement(later, amount="18.50", reason="CUSTOMER_RETURN")
    counts = refunds_match(account=account, now=day(61))
    cand.refresh_from_db()
    assert cand.status == "reimbursed" and cand.reimbursement_line == paid
    assert cand.reimbursed_amount == Decimal("18.50") and cand.closed_at is not None
    assert counts.candidates_closed == 1
    # rerun: nothing changes, the line is not used twice
    refunds_match(account=account, now=day(62))
    assert ReimbursementCandidate.objects.get().status == "reimbursed"


def test_one_reimbursement_line_pays_at_most_its_quantity(account, us, fba_listing):
    for n in (1, 2):
        order = f"111-0000001-000000{n}"
        refund(settlement(account), order_id=order, item_code=f"I{n}")
    refunds_match(account=account, now=day(46))
    assert ReimbursementCandidate.objects.filter(status="open").count() == 2
    reimbursement(settlement(account, end=day(60)), qty=1)
    refunds_match(account=account, now=day(61))
    assert ReimbursementCandidate.objects.filter(status="reimbursed").count() == 1
    assert ReimbursementCandidate.objects.filter(status="open").count() == 1


def test_matching_twice_changes_nothing(account, us, fba_listing):
    refund(settlement(account))
    fba_import(account, us, fba_row(**{"detailed-disposition": "CARRIER_DAMAGED"}))
    refunds_match(account=account, now=day(2))
    before = (list(RefundMatch.objects.values()), list(ReimbursementCandidate.objects.values()),
              list(CreditMemo.objects.values()))
    counts = refunds_match(account=account, now=day(2))
    after = (list(RefundMatch.objects.values()), list(ReimbursementCandidate.objects.values()),
             list(CreditMemo.objects.values()))
    assert before == after
    assert (counts.changed, counts.credit_memos, counts.candidates_opened) == (0, 0, 0)


def test_one_credit_memo_per_refunded_order_line(account, us, fba_listing):
    s = settlement(account)
    refund(s, principal="-20.00", tax="-1.60", item_code="ITEM-1")
    refund(s, sku="SKU-FBA-2", principal="-15.00", tax="-1.20", item_code="ITEM-2")
    # a second, partial refund of the first line adds to its memo
    refund(settlement(account), principal="-5.00", tax="-0.40", item_code="ITEM-1", qty=None,
           posted=day(3))
    refunds_match(account=account, now=day(4))
    memos = {m.line_key: m for m in CreditMemo.objects.all()}
    assert set(memos) == {"ITEM-1", "ITEM-2"}
    first = memos["ITEM-1"]
    assert (first.principal, first.tax, first.total, first.currency) == (
        Decimal("25.00"), Decimal("2.00"), Decimal("27.00"), "USD")
    assert first.refund_date == REFUNDED.date() and first.seller_sku == "SKU-FBA-1"
    assert first.match == match_of()
    assert first.number == "CM-111-0000001-0000001-ITEM-1"


def test_credit_memos_export_as_csv_and_changes_after_export_are_queued(account, us,
                                                                        fba_listing):
    refund(settlement(account))
    refunds_match(account=account, now=day(1))
    text = credit_memos_export(memos=CreditMemo.objects.all())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == [{
        "memo_number": "CM-111-0000001-0000001-ITEM-1", "seller_account": "A1TESTSELLER",
        "marketplace": "US", "order_id": "111-0000001-0000001", "order_item": "ITEM-1",
        "sku": "SKU-FBA-1", "refund_date": "2026-09-08", "currency": "USD", "quantity": "1",
        "principal": "20.00", "tax": "1.60", "shipping": "0.00", "promotion": "0.00",
        "total": "21.60",
    }]
    memo = CreditMemo.objects.get()
    assert memo.exported_at is not None
    refund(settlement(account), principal="-1.00", tax="0", qty=None, posted=day(2))
    refunds_match(account=account, now=day(3))
    memo.refresh_from_db()
    assert memo.total == Decimal("21.60")  # an exported memo is never changed
    exc = SyncException.objects.get(reason_code="credit_memo_changed_after_export")
    assert exc.owner_team == "finance" and exc.payload["new_total"] == "22.60"


def test_jpy_amounts_are_rounded_to_yen_in_the_export(account, fba_listing):
    from marketplaces.models import Marketplace

    jp = Marketplace.objects.get(code="JP")
    s = settlement(account, marketplace_id=jp.pk, currency="JPY")
    refund(s, principal="-1980", tax="-198.4")
    refunds_match(account=account, now=day(1))
    row = next(csv.DictReader(io.StringIO(credit_memos_export(memos=CreditMemo.objects.all()))))
    assert (row["currency"], row["principal"], row["tax"], row["total"]) == (
        "JPY", "1980", "198", "2178")
