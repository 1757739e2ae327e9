"""Report importers: how ``manage.py import_report`` (and the scheduled flows) import each
report type. Apps register theirs in ``<app>/importers.py`` with :func:`register_importer`;
:func:`get_importer` finds them (autodiscovering the apps' ``importers`` modules).

Reading the files themselves (decoding, lines, header, rows, values) is
:mod:`amazonsync.flatfiles`, which imports no Django.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ReportImporter", "register_importer", "get_importer", "registered_report_types"]


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
