"""Fuzz: V2 settlement flat files (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2) with generated
lines, imported through the real service (``settlement_import``) into the test database
(PostgreSQL takes the COPY path, SQLite the ORM path), rolled back after each example.

* A valid file is stored exactly as it says: the settlement's summary and every line, field
  by field (amounts, dates, quantities, texts, line numbers).
* A file with one invalid value (in the summary or in any line) is refused with a
  ``ReportFormatError`` naming that line and that column, and nothing of it is stored.
* A file of random garbage cells never raises anything but the documented refusal.

``SETTLEMENT_FUZZ_*`` variables scale it (``make bench`` runs it bigger).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from amazonsync.flatfiles.reading import ReportFormatError
from settlements.parsers import COLUMNS
from tests.amazonsync.fuzzing import (
    BAD_AMOUNTS,
    BAD_CURRENCIES,
    BAD_DATES,
    BAD_JPY,
    CURRENCIES,
    NOW,
    ORDER_IDS,
    SKUS,
    FuzzBudget,
    draw_amount,
    draw_day_text,
    draw_instant,
    draw_instant_text,
    fuzz_settings,
    ints,
    pick,
    scale,
    texts,
)

pytestmark = pytest.mark.django_db

KINDS = [
    ("Order", "ItemPrice", "Principal"), ("Order", "ItemPrice", "Tax"),
    ("Order", "ItemPrice", "Shipping"), ("Order", "ItemFees", "Commission"),
    ("Order", "ItemFees", "FBAPerUnitFulfillmentFee"), ("Order", "Promotion", "Shipping"),
    ("Refund", "ItemPrice", "Principal"), ("Refund", "ItemFees", "Commission"),
    ("other-transaction", "other-transaction", "Subscription Fee"),
    ("other-transaction", "FBA Inventory Reimbursement", "WAREHOUSE_DAMAGE"),
    ("Previous Reserve Amount Balance", "Other", "Previous Reserve Amount Balance"),
    ("ServiceFee", "Cost of Advertising", "TransactionTotalAmount"),
]
MARKETPLACES = ["Amazon.com", "Amazon.de", "amazon.co.jp", "Non-Amazon", ""]
POOL_TEXTS = st.lists(texts(120), min_size=6, max_size=6)
SETTLEMENT_IDS = st.integers(10_000, 10**20 - 1).map(str)
BAD_LINE = {
    "amount": BAD_AMOUNTS, "posted-date": BAD_DATES, "posted-date-time": BAD_DATES,
    "quantity-purchased": ["99999999999", "1.5", "1,000", "two", "1e3", "-5000000"],
    "order-id": ["1" * 40], "sku": ["S" * 41], "settlement-id": ["999", "1" * 40],
    "currency": ["EURO", "ABC", "XYZ"], "amount-description": ["d" * 256],
    "transaction-type": ["t" * 129], "marketplace-name": ["m" * 65],
    "promotion-id": ["p" * 256], "adjustment-id": ["a" * 65],
}
BAD_SUMMARY = {
    "total-amount": BAD_AMOUNTS, "settlement-start-date": BAD_DATES,
    "settlement-end-date": BAD_DATES, "deposit-date": BAD_DATES,
    "currency": BAD_CURRENCIES + ["EURO"], "settlement-id": ["1" * 40, "12a45", "-1234"],
}


@dataclass
class GenSettlement:
    summary: dict[str, str]
    expected: dict
    lines: list[dict[str, str]]
    expected_lines: list[dict]
    bad: tuple[int, str, str] | None = None  # (line number, column, value)
    rows: list[dict[str, str]] = field(default_factory=list)


def draw_text(draw, pool: list[str], width: int) -> str:
    return pick(draw, pool)[:width].strip()


@st.composite
def settlement_files(draw, max_lines: int, *, bad: bool | None = None):
    pool = draw(POOL_TEXTS)
    currency = pick(draw, sorted(CURRENCIES))
    # ends (up to 31 days after the start) and deposits (5 more) stay in the past: a date
    # ahead of today is refused, and a valid file must not be
    start = draw_instant(draw, end=NOW - datetime.timedelta(days=40))
    end = start + datetime.timedelta(days=draw(ints(1, 30)), seconds=draw(ints(0, 86399)))
    deposit = end + datetime.timedelta(days=draw(ints(0, 5)))
    settlement_id = draw(SETTLEMENT_IDS)
    lines: list[dict[str, str]] = []
    expected_lines: list[dict] = []
    span = int((end - start).total_seconds())
    # half to all of max_lines: the row count the test asserts does not hang on the seed
    for i in range(draw(ints(max(1, max_lines // 2), max_lines))):
        ttype, atype, desc = pick(draw, KINDS)
        amount, amount_text = draw_amount(draw, currency, low=-5000, high=5000)
        when = start + datetime.timedelta(seconds=draw(ints(0, span)))
        dated = draw(ints(0, 2))  # 0: date only, 1: date-time only, 2: both
        order_id = draw(ORDER_IDS) if draw(st.booleans()) else ""
        quantity = draw(st.one_of(st.none(), ints(-3, 50)))
        cells = {
            "settlement-id": settlement_id, "transaction-type": ttype, "order-id": order_id,
            "merchant-order-id": draw_text(draw, pool, 64),
            "adjustment-id": draw_text(draw, pool, 64) if ttype == "Refund" else "",
            "shipment-id": draw_text(draw, pool, 20), "marketplace-name":
            pick(draw, MARKETPLACES), "amount-type": atype,
            "amount-description": desc if draw(ints(0, 4)) else draw_text(draw, pool, 120),
            "amount": amount_text, "fulfillment-id": pick(draw, ("AFN", "MFN", "")),
            "posted-date": draw_day_text(draw, when.date()) if dated != 1 else "",
            "posted-date-time": draw_instant_text(draw, when) if dated else "",
            "order-item-code": f"{draw(ints(0, 10**14 - 1)):014d}" if order_id else "",
            "merchant-order-item-id": draw_text(draw, pool, 30),
            "merchant-adjustment-item-id": "", "sku": draw(SKUS) if order_id else "",
            "quantity-purchased": "" if quantity is None else str(quantity),
            "promotion-id": draw_text(draw, pool, 60) if atype == "Promotion" else "",
        }
        lines.append(cells)
        expected_lines.append({
            "line_number": i + 3, "transaction_type": ttype, "order_id": order_id,
            "merchant_order_id": cells["merchant-order-id"],
            "adjustment_id": cells["adjustment-id"], "shipment_id": cells["shipment-id"],
            "marketplace_name": cells["marketplace-name"], "amount_type": atype,
            "amount_description": cells["amount-description"], "amount": amount,
            "fulfillment_id": cells["fulfillment-id"], "posted_date": when.date(),
            "posted_date_time": when if dated else None,
            "order_item_code": cells["order-item-code"],
            "merchant_order_item_id": cells["merchant-order-item-id"],
            "merchant_adjustment_item_id": "", "sku": cells["sku"],
            "quantity_purchased": quantity, "promotion_id": cells["promotion-id"],
            "extra": {},
        })
    total = sum((x["amount"] for x in expected_lines), Decimal(0))
    if draw(ints(0, 3)) == 0:  # a settlement whose lines do not add up (drift)
        total += draw_amount(draw, currency, low=-100, high=100)[0]
    places = CURRENCIES[currency]
    summary = {
        "settlement-id": settlement_id,
        "settlement-start-date": draw_instant_text(draw, start),
        "settlement-end-date": draw_instant_text(draw, end),
        "deposit-date": draw_instant_text(draw, deposit),
        "total-amount": f"{total:.{places}f}", "currency": currency,
    }
    expected = {"settlement_id": settlement_id, "start_date": start, "end_date": end,
                "deposit_date": deposit, "total_amount": total, "currency": currency,
                "line_count": len(lines),
                "sum_of_lines": sum((x["amount"] for x in expected_lines), Decimal(0))}
    gen = GenSettlement(summary, expected, lines, expected_lines)
    if bad is None:
        bad = draw(ints(0, 2)) == 0
    if bad:
        if draw(ints(0, 4)) == 0:
            column = pick(draw, sorted(BAD_SUMMARY))
            value = pick(draw, BAD_SUMMARY[column])
            if column == "total-amount" and currency == "JPY":
                value = pick(draw, [*BAD_AMOUNTS, *BAD_JPY])
            gen.bad = (2, column, value)
            summary[column] = value
        else:
            index = draw(ints(0, len(lines) - 1))
            column = pick(draw, sorted(BAD_LINE))
            values = list(BAD_LINE[column])
            if column == "amount" and currency == "JPY":
                values += BAD_JPY
            if column == "currency":
                values = [v for v in values if v != currency]
            value = pick(draw, values)
            lines[index][column] = value
            gen.bad = (index + 3, column, value)
    gen.rows = [summary, *lines]
    return gen


def file_bytes(rows: list[dict[str, str]]) -> bytes:
    out = ["\t".join(COLUMNS)] + ["\t".join(r.get(c, "") for c in COLUMNS) for r in rows]
    return ("\n".join(out) + "\n").encode("utf-8")


def check_import(account, gen: GenSettlement, budget: FuzzBudget) -> None:
    from settlements.models import Settlement, SettlementLine
    from settlements.services import settlement_import

    budget.rows += len(gen.rows)
    budget.examples += 1
    with transaction.atomic():
        if gen.bad is not None:
            budget.invalid += 1
            line, column, value = gen.bad
            with pytest.raises(ReportFormatError) as refused:
                with transaction.atomic():
                    settlement_import(account=account, source=file_bytes(gen.rows),
                                      name="fuzz.txt")
            assert (refused.value.line, refused.value.column) == (line, column), \
                (gen.bad, str(refused.value))
            assert not Settlement.objects.exists()
            assert not SettlementLine.objects.exists()
        else:
            result = settlement_import(account=account, source=file_bytes(gen.rows),
                                       name="fuzz.txt")
            assert result.created and not result.conflict
            stored = Settlement.objects.get()
            for name, value in gen.expected.items():
                assert getattr(stored, name) == value, name
            lines = list(SettlementLine.objects.filter(settlement=stored)
                         .order_by("line_number").values())
            assert len(lines) == len(gen.expected_lines)
            for got, want in zip(lines, gen.expected_lines, strict=True):
                for name, value in want.items():
                    assert got[name] == value, (want["line_number"], name)
        transaction.set_rollback(True)


def run_round_trip(account, *, examples: int, lines: int, bench: bool = False) -> FuzzBudget:
    """A third of the examples carry one invalid value, the rest none: fixed shares, so the
    coverage the test asserts does not hang on which examples the seed happens to draw."""
    budget = FuzzBudget()
    invalid_examples = max(1, examples // 3)
    for bad, count in ((False, examples - invalid_examples), (True, invalid_examples)):

        @fuzz_settings(count, bench=bench)
        @given(settlement_files(lines, bad=bad))
        def prop(gen):
            check_import(account, gen, budget)

        prop()
    return budget


def run_garbage(account, *, examples: int, bench: bool = False) -> FuzzBudget:
    from settlements.services import settlement_import

    budget = FuzzBudget()

    @fuzz_settings(examples, bench=bench)
    @given(st.data())
    def prop(data):
        gen = data.draw(settlement_files(12, bad=False))
        rows = [dict(r) for r in gen.rows]
        for _ in range(data.draw(ints(1, 4))):
            row = data.draw(st.sampled_from(rows))
            row[data.draw(st.sampled_from(COLUMNS))] = data.draw(st.one_of(
                st.text(max_size=40).map(lambda t: t.replace("\t", " ").replace("\n", " ")
                                         .replace("\r", " ")),
                st.sampled_from(BAD_AMOUNTS + BAD_DATES)))
        budget.rows += len(rows)
        budget.examples += 1
        with transaction.atomic():
            try:
                with transaction.atomic():
                    settlement_import(account=account, source=file_bytes(rows),
                                      name="garbage.txt")
            except ReportFormatError:
                pass
            transaction.set_rollback(True)

    prop()
    return budget


def test_fuzz_settlement_round_trip(account):
    budget = run_round_trip(account, examples=scale(30, "SETTLEMENT_FUZZ_EXAMPLES"),
                            lines=scale(90, "SETTLEMENT_FUZZ_LINES"))
    assert budget.rows >= 1000 and budget.invalid >= 8, budget


def test_fuzz_settlement_garbage_never_escapes(account):
    budget = run_garbage(account, examples=scale(25, "SETTLEMENT_FUZZ_GARBAGE"))
    assert budget.rows >= 50, budget
