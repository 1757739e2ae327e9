"""Which marketplace a flat file (or one of its rows) belongs to, and what that says about
how the file is written: the order of day and month in numeric dates, and the legacy
(non-UTF-8) encoding Amazon uses for that marketplace's downloads.

:func:`locale_for` recognises every way Amazon names a marketplace in its files: the sales
channel of the all-orders report (``Amazon.co.uk``, ``amazon.co.jp``, ``www.amazon.de``),
the ``marketplace-name`` of a settlement line (the same domain names), a marketplace id
(``A1F83G8C2ARO7P``), and a country code as Amazon or a person types it (``GB``, ``UK``).
A multi-channel (MCF) row (``Non-Amazon``) belongs to no marketplace: ``None``.

The facts, and where they come from:

* Marketplace ids and country codes: the marketplaceId tables of the Selling Partner API
  developer guide (North America, Europe, Far East); Ireland, Belgium and South Africa as
  Amazon lists them since they opened. The same table is kept (with names, currencies and
  time zones) by the marketplaces app; this module holds its own copy of the few facts a
  file reader needs because flat-file reading imports no app.
* Day and month: numeric dates in Seller Central downloads follow the marketplace's
  language: Amazon.com writes ``MM/DD/YYYY``; Amazon.co.uk, .ie, .com.au, .in, .sg, .ae,
  .sa, .eg, .com.tr, .co.za, .com.mx and .com.br write ``DD/MM/YYYY``; Amazon.de, .fr,
  .it, .es, .nl, .com.be, .se and .pl write ``DD.MM.YYYY`` or ``DD/MM/YYYY``. Amazon.co.jp
  writes ``YYYY/MM/DD`` (year first, which is never ambiguous) and Amazon.ca has both
  orders in use (English and French Canada): for these two a numeric date without its
  year first has no order we may assume, so ``dayfirst`` is ``None`` and such a date is
  refused rather than guessed.
* Legacy encodings: Amazon.co.jp files that are not UTF-8 are Windows-31J (Microsoft's
  Shift_JIS, Python's ``cp932``); the other marketplaces' older files are Windows-1252.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MarketplaceLocale", "MARKETPLACES", "locale_for", "locale_by_code",
           "date_order", "encoding_label"]


@dataclass(frozen=True, slots=True)
class MarketplaceLocale:
    """How one marketplace writes its files."""

    code: str  # Amazon's country code: GB (not UK), JP, US, ...
    dayfirst: bool | None  # None: no numeric day/month order may be assumed
    legacy_encoding: str  # Python codec name: cp932 (Windows-31J), cp1252
    marketplace_id: str = ""
    domain: str = ""  # amazon.co.uk


_DMY, _MDY, _NONE = True, False, None
_JP_ENCODING, _WESTERN = "cp932", "cp1252"

# (marketplace id, code, domain, day first)
_TABLE: tuple[tuple[str, str, str, bool | None], ...] = (
    ("ATVPDKIKX0DER", "US", "amazon.com", _MDY),
    ("A2EUQ1WTGCTBG2", "CA", "amazon.ca", _NONE),
    ("A1AM78C64UM0Y8", "MX", "amazon.com.mx", _DMY),
    ("A2Q3Y263D00KWC", "BR", "amazon.com.br", _DMY),
    ("A28R8C7NBKEWEA", "IE", "amazon.ie", _DMY),
    ("A1RKKUPIHCS9HS", "ES", "amazon.es", _DMY),
    ("A1F83G8C2ARO7P", "GB", "amazon.co.uk", _DMY),
    ("A13V1IB3VIYZZH", "FR", "amazon.fr", _DMY),
    ("AMEN7PMS3EDWL", "BE", "amazon.com.be", _DMY),
    ("A1805IZSGTT6HS", "NL", "amazon.nl", _DMY),
    ("A1PA6795UKMFR9", "DE", "amazon.de", _DMY),
    ("APJ6JRA9NG5V4", "IT", "amazon.it", _DMY),
    ("A2NODRKZP88ZB9", "SE", "amazon.se", _DMY),
    ("AE08WJ6YKNBMC", "ZA", "amazon.co.za", _DMY),
    ("A1C3SOZRARQ6R3", "PL", "amazon.pl", _DMY),
    ("ARBP9OOSHTCHU", "EG", "amazon.eg", _DMY),
    ("A33AVAJ2PDY3EV", "TR", "amazon.com.tr", _DMY),
    ("A17E79C6D8DWNP", "SA", "amazon.sa", _DMY),
    ("A2VIGQ35RCS4UG", "AE", "amazon.ae", _DMY),
    ("A21TJRUUN4KGV", "IN", "amazon.in", _DMY),
    ("A19VAU5U5O7RUS", "SG", "amazon.sg", _DMY),
    ("A39IBJ37TRP1C6", "AU", "amazon.com.au", _DMY),
    ("A1VC38T7YXB528", "JP", "amazon.co.jp", _NONE),
)

MARKETPLACES: dict[str, MarketplaceLocale] = {
    code: MarketplaceLocale(code, dayfirst, _JP_ENCODING if code == "JP" else _WESTERN,
                            mid, domain)
    for mid, code, domain, dayfirst in _TABLE
}

# Every spelling, lower-cased, to its marketplace code.
_NAMES: dict[str, str] = {}
for _loc in MARKETPLACES.values():
    _NAMES[_loc.code.lower()] = _loc.code
    _NAMES[_loc.marketplace_id.lower()] = _loc.code
    _NAMES[_loc.domain] = _loc.code
_NAMES["uk"] = "GB"
# Older Amazon.ca settlement files name the marketplace by Amazon's own site name.
_NAMES["si ca prod marketplace"] = "CA"
_NOT_A_MARKETPLACE = frozenset({"non-amazon", "non amazon", "mcf", "multi-channel"})
_PREFIX = re.compile(r"^(?:https?://)?(?:www\.)?")


def locale_by_code(code: str) -> MarketplaceLocale | None:
    """The marketplace of an Amazon country code (``GB``; ``UK`` as an alias)."""
    found = _NAMES.get(code.strip().lower())
    return MARKETPLACES.get(found) if found else None


def locale_for(text: str) -> MarketplaceLocale | None:
    """The marketplace ``text`` names (sales channel, settlement marketplace name,
    marketplace id or country code; any case, with or without ``www.``); ``None`` for
    anything else, MCF's ``Non-Amazon`` included."""
    key = text.strip().lower()
    if not key or key in _NOT_A_MARKETPLACE:
        return None
    found = _NAMES.get(key)
    if found is None:
        found = _NAMES.get(_PREFIX.sub("", key).rstrip("/"))
    return MARKETPLACES[found] if found else None


def date_order(*locales: MarketplaceLocale | None) -> bool | None:
    """The ``dayfirst`` to read a row's dates with, from the marketplaces that may say it,
    nearest first: the row's own (its sales channel, marketplace name or id), the file's,
    the account's. The first one known decides, even when it settles nothing (a row of
    Amazon.ca is not read month first because the account sells in the US); ``None``
    (ambiguous dates refused) when none is known."""
    for found in locales:
        if found is not None:
            return found.dayfirst
    return None


_LABELS = {"cp932": "Windows-31J", "cp1252": "Windows-1252", "utf-8": "UTF-8"}


def encoding_label(codec: str) -> str:
    """The name people know an encoding by (``cp932`` is Windows-31J)."""
    return _LABELS.get(codec.lower().replace("_", "-"), codec)
