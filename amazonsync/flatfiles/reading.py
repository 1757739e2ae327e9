"""Reading Amazon flat files, bytes to lines.

Amazon's flat-file reports (settlements, orders, returns, ...) are text files that come
plain or gzip compressed, in UTF-8 (with or without a BOM) or, in older files, the
marketplace's legacy encoding (Windows-31J for Amazon.co.jp, Windows-1252 elsewhere; decided
by evidence in :mod:`.decoding`, never guessed), with LF or CRLF line endings. This module turns any
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .decoding import DEFAULT_CANDIDATES, Decoding
from .errors import ReportFormatError

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
    "DEFAULT_CANDIDATES",
]

ReportSource = bytes | bytearray | memoryview | str | os.PathLike | BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
BLOCK_SIZE = 1 << 17  # 128 KB: large enough to be fast, small enough to stream
# The longest line a report may have. Amazon's longest lines (a settlement line with every
# column, an order row with a long product name) are well under 10 KB.
MAX_LINE_BYTES = 1 << 20


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


def iter_text_lines(source: ReportSource, *, max_line: int = MAX_LINE_BYTES,
                    encodings: Sequence[str] = (), encoding: str | None = None,
                    ) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for every physical line, decoded, line ending removed.

    Handles gzip, UTF-8 (with or without BOM), UTF-16 with BOM, a legacy encoding decided
    by evidence (see :func:`iter_text_blocks`), CRLF and LF. Binary garbage, truncated
    gzip, undecidable text and lines longer than ``max_line`` raise
    :class:`ReportFormatError`.
    """
    lineno = 0
    for block in iter_text_blocks(source, max_line=max_line, encodings=encodings,
                                  encoding=encoding):
        for text in block:
            lineno += 1
            yield lineno, text


def iter_text_blocks(source: ReportSource, *, max_line: int = MAX_LINE_BYTES,
                     encodings: Sequence[str] = (), encoding: str | None = None,
                     ) -> Iterator[list[str]]:
    """The lines of :func:`iter_text_lines` (same decoding, same errors), in lists of
    consecutive lines read BLOCK_SIZE bytes at a time: the fast path for large files.
    Line numbers are implied: the first line of the file is line 1.

    Linear time and bounded memory whatever the file: the bytes of a line that spans
    blocks are gathered in a list (joined once), and a line longer than ``max_line``
    bytes is refused as soon as that many bytes of it have been read.

    Decoding is decided by evidence, never guessed: UTF-8 first; a file that is not
    UTF-8 is read in the one candidate of ``encodings`` (the legacy encodings of the
    marketplaces the file may come from; :data:`DEFAULT_CANDIDATES` when none are
    given) that decodes its first non-UTF-8 block cleanly, and every later block must
    decode in it too. A file no candidate decodes, or that two candidates decode to
    different text, is refused naming the line and the candidates. ``encoding`` names
    the encoding outright (a person who knows it) and skips the evidence."""
    name = describe_source(source)
    stream = open_binary(source)
    try:
        if _check_start(stream, name):
            yield from _utf16_blocks(stream, max_line, name)
        else:
            decoder = Decoding(encodings, encoding, name)
            yield from _BlockReader(stream, max_line, name, decoder).blocks()
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
    """The lines of an 8-bit stream (UTF-8 or a legacy encoding), a block at a time.

    Reading blocks no longer than ``max_line`` means that a line inside one block is short
    enough; only a line that spans blocks must be measured. ``lineno`` counts the lines
    handed out so far (for the messages)."""

    def __init__(self, stream: BinaryIO, max_line: int, name: str | None,
                 decoder: Decoding) -> None:
        self.stream = stream
        self.decoder = decoder
        self.max_line = max_line
        self.name = name
        self.size = max(1, min(BLOCK_SIZE, max_line))
        self.lineno = 0

    def blocks(self) -> Iterator[list[str]]:
        decode = self.decoder.lines
        for chunk in self._chunks():
            if self.lineno == 0 and chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[3:]
                self.decoder.saw_bom()
            nul = chunk.find(b"\x00")
            if nul >= 0:
                yield from self._refuse_nul(chunk, nul)
            lines = decode(chunk, self.lineno)
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
            lines = self.decoder.lines(chunk[: chunk.rfind(b"\n", 0, nul)], self.lineno)
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
