"""Order reconciliation compares per (order, SKU): an order settled in parts (split shipment,
partly shipped) matches in every settlement; a wrong amount or a SKU our order does not have
is still a mismatch. Every case is checked through the SQL path and both streamed paths
(``lines()`` and ``copy_chunks``), which must agree."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from settlements.copy import copy_chunks
from settlements.models import Settlement
from settlements.parsers import LineTotals, parse_settlement
from settlements.selectors import OrderIssue, order_line_kind, order_reconciliation
from settlements.services import settlement_import
from tests.settlements.settlement_samples import make_order, settlement_file

pytestmark = pytest.mark.django_db

ORDER = "111-0000001-0000001"
OTHER = "111-0000002-0000002"
UNKNOWN = "111-9999999-9999999"


def principal(order_id: str, sku: str, amount: str, *, ttype: str = "Order",
              day: str = "2024-01-30") -> dict[str, str]:
    line = {"transaction-type": ttype, "amount-type": "ItemPrice",
            "amount-description": "Principal", "amount": amount, "posted-date": day,
            "order-id": order_id, "quantity-purchased": "1"}
    if sku:
        line["sku"] = sku
    return line


def commission(order_id: str, sku: str, amount: str, day: str = "2024-01-30"):
    return {"transaction-type": "Order", "amount-type": "ItemFees",
            "amount-description": "Commission", "amount": amount, "posted-date": day,
            "order-id": order_id, "sku": sku}


def streamed_totals(data: bytes) -> tuple[LineTotals, LineTotals]:
    """The totals of the reference path (lines()) and of the COPY fast path."""
    plain = LineTotals(classify=order_line_kind)
    for x in parse_settlement(data).lines():
        plain.add(x)
    fast = LineTotals(classify=order_line_kind)
    for _ in copy_chunks(parse_settlement(data), prefix="0", totals=fast, rows=2):
        pass
    return plain, fast


def reconcile(account, lines, *, settlement_id: str = "90000000001", currency: str = "USD"):
    """Import the settlement; its issues, after proving all paths give the same result."""
    data = settlement_file(lines, settlement_id=settlement_id, currency=currency,
                           marketplace="Amazon.com")
    s = settlement_import(account=account, source=data).settlement
    sql = order_reconciliation(s)
    for totals in streamed_totals(data):
        assert order_reconciliation(s, totals=totals) == sql
    assert s.order_issues == len(sql.issues)  # what the import stored
    return sql


def test_split_shipment_reconciles_in_both_settlements(account):
    # fully shipped order, second item shipped in the next settlement period
    make_order(account, ORDER, [("SKU-A", "72.42"), ("SKU-B", "82.17")])
    first = reconcile(account, [principal(ORDER, "SKU-A", "72.42"),
                                commission(ORDER, "SKU-A", "-10.86")])
    second = reconcile(account, [principal(ORDER, "SKU-B", "82.17", day="2024-02-14"),
                                 commission(ORDER, "SKU-B", "-12.33", day="2024-02-14")],
                       settlement_id="90000000002")
    assert first.orders_checked == second.orders_checked == 1
    assert first.issues == second.issues == []


def test_same_sku_on_two_lines_and_amounts_per_currency(account):
    # two order items of one SKU settle as two principal lines; our price has 4 places
    make_order(account, ORDER, [("SKU-A", "10.00"), ("SKU-A", "10.0001"), ("SKU-B", "5")])
    result = reconcile(account, [principal(ORDER, "SKU-A", "10.00"),
                                 principal(ORDER, "SKU-A", "10.00")])
    assert result.issues == []
    # JPY has no decimals: 1980.4 is 1980; a real difference is reported in yen
    make_order(account, OTHER, [("SKU-J", "1980.4"), ("SKU-K", "500")], currency="JPY")
    result = reconcile(account, [principal(OTHER, "SKU-J", "1980")], currency="JPY",
                       settlement_id="90000000002")
    assert result.issues == []
    result = reconcile(account, [principal(OTHER, "SKU-K", "450")], currency="JPY",
                       settlement_id="90000000003")
    assert result.issues == [OrderIssue("amount_mismatch", OTHER, Decimal("450"),
                                        Decimal("500"))]
    assert str(result.issues[0].our_amount) == "500"  # readable: quantized to yen


def test_wrong_amount_for_one_sku_is_a_mismatch(account):
    make_order(account, ORDER, [("SKU-A", "72.42"), ("SKU-B", "82.17")])
    make_order(account, OTHER, [("SKU-A", "20.00"), ("SKU-C", "30.00")])
    result = reconcile(account, [
        principal(ORDER, "SKU-A", "72.42"), principal(ORDER, "SKU-B", "80.00"),
        principal(OTHER, "SKU-C", "29.99"),
    ])
    # amounts: the order's sums over the SKUs of this settlement
    assert result.issues == [
        OrderIssue("amount_mismatch", ORDER, Decimal("152.42"), Decimal("154.59")),
        OrderIssue("amount_mismatch", OTHER, Decimal("29.99"), Decimal("30.00")),
    ]


def test_a_sku_our_order_does_not_have_is_a_mismatch(account):
    make_order(account, ORDER, [("SKU-A", "72.42"), ("SKU-B", "82.17")])
    result = reconcile(account, [principal(ORDER, "SKU-A", "72.42"),
                                 principal(ORDER, "SKU-Z", "5.00")])
    assert result.issues == [
        OrderIssue("amount_mismatch", ORDER, Decimal("77.42"), Decimal("72.42")),
    ]
    # SKUs compare exactly: another SKU's amount does not make up for it
    result = reconcile(account, [principal(ORDER, "SKU-Z", "82.17")],
                       settlement_id="90000000002")
    assert result.issues == [
        OrderIssue("amount_mismatch", ORDER, Decimal("82.17"), Decimal("0.00")),
    ]


def test_missing_orders_and_refunds_are_unchanged(account):
    make_order(account, ORDER, [("SKU-A", "72.42")])
    result = reconcile(account, [
        principal(UNKNOWN, "SKU-A", "10.00"), principal(UNKNOWN, "SKU-B", "2.50"),
        principal(ORDER, "SKU-A", "72.42"),
        principal(ORDER, "SKU-A", "-72.42", ttype="Refund"),
        principal(OTHER, "SKU-A", "-3.00", ttype="Refund"),
        principal(OTHER, "SKU-B", "-1.00", ttype="Refund"),
    ])
    assert result.orders_checked == 3
    assert result.issues == [
        OrderIssue("missing_order", UNKNOWN, Decimal("12.50")),
        OrderIssue("refund_without_order", OTHER, Decimal("-4.00")),
    ]


def test_a_principal_line_without_sku_compares_the_whole_order(account):
    # nothing to compare by: the order as a whole, as before the per-SKU rule
    make_order(account, ORDER, [("SKU-A", "72.42"), ("SKU-B", "82.17")])
    make_order(account, OTHER, [("SKU-A", "20.00"), ("SKU-B", "30.00")])
    result = reconcile(account, [
        principal(ORDER, "", "154.59"),
        principal(OTHER, "SKU-A", "20.00"), principal(OTHER, "", "0.00"),
    ])
    assert result.issues == [
        OrderIssue("amount_mismatch", OTHER, Decimal("20.00"), Decimal("50.00")),
    ]


def test_the_reconciliation_page_shows_the_per_sku_result(account, superuser, client):
    make_order(account, ORDER, [("SKU-A", "72.42"), ("SKU-B", "82.17")])
    make_order(account, OTHER, [("SKU-A", "20.00")])
    reconcile(account, [principal(ORDER, "SKU-A", "72.42"), principal(OTHER, "SKU-A", "19.00")])
    s = Settlement.objects.get()
    client.force_login(superuser)
    page = client.get(reverse("admin:settlements_settlement_reconciliation", args=[s.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "2 orders checked, 1 issue(s)." in text
    assert (f"<td>{OTHER}</td><td class=\"num\">19.00 USD</td>"
            "<td class=\"num\">20.00 USD</td>") in text
    assert ORDER not in text.split("orders checked")[1]


def test_the_limit_checks_the_same_orders_on_every_path(account):
    make_order(account, ORDER, [("SKU-A", "1.00"), ("SKU-B", "2.00")])
    ids = ["111-0000005-0000000", "111-0000003-0000000", ORDER, "111-0000004-0000000"]
    lines = [principal(i, "SKU-A", "1.00") for i in ids] + [
        principal(ORDER, "SKU-B", "2.50"),  # the order's second SKU comes last in the file
        principal(UNKNOWN, "SKU-A", "-1.00", ttype="Refund"),
        principal("111-0000000-0000001", "SKU-A", "-1.00", ttype="Refund"),
    ]
    data = settlement_file(lines, settlement_id="90000000001", marketplace="Amazon.com",
                           currency="USD")
    s = settlement_import(account=account, source=data).settlement
    sql = order_reconciliation(s, limit=2)
    for totals in streamed_totals(data):
        assert order_reconciliation(s, limit=2, totals=totals) == sql
    assert sql.orders_checked == 4
    assert sql.issues == [
        OrderIssue("amount_mismatch", ORDER, Decimal("3.50"), Decimal("3.00")),
        OrderIssue("missing_order", "111-0000003-0000000", Decimal("1.00")),
        OrderIssue("refund_without_order", "111-0000000-0000001", Decimal("-1.00")),
        OrderIssue("refund_without_order", UNKNOWN, Decimal("-1.00")),
    ]
