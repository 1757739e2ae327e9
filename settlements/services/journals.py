"""Journal building: a settlement's lines, summed per accounting month and mapped to GL
accounts, become one journal batch per month (plus the deposit), rebuilt while in draft.

:func:`settlement_journal_build` plans the lines every month should have
(:func:`_plan_journal`), writes the months whose batch is missing or different, and
records (or resolves) the finance exceptions of unmapped lines and of dates outside the
settlement's period, then reconciles."""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from amazonsync.models import SyncException, Team
from amazonsync.money import fmt as fmt_money
from amazonsync.money import quantize
from amazonsync.services import exception_record, exception_resolve, register_retry

from ..models import GLAccount, JournalBatch, JournalLine, Settlement, SettlementLine
from ..parsers import LineTotals
from ..selectors import GLMapper, active_batches
from .base import (
    FLOW,
    ZERO,
    batch_totals_refresh,
    settlement_key,
    signed_line,
    special_account,
)
from .reconciliation import dates_outside_period_record, settlement_reconcile


def _period_of(day: date) -> date:
    return day.replace(day=1)


def _period_end(period: date) -> date:
    return period.replace(day=calendar.monthrange(period.year, period.month)[1])


@dataclass
class _Group:
    period: date
    transaction_type: str
    amount_type: str
    amount_description: str
    amount: Decimal
    count: int


def settlement_line_groups(
    settlement: Settlement, *, totals: LineTotals | None = None
) -> list[_Group]:
    """Lines summed by accounting month and (type, amount type, description): from the
    totals gathered while the lines were imported, else in SQL."""
    if totals is not None:
        rows = [
            {"month": month, "transaction_type": t, "amount_type": a, "amount_description": d,
             "total": amount, "n": n}
            for (month, t, a, d), (amount, n) in totals.groups().items()
        ]
    else:
        rows = (
            SettlementLine.objects.filter(settlement=settlement)
            .annotate(month=TruncMonth("posted_date"))
            .values("month", "transaction_type", "amount_type", "amount_description")
            .annotate(total=Sum("amount"), n=Count("id"))
            .order_by()
        )
    fallback = _period_of(settlement.end_date.date())
    merged: dict[tuple, _Group] = {}
    for row in rows:
        month = row["month"]
        if isinstance(month, datetime):
            month = month.date()
        period = month or fallback
        key = (period, row["transaction_type"], row["amount_type"], row["amount_description"])
        group = merged.get(key)
        if group is None:
            merged[key] = _Group(period, *key[1:], amount=row["total"] or ZERO, count=row["n"])
        else:
            group.amount += row["total"] or ZERO
            group.count += row["n"]
    return sorted(
        merged.values(),
        key=lambda g: (g.period, g.transaction_type, g.amount_type, g.amount_description),
    )


# --------------------------------------------------------------------------- planning


@dataclass
class _Plan:
    """The journal lines one period should have."""

    period: date
    lines: list[tuple[int, str, date, Decimal, Decimal, str]] = field(default_factory=list)
    unmapped: int = 0
    unmapped_groups: list[dict] = field(default_factory=list)


def _plan_journal(
    settlement: Settlement, totals: LineTotals | None = None
) -> dict[date, _Plan]:
    """{period: the journal lines it should have}: the mapped lines per GL account and
    their clearing per month, then the deposit."""
    clearing = special_account(GLAccount.Role.AMAZON_CLEARING)
    bank = special_account(GLAccount.Role.BANK_CLEARING)
    plans: dict[date, _Plan] = {}
    per_account = _plan_mapping(settlement, totals, plans)
    names = dict(GLAccount.objects.values_list("pk", "name"))
    for period, plan in plans.items():
        _plan_period_lines(settlement, plan, per_account[period], names, clearing)
    _plan_deposit(settlement, plans, bank=bank, clearing=clearing)
    return plans


