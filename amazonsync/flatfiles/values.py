"""Values read from Amazon flat files: validation at the edge (what this back office
accepts), one place per kind, on top of :mod:`.syntax` (how each marketplace writes amounts
and dates).

Every parser (all-orders, FBA and MFN returns, V2 settlements) turns the text of a cell
into a typed value through the functions here, so a value is accepted or refused the same
way wherever it appears:

* **money** :func:`parse_money`: the currency's minor units (JPY ``4.99`` is refused; more
  decimals than the currency has are refused, never rounded), a sane magnitude
  (:data:`MAX_AMOUNT`; sums are checked against the database column with
  :func:`check_money_total`), no exponent forms (``1.2e23``).
* **quantities** :func:`parse_quantity`: plain whole numbers within bounds the caller
  gives (never ``1,000`` read as 1, never 99999999999).
* **ids and codes**: :func:`parse_order_id` (Amazon's 3-7-7), :func:`parse_settlement_id`
  (digits, at most 20), :func:`parse_sku` (at most 40 characters, as Amazon allows),
  :func:`parse_asin`, :func:`parse_fnsku`, :func:`parse_country`, and
  :func:`parse_currency` (ISO 4217, from :data:`amazonsync.money.ISO_4217`, the one
  table of currencies and their places).
* **dates** :func:`parse_datetime_in` / :func:`parse_date_in`: within a
  :class:`DateWindow` around the report's period or today (year 1 or 9999 is refused; an
  order last updated in the far future would never update again).
* **text** :func:`parse_text`: at most the column's width, refused with the limit in the
  message, never cut to fit.

Each function takes the text of one cell (stripped) and returns the typed value or raises
:class:`ValueRefused` (a ``ValueError``) saying what is wrong and what is allowed. The caller
adds where: ``amazonsync.flatfiles.rows.typed`` turns it into a ``ReportFormatError`` naming the
file, the line and the column. Nothing here imports an app or a model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from amazonsync.money import ISO_4217, decimals

from .syntax import parse_amazon_date, parse_amazon_datetime, parse_amount

__all__ = [
    "ValueRefused",
    "MAX_AMOUNT",
    "MAX_TOTAL",
    "MAX_QUANTITY",
    "SKU_MAX",
    "DateWindow",
    "shown",
    "parse_money",
    "CURRENCY_SYMBOLS",
    "check_money_total",
    "parse_quantity",
    "parse_currency",
    "parse_order_id",
    "parse_settlement_id",
    "parse_sku",
    "parse_asin",
    "parse_fnsku",
    "parse_country",
    "parse_text",
    "parse_datetime_in",
    "parse_date_in",
    "window_until_now",
]


class ValueRefused(ValueError):
    """A value this back office does not store: the message says why and what is allowed."""


def shown(text: str, limit: int = 40) -> str:
    """``text`` quoted for a message, cut (and saying so) when long: a refusal never
    copies a 1 MB value into an exception."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"


# --------------------------------------------------------------------------- currencies


def parse_currency(text: str) -> str:
    """An ISO 4217 code in use (upper-cased: ``eur`` is EUR)."""
    code = text.strip().upper()
    if not (len(code) == 3 and code.isascii() and code.isalpha()):
        raise ValueRefused(f"not an ISO 4217 currency code: {shown(text)} (three letters)")
    if code not in ISO_4217:
        raise ValueRefused(f"unknown currency code {shown(code)} (not in ISO 4217)")
    return code


# --------------------------------------------------------------------------- money

# The largest amount one cell may hold: no Amazon line, order or settlement comes near a
# trillion in any currency; anything beyond is a broken file, refused before it reaches
# the database (whose money columns hold 14 integer digits, see MAX_TOTAL).
MAX_AMOUNT = Decimal(10) ** 12
# The money columns (max_digits=18, decimal_places=4) hold less than 10**14; a sum (an order
# total, a settlement's sum of lines, a journal line) must stay under a tenth of that, so
# that the difference of two of them (a drift) fits too.
MAX_TOTAL = Decimal(10) ** 13
_EXPONENT = re.compile(r"\d[eE][+-]?\d")
_NOT_A_NUMBER = re.compile(r"inf|nan", re.I)
_PLAIN_MONEY = re.compile(r"-?\d{1,12}(?:\.(\d+))?")


