"""Amazon marketplaces: id, country code, name, domain, region, currency and time zone.

Country codes are the ones Amazon uses in marketplace ids tables (GB for the United
Kingdom); ``UK`` is accepted as an alias wherever a code is typed by a person.
"""

from __future__ import annotations

from amazonsync.spapi.operations import REGION_HOSTS

# (id, code, name, domain, region, currency, time zone)
MARKETPLACES: list[tuple[str, str, str, str, str, str, str]] = [
    ("ATVPDKIKX0DER", "US", "United States", "amazon.com", "NA", "USD", "America/Los_Angeles"),
    ("A2EUQ1WTGCTBG2", "CA", "Canada", "amazon.ca", "NA", "CAD", "America/Los_Angeles"),
    ("A1AM78C64UM0Y8", "MX", "Mexico", "amazon.com.mx", "NA", "MXN", "America/Mexico_City"),
    ("A2Q3Y263D00KWC", "BR", "Brazil", "amazon.com.br", "NA", "BRL", "America/Sao_Paulo"),
    ("A28R8C7NBKEWEA", "IE", "Ireland", "amazon.ie", "EU", "EUR", "Europe/Dublin"),
    ("A1RKKUPIHCS9HS", "ES", "Spain", "amazon.es", "EU", "EUR", "Europe/Madrid"),
    ("A1F83G8C2ARO7P", "GB", "United Kingdom", "amazon.co.uk", "EU", "GBP", "Europe/London"),
    ("A13V1IB3VIYZZH", "FR", "France", "amazon.fr", "EU", "EUR", "Europe/Paris"),
    ("AMEN7PMS3EDWL", "BE", "Belgium", "amazon.com.be", "EU", "EUR", "Europe/Brussels"),
    ("A1805IZSGTT6HS", "NL", "Netherlands", "amazon.nl", "EU", "EUR", "Europe/Amsterdam"),
    ("A1PA6795UKMFR9", "DE", "Germany", "amazon.de", "EU", "EUR", "Europe/Berlin"),
    ("APJ6JRA9NG5V4", "IT", "Italy", "amazon.it", "EU", "EUR", "Europe/Rome"),
    ("A2NODRKZP88ZB9", "SE", "Sweden", "amazon.se", "EU", "SEK", "Europe/Stockholm"),
    ("AE08WJ6YKNBMC", "ZA", "South Africa", "amazon.co.za", "EU", "ZAR", "Africa/Johannesburg"),
    ("A1C3SOZRARQ6R3", "PL", "Poland", "amazon.pl", "EU", "PLN", "Europe/Warsaw"),
    ("ARBP9OOSHTCHU", "EG", "Egypt", "amazon.eg", "EU", "EGP", "Africa/Cairo"),
    ("A33AVAJ2PDY3EV", "TR", "Turkey", "amazon.com.tr", "EU", "TRY", "Europe/Istanbul"),
    ("A17E79C6D8DWNP", "SA", "Saudi Arabia", "amazon.sa", "EU", "SAR", "Asia/Riyadh"),
    ("A2VIGQ35RCS4UG", "AE", "United Arab Emirates", "amazon.ae", "EU", "AED", "Asia/Dubai"),
    ("A21TJRUUN4KGV", "IN", "India", "amazon.in", "EU", "INR", "Asia/Kolkata"),
    ("A19VAU5U5O7RUS", "SG", "Singapore", "amazon.sg", "FE", "SGD", "Asia/Singapore"),
    ("A39IBJ37TRP1C6", "AU", "Australia", "amazon.com.au", "FE", "AUD", "Australia/Sydney"),
    ("A1VC38T7YXB528", "JP", "Japan", "amazon.co.jp", "FE", "JPY", "Asia/Tokyo"),
]

CODE_ALIASES = {"UK": "GB"}


def rows() -> list[dict]:
    return [
        {
            "id": mid,
            "code": code,
            "name": name,
            "domain": domain,
            "region": region,
            "spapi_host": REGION_HOSTS[region],
            "currency": currency,
            "time_zone": tz,
        }
        for mid, code, name, domain, region, currency, tz in MARKETPLACES
    ]


_BY_CODE = {row[1]: row for row in MARKETPLACES}
_BY_ID = {row[0]: row for row in MARKETPLACES}


def marketplace_label(code_or_id: str) -> str:
    """A marketplace as people name it: ``Amazon.de (DE)`` for ``DE`` or ``A1PA6795UKMFR9``.

    Reference data, no query. An unknown value is returned as it is."""
    row = _BY_CODE.get(code_or_id) or _BY_ID.get(code_or_id)
    if row is None:
        return code_or_id or ""
    return f"{row[3][:1].upper()}{row[3][1:]} ({row[1]})"
