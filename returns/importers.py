"""Registers the two returns reports with ``manage.py import_report`` (and the flow uses the
same function): ``{"report_type", "rows", "created", "updated", "unchanged", "exceptions"}``."""

from __future__ import annotations

from amazonsync.reports import register_importer

from .parsers import FBA_REPORT_TYPE, MFN_REPORT_TYPE


def _importer(report_type: str):
    def import_returns_file(*, account, source, name=None, progress=None, run=None,
                            report_document_id: str = "", marketplace=None,
                            encoding: str | None = None) -> dict:
        from .services import refunds_match, returns_import

        counts = returns_import(account=account, source=source, report_type=report_type,
                                marketplace=marketplace, name=name or report_document_id,
                                run=run, progress=progress, encoding=encoding)
        refunds_match(account=account, marketplace=marketplace, run=run)
        return counts.as_dict()

    import_returns_file.__name__ = f"import_{report_type.lower()}"
    return import_returns_file


import_fba_returns_file = register_importer(FBA_REPORT_TYPE)(_importer(FBA_REPORT_TYPE))
import_mfn_returns_file = register_importer(MFN_REPORT_TYPE)(_importer(MFN_REPORT_TYPE))
