"""The fast import path (settlements.copy.copy_chunks + LineTotals) must give exactly what the
reference path gives: the rows rendered from ``lines()``, the same totals, fingerprint and
errors; and the streamed totals must equal what SQL computes from the stored lines."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from amazonsync.flatfiles.reading import ReportFormatError
from settlements.copy import copy_chunks, render_copy_row
from settlements.parsers import COLUMNS, LineTotals, parse_settlement
from settlements.selectors import order_line_kind
from tests.settlements.settlement_samples import (
    DEFAULT_LINES,
    make_order,
    make_rows,
    render,
    settlement_file,
)


def reference(data: bytes, prefix: str = "42"):
    report = parse_settlement(data)
    totals = LineTotals(classify=order_line_kind)
    rows = []
    for x in report.lines():
        totals.add(x)
        rows.append(render_copy_row(prefix, x))
    text = ("\n".join(rows) + "\n") if rows else ""
    return report, totals, text


def fast(data: bytes, prefix: str = "42", rows: int = 3):
    report = parse_settlement(data)
    totals = LineTotals(classify=order_line_kind)
    chunks = list(copy_chunks(report, prefix=prefix, totals=totals, rows=rows))
    text = b"".join(c for c, _ in chunks).decode()
    assert sum(n for _, n in chunks) == report.line_count
    return report, totals, text


def quirky_lines() -> list[dict[str, str]]:
    lines = [dict(x) for x in DEFAULT_LINES]
    lines[0]["amount"] = "1.234,56"  # EU decimals
    lines[1]["posted-date"] = "30.01.2024"  # EU date
    lines[2]["posted-date"] = ""  # date from posted-date-time
    lines[2]["posted-date-time"] = "2024-01-31 23:30:00 PST"
    lines[3]["quantity-purchased"] = "007"
    lines[4]["sku"] = "back\\slash"
    lines[5]["promotion-id"] = "with\rcarriage return"
    lines[6]["posted-date-time"] = "15.01.2024 08:00:00 UTC"
    lines[7]["amount"] = ""  # no amount: zero
    lines[8]["currency"] = "eur"  # same currency, lower case
    lines[9]["order-item-code"] = "000123"
    lines.append({"transaction-type": "Order", "amount-type": "ItemPrice",
                  "amount-description": "PRINCIPAL", "amount": "-0.00",
                  "posted-date": "2024-02-29", "order-id": "302-1234567-1234567"})
    lines.append({"transaction-type": "Refund", "amount-type": "itemprice",
                  "amount-description": "principal", "amount": "(12.00)",
                  "posted-date": "2024-03-01", "order-id": "302-7654321-7654321"})
    return lines


def variants():
    lines = quirky_lines()
    total = str(sum((Decimal(x) for x in ("1234.56", "19.00", "4.99", "-15.75", "-3.22",
                                            "-4.99", "50.00", "0", "-20.00", "3.00", "30.00",
                                            "-25.00", "-39.00", "0", "-12.00")), Decimal(0)))
    yield "default", settlement_file()
    yield "crlf-bom-gzip", settlement_file(newline="\r\n", bom=True, gzip=True)
    yield "quirky", settlement_file(lines, total=total)
    reordered = list(reversed(COLUMNS)) + ["zz-extra", "aa-extra"]
    rows = make_rows(lines, total=total)
    for i, row in enumerate(rows[1:]):
        row["zz-extra"] = f'v"{i}\\' if i % 3 == 0 else ""
        row["aa-extra"] = "ü" if i % 2 else ""
    yield "reordered-extras", render(rows, columns=reordered)
    short = [c for c in COLUMNS if c not in ("promotion-id", "posted-date-time",
                                             "quantity-purchased", "marketplace-name")]
    plain = [{k: v for k, v in x.items() if k != "posted-date-time"} for x in DEFAULT_LINES]
    yield "missing-optional", render(make_rows(plain), columns=short)
    # no sku column: the per-order totals are keyed (order id, '')
    yield "no-sku", render(make_rows(lines, total=total), columns=[c for c in COLUMNS
                                                                   if c != "sku"])
    rows = make_rows()
    rows = [rows[1], rows[0], *rows[2:], dict(rows[0])]  # summary second and repeated
    yield "summary-later", render(rows)
    rnd = random.Random(7)
    many = []
    for i in range(400):
        x = dict(DEFAULT_LINES[i % len(DEFAULT_LINES)])
        x["amount"] = f"{rnd.randint(-99999, 99999) / 100:.2f}"
        x["posted-date"] = f"2024-0{1 + i % 3}-{1 + i % 28:02d}"
        x["order-id"] = f"302-{i % 37:07d}-0000000"
        if x.get("sku"):
            x["sku"] = f"SKU-{i % 5}"  # orders with several SKUs, lines of a SKU repeated
        many.append(x)
    yield "many", settlement_file(many)


@pytest.mark.parametrize("name,data", list(variants()), ids=[n for n, _ in variants()])
def test_copy_chunks_equal_the_reference_rendering(name, data):
    ref_report, ref_totals, ref_text = reference(data)
    report, totals, text = fast(data)
    assert text == ref_text
    assert report.line_count == ref_report.line_count > 0
    assert report.sum_of_lines == ref_report.sum_of_lines
    assert report.fingerprint == ref_report.fingerprint
    assert totals.cells == ref_totals.cells
    assert totals.orders == ref_totals.orders
    assert totals.groups() == ref_totals.groups()
    assert list(totals.marketplaces().items()) == list(ref_totals.marketplaces().items())
    assert sum((g[0] for g in totals.groups().values()), Decimal(0)) == report.sum_of_lines
    assert totals.orders["principal"]


def test_order_totals_are_per_order_and_sku():
    lines = quirky_lines()
    lines.append({"transaction-type": "Order", "amount-type": "ItemPrice",
                  "amount-description": "Principal", "amount": "7.00",
                  "posted-date": "2024-02-02", "order-id": "302-7654321-7654321",
                  "sku": "SKU-9"})
    data = settlement_file(lines, total="0")
    expected = {
        "principal": {("302-1234567-1234567", "SKU-1"): Decimal("1234.56"),
                      ("302-7654321-7654321", "SKU-2"): Decimal("50.00"),
                      ("302-1234567-1234567", ""): Decimal("0.00"),
                      ("302-7654321-7654321", "SKU-9"): Decimal("7.00")},
        "refund": {("302-1111111-1111111", "SKU-3"): Decimal("-20.00"),
                   ("302-7654321-7654321", ""): Decimal("-12.00")},
    }
    assert reference(data)[1].orders == expected
    assert fast(data)[1].orders == expected


def test_copy_chunks_of_the_quirky_file_render_nulls_and_escapes():
    lines = quirky_lines()
    _, _, text = fast(settlement_file(lines, total="0"))
    rows = text.splitlines()
    assert "back\\\\slash" in rows[4]
    assert "with\\rcarriage return" in rows[5]
    assert "\t\\N\t" in rows[0]  # no posted-date-time
    assert "\t7\t" in rows[3]  # quantity 007


@pytest.mark.parametrize(
    "change,fragment",
    [
        ({"amount": "12,34,5"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"posted-date": "2024-13-45"}, "posted-date"),
        ({"quantity-purchased": "x"}, "quantity-purchased"),
        ({"settlement-id": "999"}, "two settlement ids"),
        ({"settlement-id": ""}, "settlement-id is empty"),
        ({"currency": "USD"}, "two currencies"),
    ],
)
def test_copy_chunks_raise_the_reference_errors(change, fragment):
    lines = [dict(x) for x in DEFAULT_LINES]
    lines[5].update({k: v for k, v in change.items() if k != "settlement-id"})
    rows = make_rows(lines, total="91.53")
    if "settlement-id" in change:
        rows[6]["settlement-id"] = change["settlement-id"]
    data = render(rows)
    with pytest.raises(ReportFormatError) as ref:
        reference(data)
    with pytest.raises(ReportFormatError) as got:
        fast(data)
    assert str(got.value) == str(ref.value)
    assert fragment in str(got.value)


def _principal(order_id: str, sku: str, amount: str, ttype: str = "Order"):
    return {"transaction-type": ttype, "amount-type": "ItemPrice",
            "amount-description": "Principal", "amount": amount,
            "posted-date": "2024-02-05", "order-id": order_id, "sku": sku}


@pytest.mark.django_db
def test_streamed_totals_equal_the_sql_over_the_stored_lines(account):
    from settlements.selectors import OrderIssue, order_reconciliation
    from settlements.services import journals, reconciliation, settlement_import

    # our orders: whole (no SKU on one of its settlement lines), split over two settlements,
    # a wrong price, a SKU we do not have; plus orders we do not know
    make_order(account, "302-1234567-1234567", [("SKU-1", "1234.56")])
    make_order(account, "302-7654321-7654321", [("SKU-2", "55.00")])
    make_order(account, "302-2000000-0000001", [("SKU-A", "72.42"), ("SKU-B", "82.17")])
    make_order(account, "302-2000000-0000002", [("SKU-A", "10.00")])
    lines = quirky_lines() + [
        _principal("302-2000000-0000001", "SKU-B", "82.17"),  # SKU-A settles later
        _principal("302-2000000-0000002", "SKU-A", "10.00"),
        _principal("302-2000000-0000002", "SKU-Z", "4.00"),
        _principal("302-3000000-0000001", "SKU-A", "1.00"),
        _principal("302-3000000-0000001", "sku-a", "2.00"),
    ]
    data = settlement_file(lines, total="1309.74")
    result = settlement_import(account=account, source=data)
    s = result.settlement
    report = parse_settlement(data)
    totals = LineTotals(classify=order_line_kind)
    for _ in copy_chunks(report, prefix="0", totals=totals):
        pass
    groups = [(g.period, g.transaction_type, g.amount_type, g.amount_description, g.amount,
               g.count) for g in journals.settlement_line_groups(s)]
    streamed = [(g.period, g.transaction_type, g.amount_type, g.amount_description, g.amount,
                 g.count) for g in journals.settlement_line_groups(s, totals=totals)]
    assert streamed == groups
    assert reconciliation._reserve_sums(s, totals) == reconciliation._reserve_sums(s)
    sql = order_reconciliation(s)
    mine = order_reconciliation(s, totals=totals)
    assert (sql is None) == (mine is None)
    if sql is not None:
        assert mine.orders_checked == sql.orders_checked
        assert mine.issues == sql.issues
        assert sql.orders_checked == 6
        assert sql.issues == [
            OrderIssue("amount_mismatch", "302-2000000-0000002", Decimal("14.00"),
                       Decimal("10.00")),
            OrderIssue("missing_order", "302-3000000-0000001", Decimal("3.00")),
            OrderIssue("amount_mismatch", "302-7654321-7654321", Decimal("50.00"),
                       Decimal("55.00")),
            OrderIssue("refund_without_order", "302-1111111-1111111", Decimal("-20.00")),
        ]
        assert s.order_issues == len(sql.issues)
    assert s.line_count == report.line_count and s.sum_of_lines == report.sum_of_lines
    assert s.fingerprint == report.fingerprint
