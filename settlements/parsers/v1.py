"""The flat-file settlement report (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE, "V1"): one row
per posting, its money spread over nine amount columns (``price-amount``,
``item-related-fee-amount``, ``shipment-fee-amount``, ``order-fee-amount``,
``promotion-amount``, ``direct-payment-amount``, ``misc-fee-amount``, ``other-fee-amount``,
``other-amount``) with ISO dates carrying their offset (``2026-10-02T08:15:26+00:00``).

:class:`V1SettlementReport` reads it into the same records as the V2 file: the summary row
(the first row with a ``total-amount``) is the settlement, and every non-empty amount of a
posting row is one settlement line, in the V2 terms Amazon gives for the migration
(:data:`AMOUNT_COLUMNS`): transaction type as in the file, amount type by column
(``ItemPrice``, ``ItemFees``, ``ShipmentFees``, ``OrderFees``, ``Promotion``,
``DirectPayment``, ``MiscFee``, ``OtherFees``, ``other-transaction``) and amount description
from the column naming it (``price-type``, ``item-related-fee-type``, ...; for the last
three ``other-fee-reason-description``, else the transaction type itself, e.g.
``Storage Fee``). The posted date is the calendar date as written, the posted date-time the
instant. A row carrying only ``quantity-purchased`` (Amazon writes an order item's quantity
on a row of its own, before its amounts) gives its quantity to the item's next amount line.

Lines are numbered in the order they come (1, 2, ...); each keeps its file line in
``extra['file-line']``. Every value is checked here, in V1 terms, so that a refusal names
the file line and the V1 column (a price without its price-type, an amount that is not
money in the currency, a date outside the settlement's reach). The lines are then handed to
the V2 machinery (:class:`~settlements.parsers.report.SettlementReport`) as V2-shaped rows,
so the import, the COPY path, the fingerprint, the GL mapping and the journals are the V2
ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from amazonsync.flatfiles.layouts import SETTLEMENT_V1_COLUMNS
from amazonsync.flatfiles.reading import ReportFormatError, ReportSource, is_reopenable
from amazonsync.flatfiles.rows import FlatFile, Header, Row, guess_report_type
from amazonsync.flatfiles.values import (
    MAX_QUANTITY,
    DateWindow,
    parse_date_in,
    parse_datetime_in,
    parse_money,
    parse_quantity,
)

from .records import COLUMNS, FIELD_LIMITS, LINE_DATES_AFTER, LINE_DATES_BEFORE
from .report import BUFFER_LIMIT, SettlementReport

V1_REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE"

V1_COLUMNS = SETTLEMENT_V1_COLUMNS
V1_REQUIRED: tuple[str, ...] = (
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date",
    "total-amount", "currency", "transaction-type", "posted-date", "price-type",
    "price-amount", "item-related-fee-type", "item-related-fee-amount",
)

# amount column -> (amount type, the column giving its description or None)
AMOUNT_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("price-amount", "ItemPrice", "price-type"),
    ("item-related-fee-amount", "ItemFees", "item-related-fee-type"),
    ("shipment-fee-amount", "ShipmentFees", "shipment-fee-type"),
    ("order-fee-amount", "OrderFees", "order-fee-type"),
    ("promotion-amount", "Promotion", "promotion-type"),
    ("direct-payment-amount", "DirectPayment", "direct-payment-type"),
    ("misc-fee-amount", "MiscFee", None),
    ("other-fee-amount", "OtherFees", None),
    ("other-amount", "other-transaction", None),
)
REASON = "other-fee-reason-description"
# The extra column each line keeps its file line in.
FILE_LINE = "file-line"

V1_FIELD_LIMITS: dict[str, int] = {
    **{c: n for c, n in FIELD_LIMITS.items() if c in V1_COLUMNS},
    "shipment-fee-type": 255, "order-fee-type": 255, "price-type": 255,
    "item-related-fee-type": 255, REASON: 255, "promotion-type": 255,
    "direct-payment-type": 255,
}
# The columns that say which item a quantity row belongs to.
_ITEM = ("transaction-type", "order-id", "adjustment-id", "order-item-code",
         "merchant-adjustment-item-id", "sku")
_PENDING_LIMIT = 100_000


def is_v1_header(names) -> bool:
    return guess_report_type(names) == V1_REPORT_TYPE


class _Shape:
    """What the V2 machinery reads of its file: the (V2) header and the source's name."""

    def __init__(self, header: Header, source_name: str | None) -> None:
        self.header = header
        self.source_name = source_name


