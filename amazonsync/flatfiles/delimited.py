"""Which character separates the values of a flat file, and reading quoted values.

Amazon's reports are tab separated. The same reports downloaded from Seller Central as
``.csv`` are comma separated, and once opened and saved by Excel in a European locale,
semicolon separated; both quote a value that holds the separator, a quote (doubled) or a
line break (``"Bottle, 1 l"``). The header line decides: the one separator found outside
quoted names is the file's. A header with more than one (``a;b,c``) is ambiguous; the
columns the caller requires settle it when exactly one reading of the header has them
all, else the file is refused rather than read one way or the other.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator

from .errors import ReportFormatError

__all__ = ["DELIMITERS", "DELIMITER_NAMES", "header_delimiter", "split_header",
           "quoted_rows"]

DELIMITERS = ("\t", ",", ";")
DELIMITER_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon"}
_QUOTED = re.compile(r'"(?:[^"]|"")*"')


def split_header(text: str, delimiter: str) -> list[str]:
    """The names of a header line (quoted names unquoted in comma and semicolon files)."""
    if delimiter == "\t":
        return text.split("\t")
    try:
        return next(csv.reader([text], delimiter=delimiter, strict=True), [])
    except csv.Error:
        return text.split(delimiter)


def _normal(name: str) -> str:
    return name.strip().strip('"').strip().lower()


def header_delimiter(text: str, required: Iterable[str] = (), *, line: int = 1,
                     source: str | None = None) -> str:
    """The separator of the file whose header line is ``text`` (see the module docstring);
    tab for a header of one column."""
    bare = _QUOTED.sub("", text)
    found = [d for d in DELIMITERS if d in bare]
    if len(found) <= 1:
        return found[0] if found else "\t"
    wanted = {_normal(name) for name in required}
    if wanted:
        fits = [d for d in found if wanted <= {_normal(n) for n in split_header(text, d)}]
        if len(fits) == 1:
            return fits[0]
    names = " and ".join(f"{DELIMITER_NAMES[d]}s" for d in found)
    raise ReportFormatError(
        f"the header has {names} between its names: cannot tell which separates the "
        "columns; save the file with one separator (tab, as Amazon writes it)",
        line=line, source=source)


def quoted_rows(lines: Iterable[tuple[int, str]], delimiter: str, *, after: int = 0,
                source: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """``(line_number, values)`` of a comma- or semicolon-separated file, read with its
    quoting (a quoted value may hold the separator, doubled quotes and line breaks; the
    line number is the one the row starts on; ``after`` is the line before the first).
    Badly quoted text refuses the file."""
    at = [after]

    def texts() -> Iterator[str]:
        for lineno, text in lines:
            at[0] = lineno
            yield text + "\n"

    reader = csv.reader(texts(), delimiter=delimiter, quotechar='"', doublequote=True,
                        strict=True)
    while True:
        first = at[0] + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger" in str(exc):
                raise ReportFormatError(
                    f"a quoted value that starts on this line runs past "
                    f"{csv.field_size_limit():,} characters (a missing \"?): refused",
                    line=first, source=source) from None
            if "end of data" in str(exc):
                raise ReportFormatError("a quoted value that starts on this line is never "
                                        "closed (a missing \")", line=first,
                                        source=source) from None
            raise ReportFormatError(f"badly quoted value ({exc})", line=at[0] or first,
                                    source=source) from None
        yield first, values
