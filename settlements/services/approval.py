"""The four-eyes workflow of a journal batch: draft -> ready (mapped, balanced, its
settlement reconciled) -> approved by a second member of the Accounting group."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from amazonsync.money import fmt as fmt_money

from ..models import JournalBatch
from ..selectors import settlement_unexplained
from .base import FourEyesViolation, SettlementError, batch_lock, refuse_locked
from .reconciliation import dates_outside_period, describe_outside

ACCOUNTING_GROUP = "Accounting"


def _balance_problems(batch: JournalBatch) -> list[str]:
    rows = batch.lines.values("currency").annotate(d=Sum("debit"), c=Sum("credit"))
    return [
        f"{r['currency']}: debit {r['d']} ≠ credit {r['c']}" for r in rows if r["d"] != r["c"]
    ]


def _reconcile_problems(batch: JournalBatch, action: str) -> list[str]:
    """Why ``batch`` cannot be ``action`` because of its settlement, in plain words."""
    if batch.kind != JournalBatch.Kind.JOURNAL:
        return []  # a reversal takes back what was approved; nothing to reconcile
    settlement = batch.settlement
    problems = []
    outside = dates_outside_period(settlement)
    if outside:
        problems.append(describe_outside(settlement, outside))
    u = settlement_unexplained(settlement)
    if u.drift:
        currency = settlement.currency
        money = lambda value: fmt_money(value, currency)  # noqa: E731
        causes = []
        if settlement.internal_drift:
            causes.append(
                f"Amazon's total is {money(settlement.total_amount)} {currency} but its lines "
                f"add up to {money(settlement.sum_of_lines)} {currency}"
            )
        if u.unmapped_lines:
            causes.append(f"{u.unmapped_lines} of its lines have no GL mapping")
        cause = "; ".join(causes) or "the journal was built with rounding differences"
        adjusted = (
            f", adjustments explain {money(u.adjusted)} {currency}" if u.adjusted else ""
        )
        problems.append(
            f"Settlement {settlement.settlement_id} does not reconcile: {cause}. The journal "
            f"books {money(u.total)} {currency} received against {money(u.booked)} "
            f"{currency} of lines{adjusted}, so {money(u.drift)} {currency} is unexplained "
            "and would be left on Amazon clearing. Record an explained adjustment of "
            f"{money(u.drift)} {currency} on one of its batches (or add the missing GL "
            f"mappings and rebuild) before it can be {action}."
        )
    return problems


def _refuse_unreconciled(batch: JournalBatch, action: str) -> None:
    problems = _reconcile_problems(batch, action)
    if problems:
        raise SettlementError(f"{batch.reference} cannot be {action}. " + " ".join(problems))


def journal_batch_mark_ready(*, batch: JournalBatch, user) -> JournalBatch:
    """Draft -> ready: every line mapped, the batch balanced per currency, and its
    settlement reconciled (no unexplained drift, every journal date in its period)."""
    with transaction.atomic():
        batch = batch_lock(batch)
        refuse_locked(batch, "marked ready")
        if batch.status == JournalBatch.Status.READY:
            return batch
        if batch.unmapped_lines:
            raise SettlementError(
                f"{batch.reference} has {batch.unmapped_lines} unmapped settlement lines: "
                "add GL mapping rules and retry before it can leave draft."
            )
        if not batch.lines.exists():
            raise SettlementError(f"{batch.reference} has no lines.")
        problems = _balance_problems(batch)
        if problems:
            raise SettlementError(f"{batch.reference} does not balance: {'; '.join(problems)}")
        _refuse_unreconciled(batch, "marked ready")
        batch.status = JournalBatch.Status.READY
        batch.last_changed_by = user
        batch.ready_by = user
        batch.ready_at = timezone.now()
        batch._change_reason = f"Marked ready for approval by {user}"
        batch.save(update_fields=["status", "last_changed_by", "ready_by", "ready_at"])
        return batch


def journal_batch_return_to_draft(*, batch: JournalBatch, user) -> JournalBatch:
    with transaction.atomic():
        batch = batch_lock(batch)
        refuse_locked(batch, "returned to draft")
        batch.status = JournalBatch.Status.DRAFT
        batch.last_changed_by = user
        batch.ready_by, batch.ready_at = None, None
        batch._change_reason = f"Returned to draft by {user}"
        batch.save(update_fields=["status", "last_changed_by", "ready_by", "ready_at"])
        return batch


def user_is_accountant(user) -> bool:
    return bool(
        user is not None
        and user.is_active
        and user.groups.filter(name=ACCOUNTING_GROUP).exists()
        and user.has_perm("settlements.approve_journalbatch")
    )


def journal_batch_approve(*, batch: JournalBatch, user) -> JournalBatch:
    """Ready -> approved by a second person of the Accounting group (four eyes), while
    its settlement still reconciles."""
    with transaction.atomic():
        batch = batch_lock(batch)
        refuse_locked(batch, "approved again")
        if not user_is_accountant(user):
            raise FourEyesViolation("Only members of the Accounting group approve journals.")
        if batch.status != JournalBatch.Status.READY:
            raise SettlementError(f"{batch.reference} must be ready for approval first.")
        if user.pk in (batch.prepared_by_id, batch.last_changed_by_id):
            raise FourEyesViolation(
                f"{user} prepared or last changed {batch.reference}: another accountant "
                "must approve it (four eyes)."
            )
        problems = _balance_problems(batch)
        if problems or batch.unmapped_lines:
            raise SettlementError(f"{batch.reference} is not balanced or not fully mapped.")
        _refuse_unreconciled(batch, "approved")
        batch.status = JournalBatch.Status.APPROVED
        batch.approved_by = user
        batch.approved_at = timezone.now()
        batch._change_reason = f"Approved by {user} (four eyes)"
        batch.save(update_fields=["status", "approved_by", "approved_at"])
        return batch
