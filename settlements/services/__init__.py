"""Writes for settlements, by topic; every public service is importable from here. Every
service is atomic and takes keyword-only arguments.

- ``importing``: ``settlement_import`` (a V2 file: parse, store the lines, build the journal)
  and ``settlement_report_document_record`` (what the flow imported);
- ``journals``: ``settlement_journal_build`` (one batch per accounting month, from the lines
  and the GL mapping) and its retry;
- ``approval``: draft -> ready -> approved (four eyes);
- ``corrections``: explained adjustments, reversals, deleting a draft;
- ``export``: the CSV journal of approved batches;
- ``reconciliation``: drift (internal, journal, deposit, reserve), deposits, the settlement
  period;
- ``gl``: GL accounts and the mapping rules' resolution;
- ``base``: the errors and helpers they share.
"""

from __future__ import annotations

from .approval import (
    journal_batch_approve,
    journal_batch_mark_ready,
    journal_batch_return_to_draft,
)
from .base import FourEyesViolation, ImmutableBatch, SettlementError
from .corrections import journal_batch_add_adjustment, journal_batch_delete, journal_batch_reverse
from .export import journal_batches_export
from .gl import gl_account_save, glmapping_resolve
from .importing import ImportResult, settlement_import, settlement_report_document_record
from .journals import settlement_journal_build, settlement_retry
from .reconciliation import (
    settlement_period,
    settlement_reconcile,
    settlement_record_deposit,
)

__all__ = [
    "SettlementError",
    "FourEyesViolation",
    "ImmutableBatch",
    "ImportResult",
    "settlement_import",
    "settlement_report_document_record",
    "settlement_journal_build",
    "settlement_reconcile",
    "settlement_record_deposit",
    "settlement_retry",
    "journal_batch_mark_ready",
    "journal_batch_return_to_draft",
    "journal_batch_approve",
    "journal_batch_reverse",
    "journal_batch_delete",
    "journal_batches_export",
    "glmapping_resolve",
    "gl_account_save",
    "journal_batch_add_adjustment",
    "settlement_period",
]
