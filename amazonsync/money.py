"""Money helpers: Decimal amounts next to ISO currency codes, rounded per currency."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

# Minor units per ISO 4217 for the currencies Amazon marketplaces settle in.
CURRENCY_DECIMALS: dict[str, int] = {
    "JPY": 0,
    "KRW": 0,
    "CLP": 0,
    "VND": 0,
    "ISK": 0,
    "HUF": 2,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
}
DEFAULT_DECIMALS = 2


def decimals(currency: str) -> int:
    return CURRENCY_DECIMALS.get((currency or "").upper(), DEFAULT_DECIMALS)


@lru_cache(maxsize=64)
def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-decimals(currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round an amount to its currency's minor unit, half up (Amazon's convention)."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def fmt(amount: Decimal, currency: str) -> str:
    return f"{quantize(amount, currency):f}"


def display(amount: Decimal | None, currency: str, *, empty: str = "—") -> str:
    """The one way money is shown to people: the currency's own places, thousands
    separators, a leading minus, and the ISO code after it (``-1,234.50 USD``, ``1,500 JPY``).
    ``None`` shows as ``empty``; an amount without a currency shows without a code."""
    if amount is None:
        return empty
    if not currency:
        return f"{amount:,f}"
    places = decimals(currency)
    return f"{quantize(Decimal(amount), currency):,.{places}f} {currency.upper()}"
