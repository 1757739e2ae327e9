"""A settlement that does not reconcile cannot be booked: drift (a summary total that is
not the sum of the lines, or lines without a GL mapping) blocks marking ready and approval
until an accountant records an explained adjustment; journal dates outside the
settlement's period block it for good. Service level: holds on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse

from amazonsync.models import SyncException
from settlements.models import GLAccount, JournalBatch, JournalLine, SettlementLine
from settlements.selectors import settlement_unexplained
from settlements.services import (
    FourEyesViolation,
    ImmutableBatch,
    SettlementError,
    journal_batch_add_adjustment,
    journal_batch_approve,
    journal_batch_mark_ready,
    journal_batch_reverse,
    journal_batches_export,
    settlement_import,
    settlement_journal_build,
)
from tests.settlements.settlement_samples import DEFAULT_LINES, settlement_file

pytestmark = pytest.mark.django_db

EXPLANATION = "Amazon paid a reimbursement that is not itemised in the report (case 1234)"


def do_import(account, data):
    return settlement_import(account=account, source=data, name="settlement.txt").settlement


def batches(settlement):
    return list(settlement.journal_batches.order_by("period"))


def clearing_net(settlement) -> Decimal:
    agg = JournalLine.objects.filter(
        batch__settlement=settlement, batch__kind="journal",
        gl_account__role=GLAccount.Role.AMAZON_CLEARING,
    ).aggregate(c=Sum("credit"), d=Sum("debit"))
    return (agg["c"] or 0) - (agg["d"] or 0)


def test_drift_blocks_marking_ready(account, accounting_user):
    """The issue's example: lines add up to 91.53 under a summary total of 999.99."""
    s = do_import(account, settlement_file(total="999.99"))
    assert s.sum_of_lines == Decimal("91.53") and s.internal_drift == Decimal("908.46")
    for batch in batches(s):
        with pytest.raises(SettlementError) as refused:
            journal_batch_mark_ready(batch=batch, user=accounting_user)
        message = str(refused.value)
        assert "does not reconcile" in message
        assert "999.99 EUR" in message and "91.53 EUR" in message
        assert "908.46 EUR is unexplained" in message
        assert "explained adjustment" in message
        batch.refresh_from_db()
        assert batch.status == JournalBatch.Status.DRAFT


def test_drift_that_appears_after_ready_blocks_approval(account, accounting_user,
                                                       accounting_user2):
    s = do_import(account, settlement_file())
    jan = batches(s)[0]
    journal_batch_mark_ready(batch=jan, user=accounting_user)
    # Amazon's total no longer matches the lines: the February batch (the deposit) is
    # rebuilt, January stays ready.
    type(s).objects.filter(pk=s.pk).update(total_amount=Decimal("999.99"))
    settlement_journal_build(settlement=s)
    jan.refresh_from_db()
    assert jan.status == JournalBatch.Status.READY
    with pytest.raises(SettlementError, match="908.46 EUR is unexplained"):
        journal_batch_approve(batch=jan, user=accounting_user2)
    jan.refresh_from_db()
    assert jan.status == JournalBatch.Status.READY and jan.approved_by is None


def test_explained_adjustment_unblocks_and_stays_balanced(account, accounting_user,
                                                         accounting_user2):
    s = do_import(account, settlement_file(total="999.99"))
    jan, feb = batches(s)
    assert clearing_net(s) == Decimal("908.46")  # Amazon clearing absorbs it today
    other_income = GLAccount.objects.get(code="4900")
    line = journal_batch_add_adjustment(
        batch=feb, account=other_income, amount=Decimal("908.46"),
        explanation=f"  {EXPLANATION}  ", user=accounting_user,
    )
    assert line.credit == Decimal("908.46") and line.gl_account == other_income
    assert line.explanation == EXPLANATION and line.recorded_by == accounting_user
    offset = feb.lines.get(role="adjustment", gl_account__role="amazon_clearing")
    assert offset.debit == Decimal("908.46") and offset.explanation == EXPLANATION
    feb.refresh_from_db()
    s.refresh_from_db()
    assert feb.debit_total == feb.credit_total
    assert feb.status == "draft" and feb.last_changed_by == accounting_user
    assert clearing_net(s) == 0
    assert s.adjustment_net == Decimal("908.46") and s.journal_drift == 0
    assert s.internal_drift == Decimal("908.46")  # the file's own figure does not change
    unexplained = settlement_unexplained(s)
    assert unexplained.drift == 0 and unexplained.adjusted == Decimal("908.46")

    # a rebuild keeps what the accountant recorded
    settlement_journal_build(settlement=s)
    assert feb.lines.filter(role="adjustment").count() == 2
    assert clearing_net(s) == 0

    for batch in (jan, feb):
        journal_batch_mark_ready(batch=batch, user=accounting_user)
    with pytest.raises(FourEyesViolation):  # whoever adjusted it cannot approve it
        journal_batch_approve(batch=feb, user=accounting_user)
    for batch in (jan, feb):
        journal_batch_approve(batch=batch, user=accounting_user2)
    text = journal_batches_export(batches=[feb], user=accounting_user2)
    assert "Adjustment: Amazon paid a reimbursement" in text

    # a reversal takes the adjustment back with its explanation
    reversal = journal_batch_reverse(batch=feb, user=accounting_user)
    taken_back = reversal.lines.get(role="adjustment", gl_account=other_income)
    assert taken_back.debit == Decimal("908.46") and taken_back.explanation == EXPLANATION