class V1SettlementReport(SettlementReport):
    """One V1 flat-file settlement; same interface and records as :class:`SettlementReport`
    (``summary`` on construction, ``lines()`` or :func:`~settlements.parsers.line_rows`
    once). ``columns`` is the V1 header as the file has it."""

    report_type = V1_REPORT_TYPE

    def __init__(self, source: ReportSource, *, name: str | None = None,
                 now: datetime | None = None, _file: FlatFile | None = None) -> None:
        self._source = source
        self.name = name
        self._now = now
        v1 = _file if _file is not None else self._open()
        self.source_name = v1.source_name
        self._v1_header = v1.header
        self.columns = v1.header.names
        unknown = v1.header.extras(V1_COLUMNS)
        self.extra_columns = unknown  # the summary keeps these
        self.line_count = 0
        self.sum_of_lines = Decimal("0")
        self._gross = Decimal("0")
        self._digest = hashlib.sha256()
        self._reopen_skip = None
        self._buffer = []
        self._streaming = False
        self._current = (0, 0, "")  # (line number, file line, V1 amount column)
        self.quantities_unclaimed = 0
        self.summary, before, rest = self._v1_summary(v1)
        self.extra_columns = tuple(sorted((*unknown, FILE_LINE)))
        self._file = _Shape(Header.from_values((*COLUMNS, *self.extra_columns)),
                            self.source_name)
        self._raw = self._postings(before, rest)

    def _open(self) -> FlatFile:
        try:
            return FlatFile(self._source, required=V1_REQUIRED, report=V1_REPORT_TYPE,
                            field_limits=V1_FIELD_LIMITS)
        except ReportFormatError as exc:
            raise exc.with_source(self.name) from None

    def _error(self, message: str, *, line: int | None = None, column: str | None = None):
        """While lines stream, the V2 machinery names its line numbers and V2 columns:
        named here as the file line and V1 column of that line."""
        if self._streaming and line is not None and line == self._current[0]:
            line, column = self._current[1], (self._current[2] if column == "amount"
                                              else column)
        return super()._error(message, line=line, column=column)

    def _refuse(self, message: str, line: int, column: str) -> ReportFormatError:
        return ReportFormatError(message, line=line, column=column,
                                 source=self.name or self.source_name)

    # -- the summary -------------------------------------------------------------------

    def _v1_summary(self, v1: FlatFile):
        """(summary, rows before it, iterator of the rows after it). Rows before the
        summary are kept (up to BUFFER_LIMIT; then a reopenable file is read again)."""
        header = self._v1_header
        raw = v1.raw_rows()
        i_total = header.index["total-amount"]
        before: list[tuple[int, list[str]]] = []
        for lineno, values in raw:
            if values[i_total]:
                return self._summary_from(Row(lineno, values, header)), before, raw
            if len(before) < BUFFER_LIMIT or not is_reopenable(self._source):
                before.append((lineno, values))
                continue
            for lineno2, values2 in raw:
                if values2[i_total]:
                    summary = self._summary_from(Row(lineno2, values2, header))
                    return summary, [], self._open().raw_rows()
            break
        if not before:
            raise self._error("the file has a header but no data rows", line=2)
        raise self._error(
            "no settlement summary row: no row carries a total-amount (the first such row "
            "gives the settlement's dates, total and currency)"
        )

    def _later_summary(self, lineno: int, values: list[str], index: dict[str, int]) -> bool:
        """A later row carrying total-amount: the same summary again is skipped (True),
        a different one refused; a row that also carries a posting is one."""
        summary = self.summary
        currency = values[index["currency"]].upper()
        if currency and currency != summary.currency:
            raise self._refuse(
                f"two currencies in one settlement: {summary.currency} on line "
                f"{summary.line} and {currency}", lineno, "currency")
        try:
            total = parse_money(values[index["total-amount"]], currency=summary.currency)
        except ValueError as exc:
            raise self._refuse(str(exc), lineno, "total-amount") from None
        if total != summary.total_amount:
            raise self._refuse(
                f"a second summary row with a different total-amount ({total} vs "
                f"{summary.total_amount} on line {summary.line})", lineno, "total-amount")
        return not values[index["transaction-type"]]

    # -- the postings ------------------------------------------------------------------

    def _postings(self, before, rest) -> Iterator[tuple[int, list[str]]]:
        """(line number, V2-shaped values) of every amount of every posting row."""
        index = self._v1_header.index
        check = self._row_checker()
        shape = self._shaper()
        pending: dict[tuple[str, ...], str] = {}
        item_at = [index.get(c, -1) for c in _ITEM]
        summary_line = self.summary.line
        i_total, i_qty = index["total-amount"], index.get("quantity-purchased", -1)
        number = 0
        self._streaming = True
        for rows in (before, rest):
            for lineno, values in rows:
                values.append("")
                if values[i_total] and (lineno == summary_line
                                        or self._later_summary(lineno, values, index)):
                    continue
                amounts = check(lineno, values)
                item = tuple(values[i] for i in item_at)
                if not amounts:
                    if values[i_qty]:
                        if len(pending) >= _PENDING_LIMIT:
                            self.quantities_unclaimed += len(pending)
                            pending.clear()
                        pending[item] = values[i_qty]
                    continue
                quantity = values[i_qty] or pending.pop(item, "")
                for column, amount_type, description, amount in amounts:
                    number += 1
                    self._current = (number, lineno, column)
                    yield number, shape(lineno, values, amount_type, description, amount,
                                        quantity)
                    quantity = ""
        self.quantities_unclaimed += len(pending)

    def _row_checker(self):
        """check(file line, values) -> [(column, amount type, description, amount text)]
        of the row's amounts, every value of the row checked (refusals name the file line
        and the V1 column)."""
        index = self._v1_header.index
        summary = self.summary
        currency = summary.currency
        money = lru_cache(maxsize=65536)(lambda text: parse_money(text, currency=currency))
        window = DateWindow(summary.start_date - LINE_DATES_BEFORE,
                            summary.end_date + LINE_DATES_AFTER,
                            "a year before the settlement's period to three months after it")
        stamp = lru_cache(maxsize=65536)(lambda text: (parse_date_in(text, window),
                                                       parse_datetime_in(text, window)))
        families = [(index[c], c, t, index.get(d, -1) if d else None)
                    for c, t, d in AMOUNT_COLUMNS if c in index]
        at = {c: index.get(c, -1) for c in ("settlement-id", "currency", "transaction-type",
                                            "posted-date", "quantity-purchased", REASON)}
        refuse = self._refuse

        def check(lineno: int, values: list[str]):
            sid = values[at["settlement-id"]]
            if sid != summary.settlement_id:
                raise refuse("settlement-id is empty" if not sid else
                             f"two settlement ids in one file: {summary.settlement_id!r} "
                             f"(line {summary.line}) and {sid!r}; split the file per "
                             "settlement", lineno, "settlement-id")
            row_currency = values[at["currency"]].upper()
            if row_currency and row_currency != currency:
                raise refuse(f"two currencies in one settlement: {currency} on line "
                             f"{summary.line} and {row_currency}", lineno, "currency")
            amounts = []
            ttype = values[at["transaction-type"]]
            for i, column, amount_type, i_named in families:
                text = values[i]
                if not text:
                    continue
                try:
                    money(text)
                except ValueError as exc:
                    raise refuse(str(exc), lineno, column) from None
                if not ttype:
                    raise refuse(f"an amount in {column} but no transaction-type", lineno,
                                 "transaction-type")
                if i_named is None:
                    description = values[at[REASON]] or ttype
                else:
                    description = values[i_named]
                    if not description:
                        named = next(d for c, _, d in AMOUNT_COLUMNS if c == column)
                        raise refuse(f"an amount in {column} ({text}) but no {named}: what "
                                     "it is would be a guess", lineno, named)
                amounts.append((column, amount_type, description, text))
            self._check_when(lineno, values, amounts, stamp, at)
            return amounts

        return check

    def _check_when(self, lineno, values, amounts, stamp, at) -> None:
        """The posted date (required on a row with amounts) and the quantity."""
        posted = values[at["posted-date"]]
        if amounts and not posted:
            raise self._refuse("a posting without its posted-date", lineno, "posted-date")
        if posted:
            try:
                stamp(posted)
            except ValueError as exc:
                raise self._refuse(str(exc), lineno, "posted-date") from None
        quantity = values[at["quantity-purchased"]]
        if quantity and not (quantity.isdigit() and len(quantity) < 7):
            try:
                parse_quantity(quantity, minimum=-MAX_QUANTITY)
            except ValueError as exc:
                raise self._refuse(str(exc), lineno, "quantity-purchased") from None

    def _shaper(self):
        """shape(file line, V1 values, amount type, description, amount, quantity) -> the
        V2 row of one amount (header: COLUMNS then the extra columns, sorted)."""
        index = self._v1_header.index
        width = len(COLUMNS) + len(self.extra_columns)
        # V2 position -> V1 position, for the columns both have
        copied = [(n, index[c]) for n, c in enumerate(COLUMNS)
                  if c in index and c not in ("total-amount", "settlement-start-date",
                                              "settlement-end-date", "deposit-date",
                                              "currency", "quantity-purchased")]
        v2 = {c: n for n, c in enumerate((*COLUMNS, *self.extra_columns))}
        extras = [(v2[c], index[c]) for c in self.extra_columns if c in index]
        i_type, i_desc, i_amount = v2["amount-type"], v2["amount-description"], v2["amount"]
        i_stamp, i_qty, i_line = v2["posted-date-time"], v2["quantity-purchased"], v2[FILE_LINE]
        i_posted = index["posted-date"]

        def shape(lineno, values, amount_type, description, amount, quantity) -> list[str]:
            row = [""] * width
            for n, i in copied:
                row[n] = values[i]
            for n, i in extras:
                row[n] = values[i]
            row[i_type], row[i_desc], row[i_amount] = amount_type, description, amount
            row[i_stamp] = values[i_posted]
            row[i_qty] = quantity
            row[i_line] = str(lineno)
            return row

        return shape


