"""Reading Amazon flat files, bytes to lines.

Amazon's flat-file reports (settlements, orders, returns, ...) are tab separated text
files that come plain or gzip compressed, in UTF-8 (with or without a BOM) or, in older
and some European files, Windows-1252, with LF or CRLF line endings. This module turns any
of them into a stream of decoded lines, without loading the file in memory; the header and
the rows addressed by it are :mod:`.rows`.

Reading is linear in the size of the file and bounded in memory: bytes are read in blocks
of at most :data:`BLOCK_SIZE`, and a line longer than ``max_line`` (:data:`MAX_LINE_BYTES`,
1 MiB) refuses the file as soon as that much of it has been read.

Everything that goes wrong raises :class:`ReportFormatError` with a message a person can act
on (naming the file, the line and the column).
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "ReportFormatError",
    "ReportSource",
    "BLOCK_SIZE",
    "MAX_LINE_BYTES",
    "describe_source",
    "is_reopenable",
    "open_binary",
    "replayable",
    "iter_text_lines",
    "iter_text_blocks",
]

ReportSource = bytes | bytearray | memoryview | str | os.PathLike | BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
BLOCK_SIZE = 1 << 17  # 128 KB: large enough to be fast, small enough to stream
# The longest line a report may have. Amazon's longest lines (a settlement line with every
# column, an order row with a long product name) are well under 10 KB.
MAX_LINE_BYTES = 1 << 20


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


def describe_source(source: ReportSource) -> str | None:
    """The name to give ``source`` in messages: its path, or the stream's name."""
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


# --------------------------------------------------------------------------- lines


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


def iter_text_blocks(source: ReportSource, *, max_line: int = MAX_LINE_BYTES
                     ) -> Iterator[list[str]]:
    """The lines of :func:`iter_text_lines` (same decoding, same errors), in lists of
    consecutive lines read BLOCK_SIZE bytes at a time: the fast path for large files.
    Line numbers are implied: the first line of the file is line 1.

    Linear time and bounded memory whatever the file: the bytes of a line that spans
    blocks are gathered in a list (joined once), and a line longer than ``max_line``
    bytes is refused as soon as that many bytes of it have been read."""
    name = describe_source(source)
    stream = open_binary(source)
    try:
        if _check_start(stream, name):
            yield from _utf16_blocks(stream, max_line, name)
        else:
            yield from _BlockReader(stream, max_line, name).blocks()
    finally:
        if stream is not source:
            stream.close()


def _truncated(exc: BaseException, name: str | None) -> ReportFormatError:
    return ReportFormatError(
        f"the gzip file is truncated or corrupt ({exc})", line=1, source=name
    )


def _line_too_long(lineno: int, max_line: int, name: str | None) -> ReportFormatError:
    return ReportFormatError(
        f"the line is longer than {max_line:,} bytes: this is not an Amazon report line "
        "(refused without reading the rest of the line)",
        line=lineno, source=name,
    )


def _check_start(stream: BinaryIO, name: str | None) -> bool:
    """Refuse a corrupt gzip or a binary file before the first line; True for UTF-16."""
    try:
        first_chunk = stream.peek(4)[:4]
    except (OSError, EOFError, zlib.error) as exc:
        raise _truncated(exc, name) from None
    _refuse_binary(stream, name)
    return first_chunk[:2] in _UTF16_BOMS


class _BlockReader:
    """The lines of an 8-bit stream (UTF-8 or Windows-1252), a block at a time.

    Reading blocks no longer than ``max_line`` means that a line inside one block is short
    enough; only a line that spans blocks must be measured. ``lineno`` counts the lines
    handed out so far (for the messages)."""

    def __init__(self, stream: BinaryIO, max_line: int, name: str | None) -> None:
        self.stream = stream
        self.max_line = max_line
        self.name = name
        self.size = max(1, min(BLOCK_SIZE, max_line))
        self.lineno = 0

    def blocks(self) -> Iterator[list[str]]:
        for chunk in self._chunks():
            if self.lineno == 0 and chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[3:]
            nul = chunk.find(b"\x00")
            if nul >= 0:
                yield from self._refuse_nul(chunk, nul)
            lines = _decode_block(chunk)
            self.lineno += len(lines)
            yield lines

    def _chunks(self) -> Iterator[bytes]:
        """Runs of whole lines (without the last line ending), joining a line that spans
        blocks; the last line of the file need not end with a line ending."""
        pieces: list[bytes] = []  # the start of a line that spans blocks
        pending = 0  # its length in bytes
        while True:
            data = self._read()
            if not data:
                if pieces:
                    yield b"".join(pieces)
                return
            end = data.rfind(b"\n")
            if end < 0:
                pending += len(data)
                if pending > self.max_line:
                    raise _line_too_long(self.lineno + 1, self.max_line, self.name)
                pieces.append(data)
                continue
            if pieces:
                if pending + data.find(b"\n") > self.max_line:
                    raise _line_too_long(self.lineno + 1, self.max_line, self.name)
                pieces.append(data[:end])
                chunk = b"".join(pieces)
            else:
                chunk = data[:end]
            rest = data[end + 1:]
            pieces = [rest] if rest else []
            pending = len(rest)
            yield chunk

    def _read(self) -> bytes:
        try:
            return self.stream.read(self.size)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise ReportFormatError(
                f"the gzip file is truncated or corrupt after {self.lineno} lines ({exc})",
                line=self.lineno + 1,
                source=self.name,
            ) from None

    def _refuse_nul(self, chunk: bytes, nul: int) -> Iterator[list[str]]:
        """The whole lines before the NUL byte, then the error naming its line."""
        if chunk.count(b"\n", 0, nul):
            lines = _decode_block(chunk[: chunk.rfind(b"\n", 0, nul)])
            self.lineno += len(lines)
            yield lines
        raise ReportFormatError(
            "binary data (NUL bytes): this is not a text report file",
            line=self.lineno + 1,
            source=self.name,
        )


_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


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


def _decode_line(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # Older and some EU files are Windows-1252. Five bytes are undefined in cp1252;
        # they are replaced rather than failing the whole file.
        return raw.decode("cp1252", errors="replace")


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
        raise _truncated(exc, name) from None
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
