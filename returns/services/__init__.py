"""Writes for returns, one module per topic; every function is atomic and takes
keyword-only arguments.

- ``imports``: report rows -> ReturnEvents (idempotent upsert on the natural key).
- ``dispositions``: disposition rules -> one inventory adjustment per return, through
  ``catalog.services.stock_adjust``.
- ``refunds``: refund lines matched with returns per (order, SKU), the 45-day outcomes.
- ``reimbursements``: candidates opened (unreturned or Amazon-damaged FBA units) and closed
  (reimbursement lines of later settlements).
- ``credit_memos``: one memo per refunded order line, exported as CSV for the ERP.

Importing the package registers the exception-queue retries of returns."""

from .common import BAD_ROW, ReturnsError
from .credit_memos import credit_memos_export
from .dispositions import (
    AdjustmentOutcome,
    disposition_normalise,
    disposition_rule_for,
    disposition_rule_save,
    disposition_rules_ensure,
    return_adjustment_apply,
    return_grade,
)
from .imports import ImportCounts, returns_import
from .refunds import MatchCounts, refunds_match
from .reimbursements import candidate_dismiss

__all__ = [
    "BAD_ROW", "ReturnsError", "credit_memos_export", "AdjustmentOutcome",
    "disposition_normalise", "disposition_rule_for", "disposition_rule_save",
    "disposition_rules_ensure", "return_adjustment_apply", "return_grade", "ImportCounts",
    "returns_import", "MatchCounts", "refunds_match", "candidate_dismiss",
]
