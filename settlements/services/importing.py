"""Import of V2 settlement files: one transaction per file, keyed on (account,
settlement-id). The lines stream from the parser into the database (COPY on PostgreSQL,
bulk inserts elsewhere) while their totals are gathered, so the journal is built without
reading them back. The settlements flow records each report document it imported."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from amazonsync.flatfiles.reading import ReportSource
from amazonsync.models import Team
from amazonsync.services import exception_record
from marketplaces.models import Marketplace, SellerAccount

from ..copy import copy_chunks, lines_copy
from ..models import Settlement, SettlementLine, SettlementReportDocument
from ..parsers import (
    LineTotals,
    SettlementLineData,
    SettlementReport,
    open_settlement,
    same_settlement_other_layout,
)
from ..selectors import order_line_kind, settlement_file_locale
from .base import FLOW, settlement_key
from .journals import settlement_journal_build
from .reconciliation import settlement_successors_recheck

SQLITE_BATCH = 5000
PROGRESS_STEP = 10_000
# pg_advisory_xact_lock(class, key) namespace of settlement imports
ADVISORY_LOCK_SETTLEMENT = 7301
# ... and of the series of one account and currency (see _claim_series)
ADVISORY_LOCK_SERIES = 7302


@dataclass
class ImportResult:
    settlement: Settlement
    created: bool
    conflict: bool = False
    message: str = ""


class _Tally:
    """Count, progress and line totals while lines stream past."""

    def __init__(self, report: SettlementReport, progress: Callable[[int], None] | None):
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
        """The lines as COPY text chunks (see :func:`settlements.copy.copy_chunks`)."""
        for chunk, n in copy_chunks(self.report, prefix=prefix, totals=self.totals):
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
    marketplace: Marketplace | None = None,
    encoding: str | None = None,
) -> ImportResult:
    """Import one V2 settlement file (bytes, path or stream) for ``account``.

    One transaction: a file that fails stores nothing. Keyed on (account, settlement-id):
    the same content again changes nothing (``created=False``); different content for an
    already-imported settlement is a conflict exception owned by finance, never a replace.
    Raises :class:`ReportFormatError` for a bad file.

    ``marketplace``: the one the file comes from, when known (``import_report
    --marketplace``); ``encoding``: the one it is in, when someone said so. Otherwise the
    account's marketplaces say which legacy encodings it may be in and, after each row's
    own marketplace and the file's, how its dates are written
    (:func:`settlements.selectors.settlement_file_locale`).
    """
    locale = settlement_file_locale(account=account, marketplace=marketplace,
                                    encoding=encoding)
    report = open_settlement(source, name=name, locale=locale)  # the V2 or the V1 flat file
    summary = report.summary
    tally = _Tally(report, progress)
    with transaction.atomic():
        # Imports of one settlement take turns: the second waits here until the first has
        # committed, then finds it and is either unchanged or a recorded conflict.
        _claim_settlement(account, summary.settlement_id)
        _claim_series(account, summary.currency)
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
        settlement_successors_recheck(settlement=settlement)
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


def _claim_series(account: SellerAccount, currency: str) -> None:
    """Serialise imports into one series (account and currency) on PostgreSQL, until
    commit: a settlement and the one right before it imported at once each see the other
    (the later of the two checks the reserve continuity between them)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            [ADVISORY_LOCK_SERIES, f"{account.pk}/{currency}"],
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
    if tally.fingerprint == existing.fingerprint or same_settlement_other_layout(
        existing.columns, existing.total_amount, existing.currency, existing.sum_of_lines,
        report,
    ):
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
        object_kind="settlement", object_key=settlement_key(account, summary.settlement_id),
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


def _store_lines(settlement: Settlement, tally: _Tally) -> None:
    if connection.vendor == "postgresql":
        lines_copy(chunks=tally.chunks(str(settlement.pk)))
    else:
        _bulk_create_lines(settlement, tally.watch(tally.report.lines()))




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


def settlement_report_document_record(
    *, account: SellerAccount, report_document_id: str, report_id: str,
    created_time: datetime | None, result: ImportResult,
) -> SettlementReportDocument:
    """Remember the outcome of importing a settlement report document (the flow imports
    each document once: a document already recorded keeps its first outcome)."""
    outcome = (
        SettlementReportDocument.Outcome.CONFLICT if result.conflict
        else SettlementReportDocument.Outcome.CREATED if result.created
        else SettlementReportDocument.Outcome.UNCHANGED
    )
    document, _ = SettlementReportDocument.objects.get_or_create(
        account=account, report_document_id=report_document_id,
        defaults={
            "report_id": report_id, "created_time": created_time,
            "settlement": result.settlement, "outcome": outcome,
        },
    )
    return document
