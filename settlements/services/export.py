"""Export of approved journal batches to the ERP: one CSV journal; the batches become
exported. Everything it writes is pinned once a batch is approved, so exporting again gives
the same bytes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from amazonsync.money import decimals
from amazonsync.spreadsheets import neutralise

from ..models import JournalBatch, JournalLine
from .base import SettlementError

EXPORT_COLUMNS = ("date", "account", "debit", "credit", "currency", "memo", "reference")


def journal_batches_export(*, batches: Iterable[JournalBatch], user) -> str:
    """CSV journal of approved (or already exported) batches; marks them exported.

    Everything it writes is pinned once a batch is approved (its lines, and the codes of
    the GL accounts they use: see :func:`gl_account_save`), so exporting a batch again
    gives the same bytes."""
    ids = [b.pk for b in batches]
    with transaction.atomic():
        locked = list(
            JournalBatch.objects.select_for_update().filter(pk__in=ids).order_by("period", "pk")
        )
        not_approved = [b.reference for b in locked if not b.is_locked]
        if not_approved:
            raise SettlementError(
                f"Only approved batches are exported; not approved: {', '.join(not_approved)}"
            )
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        lines = (
            JournalLine.objects.filter(batch__in=locked)
            .select_related("gl_account", "batch")
            .order_by("batch__period", "batch_id", "id")
        )
        for x in lines:
            places = decimals(x.currency)
            # a GL code, memo or reference a spreadsheet would run as a formula is inert
            writer.writerow(
                [
                    neutralise(cell) for cell in (
                        x.entry_date.isoformat(), x.gl_account.code,
                        f"{x.debit:.{places}f}" if x.debit else "",
                        f"{x.credit:.{places}f}" if x.credit else "",
                        x.currency, x.memo, x.batch.reference,
                    )
                ]
            )
        now = timezone.now()
        for b in locked:
            if b.status == JournalBatch.Status.APPROVED:
                b.status = JournalBatch.Status.EXPORTED
                b.exported_at = now
                b.exported_by = user
                b._change_reason = f"Exported in the CSV journal by {user}"
                b.save(update_fields=["status", "exported_at", "exported_by"])
        return out.getvalue()
