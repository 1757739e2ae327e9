"""What every returns service shares: the flow's name, this app's exception reasons, the
refusal raised by a business rule, and when a settlement line happened."""

from __future__ import annotations

import datetime
from decimal import Decimal

FLOW = "returns"
ZERO = Decimal("0")

# Exception reasons of this app.
BAD_ROW = "bad_row"
MARKETPLACE_UNKNOWN = "marketplace_unknown"
NO_RULE = "no_disposition_rule"
MFN_FOLLOW_UP = "mfn_refund_not_returned"
MEMO_CHANGED = "credit_memo_changed_after_export"


class ReturnsError(Exception):
    """A business rule refused the operation; the message says why."""


def line_time(line) -> datetime.datetime | None:
    """When a settlement line was posted (its date at midnight UTC when it has no time)."""
    if line.posted_date_time is not None:
        return line.posted_date_time
    if line.posted_date is not None:
        return datetime.datetime.combine(line.posted_date, datetime.time(),
                                         tzinfo=datetime.UTC)
    return None
