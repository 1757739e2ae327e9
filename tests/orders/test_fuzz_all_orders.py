"""Fuzz: the all-orders flat file (GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL) with
generated orders, imported through the real service into the test database.

Each example is a file of generated orders, one or more rows each, the rows shuffled (an
order's rows are grouped wherever they are), some orders carrying one invalid value. After
the import (rolled back at the end of the example):

* every valid order is stored exactly as the file says: each order column and each line
  (quantities and amounts summed per SKU), field by field;
* every order with an invalid value is not stored, and its exception names the line and the
  column of that value;
* a file of random garbage cells never raises anything but the documented refusal.

``ORDERS_FUZZ_EXAMPLES`` / ``ORDERS_FUZZ_ORDERS`` scale it (``make bench`` runs it bigger).
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
from amazonsync.sandbox.reports import ALL_ORDERS_COLUMNS
from tests.amazonsync.fuzzing import (
    ASINS,
    BAD_AMOUNTS,
    BAD_ASINS,
    BAD_CURRENCIES,
    BAD_DATES,
    BAD_JPY,
    BAD_QUANTITIES,
    BAD_SKUS,
    CURRENCIES,
    NOW,
    ORDER_IDS,
    SKUS,
    FuzzBudget,
    draw_amount,
    draw_instant,
    draw_instant_text,
    fuzz_settings,
    ints,
    pick,
    scale,
    texts,
)

pytestmark = pytest.mark.django_db

COLUMNS = ALL_ORDERS_COLUMNS
STATUSES = {"Pending": "Pending", "Unshipped": "Unshipped", "Shipped": "Shipped",
            "Shipping": "PartiallyShipped", "Cancelled": "Canceled",
            "Partially Shipped": "PartiallyShipped", "Unfulfillable": "Unfulfillable"}
CHANNELS = {"Amazon": "AFN", "Merchant": "MFN", "AFN": "AFN", "MFN": "MFN"}
BUSINESS = {"true": True, "false": False, "": False, "TRUE": True, "False": False}
AMOUNT_COLUMNS = ("item-price", "item-tax", "shipping-price", "shipping-tax",
                  "item-promotion-discount", "ship-promotion-discount")
# Order-level columns a bad value goes in (on every row of the order) and the values.
BAD_ORDER_VALUES = {
    "purchase-date": BAD_DATES, "last-updated-date": BAD_DATES,
    "order-status": ["Bogus", "Lost in space"], "fulfillment-channel": ["Drone", "FBM"],
    "is-business-order": ["maybe", "2"], "ship-country": ["USA", "u", "1A"],
    "ship-city": ["c" * 129], "merchant-order-id": ["m" * 65],
    "purchase-order-number": ["p" * 65], "ship-service-level": ["s" * 33],
    "ship-postal-code": ["9" * 33],
}
BAD_LINE_VALUES = {
    "item-price": BAD_AMOUNTS, "item-tax": BAD_AMOUNTS, "shipping-price": BAD_AMOUNTS,
    "item-promotion-discount": BAD_AMOUNTS, "quantity": BAD_QUANTITIES, "sku": BAD_SKUS,
    "asin": BAD_ASINS, "currency": BAD_CURRENCIES, "product-name": ["n" * 501],
    "promotion-ids": ["i" * 256],
}


@dataclass
class GenLine:
    sku: str
    asin: str
    title: str
    quantity: int
    shipped: bool
    promotion_ids: str
    money: dict[str, tuple[Decimal, str]]  # column -> (value, text); empty when unpriced


@dataclass
class GenOrder:
    order_id: str
    currency: str
    cells: dict[str, str]  # order-level columns as written
    expected: dict  # Order fields
    lines: list[GenLine]
    bad: tuple[str, str, int | None] | None = None  # (column, value, line index or None)
    rows: list[dict] = field(default_factory=list)


STATUS_TEXTS = sorted(STATUSES)
CHANNEL_TEXTS = sorted(CHANNELS)
BUSINESS_TEXTS = sorted(BUSINESS)
CURRENCY_CHOICES = ["", *CURRENCIES]
KINDS = ("ok", "ok", "ok", "order", "line", "id")
BAD_ORDER_COLUMNS = sorted(BAD_ORDER_VALUES)
BAD_LINE_COLUMNS = sorted(BAD_LINE_VALUES)
MAYBE_ASIN = st.one_of(st.just(""), ASINS)
# SKUs mapped to an item (most lines: an unmapped SKU costs a listing discovery and an
# exception per line), and any SKU Amazon allows for the others.
MAPPED_SKUS = [f"FZ-{i:02d}" for i in range(20)] + ["fz.ü-1", "FZ_" + "9" * 37]
POOL_TEXTS = st.lists(texts(120), min_size=6, max_size=6)


def draw_text(draw, pool: list[str], width: int) -> str:
    """A text of at most ``width`` characters from the example's pool (drawing every cell's
    text costs more than the import it checks)."""
    return pick(draw, pool)[:width].strip()


def draw_sku(draw) -> str:
    return draw(SKUS) if draw(ints(0, 6)) == 0 else pick(draw, MAPPED_SKUS)


def draw_lines(draw, currency: str, pool: list[str]) -> list[GenLine]:
    out: list[GenLine] = []
    sku_pool = [draw_sku(draw) for _ in range(draw(ints(1, 3)))]
    for _ in range(draw(ints(1, 4))):
        sku = pick(draw, sku_pool)
        same = next((x for x in out if x.sku == sku), None)
        money: dict[str, tuple[Decimal, str]] = {}
        if currency:
            price = draw_amount(draw, currency, low=0, high=5000)
            ship = draw_amount(draw, currency, low=0, high=100)
            money = {
                "item-price": price,
                "item-tax": draw_amount(draw, currency, low=0, high=500),
                "shipping-price": ship,
                "shipping-tax": draw_amount(draw, currency, low=0, high=20),
            }
            places = CURRENCIES[currency]
            for column, base in (("item-promotion-discount", price[0]),
                                 ("ship-promotion-discount", ship[0])):
                share = draw(ints(0, 100))
                value = -(base * share / 100).quantize(Decimal(1).scaleb(-places),
                                                       rounding="ROUND_DOWN")
                text = f"{value:.{places}f}" if value else f"{Decimal(0):.{places}f}"
                money[column] = (value, text)
        out.append(GenLine(
            sku=sku,
            asin=same.asin if same else draw(MAYBE_ASIN),
            title=same.title if same else draw_text(draw, pool, 120),
            quantity=draw(ints(0, 50)),
            shipped=draw(st.booleans()),
            promotion_ids=same.promotion_ids if same else draw_text(draw, pool, 40),
            money=money,
        ))
    return out


def draw_order(draw, index: int, pool: list[str]) -> GenOrder:
    order_id = draw(ORDER_IDS)
    currency = pick(draw, CURRENCY_CHOICES)
    purchase = draw_instant(draw)
    updated = min(purchase + datetime.timedelta(seconds=draw(ints(0, 30 * 86400))),
                  NOW - datetime.timedelta(minutes=5))
    status_text = pick(draw, STATUS_TEXTS)
    channel_text = pick(draw, CHANNEL_TEXTS)
    business_text = pick(draw, BUSINESS_TEXTS)
    country = pick(draw, ("", "US", "DE", "JP"))
    cells = {
        "amazon-order-id": order_id,
        "purchase-date": draw_instant_text(draw, purchase),
        "last-updated-date": draw_instant_text(draw, updated),
        "order-status": status_text,
        "fulfillment-channel": channel_text,
        "sales-channel": "Amazon.com",
        "merchant-order-id": draw_text(draw, pool, 64),
        "ship-service-level": draw_text(draw, pool, 32),
        "purchase-order-number": draw_text(draw, pool, 64),
        "is-business-order": business_text,
        "ship-country": country,
        "ship-city": draw_text(draw, pool, 128) if country else "",
        "ship-state": draw_text(draw, pool, 128) if country else "",
        "ship-postal-code": draw_text(draw, pool, 32) if country else "",
    }
    status = STATUSES[status_text]
    if status == "Pending" and currency:
        status = "Unshipped"
    expected = {
        "purchase_date": purchase, "last_update_date": updated, "status": status,
        "fulfillment_channel": CHANNELS[channel_text],
        "seller_order_id": cells["merchant-order-id"],
        "ship_service_category": cells["ship-service-level"],
        "purchase_order_number": cells["purchase-order-number"],
        "is_business": BUSINESS[business_text], "currency": currency or "USD",
        "source": "report",
    }
    if country:
        expected.update({"ship_country": country, "ship_city": cells["ship-city"],
                         "ship_state": cells["ship-state"],
                         "ship_postal_code": cells["ship-postal-code"]})
    lines = draw_lines(draw, currency, pool)
    order = GenOrder(order_id, currency, cells, expected, lines)
    kind = pick(draw, KINDS)
    if kind == "order":
        column = pick(draw, BAD_ORDER_COLUMNS)
        order.bad = (column, pick(draw, BAD_ORDER_VALUES[column]), None)
        if column.startswith("ship-") and column != "ship-country" and not country:
            order.cells["ship-country"] = "US"
    elif kind == "line":
        column = pick(draw, BAD_LINE_COLUMNS)
        choices = list(BAD_LINE_VALUES[column])
        if column in AMOUNT_COLUMNS and currency == "JPY":
            choices += BAD_JPY
        order.bad = (column, pick(draw, choices), draw(ints(0, len(lines) - 1)))
    elif kind == "id" and len(lines) == 1:
        shape = draw(ints(0, 2))
        bad_id = [f"{index:040d}", f"111-{index:07d}", f"111-{index:08d}-1234567"][shape]
        order.bad = ("amazon-order-id", bad_id, 0)
    return order


def render(order: GenOrder) -> list[dict]:
    rows = []
    for i, line in enumerate(order.lines):
        row = dict(order.cells)
        row.update({
            "sku": line.sku, "asin": line.asin, "product-name": line.title,
            "quantity": str(line.quantity), "currency": order.currency,
            "item-status": "Shipped" if line.shipped else "Unshipped",
            "promotion-ids": line.promotion_ids,
        })
        row.update({column: text for column, (_, text) in line.money.items()})
        if order.bad is not None:
            column, value, index = order.bad
            if index is None or index == i:
                row[column] = value
        rows.append(row)
    return rows


def expected_lines(order: GenOrder) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for line in order.lines:
        x = out.setdefault(line.sku, {
            "asin": line.asin, "title": line.title, "promotion_ids": line.promotion_ids,
            "quantity_ordered": 0, "quantity_shipped": 0,
            "currency": order.currency or "USD", "item_price": None, "item_tax": None,
            "shipping_price": None, "shipping_tax": None, "promotion_discount": None,
            "shipping_discount": None, "order_item_id": "",
        })
        x["quantity_ordered"] += line.quantity
        x["quantity_shipped"] += line.quantity if line.shipped else 0
        for column, field_name in (("item-price", "item_price"), ("item-tax", "item_tax"),
                                   ("shipping-price", "shipping_price"),
                                   ("shipping-tax", "shipping_tax"),
                                   ("item-promotion-discount", "promotion_discount"),
                                   ("ship-promotion-discount", "shipping_discount")):
            if column in line.money:
                value = abs(line.money[column][0]) if "promotion" in column \
                    else line.money[column][0]
                x[field_name] = (x[field_name] or 0) + value
    return out


def order_total(order: GenOrder) -> Decimal | None:
    if not order.currency:
        return None
    total = Decimal(0)
    for x in expected_lines(order).values():
        total += sum((x[k] or 0 for k in ("item_price", "item_tax", "shipping_price",
                                          "shipping_tax")), Decimal(0))
        total -= (x["promotion_discount"] or 0) + (x["shipping_discount"] or 0)
    return total


def file_text(rows: list[dict]) -> bytes:
    lines = ["\t".join(COLUMNS)]
    lines += ["\t".join(str(r.get(c, "")) for c in COLUMNS) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


@st.composite
def order_files(draw, orders: int):
    generated: list[GenOrder] = []
    seen: set[str] = set()
    pool = draw(POOL_TEXTS)
    # half to all of `orders`: the row count the test asserts does not hang on the seed
    for i in range(draw(ints(max(1, orders // 2), orders))):
        order = draw_order(draw, i, pool)
        if order.order_id in seen:
            continue
        seen.add(order.order_id)
        order.rows = render(order)
        generated.append(order)
    rows = [(order, row) for order in generated for row in order.rows]
    shuffled = draw(st.permutations(rows))
    return generated, shuffled


def check_import(account, generated: list[GenOrder], shuffled, budget: FuzzBudget) -> None:
    from amazonsync.models import SyncException
    from orders.models import Order
    from orders.services import BAD_ORDER, orders_report_import

    data = file_text([row for _, row in shuffled])
    lines_of: dict[int, list[int]] = {}
    for number, (order, _) in enumerate(shuffled, start=2):
        lines_of.setdefault(id(order), []).append(number)
    budget.rows += len(shuffled)
    budget.examples += 1
    with transaction.atomic():
        result = orders_report_import(account=account, source=data)
        good = [o for o in generated if o.bad is None]
        bad = [o for o in generated if o.bad is not None]
        budget.invalid += len(bad)
        stored = {o.amazon_order_id: o for o in Order.objects.filter(account=account)
                  .prefetch_related("lines")}
        assert set(stored) == {o.order_id for o in good}
        assert result.counts.created == len(good)
        for order in good:
            row = stored[order.order_id]
            for name, value in order.expected.items():
                assert getattr(row, name) == value, (order.order_id, name)
            assert row.order_total == order_total(order), order.order_id
            want = expected_lines(order)
            got = {line.seller_sku: line for line in row.lines.all()}
            assert set(got) == set(want), order.order_id
            for sku, values in want.items():
                for name, value in values.items():
                    assert getattr(got[sku], name) == value, (order.order_id, sku, name)
        problems = {e.object_key: e for e in SyncException.objects.filter(
            reason_code=BAD_ORDER)}
        assert len(problems) == len(bad)
        for order in bad:
            column, _, index = order.bad
            numbers = lines_of[id(order)]
            if index is None:
                line = min(numbers)
            else:
                line = next(n for n, (o, r) in enumerate(shuffled, start=2)
                            if o is order and r is order.rows[index])
            key = order.bad[1] if column == "amazon-order-id" else order.order_id
            message = problems[key[:255]].message
            assert f"line {line}," in message and f"column '{column}'" in message, \
                (order.bad, line, message)
        transaction.set_rollback(True)


def run_valid_and_invalid(account, *, examples: int, orders: int, bench: bool = False
                          ) -> FuzzBudget:
    budget = FuzzBudget()

    @fuzz_settings(examples, bench=bench)
    @given(order_files(orders))
    def prop(case):
        generated, shuffled = case
        check_import(account, generated, shuffled, budget)

    prop()
    return budget


def run_garbage(account, *, examples: int, bench: bool = False) -> FuzzBudget:
    """Random text in random cells: an import either stores what it can or refuses the file
    with ReportFormatError; nothing else escapes, and nothing it stores is out of range."""
    from orders.models import Order
    from orders.services import orders_report_import

    budget = FuzzBudget()

    @fuzz_settings(examples, bench=bench)
    @given(st.data())
    def prop(data):
        generated, shuffled = data.draw(order_files(8))
        rows = [dict(row) for _, row in shuffled]
        for _ in range(data.draw(st.integers(1, 6))):
            row = data.draw(st.sampled_from(rows))
            column = data.draw(st.sampled_from(COLUMNS))
            row[column] = data.draw(st.one_of(
                st.text(max_size=60).map(lambda t: t.replace("\t", " ").replace("\n", " ")
                                         .replace("\r", " ")),
                st.sampled_from(BAD_AMOUNTS + BAD_DATES + BAD_QUANTITIES)))
        budget.rows += len(rows)
        budget.examples += 1
        with transaction.atomic():
            try:
                orders_report_import(account=account, source=file_text(rows))
            except ReportFormatError:
                pass
            for order in Order.objects.filter(account=account):
                assert order.purchase_date <= order.last_update_date
            transaction.set_rollback(True)

    prop()
    return budget


def create_mapped_skus(account, us) -> None:
    from catalog.models import Item, Listing, MerchantStock

    item = Item.objects.create(sku="FUZZ-ITEM", name="Fuzz item")
    MerchantStock.objects.create(item=item, on_hand=10**6)
    Listing.objects.bulk_create([
        Listing(account=account, marketplace=us, seller_sku=sku, channel="MFN", item=item)
        for sku in MAPPED_SKUS
    ])


@pytest.fixture
def mapped_skus(account, us):
    create_mapped_skus(account, us)


def test_fuzz_all_orders_round_trip(account, us, mapped_skus):
    budget = run_valid_and_invalid(account, examples=scale(40, "ORDERS_FUZZ_EXAMPLES"),
                                   orders=scale(36, "ORDERS_FUZZ_ORDERS"))
    assert budget.rows >= 1000 and budget.invalid >= 50, budget


def test_fuzz_all_orders_garbage_never_escapes(account, us, mapped_skus):
    budget = run_garbage(account, examples=scale(25, "ORDERS_FUZZ_GARBAGE"))
    assert budget.rows >= 100, budget
