"""Which encoding a flat file is in, decided by evidence, never guessed.

Amazon writes its reports in UTF-8 today; older files, and files downloaded from some
Seller Central pages, are in the marketplace's legacy encoding: Windows-31J (``cp932``) for
Amazon.co.jp, Windows-1252 for the others (:mod:`.locale`). The bytes of one are often
valid in the other (``エ`` in Windows-31J is ``ƒG`` in Windows-1252), so trying one and
falling back to another stores mojibake without a word. :class:`Decoding` therefore:

1. reads UTF-8 (the fast path: one ``bytes.decode`` per block) as long as the file is
   valid UTF-8;
2. at the first block that is not, decodes that block in every candidate encoding. The one
   candidate that decodes it cleanly is the file's encoding from then on; a later block it
   does not decode is refused with its line. Candidates that decode it to the very same
   text are one answer, not a doubt;
3. refuses the file (with the line and the candidates) when no candidate decodes the block,
   when two decode it to different text, or when earlier lines had non-ASCII text that was
   valid UTF-8 (a file is in one encoding).

An explicit ``encoding`` (someone who knows) skips the evidence: every block must decode
in it.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence

from .errors import ReportFormatError
from .locale import encoding_label

__all__ = ["DEFAULT_CANDIDATES", "Decoding"]

# A file whose marketplace is unknown may be in either legacy encoding Amazon uses.
DEFAULT_CANDIDATES: tuple[str, ...] = ("cp932", "cp1252")
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")
# What a legacy codec yields for bytes its encoding leaves undefined (Python's cp932 reads
# 0x80 as U+0080 and 0xA0, 0xFD-0xFF and the user-defined rows as private-use characters):
# never the text of a report, so a reading that contains them is not a clean one.
_NOT_TEXT = re.compile("[\x80-\x9f\ue000-\uf8ff]")
_HOW = "say which (import_report --encoding"


def _codec(name: str, source: str | None) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ReportFormatError(f"unknown encoding {name!r}", source=source) from None


def _labels(codecs_: Sequence[str]) -> str:
    names = [encoding_label(c) for c in codecs_]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _snippet(line: str) -> str:
    """The line from a little before its first non-ASCII character, for a message."""
    first = next((i for i, ch in enumerate(line) if ord(ch) > 127), 0)
    start = max(0, first - 10)
    text = line[start:start + 30]
    return f"'{'…' if start else ''}{text}{'…' if len(line) > start + 30 else ''}'"


def _clean_decode(chunk: bytes, codec: str) -> str:
    """``chunk`` in ``codec``; ``UnicodeDecodeError`` (at the byte) when it is not valid
    there or reads as characters that are no text (:data:`_NOT_TEXT`)."""
    text = chunk.decode(codec)
    if codec != "utf-8":
        bad = _NOT_TEXT.search(text)
        if bad is not None:
            offset = len(text[:bad.start()].encode(codec))
            raise UnicodeDecodeError(codec, chunk, offset, offset + 1, "undefined byte")
    return text


class Decoding:
    """The decoding of one file, block by block (see the module docstring)."""

    __slots__ = ("candidates", "codec", "source", "bom", "utf8_line", "decided_at")

    def __init__(self, encodings: Sequence[str] = (), encoding: str | None = None,
                 source: str | None = None) -> None:
        self.source = source
        candidates: list[str] = []
        for name in encodings or DEFAULT_CANDIDATES:
            codec = _codec(name, source)
            if codec != "utf-8" and codec not in candidates:
                candidates.append(codec)
        self.candidates = tuple(candidates)
        self.codec: str | None = _codec(encoding, source) if encoding else None
        self.bom = False
        self.utf8_line = 0  # the first line with non-ASCII text read as UTF-8
        self.decided_at = 0  # the line that decided the legacy encoding

    def saw_bom(self) -> None:
        """The file starts with a UTF-8 byte-order mark: it is UTF-8."""
        self.bom = True
        if self.codec not in (None, "utf-8"):
            raise ReportFormatError(
                f"the file starts with a UTF-8 byte-order mark but was said to be "
                f"{encoding_label(self.codec)}", line=1, source=self.source)

    def lines(self, chunk: bytes, lineno: int) -> list[str]:
        """The lines of ``chunk`` (whole lines, split on LF, one trailing CR removed);
        ``lineno`` is the number of lines before it."""
        if self.codec is None:
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                text = self._decide(chunk, lineno, exc)
            else:
                if not self.utf8_line and not chunk.isascii():
                    at = _NON_ASCII.search(chunk).start()  # type: ignore[union-attr]
                    self.utf8_line = lineno + 1 + chunk.count(b"\n", 0, at)
        else:
            text = self._decode(chunk, lineno)
        lines = text.split("\n")
        if "\r" in text:
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        return lines

    def _line_of(self, chunk: bytes, lineno: int, offset: int) -> int:
        return lineno + 1 + chunk.count(b"\n", 0, offset)

    def _decode(self, chunk: bytes, lineno: int) -> str:
        codec = self.codec or "utf-8"
        try:
            return _clean_decode(chunk, codec)
        except UnicodeDecodeError as exc:
            line = self._line_of(chunk, lineno, exc.start)
            why = (f" (decided by line {self.decided_at})" if self.decided_at
                   else " (as was said)")
            raise ReportFormatError(
                f"this line is not {encoding_label(codec)} like the lines before it{why}: "
                f"the file mixes encodings; {_HOW} …) or re-export it from Seller Central",
                line=line, source=self.source) from None

    def _decide(self, chunk: bytes, lineno: int, exc: UnicodeDecodeError) -> str:
        line = self._line_of(chunk, lineno, exc.start)
        start = chunk.rfind(b"\n", 0, exc.start) + 1
        earlier = _NON_ASCII.search(chunk, 0, start)  # valid UTF-8 up to the bad line
        if earlier is not None and not self.utf8_line:
            self.utf8_line = self._line_of(chunk, lineno, earlier.start())
        if self.bom or self.utf8_line:
            since = ("the file starts with a UTF-8 byte-order mark" if self.bom
                     else f"line {self.utf8_line} has non-ASCII text that is valid UTF-8")
            raise ReportFormatError(
                f"this line is not UTF-8 but {since}: the file mixes encodings; {_HOW} "
                "…) or re-export it from Seller Central", line=line, source=self.source)
        end = chunk.find(b"\n", exc.start)
        if _CONTROL.search(chunk, start, end if end >= 0 else len(chunk)):
            raise ReportFormatError(
                "binary data (control bytes, not UTF-8): this is not a text report file",
                line=line, source=self.source)
        decoded: dict[str, str] = {}
        failed: dict[str, int] = {}
        for codec in self.candidates:
            try:
                decoded[codec] = _clean_decode(chunk, codec)
            except UnicodeDecodeError as err:
                failed[codec] = self._line_of(chunk, lineno, err.start)
        if not decoded:
            where = "; ".join(f"not {encoding_label(c)} at line {n}" for c, n in failed.items())
            raise ReportFormatError(
                f"this line is not UTF-8 and the file is in none of the encodings it may "
                f"be in ({where}); {_HOW} …) or re-export it from Seller Central",
                line=line, source=self.source)
        if len(set(decoded.values())) > 1:
            raise self._ambiguous(decoded, lineno)
        self.codec = next(iter(decoded))
        self.decided_at = line
        return decoded[self.codec]

    def _ambiguous(self, decoded: dict[str, str], lineno: int) -> ReportFormatError:
        split = {codec: text.split("\n") for codec, text in decoded.items()}
        first = next(iter(split.values()))
        differs = next(i for i in range(len(first))
                       if len({lines[i] for lines in split.values()}) > 1)
        readings = "; ".join(f"{encoding_label(c)}: {_snippet(lines[differs].rstrip())}"
                             for c, lines in split.items())
        options = ", ".join(f"{c} for {encoding_label(c)}" for c in decoded)
        return ReportFormatError(
            f"this line is not UTF-8 and reads differently as {_labels(list(decoded))} "
            f"({readings}); {_HOW} {options}) or the marketplace the file comes from",
            line=lineno + 1 + differs, source=self.source)
