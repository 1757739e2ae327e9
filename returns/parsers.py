"""Streaming parsers for Amazon's returns reports.

* ``GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA``: FBA customer returns received at a
  fulfilment centre (return-date, order-id, sku, ..., detailed-disposition, reason, status,
  license-plate-number, customer-comments).
* ``GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE``: MFN return requests ("Order ID",
  "Return request date", "Merchant SKU", "Return quantity", ...).

Columns are read by header name (any order, any case, extra columns ignored but kept in the
raw row); files come plain or gzip, tab separated as Amazon writes them or comma/semicolon
separated with quoted values (Seller Central's .csv downloads), UTF-8 with or without BOM
or the legacy encoding of the marketplaces they may come from (``encodings``: Windows-31J
for Amazon.co.jp, Windows-1252 for the others; decided by evidence, a file that reads two
ways is refused), with the date and amount formats of every marketplace: all of that is
``amazonsync.flatfiles``.

Day and month: a row that names its own marketplace (a ``marketplace-id``,
``marketplace-name`` or ``sales-channel`` column; the usual layouts have none) is read in
that marketplace's order; the others in ``dayfirst``, the file's order (its marketplace's,
else the account's; ``None`` when nothing settles it). A numeric date that order does not
settle (``05/07/2025`` with ``dayfirst=None``) refuses the row naming line and column;
``15/07/2025``, ISO, Japanese (``2019年3月15日``) and Excel-saved two-digit-year dates
(``15/07/25``) read whatever the order.

A header without the required columns raises :class:`ReportFormatError` (the whole file
is wrong), as does a file over the reading limits (a line over 1 MiB, a value over 32 KiB).
A data row that cannot be read does not stop the file: it is yielded as a
:class:`BadReturnRow` carrying the raw values and the reason, for the exception queue.
Values go through :mod:`amazonsync.flatfiles.values`: Amazon's order id shape, SKUs of at
most 40 characters, ASIN/FNSKU shapes, quantities from 1 to a million, ISO currencies,
amounts in the currency's minor units, dates from 2000 to now (plus two days), text no
longer than its column; whatever is refused names the line and the column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone

from amazonsync.flatfiles import values
from amazonsync.flatfiles.locale import locale_for
from amazonsync.flatfiles.reading import ReportFormatError, ReportSource
from amazonsync.flatfiles.rows import FlatFile, Row, typed

__all__ = [
    "FBA_REPORT_TYPE",
    "MFN_REPORT_TYPE",
    "REPORT_TYPES",
    "ReportFormatError",
    "ReturnRow",
    "BadReturnRow",
    "ReturnsReport",
    "parse_returns",
    "parse_row",
]

FBA_REPORT_TYPE = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
MFN_REPORT_TYPE = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
REPORT_TYPES = (FBA_REPORT_TYPE, MFN_REPORT_TYPE)
CHANNEL = {FBA_REPORT_TYPE: "FBA", MFN_REPORT_TYPE: "MFN"}

# Column aliases seen in the wild (older files, other marketplaces); first present wins.
FBA_COLUMNS: dict[str, tuple[str, ...]] = {
    "return_date": ("return-date", "return date"),
    "order_id": ("order-id", "order id", "amazon-order-id"),
    "sku": ("sku", "seller-sku", "merchant-sku"),
    "asin": ("asin",),
    "fnsku": ("fnsku",),
    "product_name": ("product-name", "title"),
    "quantity": ("quantity", "qty"),
    "fc": ("fulfillment-center-id", "fulfillment-center"),
    "disposition": ("detailed-disposition", "disposition"),
    "reason": ("reason", "return-reason"),
    "status": ("status",),
    "lpn": ("license-plate-number", "lpn"),
    "comment": ("customer-comments", "customer-comment"),
    "marketplace": ("marketplace-id", "marketplace-name", "sales-channel", "marketplace"),
}
FBA_REQUIRED = ("return_date", "order_id", "sku", "quantity", "disposition")

MFN_COLUMNS: dict[str, tuple[str, ...]] = {
    "order_id": ("order id", "order-id"),
    "return_date": ("return request date", "return-request-date"),
    "status": ("return request status", "return-request-status"),
    "rma": ("amazon rma id", "amazon-rma-id"),
    "seller_rma": ("seller rma id", "seller-rma-id"),
    "currency": ("currency code", "currency-code", "currency"),
    "asin": ("asin",),
    "sku": ("merchant sku", "merchant-sku", "sku"),
    "product_name": ("item name", "item-name"),
    "quantity": ("return quantity", "return-quantity"),
    "reason": ("return reason", "return-reason"),
    "resolution": ("resolution",),
    "delivered": ("return delivery date", "return-delivery-date"),
    "order_amount": ("order amount", "order-amount"),
    "refunded_amount": ("refunded amount", "refunded-amount"),
    "comment": ("customer comments", "customer-comments"),
    "marketplace": ("marketplace id", "marketplace-id", "marketplace name", "marketplace-name",
                    "sales channel", "sales-channel", "marketplace"),
}
MFN_REQUIRED = ("order_id", "return_date", "sku", "quantity")

# Free-text values and the width of the column each is stored in (returns.models): a longer
# value is refused (the row goes to the exception queue), never cut.
TEXT_WIDTHS = {"reason": 64, "status": 64, "comment": 5000, "product_name": 500,
               "disposition": 64, "fc": 16, "lpn": 64, "rma": 64, "seller_rma": 64}


@dataclass(slots=True)
class ReturnRow:
    """One return line, typed. Money is Decimal next to its currency (MFN only)."""

    line: int
    channel: str
    order_id: str
    seller_sku: str
    return_date: datetime
    quantity: int
    disposition: str = ""
    reason: str = ""
    status: str = ""
    customer_comment: str = ""
    asin: str = ""
    fnsku: str = ""
    product_name: str = ""
    fulfillment_center: str = ""
    license_plate_number: str = ""
    rma_id: str = ""
    currency: str = ""
    refunded_amount: Decimal | None = None
    order_amount: Decimal | None = None
    received_at: date | None = None
    marketplace_code: str = ""  # when the row names its own marketplace
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        """The return's own id in its natural key: LPN (FBA), return request id (MFN)."""
        return self.license_plate_number if self.channel == "FBA" else self.rma_id


