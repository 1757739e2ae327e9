"""Spreadsheet-safe CSV/XLSX cells, for every export and import the back office offers.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula (CSV/DDE injection: ``=HYPERLINK(...)`` in a GL code or a carrier
name). Exports make such a cell inert with a leading apostrophe, the convention
spreadsheets themselves use for "this is text"; imports take that one apostrophe off
again, so a key exported and imported comes back exactly as it was (``=X`` -> ``'=X`` ->
``=X``). A cell that already starts with an apostrophe gets a second one, so it
round-trips too. Plain numbers (``-12.50``) are not formulas and are left alone.

django-import-export's own ``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT`` deletes the
leading ``=`` (and ignores ``+ - @``), which changes keys on a round trip: admins use the
:class:`CSV` and :class:`XLSX` formats of this module instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import tablib
from import_export.formats import base_formats

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def neutralise(value):
    """``value`` made inert for a spreadsheet (strings only; see the module docstring)."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith("'") or (
        value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def restore(value):
    """Undo :func:`neutralise` on a cell read back from a file."""
    if (
        isinstance(value, str)
        and value.startswith("'")
        and value[1:2]
        and (value[1] == "'" or value[1:].startswith(FORMULA_START))
    ):
        return value[1:]
    return value


def _each_cell(dataset: tablib.Dataset, cell: Callable[[object], object]) -> tablib.Dataset:
    """A copy of ``dataset`` (headers, rows and title) with ``cell`` applied to every cell."""
    out = tablib.Dataset(headers=[cell(h) for h in dataset.headers or []] or None)
    for row in dataset:
        out.append([cell(v) for v in row])
    out.title = dataset.title
    return out


def neutralise_dataset(dataset: tablib.Dataset) -> tablib.Dataset:
    return _each_cell(dataset, neutralise)


def restore_dataset(dataset: tablib.Dataset) -> tablib.Dataset:
    return _each_cell(dataset, restore)


class _Safe:
    def export_data(self, dataset, **kwargs):
        return neutralise_dataset(dataset).export(self.get_title(), **kwargs)

    def create_dataset(self, in_stream, **kwargs):
        return restore_dataset(super().create_dataset(in_stream, **kwargs))


class CSV(_Safe, base_formats.CSV):
    """CSV with inert formulas on export and exact keys on import."""


class XLSX(_Safe, base_formats.XLSX):
    """XLSX with inert formulas on export and exact keys on import."""

    def create_dataset(self, in_stream):
        return restore_dataset(base_formats.XLSX.create_dataset(self, in_stream))
