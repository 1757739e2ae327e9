"""Builders for returns report files and settlement lines used by the returns tests."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

from django.utils import timezone

FBA_HEADER = (
    "return-date", "order-id", "sku", "asin", "fnsku", "product-name", "quantity",
    "fulfillment-center-id", "detailed-disposition", "reason", "status",
    "license-plate-number", "customer-comments",
)
MFN_HEADER = (
    "Order ID", "Order date", "Return request date", "Return request status", "Amazon RMA ID",
    "Seller RMA ID", "Label type", "Label cost", "Currency code", "Return carrier",
    "Tracking ID", "Label to be paid by", "A-to-Z Claim", "Is prime", "ASIN", "Merchant SKU",
    "Item Name", "Return quantity", "Return reason", "In policy", "Return type", "Resolution",
    "Invoice number", "Return delivery date", "Order Amount", "Order quantity",
    "Refunded Amount", "Category",
)


def fba_row(**over) -> dict:
    row = {
        "return-date": "2026-09-10T10:00:00+00:00",
        "order-id": "111-0000001-0000001",
        "sku": "SKU-FBA-1",
        "asin": "B000000001",
        "fnsku": "X000000001",
        "product-name": "Bamboo Mug",
        "quantity": "1",
        "fulfillment-center-id": "PHX7",
        "detailed-disposition": "SELLABLE",
        "reason": "UNWANTED_ITEM",
        "status": "Unit returned to inventory",
        "license-plate-number": "LPN0000000001",
        "customer-comments": "",
    }
    row.update(over)
    return row


def mfn_row(**over) -> dict:
    row = {
        "Order ID": "112-0000001-0000001",
        "Order date": "2026-09-01",
        "Return request date": "2026-09-12",
        "Return request status": "Approved",
        "Amazon RMA ID": "DRMA00001",
        "Currency code": "USD",
        "Merchant SKU": "SKU-MFN-1",
        "ASIN": "B000000002",
        "Item Name": "Desk Lamp",
        "Return quantity": "1",
        "Return reason": "CR-UNWANTED_ITEM",
        "Resolution": "StandardRefund",
        "Return delivery date": "",
        "Order Amount": "40.00",
        "Order quantity": "1",
        "Refunded Amount": "",
    }
    row.update(over)
    return row


def render(header, rows, *, encoding="utf-8", newline="\n", bom=False) -> bytes:
    lines = ["\t".join(header)]
    for row in rows:
        lines.append("\t".join(str(row.get(c, "")) for c in header))
    data = (newline.join(lines) + newline).encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def fba_file(*rows, header=FBA_HEADER, **kw) -> bytes:
    return render(header, rows or (fba_row(),), **kw)


def mfn_file(*rows, header=MFN_HEADER, **kw) -> bytes:
    return render(header, rows or (mfn_row(),), **kw)


_ids = itertools.count(1)


def settlement(account, *, marketplace_id="ATVPDKIKX0DER", currency="USD",
               end=datetime.datetime(2026, 9, 20, tzinfo=datetime.UTC)):
    from settlements.models import Settlement

    n = next(_ids)
    return Settlement.objects.create(
        account=account, marketplace_id=marketplace_id, settlement_id=f"9{n:09d}",
        start_date=end - datetime.timedelta(days=14), end_date=end, total_amount=Decimal("0"),
        currency=currency, fingerprint=f"test-{n}", imported_at=timezone.now(),
    )


_lines = itertools.count(1)


def line(s, *, transaction_type="Refund", order_id="111-0000001-0000001", sku="SKU-FBA-1",
         amount_type="ItemPrice", description="Principal", amount="-20.00", qty=None,
         posted=datetime.datetime(2026, 9, 8, 12, tzinfo=datetime.UTC), item_code="ITEM-1",
         fulfillment="AFN"):
    from settlements.models import SettlementLine

    return SettlementLine.objects.create(
        settlement=s, line_number=next(_lines), transaction_type=transaction_type,
        order_id=order_id, amount_type=amount_type, amount_description=description,
        amount=Decimal(amount), posted_date=posted.date(), posted_date_time=posted, sku=sku,
        quantity_purchased=qty, order_item_code=item_code if order_id else "",
        fulfillment_id=fulfillment if order_id else "",
    )


def refund(s, *, order_id="111-0000001-0000001", sku="SKU-FBA-1", principal="-20.00",
           tax="-1.60", qty=1, posted=datetime.datetime(2026, 9, 8, 12, tzinfo=datetime.UTC),
           item_code="ITEM-1", fulfillment="AFN"):
    """The lines of one refund as a V2 settlement carries them."""
    kw = {"order_id": order_id, "sku": sku, "posted": posted, "item_code": item_code,
          "fulfillment": fulfillment}
    return [
        line(s, amount=principal, qty=qty, **kw),
        line(s, description="Tax", amount=tax, **kw),
        line(s, amount_type="ItemFees", description="Commission", amount="3.00", **kw),
        line(s, amount_type="ItemFees", description="RefundCommission", amount="-0.60", **kw),
    ]


def reimbursement(s, *, sku="SKU-FBA-1", amount="12.00", qty=1, reason="REVERSAL_REIMBURSEMENT",
                  order_id="", posted=datetime.datetime(2026, 11, 2, tzinfo=datetime.UTC)):
    return line(s, transaction_type="other-transaction", order_id=order_id, sku=sku,
                amount_type="FBA Inventory Reimbursement", description=reason, amount=amount,
                qty=qty, posted=posted)