def parse_money(text: str, *, currency: str) -> Decimal:
    """An amount in ``currency``, as Amazon writes it in any marketplace (see
    :func:`parse_amount`), exactly as written.

    A currency symbol or code written with the amount (``¥1,500``, ``£12.00``,
    ``12,50 €``, ``US$5``, ``1,500 JPY``) is accepted when it agrees with ``currency``
    (:data:`CURRENCY_SYMBOLS`) and refused when it does not (``£`` in EUR) or, without a
    currency, when it stands for several (``$``).

    Refused: exponent forms (``1.2e23``), ``NaN``/``Infinity``, more decimals than the
    currency's minor units (JPY ``4.99``, USD ``1.2345678901``; trailing zeros are exact and
    accepted: JPY ``500.00`` is 500), and magnitudes of :data:`MAX_AMOUNT` or more.
    """
    places = decimals(currency)
    plain = _PLAIN_MONEY.fullmatch(text)
    if plain is not None and len(plain.group(1) or "") <= places:
        return Decimal(text)  # the usual case: -12.34 (under MAX_AMOUNT by its shape)
    if _NOT_A_NUMBER.search(text):
        raise ValueRefused(f"not an amount: {shown(text)}")
    if _EXPONENT.search(text):
        raise ValueRefused(f"not a plain amount: {shown(text)} (no exponent forms)")
    value = parse_amount(_without_currency(text, currency), places=places)
    written = -value.as_tuple().exponent  # type: ignore[operator]
    if written > places:
        exact = max(0, -value.normalize().as_tuple().exponent)  # type: ignore[operator]
        if exact > places:
            raise ValueRefused(
                f"{shown(text)} has {exact} decimals but {currency or 'the currency'} "
                f"has {places}: refused, not rounded"
            )
        value = value.quantize(Decimal(1).scaleb(-places))  # exact: only zeros dropped
    if abs(value) >= MAX_AMOUNT:
        raise ValueRefused(
            f"amount {shown(text)} is out of range (at most {MAX_AMOUNT - 1:,} either way)"
        )
    return value


# What a currency symbol written with an amount may stand for (an ISO code stands for
# itself). A symbol must agree with the currency the amount is in; one that stands for
# several (``$``) is only accepted when that currency is known.
_DOLLARS = frozenset({"USD", "CAD", "MXN", "AUD", "SGD", "NZD", "HKD"})
CURRENCY_SYMBOLS: dict[str, frozenset[str]] = {
    "¥": frozenset({"JPY", "CNY"}), "￥": frozenset({"JPY", "CNY"}), "円": frozenset({"JPY"}),
    "£": frozenset({"GBP"}), "€": frozenset({"EUR"}), "$": _DOLLARS, "＄": _DOLLARS,
    "US$": frozenset({"USD"}), "CA$": frozenset({"CAD"}), "C$": frozenset({"CAD"}),
    "CDN$": frozenset({"CAD"}), "MX$": frozenset({"MXN"}), "R$": frozenset({"BRL"}),
    "A$": frozenset({"AUD"}), "AU$": frozenset({"AUD"}), "S$": frozenset({"SGD"}),
    "₹": frozenset({"INR"}), "Rs": frozenset({"INR"}), "zł": frozenset({"PLN"}),
    "kr": frozenset({"SEK", "NOK", "DKK"}), "₺": frozenset({"TRY"}), "TL": frozenset({"TRY"}),
    "E£": frozenset({"EGP"}), "R": frozenset({"ZAR"}),
}
_MARKER = re.compile(r"[^\d\s.,()+\-'’\u00a0\u202f]+")
_EDGE = " ()+-\u00a0\u202f"


