"""Money helpers: Decimal amounts next to ISO currency codes, rounded per currency."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

# ISO 4217 currencies in use, with their minor units (fund, metal and test codes left out:
# nobody is paid in them). The one list of what a currency code may be and of how many
# places it has (a code not in the list has DEFAULT_DECIMALS).
ISO_4217: dict[str, int] = {
    **dict.fromkeys((
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN "
        "BWP BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD "
        "FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR "
        "KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN "
        "MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD "
        "SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD "
        "TZS UAH USD UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
    ).split(), 2),
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}
DEFAULT_DECIMALS = 2


def decimals(currency: str) -> int:
    """Minor units of an ISO currency (:data:`DEFAULT_DECIMALS` for a code not in the list)."""
    return ISO_4217.get((currency or "").upper(), DEFAULT_DECIMALS)


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
    ``None`` shows as ``empty``; an amount without a currency shows without a code, with
    :data:`DEFAULT_DECIMALS` places unless that would lose a digit (``12.9900`` -> ``12.99``,
    ``0.125`` stays)."""
    if amount is None:
        return empty
    if not currency:
        amount = Decimal(amount)
        short = amount.quantize(quantum(""), rounding=ROUND_HALF_UP)
        return f"{short if short == amount else amount.normalize():,f}"
    places = decimals(currency)
    return f"{quantize(Decimal(amount), currency):,.{places}f} {currency.upper()}"
