"""What every settlement service shares: the errors a business rule raises, the flow name
exceptions are recorded under, and the small helpers of journal lines and batches."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db.models import Sum

from marketplaces.models import SellerAccount

from ..models import GLAccount, JournalBatch

FLOW = "settlements"
ZERO = Decimal("0")


class SettlementError(Exception):
    """A business rule refused the operation; the message says why."""


class FourEyesViolation(SettlementError):
    pass


class ImmutableBatch(SettlementError):
    pass


def settlement_key(account: SellerAccount, settlement_id: str) -> str:
    """The object key of a settlement's exceptions."""
    return f"{account.selling_partner_id}/{settlement_id}"


def special_account(role: str) -> GLAccount:
    """The active GL account with ``role`` (Amazon clearing, bank clearing)."""
    account = GLAccount.objects.filter(role=role, active=True).first()
    if account is None:
        raise SettlementError(
            f"no active GL account has the role {role!r}: set one in GL accounts"
        )
    return account


def signed_line(gl_id: int, role: str, day: date, amount: Decimal, memo: str):
    """A positive settlement amount is owed to us: credit; negative: debit."""
    if amount > 0:
        return (gl_id, role, day, ZERO, amount, memo)
    return (gl_id, role, day, -amount, ZERO, memo)


def batch_totals_refresh(batch: JournalBatch) -> None:
    """Set the batch's debit and credit totals from its lines (the caller saves)."""
    totals = batch.lines.aggregate(d=Sum("debit"), c=Sum("credit"))
    batch.debit_total = totals["d"] or ZERO
    batch.credit_total = totals["c"] or ZERO


def batch_lock(batch: JournalBatch) -> JournalBatch:
    return JournalBatch.objects.select_for_update().get(pk=batch.pk)


def refuse_locked(batch: JournalBatch, action: str) -> None:
    if batch.is_locked:
        raise ImmutableBatch(
            f"{batch.reference} is {batch.get_status_display().lower()}: it cannot be "
            f"{action}. Corrections are reversal batches."
        )
