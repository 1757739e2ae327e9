"""Writes for settlements: import, GL mapping, journal batches, approval, export, and
reconciliation. Every function is atomic and takes keyword-only arguments."""

from __future__ import annotations

import calendar
import csv
import io
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fnmatch import fnmatchcase

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from amazonsync.flatfiles.reading import ReportFormatError, ReportSource
from amazonsync.models import SyncException, Team
from amazonsync.money import decimals, quantize
from amazonsync.money import fmt as fmt_money
from amazonsync.services import exception_record, exception_resolve, register_retry
from amazonsync.spreadsheets import neutralise
from marketplaces.models import Marketplace, SellerAccount

from .models import (
    GLAccount,
    GLMapping,
    JournalBatch,
    JournalLine,
    Settlement,
    SettlementLine,
)
from .parsers import (
    LINE_FIELDS,
    LineTotals,
    SettlementLineData,
    SettlementReport,
    parse_settlement,
)

log = logging.getLogger(__name__)

FLOW = "settlements"
ZERO = Decimal("0")
PREVIOUS_RESERVE = "previous reserve amount balance"
CURRENT_RESERVE = "current reserve amount"
ACCOUNTING_GROUP = "Accounting"
SQLITE_BATCH = 5000
PROGRESS_STEP = 10_000
PERIOD_SLACK = timedelta(days=1)
ADJUSTMENT_EXPLANATION_MIN = 10
ADJUSTMENT_MAX = Decimal("1e12")
# pg_advisory_xact_lock(class, key) namespace of settlement imports
ADVISORY_LOCK_SETTLEMENT = 7301


class SettlementError(Exception):
    """A business rule refused the operation; the message says why."""


class SettlementConflict(SettlementError):
    """A different file for a settlement that was already imported."""


class FourEyesViolation(SettlementError):
    pass


class ImmutableBatch(SettlementError):
    pass


# --------------------------------------------------------------------------- import


@dataclass
class ImportResult:
    settlement: Settlement
    created: bool
    conflict: bool = False
    message: str = ""


class _Tally:
    """Count, progress and line totals while lines stream past."""

    def __init__(self, report: SettlementReport, progress: Callable[[int], None] | None):
        from .selectors import order_line_kind

        self.report = report
        self.totals = LineTotals(classify=order_line_kind)
        self.progress = progress
        self.count = 0
        self._unreported = 0

    def advance(self, n: int) -> None:
        self.count += n
        if self.progress is not None:
            self._unreported += n
            if self._unreported >= PROGRESS_STEP:
                self.progress(self._unreported)
                self._unreported = 0

    def done(self) -> None:
        if self.progress is not None and self._unreported:
            self.progress(self._unreported)
            self._unreported = 0

    def watch(self, lines: Iterable[SettlementLineData]) -> Iterator[SettlementLineData]:
        add = self.totals.add
        count = 0
        for line in lines:
            add(line)
            count += 1
            if count == PROGRESS_STEP:
                self.advance(count)
                count = 0
            yield line
        self.advance(count)
        self.done()

    def chunks(self, prefix: str) -> Iterator[bytes]:
        """The lines as COPY text chunks (see SettlementReport.copy_chunks)."""
        for chunk, n in self.report.copy_chunks(prefix=prefix, totals=self.totals):
            self.advance(n)
            yield chunk
        self.done()

    @property
    def fingerprint(self) -> str:
        return self.report.fingerprint


