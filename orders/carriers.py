"""Carrier codes Amazon accepts in confirmShipment (``packageDetail.carrierCode``).

A representative part of Amazon's published list (Seller Central's carrier drop-down), with
"Other" for carriers not on it (``carrierName`` then required). Carrier mappings may only
point at these values; a code Amazon stops accepting comes back as a rejection on the
shipment.
"""

from __future__ import annotations

AMAZON_CARRIER_CODES: tuple[str, ...] = (
    "Amazon Shipping", "Australia Post", "BlueDart", "Bpost", "Canada Post", "Chronopost",
    "Colissimo", "Correos", "Correos Express", "DHL", "DHL Express", "DHL eCommerce", "DPD",
    "Delhivery", "Deutsche Post", "FedEx", "FedEx SmartPost", "GLS", "Hermes", "Hongkong Post",
    "India Post", "Japan Post", "La Poste", "Nacex", "OnTrac", "Parcelforce", "Poste Italiane",
    "PostNL", "Purolator", "Royal Mail", "SDA", "SEUR", "Sagawa", "Sagawa Express",
    "Seino Transportation", "Singapore Post", "TNT", "UPS", "UPS Mail Innovations", "USPS",
    "Yamato", "Yamato Transport", "Yodel", "Other",
)

CARRIER_CHOICES = [(code, code) for code in AMAZON_CARRIER_CODES]


def canonical_carrier_code(value: str) -> str | None:
    """The accepted spelling of a carrier code (case-insensitive), or None."""
    wanted = value.strip().lower()
    for code in AMAZON_CARRIER_CODES:
        if code.lower() == wanted:
            return code
    return None