def parse_settlement_v1(source: ReportSource, *, name: str | None = None,
                        now: datetime | None = None) -> V1SettlementReport:
    """Open a V1 flat-file settlement; see :class:`V1SettlementReport`."""
    return V1SettlementReport(source, name=name, now=now)


def open_settlement(source: ReportSource, *, name: str | None = None,
                    now: datetime | None = None, locale=None) -> SettlementReport:
    """A settlement file of either layout, told by its header: the V1 flat file
    (``price-type``/``price-amount``) or the V2 one. A stream that cannot be read twice
    (not seekable) is read as V2. ``locale``: what is known of where the file comes from
    (:class:`~settlements.parsers.report.FileLocale`: encodings, order of day and month)."""
    from .report import NO_LOCALE, parse_settlement

    locale = locale or NO_LOCALE
    seekable = is_reopenable(source) or (
        hasattr(source, "seekable") and source.seekable())  # type: ignore[union-attr]
    if not seekable:
        return parse_settlement(source, name=name, now=now, locale=locale)
    start = None if is_reopenable(source) else source.tell()  # type: ignore[union-attr]
    try:
        names = FlatFile(source, encodings=locale.encodings,
                         encoding=locale.encoding).header.names
    except ReportFormatError:
        names = ()
    finally:
        if start is not None:
            source.seek(start)  # type: ignore[union-attr]
    if is_v1_header(names):
        return V1SettlementReport(source, name=name, now=now)
    return parse_settlement(source, name=name, now=now, locale=locale)


def same_settlement_other_layout(stored_columns, stored_total: Decimal, stored_currency: str,
                                 stored_sum: Decimal, report: SettlementReport) -> bool:
    """The same settlement imported before from the other layout (V1 vs V2): same total,
    currency and sum of lines (``report``'s lines read). Not a conflict, not a second
    settlement."""
    was_v1 = is_v1_header(stored_columns)
    now_v1 = isinstance(report, V1SettlementReport)
    summary = report.summary
    return (was_v1 != now_v1 and stored_total == summary.total_amount
            and stored_currency == summary.currency and stored_sum == report.sum_of_lines)