def settlement_import(
    *,
    account: SellerAccount,
    source: ReportSource,
    name: str | None = None,
    report_document_id: str = "",
    progress: Callable[[int], None] | None = None,
    run=None,
) -> ImportResult:
    """Import one V2 settlement file (bytes, path or stream) for ``account``.

    One transaction: a file that fails stores nothing. Keyed on (account, settlement-id):
    the same content again changes nothing (``created=False``); different content for an
    already-imported settlement is a conflict exception owned by finance, never a replace.
    Raises :class:`ReportFormatError` for a bad file.
    """
    report = parse_settlement(source, name=name)
    summary = report.summary
    tally = _Tally(report, progress)
    with transaction.atomic():
        # Imports of one settlement take turns: the second waits here until the first has
        # committed, then finds it and is either unchanged or a recorded conflict.
        _claim_settlement(account, summary.settlement_id)
        existing = Settlement.objects.filter(
            account=account, settlement_id=summary.settlement_id
        ).first()
        if existing is not None:
            return _import_existing(
                existing, account=account, report=report, tally=tally, name=name,
                report_document_id=report_document_id, run=run,
            )
        try:
            with transaction.atomic():
                settlement = _create_settlement(
                    account=account, report=report, tally=tally, name=name,
                    report_document_id=report_document_id,
                )
        except IntegrityError:
            # Another writer stored this settlement first without taking the claim: the
            # unique key refused our settlement row, before any line was read.
            existing = Settlement.objects.filter(
                account=account, settlement_id=summary.settlement_id
            ).first()
            if existing is None or tally.count:
                raise
            return _import_existing(
                existing, account=account, report=report, tally=tally, name=name,
                report_document_id=report_document_id, run=run, race=True,
            )
        settlement_journal_build(settlement=settlement, run=run, totals=tally.totals)
        settlement.refresh_from_db()
    return ImportResult(settlement=settlement, created=True)


