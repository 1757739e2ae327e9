"""Money and time helpers for the sandbox: Decimal only, per-currency rounding, UTC stamps."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from amazonsync.money import quantize

ZERO = Decimal(0)
__all__ = ["ZERO", "quantize", "fmt_amount", "money_v0", "money_lower"]


def fmt_amount(amount: Decimal, currency: str) -> str:
    """Amazon's money string: fixed point, the currency's places, no exponent."""
    value = quantize(amount, currency)
    if value == 0:
        value = abs(value)
    return format(value, "f")


def money_v0(amount: Decimal, currency: str) -> dict:
    """Orders v0 ``Money``: ``{"CurrencyCode", "Amount"}`` with string amounts."""
    return {"CurrencyCode": currency, "Amount": fmt_amount(amount, currency)}


def money_lower(amount: Decimal, currency: str) -> dict:
    """``Money`` as the 2021+ APIs spell it: ``{"amount", "currencyCode"}``."""
    return {"amount": fmt_amount(amount, currency), "currencyCode": currency}


def parse_time(value: str) -> int:
    """ISO 8601 (``Z``, offsets, fractions, date only) to epoch seconds; naive means UTC."""
    text = value.strip()
    if not text:
        raise ValueError("empty date-time")
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def iso_z(ts: int) -> str:
    """Orders API style: ``2026-11-01T00:00:00Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_offset(ts: int) -> str:
    """Reports/feeds/settlement style: ``2026-11-01T00:00:00+00:00``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def iso_date(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
