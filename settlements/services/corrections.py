"""Corrections of journal batches: explained adjustments on a draft or ready batch,
reversal of an approved one (then a fresh generation), deletion of a draft."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from amazonsync.money import decimals, quantize
from amazonsync.money import display as money_display

from ..models import GLAccount, JournalBatch, JournalLine
from .approval import user_is_accountant
from .base import (
    FourEyesViolation,
    SettlementError,
    batch_lock,
    batch_totals_refresh,
    refuse_locked,
    signed_line,
    special_account,
)
from .journals import settlement_journal_build
from .reconciliation import settlement_reconcile

ADJUSTMENT_EXPLANATION_MIN = 10
ADJUSTMENT_MAX = Decimal("1e12")


def journal_batch_add_adjustment(
    *, batch: JournalBatch, account: GLAccount, amount: Decimal, explanation: str, user,
) -> JournalLine:
    """Record an explained adjustment on a draft or ready batch: ``amount`` on ``account``
    against Amazon clearing (positive: owed to us, credited to ``account``; negative:
    debited), dated the batch's entry date, with who recorded it and why.

    This is how an accountant explains settlement drift: the batch stays balanced, the
    amount left on Amazon clearing shrinks by ``amount``, and the batch goes back to draft
    with the accountant as its last changer (so someone else approves it)."""
    with transaction.atomic():
        batch = batch_lock(batch)
        refuse_locked(batch, "adjusted")
        if not user_is_accountant(user):
            raise FourEyesViolation("Only members of the Accounting group record adjustments.")
        if batch.kind != JournalBatch.Kind.JOURNAL:
            raise SettlementError(
                f"{batch.reference} is a reversal: adjust the month's journal batch instead."
            )
        explanation = _adjustment_explanation(explanation)
        amount = _adjustment_amount(amount, batch.currency)
        account = _adjustment_account(account)
        clearing = special_account(GLAccount.Role.AMAZON_CLEARING)
        if account.pk == clearing.pk:
            raise SettlementError(
                f"{account} is the Amazon clearing account the adjustment is booked against: "
                "choose the account the difference belongs to."
            )
        memo = f"Adjustment: {explanation}"
        pair = [
            signed_line(account.pk, JournalLine.Role.ADJUSTMENT, batch.entry_date, amount,
                        memo),
            signed_line(clearing.pk, JournalLine.Role.ADJUSTMENT, batch.entry_date, -amount,
                        memo),
        ]
        JournalLine.objects.bulk_create(
            [
                JournalLine(
                    batch=batch, gl_account_id=gl_id, role=role, entry_date=day, debit=debit,
                    credit=credit, currency=batch.currency, memo=text[:255],
                    explanation=explanation, recorded_by=user,
                )
                for gl_id, role, day, debit, credit, text in pair
            ]
        )
        batch_totals_refresh(batch)
        batch.status = JournalBatch.Status.DRAFT
        batch.last_changed_by = user
        batch.ready_by, batch.ready_at = None, None
        batch._change_reason = (f"Explained adjustment of {money_display(amount, batch.currency)}"
                                f" on {account.code} recorded by {user}: back to draft")
        batch.save(update_fields=["debit_total", "credit_total", "status", "last_changed_by",
                                  "ready_by", "ready_at"])
        settlement_reconcile(settlement=batch.settlement)
        return batch.lines.filter(gl_account=account, role=JournalLine.Role.ADJUSTMENT).latest(
            "pk"
        )


def _adjustment_explanation(explanation: str) -> str:
    explanation = (explanation or "").strip()
    if len(explanation) < ADJUSTMENT_EXPLANATION_MIN:
        raise SettlementError(
            "Say why the adjustment is needed (at least "
            f"{ADJUSTMENT_EXPLANATION_MIN} characters): it is kept with the journal "
            "and shown to whoever approves it."
        )
    return explanation


def _adjustment_amount(amount, currency: str) -> Decimal:
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    except (ArithmeticError, ValueError):
        value = None
    if value is None or not value.is_finite():
        raise SettlementError(f'"{amount}" is not an amount: write it like 908.46 or -12.50.')
    if not value:
        raise SettlementError("An adjustment of zero explains nothing.")
    places = decimals(currency)
    if value != quantize(value, currency):
        raise SettlementError(
            f"{value} {currency} has more decimal places than {currency} allows ({places})."
        )
    if abs(value) >= ADJUSTMENT_MAX:
        raise SettlementError(f"{value} {currency} is too large for an adjustment.")
    return quantize(value, currency)


def _adjustment_account(account) -> GLAccount:
    account = GLAccount.objects.filter(pk=getattr(account, "pk", account)).first()
    if account is None or not account.active:
        raise SettlementError("Choose an active GL account for the adjustment.")
    return account


def journal_batch_delete(*, batch: JournalBatch, user=None) -> None:
    with transaction.atomic():
        batch = batch_lock(batch)
        refuse_locked(batch, "deleted")
        batch.lines.all().delete()
        batch.delete()


def journal_batch_reverse(*, batch: JournalBatch, user) -> JournalBatch:
    """Correct an approved or exported batch: a reversal batch (debits and credits
    swapped) in draft, then a fresh generation of the month's batch is built."""
    with transaction.atomic():
        batch = batch_lock(batch)
        if not batch.is_locked:
            raise SettlementError(
                f"{batch.reference} is not approved yet: rebuild or edit it instead."
            )
        if batch.kind != JournalBatch.Kind.JOURNAL:
            raise SettlementError("A reversal cannot itself be reversed.")
        if JournalBatch.objects.filter(reverses=batch).exists():
            raise SettlementError(f"{batch.reference} is already reversed.")
        reversal = JournalBatch.objects.create(
            settlement=batch.settlement, period=batch.period, kind=JournalBatch.Kind.REVERSAL,
            generation=batch.generation, reverses=batch, currency=batch.currency,
            entry_date=batch.entry_date, reference=f"{batch.reference}-REV"[:64],
            prepared_by=user, last_changed_by=user,
        )
        JournalLine.objects.bulk_create(
            [
                JournalLine(
                    batch=reversal, gl_account_id=x.gl_account_id, role=x.role,
                    entry_date=x.entry_date, debit=x.credit, credit=x.debit,
                    currency=x.currency, memo=f"Reversal: {x.memo}"[:255],
                    explanation=x.explanation, recorded_by_id=x.recorded_by_id,
                )
                for x in batch.lines.order_by("pk")
            ]
        )
        batch_totals_refresh(reversal)
        reversal._change_reason = f"Reversal of {batch.reference} prepared by {user}"
        reversal.save(update_fields=["debit_total", "credit_total"])
        settlement_journal_build(settlement=batch.settlement, user=user)
        return reversal