def _marker_currencies(marker: str) -> frozenset[str] | None:
    found = CURRENCY_SYMBOLS.get(marker)
    if found is None and len(marker) == 3 and marker.upper() in ISO_4217:
        found = frozenset({marker.upper()})
    return found


def _without_currency(text: str, currency: str) -> str:
    """``text`` without the currency symbol or code written with it (``£12.00``,
    ``12,50 €``, ``JPY 1,500``), which must agree with ``currency``."""
    marker = _MARKER.search(text)
    if marker is None:
        return text
    before, after = text[:marker.start()], text[marker.end():]
    symbol = marker.group()
    if symbol == "Rs" and after.startswith("."):
        after = after[1:]
    stands_for = _marker_currencies(symbol)
    if (_MARKER.search(after) or stands_for is None
            or before.strip(_EDGE) and after.strip(_EDGE)):
        raise ValueRefused(f"not an amount: {shown(text)}")
    code = (currency or "").upper()
    if code and code not in stands_for:
        raise ValueRefused(
            f"{shown(text)} is written in {' or '.join(sorted(stands_for))} but the amount "
            f"is in {code}: refused"
        )
    if not code and len(stands_for) > 1:
        raise ValueRefused(
            f"{shown(text)}: {symbol!r} may be {' or '.join(sorted(stands_for))} and the "
            "currency is not known"
        )
    return before + after


def check_money_total(value: Decimal, *, what: str = "total") -> Decimal:
    """A sum of parsed amounts (an order total, a settlement's sum of lines) that the
    database's money columns can hold, with room for a difference of two such sums."""
    if abs(value) >= MAX_TOTAL:
        raise ValueRefused(
            f"the {what} {value} is out of range (sums must stay under {MAX_TOTAL:,} "
            "either way)"
        )
    return value


# --------------------------------------------------------------------------- quantities

# More units than any order line, return or settlement line carries; well inside the
# database's integer columns.
MAX_QUANTITY = 1_000_000
_WHOLE = re.compile(r"[+-]?\d{1,12}")


def parse_quantity(text: str, *, minimum: int = 0, maximum: int = MAX_QUANTITY) -> int:
    """A plain whole number (``12``; ``+12``; ``-3`` only when ``minimum`` allows it)
    within ``[minimum, maximum]``. ``1,000`` or ``2.5`` are refused rather than read."""
    s = text.strip()
    if not _WHOLE.fullmatch(s):
        if re.fullmatch(r"[+-]?\d+", s):
            raise ValueRefused(f"quantity {shown(s)} is out of range "
                               f"({minimum:,} to {maximum:,})")
        raise ValueRefused(f"not a whole number: {shown(s)}")
    value = int(s)
    if value < minimum or value > maximum:
        raise ValueRefused(f"quantity {value:,} is out of range ({minimum:,} to {maximum:,})")
    return value


# --------------------------------------------------------------------------- ids and codes

