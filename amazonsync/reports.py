"""Shared helpers for Amazon flat-file reports.

Amazon's flat-file reports (settlements, orders, returns, ...) are tab separated text
files that come plain or gzip compressed, in UTF-8 (with or without a BOM) or, in older
and some European files, Windows-1252, with LF or CRLF line endings. Dates and amounts are
written differently per marketplace. This module turns any of them into a stream of rows
addressed by header name, without loading the file in memory, and offers the date and
decimal parsers the per-report parsers (``<app>.parsers``) build their dataclasses with.

Everything that goes wrong raises :class:`ReportFormatError` with a message a person can act
on (naming the line and the column).
"""

from __future__ import annotations

import codecs
import gzip
import io
import itertools
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from .money import decimals as money_decimals
from .money import quantize as money_quantize

__all__ = [
    "ReportFormatError",
    "ReportSource",
    "Header",
    "Row",
    "FlatFile",
    "open_binary",
    "iter_text_lines",
    "read_flat_file",
    "parse_amount",
    "parse_amazon_datetime",
    "parse_amazon_date",
    "parse_int",
    "currency_places",
    "quantize_money",
    "guess_report_type",
]

ReportSource = bytes | bytearray | memoryview | str | os.PathLike | BinaryIO

GZIP_MAGIC = b"\x1f\x8b"


