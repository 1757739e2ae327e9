"""Streaming parser for V2 settlement flat files (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2).

Bytes, a path or a binary stream in; a :class:`SettlementSummary` and an iterator of
:class:`SettlementLineData` out. Columns are read by header name (any order; extra columns
are kept per line in ``extra``); the file is never loaded in memory.

The first data row carrying a ``total-amount`` is the settlement summary (start, end,
deposit date, total, currency); every other row is a line.

Values go through :mod:`amazonsync.flatfiles.values` and a refused one refuses the whole
file (a settlement is stored whole or not at all), naming the line and the column: the
settlement id is digits (at most 20), the currency ISO 4217, amounts in the currency's
minor units (never rounded) and under a trillion, sums under the books' limit, quantities
within a million either way, the period at most a year and not in the future, line dates
within a year before the period and three months after it, the deposit within three
months of its end; text columns have the widths of :data:`FIELD_LIMITS` (order ids as
``orders``/``returns`` store them, SKUs as Amazon allows), enforced while reading.

The package: :mod:`.records` (columns, limits, the summary and line records),
:mod:`.report` (:class:`SettlementReport`: the summary, then every line fully converted),
:mod:`.fast` (:func:`line_rows`: the import's way through the lines, each distinct text
converted once), :mod:`.totals` (:class:`LineTotals`, gathered while the lines stream),
:mod:`.v1` (the V1 flat-file layout read into the same records; :func:`open_settlement`
tells the two apart by their header).
"""

from __future__ import annotations

from amazonsync.flatfiles.reading import ReportFormatError

from .fast import PARSED, LineForms, line_rows, line_values
from .records import (
    COLUMNS,
    LINE_FIELDS,
    REPORT_TYPE,
    REQUIRED_COLUMNS,
    SettlementLineData,
    SettlementSummary,
)
from .report import SettlementReport, parse_settlement
from .totals import LineTotals
from .v1 import (
    V1_COLUMNS,
    V1_REPORT_TYPE,
    V1SettlementReport,
    open_settlement,
    parse_settlement_v1,
    same_settlement_other_layout,
)

__all__ = [
    "REPORT_TYPE",
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "ReportFormatError",
    "SettlementSummary",
    "SettlementLineData",
    "SettlementReport",
    "LineTotals",
    "LINE_FIELDS",
    "LineForms",
    "PARSED",
    "line_rows",
    "line_values",
    "parse_settlement",
    "V1_REPORT_TYPE",
    "V1_COLUMNS",
    "V1SettlementReport",
    "parse_settlement_v1",
    "open_settlement",
    "same_settlement_other_layout",
]
