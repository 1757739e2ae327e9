"""Streaming parser for V2 settlement flat files (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2).

Bytes, a path or a binary stream in; a :class:`SettlementSummary` and an iterator of
:class:`SettlementLineData` out. Columns are read by header name (any order; extra columns
are kept per line in ``extra``); the file is never loaded in memory.

The first data row carrying a ``total-amount`` is the settlement summary (start, end,
deposit date, total, currency); every other row is a line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from amazonsync.reports import (
    FlatFile,
    ReportFormatError,
    ReportSource,
    Row,
    currency_places,
    is_reopenable,
    parse_amazon_date,
    parse_amazon_datetime,
    parse_amount,
    parse_int,
    typed,
)

__all__ = [
    "REPORT_TYPE",
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "ReportFormatError",
    "SettlementSummary",
    "SettlementLineData",
    "SettlementReport",
    "parse_settlement",
]

REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"

COLUMNS: tuple[str, ...] = (
    "settlement-id",
    "settlement-start-date",
    "settlement-end-date",
    "deposit-date",
    "total-amount",
    "currency",
    "transaction-type",
    "order-id",
    "merchant-order-id",
    "adjustment-id",
    "shipment-id",
    "marketplace-name",
    "amount-type",
    "amount-description",
    "amount",
    "fulfillment-id",
    "posted-date",
    "posted-date-time",
    "order-item-code",
    "merchant-order-item-id",
    "merchant-adjustment-item-id",
    "sku",
    "quantity-purchased",
    "promotion-id",
)

# Older files have no promotion-id; a few columns are absent from some marketplaces' files.
OPTIONAL_COLUMNS = frozenset(
    {
        "promotion-id",
        "merchant-order-id",
        "merchant-order-item-id",
        "merchant-adjustment-item-id",
        "fulfillment-id",
        "posted-date-time",
        "shipment-id",
        "adjustment-id",
        "order-item-code",
        "sku",
        "quantity-purchased",
        "marketplace-name",
    }
)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in OPTIONAL_COLUMNS)

# A summary row that is not the first data row is looked for this far before the
# parser re-reads the file (paths and bytes) instead of buffering more rows.
BUFFER_LIMIT = 50_000


@dataclass(frozen=True, slots=True)
class SettlementSummary:
    settlement_id: str
    start_date: datetime
    end_date: datetime
    deposit_date: datetime | None
    total_amount: Decimal
    currency: str
    line: int
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SettlementLineData:
    line: int
    settlement_id: str
    transaction_type: str
    order_id: str
    merchant_order_id: str
    adjustment_id: str
    shipment_id: str
    marketplace_name: str
    amount_type: str
    amount_description: str
    amount: Decimal
    fulfillment_id: str
    posted_date: date | None
    posted_date_time: datetime | None
    order_item_code: str
    merchant_order_item_id: str
    merchant_adjustment_item_id: str
    sku: str
    quantity_purchased: int | None
    promotion_id: str
    extra: dict[str, str] = field(default_factory=dict)


class SettlementReport:
    """One V2 settlement file. ``summary`` is read on construction; ``lines()`` streams.

    After ``lines()`` is exhausted ``line_count`` and ``sum_of_lines`` hold the totals.
    Errors raise :class:`ReportFormatError` (possibly mid-stream: callers store inside a
    transaction so a failing file stores nothing).
    """

    report_type = REPORT_TYPE

    def __init__(self, source: ReportSource, *, name: str | None = None) -> None:
        self._source = source
        self.name = name
        self._file = self._open()
        self.source_name = self._file.source_name
        header = self._file.header
        self.columns: tuple[str, ...] = header.names
        self.extra_columns: tuple[str, ...] = header.extras(COLUMNS)
        self.line_count = 0
        self.sum_of_lines = Decimal("0")
        self._rows = self._file.rows()
        self._buffer: list[Row] = []
        self._reopen_skip: int | None = None
        self.summary = self._find_summary()

    # -- opening -----------------------------------------------------------------------

    def _open(self) -> FlatFile:
        try:
            return FlatFile(self._source, required=REQUIRED_COLUMNS, report=REPORT_TYPE)
        except ReportFormatError as exc:
            raise exc.with_source(self.name) from None

    def _error(self, message: str, *, line: int | None = None, column: str | None = None):
        return ReportFormatError(
            message, line=line, column=column, source=self.name or self.source_name
        )

    def _find_summary(self) -> SettlementSummary:
        seen_rows = False
        for row in self._rows:
            seen_rows = True
            if row["total-amount"]:
                return self._summary_from(row)
            if len(self._buffer) < BUFFER_LIMIT or not is_reopenable(self._source):
                self._buffer.append(row)
                continue
            # Too many lines before the summary: find it, then read the file again.
            for later in self._rows:
                if later["total-amount"]:
                    summary = self._summary_from(later)
                    self._buffer = []
                    self._reopen_skip = later.line
                    self._file = self._open()
                    self._rows = self._file.rows()
                    return summary
            break
        if not seen_rows:
            raise self._error("the file has a header but no data rows", line=2)
        raise self._error(
            "no settlement summary row: no row carries a total-amount (the first such row "
            "gives the settlement's dates, total and currency)"
        )

    def _summary_from(self, row: Row) -> SettlementSummary:
        name = self.name or self.source_name
        settlement_id = row["settlement-id"]
        if not settlement_id:
            raise self._error("the summary row has no settlement-id", line=row.line,
                              column="settlement-id")
        currency = _currency(row, name)
        if not currency:
            raise self._error("the summary row has no currency", line=row.line,
                              column="currency")
        places = currency_places(currency)
        total = typed(row, "total-amount", lambda v: parse_amount(v, places=places),
                      required=True, source=name)
        start = typed(row, "settlement-start-date", parse_amazon_datetime, required=True,
                      source=name)
        end = typed(row, "settlement-end-date", parse_amazon_datetime, required=True,
                    source=name)
        deposit = typed(row, "deposit-date", parse_amazon_datetime, source=name)
        if end < start:
            raise self._error("settlement-end-date is before settlement-start-date",
                              line=row.line, column="settlement-end-date")
        extra = {c: row[c] for c in self.extra_columns if row[c]}
        return SettlementSummary(
            settlement_id=settlement_id,
            start_date=start,
            end_date=end,
            deposit_date=deposit,
            total_amount=total,
            currency=currency,
            line=row.line,
            extra=extra,
        )

    # -- lines -------------------------------------------------------------------------

    def lines(self) -> Iterator[SettlementLineData]:
        summary = self.summary
        for row in self._buffer:
            yield self._line(row)
        self._buffer = []
        for row in self._rows:
            if row.line == summary.line or row.line == self._reopen_skip:
                continue
            if row["total-amount"] and self._is_repeated_summary(row):
                continue
            yield self._line(row)

    def _is_repeated_summary(self, row: Row) -> bool:
        """A later row carrying total-amount: a repeated summary is skipped, a contradicting
        one is an error; one that also carries a transaction is a line."""
        summary = self.summary
        currency = _currency(row, self.name or self.source_name)
        if currency and currency != summary.currency:
            raise self._error(
                f"two currencies in one settlement: {summary.currency} on line {summary.line} "
                f"and {currency}",
                line=row.line,
                column="currency",
            )
        try:
            total = parse_amount(row["total-amount"], places=currency_places(summary.currency))
        except ValueError as exc:
            raise self._error(str(exc), line=row.line, column="total-amount") from None
        if total != summary.total_amount:
            raise self._error(
                f"a second summary row with a different total-amount ({total} vs "
                f"{summary.total_amount} on line {summary.line})",
                line=row.line,
                column="total-amount",
            )
        return not (row["transaction-type"] or row["amount"])

    def _line(self, row: Row) -> SettlementLineData:
        summary = self.summary
        name = self.name or self.source_name
        sid = row["settlement-id"]
        if sid != summary.settlement_id:
            if not sid:
                raise self._error("settlement-id is empty", line=row.line,
                                  column="settlement-id")
            raise self._error(
                f"two settlement ids in one file: {summary.settlement_id!r} (line "
                f"{summary.line}) and {sid!r}; split the file per settlement",
                line=row.line,
                column="settlement-id",
            )
        currency = row["currency"]
        if currency and currency.upper() != summary.currency:
            raise self._error(
                f"two currencies in one settlement: {summary.currency} on line {summary.line} "
                f"and {currency.upper()}",
                line=row.line,
                column="currency",
            )
        places = currency_places(summary.currency)
        raw_amount = row["amount"]
        if raw_amount:
            try:
                amount = parse_amount(raw_amount, places=places)
            except ValueError as exc:
                raise self._error(f"{exc} (value {raw_amount!r})", line=row.line,
                                  column="amount") from None
        else:
            amount = Decimal("0")
        posted = row["posted-date"]
        try:
            posted_date = parse_amazon_date(posted) if posted else None
        except ValueError as exc:
            raise self._error(f"{exc}", line=row.line, column="posted-date") from None
        posted_dt = row.get("posted-date-time")
        try:
            posted_date_time = parse_amazon_datetime(posted_dt) if posted_dt else None
        except ValueError as exc:
            raise self._error(f"{exc}", line=row.line, column="posted-date-time") from None
        if posted_date is None and posted_date_time is not None:
            posted_date = posted_date_time.date()
        quantity = typed(row, "quantity-purchased", parse_int, source=name)
        get = row.get
        extra = {c: row[c] for c in self.extra_columns if row[c]} if self.extra_columns else {}
        self.line_count += 1
        self.sum_of_lines += amount
        return SettlementLineData(
            line=row.line,
            settlement_id=sid,
            transaction_type=row["transaction-type"],
            order_id=row["order-id"],
            merchant_order_id=get("merchant-order-id"),
            adjustment_id=get("adjustment-id"),
            shipment_id=get("shipment-id"),
            marketplace_name=get("marketplace-name"),
            amount_type=row["amount-type"],
            amount_description=row["amount-description"],
            amount=amount,
            fulfillment_id=get("fulfillment-id"),
            posted_date=posted_date,
            posted_date_time=posted_date_time,
            order_item_code=get("order-item-code"),
            merchant_order_item_id=get("merchant-order-item-id"),
            merchant_adjustment_item_id=get("merchant-adjustment-item-id"),
            sku=get("sku"),
            quantity_purchased=quantity,  # type: ignore[arg-type]
            promotion_id=get("promotion-id"),
            extra=extra,
        )


def _currency(row: Row, name: str | None) -> str:
    value = row["currency"].strip().upper()
    if value and not (len(value) == 3 and value.isalpha()):
        raise ReportFormatError(
            f"not an ISO currency code: {value!r}", line=row.line, column="currency", source=name
        )
    return value


def parse_settlement(source: ReportSource, *, name: str | None = None) -> SettlementReport:
    """Open a V2 settlement flat file; see :class:`SettlementReport`."""
    return SettlementReport(source, name=name)
