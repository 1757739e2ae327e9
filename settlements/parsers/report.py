"""The V2 settlement file: its summary row and its lines, read streaming (see the package's
docstring). :class:`SettlementReport` finds the summary on construction; :meth:`lines`
converts every line fully (the reference); :func:`settlements.parsers.fast.line_rows` is
the import's fast way through the same lines. :class:`FileLocale` is what the import knows
of where the file comes from: the legacy encodings it may be in and, with each row's own
``marketplace-name``, how its numeric dates are written (:class:`DateOrders`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from django.utils import timezone

from amazonsync.flatfiles.locale import locale_for
from amazonsync.flatfiles.reading import ReportFormatError, ReportSource, is_reopenable
from amazonsync.flatfiles.rows import FlatFile, Row, typed
from amazonsync.flatfiles.syntax import AmbiguousDate
from amazonsync.flatfiles.values import (
    MAX_QUANTITY,
    MAX_TOTAL,
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

from .records import (
    COLUMNS,
    DEPOSIT_AFTER,
    FIELD_LIMITS,
    LINE_DATES_AFTER,
    LINE_DATES_BEFORE,
    MAX_PERIOD,
    REPORT_TYPE,
    REQUIRED_COLUMNS,
    SettlementLineData,
    SettlementSummary,
)
from .totals import LineTotals

_ZERO = Decimal("0")

# A summary row that is not the first data row is looked for this far before the
# parser re-reads the file (paths and bytes) instead of buffering more rows.
BUFFER_LIMIT = 50_000


@dataclass(frozen=True)
class FileLocale:
    """What the import knows of where a settlement file comes from (see
    :func:`settlements.selectors.settlement_file_locale`)."""

    encodings: tuple[str, ...] = ()  # legacy encodings it may be in (none: any Amazon uses)
    encoding: str | None = None  # the encoding it is in, when someone said so
    marketplace: str = ""  # code of the marketplace it is imported for, when given
    dayfirst: bool | None = None  # that marketplace's order of day and month
    account_dayfirst: bool | None = None  # ... the one all the account's marketplaces share


NO_LOCALE = FileLocale()
_UNSET = object()


class DateOrders:
    """The order of day and month of each date of a settlement file: the row's own
    marketplace (its ``marketplace-name``: ``Amazon.co.uk`` writes 05/07/2025 for 5 July),
    then the file's (the marketplace it is imported for, else the marketplaces its rows
    name), then the account's: the first one known decides, even when it settles nothing
    (as :func:`amazonsync.flatfiles.locale.date_order`: an Amazon.ca row is not read month
    first because the account sells in the US). A numeric date it does not settle is
    refused (:class:`AmbiguousDate`), never guessed. The file's rows are only read for
    their marketplaces when a date needs it."""

    def __init__(self, locale: FileLocale, named: Callable[[], set[str]]) -> None:
        self.locale = locale
        self._named = named
        self._own: dict[str, bool | None] = {}
        self._fallback: object = _UNSET

    def own(self, marketplace_name: str) -> object:
        """The order of the marketplace the row names; _UNSET when it names none known."""
        order = self._own.get(marketplace_name, _UNSET)
        if order is _UNSET and marketplace_name not in self._own:
            found = locale_for(marketplace_name) if marketplace_name else None
            order = self._own[marketplace_name] = found.dayfirst if found else _UNSET
        return order

    def fallback(self) -> bool | None:
        """The order of a row that names no marketplace (see the class)."""
        if self._fallback is _UNSET:
            if self.locale.marketplace:
                order = self.locale.dayfirst
            else:
                orders = {found.dayfirst for found in map(locale_for, self._named())
                          if found is not None}
                if orders:
                    order = orders.pop() if len(orders) == 1 else None
                else:
                    order = self.locale.account_dayfirst
            self._fallback = order
        return self._fallback  # type: ignore[return-value]

    def parse(self, parse, text: str, window: DateWindow, marketplace_name: str):
        """``parse(text, window, dayfirst=...)`` in the row's order (see the class)."""
        order = self.own(marketplace_name)
        if order is not _UNSET:
            return parse(text, window, dayfirst=order)
        try:
            return parse(text, window, dayfirst=None)
        except AmbiguousDate:
            order = self.fallback()
            if order is None:
                raise
            return parse(text, window, dayfirst=order)


