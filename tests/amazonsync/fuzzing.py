"""Hypothesis strategies shared by the report fuzz tests (all-orders, FBA and MFN returns, V2
settlements): a valid cell is generated as its typed value *and* the text Amazon would write
for it (in any marketplace's style), so the test knows what must be stored; an invalid cell
is one the parsers must refuse, naming its line and column.

``FuzzBudget`` counts the generated rows so that a test can assert how many it checked.
The default suite runs each property with a fixed seed (``derandomize``) and a few thousand
rows; ``make bench`` runs the same properties with many more (tests/benchmarks).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

UTC = datetime.UTC
# "Now" for generated dates, fixed when the tests start (generation must not depend on the
# clock: hypothesis replays examples).
NOW = datetime.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

# The currencies the generated files use (0, 2 and 3 minor units).
CURRENCIES = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KWD": 3, "INR": 2}


def fuzz_settings(examples: int, *, bench: bool = False) -> settings:
    """Settings for one fuzz property: no deadline (database work), no example database
    written to the working tree, a fixed seed in the default suite."""
    return settings(
        max_examples=examples, deadline=None, database=None, derandomize=not bench,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large, HealthCheck.large_base_example],
        print_blob=True,
    )


def scale(default: int, variable: str) -> int:
    """``default``, or the value of the environment variable (benchmarks)."""
    return int(os.environ.get(variable, default))


@dataclass
class FuzzBudget:
    rows: int = 0
    invalid: int = 0
    examples: int = 0


# --------------------------------------------------------------------------- money
# (Strategies are built once: building one per draw costs more than the draw.)

_INTS: dict[tuple[int, int], st.SearchStrategy[int]] = {}


def ints(low: int, high: int) -> st.SearchStrategy[int]:
    key = (low, high)
    if key not in _INTS:
        _INTS[key] = st.integers(low, high)
    return _INTS[key]


def draw_amount(draw, currency: str, *, low: int = -50_000, high: int = 50_000,
                thousands: bool = True) -> tuple[Decimal, str]:
    """(value, text) with the currency's places, written as some marketplace writes it."""
    places = CURRENCIES[currency]
    value = Decimal(draw(ints(low * 10**places, high * 10**places))).scaleb(-places)
    styles = amount_styles(value, places, thousands=thousands)
    text = styles[draw(ints(0, 3)) % len(styles)]
    marked = draw(ints(0, 5))  # now and then with the currency written on it
    if marked < len(CURRENCY_MARKS[currency]):
        text = CURRENCY_MARKS[currency][marked].format(text)
    return value, text


# How Seller Central pages and spreadsheets write the currency next to an amount.
CURRENCY_MARKS = {
    "USD": ("${}", "US${}"), "EUR": ("{} €", "€{}"), "GBP": ("£{}", "GBP {}"),
    "JPY": ("¥{}", "￥{}", "{}円"), "KWD": ("KWD {}",), "INR": ("₹{}", "{} INR"),
}


def amount_styles(value: Decimal, places: int, *, thousands: bool = True) -> list[str]:
    sign = "-" if value < 0 else ""
    digits = f"{abs(value):.{places}f}"
    integer, _, fraction = digits.partition(".")
    grouped = f"{int(integer):,}"
    styles = [f"{sign}{digits}"]
    if places == 2:
        styles.append(f"{sign}{integer},{fraction}")  # 12,50 (DE)
        if thousands:
            styles.append(f"{sign}{grouped}.{fraction}")  # 1,234.50 (US)
            styles.append(f"{sign}{grouped.replace(',', '.')},{fraction}")  # 1.234,50 (DE)
    elif places == 0 and thousands and abs(value) >= 1000:
        styles.append(f"{sign}{grouped}")  # 1,234 JPY
    return styles


# --------------------------------------------------------------------------- dates

_START = datetime.datetime(2015, 1, 1, tzinfo=UTC)


def draw_instant(draw, *, start: datetime.datetime = _START,
                 end: datetime.datetime | None = None) -> datetime.datetime:
    """A whole-second UTC instant (what the reports carry), before ``end`` (default: an
    hour before NOW)."""
    end = end or NOW - datetime.timedelta(hours=1)
    span = int((end - start).total_seconds())
    return start + datetime.timedelta(seconds=draw(ints(0, span)))


_OFFSETS = (0, 60, 120, 330, 540, -300, -480)


def draw_instant_text(draw, value: datetime.datetime) -> str:
    """``value`` as one of the ways Amazon writes a time, in some zone."""
    offset = _OFFSETS[draw(ints(0, len(_OFFSETS) - 1))]
    local = value.astimezone(datetime.timezone(datetime.timedelta(minutes=offset)))
    style = draw(ints(0, 3))
    if style == 1 and offset == 0:
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if style == 2 and offset == 60:
        return local.strftime("%d.%m.%Y %H:%M:%S CET")
    if style == 3 and offset == 0:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return local.isoformat()


def draw_day_text(draw, value: datetime.date) -> str:
    style = draw(ints(0, 4))
    if style == 3:  # Amazon.co.jp
        return f"{value.year}年{value.month}月{value.day}日"
    if style == 4 and value.day > 12:  # unambiguous whatever the marketplace
        return value.strftime("%d/%m/%Y")
    return value.isoformat() if style % 2 else value.strftime("%d.%m.%Y")


# --------------------------------------------------------------------------- text and codes

_TEXT_ALPHABET = st.characters(
    codec="utf-8",
    exclude_categories=("Cc", "Cs", "Zl", "Zp", "Zs", "Co", "Cn"),
    exclude_characters="\"\x85\ufeff",
) | st.just(" ")
_TEXTS: dict[int, st.SearchStrategy[str]] = {}


def texts(max_size: int) -> st.SearchStrategy[str]:
    """Free text as a report cell holds it: no tab, line break or quote; no surrounding
    whitespace (the reader strips it); any script."""
    if max_size not in _TEXTS:
        _TEXTS[max_size] = st.text(_TEXT_ALPHABET, max_size=max_size).map(str.strip)
    return _TEXTS[max_size]


SKUS = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.",
               min_size=1, max_size=40)
ASINS = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=10, max_size=10)
ORDER_IDS = st.tuples(
    st.sampled_from(["111", "112", "113", "114", "171", "302", "028", "503", "249", "D01"]),
    st.integers(0, 9_999_999), st.integers(0, 9_999_999),
).map(lambda t: f"{t[0]}-{t[1]:07d}-{t[2]:07d}")


def pick(draw, options):
    """One of ``options`` (a sequence), cheaply."""
    return options[draw(ints(0, len(options) - 1))]


# Values every parser must refuse, per kind (the test knows which column it put them in).
BAD_AMOUNTS = ["4.9999", "1.2e23", "1E5", "NaN", "Infinity", "123456789012345",
               "1.2345678901", "12..5", "abc", "1,2,3"]
BAD_JPY = ["4.99", "0.5"]
BAD_QUANTITIES = ["-5", "99999999999", "1.5", "1,000", "two", "1e3"]
BAD_ORDER_IDS = ["1" * 40, "111-1234567", "111-12345678-1234567", "abc-1234567-1234567"]
BAD_CURRENCIES = ["EURO", "US", "ABC", "€", "U$D"]
BAD_DATES = ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00", "2024-13-45",
             "1999-12-31T00:00:00+00:00", "not a date", "2024-02-30"]
BAD_SKUS = ["S" * 41, "X" * 100]
BAD_ASINS = ["B0123", "b000000001", "B00000000012"]
