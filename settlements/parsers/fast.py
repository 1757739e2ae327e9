"""The import's fast way through a settlement file's lines: :func:`line_rows`.

Same lines, values, checks, errors, fingerprint and sums as
:meth:`SettlementReport.lines` (the reference: any line that cannot take the fast way goes
through its full conversion), but no per-line objects: a line becomes one row, a tuple in
:data:`LINE_FIELDS` order, and each distinct amount, date, date-time and quantity text is
converted once (a million-line file has a few thousand of each).

What the typed values of a row look like is the consumer's choice (:class:`LineForms`):
the parsed values themselves by default, or e.g. their PostgreSQL COPY text
(:mod:`settlements.copy`). The parser applies a form once per distinct text, next to the
conversion it caches, so that rendering costs nothing per line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from amazonsync.flatfiles.rows import Row
from amazonsync.flatfiles.syntax import AmbiguousDate, parse_amazon_date
from amazonsync.flatfiles.values import parse_money

from .records import COLUMNS, LINE_FIELDS, SettlementLineData
from .report import SettlementReport
from .totals import LineTotals

_ZERO = Decimal("0")
# Lines per batch of rows (a COPY chunk of about 1 MB of text).
ROWS_PER_BATCH = 5000
# Bound on the per-import caches of converted amounts, dates and quantities.
CACHE_LIMIT = 200_000


def _same(value):
    return value


@dataclass(frozen=True)
class LineForms:
    """How :func:`line_rows` hands out the typed values of a line: each function takes the
    parsed value (None for an empty date, date-time or quantity) and gives what goes in the
    row; ``row`` takes the whole row (a tuple in :data:`LINE_FIELDS` order). The value
    forms are applied once per distinct text (``line_number`` and ``extra`` once per line,
    ``extra`` only to a non-empty dict: an empty one is ``extra({})``, applied once)."""

    amount: Callable[[Decimal], Any] = _same
    date: Callable[[date | None], Any] = _same
    datetime: Callable[[datetime | None], Any] = _same
    quantity: Callable[[int | None], Any] = _same
    line_number: Callable[[int], Any] = _same
    extra: Callable[[dict[str, str]], Any] = _same
    row: Callable[[tuple], Any] = _same


PARSED = LineForms()


def line_values(x: SettlementLineData, forms: LineForms = PARSED) -> tuple:
    """The row of a converted line (the reference for :func:`line_rows`' rows)."""
    return (
        forms.line_number(x.line), x.transaction_type, x.order_id, x.merchant_order_id,
        x.adjustment_id, x.shipment_id, x.marketplace_name, x.amount_type,
        x.amount_description, forms.amount(x.amount), x.fulfillment_id,
        forms.date(x.posted_date), forms.datetime(x.posted_date_time), x.order_item_code,
        x.merchant_order_item_id, x.merchant_adjustment_item_id, x.sku,
        forms.quantity(x.quantity_purchased), x.promotion_id,
        forms.extra(x.extra) if x.extra else forms.extra({}),
    )


class _Layout:
    """Where a line's values are in its list once the fast way has appended to it: the
    header's columns, then '' (for missing columns), then the forms of the amount, posted
    date, posted date-time, quantity, line number and extra columns."""

    def __init__(self, report: SettlementReport) -> None:
        header = report._file.header
        index = header.index
        width = self.width = len(header.names)
        empty = width

        def at(column: str) -> int:
            return index.get(column, empty)

        (self.total, self.sid, self.currency, self.amount, self.posted, self.stamp,
         self.quantity, self.ttype, self.atype, self.desc, self.market, self.order,
         self.sku) = (
            at(c) for c in ("total-amount", "settlement-id", "currency", "amount",
                            "posted-date", "posted-date-time", "quantity-purchased",
                            "transaction-type", "amount-type", "amount-description",
                            "marketplace-name", "order-id", "sku")
        )
        appended = dict(zip(
            ("amount", "posted_date", "posted_date_time", "quantity_purchased", "line_number",
             "extra"),
            range(width + 1, width + 7), strict=True,
        ))
        self.row_of = itemgetter(*[
            appended.get(name) or at(name.replace("_", "-")) for name in LINE_FIELDS
        ])
        canonical = [at(c) for c in COLUMNS] + [
            index[c] for c in sorted(report.extra_columns)
        ]
        self.canonical_of = itemgetter(*canonical)
        # The usual file: every column, in the canonical order: the row itself is canonical.
        self.in_order = canonical == list(range(width))
        self.extras = [(c, index[c]) for c in report.extra_columns]


def _either_order(text: str) -> bool:
    """Whether the date ``text`` reads the same whatever the order of day and month (ISO,
    dotted, a day past 12, ...): then one conversion serves every marketplace."""
    try:
        parse_amazon_date(text, dayfirst=None)
    except AmbiguousDate:
        return False
    except ValueError:
        return True  # refused either way: never remembered
    return True


class _Memo:
    """Raw text -> (parsed value, its form) of amounts, posted dates and date-times, and
    raw text -> form of quantities; filled by the full conversion of lines (amounts also
    by the fast way), bounded by CACHE_LIMIT. A date whose reading depends on the order of
    day and month (``05/07/2025``) is remembered per marketplace name instead
    (``by_market``: (marketplace name, raw text) -> (parsed value, its form)), as each
    marketplace's rows read it in their order."""

    def __init__(self, forms: LineForms, layout: _Layout) -> None:
        self.forms = forms
        self.at = layout
        self.zero = (_ZERO, forms.amount(_ZERO))
        self.amounts: dict[str, tuple[Decimal, Any]] = {"": self.zero}
        self.dates: dict[str, tuple[date, Any]] = {}
        self.times: dict[str, tuple[datetime | None, Any]] = {"": (None, forms.datetime(None))}
        self.quantities: dict[str, Any] = {"": forms.quantity(None)}
        self.dates_by_market: dict[tuple[str, str], tuple[date, Any]] = {}
        self.times_by_market: dict[tuple[str, str], tuple[datetime, Any]] = {}

    def amount(self, raw: str, currency: str) -> tuple[Decimal, Any] | None:
        """The conversion the full one uses; None when it refuses (it raises the error)."""
        try:
            value = parse_money(raw, currency=currency)
        except ValueError:
            return None
        amount = self.amounts[raw] = (value, self.forms.amount(value))
        if len(self.amounts) > CACHE_LIMIT:
            self.amounts.clear()
            self.amounts[""] = self.zero
        return amount

    def learn(self, values: list[str], x: SettlementLineData) -> None:
        """Remember the results of a line's full conversion."""
        at, forms = self.at, self.forms
        if len(self.dates) + len(self.times) + len(self.dates_by_market) + len(
                self.times_by_market) > CACHE_LIMIT:
            for cache in (self.dates, self.times):
                seed = cache.get("")
                cache.clear()
                if seed is not None:
                    cache[""] = seed
            self.dates_by_market.clear()
            self.times_by_market.clear()
        raw = values[at.amount]
        if raw:
            self.amounts[raw] = (x.amount, forms.amount(x.amount))
        market = values[at.market]
        raw = values[at.posted]
        if raw and x.posted_date is not None:
            known = (x.posted_date, forms.date(x.posted_date))
            if _either_order(raw):
                self.dates[raw] = known
            else:
                self.dates_by_market[market, raw] = known
        raw = values[at.stamp]
        if raw and x.posted_date_time is not None:
            known = (x.posted_date_time, forms.datetime(x.posted_date_time))
            if _either_order(raw):
                self.times[raw] = known
            else:
                self.times_by_market[market, raw] = known
        raw = values[at.quantity]
        if raw and x.quantity_purchased is not None and len(self.quantities) < 10_000:
            self.quantities[raw] = forms.quantity(x.quantity_purchased)


class _Batch:
    """The rows of the lines read since the last batch, and their fingerprint texts."""

    def __init__(self, report: SettlementReport, totals: LineTotals, forms: LineForms,
                 memo: _Memo) -> None:
        self.report = report
        self.totals = totals
        self.forms = forms
        self.memo = memo
        self.make = report._line_maker()
        self.digest = report._digest.update
        self.rows: list = []
        self.prints: list[str] = []

    def flush_prints(self) -> None:
        prints = self.prints
        if prints:
            prints.append("")
            self.digest("\x1e".join(prints).encode())
            prints.clear()

    def slow(self, lineno: int, values: list[str]) -> None:
        """The full conversion (raises the parser's errors), then remember its results."""
        self.flush_prints()
        report = self.report
        before = report.line_count, report.sum_of_lines
        x = self.make(lineno, values[:self.memo.at.width])
        report.line_count, report.sum_of_lines = before  # counted with the others
        self.totals.add(x)
        self.rows.append(self.forms.row(line_values(x, self.forms)))
        self.memo.learn(values, x)

    def emit(self, count: int) -> tuple[list, int]:
        self.flush_prints()
        self.report.line_count += count
        rows = self.rows[:]
        self.rows.clear()
        return rows, count


def line_rows(
    report: SettlementReport, *, totals: LineTotals | None = None, forms: LineForms = PARSED,
    rows: int = ROWS_PER_BATCH,
) -> Iterator[tuple[list, int]]:
    """The lines of ``report`` (a :class:`SettlementReport` whose lines were not read yet)
    as rows in :data:`LINE_FIELDS` order, their typed values in ``forms``; yields
    ``(rows, number of lines)`` every ``rows`` lines.

    Keeps the report's ``line_count``, ``sum_of_lines`` and fingerprint and ``totals``
    up to date, as :meth:`SettlementReport.lines` does."""
    totals = totals if totals is not None else LineTotals()
    sum_before = sum((cell[0] for cell in totals.cells.values()), _ZERO)
    yield from _stream(report, totals, forms, rows)
    report.sum_of_lines += sum((cell[0] for cell in totals.cells.values()), _ZERO) - sum_before
    report._check_sums(totals)


def _stream(report: SettlementReport, totals: LineTotals, forms: LineForms, rows: int):
    """The loop of :func:`line_rows`: the hot loop of a 1,000,000-line import, hence one
    function with its lookups in local variables (``list.append`` called as a method: the
    interpreter specialises that call). A line whose settlement id, currency,
    amount, dates and quantity texts have been converted before takes the fast way;
    every other line goes through :meth:`_Batch.slow` (the full conversion)."""
    at = _Layout(report)
    memo = _Memo(forms, at)
    batch = _Batch(report, totals, forms, memo)
    summary = report.summary
    header = report._file.header
    i_total, i_sid, i_currency, i_amount, i_posted, i_stamp, i_qty = (
        at.total, at.sid, at.currency, at.amount, at.posted, at.stamp, at.quantity)
    i_ttype, i_atype, i_desc, i_mkt, i_order, i_sku = (
        at.ttype, at.atype, at.desc, at.market, at.order, at.sku)
    row_of, canonical_of, in_order, extras = at.row_of, at.canonical_of, at.in_order, at.extras
    amounts, dates, times, quantities = memo.amounts, memo.dates, memo.times, memo.quantities
    dates_by_market, times_by_market = memo.dates_by_market, memo.times_by_market
    cells, new_cell = totals.cells, totals.cell
    slow, emit, out, prints = batch.slow, batch.emit, batch.rows, batch.prints
    date_form, line_form, extra_form, row_form = forms.date, forms.line_number, forms.extra, \
        forms.row
    empty_extra = forms.extra({})
    expected_sid, currency = summary.settlement_id, summary.currency
    skip = {summary.line, report._reopen_skip}
    count = 0
    for row in report._buffer:
        slow(row.line, [*row.values, ""])
        count += 1
    report._buffer = []
    for lineno, values in report._raw:
        if values[i_total] and (
            lineno in skip or report._is_repeated_summary(Row(lineno, values, header))
        ):
            continue
        fingerprint = "\x1f".join(values) if in_order else None
        values.append("")
        count += 1
        if values[i_sid] != expected_sid or values[i_currency]:
            slow(lineno, values)
        else:
            raw = values[i_amount]
            amount = amounts.get(raw) or memo.amount(raw, currency)
            posted = dates.get(values[i_posted])
            stamp = times.get(values[i_stamp])
            quantity = quantities.get(values[i_qty])
            if posted is None and dates_by_market:
                posted = dates_by_market.get((values[i_mkt], values[i_posted]))
            if stamp is None and times_by_market:
                stamp = times_by_market.get((values[i_mkt], values[i_stamp]))
            if amount is None or stamp is None or quantity is None or (
                posted is None and values[i_posted]
            ):
                slow(lineno, values)
            else:
                if posted is None:
                    day = stamp[0].date() if stamp[0] is not None else None
                    posted_form = date_form(day)
                else:
                    day, posted_form = posted
                key = (day, values[i_ttype], values[i_atype], values[i_desc], values[i_mkt])
                cell = cells.get(key) or new_cell(key)
                value = amount[0]
                cell[0] += value
                cell[1] += 1
                if cell[2] is not None and values[i_order]:
                    orders = cell[2]
                    item = (values[i_order], values[i_sku])
                    orders[item] = orders.get(item, _ZERO) + value
                prints.append(fingerprint or "\x1f".join(canonical_of(values)))
                if extras:
                    extra = {c: values[i] for c, i in extras if values[i]}
                    extra_text = extra_form(extra) if extra else empty_extra
                else:
                    extra_text = empty_extra
                values += (amount[1], posted_form, stamp[1], quantity, line_form(lineno),
                           extra_text)
                out.append(row_form(row_of(values)))
        if count >= rows:
            yield emit(count)
            count = 0
    if count or out:
        yield emit(count)
