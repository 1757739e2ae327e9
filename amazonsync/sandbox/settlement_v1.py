"""The world's settlements as the flat-file settlement report (V1,
GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE): one row per posting, its money in the column of
its kind, dates ISO 8601 with their offset.

Same settlements, same amounts and the same total as the V2 file (``reports.settlement_rows``),
in the older layout: an order item's quantity on a row of its own before its amounts, prices
in ``price-type``/``price-amount``, fees (and withheld marketplace-facilitator tax) in
``item-related-fee-*``, promotions in ``promotion-*``, account-level fees, reimbursements and
the reserve with their own transaction type and ``other-amount``.
"""

from __future__ import annotations

from decimal import Decimal

from ..flatfiles.layouts import SETTLEMENT_V1_COLUMNS
from .money import ZERO, fmt_amount, iso_offset
from .reports import settlement_summary_row, tsv
from .shapes import LedgerLine, Posting, Settlement

V1_SETTLEMENT_REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE"
V1_SETTLEMENT_COLUMNS = SETTLEMENT_V1_COLUMNS
# V2 amount type -> the V1 (type column, amount column) it is written in
_COLUMNS_OF = {
    "ItemPrice": ("price-type", "price-amount"),
    "ItemFees": ("item-related-fee-type", "item-related-fee-amount"),
    "ItemWithheldTax": ("item-related-fee-type", "item-related-fee-amount"),
    "Promotion": ("promotion-type", "promotion-amount"),
}


def v1_report_id(settlement: Settlement) -> str:
    return str(40_000_000_000 + int(settlement.id) % 10_000_000_000)


def v1_document_id(settlement: Settlement) -> str:
    return f"amzn1.spdoc.1.4.na.settlement-flat.{settlement.id}"


def _posting_rows(settlement: Settlement, posting: Posting) -> list[dict]:
    cur = settlement.currency
    order = posting.order
    base = {
        "settlement-id": settlement.id,
        "transaction-type": posting.transaction_type,
        "order-id": order.id if order else "",
        "merchant-order-id": (order.seller_order_id or "") if order else "",
        "adjustment-id": posting.adjustment_id,
        "shipment-id": posting.shipment_id,
        "marketplace-name": settlement.mp.name if order else "",
        "fulfillment-id": ("AFN" if order.channel == "AFN" else "MFN") if order else "",
        "posted-date": iso_offset(posting.time),
    }
    rows: list[dict] = []
    seen_items: set[str] = set()
    for line in posting.lines:
        row = {**base, "order-item-code": line.order_item_code, "sku": line.sku}
        if order is None:
            rows.append(_other_row(row, posting, line, cur))
            continue
        if line.quantity and line.order_item_code not in seen_items:
            seen_items.add(line.order_item_code)
            rows.append({**row, "quantity-purchased": line.quantity})
        kind, amount = _COLUMNS_OF[line.amount_type]
        row[kind], row[amount] = line.description, fmt_amount(line.amount, cur)
        if line.amount_type == "Promotion":
            row["promotion-id"] = line.promotion_id
        rows.append(row)
    return rows


def _other_row(row: dict, posting: Posting, line: LedgerLine, cur: str) -> dict:
    """An account-level posting: a fee by its own type, a reimbursement by its reason."""
    if line.amount_type == "FBA Inventory Reimbursement":
        row["transaction-type"] = line.description
        row["quantity-purchased"] = line.quantity
    row["other-amount"] = fmt_amount(line.amount, cur)
    return row


def settlement_v1_rows(settlement: Settlement) -> list[dict]:
    """The summary row first, then one row per amount (and per order item's quantity)."""
    cur = settlement.currency
    rows: list[dict] = []
    for posting in settlement.postings:
        rows.extend(_posting_rows(settlement, posting))
    for ttype, amount, when in (
        ("Previous Reserve Amount Balance", settlement.reserve_previous, settlement.start),
        ("Current Reserve Amount", -settlement.reserve_current, settlement.end - 1),
    ):
        rows.append({"settlement-id": settlement.id, "transaction-type": ttype,
                     "posted-date": iso_offset(when), "other-amount": fmt_amount(amount, cur)})
    total = sum((Decimal(r[c]) for r in rows for c in ("price-amount", "item-related-fee-amount",
                                                        "promotion-amount", "other-amount")
                 if r.get(c)), ZERO)
    return [settlement_summary_row(settlement, total), *rows]


def settlement_v1_bytes(settlement: Settlement) -> bytes:
    return tsv(V1_SETTLEMENT_COLUMNS, settlement_v1_rows(settlement))
