"""The all-orders flat-file report (GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL) to
``OrderData``, one order at a time, whatever the file's size or order of rows.

The report carries no Prime flag, no ship-by window, no buyer token, no promotion tax: those
values are absent from what it gives, so the upsert never blanks what the API stored.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from amazonsync.flatfiles import values
from amazonsync.flatfiles.decoding import DEFAULT_CANDIDATES
from amazonsync.flatfiles.locale import MarketplaceLocale, encoding_label, locale_for
from amazonsync.flatfiles.reading import ReportFormatError, ReportSource, replayable
from amazonsync.flatfiles.rows import Row, read_flat_file, typed

from .data import LineData, OrderData, OrderDataError

REPORT_TYPE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"

REPORT_STATUS = {
    "pending": "Pending", "unshipped": "Unshipped", "shipping": "PartiallyShipped",
    "partiallyshipped": "PartiallyShipped", "shipped": "Shipped", "cancelled": "Canceled",
    "canceled": "Canceled", "unfulfillable": "Unfulfillable",
    "invoiceunconfirmed": "InvoiceUnconfirmed", "pendingavailability": "PendingAvailability",
}
# Multi-channel (MCF) orders: sold elsewhere (sales channel "Non-Amazon"), fulfilled by
# Amazon from FBA stock. Their order status may be the fulfillment order's own
# (FulfillmentOrderStatus of the Fulfillment Outbound API); the Amazon statuses above apply
# too.
MCF_STATUS = {
    "new": "Pending", "received": "Unshipped", "planning": "Unshipped",
    "processing": "Unshipped", "complete": "Shipped",
    # some units shipped, the rest cancelled or unfulfillable (the item statuses say which)
    "completepartialled": "Shipped",
    "unfulfillable": "Unfulfillable", "invalid": "Unfulfillable",
}
REPORT_CHANNEL = {"amazon": "AFN", "afn": "AFN", "merchant": "MFN", "mfn": "MFN"}
CANCELLED_ITEM = ("cancelled", "canceled")
REQUIRED_COLUMNS = ("amazon-order-id", "purchase-date", "last-updated-date", "order-status",
                    "fulfillment-channel", "sales-channel", "sku", "quantity")
# Columns that describe the order (not the item): every row of one order must say the same.
ORDER_COLUMNS = ("purchase-date", "last-updated-date", "order-status", "fulfillment-channel",
                 "sales-channel", "merchant-order-id", "ship-service-level", "ship-city",
                 "ship-state", "ship-postal-code", "ship-country", "is-business-order",
                 "purchase-order-number")
# Free-text columns and the width of the column they are stored in (orders.models); a longer
# value is refused, never cut.
ORDER_TEXT = {"merchant-order-id": 64, "ship-service-level": 32, "purchase-order-number": 64,
              "ship-city": 128, "ship-state": 128, "ship-postal-code": 32}
LINE_TEXT = {"product-name": 500, "promotion-ids": 255}
# The columns with free text in the marketplace's language (what a wrong decoding garbles).
NATIVE_TEXT = ("product-name", "ship-city", "ship-state")
AMOUNT_COLUMNS = ("item-price", "item-tax", "shipping-price", "shipping-tax",
                  "item-promotion-discount", "ship-promotion-discount")
# The line amounts, summed (in this order) when a SKU repeats in one order.
_AMOUNT_KEYS = ("item_price", "item_tax", "shipping_price", "shipping_tax",
                "promotion_discount", "shipping_discount")
_BOOLEAN = {"true": True, "yes": True, "y": True, "1": True,
            "false": False, "no": False, "n": False, "0": False, "": False}


# (ship-to country, currency) -> the marketplace whose FBA stock fulfils a multi-channel
# order, or None when they do not tell.
McfResolver = Callable[[str, str], str | None]

# Raw rows kept with an order that cannot be stored (its exception's payload stays small
# however many rows a hostile file gives one order id).
ROWS_KEPT = 50


@dataclass
class ReportRowError:
    """An order of the file that cannot be stored: kept raw (its first ROWS_KEPT rows) with
    the reason."""

    line: int
    amazon_order_id: str
    message: str
    column: str | None = None
    rows: list[dict[str, str]] = field(default_factory=list, repr=False)
    row_count: int = 0


class _OrderRows:
    """Reads the values of one order's rows, refusing what cannot be stored with a
    ReportFormatError naming the file, line and column."""

    def __init__(self, rows: list[Row], source: str | None, window: values.DateWindow,
                 dayfirst: bool | None = None, candidates: Sequence[str] = ()):
        self.rows = rows
        # The legacy encodings the file was decoded among (none: someone said which).
        self.candidates = tuple(candidates)
        self.first = rows[0]
        self.source = source
        self.window = window
        # The order of day and month in numeric dates (None: not known, an ambiguous date
        # is refused): the row's marketplace's once the head has read it.
        self.dayfirst = dayfirst

    def refuse(self, row: Row, column: str | None, message: str) -> ReportFormatError:
        return ReportFormatError(message, line=row.line, column=column, source=self.source)

    def value(self, row: Row, column: str, parse: Callable[[str], Any], *,
              required: bool = False) -> Any:
        return typed(row, column, parse, required=required, source=self.source)

    def order_value(self, column: str) -> str:
        """The order-level value; rows of one order that disagree are refused."""
        text = self.first.get(column)
        for row in self.rows[1:]:
            if row.get(column) != text:
                raise self.refuse(
                    row, column,
                    f"the rows of order {self.first.get('amazon-order-id')} disagree: line "
                    f"{self.first.line} says {values.shown(text)}, this line "
                    f"{values.shown(row.get(column))}",
                )
        return text

    def text(self, row: Row, column: str, width: int) -> str:
        return self.value(row, column, lambda v: values.parse_text(v, max_length=width)) or ""


@dataclass
class _ReportHead:
    """What the first row says about the order (checked against its other rows)."""

    order_id: str
    marketplace_id: str
    currency: str
    status: str
    channel: str
    purchase: datetime.datetime
    updated: datetime.datetime
    is_business: bool
    sales_channel: str = "amazon"  # or "mcf"

    @property
    def priced(self) -> bool:
        return bool(self.currency)


def is_mcf_channel(text: str) -> bool:
    """A multi-channel (MCF) order's sales channel: ``Non-Amazon`` (any case; Seller
    Central sometimes adds the country, ``Non-Amazon US``)."""
    return text.strip().lower().replace(" ", "-").startswith("non-amazon")


def _report_order(rows: list[Row], resolve_marketplace: Callable[[str], str | None], *,
                  source: str | None = None, window: values.DateWindow | None = None,
                  mcf_marketplace: McfResolver | None = None,
                  dayfirst: bool | None = None, candidates: Sequence[str] = ()) -> OrderData:
    """One order from its rows (all of them, wherever they are in the file); ``dayfirst``
    is the file's order of day and month, for rows that name no marketplace."""
    r = _OrderRows(rows, source, window or values.window_until_now(timezone.now()),
                   dayfirst, candidates)
    head = _report_head(r, resolve_marketplace, mcf_marketplace)
    lines, total = _report_lines(r, head)
    if head.priced:
        try:
            values.check_money_total(total, what=f"total of order {head.order_id}")
        except ValueError as exc:
            raise r.refuse(r.first, None, str(exc)) from None
        if total < 0:
            raise r.refuse(r.first, "item-price", f"the amounts of order {head.order_id} add "
                           f"up to a negative total ({total} {head.currency})")
    return OrderData(
        amazon_order_id=head.order_id, marketplace_id=head.marketplace_id, source="report",
        values=_report_order_values(r, head, total),
        lines=list(lines.values()),
        raw={"report_rows": [row.as_dict() for row in rows]},
    )


