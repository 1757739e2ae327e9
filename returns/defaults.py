"""Reference data of the returns app: Amazon's dispositions and the default rules.

Pure data (no models) so the data migration and ``disposition_rules_ensure`` share it.
"""

from __future__ import annotations

# Amazon's detailed dispositions (FBA customer returns report) and what they mean.
DISPOSITIONS: dict[str, str] = {
    "SELLABLE": "Sellable: back in fulfillable stock",
    "DEFECTIVE": "Defective (customer says it does not work)",
    "CUSTOMER_DAMAGED": "Damaged by the customer",
    "CARRIER_DAMAGED": "Damaged by the carrier",
    "DISTRIBUTOR_DAMAGED": "Damaged by the distributor",
    "DAMAGED": "Damaged in Amazon's warehouse",
    "WAREHOUSE_DAMAGED": "Damaged in Amazon's warehouse",
    "EXPIRED": "Expired",
}

# Dispositions where the damage is Amazon's (or its carrier's) fault: the seller may claim.
AMAZON_FAULT = frozenset({"CARRIER_DAMAGED", "DISTRIBUTOR_DAMAGED", "DAMAGED",
                          "WAREHOUSE_DAMAGED"})

# (disposition, channel, reason, action, amazon_fault, note)
DEFAULT_RULES: tuple[tuple[str, str, str, str, bool, str], ...] = (
    ("SELLABLE", "", "", "sellable", False, "Sellable units go back to sellable stock."),
    ("SELLABLE", "", "SWITCHEROO", "quarantine", False,
     "The customer returned a different item: inspect before selling."),
    ("DEFECTIVE", "", "", "quarantine", False, "Held as unfulfillable until inspected."),
    ("CUSTOMER_DAMAGED", "", "", "quarantine", False,
     "Held as unfulfillable (removal or disposal is the seller's call)."),
    ("CARRIER_DAMAGED", "", "", "quarantine", True, "Carrier's fault: claim from Amazon."),
    ("DISTRIBUTOR_DAMAGED", "", "", "quarantine", True,
     "Distributor's fault: claim from Amazon."),
    ("DAMAGED", "", "", "quarantine", True, "Warehouse damage: claim from Amazon."),
    ("WAREHOUSE_DAMAGED", "", "", "quarantine", True, "Warehouse damage: claim from Amazon."),
    ("EXPIRED", "", "", "write_off", False, "Expired units are written off."),
    ("DEFECTIVE", "MFN", "", "write_off", False,
     "Defective units returned to our warehouse are written off."),
)


def seed_rules(DispositionRule) -> int:
    """Create the default rules that are missing; existing (possibly edited) rules stay."""
    created = 0
    for disposition, channel, reason, action, fault, note in DEFAULT_RULES:
        _, made = DispositionRule.objects.get_or_create(
            disposition=disposition, channel=channel, reason=reason,
            defaults={"action": action, "amazon_fault": fault, "note": note},
        )
        created += made
    return created
