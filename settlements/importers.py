"""Registers the settlement importer with ``manage.py import_report`` (and the flow), for
both layouts: the V2 flat file and the V1 flat file (``GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE``).
The layout is told by the file's header, whichever of the two types is named."""

from __future__ import annotations

from amazonsync.reports import register_importer

from .parsers import REPORT_TYPE, V1_REPORT_TYPE


def _combine(results: list[dict]) -> dict:
    return {"settlements": [r["settlement"] for r in results if "settlement" in r]}


@register_importer(V1_REPORT_TYPE, combine=_combine)
@register_importer(REPORT_TYPE, combine=_combine)
def import_settlement_file(*, account, source, name=None, progress=None, run=None,
                           report_document_id: str = "", marketplace=None,
                           encoding: str | None = None) -> dict:
    from .selectors import settlement_as_json
    from .services import settlement_import

    result = settlement_import(
        account=account, source=source, name=name, progress=progress, run=run,
        report_document_id=report_document_id, marketplace=marketplace, encoding=encoding,
    )
    doc = settlement_as_json(result.settlement, created=result.created)
    if result.conflict:
        doc["conflict"] = True
        doc["error"] = result.message
    return {"settlement": doc, "ok": not result.conflict, "error": result.message}