def _report_head(r: _OrderRows, resolve_marketplace: Callable[[str], str | None],
                 mcf_marketplace: McfResolver | None) -> _ReportHead:
    """The order's id, marketplace, currency, status, channel, dates and business flag, in
    this order of checks (the first refusal names the file, line and column)."""
    first = r.first
    order_id = r.value(first, "amazon-order-id", values.parse_order_id, required=True)
    for column in ORDER_COLUMNS:
        r.order_value(column)
    channel_text = first.get("sales-channel")
    mcf = is_mcf_channel(channel_text)
    marketplace_id = None if mcf else resolve_marketplace(channel_text)
    if marketplace_id is None and not mcf:
        raise r.refuse(first, "sales-channel", f"order {order_id}: sales channel "
                       f"{values.shown(channel_text)} is not an Amazon marketplace")
    currency = _report_currency(r)
    if mcf:
        marketplace_id = _mcf_marketplace(r, order_id, currency, mcf_marketplace)
    else:
        # The row names its marketplace: its dates are written that marketplace's way
        # (Amazon.com month first, Amazon.co.uk day first; none assumed for CA and JP).
        locale = locale_for(marketplace_id)
        if locale is not None:
            r.dayfirst = locale.dayfirst
            _check_decoding(r, locale)
    status = _report_status(r, order_id, currency, mcf=mcf)
    channel = REPORT_CHANNEL.get(first.get("fulfillment-channel").lower())
    if channel is None:
        raise r.refuse(first, "fulfillment-channel",
                       f"order {order_id}: unknown fulfillment-channel "
                       f"{values.shown(first.get('fulfillment-channel'))}")
    if mcf and channel != "AFN":
        raise r.refuse(first, "fulfillment-channel",
                       f"multi-channel order {order_id} says fulfillment-channel "
                       f"{values.shown(first.get('fulfillment-channel'))}: multi-channel "
                       "orders are fulfilled by Amazon")

    def stamp(v: str) -> datetime.datetime:
        return values.parse_datetime_in(v, r.window, dayfirst=r.dayfirst)

    purchase = r.value(first, "purchase-date", stamp, required=True)
    updated = r.value(first, "last-updated-date", stamp, required=True)
    if updated < purchase:
        raise r.refuse(first, "last-updated-date",
                       f"last-updated-date {first.get('last-updated-date')} is before "
                       f"purchase-date {first.get('purchase-date')}")
    business_text = first.get("is-business-order").strip().lower()
    if business_text not in _BOOLEAN:
        raise r.refuse(first, "is-business-order",
                       f"not true or false: {values.shown(first.get('is-business-order'))}")
    return _ReportHead(order_id, marketplace_id, currency, status, channel, purchase, updated,
                       _BOOLEAN[business_text], "mcf" if mcf else "amazon")