class SettlementReport:
    """One V2 settlement file. ``summary`` is read on construction; ``lines()`` streams.

    After ``lines()`` is exhausted ``line_count`` and ``sum_of_lines`` hold the totals.
    Errors raise :class:`ReportFormatError` (possibly mid-stream: callers store inside a
    transaction so a failing file stores nothing).
    """

    report_type = REPORT_TYPE
    locale = NO_LOCALE

    def __init__(self, source: ReportSource, *, name: str | None = None,
                 now: datetime | None = None, locale: FileLocale = NO_LOCALE) -> None:
        self._source = source
        self.name = name
        self._now = now
        self.locale = locale
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
                            field_limits=FIELD_LIMITS, encodings=self.locale.encodings,
                            encoding=self.locale.encoding)
        except ReportFormatError as exc:
            raise exc.with_source(self.name) from None

    @property
    def date_orders(self) -> DateOrders:
        """How this file's dates are read (:class:`DateOrders`)."""
        orders = self.__dict__.get("_date_orders")
        if orders is None:
            orders = self.__dict__["_date_orders"] = DateOrders(self.locale,
                                                                self._named_marketplaces)
        return orders

    def _named_marketplaces(self) -> set[str]:
        """The marketplace names the file's rows carry (read again for them; none when
        the file cannot be read twice)."""
        if not is_reopenable(self._source):
            return set()
        flat = self._open()
        i = flat.header.index.get("marketplace-name")
        if i is None:
            return set()
        return {values[i] for _, values in flat.raw_rows() if len(values) > i and values[i]}

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
        orders, market = self.date_orders, row.get("marketplace-name")

        def stamp(v: str) -> datetime:
            return orders.parse(parse_datetime_in, v, window, market)

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
                        lambda v: orders.parse(parse_datetime_in, v, deposit_window, market),
                        source=name)
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
        column positions resolved once (the hot loop of a 1,000,000-line import). Per line:
        the settlement and currency (:meth:`_identity_refusal` when they differ), the typed
        values (:meth:`_value_converters`), the fingerprint, the running sums
        (:meth:`_line_counted`)."""
        index = self._file.header.index

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
        expected_sid = self.summary.settlement_id
        currency = self.summary.currency
        refusal = self._identity_refusal
        amount_of, when, units = self._value_converters()
        update = self._digest.update
        counted = self._line_counted

        def make(lineno: int, values: list[str]) -> SettlementLineData:
            values.append("")
            sid = values[i_sid]
            row_currency = values[i_currency]
            if sid != expected_sid or (row_currency and row_currency.upper() != currency):
                raise refusal(lineno, sid, row_currency)
            amount = amount_of(lineno, values[i_amount])
            posted_date, posted_date_time = when(lineno, values[i_posted], values[i_pdt],
                                                 values[i_mkt])
            quantity = units(lineno, values[i_qty])
            extra = {c: values[i] for c, i in extras if values[i]} if extras else {}
            update("\x1f".join([values[i] for i in canonical]).encode() + b"\x1e")
            counted(lineno, amount)
            return SettlementLineData(
                lineno, sid, values[i_ttype], values[i_order], values[i_morder],
                values[i_adj], values[i_ship], values[i_mkt], values[i_atype], values[i_desc],
                amount, values[i_ful], posted_date, posted_date_time, values[i_oic],
                values[i_moi], values[i_mai], values[i_sku], quantity, values[i_promo], extra,
            )

        return make

    def _identity_refusal(self, lineno: int, sid: str, row_currency: str) -> ReportFormatError:
        """The error of a line of another settlement (or none) or in another currency."""
        summary = self.summary
        if sid != summary.settlement_id:
            if not sid:
                return self._error("settlement-id is empty", line=lineno,
                                   column="settlement-id")
            return self._error(
                f"two settlement ids in one file: {summary.settlement_id!r} (line "
                f"{summary.line}) and {sid!r}; split the file per settlement",
                line=lineno, column="settlement-id",
            )
        return self._error(
            f"two currencies in one settlement: {summary.currency} on line {summary.line} "
            f"and {row_currency.upper()}",
            line=lineno, column="currency",
        )

    def _value_converters(self):
        """(amount_of, when, units): a line's amount, its (posted date, posted date-time)
        and its quantity from their raw texts, each refusal naming the line and column.
        Amounts are converted once per distinct text; line dates must fall between a year
        before the settlement's period and three months after it."""
        summary = self.summary
        currency = summary.currency
        parse_amount = lru_cache(maxsize=65536)(
            lambda text: parse_money(text, currency=currency)
        )
        dates = DateWindow(summary.start_date - LINE_DATES_BEFORE,
                           summary.end_date + LINE_DATES_AFTER,
                           "a year before the settlement's period to three months after it")
        error = self._error
        zero = Decimal("0")
        in_order = self.date_orders.parse

        def amount_of(lineno: int, raw: str) -> Decimal:
            if not raw:
                return zero
            try:
                return parse_amount(raw)
            except ValueError as exc:
                raise error(str(exc), line=lineno, column="amount") from None

        def when(lineno: int, posted: str, stamp: str, market: str):
            try:
                posted_date = in_order(parse_date_in, posted, dates, market) if posted else None
            except ValueError as exc:
                raise error(str(exc), line=lineno, column="posted-date") from None
            try:
                posted_date_time = (in_order(parse_datetime_in, stamp, dates, market)
                                    if stamp else None)
            except ValueError as exc:
                raise error(str(exc), line=lineno, column="posted-date-time") from None
            if posted_date is None and posted_date_time is not None:
                posted_date = posted_date_time.date()
            return posted_date, posted_date_time

        def units(lineno: int, raw: str) -> int | None:
            if not raw:
                return None
            if raw.isdigit() and len(raw) < 7:
                return int(raw)
            try:
                return parse_quantity(raw, minimum=-MAX_QUANTITY)
            except ValueError as exc:
                raise error(str(exc), line=lineno, column="quantity-purchased") from None

        return amount_of, when, units

    def _line_counted(self, lineno: int, amount: Decimal) -> None:
        """Count a converted line; its amounts may not add up past the books' limit."""
        self.line_count += 1
        self.sum_of_lines += amount
        self._gross += abs(amount)
        if self._gross >= MAX_TOTAL:
            raise self._error(f"the amounts add up to more than {MAX_TOTAL:,} at this line: "
                              "more than the books can hold", line=lineno, column="amount")


def _currency(row: Row, name: str | None) -> str:
    """The row's currency ('' when empty), an ISO 4217 code in use."""
    return typed(row, "currency", parse_currency, source=name) or ""


def parse_settlement(source: ReportSource, *, name: str | None = None,
                     now: datetime | None = None,
                     locale: FileLocale = NO_LOCALE) -> SettlementReport:
    """Open a V2 settlement flat file; see :class:`SettlementReport`. Its period may not
    end after ``now`` (default: the application's clock) plus two days; ``locale`` is what
    is known of where it comes from (encodings, order of day and month)."""
    return SettlementReport(source, name=name, now=now, locale=locale)