def test_unmapped_lines_are_drift_until_mapped_or_explained(account, accounting_user,
                                                           accounting_user2):
    lines = [*DEFAULT_LINES, {"transaction-type": "BrandNewThing", "amount-type": "Other",
                              "amount-description": "Mystery", "amount": "-1.50",
                              "posted-date": "2024-01-28"}]
    s = do_import(account, settlement_file(lines))
    assert s.internal_drift == 0 and s.unmapped_lines == 1
    jan, feb = batches(s)
    assert jan.unmapped_lines == 1
    with pytest.raises(SettlementError, match="unmapped"):
        journal_batch_mark_ready(batch=jan, user=accounting_user)
    # February balances on its own but the settlement leaves 1.50 on Amazon clearing
    with pytest.raises(SettlementError) as refused:
        journal_batch_mark_ready(batch=feb, user=accounting_user)
    assert "1 of its lines have no GL mapping" in str(refused.value)
    assert "-1.50 EUR is unexplained" in str(refused.value)

    journal_batch_add_adjustment(
        batch=feb, account=GLAccount.objects.get(code="5090"), amount="-1.50",
        explanation="Unknown BrandNewThing fee, booked to other fees until it is mapped",
        user=accounting_user,
    )
    journal_batch_mark_ready(batch=feb, user=accounting_user)
    journal_batch_approve(batch=feb, user=accounting_user2)
    with pytest.raises(SettlementError, match="unmapped"):  # January still needs a rule
        journal_batch_mark_ready(batch=jan, user=accounting_user)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"explanation": "   "}, "Say why"),
        ({"explanation": "typo"}, "at least 10 characters"),
        ({"amount": Decimal("0")}, "zero explains nothing"),
        ({"amount": Decimal("908.465")}, "more decimal places than EUR allows"),
        ({"amount": "lots"}, "is not an amount"),
        ({"amount": Decimal("1e20")}, "too large"),
        ({"account": "clearing"}, "Amazon clearing account"),
    ],
)
def test_adjustment_refusals(account, accounting_user, kwargs, message):
    s = do_import(account, settlement_file(total="999.99"))
    feb = batches(s)[1]
    call = {"batch": feb, "account": GLAccount.objects.get(code="4900"),
            "amount": Decimal("908.46"), "explanation": EXPLANATION, "user": accounting_user}
    call.update(kwargs)
    if call["account"] == "clearing":
        call["account"] = GLAccount.objects.get(role="amazon_clearing")
    with pytest.raises(SettlementError, match=message):
        journal_batch_add_adjustment(**call)
    assert not feb.lines.filter(role="adjustment").exists()


def test_only_accountants_adjust_and_never_an_approved_batch(account, accounting_user,
                                                            accounting_user2, ops_user):
    s = do_import(account, settlement_file())
    jan = batches(s)[0]
    other = GLAccount.objects.get(code="4900")
    with pytest.raises(FourEyesViolation, match="Accounting"):
        journal_batch_add_adjustment(batch=jan, account=other, amount="1.00",
                                     explanation=EXPLANATION, user=ops_user)
    journal_batch_mark_ready(batch=jan, user=accounting_user)
    journal_batch_approve(batch=jan, user=accounting_user2)
    with pytest.raises(ImmutableBatch):
        journal_batch_add_adjustment(batch=jan, account=other, amount="1.00",
                                     explanation=EXPLANATION, user=accounting_user)


JPY_LINES = [
    dict(DEFAULT_LINES[0], amount="1234"),
    dict(DEFAULT_LINES[3], amount="-185"),
]