def _check_decoding(r: _OrderRows, locale: MarketplaceLocale) -> None:
    """A row of a marketplace whose legacy encoding the file was not read among (a JP row
    in a file read as Windows-1252 because the account sells in no JP marketplace): text
    that reads differently in the marketplace's encoding is refused, never stored garbled."""
    if not r.candidates or locale.legacy_encoding in r.candidates:
        return
    for row in r.rows:
        for column in NATIVE_TEXT:
            text = row.get(column)
            if text.isascii():
                continue
            for codec in r.candidates:
                try:
                    other = text.encode(codec).decode(locale.legacy_encoding)
                except UnicodeError:
                    continue
                if other != text:
                    raise r.refuse(
                        row, column,
                        f"{values.shown(text)} may be {encoding_label(locale.legacy_encoding)} "
                        f"text read as {encoding_label(codec)} (it reads "
                        f"{values.shown(other)}): {locale.domain} files that are not UTF-8 "
                        f"are {encoding_label(locale.legacy_encoding)}; import the file for "
                        f"marketplace {locale.code} (import_report --marketplace "
                        f"{locale.code}) or say its encoding")


def _report_status(r: _OrderRows, order_id: str, currency: str, *, mcf: bool) -> str:
    text = r.first.get("order-status")
    key = text.replace(" ", "").lower()
    status = REPORT_STATUS.get(key) or (MCF_STATUS.get(key) if mcf else None)
    if status is None:
        raise r.refuse(r.first, "order-status",
                       f"order {order_id}: unknown order-status {values.shown(text)}")
    if status == "Pending" and currency:
        # The report says "Pending" for orders Amazon's API calls Unshipped; a truly pending
        # order has no prices yet.
        status = "Unshipped"
    return status


