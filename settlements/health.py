"""The health metric made of settlements (``amazonsync.health``): reconciliation drift."""

from __future__ import annotations

import datetime
from decimal import Decimal

from amazonsync.health import register_metric

from .models import Settlement


@register_metric("settlement_reconciliation_drift", label="Settlement reconciliation drift",
                 unit="money", target=Decimal(0), amber=Decimal("1.00"),
                 higher_is_better=False, position=50, flows=("settlements",))
def settlement_drift(now):
    """Per marketplace, the sum of the absolute drifts (internal, journal, deposit) of the
    settlements that ended in the last 90 days, and how many of them are unreconciled."""
    out: dict[str, dict] = {}
    rows = Settlement.objects.filter(end_date__gte=now - datetime.timedelta(days=90)
                                     ).values_list(
        "marketplace__code", "internal_drift", "journal_drift", "deposit_drift", "has_drift"
    )
    for code, internal, journal, deposit, has_drift in rows:
        entry = out.setdefault(code or "-", {"value": Decimal(0), "unreconciled": 0,
                                             "settlements": 0})
        entry["value"] += sum(abs(d) for d in (internal, journal, deposit) if d is not None)
        entry["unreconciled"] += bool(has_drift)
        entry["settlements"] += 1
    return out
