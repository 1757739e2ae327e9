"""The world generator: determinism, money consistency, settlement totals, scale."""

from __future__ import annotations

import time
from decimal import Decimal

from amazonsync.sandbox import World
from amazonsync.sandbox.reports import (
    SETTLEMENT_COLUMNS,
    all_orders_bytes,
    fba_returns_bytes,
    mfn_returns_bytes,
    settlement_bytes,
    settlement_rows,
)
from amazonsync.sandbox.shapes import DAY, order_state

from .conftest import ORDERS, SEED


def _files(world: World) -> list[bytes]:
    end = world.start
    return [
        *(settlement_bytes(s) for s in world.settlements()),
        all_orders_bytes(world, end - 60 * DAY, end, end),
        fba_returns_bytes(world, end - 120 * DAY, end, end),
        mfn_returns_bytes(world, end - 120 * DAY, end, end),
    ]


def test_same_seed_same_bytes_other_seed_differs(world):
    again = World(SEED, orders=ORDERS, start=world.start)
    assert _files(again) == _files(world)
    other = World(SEED + 1, orders=ORDERS, start=world.start)
    assert _files(other) != _files(world)


def test_settlement_total_is_exact_sum_of_lines(world):
    settlements = world.settlements()
    assert {s.currency for s in settlements} == {"USD", "CAD", "GBP", "EUR", "JPY"}
    for settlement in settlements:
        data = settlement_bytes(settlement).decode()
        lines = data.splitlines()
        assert lines[0].split("\t") == list(SETTLEMENT_COLUMNS)
        rows = [dict(zip(SETTLEMENT_COLUMNS, line.split("\t"), strict=True))
                for line in lines[1:]]
        header, body = rows[0], rows[1:]
        assert header["currency"] == settlement.currency
        assert all(r["total-amount"] == "" and r["amount"] != "" for r in body)
        total = sum((Decimal(r["amount"]) for r in body), Decimal(0))
        assert Decimal(header["total-amount"]) == total
        places = 0 if settlement.currency == "JPY" else 2
        assert all(-Decimal(r["amount"]).as_tuple().exponent == places for r in body)
        kinds = {(r["transaction-type"], r["amount-type"], r["amount-description"])
                 for r in body}
        assert ("Previous Reserve Amount Balance", "other-transaction",
                "Previous Reserve Amount Balance") in kinds
        assert ("Current Reserve Amount", "other-transaction", "Current Reserve Amount") in kinds


def test_settlements_cover_the_expected_line_types(world):
    kinds = set()
    for settlement in world.settlements():
        for row in settlement_rows(settlement)[1:]:
            kinds.add((row["transaction-type"], row["amount-type"], row["amount-description"]))
    for expected in [
        ("Order", "ItemPrice", "Principal"), ("Order", "ItemPrice", "Tax"),
        ("Order", "ItemPrice", "Shipping"), ("Order", "ItemFees", "Commission"),
        ("Order", "ItemFees", "FBAPerUnitFulfillmentFee"), ("Order", "Promotion", "Principal"),
        ("Order", "ItemWithheldTax", "MarketplaceFacilitatorTax-Principal"),
        ("Refund", "ItemPrice", "Principal"), ("Refund", "ItemFees", "RefundCommission"),
        ("other-transaction", "other-transaction", "Storage Fee"),
        ("other-transaction", "other-transaction", "Subscription Fee"),
    ]:
        assert expected in kinds, expected
    assert any(k[1] == "FBA Inventory Reimbursement" for k in kinds)


def test_orders_settle_with_the_same_money_as_the_api(world):
    order = next(o for o in world.orders
                 if o.channel == "AFN" and o.cancel is None and o.purchase < world.start - 30 * DAY)
    posted = [line for p in world.ledger if p.order is order and p.transaction_type == "Order"
              for line in p.lines if (line.amount_type, line.description) == ("ItemPrice",
                                                                             "Principal")]
    assert sum(line.amount for line in posted) == sum(i.item_price for i in order.items)


def test_world_mix(world):
    states = [order_state(o, world.start) for o in world.orders]
    statuses = {s.status for s in states if s}
    assert {"Shipped", "Canceled", "Unshipped"} <= statuses
    assert {o.mp.currency for o in world.orders} == {"USD", "CAD", "GBP", "EUR", "JPY"}
    assert any(o.channel == "MFN" and o.is_prime for o in world.orders)  # Seller Fulfilled Prime
    assert any(o.is_business for o in world.orders)
    assert any(o.purchase > world.start for o in world.orders)  # future orders appear later
    kinds = {p.kind for p in world.products.values()}
    assert kinds == {"simple", "kit", "parent", "child"}
    assert any(len(set(p.channels.values())) == 2 for p in world.products.values())
    assert all(p.asin.startswith("B0") and len(p.asin) == 10 for p in world.products.values())
    assert all(p.fnsku.startswith("X00") for p in world.products.values() if p.fnsku)
    jpy = next(o for o in world.orders if o.currency == "JPY")
    assert all(i.item_price == i.item_price.to_integral_value() for i in jpy.items)


def test_order_changes_status_over_time(world):
    order = next(o for o in world.orders if o.channel == "AFN" and o.cancel is None
                 and o.purchase > world.start)
    assert order_state(order, order.purchase - 1) is None
    assert order_state(order, order.purchase).status == "Pending"
    assert order_state(order, order.pending_until).status == "Unshipped"
    last_ship = max(i.ship_time for i in order.items)
    assert order_state(order, last_ship).status == "Shipped"
    assert order_state(order, last_ship).last_update == last_ship


def test_ten_thousand_orders_generate_quickly():
    started = time.perf_counter()
    big = World(3, orders=10_000)
    assert len(big.orders) == 10_000
    assert len(big.orders_by_id) == 10_000
    assert time.perf_counter() - started < 5