def _claim_settlement(account: SellerAccount, settlement_id: str) -> None:
    """Serialise imports of one (account, settlement-id) on PostgreSQL: a transaction-level
    advisory lock (released at commit or rollback). SQLite serialises every writing
    transaction already (BEGIN IMMEDIATE)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            [ADVISORY_LOCK_SETTLEMENT, f"{account.pk}/{settlement_id}"],
        )


def _create_settlement(
    *, account: SellerAccount, report: SettlementReport, tally: _Tally, name: str | None,
    report_document_id: str,
) -> Settlement:
    summary = report.summary
    settlement = Settlement.objects.create(
        account=account,
        settlement_id=summary.settlement_id,
        start_date=summary.start_date,
        end_date=summary.end_date,
        deposit_date=summary.deposit_date,
        total_amount=summary.total_amount,
        currency=summary.currency,
        columns=list(report.columns),
        summary_extra=summary.extra,
        fingerprint="",
        source_name=(name or report.source_name or "")[:255],
        report_document_id=report_document_id[:255],
        imported_at=timezone.now(),
    )
    _store_lines(settlement, tally)
    settlement.line_count = report.line_count
    settlement.sum_of_lines = report.sum_of_lines
    settlement.fingerprint = tally.fingerprint
    settlement.marketplace = _marketplace_for(tally.totals.marketplaces(), account)
    settlement.save(update_fields=["line_count", "sum_of_lines", "fingerprint", "marketplace"])
    # The lines were totalled while they streamed: nothing reads them back.
    return settlement


def _import_existing(
    existing: Settlement, *, account: SellerAccount, report: SettlementReport, tally: _Tally,
    name: str | None, report_document_id: str, run=None, race: bool = False,
) -> ImportResult:
    """The settlement is already stored: the same content changes nothing; different
    content is a conflict exception owned by finance, never a replace."""
    summary = report.summary
    for _ in tally.chunks("0"):  # the fingerprint, without storing anything
        pass
    if tally.fingerprint == existing.fingerprint:
        return ImportResult(settlement=existing, created=False)
    message = (
        f"Settlement {summary.settlement_id} was already imported from "
        f"{existing.source_name or 'another file'} ({existing.line_count} lines, total "
        f"{existing.total_amount} {existing.currency}); {name or 'this file'} has different "
        f"content ({report.line_count} lines, total {summary.total_amount} "
        f"{summary.currency}). Nothing was replaced: check with Amazon which one is right."
    )
    exception_record(
        flow=FLOW, account=account, marketplace=existing.marketplace,
        object_kind="settlement", object_key=_object_key(account, summary.settlement_id),
        reason_code="reissued_conflict", message=message, owner_team=Team.FINANCE,
        run=run,
        payload={
            "settlement_id": summary.settlement_id,
            "stored_fingerprint": existing.fingerprint,
            "new_fingerprint": tally.fingerprint,
            "stored_lines": existing.line_count,
            "new_lines": report.line_count,
            "stored_total": str(existing.total_amount),
            "new_total": str(summary.total_amount),
            "file": name or "",
            "stored_file": existing.source_name,
            "report_document_id": report_document_id,
            "concurrent": race,
        },
    )
    return ImportResult(settlement=existing, created=False, conflict=True, message=message)


def _object_key(account: SellerAccount, settlement_id: str) -> str:
    return f"{account.selling_partner_id}/{settlement_id}"


def _store_lines(settlement: Settlement, tally: _Tally) -> None:
    if connection.vendor == "postgresql":
        _copy_lines(settlement, tally)
    else:
        _bulk_create_lines(settlement, tally.watch(tally.report.lines()))


def _copy_lines(settlement: Settlement, tally: _Tally) -> None:
    """PostgreSQL COPY in text format: rows rendered by the parser, sent in ~1 MB chunks."""
    columns = ", ".join(("settlement_id", *LINE_FIELDS))
    table = SettlementLine._meta.db_table
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg 3 cursor
        with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            write = copy.write
            for chunk in tally.chunks(str(settlement.pk)):
                write(chunk)


def _bulk_create_lines(settlement: Settlement, lines: Iterable[SettlementLineData]) -> None:
    batch: list[SettlementLine] = []
    sid = settlement.pk
    for x in lines:
        batch.append(
            SettlementLine(
                settlement_id=sid, line_number=x.line, transaction_type=x.transaction_type,
                order_id=x.order_id, merchant_order_id=x.merchant_order_id,
                adjustment_id=x.adjustment_id, shipment_id=x.shipment_id,
                marketplace_name=x.marketplace_name, amount_type=x.amount_type,
                amount_description=x.amount_description, amount=x.amount,
                fulfillment_id=x.fulfillment_id, posted_date=x.posted_date,
                posted_date_time=x.posted_date_time, order_item_code=x.order_item_code,
                merchant_order_item_id=x.merchant_order_item_id,
                merchant_adjustment_item_id=x.merchant_adjustment_item_id, sku=x.sku,
                quantity_purchased=x.quantity_purchased, promotion_id=x.promotion_id,
                extra=x.extra,
            )
        )
        if len(batch) >= SQLITE_BATCH:
            SettlementLine.objects.bulk_create(batch)
            batch = []
    if batch:
        SettlementLine.objects.bulk_create(batch)


def _marketplace_for(names: dict[str, int], account: SellerAccount) -> Marketplace | None:
    """The marketplace most lines name (``Amazon.de`` -> amazon.de)."""
    if not names:
        return None
    by_domain = {m.domain.lower(): m for m in Marketplace.objects.all()}
    ranked = sorted(names.items(), key=lambda kv: -kv[1])
    for name, _ in ranked:
        key = name.strip().lower().removeprefix("www.")
        if key in by_domain:
            return by_domain[key]
    return None


# --------------------------------------------------------------------------- mapping


@dataclass(frozen=True)
class _Rule:
    pk: int
    fields: tuple[str, str, str]
    pattern: bool
    marketplace_id: str | None
    gl_account_id: int
    specificity: tuple[int, int, int, int]

    def matches(self, values: tuple[str, str, str], marketplace_id: str | None) -> bool:
        if self.marketplace_id is not None and self.marketplace_id != marketplace_id:
            return False
        for rule_value, value in zip(self.fields, values, strict=True):
            if not rule_value:
                continue
            if self.pattern:
                if not fnmatchcase(value.lower(), rule_value):
                    return False
            elif value.lower() != rule_value:
                return False
        return True


def _specificity(fields: tuple[str, str, str], pattern: bool, marketplace: bool):
    exact = literal = 0
    for value in fields:
        if not value:
            continue
        if not pattern or not any(ch in value for ch in "*?["):
            exact += 1
            literal += len(value)
        else:
            literal += sum(1 for ch in value if ch not in "*?[]")
    return (1 if marketplace else 0, exact, literal, 0)


class GLMapper:
    """Resolves (transaction type, amount type, description, marketplace) to a GL account.

    Loads the rules once; the most specific matching rule wins (ties: the oldest rule).
    """

    def __init__(self) -> None:
        rules = []
        for m in GLMapping.objects.filter(gl_account__active=True).order_by("pk"):
            fields = (
                m.transaction_type.strip().lower(),
                m.amount_type.strip().lower(),
                m.amount_description.strip().lower(),
            )
            rules.append(
                _Rule(
                    pk=m.pk, fields=fields, pattern=m.pattern,
                    marketplace_id=m.marketplace_id, gl_account_id=m.gl_account_id,
                    specificity=_specificity(fields, m.pattern, m.marketplace_id is not None),
                )
            )
        rules.sort(key=lambda r: (tuple(-x for x in r.specificity), r.pk))
        self.rules = rules
        self._cache: dict[tuple, _Rule | None] = {}

    def rule_for(
        self, transaction_type: str, amount_type: str, amount_description: str,
        marketplace_id: str | None = None,
    ) -> _Rule | None:
        key = (transaction_type, amount_type, amount_description, marketplace_id)
        if key not in self._cache:
            values = (transaction_type, amount_type, amount_description)
            self._cache[key] = next(
                (r for r in self.rules if r.matches(values, marketplace_id)), None
            )
        return self._cache[key]


def glmapping_resolve(
    *, transaction_type: str, amount_type: str, amount_description: str,
    marketplace: Marketplace | None = None,
) -> GLAccount | None:
    rule = GLMapper().rule_for(
        transaction_type, amount_type, amount_description,
        marketplace.pk if marketplace else None,
    )
    return GLAccount.objects.get(pk=rule.gl_account_id) if rule else None


def gl_account_pinned_by(account: GLAccount) -> str | None:
    """The reference of an approved or exported batch that uses ``account``, or None."""
    if account.pk is None:
        return None
    return (
        JournalBatch.objects.filter(
            lines__gl_account=account,
            status__in=[JournalBatch.Status.APPROVED, JournalBatch.Status.EXPORTED],
        )
        .order_by("pk")
        .values_list("reference", flat=True)
        .first()
    )


def gl_account_save(*, account: GLAccount, user=None) -> GLAccount:
    """Create or change a GL account. The code of an account used by an approved or
    exported batch is pinned: approved books re-export exactly as they were approved
    (on PostgreSQL a trigger holds this for any writer)."""
    with transaction.atomic():
        if account.pk is not None:
            stored = GLAccount.objects.select_for_update().filter(pk=account.pk).first()
            if stored is not None and stored.code != account.code:
                reference = gl_account_pinned_by(stored)
                if reference:
                    raise SettlementError(
                        f"GL account {stored.code} is used by approved journal batch "
                        f"{reference}: its code cannot change, or re-exporting the batch "
                        f"would not give what was approved. Create a new account with code "
                        f"{account.code} and map the transaction types to it instead."
                    )
        account.save()
        return account


# --------------------------------------------------------------------------- journals


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


def _special_account(role: str) -> GLAccount:
    account = GLAccount.objects.filter(role=role, active=True).first()
    if account is None:
        raise SettlementError(
            f"no active GL account has the role {role!r}: set one in GL accounts"
        )
    return account


@dataclass
class _Plan:
    """The journal lines one period should have."""

    period: date
    lines: list[tuple[int, str, date, Decimal, Decimal, str]] = field(default_factory=list)
    unmapped: int = 0
    unmapped_groups: list[dict] = field(default_factory=list)


def _signed_line(gl_id: int, role: str, day: date, amount: Decimal, memo: str):
    """A positive settlement amount is owed to us: credit; negative: debit."""
    if amount > 0:
        return (gl_id, role, day, ZERO, amount, memo)
    return (gl_id, role, day, -amount, ZERO, memo)


def _plan_journal(
    settlement: Settlement, totals: LineTotals | None = None
) -> dict[date, _Plan]:
    currency = settlement.currency
    mapper = GLMapper()
    clearing = _special_account(GLAccount.Role.AMAZON_CLEARING)
    bank = _special_account(GLAccount.Role.BANK_CLEARING)
    plans: dict[date, _Plan] = {}
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
    names = dict(GLAccount.objects.values_list("pk", "name"))
    for period, plan in plans.items():
        day = min(_period_end(period), settlement.end_date.date())
        day = max(day, period)
        net = ZERO
        for gl_id, amount in sorted(per_account[period].items()):
            rounded = quantize(amount, currency)
            if rounded == 0:
                continue
            net += rounded
            plan.lines.append(
                _signed_line(gl_id, JournalLine.Role.LINE, day, rounded,
                             f"Amazon settlement {settlement.settlement_id} · {names[gl_id]}")
            )
        if net:
            plan.lines.append(
                _signed_line(clearing.pk, JournalLine.Role.CLEARING, day, -net,
                             f"Amazon settlement {settlement.settlement_id} · clearing")
            )
    # The deposit: bank clearing against Amazon clearing, on the deposit date.
    total = quantize(settlement.total_amount, currency)
    if total:
        deposit_day = (settlement.deposit_date or settlement.end_date).date()
        period = _period_of(deposit_day)
        plan = plans.setdefault(period, _Plan(period))
        memo = f"Amazon settlement {settlement.settlement_id} · deposit"
        plan.lines.append(_signed_line(bank.pk, JournalLine.Role.DEPOSIT, deposit_day, -total,
                                       memo))
        plan.lines.append(_signed_line(clearing.pk, JournalLine.Role.DEPOSIT, deposit_day,
                                       total, memo))
    return plans


def _active_batches(settlement: Settlement):
    """Journal batches that count: not reversals, and not reversed."""
    return settlement.journal_batches.filter(
        kind=JournalBatch.Kind.JOURNAL, reversed_by__isnull=True
    )


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
    totals = batch.lines.aggregate(d=Sum("debit"), c=Sum("credit"))
    batch.debit_total = totals["d"] or ZERO
    batch.credit_total = totals["c"] or ZERO


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
        active = {b.period: b for b in _active_batches(settlement)}
        touched: list[JournalBatch] = []
        for period, plan in sorted(plans.items()):
            batch = active.get(period)
            if batch is not None and batch.is_locked:
                continue
            if batch is None:
                generation = (
                    settlement.journal_batches.filter(
                        period=period, kind=JournalBatch.Kind.JOURNAL
                    ).count()
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
                batch.save(update_fields=["debit_total", "credit_total"])
                touched.append(batch)
                continue
            wanted = sorted(plan.lines)
            current = [
                (g, r, d, debit, credit, m)
                for g, r, d, debit, credit, m in _batch_lines_signature(batch)
            ]
            if wanted == current and batch.unmapped_lines == plan.unmapped:
                continue
            # explained adjustments stay: an accountant recorded them
            batch.lines.exclude(role=JournalLine.Role.ADJUSTMENT).delete()
            _write_lines(batch, plan.lines, settlement.currency)
            batch.unmapped_lines = plan.unmapped
            batch.status = JournalBatch.Status.DRAFT
            if user is not None:
                batch.last_changed_by = user
            batch.save(
                update_fields=["debit_total", "credit_total", "unmapped_lines", "status",
                               "last_changed_by"]
            )
            touched.append(batch)
        # batches for months that no longer have lines (cannot happen for Amazon data,
        # but keep the books honest): remove drafts, leave locked ones.
        for period, batch in active.items():
            if (period not in plans and not batch.is_locked
                    and not batch.lines.filter(role=JournalLine.Role.ADJUSTMENT).exists()):
                batch.lines.all().delete()
                batch.delete()
        unmapped = sum(p.unmapped for p in plans.values())
        key = _object_key(settlement.account, settlement.settlement_id)
        if unmapped:
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
        else:
            exception_resolve(
                flow=FLOW, object_kind="settlement", object_key=key,
                reason_code="unmapped_lines", note="resolved: every line now has a GL mapping",
            )
        settlement.unmapped_lines = unmapped
        settlement.save(update_fields=["unmapped_lines"])
        _record_dates_outside_period(settlement, run=run)
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


# --------------------------------------------------------------------------- approval


def _lock_batch(batch: JournalBatch) -> JournalBatch:
    return JournalBatch.objects.select_for_update().get(pk=batch.pk)


def _refuse_locked(batch: JournalBatch, action: str) -> None:
    if batch.is_locked:
        raise ImmutableBatch(
            f"{batch.reference} is {batch.get_status_display().lower()}: it cannot be "
            f"{action}. Corrections are reversal batches."
        )


def _balance_problems(batch: JournalBatch) -> list[str]:
    rows = batch.lines.values("currency").annotate(d=Sum("debit"), c=Sum("credit"))
    return [
        f"{r['currency']}: debit {r['d']} ≠ credit {r['c']}" for r in rows if r["d"] != r["c"]
    ]


def settlement_period(settlement: Settlement) -> tuple[date, date]:
    """The days a journal of ``settlement`` may be dated: from its start to the later of
    its end and deposit (UTC days, one day of slack either side for time zones)."""
    last = max(settlement.end_date, settlement.deposit_date or settlement.end_date)
    return (
        settlement.start_date.astimezone(UTC).date() - PERIOD_SLACK,
        last.astimezone(UTC).date() + PERIOD_SLACK,
    )


def _dates_outside_period(settlement: Settlement) -> list[tuple[str, date]]:
    """(batch reference, date) of the active batches' journal dates outside the period."""
    first, last = settlement_period(settlement)
    outside = Q(entry_date__lt=first) | Q(entry_date__gt=last)
    batches = _active_batches(settlement)
    found = {
        (ref, day)
        for ref, day in batches.filter(outside).values_list("reference", "entry_date")
    }
    found |= set(
        JournalLine.objects.filter(batch__in=batches).filter(outside)
        .values_list("batch__reference", "entry_date").distinct()
    )
    return sorted(found, key=lambda x: (x[1], x[0]))


