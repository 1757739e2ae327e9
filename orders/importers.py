"""Registers the all-orders flat file with ``manage.py import_report`` (the ``orders`` flow
imports the same file type through the same service when it backfills)."""

from __future__ import annotations

from amazonsync.reports import register_importer

from .parsers import REPORT_TYPE


@register_importer(REPORT_TYPE)
def import_all_orders_file(*, account, source, name=None, progress=None, run=None,
                           marketplace=None, encoding=None) -> dict:
    from .services import orders_report_import

    result = orders_report_import(account=account, source=source, progress=progress, run=run,
                                  marketplace=marketplace, encoding=encoding)
    return result.as_dict(REPORT_TYPE)
