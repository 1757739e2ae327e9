"""What a V2 settlement file holds: its columns, the widths and date limits its values are
read with, and the records the parser makes of it (the summary and one per line)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from amazonsync.flatfiles.values import SKU_MAX

REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"

COLUMNS: tuple[str, ...] = (
    "settlement-id",
    "settlement-start-date",
    "settlement-end-date",
    "deposit-date",
    "total-amount",
    "currency",
    "transaction-type",
    "order-id",
    "merchant-order-id",
    "adjustment-id",
    "shipment-id",
    "marketplace-name",
    "amount-type",
    "amount-description",
    "amount",
    "fulfillment-id",
    "posted-date",
    "posted-date-time",
    "order-item-code",
    "merchant-order-item-id",
    "merchant-adjustment-item-id",
    "sku",
    "quantity-purchased",
    "promotion-id",
)

# Older files have no promotion-id; a few columns are absent from some marketplaces' files.
OPTIONAL_COLUMNS = frozenset(
    {
        "promotion-id",
        "merchant-order-id",
        "merchant-order-item-id",
        "merchant-adjustment-item-id",
        "fulfillment-id",
        "posted-date-time",
        "shipment-id",
        "adjustment-id",
        "order-item-code",
        "sku",
        "quantity-purchased",
        "marketplace-name",
    }
)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in OPTIONAL_COLUMNS)

# Widths of the text columns, enforced while the file is read (a longer value refuses the
# file): order ids as orders and returns store them (32), SKUs as Amazon allows (40), the
# mapped columns as GL mappings hold them, other ids 64. Other columns: the reader's 32 KiB,
# and their own validators (settlement id, currency, amounts, dates, quantity). The smallest
# limit stays above the usual values (dates, descriptions) so that most lines are measured
# once, not value by value.
FIELD_LIMITS: dict[str, int] = {
    "order-id": 32, "merchant-order-id": 64, "adjustment-id": 64, "shipment-id": 64,
    "fulfillment-id": 64, "order-item-code": 64, "merchant-order-item-id": 64,
    "merchant-adjustment-item-id": 64, "sku": SKU_MAX, "transaction-type": 128,
    "amount-type": 128, "amount-description": 255, "marketplace-name": 64,
    "promotion-id": 255,
}
# How far line dates may be from the settlement's period, and how long a period may be.
LINE_DATES_BEFORE = timedelta(days=366)
LINE_DATES_AFTER = timedelta(days=92)
DEPOSIT_AFTER = timedelta(days=93)
MAX_PERIOD = timedelta(days=366)

# The SettlementLine fields a line is stored in, in the order of the rows of
# :func:`settlements.parsers.fast.line_rows`.
LINE_FIELDS: tuple[str, ...] = (
    "line_number", "transaction_type", "order_id", "merchant_order_id", "adjustment_id",
    "shipment_id", "marketplace_name", "amount_type", "amount_description", "amount",
    "fulfillment_id", "posted_date", "posted_date_time", "order_item_code",
    "merchant_order_item_id", "merchant_adjustment_item_id", "sku", "quantity_purchased",
    "promotion_id", "extra",
)


@dataclass(frozen=True, slots=True)
class SettlementSummary:
    settlement_id: str
    start_date: datetime
    end_date: datetime
    deposit_date: datetime | None
    total_amount: Decimal
    currency: str
    line: int
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SettlementLineData:
    line: int
    settlement_id: str
    transaction_type: str
    order_id: str
    merchant_order_id: str
    adjustment_id: str
    shipment_id: str
    marketplace_name: str
    amount_type: str
    amount_description: str
    amount: Decimal
    fulfillment_id: str
    posted_date: date | None
    posted_date_time: datetime | None
    order_item_code: str
    merchant_order_item_id: str
    merchant_adjustment_item_id: str
    sku: str
    quantity_purchased: int | None
    promotion_id: str
    extra: dict[str, str] = field(default_factory=dict)

