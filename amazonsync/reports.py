"""Reading Amazon flat-file reports.

Amazon's flat-file reports (settlements, orders, returns, ...) are tab separated text
files that come plain or gzip compressed, in UTF-8 (with or without a BOM) or, in older
and some European files, Windows-1252, with LF or CRLF line endings. This module turns any
of them into a stream of rows addressed by header name, without loading the file in memory.
How a cell becomes a typed value (amounts and dates as each marketplace writes them, and
what is refused: money, quantities, ids and codes, currencies, dates, text) is
:mod:`amazonsync.flatfiles.values`, re-exported here for the per-report parsers
(``<app>.parsers``).

Reading is linear in the size of the file and bounded in memory: bytes are read in blocks
of at most :data:`BLOCK_SIZE`, a line longer than ``max_line`` (:data:`MAX_LINE_BYTES`,
1 MiB) refuses the file as soon as that much of it has been read, and a value longer than
``max_field`` (:data:`MAX_FIELD_CHARS`) or than a column's own limit refuses it too.

Everything that goes wrong raises :class:`ReportFormatError` with a message a person can act
on (naming the file, the line and the column).
"""

from __future__ import annotations

import codecs
import gzip
import io
import itertools
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import InvalidOperation
from pathlib import Path
from typing import BinaryIO

from .flatfiles.values import (
    ValueRefused,
    currency_places,
    parse_amazon_date,
    parse_amazon_datetime,
    parse_amount,
    parse_int,
    quantize_money,
    shown,
)

__all__ = [
    "ReportFormatError",
    "ReportSource",
    "Header",
    "Row",
    "FlatFile",
    "MAX_LINE_BYTES",
    "MAX_FIELD_CHARS",
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
    "typed",
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


@contextmanager
def replayable(source: ReportSource) -> Iterator[ReportSource]:
    """``source`` in a form that can be read more than once: bytes and paths as they are,
    a stream copied (in blocks, to a temporary file) first. For parsers that read a file
    twice (e.g. to group the rows of one order wherever they are)."""
    if is_reopenable(source):
        yield source
        return
    with tempfile.NamedTemporaryFile(prefix="report-", suffix=".spool") as spool:
        shutil.copyfileobj(source, spool, BLOCK_SIZE)  # type: ignore[misc]
        spool.flush()
        yield Path(spool.name)


_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _decode_line(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # Older and some EU files are Windows-1252. Five bytes are undefined in cp1252;
        # they are replaced rather than failing the whole file.
        return raw.decode("cp1252", errors="replace")


BLOCK_SIZE = 1 << 17  # 128 KB: large enough to be fast, small enough to stream
# The longest line a report may have. Amazon's longest lines (a settlement line with every
# column, an order row with a long product name) are well under 10 KB.
MAX_LINE_BYTES = 1 << 20
# The longest value one cell may hold, whatever its column (a column's own, smaller limit
# is the parser's business): a 50 MB "description" is a broken or hostile file.
MAX_FIELD_CHARS = 32_768


def iter_text_lines(source: ReportSource, *, max_line: int = MAX_LINE_BYTES
                    ) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for every physical line, decoded, line ending removed.

    Handles gzip, UTF-8 BOM, UTF-16 with BOM, Windows-1252 fallback (per line), CRLF and LF.
    Binary garbage, truncated gzip and lines longer than ``max_line`` raise
    :class:`ReportFormatError`.
    """
    lineno = 0
    for block in iter_text_blocks(source, max_line=max_line):
        for text in block:
            lineno += 1
            yield lineno, text


def _line_too_long(lineno: int, max_line: int, name: str | None) -> ReportFormatError:
    return ReportFormatError(
        f"the line is longer than {max_line:,} bytes: this is not an Amazon report line "
        "(refused without reading the rest of the line)",
        line=lineno, source=name,
    )


def iter_text_blocks(source: ReportSource, *, max_line: int = MAX_LINE_BYTES
                     ) -> Iterator[list[str]]:
    """The lines of :func:`iter_text_lines` (same decoding, same errors), in lists of
    consecutive lines read BLOCK_SIZE bytes at a time: the fast path for large files.
    Line numbers are implied: the first line of the file is line 1.

    Linear time and bounded memory whatever the file: the bytes of a line that spans
    blocks are gathered in a list (joined once), and a line longer than ``max_line``
    bytes is refused as soon as that many bytes of it have been read."""
    name = _describe(source)
    stream = open_binary(source)
    lineno = 0
    # Reading blocks no longer than max_line means that a line inside one block is short
    # enough; only a line that spans blocks must be measured.
    size = max(1, min(BLOCK_SIZE, max_line))
    try:
        try:
            first_chunk = stream.peek(4)[:4]
        except (OSError, EOFError, zlib.error) as exc:
            raise ReportFormatError(
                f"the gzip file is truncated or corrupt ({exc})", line=1, source=name
            ) from None
        _refuse_binary(stream, name)
        if first_chunk[:2] in _UTF16_BOMS:
            yield from _utf16_blocks(stream, max_line, name)
            return
        pieces: list[bytes] = []  # the start of a line that spans blocks
        pending = 0  # its length in bytes
        read = stream.read
        while True:
            try:
                data = read(size)
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                raise ReportFormatError(
                    f"the gzip file is truncated or corrupt after {lineno} lines ({exc})",
                    line=lineno + 1,
                    source=name,
                ) from None
            if data:
                end = data.rfind(b"\n")
                if end < 0:
                    pending += len(data)
                    if pending > max_line:
                        raise _line_too_long(lineno + 1, max_line, name)
                    pieces.append(data)
                    continue
                if pieces:
                    if pending + data.find(b"\n") > max_line:
                        raise _line_too_long(lineno + 1, max_line, name)
                    pieces.append(data[:end])
                    chunk = b"".join(pieces)
                else:
                    chunk = data[:end]
                rest = data[end + 1:]
                pieces = [rest] if rest else []
                pending = len(rest)
            elif pieces:
                chunk, pieces, pending = b"".join(pieces), [], 0
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


def _utf16_blocks(stream: BinaryIO, max_line: int, name: str | None) -> Iterator[list[str]]:
    """UTF-16 files (with a BOM), decoded by the codec; lines capped at ``max_line``
    characters the same way (``readline`` with a limit reads no further)."""
    text = io.TextIOWrapper(stream, encoding="utf-16", newline="")
    lineno = 0
    block: list[str] = []
    try:
        while True:
            line = text.readline(max_line + 1)
            if not line:
                break
            stripped = line.rstrip("\r\n")
            if len(stripped) > max_line:
                raise _line_too_long(lineno + len(block) + 1, max_line, name)
            block.append(stripped)
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

    Limits, each refusing the file naming the line (and the column): ``max_line`` bytes per
    line, ``max_field`` characters per value, and ``field_limits`` (column name -> at most
    that many characters) for the columns whose values have a known width. Values are
    only measured one by one on a line that has a value longer than the smallest limit.
    """

    def __init__(
        self,
        source: ReportSource,
        *,
        delimiter: str = "\t",
        required: Iterable[str] = (),
        report: str = "",
        max_line: int = MAX_LINE_BYTES,
        max_field: int = MAX_FIELD_CHARS,
        field_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.source_name = _describe(source)
        self.report = report
        self.delimiter = delimiter
        self.max_field = max_field
        self.field_limits = dict(field_limits or {})
        self._blocks = iter_text_blocks(source, max_line=max_line)
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
