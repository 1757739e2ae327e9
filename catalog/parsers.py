"""Cells of the catalog's CSV/XLSX imports (listings, items), read and checked.

Each cell comes in as text (or an XLSX number) and goes out as a clean value, or is refused
with a reason an ops person understands, written into the row's ``ParsedRow`` with the
file's line number and the column. Our own formula neutralisation on export (a leading
apostrophe) is undone here on the way back in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from .models import Channel

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CONDITIONS = (
    "new_new", "new_open_box", "new_oem", "refurbished_refurbished", "used_like_new",
    "used_very_good", "used_good", "used_acceptable", "collectible_like_new",
    "collectible_very_good", "collectible_good", "collectible_acceptable", "club_club",
)
CHANNEL_ALIASES = {"FBA": Channel.FBA, "AFN": Channel.FBA, "AMAZON": Channel.FBA,
                   "MFN": Channel.MFN, "FBM": Channel.MFN, "MERCHANT": Channel.MFN}
TRUE_WORDS = {"yes", "y", "true", "1", "on"}
FALSE_WORDS = {"no", "n", "false", "0", "off"}
SELLER_SKU_MAX = 40  # Amazon's limit
ASIN_RE = re.compile(r"^B0[0-9A-Z]{8}$")
ISBN10_RE = re.compile(r"^[0-9]{9}[0-9X]$")
FNSKU_RE = re.compile(r"^[0-9A-Z]{10}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def neutralise(value):
    """A cell a spreadsheet would evaluate (=, +, -, @...) gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def cell_text(raw) -> str:
    """A cell as stripped text; undoes our own formula neutralisation."""
    if raw.__class__ is str:  # CSV cells: the common case, kept short
        text = raw.strip()
    elif raw is None:
        return ""
    else:
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)  # XLSX numbers come back as floats
        text = str(raw).strip()
    if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@"):
        text = text[1:]
    return text


def normalise_header(header) -> str:
    return re.sub(r"[\s\-]+", "_", str(header or "").strip().lower())


class CellError(ValueError):
    """A cell that cannot be imported, with the reason in words an ops person understands."""


def asin_problem(value: str) -> str | None:
    """Why ``value`` is not an ASIN, or None. ASINs: 10 characters, B0... or an ISBN-10."""
    if ASIN_RE.match(value):
        return None
    if ISBN10_RE.match(value):
        total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(value))
        if total % 11 == 0:
            return None
        return (f'"{value}" looks like an ISBN-10 but its last (check) digit is wrong; '
                "copy the ASIN from the product page again")
    if len(value) != 10:
        return (f'"{value}" is not an ASIN: an ASIN has exactly 10 characters '
                f"(this has {len(value)}), e.g. B07XJ8C8F5")
    return (f'"{value}" is not an ASIN: an ASIN starts with B0 followed by 8 letters or '
            "digits (e.g. B07XJ8C8F5), or is a 10-digit ISBN for books")


def parse_whole(text: str, label: str) -> int:
    try:
        value = int(text)
    except ValueError:
        try:
            as_decimal = Decimal(text)
        except InvalidOperation:
            as_decimal = None
        if as_decimal is not None and as_decimal.is_finite() and as_decimal == int(as_decimal):
            value = int(as_decimal)
        else:
            raise CellError(
                f'"{text}" is not a whole number; {label} must be digits only, e.g. 5'
            ) from None
    if value < 0:
        raise CellError(f"{label} cannot be negative (the file says {value}); use 0 or more")
    return value


def parse_money(text: str, label: str) -> Decimal:
    cleaned = text.replace(" ", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        hint = " (use a dot for decimals, not a comma)" if "," in text else ""
        raise CellError(f'"{text}" is not a number; {label} must be like 19.99 with no '
                        f"currency symbol{hint}")
    if value < 0:
        raise CellError(f"{label} cannot be negative (the file says {text})")
    return value


def parse_yes_no(text: str, label: str) -> bool:
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise CellError(f'"{text}" is not yes or no; {label} must be yes or no')


@dataclass(slots=True)
class ParsedRow:
    """One data row after checking: cleaned values, or the reasons it cannot be imported."""

    number: int  # 1-based data row, as import-export counts
    values: dict = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    key: tuple | None = None
    blank: bool = False
    changes: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def line(self) -> int:
        return self.number + 1  # line 1 holds the column headings

    def fail(self, column: str, reason: str) -> None:
        self.errors.setdefault(column, []).append(f'Line {self.line}, column "{column}": {reason}.')
