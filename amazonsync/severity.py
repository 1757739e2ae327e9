"""How urgent an exception is, and by when it should be handled.

A stuck shipment outranks a price update: severity comes from what the exception blocks
(object kind and reason), and each severity has an SLA from first seen.
"""

from __future__ import annotations

import datetime

from .models import Severity

SLA = {
    Severity.CRITICAL: datetime.timedelta(hours=4),
    Severity.HIGH: datetime.timedelta(hours=24),
    Severity.NORMAL: datetime.timedelta(days=3),
    Severity.LOW: datetime.timedelta(days=7),
}
RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.NORMAL: 2, Severity.LOW: 3}

# (object_kind, reason_code) -> severity; "*" matches any. Most specific wins.
RULES: dict[tuple[str, str], str] = {
    ("*", "reauthorization_required"): Severity.CRITICAL,
    ("*", "lwa_secret_expired"): Severity.CRITICAL,
    ("*", "auth_failed"): Severity.CRITICAL,
    ("shipment", "*"): Severity.CRITICAL,
    ("flow", "flow_failed"): Severity.HIGH,
    ("order", "*"): Severity.HIGH,
    ("order_line", "*"): Severity.HIGH,
    ("settlement", "*"): Severity.HIGH,
    ("settlement_line", "*"): Severity.HIGH,
    ("journal_batch", "*"): Severity.HIGH,
    ("return", "*"): Severity.NORMAL,
    ("listing", "*"): Severity.NORMAL,
    ("inventory", "*"): Severity.NORMAL,
    ("inbound_shipment", "*"): Severity.NORMAL,
    ("price", "*"): Severity.LOW,
    ("listing_price", "*"): Severity.LOW,
}


def classify(object_kind: str, reason_code: str) -> str:
    for key in ((object_kind, reason_code), ("*", reason_code), (object_kind, "*")):
        if key in RULES:
            return RULES[key]
    return Severity.NORMAL


def due(severity: str, first_seen: datetime.datetime) -> datetime.datetime:
    return first_seen + SLA[severity]