def _mcf_marketplace(r: _OrderRows, order_id: str, currency: str,
                     resolve: McfResolver | None) -> str:
    """The marketplace whose FBA stock fulfils a multi-channel order (its listings and
    stock): decided by the caller from the ship-to country and the currency, never
    guessed; an order it cannot place is refused."""
    country = r.value(r.first, "ship-country", values.parse_country) or ""
    found = resolve(country, currency) if resolve is not None else None
    if found is None:
        raise r.refuse(
            r.first, "sales-channel",
            f"multi-channel order {order_id}: cannot tell which marketplace's FBA stock "
            f"fulfils it (ship-country {country or 'empty'}, currency {currency or 'empty'} "
            "match none or several of the account's marketplaces); import the file for one "
            "marketplace",
        )
    return found


def _report_currency(r: _OrderRows) -> str:
    """The order's one currency (any row may give it); two currencies are refused."""
    currency = ""
    currency_row = r.first
    for row in r.rows:
        code = r.value(row, "currency", values.parse_currency)
        if code and currency and code != currency:
            raise r.refuse(row, "currency", f"two currencies in one order: {currency} on "
                           f"line {currency_row.line} and {code}")
        if code and not currency:
            currency, currency_row = code, row
    return currency


def _report_lines(r: _OrderRows, head: _ReportHead) -> tuple[dict[str, LineData], Decimal]:
    """The order's lines by SKU (the same SKU on two rows is one line) and its total.

    A cancelled item (item-status ``Cancelled``) stays a line, marked cancelled, and its
    amounts are not in the total. A SKU on a cancelled row and a live one is the live
    row's line: the cancelled row's quantity and amounts are not added to it (the order
    keeps every row raw)."""
    lines: dict[str, LineData] = {}
    total = Decimal(0)
    for row in r.rows:
        sku, line_values = _report_line_values(r, row, head)
        cancelled = line_values["cancelled"]
        if head.priced and not cancelled:
            total += sum((line_values[k] or 0 for k in ("item_price", "item_tax",
                                                         "shipping_price", "shipping_tax")),
                         Decimal(0))
            total -= ((line_values["promotion_discount"] or 0)
                      + (line_values["shipping_discount"] or 0))
        if head.currency:
            line_values["currency"] = head.currency
        line = lines.get(sku)
        if line is not None and line.values["cancelled"] == cancelled:
            _report_line_merge(r, row, line, line_values, head.order_id)
        elif line is None or line.values["cancelled"]:
            # The order keeps the raw rows; its lines do not repeat them.
            lines[sku] = LineData(seller_sku=sku, values=line_values)
    return lines, total


