"""Carrier mappings: our carrier names to the codes Amazon accepts."""

from __future__ import annotations

from django.db import transaction

from ..carriers import AMAZON_CARRIER_CODES, canonical_carrier_code
from ..models import CarrierMapping


class CarrierMappingInvalid(ValueError):
    """A mapping Amazon would not accept; ``column`` names the value at fault."""

    def __init__(self, message: str, *, column: str) -> None:
        super().__init__(message)
        self.column = column


def carrier_code_checked(*, code: str, name: str = "") -> str:
    """The rule for a mapping's Amazon side: Amazon's spelling of an accepted carrier code
    (any capitalisation given), and "Other" only with the carrier name Amazon should show."""
    canonical = canonical_carrier_code(code)
    if canonical is None:
        raise CarrierMappingInvalid(
            f"{code!r} is not a carrier code Amazon accepts (for example: "
            f"{', '.join(AMAZON_CARRIER_CODES[:8])}, ... or Other with a carrier name)",
            column="amazon_carrier_code")
    if canonical == "Other" and not name.strip():
        raise CarrierMappingInvalid(
            'carrier code "Other" needs the carrier name Amazon should show',
            column="amazon_carrier_name")
    return canonical


def carrier_mapping_upsert(*, carrier: str, ship_method: str = "", amazon_carrier_code: str,
                           amazon_carrier_name: str = "", shipping_method: str = "",
                           active: bool = True) -> CarrierMapping:
    """Add or change one mapping; the code must be one Amazon accepts."""
    code = carrier_code_checked(code=amazon_carrier_code, name=amazon_carrier_name)
    with transaction.atomic():
        mapping, _ = CarrierMapping.objects.update_or_create(
            carrier=carrier.strip(), ship_method=ship_method.strip(),
            defaults={"amazon_carrier_code": code,
                      "amazon_carrier_name": amazon_carrier_name.strip(),
                      "shipping_method": shipping_method.strip(), "active": active},
        )
    return mapping


def carrier_mapping_save(*, mapping: CarrierMapping) -> CarrierMapping:
    """Save a mapping edited in the admin (validated, Amazon's spelling of the code)."""
    mapping.amazon_carrier_code = carrier_code_checked(code=mapping.amazon_carrier_code,
                                                       name=mapping.amazon_carrier_name)
    with transaction.atomic():
        mapping.full_clean()
        mapping.save()
    return mapping