_ORDER_ID = re.compile(r"[0-9A-Z]{3}-\d{7}-\d{7}")
_SETTLEMENT_ID = re.compile(r"\d{1,20}")
_ASIN = re.compile(r"[0-9A-Z]{10}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Amazon accepts seller SKUs of up to 40 characters.
SKU_MAX = 40


def parse_order_id(text: str) -> str:
    """An Amazon order id: 3-7-7 (``111-1234567-1234567``; digital orders ``D01-...``)."""
    if not _ORDER_ID.fullmatch(text):
        raise ValueRefused(
            f"not an Amazon order id: {shown(text)} (expected 3-7-7 like 111-1234567-1234567)"
        )
    return text


def parse_settlement_id(text: str) -> str:
    """A settlement id: digits, at most 20 of them."""
    if not _SETTLEMENT_ID.fullmatch(text):
        raise ValueRefused(f"not a settlement id: {shown(text)} (1 to 20 digits)")
    return text


def parse_sku(text: str) -> str:
    """A seller SKU: 1 to :data:`SKU_MAX` characters, no control characters."""
    if not text:
        raise ValueRefused("a SKU is required")
    if len(text) > SKU_MAX:
        raise ValueRefused(
            f"SKU {shown(text)} is {len(text):,} characters long; Amazon allows {SKU_MAX}"
        )
    if _CONTROL.search(text):
        raise ValueRefused(f"SKU {shown(text)} contains control characters")
    return text


def parse_asin(text: str) -> str:
    """An ASIN: ten upper-case letters or digits."""
    if not _ASIN.fullmatch(text):
        raise ValueRefused(f"not an ASIN: {shown(text)} (ten letters or digits)")
    return text


def parse_fnsku(text: str) -> str:
    """An FNSKU (Amazon's fulfilment label): ten upper-case letters or digits."""
    if not _ASIN.fullmatch(text):
        raise ValueRefused(f"not an FNSKU: {shown(text)} (ten letters or digits)")
    return text


def parse_country(text: str) -> str:
    """An ISO 3166 alpha-2 country code (``US``), never cut down from a longer value."""
    if not _COUNTRY.fullmatch(text):
        raise ValueRefused(f"not a two-letter country code: {shown(text)}")
    return text


# --------------------------------------------------------------------------- text


def parse_text(text: str, *, max_length: int) -> str:
    """Free text of at most ``max_length`` characters (the column's width): a longer value
    is refused with the limit in the message, never cut to fit."""
    if len(text) > max_length:
        raise ValueRefused(
            f"{len(text):,} characters, more than the {max_length:,} this column holds "
            f"({shown(text)}): refused, not cut"
        )
    return text


# --------------------------------------------------------------------------- dates

# No Amazon report is older than this.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# How far ahead of now a stamp may be (clock skew, a report written in a zone ahead).
FUTURE_SLACK = timedelta(days=2)
_DATE_TEXT_MAX = 64


@dataclass(frozen=True, slots=True)
class DateWindow:
    """The instants a date of a report may fall in (both ends included)."""

    earliest: datetime
    latest: datetime
    why: str = ""  # e.g. "the settlement's period", for the message

    def check(self, value: datetime | date, text: str) -> None:
        if isinstance(value, datetime):
            ok = self.earliest <= value <= self.latest
        else:
            ok = self.earliest.date() <= value <= self.latest.date()
        if not ok:
            why = f" ({self.why})" if self.why else ""
            raise ValueRefused(
                f"date {shown(text)} is outside {self.earliest:%Y-%m-%d} to "
                f"{self.latest:%Y-%m-%d}{why}"
            )


def window_until_now(now: datetime | None = None, *, earliest: datetime = EARLIEST,
                     slack: timedelta = FUTURE_SLACK) -> DateWindow:
    """From ``earliest`` (2000-01-01) to ``now`` plus a little slack: for dates that
    cannot be in the future (purchases, updates, returns)."""
    if now is None:
        now = datetime.now(UTC)
    return DateWindow(earliest, now + slack, "not in the future")


def _date_text(text: str) -> str:
    if len(text) > _DATE_TEXT_MAX:
        raise ValueRefused(f"not a date: {shown(text)}")
    return text


def parse_datetime_in(text: str, window: DateWindow, *, dayfirst: bool | None = True
                      ) -> datetime:
    """:func:`parse_amazon_datetime`, refused outside ``window``; ``dayfirst=None`` when
    the order of day and month is not known (an ambiguous numeric date is refused)."""
    value = parse_amazon_datetime(_date_text(text), dayfirst=dayfirst)
    window.check(value, text)
    return value


def parse_date_in(text: str, window: DateWindow, *, dayfirst: bool | None = True) -> date:
    """:func:`parse_amazon_date`, refused outside ``window`` (``dayfirst`` as above)."""
    value = parse_amazon_date(_date_text(text), dayfirst=dayfirst)
    window.check(value, text)
    return value