def test_adjustment_amount_follows_the_currency(account, accounting_user):
    s = do_import(account, settlement_file(JPY_LINES, total="1100", currency="JPY",
                                           marketplace="Amazon.co.jp"))
    batch = batches(s)[0]
    with pytest.raises(SettlementError, match="JPY allows \\(0\\)"):
        journal_batch_add_adjustment(batch=batch, account=GLAccount.objects.get(code="4900"),
                                     amount=Decimal("51.5"), explanation=EXPLANATION,
                                     user=accounting_user)
    journal_batch_add_adjustment(batch=batch, account=GLAccount.objects.get(code="4900"),
                                 amount=Decimal("51"), explanation=EXPLANATION,
                                 user=accounting_user)
    assert settlement_unexplained(s).drift == 0
    journal_batch_mark_ready(batch=batch, user=accounting_user)


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize("posted", [date(9999, 12, 31), date(1, 1, 1), date(2023, 6, 30)])
def test_journal_dates_outside_the_settlement_period_are_never_approvable(
    account, accounting_user, posted
):
    s = do_import(account, settlement_file())
    # one line claims a posted date far from the settlement's period (25 Jan - 8 Feb 2024)
    SettlementLine.objects.filter(settlement=s, line_number=3).update(posted_date=posted)
    settlement_journal_build(settlement=s)
    s.refresh_from_db()
    odd = s.journal_batches.get(period=posted.replace(day=1))
    assert not (date(2024, 1, 24) <= odd.entry_date <= date(2024, 2, 11))
    exc = SyncException.objects.get(reason_code="dates_outside_period")
    assert exc.owner_team == "finance" and odd.reference in exc.message
    for batch in s.journal_batches.all():
        with pytest.raises(SettlementError) as refused:
            journal_batch_mark_ready(batch=batch, user=accounting_user)
        assert "outside its period 2024-01-24 to 2024-02-11" in str(refused.value)
        assert odd.entry_date.isoformat() in str(refused.value)
    assert not s.journal_batches.exclude(status="draft").exists()

    # moved back into the period: the exception resolves and the batches can go ahead
    SettlementLine.objects.filter(settlement=s, line_number=3).update(
        posted_date=date(2024, 1, 30)
    )
    settlement_journal_build(settlement=s)
    exc.refresh_from_db()
    assert exc.status == SyncException.Status.RESOLVED
    for batch in s.journal_batches.filter(kind="journal"):
        journal_batch_mark_ready(batch=batch, user=accounting_user)


# --------------------------------------------------------------------------- admin


def test_admin_says_why_and_records_an_adjustment(account, client, accounting_user,
                                                  accounting_user2):
    s = do_import(account, settlement_file(total="999.99"))
    feb = batches(s)[1]
    client.force_login(accounting_user)
    changelist = reverse("admin:settlements_journalbatch_changelist")
    response = client.post(changelist, {"action": "mark_ready", "_selected_action": [feb.pk]},
                           follow=True)
    text = response.content.decode()
    assert "does not reconcile" in text and "908.46 EUR is unexplained" in text
    assert "Traceback" not in text

    change = client.get(reverse("admin:settlements_journalbatch_change", args=[feb.pk]))
    adjust_url = reverse("admin:settlements_journalbatch_adjust", args=[feb.pk])
    button = reverse("admin:settlements_journalbatch_adjust_button", args=[feb.pk])
    assert button in change.content.decode()  # a button on the batch page
    assert client.get(button)["Location"] == adjust_url
    page = client.get(adjust_url)
    assert page.status_code == 200
    assert re.search(r"Unexplained</th><td[^>]*><strong>908.46 EUR", page.content.decode())
    refused = client.post(adjust_url, {"account": GLAccount.objects.get(code="4900").pk,
                                       "amount": "908.46", "explanation": "x"})
    assert refused.status_code == 200 and "Say why" in refused.content.decode()
    done = client.post(adjust_url, {"account": GLAccount.objects.get(code="4900").pk,
                                    "amount": "908.46", "explanation": EXPLANATION})
    assert done.status_code == 302
    change = client.get(reverse("admin:settlements_journalbatch_change", args=[feb.pk]))
    assert EXPLANATION in change.content.decode()  # shown with the journal lines
    recon = client.get(reverse("admin:settlements_settlement_reconciliation", args=[s.pk]))
    assert "explained adjustments" in recon.content.decode()
    response = client.post(changelist, {"action": "mark_ready", "_selected_action": [feb.pk]},
                           follow=True)
    feb.refresh_from_db()
    assert feb.status == "ready"
