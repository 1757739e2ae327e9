"""PostgreSQL COPY of a settlement's lines: the rows of the parser's fast way
(:func:`settlements.parsers.line_rows`) rendered in COPY's text format, written in ~1 MB
chunks inside the import's transaction.

The text form of each value (:data:`COPY_FORMS`) is handed to the parser, which applies it
once per distinct text next to the conversion it caches; the rows are joined, prefixed with
the settlement's primary key and escaped here, a chunk at a time."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from django.db import connection

from .models import SettlementLine
from .parsers import (
    LINE_FIELDS,
    LineForms,
    LineTotals,
    SettlementLineData,
    SettlementReport,
    line_rows,
    line_values,
)
from .parsers.fast import ROWS_PER_BATCH

_NULL = "\x00"  # the reader refuses NUL bytes, so it cannot occur in a value


def _iso_or_null(value) -> str:
    return value.isoformat() if value is not None else _NULL


def _str_or_null(value) -> str:
    return str(value) if value is not None else _NULL


# NULL as _NULL until the chunk is escaped; backslashes and CRs as they are.
COPY_FORMS = LineForms(
    amount=str, date=_iso_or_null, datetime=_iso_or_null, quantity=_str_or_null,
    line_number=str, extra=json.dumps, row="\t".join,
)


def _escape(text: str) -> str:
    """COPY text format escapes for rows rendered with COPY_FORMS (any number of them)."""
    if "\\" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\r", "\\r")
    return text.replace(_NULL, "\\N") if _NULL in text else text


def render_copy_row(prefix: str, x: SettlementLineData) -> str:
    """One line in PostgreSQL COPY text format, in LINE_FIELDS order after ``prefix``."""
    return _escape(f"{prefix}\t" + COPY_FORMS.row(line_values(x, COPY_FORMS)))


def copy_chunks(
    report: SettlementReport, *, prefix: str, totals: LineTotals | None = None,
    rows: int = ROWS_PER_BATCH,
) -> Iterator[tuple[bytes, int]]:
    """The lines of ``report`` rendered for ``COPY ... FROM STDIN`` (text format): each row
    is ``prefix`` then the LINE_FIELDS; yields ``(chunk, number of lines)``. Same rows as
    :func:`render_copy_row` of every line of ``report.lines()``."""
    head, separator = f"{prefix}\t", f"\n{prefix}\t"
    for batch, n in line_rows(report, totals=totals, forms=COPY_FORMS, rows=rows):
        text = head + separator.join(batch) + "\n" if batch else ""
        yield _escape(text).encode(), n


def lines_copy(*, chunks: Iterable[bytes]) -> None:
    """COPY the chunks (see :func:`copy_chunks`) into the settlement lines' table: a step
    of the import, inside its transaction."""
    columns = ", ".join(("settlement_id", *LINE_FIELDS))
    table = SettlementLine._meta.db_table
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg 3 cursor
        with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            write = copy.write
            for chunk in chunks:
                write(chunk)