def _describe_outside(settlement: Settlement, outside: list[tuple[str, date]]) -> str:
    first, last = settlement_period(settlement)
    dates = ", ".join(f"{day.isoformat()} ({ref})" for ref, day in outside[:5])
    more = f" and {len(outside) - 5} more" if len(outside) > 5 else ""
    return (
        f"Settlement {settlement.settlement_id} has journal dates outside its period "
        f"{first.isoformat()} to {last.isoformat()}: {dates}{more}. Its lines were posted on "
        "dates that cannot be right; ask Amazon for a corrected report. None of its journal "
        "batches can be marked ready or approved as they stand."
    )


def _record_dates_outside_period(settlement: Settlement, run=None) -> None:
    outside = _dates_outside_period(settlement)
    key = _object_key(settlement.account, settlement.settlement_id)
    if outside:
        exception_record(
            flow=FLOW, account=settlement.account, marketplace=settlement.marketplace,
            object_kind="settlement", object_key=key, reason_code="dates_outside_period",
            owner_team=Team.FINANCE, run=run,
            message=_describe_outside(settlement, outside),
            payload={"settlement": settlement.pk,
                     "dates": [[ref, day.isoformat()] for ref, day in outside[:50]]},
        )
    else:
        exception_resolve(
            flow=FLOW, object_kind="settlement", object_key=key,
            reason_code="dates_outside_period",
            note="resolved: every journal date falls in the settlement period",
        )


