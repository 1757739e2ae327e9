"""Streaming parser for V2 settlement flat files (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2).

Bytes, a path or a binary stream in; a :class:`SettlementSummary` and an iterator of
:class:`SettlementLineData` out. Columns are read by header name (any order; extra columns
are kept per line in ``extra``); the file is never loaded in memory.

The first data row carrying a ``total-amount`` is the settlement summary (start, end,
deposit date, total, currency); every other row is a line.

Values go through :mod:`amazonsync.flatfiles.values` and a refused one refuses the whole
file (a settlement is stored whole or not at all), naming the line and the column: the
settlement id is digits (at most 20), the currency ISO 4217, amounts in the currency's
minor units (never rounded) and under a trillion, sums under the books' limit, quantities
within a million either way, the period at most a year and not in the future, line dates
within a year before the period and three months after it, the deposit within three
months of its end; text columns have the widths of :data:`FIELD_LIMITS` (order ids as
``orders``/``returns`` store them, SKUs as Amazon allows), enforced while reading.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter

from django.utils import timezone

from amazonsync.flatfiles.reading import ReportFormatError, ReportSource, is_reopenable
from amazonsync.flatfiles.rows import FlatFile, Row, typed
from amazonsync.flatfiles.values import (
    MAX_QUANTITY,
    MAX_TOTAL,
    SKU_MAX,
    DateWindow,
    check_money_total,
    parse_currency,
    parse_date_in,
    parse_datetime_in,
    parse_money,
    parse_quantity,
    parse_settlement_id,
    window_until_now,
)

__all__ = [
    "REPORT_TYPE",
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "ReportFormatError",
    "SettlementSummary",
    "SettlementLineData",
    "SettlementReport",
    "LineTotals",
    "LINE_FIELDS",
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

# Widths of the text columns, enforced while the file is read (a longer value refuses the
# file): order ids as orders and returns store them (32), SKUs as Amazon allows (40), the
# mapped columns as GL mappings hold them, other ids 64. Other columns: the reader's 32 KiB,
# and their own validators (settlement id, currency, amounts, dates, quantity). The smallest
# limit stays above the usual values (dates, descriptions) so that most lines are measured
# once, not value by value.
FIELD_LIMITS: dict[str, int] = {
    "order-id": 32, "merchant-order-id": 64, "adjustment-id": 64, "shipment-id": 64,
    "fulfillment-id": 64, "order-item-code": 64, "merchant-order-item-id": 64,
    "merchant-adjustment-item-id": 64, "sku": SKU_MAX, "transaction-type": 128,
    "amount-type": 128, "amount-description": 255, "marketplace-name": 64,
    "promotion-id": 255,
}
# How far line dates may be from the settlement's period, and how long a period may be.
LINE_DATES_BEFORE = timedelta(days=366)
LINE_DATES_AFTER = timedelta(days=92)
DEPOSIT_AFTER = timedelta(days=93)
MAX_PERIOD = timedelta(days=366)

# The SettlementLine fields a line is stored in, in the order of :meth:`SettlementReport.
# copy_chunks` (after the settlement's primary key).
LINE_FIELDS: tuple[str, ...] = (
    "line_number", "transaction_type", "order_id", "merchant_order_id", "adjustment_id",
    "shipment_id", "marketplace_name", "amount_type", "amount_description", "amount",
    "fulfillment_id", "posted_date", "posted_date_time", "order_item_code",
    "merchant_order_item_id", "merchant_adjustment_item_id", "sku", "quantity_purchased",
    "promotion_id", "extra",
)

# Rows per chunk written to COPY (about 1 MB of text).
COPY_CHUNK = 5000
# Bound on the per-import caches of rendered amounts, dates and quantities.
CACHE_LIMIT = 200_000

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


class LineTotals:
    """Sums gathered while the lines stream past, so that nothing has to read the stored
    lines back: amount and count per (posted date, transaction type, amount type, amount
    description, marketplace name) and, for the (type, amount type, description) triples
    ``classify`` names (e.g. order principal, refund principal), the amount per (order id,
    SKU) in ``orders[kind]`` (SKU '' when the line names none; lines without an order id
    are left out). Per SKU because one order can be settled in parts: a split shipment's
    items fall into different settlements.

    ``classify(transaction_type, amount_type, amount_description)`` returns a kind name or
    None; it is called once per distinct cell, never per line. Amounts are exact Decimals.
    """

    def __init__(self, classify: Callable[[str, str, str], str | None] | None = None) -> None:
        self.classify = classify
        # key -> [amount, count, {(order id, sku): amount} or None]
        self.cells: dict[tuple[date | None, str, str, str, str], list] = {}
        self.orders: dict[str, dict[tuple[str, str], Decimal]] = {}

    def cell(self, key: tuple[date | None, str, str, str, str]) -> list:
        kind = self.classify(key[1], key[2], key[3]) if self.classify is not None else None
        cell = [Decimal("0"), 0, None if kind is None else self.orders.setdefault(kind, {})]
        self.cells[key] = cell
        return cell

    def add(self, x: SettlementLineData) -> None:
        key = (x.posted_date, x.transaction_type, x.amount_type, x.amount_description,
               x.marketplace_name)
        cell = self.cells.get(key) or self.cell(key)
        cell[0] += x.amount
        cell[1] += 1
        if cell[2] is not None and x.order_id:
            item = (x.order_id, x.sku)
            cell[2][item] = cell[2].get(item, _ZERO) + x.amount

    def groups(self) -> dict[tuple[date | None, str, str, str], list]:
        """{(first day of the posted month or None, type, amount type, description):
        [amount, count]}"""
        out: dict[tuple[date | None, str, str, str], list] = {}
        for (day, ttype, atype, desc, _), (amount, count, _) in self.cells.items():
            key = (day.replace(day=1) if day is not None else None, ttype, atype, desc)
            group = out.get(key)
            if group is None:
                out[key] = [amount, count]
            else:
                group[0] += amount
                group[1] += count
        return out

    def marketplaces(self) -> dict[str, int]:
        """Lines per marketplace name, in order of first appearance."""
        out: dict[str, int] = {}
        for key, cell in self.cells.items():
            out[key[4]] = out.get(key[4], 0) + cell[1]
        return out


_ZERO = Decimal("0")
_NULL = "\x00"  # the reader refuses NUL bytes, so it cannot occur in a value


def render_copy_row(prefix: str, x: SettlementLineData) -> str:
    """One line in PostgreSQL COPY text format, in LINE_FIELDS order after ``prefix``."""
    return _copy_escape(_copy_row(prefix, x))


def _copy_escape(text: str) -> str:
    """COPY text format escapes for rows made by _copy_row (any number of them)."""
    if "\\" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\r", "\\r")
    return text.replace(_NULL, "\\N") if _NULL in text else text


def _copy_row(prefix: str, x: SettlementLineData) -> str:
    """The row before escaping: NULL as _NULL, backslashes and CRs as they are."""
    return "\t".join(
        (
            prefix, str(x.line), x.transaction_type, x.order_id, x.merchant_order_id,
            x.adjustment_id, x.shipment_id, x.marketplace_name, x.amount_type,
            x.amount_description, str(x.amount), x.fulfillment_id,
            x.posted_date.isoformat() if x.posted_date is not None else _NULL,
            x.posted_date_time.isoformat() if x.posted_date_time is not None else _NULL,
            x.order_item_code, x.merchant_order_item_id, x.merchant_adjustment_item_id, x.sku,
            str(x.quantity_purchased) if x.quantity_purchased is not None else _NULL,
            x.promotion_id, json.dumps(x.extra) if x.extra else "{}",
        )
    )


class SettlementReport:
    """One V2 settlement file. ``summary`` is read on construction; ``lines()`` streams.

    After ``lines()`` is exhausted ``line_count`` and ``sum_of_lines`` hold the totals.
    Errors raise :class:`ReportFormatError` (possibly mid-stream: callers store inside a
    transaction so a failing file stores nothing).
    """

    report_type = REPORT_TYPE

    def __init__(self, source: ReportSource, *, name: str | None = None,
                 now: datetime | None = None) -> None:
        self._source = source
        self.name = name
        self._now = now
        self._file = self._open()
        self.source_name = self._file.source_name
        header = self._file.header
        self.columns: tuple[str, ...] = header.names
        self.extra_columns: tuple[str, ...] = header.extras(COLUMNS)
        self.line_count = 0
        self.sum_of_lines = Decimal("0")
        self._gross = Decimal("0")  # sum of abs(amount) of the lines make() converted
        self._raw = self._file.raw_rows()
        self._buffer: list[Row] = []
        self._digest = hashlib.sha256()
        self._reopen_skip: int | None = None
        self.summary = self._find_summary()

    # -- opening -----------------------------------------------------------------------

    def _open(self) -> FlatFile:
        try:
            return FlatFile(self._source, required=REQUIRED_COLUMNS, report=REPORT_TYPE,
                            field_limits=FIELD_LIMITS)
        except ReportFormatError as exc:
            raise exc.with_source(self.name) from None

    def _error(self, message: str, *, line: int | None = None, column: str | None = None):
        return ReportFormatError(
            message, line=line, column=column, source=self.name or self.source_name
        )

    def _find_summary(self) -> SettlementSummary:
        seen_rows = False
        header = self._file.header
        for lineno, values in self._raw:
            row = Row(lineno, values, header)
            seen_rows = True
            if row["total-amount"]:
                return self._summary_from(row)
            if len(self._buffer) < BUFFER_LIMIT or not is_reopenable(self._source):
                self._buffer.append(row)
                continue
            # Too many lines before the summary: find it, then read the file again.
            i_total = header.index["total-amount"]
            for lineno, values in self._raw:
                if values[i_total]:
                    summary = self._summary_from(Row(lineno, values, header))
                    self._buffer = []
                    self._reopen_skip = lineno
                    self._file = self._open()
                    self._raw = self._file.raw_rows()
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
        typed(row, "settlement-id", parse_settlement_id, source=name)
        currency = _currency(row, name)
        if not currency:
            raise self._error("the summary row has no currency", line=row.line,
                              column="currency")
        total = typed(row, "total-amount", lambda v: parse_money(v, currency=currency),
                      required=True, source=name)
        window = window_until_now(self._now or timezone.now())

        def stamp(v: str) -> datetime:
            return parse_datetime_in(v, window)

        start = typed(row, "settlement-start-date", stamp, required=True, source=name)
        end = typed(row, "settlement-end-date", stamp, required=True, source=name)
        if end < start:
            raise self._error("settlement-end-date is before settlement-start-date",
                              line=row.line, column="settlement-end-date")
        if end - start > MAX_PERIOD:
            raise self._error(
                f"a settlement period of {(end - start).days} days (at most "
                f"{MAX_PERIOD.days})", line=row.line, column="settlement-end-date")
        deposit_window = DateWindow(start, end + DEPOSIT_AFTER,
                                    "the settlement's period and three months after")
        deposit = typed(row, "deposit-date",
                        lambda v: parse_datetime_in(v, deposit_window), source=name)
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
        header = self._file.header
        make = self._line_maker()
        for row in self._buffer:
            yield make(row.line, list(row.values))
        self._buffer = []
        i_total = header.index["total-amount"]
        skip = {summary.line, self._reopen_skip}
        for lineno, values in self._raw:
            if values[i_total] and (
                lineno in skip or self._is_repeated_summary(Row(lineno, values, header))
            ):
                continue
            yield make(lineno, values)
        self._check_sums(None)

    def _check_sums(self, totals: LineTotals | None) -> None:
        """Once every line is read: the sums the import stores (the sum of lines, the
        journal's cells, the per-order amounts) fit the books' money columns. Only reads
        ``totals``. The whole file is refused otherwise (nothing of it is stored)."""
        checks = [("sum of the lines", self.sum_of_lines),
                  ("sum of the lines' absolute amounts", self._gross)]
        if totals is not None:
            cells = [cell[0] for cell in totals.cells.values()]
            checks.append(("sum of the lines' absolute amounts",
                           sum((abs(x) for x in cells), _ZERO)))
            for orders in totals.orders.values():
                checks.extend(("amount of one order", x) for x in orders.values())
        for what, value in checks:
            try:
                check_money_total(value, what=what)
            except ValueError as exc:
                raise self._error(str(exc), column="amount") from None

    def copy_chunks(
        self, *, prefix: str, totals: LineTotals | None = None, rows: int = COPY_CHUNK,
    ) -> Iterator[tuple[bytes, int]]:
        """The lines rendered for PostgreSQL ``COPY ... FROM STDIN`` (text format): each row
        is ``prefix`` then the LINE_FIELDS; yields ``(chunk, number of lines)``.

        Same lines, values, checks and errors as :meth:`lines` (whose conversions it reuses:
        any line it cannot take the fast way goes through the same code), and it keeps
        ``line_count``, ``sum_of_lines``, the fingerprint and ``totals`` up to date; but
        it makes no per-line objects and converts each distinct amount, date and quantity
        text once.
        """
        totals = totals if totals is not None else LineTotals()
        summary = self.summary
        header = self._file.header
        index = header.index
        width = len(header.names)
        make = self._line_maker()
        # Positions in a row's values after the appends of the fast path: '' (for missing
        # columns), then the rendered amount, posted date, posted date-time, quantity, line
        # number, the prefix and the extra columns' JSON.
        empty = width
        i_amount_text, i_posted_text, i_stamp_text, i_qty_text, i_lineno, i_prefix, \
            i_extra = range(width + 1, width + 8)

        def at(column: str) -> int:
            return index.get(column, empty)

        i_total, i_sid, i_currency, i_amount, i_posted, i_pdt, i_qty, i_ttype, i_atype, \
            i_desc, i_mkt, i_order, i_sku = (
                at(c) for c in ("total-amount", "settlement-id", "currency", "amount",
                                "posted-date", "posted-date-time", "quantity-purchased",
                                "transaction-type", "amount-type", "amount-description",
                                "marketplace-name", "order-id", "sku")
            )
        field_positions = {
            "line_number": i_lineno, "amount": i_amount_text, "posted_date": i_posted_text,
            "posted_date_time": i_stamp_text, "quantity_purchased": i_qty_text,
        }
        positions = [i_prefix] + [
            field_positions.get(name) or at(name.replace("_", "-"))
            for name in LINE_FIELDS[:-1]
        ] + [i_extra]
        row_of = itemgetter(*positions)
        canonical = [at(c) for c in COLUMNS] + [index[c] for c in sorted(self.extra_columns)]
        canonical_of = itemgetter(*canonical)
        # The usual file: every column, in the canonical order: the row itself is canonical.
        in_order = canonical == list(range(width))
        extras = [(c, index[c]) for c in self.extra_columns]
        expected_sid = summary.settlement_id
        currency = summary.currency
        skip = {summary.line, self._reopen_skip}
        dumps = json.dumps
        cells = totals.cells
        new_cell = totals.cell
        null = _NULL
        # raw text -> (value, COPY text); filled from the results of the full conversion.
        amounts: dict[str, tuple[Decimal, str]] = {"": (_ZERO, str(_ZERO))}
        dates: dict[str, tuple[date, str]] = {}
        times: dict[str, tuple[datetime | None, str]] = {"": (None, null)}
        quantities: dict[str, str] = {"": null}
        digest = self._digest.update

        out: list[str] = []
        prints: list[str] = []
        count = 0
        sum_before = sum((cell[0] for cell in cells.values()), _ZERO)

        def flush_prints() -> None:
            if prints:
                prints.append("")
                digest("\x1e".join(prints).encode())
                prints.clear()

        def slow(lineno: int, values: list[str]) -> None:
            # The full conversion (raises the parser's errors), then remember its results.
            nonlocal count
            flush_prints()
            before = self.line_count, self.sum_of_lines
            x = make(lineno, values[:width])
            self.line_count, self.sum_of_lines = before  # counted with the others
            count += 1
            totals.add(x)
            out.append(_copy_row(prefix, x))
            if len(dates) + len(times) > CACHE_LIMIT:
                for cache in (dates, times):
                    seed = cache.get("")
                    cache.clear()
                    if seed is not None:
                        cache[""] = seed
            raw = values[i_amount]
            if raw:
                amounts[raw] = (x.amount, str(x.amount))
            raw = values[i_posted]
            if raw and x.posted_date is not None:
                dates[raw] = (x.posted_date, x.posted_date.isoformat())
            raw = values[i_pdt]
            if raw and x.posted_date_time is not None:
                times[raw] = (x.posted_date_time, x.posted_date_time.isoformat())
            raw = values[i_qty]
            if raw and x.quantity_purchased is not None and len(quantities) < 10_000:
                quantities[raw] = str(x.quantity_purchased)

        def emit() -> tuple[bytes, int]:
            nonlocal count
            flush_prints()
            self.line_count += count
            out.append("")
            chunk = _copy_escape("\n".join(out)).encode()
            n = count
            out.clear()
            count = 0
            return chunk, n

        for row in self._buffer:
            slow(row.line, [*row.values, ""])
        self._buffer = []
        for lineno, values in self._raw:
            if values[i_total] and (
                lineno in skip or self._is_repeated_summary(Row(lineno, values, header))
            ):
                continue
            fingerprint = "\x1f".join(values) if in_order else None
            values.append("")
            if values[i_sid] != expected_sid or values[i_currency]:
                slow(lineno, values)
            else:
                raw = values[i_amount]
                amount = amounts.get(raw)
                if amount is None:
                    try:  # the conversion make() uses; its errors are raised by slow()
                        value = parse_money(raw, currency=currency)
                    except ValueError:
                        pass
                    else:
                        amount = amounts[raw] = (value, str(value))
                        if len(amounts) > CACHE_LIMIT:
                            amounts.clear()
                            amounts[""] = (_ZERO, str(_ZERO))
                posted = dates.get(values[i_posted])
                stamp = times.get(values[i_pdt])
                quantity = quantities.get(values[i_qty])
                if amount is None or stamp is None or quantity is None:
                    slow(lineno, values)
                else:
                    if posted is None:
                        if values[i_posted]:
                            slow(lineno, values)
                            continue
                        day = stamp[0].date() if stamp[0] is not None else None
                        posted_text = day.isoformat() if day is not None else null
                    else:
                        day, posted_text = posted
                    key = (day, values[i_ttype], values[i_atype], values[i_desc],
                           values[i_mkt])
                    cell = cells.get(key) or new_cell(key)
                    value = amount[0]
                    cell[0] += value
                    cell[1] += 1
                    if cell[2] is not None and values[i_order]:
                        orders = cell[2]
                        item = (values[i_order], values[i_sku])
                        orders[item] = orders.get(item, _ZERO) + value
                    count += 1
                    prints.append(fingerprint or "\x1f".join(canonical_of(values)))
                    if extras:
                        extra = {c: values[i] for c, i in extras if values[i]}
                        text = dumps(extra) if extra else "{}"
                    else:
                        text = "{}"
                    values += (amount[1], posted_text, stamp[1], quantity, str(lineno), prefix,
                               text)
                    out.append("\t".join(row_of(values)))
            if count >= rows:
                yield emit()
        if count or out:
            yield emit()
        self.sum_of_lines += sum((cell[0] for cell in cells.values()), _ZERO) - sum_before
        self._check_sums(totals)

    @property
    def fingerprint(self) -> str:
        """sha256 of the summary and every line in canonical column order (independent of
        compression, encoding, line endings and column order). Complete once ``lines()``
        is exhausted."""
        s = self.summary
        head = hashlib.sha256(
            "\x1f".join(
                (s.settlement_id, s.start_date.isoformat(), s.end_date.isoformat(),
                 s.deposit_date.isoformat() if s.deposit_date else "", str(s.total_amount),
                 s.currency)
            ).encode()
        )
        head.update(self._digest.digest())
        return head.hexdigest()

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
            total = parse_money(row["total-amount"], currency=summary.currency)
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

    def _line_maker(self):
        """A closure turning (line number, values) into a SettlementLineData, with the
        column positions resolved once (the hot loop of a 1,000,000-line import)."""
        summary = self.summary
        index = self._file.header.index
        source = self.name or self.source_name

        def at(column: str) -> int:
            return index.get(column, -1)  # -1: the '' appended to every row

        (i_sid, i_currency, i_ttype, i_order, i_morder, i_adj, i_ship, i_mkt, i_atype, i_desc,
         i_amount, i_ful, i_posted, i_pdt, i_oic, i_moi, i_mai, i_sku, i_qty, i_promo) = (
            at(c) for c in (
                "settlement-id", "currency", "transaction-type", "order-id",
                "merchant-order-id", "adjustment-id", "shipment-id", "marketplace-name",
                "amount-type", "amount-description", "amount", "fulfillment-id",
                "posted-date", "posted-date-time", "order-item-code", "merchant-order-item-id",
                "merchant-adjustment-item-id", "sku", "quantity-purchased", "promotion-id",
            )
        )
        canonical = [at(c) for c in COLUMNS] + [index[c] for c in sorted(self.extra_columns)]
        extras = [(c, index[c]) for c in self.extra_columns]
        expected_sid = summary.settlement_id
        currency = summary.currency
        amount_of = lru_cache(maxsize=65536)(lambda text: parse_money(text, currency=currency))
        dates = DateWindow(summary.start_date - LINE_DATES_BEFORE,
                           summary.end_date + LINE_DATES_AFTER,
                           "a year before the settlement's period to three months after it")
        update = self._digest.update
        zero = Decimal("0")
        error = self._error

        def make(lineno: int, values: list[str]) -> SettlementLineData:
            values.append("")
            sid = values[i_sid]
            if sid != expected_sid:
                if not sid:
                    raise error("settlement-id is empty", line=lineno, column="settlement-id")
                raise error(
                    f"two settlement ids in one file: {expected_sid!r} (line {summary.line}) "
                    f"and {sid!r}; split the file per settlement",
                    line=lineno, column="settlement-id",
                )
            row_currency = values[i_currency]
            if row_currency and row_currency.upper() != currency:
                raise error(
                    f"two currencies in one settlement: {currency} on line {summary.line} "
                    f"and {row_currency.upper()}",
                    line=lineno, column="currency",
                )
            raw = values[i_amount]
            if raw:
                try:
                    amount = amount_of(raw)
                except ValueError as exc:
                    raise error(str(exc), line=lineno, column="amount") from None
            else:
                amount = zero
            raw = values[i_posted]
            try:
                posted_date = parse_date_in(raw, dates) if raw else None
            except ValueError as exc:
                raise error(str(exc), line=lineno, column="posted-date") from None
            raw = values[i_pdt]
            try:
                posted_date_time = parse_datetime_in(raw, dates) if raw else None
            except ValueError as exc:
                raise error(str(exc), line=lineno, column="posted-date-time") from None
            if posted_date is None and posted_date_time is not None:
                posted_date = posted_date_time.date()
            raw = values[i_qty]
            if not raw:
                quantity = None
            elif raw.isdigit() and len(raw) < 7:
                quantity = int(raw)
            else:
                try:
                    quantity = parse_quantity(raw, minimum=-MAX_QUANTITY)
                except ValueError as exc:
                    raise error(str(exc), line=lineno, column="quantity-purchased") from None
            extra = {c: values[i] for c, i in extras if values[i]} if extras else {}
            update("\x1f".join([values[i] for i in canonical]).encode() + b"\x1e")
            self.line_count += 1
            self.sum_of_lines += amount
            self._gross += abs(amount)
            if self._gross >= MAX_TOTAL:
                raise error(f"the amounts add up to more than {MAX_TOTAL:,} at this line: "
                            "more than the books can hold", line=lineno, column="amount")
            return SettlementLineData(
                lineno, sid, values[i_ttype], values[i_order], values[i_morder],
                values[i_adj], values[i_ship], values[i_mkt], values[i_atype], values[i_desc],
                amount, values[i_ful], posted_date, posted_date_time, values[i_oic],
                values[i_moi], values[i_mai], values[i_sku], quantity, values[i_promo], extra,
            )

        del source
        return make


def _currency(row: Row, name: str | None) -> str:
    """The row's currency ('' when empty), an ISO 4217 code in use."""
    return typed(row, "currency", parse_currency, source=name) or ""


def parse_settlement(source: ReportSource, *, name: str | None = None,
                     now: datetime | None = None) -> SettlementReport:
    """Open a V2 settlement flat file; see :class:`SettlementReport`. Its period may not
    end after ``now`` (default: the application's clock) plus two days."""
    return SettlementReport(source, name=name, now=now)
