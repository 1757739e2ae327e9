"""Column layouts of Amazon flat files that both sides of the wire need: the importers that
read them and the sandbox that writes them (one list, one place)."""

from __future__ import annotations

# GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE ("V1" flat-file settlement): one row per posting,
# the first data row carrying the settlement's summary.
SETTLEMENT_V1_COLUMNS: tuple[str, ...] = (
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date",
    "total-amount", "currency", "transaction-type", "order-id", "merchant-order-id",
    "adjustment-id", "shipment-id", "marketplace-name", "shipment-fee-type",
    "shipment-fee-amount", "order-fee-type", "order-fee-amount", "fulfillment-id",
    "posted-date", "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id",
    "sku", "quantity-purchased", "price-type", "price-amount", "item-related-fee-type",
    "item-related-fee-amount", "misc-fee-amount", "other-fee-amount",
    "other-fee-reason-description", "promotion-id", "promotion-type", "promotion-amount",
    "direct-payment-type", "direct-payment-amount", "other-amount",
)