@dataclass(slots=True)
class BadReturnRow:
    """A data row that could not be read: kept raw, with the reason."""

    line: int
    channel: str
    raw: dict[str, str]
    error: str
    column: str | None = None


class ReturnsReport:
    """A returns report: ``columns`` at once, then ``rows()`` (once, streamed)."""

    def __init__(self, source: ReportSource, *, report_type: str, name: str | None = None,
                 dayfirst: bool | None = None, now: datetime | None = None,
                 encodings: Sequence[str] = (), encoding: str | None = None) -> None:
        if report_type not in REPORT_TYPES:
            raise ValueError(f"not a returns report type: {report_type}")
        self.report_type = report_type
        self.channel = CHANNEL[report_type]
        self.dayfirst = dayfirst
        self.window = values.window_until_now(now or timezone.now())
        aliases = FBA_COLUMNS if self.channel == "FBA" else MFN_COLUMNS
        required = FBA_REQUIRED if self.channel == "FBA" else MFN_REQUIRED
        try:
            self._file = FlatFile(source, report=report_type, encodings=encodings,
                                  encoding=encoding)
        except ReportFormatError as exc:
            raise exc.with_source(name) from None
        self.source_name = name or self._file.source_name
        header = self._file.header
        self.columns: dict[str, str] = {}
        for key, names in aliases.items():
            found = next((n for n in names if n in header), None)
            if found is not None:
                self.columns[key] = found
        missing = [aliases[k][0] for k in required if k not in self.columns]
        if missing:
            header.require(missing, report=report_type, source=self.source_name)

    @property
    def header(self) -> tuple[str, ...]:
        return self._file.header.names

    @property
    def delimiter(self) -> str:
        return self._file.delimiter

    def rows(self) -> Iterator[ReturnRow | BadReturnRow]:
        try:
            for row in self._file.rows():
                yield self._typed(row)
        except ReportFormatError as exc:  # the file itself (encoding, quoting, limits)
            raise exc.with_source(self.source_name) from None

    def _typed(self, row: Row) -> ReturnRow | BadReturnRow:
        try:
            return self._read(row)
        except ReportFormatError as exc:
            return BadReturnRow(line=row.line, channel=self.channel, raw=row.as_dict(),
                                error=exc.message, column=exc.column)

    def _get(self, row: Row, key: str) -> str:
        column = self.columns.get(key)
        return row.get(column) if column else ""

    def _typed_value(self, row: Row, key: str, parse, *, required: bool = False):
        column = self.columns.get(key)
        if column is None:
            return None
        return typed(row, column, parse, required=required, source=self.source_name)

    def _text(self, row: Row, key: str) -> str:
        width = TEXT_WIDTHS[key]
        return self._typed_value(
            row, key, lambda v: values.parse_text(v, max_length=width)) or ""

    def _place(self, row: Row) -> tuple[str, bool | None]:
        """(marketplace code, day first) of a row that names its marketplace, else
        ("", the file's order)."""
        text = self._get(row, "marketplace")
        if not text:
            return "", self.dayfirst
        locale = locale_for(text)
        if locale is None:
            raise ReportFormatError(
                f"not a marketplace Amazon has: {values.shown(text)}", line=row.line,
                column=self.columns["marketplace"], source=self.source_name)
        return locale.code, locale.dayfirst

    def _read(self, row: Row) -> ReturnRow:
        marketplace_code, dayfirst = self._place(row)
        window = self.window
        order_id = self._typed_value(row, "order_id", values.parse_order_id, required=True)
        sku = self._typed_value(row, "sku", values.parse_sku, required=True)
        when = self._typed_value(
            row, "return_date",
            lambda v: values.parse_datetime_in(v, window, dayfirst=dayfirst), required=True,
        )
        quantity = self._typed_value(
            row, "quantity", lambda v: values.parse_quantity(v, minimum=1), required=True)
        common = {
            "line": row.line,
            "channel": self.channel,
            "order_id": order_id,
            "seller_sku": sku,
            "return_date": when,
            "quantity": quantity,
            "reason": self._text(row, "reason"),
            "status": self._text(row, "status"),
            "customer_comment": self._text(row, "comment"),
            "asin": self._typed_value(row, "asin", values.parse_asin) or "",
            "product_name": self._text(row, "product_name"),
            "marketplace_code": marketplace_code,
            "raw": row.as_dict(),
        }
        if self.channel == "FBA":
            return ReturnRow(
                **common,
                disposition=self._text(row, "disposition").upper().replace(" ", "_"),
                fnsku=self._typed_value(row, "fnsku", values.parse_fnsku) or "",
                fulfillment_center=self._text(row, "fc"),
                license_plate_number=self._text(row, "lpn"),
            )
        currency = self._typed_value(row, "currency", values.parse_currency) or ""

        def money(v: str) -> Decimal:
            return values.parse_money(v, currency=currency)

        refunded = self._typed_value(row, "refunded_amount", money)
        ordered = self._typed_value(row, "order_amount", money)
        if (refunded is not None or ordered is not None) and not currency:
            raise ReportFormatError("an amount without a currency code", line=row.line,
                                    column=self.columns.get("currency", "currency code"))
        return ReturnRow(
            **common,
            rma_id=self._text(row, "rma") or self._text(row, "seller_rma"),
            currency=currency,
            refunded_amount=refunded,
            order_amount=ordered,
            received_at=self._typed_value(
                row, "delivered",
                lambda v: values.parse_date_in(v, window, dayfirst=dayfirst),
            ),
        )


def parse_returns(source: ReportSource, *, report_type: str, name: str | None = None,
                  dayfirst: bool | None = None, now: datetime | None = None,
                  encodings: Sequence[str] = (), encoding: str | None = None
                  ) -> ReturnsReport:
    """Open a returns report; raises ReportFormatError when the header is not one."""
    return ReturnsReport(source, report_type=report_type, name=name, dayfirst=dayfirst,
                         now=now, encodings=encodings, encoding=encoding)


def parse_row(raw: dict[str, str], *, report_type: str,
              dayfirst: bool | None = None) -> ReturnRow | BadReturnRow:
    """Parse one raw row again (an exception's payload), as if it were a one-line file
    (written comma separated and quoted: a value read from a .csv may hold a tab or a line
    break)."""
    names = list(raw)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(names)
    writer.writerow([str(raw[n]) for n in names])
    report = parse_returns(out.getvalue().encode("utf-8"), report_type=report_type,
                           dayfirst=dayfirst)
    rows = list(report.rows())
    if not rows:
        return BadReturnRow(line=2, channel=CHANNEL[report_type], raw=raw, error="empty row")
    return rows[0]