class ReportFormatError(ValueError):
    """A report file that cannot be read. The message names the line and column."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: str | None = None,
        source: str | None = None,
    ) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.source:
            where.append(str(self.source))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def with_source(self, source: str | None) -> ReportFormatError:
        if source and not self.source:
            self.source = source
            self.args = (self._render(),)
        return self


# --------------------------------------------------------------------------- opening


def _describe(source: ReportSource) -> str | None:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return getattr(source, "name", None) if not isinstance(source, (bytes, bytearray)) else None


def is_reopenable(source: ReportSource) -> bool:
    """Bytes and paths can be read twice; an arbitrary stream cannot."""
    return isinstance(source, (bytes, bytearray, memoryview, str, os.PathLike))


def open_binary(source: ReportSource) -> BinaryIO:
    """Open bytes, a path or a binary stream; transparently gunzip. Caller closes it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw: BinaryIO = io.BytesIO(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ReportFormatError("file not found", source=str(path))
        if path.is_dir():
            raise ReportFormatError("is a directory, not a report file", source=str(path))
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller
    elif hasattr(source, "read"):
        raw = source  # type: ignore[assignment]
    else:
        raise TypeError(f"cannot read a report from {type(source).__name__}")
    if not hasattr(raw, "peek"):
        raw = io.BufferedReader(raw)  # type: ignore[arg-type]
    head = raw.peek(2)[:2]
    if head == GZIP_MAGIC:
        return io.BufferedReader(gzip.GzipFile(fileobj=raw, mode="rb"), buffer_size=1 << 20)
    return raw


_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _decode_line(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # Older and some EU files are Windows-1252. Five bytes are undefined in cp1252;
        # they are replaced rather than failing the whole file.
        return raw.decode("cp1252", errors="replace")


BLOCK_SIZE = 1 << 17  # 128 KB: large enough to be fast, small enough to stream


def iter_text_lines(source: ReportSource) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for every physical line, decoded, line ending removed.

    Handles gzip, UTF-8 BOM, UTF-16 with BOM, Windows-1252 fallback (per line), CRLF and LF.
    Binary garbage and truncated gzip raise :class:`ReportFormatError`.
    """
    lineno = 0
    for block in iter_text_blocks(source):
        for text in block:
            lineno += 1
            yield lineno, text


def iter_text_blocks(source: ReportSource) -> Iterator[list[str]]:
    """The lines of :func:`iter_text_lines` (same decoding, same errors), in lists of
    consecutive lines read BLOCK_SIZE bytes at a time: the fast path for large files.
    Line numbers are implied: the first line of the file is line 1."""
    name = _describe(source)
    stream = open_binary(source)
    lineno = 0
    try:
        try:
            first_chunk = stream.peek(4)[:4]
        except (OSError, EOFError, zlib.error) as exc:
            raise ReportFormatError(
                f"the gzip file is truncated or corrupt ({exc})", line=1, source=name
            ) from None
        _refuse_binary(stream, name)
        if first_chunk[:2] in _UTF16_BOMS:
            text = io.TextIOWrapper(stream, encoding="utf-16", newline="")
            block: list[str] = []
            try:
                for line in text:
                    block.append(line.rstrip("\r\n"))
                    if len(block) >= 4096:
                        lineno += len(block)
                        yield block
                        block = []
            except UnicodeDecodeError as exc:
                raise ReportFormatError(
                    f"invalid UTF-16 text ({exc.reason})", line=lineno + len(block) + 1,
                    source=name,
                ) from None
            if block:
                yield block
            return
        rest = b""
        read = stream.read
        while True:
            try:
                data = read(BLOCK_SIZE)
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                raise ReportFormatError(
                    f"the gzip file is truncated or corrupt after {lineno} lines ({exc})",
                    line=lineno + 1,
                    source=name,
                ) from None
            if data:
                end = data.rfind(b"\n")
                if end < 0:
                    rest += data
                    continue
                chunk = rest + data[:end] if rest else data[:end]
                rest = data[end + 1:]
            elif rest:
                chunk, rest = rest, b""
            else:
                break
            if lineno == 0 and chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[3:]
            nul = chunk.find(b"\x00")
            if nul >= 0:
                before = chunk.count(b"\n", 0, nul)
                if before:
                    good = chunk[: chunk.rfind(b"\n", 0, nul)]
                    lines = _decode_block(good)
                    lineno += len(lines)
                    yield lines
                raise ReportFormatError(
                    "binary data (NUL bytes): this is not a text report file",
                    line=lineno + 1,
                    source=name,
                )
            lines = _decode_block(chunk)
            lineno += len(lines)
            yield lines
    finally:
        if stream is not source:
            stream.close()


def _decode_block(chunk: bytes) -> list[str]:
    """Lines of ``chunk`` (split on LF, one trailing CR removed), decoded as UTF-8, or
    line by line with the Windows-1252 fallback when the block is not valid UTF-8."""
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError:
        lines = [_decode_line(raw[:-1] if raw.endswith(b"\r") else raw)
                 for raw in chunk.split(b"\n")]
    else:
        lines = text.split("\n")
        if "\r" in text:
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    return lines


_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx file?)",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office file",
    b"BZh": "a bzip2 archive",
    b"\xfd7zXZ": "an xz archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
}


def _refuse_binary(stream: BinaryIO, name: str | None) -> None:
    """Refuse well-known binary formats and anything with NUL bytes up front."""
    try:
        head = stream.peek(8192)[:8192]
    except (OSError, EOFError, zlib.error) as exc:
        raise ReportFormatError(
            f"the gzip file is truncated or corrupt ({exc})", line=1, source=name
        ) from None
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise ReportFormatError(
                f"binary data: this is {what}, not a text report file", line=1, source=name
            )
    if head[:2] in _UTF16_BOMS:
        return
    if b"\x00" in head:
        raise ReportFormatError(
            "binary data (NUL bytes): this is not a text report file", line=1, source=name
        )


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
    """A tab separated report read lazily: ``header`` first, then ``rows()`` once.

    Rows shorter than the header (Amazon drops trailing empty columns) are padded with
    empty strings; longer rows are accepted when the surplus is empty, else an error.
    Blank lines are skipped. Values are stripped of surrounding whitespace.
    """

    def __init__(
        self,
        source: ReportSource,
        *,
        delimiter: str = "\t",
        required: Iterable[str] = (),
        report: str = "",
    ) -> None:
        self.source_name = _describe(source)
        self.report = report
        self.delimiter = delimiter
        self._blocks = iter_text_blocks(source)
        self._pending: list[str] = []  # the rest of the block the header was read from
        self._next_line = 1
        self._consumed = False
        self.header = self._read_header()
        if required:
            self.header.require(required, report=report, source=self.source_name)

    def _header_lines(self) -> Iterator[tuple[int, str]]:
        lineno = 0
        for block in self._blocks:
            for i, text in enumerate(block):
                lineno += 1
                self._pending = block[i + 1:]
                self._next_line = lineno + 1
                yield lineno, text
            self._pending = []

    def _read_header(self) -> Header:
        for lineno, text in self._header_lines():
            if not text.strip():
                continue
            if text.lstrip().startswith("<?xml") or text.lstrip().startswith("<"):
                raise ReportFormatError(
                    "this is an XML document, not a tab-separated flat file",
                    line=lineno,
                    source=self.source_name,
                )
            values = text.split(self.delimiter)
            if len(values) == 1 and self.delimiter not in text:
                if _looks_binary(text):
                    raise ReportFormatError(
                        "binary data: this is not a text report file",
                        line=lineno,
                        source=self.source_name,
                    )
                if "," in text or ";" in text:
                    raise ReportFormatError(
                        "the header is not tab separated (comma or semicolon separated file?)",
                        line=lineno,
                        source=self.source_name,
                    )
            if _looks_binary(text):
                raise ReportFormatError(
                    "binary data: this is not a text report file",
                    line=lineno,
                    source=self.source_name,
                )
            return Header.from_values(values, line=lineno, source=self.source_name)
        raise ReportFormatError("the file is empty", source=self.source_name)

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
        pad = [""] * width
        lineno = self._next_line - 1
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
                yield lineno, values


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


# --------------------------------------------------------------------------- numbers

# Per-currency rounding lives in amazonsync.money; re-exported for the parsers.
currency_places = money_decimals
quantize_money = money_quantize


_PLAIN_AMOUNT = re.compile(r"[+-]?\d+(?:\.\d+)?")
_THOUSANDS_SPACES = str.maketrans("", "", " \u00a0\u202f'’")


def parse_amount(text: str, *, places: int | None = None) -> Decimal:
    """Parse an amount as Amazon writes it in any marketplace.

    ``1234.56``, ``-1234,56``, ``1.234,56``, ``1,234.56``, ``1 234,56``, ``1'234.56``,
    ``(12.00)``, ``12.00-``. With a single separator followed by exactly three digits the
    separator is read as a thousands separator when ``places`` (the currency's minor
    units) says three decimals are impossible (``1.234`` JPY is 1234), else as a decimal
    separator. Raises ``ValueError`` on anything else.
    """
    s = text.strip()
    if _PLAIN_AMOUNT.fullmatch(s) and not (places is not None and places != 3 and _three(s)):
        return Decimal(s)
    return _parse_amount_slow(s, places)


def _three(s: str) -> bool:
    dot = s.find(".")
    return dot >= 0 and len(s) - dot - 1 == 3


def _parse_amount_slow(s: str, places: int | None) -> Decimal:
    original = s
    if not s:
        raise ValueError("empty amount")
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1].strip()
    if s.endswith("-"):
        negative, s = not negative, s[:-1].strip()
    if s[:1] in "+-":
        negative, s = (not negative if s[0] == "-" else negative), s[1:].strip()
    s = s.translate(_THOUSANDS_SPACES)
    if not s or not re.fullmatch(r"[\d.,]+", s) or not s[0].isdigit() and s[0] not in ".,":
        raise ValueError(f"not a number: {original!r}")
    last_dot, last_comma = s.rfind("."), s.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        decimal_sep = "." if last_dot > last_comma else ","
        thousands = "," if decimal_sep == "." else "."
        integer, _, fraction = s.rpartition(decimal_sep)
        if decimal_sep in integer:
            raise ValueError(f"not a number: {original!r}")
        _check_groups(integer, thousands, original)
        s = integer.replace(thousands, "") + "." + fraction
    elif last_dot >= 0 or last_comma >= 0:
        sep = "." if last_dot >= 0 else ","
        count = s.count(sep)
        integer, _, fraction = s.rpartition(sep)
        if count > 1:
            _check_groups(s, sep, original)
            s = s.replace(sep, "")
        elif len(fraction) == 3 and places is not None and places != 3 and integer:
            _check_groups(s, sep, original)
            s = s.replace(sep, "")
        else:
            s = (integer or "0") + "." + fraction
    if not re.fullmatch(r"\d+(?:\.\d+)?", s):
        raise ValueError(f"not a number: {original!r}")
    value = Decimal(s)
    return -value if negative else value


def _check_groups(text: str, sep: str, original: str) -> None:
    groups = text.split(sep)
    if not groups[0] or len(groups[0]) > 3 or any(len(g) != 3 for g in groups[1:]):
        raise ValueError(f"misplaced thousands separator in {original!r}")


def parse_int(text: str) -> int:
    s = text.strip()
    try:
        return int(s)
    except ValueError:
        value = parse_amount(s)
        if value != value.to_integral_value():
            raise ValueError(f"not a whole number: {text!r}") from None
        return int(value)


# --------------------------------------------------------------------------- dates

_TZ_ABBREVIATIONS = {
    "UTC": 0,
    "GMT": 0,
    "UT": 0,
    "Z": 0,
    "WET": 0,
    "BST": 60,
    "IST": 330,
    "CET": 60,
    "CEST": 120,
    "MEZ": 60,
    "MESZ": 120,
    "EET": 120,
    "EEST": 180,
    "TRT": 180,
    "MSK": 180,
    "GST": 240,
    "PKT": 300,
    "SGT": 480,
    "AWST": 480,
    "JST": 540,
    "KST": 540,
    "AEST": 600,
    "AEDT": 660,
    "NZST": 720,
    "NZDT": 780,
    "BRT": -180,
    "ART": -180,
    "EST": -300,
    "EDT": -240,
    "CST": -360,
    "CDT": -300,
    "MST": -420,
    "MDT": -360,
    "PST": -480,
    "PDT": -420,
    "AKST": -540,
    "AKDT": -480,
    "HST": -600,
}

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "januar", "janvier", "gen", "ene", "jän"),
            ("feb", "februar", "fev", "fév", "febr"),
            ("mar", "mär", "märz", "mars", "marzo"),
            ("apr", "avr", "abr"),
            ("may", "mai", "mag", "mayo"),
            ("jun", "juni", "juin", "giu"),
            ("jul", "juli", "juil", "lug"),
            ("aug", "août", "aou", "ago"),
            ("sep", "sept", "set"),
            ("oct", "okt", "ott"),
            ("nov",),
            ("dec", "dez", "déc", "dic"),
        ]
    )
    for m in names
}

_NUMERIC_DATE = re.compile(
    r"""^\s*
    (?:
        (?P<y1>\d{4})(?P<s1>[-/.])(?P<m1>\d{1,2})(?P=s1)(?P<d1>\d{1,2})
      | (?P<a>\d{1,2})(?P<s2>[-/.])(?P<b>\d{1,2})(?P=s2)(?P<y2>\d{4})
    )
    (?:(?:T|\s+)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d+))?)?
       \s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?
    \s*(?P<tz>Z|[+-]\d{2}(?::?\d{2})?|[A-Za-z]{1,5}(?:\s*[+-]\d{1,2}(?::?\d{2})?)?)?
    \s*$""",
    re.X,
)

_NAMED_MONTH_DATE = re.compile(
    r"""^\s*
    (?:
        (?P<mon1>[^\W\d_]{3,9})\.?\s+(?P<d1>\d{1,2}),?\s+(?P<y1>\d{4})
      | (?P<d2>\d{1,2})[-\s.]+(?P<mon2>[^\W\d_]{3,9})\.?[-\s,]+(?P<y2>\d{4})
    )
    (?:,?\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?
    \s*(?P<tz>Z|[+-]\d{2}(?::?\d{2})?|[A-Za-z]{1,5}(?:\s*[+-]\d{1,2}(?::?\d{2})?)?)?
    \s*$""",
    re.X,
)


def _tz_offset(tz: str | None) -> timezone | None:
    if not tz:
        return None
    tz = tz.strip()
    m = re.fullmatch(r"([A-Za-z]*)\s*(?:([+-])(\d{1,2})(?::?(\d{2}))?)?", tz)
    if not m:
        raise ValueError(f"unknown time zone {tz!r}")
    name, sign, hours, minutes = m.groups()
    offset = 0
    if name:
        if name.upper() not in _TZ_ABBREVIATIONS:
            raise ValueError(f"unknown time zone {tz!r}")
        offset = _TZ_ABBREVIATIONS[name.upper()]
    if sign:
        delta = int(hours) * 60 + int(minutes or 0)
        offset += delta if sign == "+" else -delta
    return UTC if offset == 0 else timezone(timedelta(minutes=offset))


def _build(y, mo, d, H, M, S, f, ampm) -> datetime:
    hour = int(H) if H else 0
    if ampm:
        pm = ampm.lower().startswith("p")
        if not 1 <= hour <= 12:
            raise ValueError("hour out of range for AM/PM")
        hour = hour % 12 + (12 if pm else 0)
    micro = int((f or "0")[:6].ljust(6, "0")) if f else 0
    return datetime(int(y), int(mo), int(d), hour, int(M or 0), int(S or 0), micro)


@lru_cache(maxsize=4096)
def _parse_datetime_parts(text: str, dayfirst: bool) -> tuple[datetime, timezone | None, bool]:
    """Return (naive datetime, tz or None, has_time)."""
    m = _NUMERIC_DATE.match(text)
    if m:
        g = m.groupdict()
        if g["y1"]:
            y, mo, d = g["y1"], g["m1"], g["d1"]
        else:
            a, b, sep = int(g["a"]), int(g["b"]), g["s2"]
            if sep == "." or sep == "-":
                d, mo = a, b  # 15.01.2024, 15-01-2024: always day first
            elif a > 12:
                d, mo = a, b
            elif b > 12:
                mo, d = a, b
            else:
                d, mo = (a, b) if dayfirst else (b, a)
            y = g["y2"]
        naive = _build(y, mo, d, g["H"], g["M"], g["S"], g["f"], g["ampm"])
        return naive, _tz_offset(g["tz"]), g["H"] is not None
    m = _NAMED_MONTH_DATE.match(text)
    if m:
        g = m.groupdict()
        mon = (g["mon1"] or g["mon2"]).lower().rstrip(".")
        month = _MONTHS.get(mon) or _MONTHS.get(mon[:3])
        if not month:
            raise ValueError(f"unknown month name in {text!r}")
        naive = _build(
            g["y1"] or g["y2"], month, g["d1"] or g["d2"], g["H"], g["M"], g["S"], None, g["ampm"]
        )
        return naive, _tz_offset(g["tz"]), g["H"] is not None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date: {text!r}") from None
    return parsed.replace(tzinfo=None), parsed.tzinfo, True  # type: ignore[return-value]


def parse_amazon_datetime(text: str, *, dayfirst: bool = True) -> datetime:
    """Parse a date/time as any Amazon marketplace writes it; aware, in UTC.

    ``2024-01-15T08:00:00+00:00``, ``2024-01-15 08:00:00 UTC``, ``15.01.2024 08:00:00 UTC``,
    ``15.01.2024``, ``2024/01/15 17:00:00 JST``, ``Jan 15, 2024 12:00:00 AM PST``,
    ``15-Jan-2024``. Without a zone the value is taken as UTC; a date alone is midnight UTC.
    ``dayfirst`` decides ``01/02/2024`` (ambiguous slashes only). Raises ``ValueError``.
    """
    return _parse_datetime_cached(text, dayfirst)


@lru_cache(maxsize=8192)
def _parse_datetime_cached(text: str, dayfirst: bool) -> datetime:
    naive, tz, _ = _parse_datetime_parts(text.strip(), dayfirst)
    if tz is None or tz is UTC:
        return naive.replace(tzinfo=UTC)
    return naive.replace(tzinfo=tz).astimezone(UTC)


def parse_amazon_date(text: str, *, dayfirst: bool = True) -> date:
    """The calendar date as written (no time-zone shift): ``15.01.2024`` -> 2024-01-15."""
    return _parse_date_cached(text, dayfirst)


@lru_cache(maxsize=8192)
def _parse_date_cached(text: str, dayfirst: bool) -> date:
    naive, _, _ = _parse_datetime_parts(text.strip(), dayfirst)
    return naive.date()


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
    except (ValueError, InvalidOperation, ArithmeticError) as exc:
        raise ReportFormatError(
            f"{exc} (value {value!r})", line=row.line, column=column, source=source
        ) from None


# --------------------------------------------------------------------------- importers


@dataclass(frozen=True)
class ReportImporter:
    """How ``manage.py import_report`` (and the scheduled flows) import one report type.

    ``import_file(account=, source=, name=, progress=)`` imports one file and returns a
    JSON-able dict; ``combine(results)`` turns the per-file dicts into the one JSON document
    the command prints. Apps register theirs in ``<app>/importers.py``.
    """

    report_type: str
    import_file: Callable[..., dict]
    combine: Callable[[list[dict]], dict]


_IMPORTERS: dict[str, ReportImporter] = {}


def combine_counts(report_type: str) -> Callable[[list[dict]], dict]:
    """The default document: ``{report_type, rows, created, updated, unchanged, exceptions}``."""

    def combine(results: list[dict]) -> dict:
        doc: dict = {"report_type": report_type}
        for key in ("rows", "created", "updated", "unchanged", "exceptions"):
            doc[key] = sum(int(r.get(key, 0)) for r in results)
        return doc

    return combine


def register_importer(
    report_type: str, *, combine: Callable[[list[dict]], dict] | None = None
) -> Callable[[Callable[..., dict]], Callable[..., dict]]:
    def decorator(func: Callable[..., dict]) -> Callable[..., dict]:
        _IMPORTERS[report_type] = ReportImporter(
            report_type=report_type, import_file=func,
            combine=combine or combine_counts(report_type),
        )
        return func

    return decorator


def get_importer(report_type: str) -> ReportImporter:
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("importers")
    try:
        return _IMPORTERS[report_type]
    except KeyError:
        known = ", ".join(sorted(_IMPORTERS)) or "none"
        raise KeyError(f"no importer for report type {report_type!r} (known: {known})") from None


def registered_report_types() -> list[str]:
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("importers")
    return sorted(_IMPORTERS)