def _report_line_values(r: _OrderRows, row: Row, head: _ReportHead
                        ) -> tuple[str, dict[str, Any]]:
    """One row's SKU and line values (quantities, amounts, ASIN, title, promotions)."""

    def money(v: str) -> Decimal:
        return values.parse_money(v, currency=head.currency)

    sku = r.value(row, "sku", values.parse_sku, required=True)
    quantity = r.value(row, "quantity", values.parse_quantity, required=True)
    amounts: dict[str, Decimal | None] = {}
    for column in AMOUNT_COLUMNS:
        text = row.get(column)
        if text and not head.priced:
            raise r.refuse(row, column, f"an amount ({values.shown(text)}) in an order "
                           "without a currency code")
        amounts[column] = r.value(row, column, money)
    asin = r.value(row, "asin", values.parse_asin) or ""
    title = r.text(row, "product-name", LINE_TEXT["product-name"])
    promotion_ids = r.text(row, "promotion-ids", LINE_TEXT["promotion-ids"])
    promo = amounts["item-promotion-discount"]
    ship_promo = amounts["ship-promotion-discount"]
    item_status = row.get("item-status").strip().lower()
    return sku, {
        "asin": asin,
        "title": title,
        "quantity_ordered": quantity,
        "quantity_shipped": quantity if item_status == "shipped" else 0,
        "cancelled": item_status in CANCELLED_ITEM,
        "promotion_ids": promotion_ids,
        "item_price": amounts["item-price"], "item_tax": amounts["item-tax"],
        "shipping_price": amounts["shipping-price"],
        "shipping_tax": amounts["shipping-tax"],
        # The report writes discounts as negative amounts; the API as positive discounts.
        "promotion_discount": abs(promo) if promo is not None else None,
        "shipping_discount": abs(ship_promo) if ship_promo is not None else None,
    }


def _report_line_merge(r: _OrderRows, row: Row, line: LineData, more: dict[str, Any],
                       order_id: str) -> None:
    """The same SKU again in one order: its quantities and amounts add to the line's."""
    sku = line.seller_sku
    line.values["quantity_ordered"] += more["quantity_ordered"]
    line.values["quantity_shipped"] += more["quantity_shipped"]
    if line.values["quantity_ordered"] > values.MAX_QUANTITY:
        raise r.refuse(row, "quantity", f"the quantities of SKU {sku} in order "
                       f"{order_id} add up to more than {values.MAX_QUANTITY:,}")
    for key in _AMOUNT_KEYS:
        value = more[key]
        if value is not None:
            summed = (line.values.get(key) or 0) + value
            try:
                values.check_money_total(summed, what=f"{key} of SKU {sku}")
            except ValueError as exc:
                raise r.refuse(row, None, str(exc)) from None
            line.values[key] = summed
    for key in ("asin", "title", "promotion_ids"):
        if more[key] and not line.values[key]:
            line.values[key] = more[key]


def _report_order_values(r: _OrderRows, head: _ReportHead, total: Decimal) -> dict[str, Any]:
    first = r.first
    order_values: dict[str, Any] = {
        "purchase_date": head.purchase,
        "last_update_date": head.updated,
        "status": head.status,
        "fulfillment_channel": head.channel,
        "seller_order_id": r.text(first, "merchant-order-id", ORDER_TEXT["merchant-order-id"]),
        "is_business": head.is_business,
        "purchase_order_number": r.text(first, "purchase-order-number",
                                        ORDER_TEXT["purchase-order-number"]),
        "ship_service_category": r.text(first, "ship-service-level",
                                        ORDER_TEXT["ship-service-level"]),
        "order_total": total if head.priced else None,
        "sales_channel": head.sales_channel,
    }
    if head.currency:
        order_values["currency"] = head.currency
    if first.get("ship-country"):
        order_values.update({
            "ship_city": r.text(first, "ship-city", ORDER_TEXT["ship-city"]),
            "ship_state": r.text(first, "ship-state", ORDER_TEXT["ship-state"]),
            "ship_postal_code": r.text(first, "ship-postal-code",
                                       ORDER_TEXT["ship-postal-code"]),
            "ship_country": r.value(first, "ship-country", values.parse_country),
        })
    return order_values


