"""Reading Amazon flat files, lines to rows: the header (column names and the separator,
refusing what is not a flat-file report), the rows addressed by header name (tab separated,
or comma/semicolon separated with quoted values: :mod:`.delimited`), and :func:`typed`,
which turns one value into a typed one naming the line and the column when it is refused.

Rows shorter than the header are padded, values are stripped, and a value longer than
``max_field`` (:data:`MAX_FIELD_CHARS`) or than its column's own limit refuses the file.
How a cell becomes a typed value (amounts and dates as each marketplace writes them, and
what is refused: money, quantities, ids and codes, currencies, dates, text) is
:mod:`.values`; how bytes become lines is :mod:`.reading`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import InvalidOperation

from .delimited import DELIMITER_NAMES, header_delimiter, quoted_rows, split_header
from .reading import (
    MAX_LINE_BYTES,
    ReportFormatError,
    ReportSource,
    describe_source,
    iter_text_blocks,
)
from .values import ValueRefused, shown

__all__ = [
    "MAX_FIELD_CHARS",
    "Header",
    "Row",
    "FlatFile",
    "read_flat_file",
    "guess_report_type",
    "typed",
]

# The longest value one cell may hold, whatever its column (a column's own, smaller limit
# is the parser's business): a 50 MB "description" is a broken or hostile file.
MAX_FIELD_CHARS = 32_768


# --------------------------------------------------------------------------- rows


def normalize_header_name(name: str) -> str:
    return name.strip().strip('"').strip().lower()


@dataclass(frozen=True)
class Header:
    """The header line: column names in file order and their positions."""

    names: tuple[str, ...]
    index: dict[str, int]
    line: int = 1

    @classmethod
    def from_values(cls, values: Sequence[str], *, line: int = 1, source: str | None = None):
        names = tuple(normalize_header_name(v) for v in values)
        while names and names[-1] == "":
            names = names[:-1]
        index: dict[str, int] = {}
        for position, column in enumerate(names):
            if column == "":
                raise ReportFormatError(
                    f"header column {position + 1} has no name", line=line, source=source
                )
            if column in index:
                raise ReportFormatError(
                    "the header names this column twice", line=line, column=column, source=source
                )
            index[column] = position
        return cls(names=names, index=index, line=line)

    def __contains__(self, name: object) -> bool:
        return name in self.index

    def missing(self, required: Iterable[str]) -> list[str]:
        return [c for c in required if c not in self.index]

    def require(self, required: Iterable[str], *, report: str = "", source: str | None = None):
        missing = self.missing(required)
        if missing:
            what = f" for a {report} report" if report else ""
            cols = ", ".join(f"'{c}'" for c in missing)
            guessed = guess_report_type(self.names)
            hint = f" (this looks like a {guessed} file)" if guessed and guessed != report else ""
            raise ReportFormatError(
                f"required column{'s' if len(missing) > 1 else ''} {cols} missing from the "
                f"header{what}{hint}",
                line=self.line,
                column=missing[0],
                source=source,
            )

    def extras(self, known: Iterable[str]) -> tuple[str, ...]:
        known_set = set(known)
        return tuple(n for n in self.names if n not in known_set)


@dataclass(frozen=True, slots=True)
class Row:
    """One data line: its physical line number and its values padded to the header."""

    line: int
    values: list[str]
    header: Header

    def get(self, name: str, default: str = "") -> str:
        i = self.header.index.get(name)
        return self.values[i] if i is not None else default

    def __getitem__(self, name: str) -> str:
        return self.values[self.header.index[name]]

    def as_dict(self) -> dict[str, str]:
        return dict(zip(self.header.names, self.values, strict=False))


class FlatFile:
    """A flat-file report read lazily: ``header`` first, then ``rows()`` once.

    Tab separated as Amazon writes it, or comma or semicolon separated with quoted values
    (Seller Central's .csv downloads, files saved by Excel): ``delimiter`` says which, or
    (``None``) the header line decides (:mod:`.delimited`); ``self.delimiter`` is the one
    used. ``encodings`` are the legacy encodings the file may be in (its marketplaces'),
    ``encoding`` the one it is in when someone knows (:mod:`.decoding`).

    Rows shorter than the header (Amazon drops trailing empty columns) are padded with
    empty strings; longer rows are accepted when the surplus is empty, else an error.
    Blank lines are skipped. Values are stripped of surrounding whitespace.

    Limits, each refusing the file naming the line (and the column): ``max_line`` bytes per
    line, ``max_field`` characters per value, and ``field_limits`` (column name -> at most
    that many characters) for the columns whose values have a known width. Values are
    only measured one by one on a line that has a value longer than the smallest limit.
    """

    def __init__(
        self,
        source: ReportSource,
        *,
        delimiter: str | None = None,
        required: Iterable[str] = (),
        report: str = "",
        max_line: int = MAX_LINE_BYTES,
        max_field: int = MAX_FIELD_CHARS,
        field_limits: Mapping[str, int] | None = None,
        encodings: Sequence[str] = (),
        encoding: str | None = None,
    ) -> None:
        self.source_name = describe_source(source)
        self.report = report
        self.delimiter = delimiter or "\t"
        self.max_field = max_field
        self.field_limits = dict(field_limits or {})
        self._blocks = iter_text_blocks(source, max_line=max_line, encodings=encodings,
                                        encoding=encoding)
        self._pending: list[str] = []  # the rest of the block the header was read from
        self._next_line = 1
        self._consumed = False
        required = tuple(required)
        self.header = self._read_header(delimiter, required)
        if required:
            try:
                self.header.require(required, report=report, source=self.source_name)
            except ReportFormatError as exc:
                if self.delimiter != "\t":
                    exc.message += (f" (read as a {DELIMITER_NAMES[self.delimiter]}-separated "
                                    "file, not tab separated)")
                    exc.args = (exc._render(),)
                raise

    def _header_lines(self) -> Iterator[tuple[int, str]]:
        lineno = 0
        for block in self._blocks:
            for i, text in enumerate(block):
                lineno += 1
                self._pending = block[i + 1:]
                self._next_line = lineno + 1
                yield lineno, text
            self._pending = []

    def _read_header(self, delimiter: str | None, required: tuple[str, ...]) -> Header:
        for lineno, text in self._header_lines():
            if not text.strip():
                continue
            if text.lstrip().startswith("<?xml") or text.lstrip().startswith("<"):
                raise ReportFormatError(
                    "this is an XML document, not a tab-separated flat file",
                    line=lineno,
                    source=self.source_name,
                )
            if _looks_binary(text):
                raise ReportFormatError(
                    "binary data: this is not a text report file",
                    line=lineno,
                    source=self.source_name,
                )
            if delimiter is None:
                self.delimiter = header_delimiter(text, required, line=lineno,
                                                  source=self.source_name)
            elif delimiter not in text and any(d in text for d in DELIMITER_NAMES):
                found = header_delimiter(text, line=lineno, source=self.source_name)
                raise ReportFormatError(
                    f"the header is not {DELIMITER_NAMES[delimiter]} separated (a "
                    f"{DELIMITER_NAMES[found]}-separated file?)",
                    line=lineno, source=self.source_name)
            values = split_header(text, self.delimiter)
            return Header.from_values(values, line=lineno, source=self.source_name)
        raise ReportFormatError("the file is empty (no header line)", line=1,
                                source=self.source_name)

    def rows(self) -> Iterator[Row]:
        header = self.header
        for lineno, values in self.raw_rows():
            yield Row(lineno, values, header)

    def raw_rows(self) -> Iterator[tuple[int, list[str]]]:
        """The fast path: ``(line_number, values)`` with values padded to the header
        width, stripped, blank lines skipped. ``values`` may be modified by the caller."""
        if self._consumed:
            raise RuntimeError("FlatFile rows can only be iterated once")
        self._consumed = True
        width = len(self.header.names)
        delimiter = self.delimiter
        if delimiter != "\t":
            yield from self._quoted_rows(width)
            return
        pad = [""] * width
        lineno = self._next_line - 1
        limits = [min(self.field_limits.get(n, self.max_field), self.max_field)
                  for n in self.header.names]
        floor = min(limits, default=self.max_field)
        pending, self._pending = self._pending, []
        for block in itertools.chain((pending,), self._blocks):
            for text in block:
                lineno += 1
                if text[:1] in " \t" and not text.strip(" \t"):
                    continue  # blank line (or only separators)
                values = text.split(delimiter)
                n = len(values)
                if n < width:
                    values += pad[n:]
                elif n > width:
                    surplus = values[width:]
                    if any(v.strip() for v in surplus):
                        raise ReportFormatError(
                            f"{n} values but the header has {width} columns",
                            line=lineno,
                            source=self.source_name,
                        )
                    del values[width:]
                if (" \t" in text or "\t " in text or text[0] in " \"" or text[-1] in " \""
                        or "\t\"" in text or "\xa0" in text):
                    values = [v.strip().strip('"') if v[:1] == '"' == v[-1:] and len(v) > 1
                              else v.strip() for v in values]
                if len(text) > floor and max(map(len, values)) > floor:
                    self._check_fields(lineno, values, limits)
                yield lineno, values

    def _quoted_rows(self, width: int) -> Iterator[tuple[int, list[str]]]:
        """The rows of a comma- or semicolon-separated file (see :mod:`.delimited`)."""
        pending, self._pending = self._pending, []

        def lines() -> Iterator[tuple[int, str]]:
            lineno = self._next_line - 1
            for block in itertools.chain((pending,), self._blocks):
                for text in block:
                    lineno += 1
                    yield lineno, text

        limits = [min(self.field_limits.get(n, self.max_field), self.max_field)
                  for n in self.header.names]
        for lineno, values in quoted_rows(lines(), self.delimiter, after=self._next_line - 1,
                                          source=self.source_name):
            values = [v.strip() for v in values]
            if not any(values):
                continue  # blank line (or only separators)
            n = len(values)
            if n < width:
                values += [""] * (width - n)
            elif n > width:
                if any(values[width:]):
                    raise ReportFormatError(
                        f"{n} values but the header has {width} columns",
                        line=lineno, source=self.source_name)
                del values[width:]
            self._check_fields(lineno, values, limits)
            yield lineno, values

    def _check_fields(self, lineno: int, values: list[str], limits: list[int]) -> None:
        for name, value, limit in zip(self.header.names, values, limits, strict=False):
            if len(value) > limit:
                raise ReportFormatError(
                    f"a value of {len(value):,} characters, more than the {limit:,} this "
                    f"column allows ({shown(value)}): refused, not cut",
                    line=lineno, column=name, source=self.source_name,
                )


def read_flat_file(source: ReportSource, **kwargs) -> FlatFile:
    return FlatFile(source, **kwargs)


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _looks_binary(text: str) -> bool:
    if not text:
        return False
    controls = len(_CONTROL.findall(text))
    replaced = text.count("\ufffd")
    return controls > 0 or replaced > max(2, len(text) // 20)


# Signature columns of the report types we know, to tell the user what they gave us.
_SIGNATURES: dict[str, tuple[str, ...]] = {
    "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2": (
        "settlement-id",
        "amount-type",
        "amount-description",
    ),
    "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE": ("settlement-id", "price-type", "price-amount"),
    "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL": (
        "amazon-order-id",
        "purchase-date",
        "order-status",
    ),
    "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA": (
        "return-date",
        "order-id",
        "detailed-disposition",
    ),
    "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE": (
        "Order ID",
        "Return request date",
        "Merchant SKU",
    ),
    "GET_MERCHANT_LISTINGS_ALL_DATA": ("seller-sku", "asin1", "item-name"),
    "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA": ("sku", "fnsku", "afn-fulfillable-quantity"),
}


def guess_report_type(names: Iterable[str]) -> str | None:
    present = set(names)
    for report_type, signature in _SIGNATURES.items():
        if all(c in present for c in signature):
            return report_type
    return None


def typed(
    row: Row,
    column: str,
    parse: Callable[[str], object],
    *,
    required: bool = False,
    source: str | None = None,
):
    """Parse one value of ``row`` with ``parse``; None when empty (unless required).

    Converts ``ValueError`` into :class:`ReportFormatError` naming line and column.
    """
    value = row.get(column)
    if value == "":
        if required:
            raise ReportFormatError("a value is required", line=row.line, column=column,
                                    source=source)
        return None
    try:
        return parse(value)
    except ValueRefused as exc:  # its message quotes the value already
        raise ReportFormatError(str(exc), line=row.line, column=column, source=source) from None
    except (ValueError, InvalidOperation, ArithmeticError) as exc:
        raise ReportFormatError(
            f"{exc} (value {shown(value)})", line=row.line, column=column, source=source
        ) from None
