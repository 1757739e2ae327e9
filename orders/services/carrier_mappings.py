"""Carrier mappings: our carrier names to the codes Amazon accepts."""

from __future__ import annotations

from django.db import transaction

from ..carriers import canonical_carrier_code
from ..models import CarrierMapping


def carrier_mapping_upsert(*, carrier: str, ship_method: str = "", amazon_carrier_code: str,
                           amazon_carrier_name: str = "", shipping_method: str = "",
                           active: bool = True) -> CarrierMapping:
    """Add or change one mapping; the code must be one Amazon accepts."""
    code = _amazon_code(amazon_carrier_code)
    if code == "Other" and not amazon_carrier_name.strip():
        raise ValueError('carrier code "Other" needs the carrier name Amazon should show')
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
    mapping.amazon_carrier_code = _amazon_code(mapping.amazon_carrier_code)
    with transaction.atomic():
        mapping.full_clean()
        mapping.save()
    return mapping


def _amazon_code(code: str) -> str:
    """Amazon's spelling of a carrier code; ValueError when Amazon does not accept it."""
    canonical = canonical_carrier_code(code)
    if canonical is None:
        raise ValueError(f"{code!r} is not a carrier code Amazon accepts")
    return canonical