@dataclass(frozen=True)
class Unexplained:
    """What the journal of a settlement does not account for."""

    total: Decimal  # Amazon's total, rounded to the currency
    booked: Decimal  # net of the settlement lines in the journal
    adjusted: Decimal  # net of the explained adjustments
    drift: Decimal  # left over on Amazon clearing: total - booked - adjusted
    unmapped_lines: int


def settlement_unexplained(settlement: Settlement) -> Unexplained:
    """Amazon clearing must net to zero over the settlement's active batches: the deposit
    (Amazon's total) against the lines booked and the adjustments explained. What is left is
    drift nobody explained (a summary total that is not the sum of the lines, or lines with
    no GL mapping)."""
    batches = _active_batches(settlement)
    rows = (
        JournalLine.objects.filter(batch__in=batches)
        .values("role", "gl_account__role")
        .annotate(c=Sum("credit"), d=Sum("debit"))
        .order_by()
    )
    booked = adjusted = clearing = ZERO
    for r in rows:
        net = (r["c"] or ZERO) - (r["d"] or ZERO)
        on_clearing = r["gl_account__role"] == GLAccount.Role.AMAZON_CLEARING
        if on_clearing:
            clearing += net
        if r["role"] == JournalLine.Role.LINE:
            booked += net
        elif r["role"] == JournalLine.Role.ADJUSTMENT and not on_clearing:
            adjusted += net
    unmapped = batches.aggregate(n=Sum("unmapped_lines"))["n"] or 0
    return Unexplained(
        total=quantize(settlement.total_amount, settlement.currency),
        booked=booked, adjusted=adjusted, drift=clearing, unmapped_lines=unmapped,
    )