def iter_report_orders(
    source: ReportSource,
    *,
    resolve_marketplace: Callable[[str], str | None],
    errors: list[ReportRowError] | None = None,
    progress: Callable[[int], None] | None = None,
    now: datetime.datetime | None = None,
    mcf_marketplace: McfResolver | None = None,
    encodings: Sequence[str] = (),
    encoding: str | None = None,
    dayfirst: bool | None = None,
) -> Iterator[OrderData]:
    """Stream the orders of an all-orders flat file, one ``OrderData`` per order.

    The rows of one order are grouped wherever they are in the file (A, B, A is order A
    with both its rows, once). The file is read twice: the first pass counts the rows of
    each order id (a dict of order id -> count: memory grows with the file's number of
    orders, ~100 bytes each, not with its rows); the second yields each order as soon as
    its last row has been read, so only the rows of orders whose rows are still to come
    are held (none in Amazon's files, which keep an order's rows together; in a file that
    scatters them, the rows in between). A stream that cannot be read twice is copied to
    a temporary file first.

    Multi-channel (MCF) orders (sales channel ``Non-Amazon``: sold elsewhere, fulfilled by
    Amazon from FBA stock) are orders of their own channel (``sales_channel`` "mcf"), placed
    in the marketplace ``mcf_marketplace(ship_country, currency)`` names. Cancelled items
    are lines marked cancelled, out of the order's total.

    An order that cannot be stored (a refused value, an unknown status, rows that
    disagree, a sales channel that is neither an Amazon marketplace nor ``Non-Amazon``, a
    multi-channel order no marketplace can be told for) is appended to ``errors`` (when given,
    else raised) naming the file, line and column, and skipped; a broken file (not a
    report, binary, a line or value over the reading limits, ...) raises
    ``ReportFormatError`` before any order is yielded. Dates must fall between 2000 and
    ``now`` (default: the application's clock, ``timezone.now``) plus two days.

    The file may be tab, comma or semicolon separated (its header says which), in UTF-8 or
    one of ``encodings`` (its marketplaces' legacy encodings, decided by evidence; or in
    ``encoding`` when someone knows). Numeric dates are read in the order of day and month
    of the row's own marketplace (its sales channel), else ``dayfirst`` (the file's or the
    account's marketplaces', when they agree); a date that none of them settles
    (``05/07/2025`` with no order known) is refused with its line and column, never
    guessed. Amounts may carry their currency's symbol (``£12.00``, ``¥1,500``).
    """
    window = values.window_until_now(now or timezone.now())
    candidates = () if encoding else tuple(encodings) or DEFAULT_CANDIDATES
    with replayable(source) as replay:
        def read():
            return read_flat_file(replay, required=REQUIRED_COLUMNS, report=REPORT_TYPE,
                                  encodings=encodings, encoding=encoding)

        counts = _row_counts(read())
        flat = read()
        for order_id, group in _order_groups(flat, counts, progress):
            try:
                yield _report_order(group, resolve_marketplace, source=flat.source_name,
                                    window=window, mcf_marketplace=mcf_marketplace,
                                    dayfirst=dayfirst, candidates=candidates)
            except (ReportFormatError, OrderDataError) as exc:
                if errors is None:
                    raise
                errors.append(ReportRowError(
                    line=getattr(exc, "line", None) or group[0].line,
                    amazon_order_id=order_id, message=str(exc),
                    column=getattr(exc, "column", None),
                    rows=[r.as_dict() for r in group[:ROWS_KEPT]], row_count=len(group),
                ))


def _row_counts(flat) -> dict[str, int]:
    """The first pass: how many rows each order id has."""
    counts: dict[str, int] = {}
    i_order = flat.header.index["amazon-order-id"]
    for _, row_values in flat.raw_rows():
        order_id = row_values[i_order]
        counts[order_id] = counts.get(order_id, 0) + 1
    return counts


def _order_groups(flat, counts: dict[str, int], progress: Callable[[int], None] | None
                  ) -> Iterator[tuple[str, list[Row]]]:
    """The second pass: each order id with its rows, as soon as its last row is read."""
    pending: dict[str, list[Row]] = {}
    for row in flat.rows():
        if progress is not None:
            progress(1)
        order_id = row.get("amazon-order-id")
        if not order_id:
            yield order_id, [row]
            continue
        group = pending.setdefault(order_id, [])
        group.append(row)
        if len(group) >= counts[order_id]:
            del pending[order_id]
            yield order_id, group