def _plan_mapping(
    settlement: Settlement, totals: LineTotals | None, plans: dict[date, _Plan]
) -> dict[date, dict[int, Decimal]]:
    """Sum the line groups per period and GL account; count the unmapped ones in ``plans``
    (a plan for every period that has lines)."""
    mapper = GLMapper()
    per_account: dict[date, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for g in settlement_line_groups(settlement, totals=totals):
        plan = plans.setdefault(g.period, _Plan(g.period))
        rule = mapper.rule_for(
            g.transaction_type, g.amount_type, g.amount_description, settlement.marketplace_id
        )
        if rule is None:
            plan.unmapped += g.count
            plan.unmapped_groups.append(
                {
                    "period": g.period.isoformat(),
                    "transaction_type": g.transaction_type,
                    "amount_type": g.amount_type,
                    "amount_description": g.amount_description,
                    "lines": g.count,
                    "amount": str(g.amount),
                }
            )
            continue
        per_account[g.period][rule.gl_account_id] += g.amount
    return per_account


def _plan_period_lines(
    settlement: Settlement, plan: _Plan, per_account: dict[int, Decimal],
    names: dict[int, str], clearing: GLAccount,
) -> None:
    """One line per GL account (rounded to the currency) and Amazon clearing for their net,
    dated the period's last day within the settlement."""
    period = plan.period
    day = min(_period_end(period), settlement.end_date.date())
    day = max(day, period)
    net = ZERO
    for gl_id, amount in sorted(per_account.items()):
        rounded = quantize(amount, settlement.currency)
        if rounded == 0:
            continue
        net += rounded
        plan.lines.append(
            signed_line(gl_id, JournalLine.Role.LINE, day, rounded,
                        f"Amazon settlement {settlement.settlement_id} · {names[gl_id]}")
        )
    if net:
        plan.lines.append(
            signed_line(clearing.pk, JournalLine.Role.CLEARING, day, -net,
                        f"Amazon settlement {settlement.settlement_id} · clearing")
        )


def _plan_deposit(
    settlement: Settlement, plans: dict[date, _Plan], *, bank: GLAccount, clearing: GLAccount,
) -> None:
    """The deposit: bank clearing against Amazon clearing, on the deposit date."""
    total = quantize(settlement.total_amount, settlement.currency)
    if not total:
        return
    deposit_day = (settlement.deposit_date or settlement.end_date).date()
    period = _period_of(deposit_day)
    plan = plans.setdefault(period, _Plan(period))
    memo = f"Amazon settlement {settlement.settlement_id} · deposit"
    plan.lines.append(signed_line(bank.pk, JournalLine.Role.DEPOSIT, deposit_day, -total,
                                  memo))
    plan.lines.append(signed_line(clearing.pk, JournalLine.Role.DEPOSIT, deposit_day,
                                  total, memo))


# --------------------------------------------------------------------------- writing


def _batch_lines_signature(batch: JournalBatch) -> list[tuple]:
    """The batch's lines built from the settlement (adjustments are the accountants')."""
    return sorted(
        (x.gl_account_id, x.role, x.entry_date, x.debit, x.credit, x.memo)
        for x in batch.lines.exclude(role=JournalLine.Role.ADJUSTMENT)
    )


def _write_lines(batch: JournalBatch, plan_lines: list[tuple], currency: str) -> None:
    JournalLine.objects.bulk_create(
        [
            JournalLine(
                batch=batch, gl_account_id=gl_id, role=role, entry_date=day, debit=debit,
                credit=credit, currency=currency, memo=memo[:255],
            )
            for gl_id, role, day, debit, credit, memo in plan_lines
        ]
    )
    batch_totals_refresh(batch)


def _batch_create(settlement: Settlement, plan: _Plan, user) -> JournalBatch:
    """The month's batch (a new generation when the previous one was reversed)."""
    period = plan.period
    generation = (
        settlement.journal_batches.filter(period=period, kind=JournalBatch.Kind.JOURNAL).count()
        + 1
    )
    suffix = f"-G{generation}" if generation > 1 else ""
    batch = JournalBatch.objects.create(
        settlement=settlement, period=period, generation=generation,
        currency=settlement.currency,
        entry_date=min(_period_end(period), max(settlement.end_date.date(), period)),
        reference=f"AMZ-{settlement.settlement_id}-{period:%Y-%m}{suffix}",
        unmapped_lines=plan.unmapped, prepared_by=user, last_changed_by=user,
    )
    _write_lines(batch, plan.lines, settlement.currency)
    batch._change_reason = "Journal lines built from the settlement lines and the GL mapping"
    batch.save(update_fields=["debit_total", "credit_total"])
    return batch


def _batch_rebuild(settlement: Settlement, batch: JournalBatch, plan: _Plan, user) -> bool:
    """Rewrite a draft or ready batch whose lines differ from ``plan``: back to draft.
    False when it already has them."""
    wanted = sorted(plan.lines)
    if wanted == _batch_lines_signature(batch) and batch.unmapped_lines == plan.unmapped:
        return False
    # explained adjustments stay: an accountant recorded them
    batch.lines.exclude(role=JournalLine.Role.ADJUSTMENT).delete()
    _write_lines(batch, plan.lines, settlement.currency)
    batch.unmapped_lines = plan.unmapped
    batch.status = JournalBatch.Status.DRAFT
    batch.ready_by, batch.ready_at = None, None
    batch._change_reason = "Rebuilt from the settlement lines and the GL mapping: back to draft"
    if user is not None:
        batch.last_changed_by = user
    batch.save(
        update_fields=["debit_total", "credit_total", "unmapped_lines", "status",
                       "last_changed_by", "ready_by", "ready_at"]
    )
    return True


def _batches_without_lines_delete(
    active: dict[date, JournalBatch], plans: dict[date, _Plan]
) -> None:
    """Batches for months that no longer have lines (cannot happen for Amazon data, but
    keep the books honest): remove drafts, leave locked ones and explained adjustments."""
    for period, batch in active.items():
        if (period not in plans and not batch.is_locked
                and not batch.lines.filter(role=JournalLine.Role.ADJUSTMENT).exists()):
            batch.lines.all().delete()
            batch.delete()


def _unmapped_record(settlement: Settlement, plans: dict[date, _Plan], run=None) -> int:
    """One finance exception per settlement naming its unmapped groups, resolved once every
    line maps. Returns the number of unmapped lines."""
    unmapped = sum(p.unmapped for p in plans.values())
    key = settlement_key(settlement.account, settlement.settlement_id)
    if not unmapped:
        exception_resolve(
            flow=FLOW, object_kind="settlement", object_key=key,
            reason_code="unmapped_lines", note="resolved: every line now has a GL mapping",
        )
        return 0
    groups = [g for p in plans.values() for g in p.unmapped_groups]
    described = "; ".join(
        f"{g['transaction_type']} / {g['amount_type']} / {g['amount_description']}"
        f" ({g['lines']} lines, {fmt_money(Decimal(g['amount']), settlement.currency)})"
        for g in groups[:10]
    )
    exception_record(
        flow=FLOW, account=settlement.account, marketplace=settlement.marketplace,
        object_kind="settlement", object_key=key, reason_code="unmapped_lines",
        owner_team=Team.FINANCE, run=run,
        message=(
            f"{unmapped} lines of settlement {settlement.settlement_id} have no GL "
            f"mapping: {described}. Add GL mapping rules, then retry."
        ),
        payload={"settlement": settlement.pk, "groups": groups},
    )
    return unmapped


def settlement_journal_build(
    *, settlement: Settlement, user=None, run=None, totals: LineTotals | None = None,
) -> list[JournalBatch]:
    """(Re)build the settlement's journal batches, one per accounting month.

    ``totals``: the line totals gathered while the import streamed the lines (only the
    import passes them, in the transaction that stored those lines); without them the
    stored lines are summed in SQL.

    Draft and ready batches are rebuilt (a ready batch whose lines change goes back to
    draft); approved and exported batches are never touched. A month whose batch was
    reversed gets a new generation. Unmapped lines keep their batch in draft and are
    reported as one finance exception per settlement; once every line maps, it resolves.
    """
    with transaction.atomic():
        settlement = Settlement.objects.select_for_update().get(pk=settlement.pk)
        plans = _plan_journal(settlement, totals)
        active = {b.period: b for b in active_batches(settlement)}
        touched: list[JournalBatch] = []
        for period, plan in sorted(plans.items()):
            batch = active.get(period)
            if batch is None:
                touched.append(_batch_create(settlement, plan, user))
            elif not batch.is_locked and _batch_rebuild(settlement, batch, plan, user):
                touched.append(batch)
        _batches_without_lines_delete(active, plans)
        settlement.unmapped_lines = _unmapped_record(settlement, plans, run=run)
        settlement.save(update_fields=["unmapped_lines"])
        dates_outside_period_record(settlement, run=run)
        settlement_reconcile(settlement=settlement, totals=totals)
        return touched


@register_retry("settlement")
def _retry_settlement(exc: SyncException) -> bool:
    """Retry of an unmapped-lines exception: rebuild the journal with today's rules."""
    if exc.reason_code != "unmapped_lines":
        return False
    settlement = Settlement.objects.filter(pk=exc.payload.get("settlement")).first()
    if settlement is None:
        return False
    settlement_journal_build(settlement=settlement)
    settlement.refresh_from_db(fields=["unmapped_lines"])
    return settlement.unmapped_lines == 0


def settlement_retry(*, settlement: Settlement, user=None) -> Settlement:
    """Rebuild journals with the current mapping rules and reconcile again."""
    settlement_journal_build(settlement=settlement, user=user)
    settlement.refresh_from_db()
    return settlement
