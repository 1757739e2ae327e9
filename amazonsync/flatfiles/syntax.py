"""How Amazon writes amounts and dates in each marketplace: text in, ``Decimal`` or
``datetime`` out, ``ValueError`` for anything else. What this back office accepts of them
(places, magnitudes, windows) is :mod:`amazonsync.flatfiles.values`, which every parser
goes through."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache

__all__ = ["parse_amount", "parse_int", "parse_amazon_datetime", "parse_amazon_date",
           "AmbiguousDate"]


# --------------------------------------------------------------------------- numbers (syntax)

_PLAIN_AMOUNT = re.compile(r"[+-]?\d+(?:\.\d+)?")
_THOUSANDS_SPACES = str.maketrans("", "", " \u00a0\u202f'’")


def parse_amount(text: str, *, places: int | None = None) -> Decimal:
    """Parse an amount as Amazon writes it in any marketplace.

    ``1234.56``, ``-1234,56``, ``1.234,56``, ``1,234.56``, ``1 234,56``, ``1'234.56``,
    ``(12.00)``, ``12.00-``. With a single separator followed by exactly three digits the
    separator is read as a thousands separator when ``places`` (the currency's minor
    units) says three decimals are impossible (``1.234`` JPY is 1234), else as a decimal
    separator. Raises ``ValueError`` on anything else.
    """
    s = text.strip()
    if _PLAIN_AMOUNT.fullmatch(s) and not (places is not None and places != 3 and _three(s)):
        return Decimal(s)
    return _parse_amount_slow(s, places)


def _three(s: str) -> bool:
    dot = s.find(".")
    return dot >= 0 and len(s) - dot - 1 == 3


def _parse_amount_slow(s: str, places: int | None) -> Decimal:
    original = s
    if not s:
        raise ValueError("empty amount")
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1].strip()
    if s.endswith("-"):
        negative, s = not negative, s[:-1].strip()
    if s[:1] in "+-":
        negative, s = (not negative if s[0] == "-" else negative), s[1:].strip()
    s = s.translate(_THOUSANDS_SPACES)
    if not s or not re.fullmatch(r"[\d.,]+", s) or not s[0].isdigit() and s[0] not in ".,":
        raise ValueError(f"not a number: {original!r}")
    last_dot, last_comma = s.rfind("."), s.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        decimal_sep = "." if last_dot > last_comma else ","
        thousands = "," if decimal_sep == "." else "."
        integer, _, fraction = s.rpartition(decimal_sep)
        if decimal_sep in integer:
            raise ValueError(f"not a number: {original!r}")
        _check_groups(integer, thousands, original)
        s = integer.replace(thousands, "") + "." + fraction
    elif last_dot >= 0 or last_comma >= 0:
        sep = "." if last_dot >= 0 else ","
        count = s.count(sep)
        integer, _, fraction = s.rpartition(sep)
        if count > 1:
            _check_groups(s, sep, original)
            s = s.replace(sep, "")
        elif len(fraction) == 3 and places is not None and places != 3 and integer:
            _check_groups(s, sep, original)
            s = s.replace(sep, "")
        else:
            s = (integer or "0") + "." + fraction
    if not re.fullmatch(r"\d+(?:\.\d+)?", s):
        raise ValueError(f"not a number: {original!r}")
    value = Decimal(s)
    return -value if negative else value


def _check_groups(text: str, sep: str, original: str) -> None:
    groups = text.split(sep)
    if not groups[0] or len(groups[0]) > 3 or any(len(g) != 3 for g in groups[1:]):
        raise ValueError(f"misplaced thousands separator in {original!r}")


def parse_int(text: str) -> int:
    s = text.strip()
    try:
        return int(s)
    except ValueError:
        value = parse_amount(s)
        if value != value.to_integral_value():
            raise ValueError(f"not a whole number: {text!r}") from None
        return int(value)


# --------------------------------------------------------------------------- dates (syntax)

_TZ_ABBREVIATIONS = {
    "UTC": 0,
    "GMT": 0,
    "UT": 0,
    "Z": 0,
    "WET": 0,
    "BST": 60,
    "IST": 330,
    "CET": 60,
    "CEST": 120,
    "MEZ": 60,
    "MESZ": 120,
    "EET": 120,
    "EEST": 180,
    "TRT": 180,
    "MSK": 180,
    "GST": 240,
    "PKT": 300,
    "SGT": 480,
    "AWST": 480,
    "JST": 540,
    "KST": 540,
    "AEST": 600,
    "AEDT": 660,
    "NZST": 720,
    "NZDT": 780,
    "BRT": -180,
    "ART": -180,
    "EST": -300,
    "EDT": -240,
    "CST": -360,
    "CDT": -300,
    "MST": -420,
    "MDT": -360,
    "PST": -480,
    "PDT": -420,
    "AKST": -540,
    "AKDT": -480,
    "HST": -600,
}

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "januar", "janvier", "gen", "ene", "jän"),
            ("feb", "februar", "fev", "fév", "febr"),
            ("mar", "mär", "märz", "mars", "marzo"),
            ("apr", "avr", "abr"),
            ("may", "mai", "mag", "mayo"),
            ("jun", "juni", "juin", "giu"),
            ("jul", "juli", "juil", "lug"),
            ("aug", "août", "aou", "ago"),
            ("sep", "sept", "set"),
            ("oct", "okt", "ott"),
            ("nov",),
            ("dec", "dez", "déc", "dic"),
        ]
    )
    for m in names
}

_NUMERIC_DATE = re.compile(
    r"""^\s*
    (?:
        (?P<y1>\d{4})(?P<s1>[-/.])(?P<m1>\d{1,2})(?P=s1)(?P<d1>\d{1,2})
      | (?P<a>\d{1,2})(?P<s2>[-/.])(?P<b>\d{1,2})(?P=s2)(?P<y2>\d{4}|\d{2})
    )
    (?:(?:T|\s+)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d+))?)?
       \s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?
    \s*(?P<tz>Z|[+-]\d{2}(?::?\d{2})?|[A-Za-z]{1,5}(?:\s*[+-]\d{1,2}(?::?\d{2})?)?)?
    \s*$""",
    re.X,
)

_NAMED_MONTH_DATE = re.compile(
    r"""^\s*
    (?:
        (?P<mon1>[^\W\d_]{3,9})\.?\s+(?P<d1>\d{1,2}),?\s+(?P<y1>\d{4})
      | (?P<d2>\d{1,2})[-\s.]+(?P<mon2>[^\W\d_]{3,9})\.?[-\s,]+(?P<y2>\d{4})
    )
    (?:,?\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?
    \s*(?P<tz>Z|[+-]\d{2}(?::?\d{2})?|[A-Za-z]{1,5}(?:\s*[+-]\d{1,2}(?::?\d{2})?)?)?
    \s*$""",
    re.X,
)


# 2019年3月15日, 2019年3月15日(金) 10:20:30, as Amazon.co.jp writes dates in Japanese.
_JAPANESE_DATE = re.compile(
    r"""^\s*(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日
    (?:\s*[(（][^)）]{1,3}[)）])?
    (?:\s*(?P<H>\d{1,2})[:：](?P<M>\d{2})(?:[:：](?P<S>\d{2}))?)?
    \s*(?P<tz>Z|[+-]\d{2}(?::?\d{2})?|[A-Za-z]{1,5}(?:\s*[+-]\d{1,2}(?::?\d{2})?)?)?
    \s*$""",
    re.X,
)


class AmbiguousDate(ValueError):
    """A numeric date whose order of day and month the file does not settle."""


def _tz_offset(tz: str | None) -> timezone | None:
    if not tz:
        return None
    tz = tz.strip()
    m = re.fullmatch(r"([A-Za-z]*)\s*(?:([+-])(\d{1,2})(?::?(\d{2}))?)?", tz)
    if not m:
        raise ValueError(f"unknown time zone {tz!r}")
    name, sign, hours, minutes = m.groups()
    offset = 0
    if name:
        if name.upper() not in _TZ_ABBREVIATIONS:
            raise ValueError(f"unknown time zone {tz!r}")
        offset = _TZ_ABBREVIATIONS[name.upper()]
    if sign:
        delta = int(hours) * 60 + int(minutes or 0)
        offset += delta if sign == "+" else -delta
    return UTC if offset == 0 else timezone(timedelta(minutes=offset))


def _build(y, mo, d, H, M, S, f, ampm) -> datetime:
    hour = int(H) if H else 0
    if ampm:
        pm = ampm.lower().startswith("p")
        if not 1 <= hour <= 12:
            raise ValueError("hour out of range for AM/PM")
        hour = hour % 12 + (12 if pm else 0)
    micro = int((f or "0")[:6].ljust(6, "0")) if f else 0
    return datetime(int(y), int(mo), int(d), hour, int(M or 0), int(S or 0), micro)


def _day_month(a: int, b: int, sep: str, dayfirst: bool | None, text: str) -> tuple[int, int]:
    if sep == "." or sep == "-" or a > 12 or a == b:
        return a, b  # 15.01.2024, 15-01-2024: always day first; 13/01; 05/05
    if b > 12:
        return b, a
    if dayfirst is None:
        raise AmbiguousDate(
            f"ambiguous date {text!r}: it may be day/month or month/day, and neither the "
            "row's marketplace nor the file's settles which; refused, not guessed"
        )
    return (a, b) if dayfirst else (b, a)


@lru_cache(maxsize=4096)
def _parse_datetime_parts(text: str, dayfirst: bool | None
                          ) -> tuple[datetime, timezone | None, bool, bool]:
    """Return (naive datetime, tz or None, has_time, two-digit year)."""
    m = _NUMERIC_DATE.match(text)
    if m:
        g = m.groupdict()
        short = False
        if g["y1"]:
            y, mo, d = g["y1"], g["m1"], g["d1"]
        else:
            d, mo = _day_month(int(g["a"]), int(g["b"]), g["s2"], dayfirst, text)
            y = g["y2"]
            if len(y) == 2:  # re-saved by Excel: 09/06/25
                y, short = f"20{y}", True
        naive = _build(y, mo, d, g["H"], g["M"], g["S"], g["f"], g["ampm"])
        return naive, _tz_offset(g["tz"]), g["H"] is not None, short
    m = _JAPANESE_DATE.match(text)
    if m:
        g = m.groupdict()
        naive = _build(g["y"], g["m"], g["d"], g["H"], g["M"], g["S"], None, None)
        return naive, _tz_offset(g["tz"]), g["H"] is not None, False
    m = _NAMED_MONTH_DATE.match(text)
    if m:
        g = m.groupdict()
        mon = (g["mon1"] or g["mon2"]).lower().rstrip(".")
        month = _MONTHS.get(mon) or _MONTHS.get(mon[:3])
        if not month:
            raise ValueError(f"unknown month name in {text!r}")
        naive = _build(
            g["y1"] or g["y2"], month, g["d1"] or g["d2"], g["H"], g["M"], g["S"], None, g["ampm"]
        )
        return naive, _tz_offset(g["tz"]), g["H"] is not None, False
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date: {text!r}") from None
    return parsed.replace(tzinfo=None), parsed.tzinfo, True, False  # type: ignore[return-value]


def _check_short_year(value: date, text: str) -> None:
    """A two-digit year is 20YY, refused when that lands more than a year ahead of now
    (``09/06/75`` is not 2075, and 1975 would be a guess)."""
    today = datetime.now(UTC).date()
    if value > today.replace(year=today.year + 1, day=min(today.day, 28)):
        raise ValueError(
            f"two-digit year in {text!r} would be {value.year}, more than a year ahead: "
            "write the year in full"
        )


def parse_amazon_datetime(text: str, *, dayfirst: bool | None = True) -> datetime:
    """Parse a date/time as any Amazon marketplace writes it; aware, in UTC.

    ``2024-01-15T08:00:00+00:00``, ``2024-01-15 08:00:00 UTC``, ``15.01.2024 08:00:00 UTC``,
    ``15.01.2024``, ``2024/01/15 17:00:00 JST``, ``Jan 15, 2024 12:00:00 AM PST``,
    ``15-Jan-2024``, ``2019年3月15日 10:20:30``, ``09/06/25`` (a two-digit year is 20YY).
    Without a zone the value is taken as UTC; a date alone is midnight UTC. ``dayfirst``
    decides ``01/02/2024`` (ambiguous slashes only); ``None`` (the order is not known)
    refuses it with :class:`AmbiguousDate`. Raises ``ValueError``.
    """
    value, short = _parse_datetime_cached(text, dayfirst)
    if short:
        _check_short_year(value.date(), text)
    return value


@lru_cache(maxsize=8192)
def _parse_datetime_cached(text: str, dayfirst: bool | None) -> tuple[datetime, bool]:
    naive, tz, _, short = _parse_datetime_parts(text.strip(), dayfirst)
    if tz is None or tz is UTC:
        return naive.replace(tzinfo=UTC), short
    try:
        return naive.replace(tzinfo=tz).astimezone(UTC), short
    except OverflowError:  # year 1 east of UTC, year 9999 west of it
        raise ValueError(f"date out of range: {text!r}") from None


def parse_amazon_date(text: str, *, dayfirst: bool | None = True) -> date:
    """The calendar date as written (no time-zone shift): ``15.01.2024`` -> 2024-01-15.
    ``dayfirst`` as for :func:`parse_amazon_datetime`."""
    value, short = _parse_date_cached(text, dayfirst)
    if short:
        _check_short_year(value, text)
    return value


@lru_cache(maxsize=8192)
def _parse_date_cached(text: str, dayfirst: bool | None) -> tuple[date, bool]:
    naive, _, _, short = _parse_datetime_parts(text.strip(), dayfirst)
    return naive.date(), short