def _reconcile_problems(batch: JournalBatch, action: str) -> list[str]:
    """Why ``batch`` cannot be ``action`` because of its settlement, in plain words."""
    if batch.kind != JournalBatch.Kind.JOURNAL:
        return []  # a reversal takes back what was approved; nothing to reconcile
    settlement = batch.settlement
    problems = []
    outside = _dates_outside_period(settlement)
    if outside:
        problems.append(_describe_outside(settlement, outside))
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
        batch = _lock_batch(batch)
        _refuse_locked(batch, "marked ready")
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
        batch.save(update_fields=["status", "last_changed_by"])
        return batch


def journal_batch_return_to_draft(*, batch: JournalBatch, user) -> JournalBatch:
    with transaction.atomic():
        batch = _lock_batch(batch)
        _refuse_locked(batch, "returned to draft")
        batch.status = JournalBatch.Status.DRAFT
        batch.last_changed_by = user
        batch.save(update_fields=["status", "last_changed_by"])
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
        batch = _lock_batch(batch)
        _refuse_locked(batch, "approved again")
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
        batch.save(update_fields=["status", "approved_by", "approved_at"])
        return batch


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
        batch = _lock_batch(batch)
        _refuse_locked(batch, "adjusted")
        if not user_is_accountant(user):
            raise FourEyesViolation("Only members of the Accounting group record adjustments.")
        if batch.kind != JournalBatch.Kind.JOURNAL:
            raise SettlementError(
                f"{batch.reference} is a reversal: adjust the month's journal batch instead."
            )
        explanation = (explanation or "").strip()
        if len(explanation) < ADJUSTMENT_EXPLANATION_MIN:
            raise SettlementError(
                "Say why the adjustment is needed (at least "
                f"{ADJUSTMENT_EXPLANATION_MIN} characters): it is kept with the journal "
                "and shown to whoever approves it."
            )
        amount = _adjustment_amount(amount, batch.currency)
        account = GLAccount.objects.filter(pk=getattr(account, "pk", account)).first()
        if account is None or not account.active:
            raise SettlementError("Choose an active GL account for the adjustment.")
        clearing = _special_account(GLAccount.Role.AMAZON_CLEARING)
        if account.pk == clearing.pk:
            raise SettlementError(
                f"{account} is the Amazon clearing account the adjustment is booked against: "
                "choose the account the difference belongs to."
            )
        memo = f"Adjustment: {explanation}"
        pair = [
            _signed_line(account.pk, JournalLine.Role.ADJUSTMENT, batch.entry_date, amount,
                         memo),
            _signed_line(clearing.pk, JournalLine.Role.ADJUSTMENT, batch.entry_date, -amount,
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
        totals = batch.lines.aggregate(d=Sum("debit"), c=Sum("credit"))
        batch.debit_total = totals["d"] or ZERO
        batch.credit_total = totals["c"] or ZERO
        batch.status = JournalBatch.Status.DRAFT
        batch.last_changed_by = user
        batch.save(update_fields=["debit_total", "credit_total", "status", "last_changed_by"])
        settlement_reconcile(settlement=batch.settlement)
        return batch.lines.filter(gl_account=account, role=JournalLine.Role.ADJUSTMENT).latest(
            "pk"
        )


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


def journal_batch_delete(*, batch: JournalBatch, user=None) -> None:
    with transaction.atomic():
        batch = _lock_batch(batch)
        _refuse_locked(batch, "deleted")
        batch.lines.all().delete()
        batch.delete()


def journal_batch_reverse(*, batch: JournalBatch, user) -> JournalBatch:
    """Correct an approved or exported batch: a reversal batch (debits and credits
    swapped) in draft, then a fresh generation of the month's batch is built."""
    with transaction.atomic():
        batch = _lock_batch(batch)
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
        totals = reversal.lines.aggregate(d=Sum("debit"), c=Sum("credit"))
        reversal.debit_total = totals["d"] or ZERO
        reversal.credit_total = totals["c"] or ZERO
        reversal.save(update_fields=["debit_total", "credit_total"])
        settlement_journal_build(settlement=batch.settlement, user=user)
        return reversal


EXPORT_COLUMNS = ("date", "account", "debit", "credit", "currency", "memo", "reference")


def journal_batches_export(*, batches: Iterable[JournalBatch], user) -> str:
    """CSV journal of approved (or already exported) batches; marks them exported.

    Everything it writes is pinned once a batch is approved (its lines, and the codes of
    the GL accounts they use: see :func:`gl_account_save`), so exporting a batch again
    gives the same bytes."""
    ids = [b.pk for b in batches]
    with transaction.atomic():
        locked = list(
            JournalBatch.objects.select_for_update().filter(pk__in=ids).order_by("period", "pk")
        )
        not_approved = [b.reference for b in locked if not b.is_locked]
        if not_approved:
            raise SettlementError(
                f"Only approved batches are exported; not approved: {', '.join(not_approved)}"
            )
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        lines = (
            JournalLine.objects.filter(batch__in=locked)
            .select_related("gl_account", "batch")
            .order_by("batch__period", "batch_id", "id")
        )
        for x in lines:
            places = decimals(x.currency)
            # a GL code, memo or reference a spreadsheet would run as a formula is inert
            writer.writerow(
                [
                    neutralise(cell) for cell in (
                        x.entry_date.isoformat(), x.gl_account.code,
                        f"{x.debit:.{places}f}" if x.debit else "",
                        f"{x.credit:.{places}f}" if x.credit else "",
                        x.currency, x.memo, x.batch.reference,
                    )
                ]
            )
        now = timezone.now()
        for b in locked:
            if b.status == JournalBatch.Status.APPROVED:
                b.status = JournalBatch.Status.EXPORTED
                b.exported_at = now
                b.exported_by = user
                b.save(update_fields=["status", "exported_at", "exported_by"])
        return out.getvalue()


# --------------------------------------------------------------------------- reconciliation


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


def previous_settlement(settlement: Settlement) -> Settlement | None:
    return (
        Settlement.objects.filter(
            account=settlement.account_id, currency=settlement.currency,
            marketplace=settlement.marketplace_id, end_date__lte=settlement.start_date,
        )
        .exclude(pk=settlement.pk)
        .order_by("-end_date", "-pk")
        .first()
    )


def settlement_reconcile(
    *, settlement: Settlement, totals: LineTotals | None = None
) -> Settlement:
    """Recompute internal, journal, deposit and reserve drift (and order issues).

    ``totals``: see :func:`settlement_journal_build` (the import's line totals)."""
    from .selectors import order_reconciliation

    s = settlement
    currency = s.currency
    s.internal_drift = s.total_amount - s.sum_of_lines
    net = (
        JournalLine.objects.filter(
            batch__in=_active_batches(s), role=JournalLine.Role.LINE
        ).aggregate(c=Sum("credit"), d=Sum("debit"))
    )
    s.journal_net = (net["c"] or ZERO) - (net["d"] or ZERO)
    adjusted = (
        JournalLine.objects.filter(
            batch__in=_active_batches(s), role=JournalLine.Role.ADJUSTMENT
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
    before = previous_settlement(s)
    if before is None:
        s.reserve_drift = None
    else:
        # Amazon releases last time's held reserve (negative) as this time's previous
        # reserve balance (positive): they must cancel out.
        s.reserve_drift = s.previous_reserve + before.current_reserve
    orders = order_reconciliation(s, totals=totals)
    s.order_issues = None if orders is None else len(orders.issues)
    s.has_drift = bool(
        s.internal_drift
        or s.journal_drift
        or (s.deposit_drift or ZERO)
        or (s.reserve_drift or ZERO)
        or s.unmapped_lines
    )
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


def settlement_retry(*, settlement: Settlement, user=None) -> Settlement:
    """Rebuild journals with the current mapping rules and reconcile again."""
    settlement_journal_build(settlement=settlement, user=user)
    settlement.refresh_from_db()
    return settlement


__all__ = [
    "ReportFormatError",
    "SettlementError",
    "SettlementConflict",
    "FourEyesViolation",
    "ImmutableBatch",
    "ImportResult",
    "settlement_import",
    "settlement_journal_build",
    "settlement_reconcile",
    "settlement_record_deposit",
    "settlement_retry",
    "journal_batch_mark_ready",
    "journal_batch_return_to_draft",
    "journal_batch_approve",
    "journal_batch_reverse",
    "journal_batch_delete",
    "journal_batches_export",
    "glmapping_resolve",
    "gl_account_save",
    "gl_account_pinned_by",
    "journal_batch_add_adjustment",
    "settlement_period",
    "settlement_unexplained",
]
