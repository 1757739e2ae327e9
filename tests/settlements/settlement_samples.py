"""Small hand-made V2 settlement files for the tests (no database needed), and our orders
to reconcile them with (:func:`make_order`, database needed)."""

from __future__ import annotations

import gzip as gzip_module
from decimal import Decimal

from django.utils import timezone

from settlements.parsers import COLUMNS

SETTLEMENT_ID = "11223344556"

# (transaction-type, amount-type, amount-description, amount, posted-date, extra fields)
DEFAULT_LINES: list[dict[str, str]] = [
    {"transaction-type": "Order", "amount-type": "ItemPrice", "amount-description": "Principal",
     "amount": "100.00", "posted-date": "2024-01-30", "order-id": "302-1234567-1234567",
     "sku": "SKU-1", "quantity-purchased": "2", "order-item-code": "00012345678901"},
    {"transaction-type": "Order", "amount-type": "ItemPrice", "amount-description": "Tax",
     "amount": "19.00", "posted-date": "2024-01-30", "order-id": "302-1234567-1234567",
     "sku": "SKU-1", "quantity-purchased": "2", "order-item-code": "00012345678901"},
    {"transaction-type": "Order", "amount-type": "ItemPrice", "amount-description": "Shipping",
     "amount": "4.99", "posted-date": "2024-01-30", "order-id": "302-1234567-1234567",
     "sku": "SKU-1", "order-item-code": "00012345678901"},
    {"transaction-type": "Order", "amount-type": "ItemFees", "amount-description": "Commission",
     "amount": "-15.75", "posted-date": "2024-01-30", "order-id": "302-1234567-1234567",
     "sku": "SKU-1", "order-item-code": "00012345678901"},
    {"transaction-type": "Order", "amount-type": "ItemFees",
     "amount-description": "FBAPerUnitFulfillmentFee", "amount": "-3.22",
     "posted-date": "2024-01-30", "order-id": "302-1234567-1234567", "sku": "SKU-1",
     "order-item-code": "00012345678901"},
    {"transaction-type": "Order", "amount-type": "Promotion", "amount-description": "Shipping",
     "amount": "-4.99", "posted-date": "2024-01-30", "order-id": "302-1234567-1234567",
     "sku": "SKU-1", "promotion-id": "Core Free Shipping 2024 01"},
    {"transaction-type": "Order", "amount-type": "ItemPrice", "amount-description": "Principal",
     "amount": "50.00", "posted-date": "2024-02-02", "order-id": "302-7654321-7654321",
     "sku": "SKU-2", "quantity-purchased": "1", "order-item-code": "00098765432109"},
    {"transaction-type": "Order", "amount-type": "ItemFees", "amount-description": "Commission",
     "amount": "-7.50", "posted-date": "2024-02-02", "order-id": "302-7654321-7654321",
     "sku": "SKU-2"},
    {"transaction-type": "Refund", "amount-type": "ItemPrice", "amount-description": "Principal",
     "amount": "-20.00", "posted-date": "2024-02-03", "order-id": "302-1111111-1111111",
     "sku": "SKU-3", "adjustment-id": "amzn1:adj:1"},
    {"transaction-type": "Refund", "amount-type": "ItemFees", "amount-description": "Commission",
     "amount": "3.00", "posted-date": "2024-02-03", "order-id": "302-1111111-1111111",
     "sku": "SKU-3"},
    {"transaction-type": "Previous Reserve Amount Balance", "amount-type": "Other",
     "amount-description": "Previous Reserve Amount Balance", "amount": "30.00",
     "posted-date": "2024-01-25"},
    {"transaction-type": "Current Reserve Amount", "amount-type": "Other",
     "amount-description": "Current Reserve Amount", "amount": "-25.00",
     "posted-date": "2024-02-08"},
    {"transaction-type": "other-transaction", "amount-type": "other-transaction",
     "amount-description": "Subscription Fee", "amount": "-39.00", "posted-date": "2024-02-05"},
]


def total_of(lines: list[dict[str, str]]) -> Decimal:
    return sum((Decimal(x["amount"]) for x in lines), Decimal("0"))


def summary_row(
    *,
    settlement_id: str = SETTLEMENT_ID,
    total: str | None = None,
    currency: str = "EUR",
    start: str = "2024-01-25T08:00:00+00:00",
    end: str = "2024-02-08T08:00:00+00:00",
    deposit: str = "2024-02-10T08:00:00+00:00",
) -> dict[str, str]:
    return {
        "settlement-id": settlement_id,
        "settlement-start-date": start,
        "settlement-end-date": end,
        "deposit-date": deposit,
        "total-amount": total if total is not None else str(total_of(DEFAULT_LINES)),
        "currency": currency,
    }


def make_rows(
    lines: list[dict[str, str]] | None = None,
    *,
    settlement_id: str = SETTLEMENT_ID,
    marketplace: str = "Amazon.de",
    **summary_kw,
) -> list[dict[str, str]]:
    lines = DEFAULT_LINES if lines is None else lines
    if "total" not in summary_kw:
        summary_kw["total"] = str(total_of(lines))
    rows = [summary_row(settlement_id=settlement_id, **summary_kw)]
    for line in lines:
        row = {"settlement-id": settlement_id, "marketplace-name": marketplace}
        row.update(line)
        rows.append(row)
    return rows


def render(
    rows: list[dict[str, str]],
    *,
    columns: tuple[str, ...] | list[str] = COLUMNS,
    newline: str = "\n",
    encoding: str = "utf-8",
    bom: bool = False,
    gzip: bool = False,
    trim_trailing: bool = True,
) -> bytes:
    """Render rows as Amazon does: tab separated, trailing empty columns dropped."""
    out = ["\t".join(columns)]
    for row in rows:
        values = [row.get(c, "") for c in columns]
        if trim_trailing:
            while values and values[-1] == "":
                values.pop()
        out.append("\t".join(values))
    data = (newline.join(out) + newline).encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    if gzip:
        data = gzip_module.compress(data)
    return data


def settlement_file(lines: list[dict[str, str]] | None = None, **kw) -> bytes:
    render_kw = {k: kw.pop(k) for k in list(kw) if k in
                 ("columns", "newline", "encoding", "bom", "gzip", "trim_trailing")}
    return render(make_rows(lines, **kw), **render_kw)


def make_order(account, order_id: str, items: list[tuple[str, str]], currency: str = "USD"):
    """Our order with one line per (seller SKU, item price)."""
    from marketplaces.models import Marketplace
    from orders.models import Order, OrderLine

    now = timezone.now()
    order = Order.objects.create(
        account=account, marketplace=Marketplace.objects.get(code="US"),
        amazon_order_id=order_id, purchase_date=now, last_update_date=now, status="Shipped",
        fulfillment_channel="AFN", order_total=sum((Decimal(p) for _, p in items), Decimal(0)),
        currency=currency, first_stored_at=now,
    )
    zero = Decimal("0")
    for n, (sku, price) in enumerate(items):
        OrderLine.objects.create(
            order=order, order_item_id=f"{order_id[-7:]}{n:02d}", seller_sku=sku,
            quantity_ordered=1, quantity_shipped=1, currency=currency,
            item_price=Decimal(price), item_tax=zero, shipping_price=zero, shipping_tax=zero,
            shipping_discount=zero, promotion_discount=zero, promotion_discount_tax=zero,
        )
    return order
