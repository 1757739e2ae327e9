"""Reconciliation: what a settlement's journal, bank deposit and reserves leave unexplained.

:func:`settlement_reconcile` recomputes the drift a settlement shows (internal, journal,
deposit, reserve, order issues); journal dates must fall in the settlement's period (a
finance exception while they do not). Reserve continuity is checked only against the
settlement right before (:mod:`settlements.series`); a new settlement has the ones right
after it checked again (:func:`settlement_successors_recheck`), so a series imported in
any order ends with the same figures. What the approval checks refuse on is
:func:`settlements.selectors.settlement_unexplained`."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from amazonsync.models import Team
from amazonsync.money import quantize
from amazonsync.services import exception_record, exception_resolve

from ..models import GLAccount, JournalLine, Settlement, SettlementLine
from ..parsers import LineTotals
from ..selectors import active_batches, order_reconciliation
from ..series import previous_settlement, settlements_after
from .base import FLOW, ZERO, settlement_key

PREVIOUS_RESERVE = "previous reserve amount balance"
CURRENT_RESERVE = "current reserve amount"
PERIOD_SLACK = timedelta(days=1)


def settlement_record_deposit(
    *, settlement: Settlement, amount: Decimal | None, user=None
) -> Settlement:
    """Record the amount that reached the bank; deposit drift follows."""
    with transaction.atomic():
        settlement = Settlement.objects.select_for_update().get(pk=settlement.pk)
        settlement.bank_deposit_amount = amount
        settlement.save(update_fields=["bank_deposit_amount"])
        return settlement_reconcile(settlement=settlement)


def _is_reserve(value: str) -> bool:
    return value.upper() in (PREVIOUS_RESERVE.upper(), CURRENT_RESERVE.upper())


def _reserve_sums(
    settlement: Settlement, totals: LineTotals | None = None
) -> tuple[Decimal, Decimal]:
    if totals is not None:
        rows = [
            (ttype, desc, amount)
            for (_, ttype, _, desc), (amount, _) in totals.groups().items()
            if _is_reserve(ttype) or _is_reserve(desc)
        ]
    else:
        rows = (
            SettlementLine.objects.filter(settlement=settlement)
            .filter(
                Q(transaction_type__iexact=PREVIOUS_RESERVE)
                | Q(transaction_type__iexact=CURRENT_RESERVE)
                | Q(amount_description__iexact=PREVIOUS_RESERVE)
                | Q(amount_description__iexact=CURRENT_RESERVE)
            )
            .values_list("transaction_type", "amount_description", "amount")
        )
    previous = current = ZERO
    for ttype, desc, amount in rows:
        kind = ttype.lower() if ttype.lower() in (PREVIOUS_RESERVE, CURRENT_RESERVE) else (
            desc.lower()
        )
        if kind == PREVIOUS_RESERVE:
            previous += amount
        else:
            current += amount
    return previous, current


def settlement_reconcile(
    *, settlement: Settlement, totals: LineTotals | None = None
) -> Settlement:
    """Recompute internal, journal, deposit and reserve drift (and order issues).

    ``totals``: see :func:`settlement_journal_build` (the import's line totals)."""
    s = settlement
    currency = s.currency
    s.internal_drift = s.total_amount - s.sum_of_lines
    net = (
        JournalLine.objects.filter(
            batch__in=active_batches(s), role=JournalLine.Role.LINE
        ).aggregate(c=Sum("credit"), d=Sum("debit"))
    )
    s.journal_net = (net["c"] or ZERO) - (net["d"] or ZERO)
    adjusted = (
        JournalLine.objects.filter(
            batch__in=active_batches(s), role=JournalLine.Role.ADJUSTMENT
        )
        .exclude(gl_account__role=GLAccount.Role.AMAZON_CLEARING)
        .aggregate(c=Sum("credit"), d=Sum("debit"))
    )
    s.adjustment_net = (adjusted["c"] or ZERO) - (adjusted["d"] or ZERO)
    # what the journal does not account for: explained adjustments count
    s.journal_drift = quantize(
        s.total_amount - s.journal_net - s.adjustment_net, currency
    )
    s.deposit_drift = (
        None if s.bank_deposit_amount is None else s.total_amount - s.bank_deposit_amount
    )
    s.previous_reserve, s.current_reserve = _reserve_sums(s, totals)
    s.reserve_drift = _reserve_drift(s)
    orders = order_reconciliation(s, totals=totals)
    s.order_issues = None if orders is None else len(orders.issues)
    s.has_drift = _has_drift(s)
    s.reconciled_at = timezone.now()
    s.save(
        update_fields=[
            "internal_drift", "journal_net", "adjustment_net", "journal_drift",
            "deposit_drift",
            "previous_reserve", "current_reserve", "reserve_drift", "order_issues",
            "has_drift", "reconciled_at",
        ]
    )
    return s


def _reserve_drift(s: Settlement) -> Decimal | None:
    """Amazon releases the reserve the settlement right before held back (negative) as
    this one's previous reserve balance (positive): they must cancel out. None when that
    settlement is not imported (a gap, not drift)."""
    before = previous_settlement(s)
    if before is None:
        return None
    return s.previous_reserve + before.current_reserve


def _has_drift(s: Settlement) -> bool:
    return bool(
        s.internal_drift
        or s.journal_drift
        or (s.deposit_drift or ZERO)
        or (s.reserve_drift or ZERO)
        or s.unmapped_lines
    )


def settlement_successors_recheck(*, settlement: Settlement) -> list[Settlement]:
    """Check again the reserve continuity of the settlements that start when
    ``settlement`` ends (imported before it, they were checked without it, or against
    another one); returns those whose reserve drift or drift flag changed.

    The caller holds the series' lock (the import does) so that two settlements of a
    series imported at once each see the other once it is committed."""
    changed = []
    with transaction.atomic():
        for after in settlements_after(settlement):
            drift = _reserve_drift(after)
            if drift == after.reserve_drift:
                continue
            after.reserve_drift = drift
            after.has_drift = _has_drift(after)
            Settlement.objects.filter(pk=after.pk).update(
                reserve_drift=after.reserve_drift, has_drift=after.has_drift
            )
            changed.append(after)
    return changed


# --------------------------------------------------------------------------- period


def settlement_period(settlement: Settlement) -> tuple[date, date]:
    """The days a journal of ``settlement`` may be dated: from its start to the later of
    its end and deposit (UTC days, one day of slack either side for time zones)."""
    last = max(settlement.end_date, settlement.deposit_date or settlement.end_date)
    return (
        settlement.start_date.astimezone(UTC).date() - PERIOD_SLACK,
        last.astimezone(UTC).date() + PERIOD_SLACK,
    )


def dates_outside_period(settlement: Settlement) -> list[tuple[str, date]]:
    """(batch reference, date) of the active batches' journal dates outside the period."""
    first, last = settlement_period(settlement)
    outside = Q(entry_date__lt=first) | Q(entry_date__gt=last)
    batches = active_batches(settlement)
    found = {
        (ref, day)
        for ref, day in batches.filter(outside).values_list("reference", "entry_date")
    }
    found |= set(
        JournalLine.objects.filter(batch__in=batches).filter(outside)
        .values_list("batch__reference", "entry_date").distinct()
    )
    return sorted(found, key=lambda x: (x[1], x[0]))


def describe_outside(settlement: Settlement, outside: list[tuple[str, date]]) -> str:
    first, last = settlement_period(settlement)
    dates = ", ".join(f"{day.isoformat()} ({ref})" for ref, day in outside[:5])
    more = f" and {len(outside) - 5} more" if len(outside) > 5 else ""
    return (
        f"Settlement {settlement.settlement_id} has journal dates outside its period "
        f"{first.isoformat()} to {last.isoformat()}: {dates}{more}. Its lines were posted on "
        "dates that cannot be right; ask Amazon for a corrected report. None of its journal "
        "batches can be marked ready or approved as they stand."
    )


def dates_outside_period_record(settlement: Settlement, run=None) -> None:
    """A finance exception while journal dates fall outside the period; resolved once
    they all fall in it."""
    outside = dates_outside_period(settlement)
    key = settlement_key(settlement.account, settlement.settlement_id)
    if outside:
        exception_record(
            flow=FLOW, account=settlement.account, marketplace=settlement.marketplace,
            object_kind="settlement", object_key=key, reason_code="dates_outside_period",
            owner_team=Team.FINANCE, run=run,
            message=describe_outside(settlement, outside),
            payload={"settlement": settlement.pk,
                     "dates": [[ref, day.isoformat()] for ref, day in outside[:50]]},
        )
    else:
        exception_resolve(
            flow=FLOW, object_kind="settlement", object_key=key,
            reason_code="dates_outside_period",
            note="resolved: every journal date falls in the settlement period",
        )
