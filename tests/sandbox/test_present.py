"""A sandbox world that lives in the present, and clock domains kept apart in its limits."""

from __future__ import annotations

import datetime

import time_machine

from amazonsync.sandbox import Sandbox, SandboxConfig, World
from amazonsync.sandbox.ledger import SETTLEMENT_DAYS
from amazonsync.sandbox.shapes import DAY
from amazonsync.sandbox.world import present_start
from amazonsync.spapi.operations import OPERATIONS

from .conftest import US

UTC = datetime.UTC


def _relative(world: World) -> dict:
    return {
        "orders": [(o.id, o.purchase - world.start, o.channel, o.mp.code,
                    [(i.product.sku, i.quantity, i.item_price, i.ship_time and
                      i.ship_time - world.start) for i in o.items]) for o in world.orders],
        # (totals follow the calendar too: the monthly subscription fee falls on the 1st)
        "settlements": [(s.id, s.mp.code, s.start - world.start, s.end - world.start,
                         len([p for p in s.postings if p.order is not None]))
                        for s in world.settlements()],
        "inbound": [(s.id, s.created - world.start) for s in world.inbound_shipments],
    }


def test_same_seed_same_world_relative_to_its_start():
    a = World(5, orders=150, start="2026-11-01T00:00:00Z")
    b = World(5, orders=150, start="2028-02-29T00:00:00Z")
    assert _relative(a) == _relative(b)
    assert _relative(World(6, orders=150, start=a.start)) != _relative(a)


def test_default_world_is_generated_back_from_today():
    for when in (datetime.datetime(2027, 3, 28, 0, 59, tzinfo=UTC),
                 datetime.datetime(2026, 12, 31, 23, 59, tzinfo=UTC)):
        with time_machine.travel(when, tick=False):
            world = World(3, orders=200)
            assert world.present
            assert world.start == present_start() == int(
                when.replace(hour=0, minute=0).timestamp())
            # history far enough back for the 89-day settlement lookback and a 60-day window
            assert world.window_start <= world.start - 120 * DAY
            closed = world.settlements(world.start)
            ends = sorted({s.end for s in closed})
            assert ends[-1] <= world.start and world.start - ends[-1] < SETTLEMENT_DAYS * DAY
            assert ends[-1] - ends[0] >= 80 * DAY
            assert all(b - a == SETTLEMENT_DAYS * DAY for a, b in zip(ends, ends[1:],
                                                                        strict=False))
            # orders up to today, and more to come as time moves on
            assert any(world.start - DAY < o.purchase <= world.start for o in world.orders)
            assert any(o.purchase > world.start for o in world.orders)


def test_sandbox_now_is_the_wall_clock_unless_a_start_is_fixed():
    when = datetime.datetime(2028, 2, 29, 15, 30, tzinfo=UTC)
    with time_machine.travel(when, tick=False):
        live = Sandbox(SandboxConfig(seed=3, orders=100))
        assert live.now == int(when.timestamp())
        assert live.info()["present"] is True
        assert live.info()["start"] == "2028-02-29T00:00:00Z"
        fixed = Sandbox(SandboxConfig(seed=3, orders=100, start="2026-11-01T00:00:00Z"))
        assert fixed.now == int(datetime.datetime(2026, 11, 1, tzinfo=UTC).timestamp())
        assert fixed.info()["present"] is False


def test_simulated_and_wall_clock_clients_never_share_a_bucket(make_sandbox):
    client = make_sandbox(rate_limits=True)
    op = OPERATIONS["getOrders"]
    params = {"MarketplaceIds": US, "CreatedAfter": "2026-10-01T00:00:00Z"}
    # A simulated-clock client spends its whole burst, far in the future of its clock...
    far = {"x-sandbox-clock": "4000000000.0", "x-sandbox-clock-id": "demo"}
    for _ in range(op.burst):
        assert client.call("getOrders", params=params, headers=far).status_code == 200
    assert client.call("getOrders", params=params, headers=far).status_code == 429
    # ...a wall-clock client still has Amazon's full burst...
    for _ in range(op.burst):
        assert client.call("getOrders", params=params).status_code == 200
    assert client.call("getOrders", params=params).status_code == 429
    # ...and another simulated clock domain, starting in the past, is not starved by either.
    past = {"x-sandbox-clock": "1000.0", "x-sandbox-clock-id": "tests"}
    assert client.call("getOrders", params=params, headers=past).status_code == 200
    # the first simulated domain refills on its own clock
    later = {"x-sandbox-clock": str(4000000000.0 + 1 / op.rate + 0.01),
             "x-sandbox-clock-id": "demo"}
    assert client.call("getOrders", params=params, headers=later).status_code == 200
