"""Fuzz: the FBA customer returns report and the MFN returns report with generated rows.

Each example is a file of generated returns (each with its own natural key), some rows with
one invalid value.

* Parsed (``parse_returns``; thousands of rows in a second): every valid row is read exactly
  as the file says, field by field; every invalid row is a ``BadReturnRow`` naming its line
  and its column.
* Imported through the real service (``returns_import``) into the test database, rolled
  back after each example: every valid row is stored exactly as the file says, field by
  field; every invalid row is not stored and its exception names its line and its column.
  The import costs ~15 ms a row (listing, stock adjustment, exceptions per row), so the
  default suite imports a few hundred rows per report type and ``make bench`` thousands.
* A file of random garbage cells never raises anything but the documented refusal.

``RETURNS_FUZZ_*`` variables scale it (``make bench`` runs it bigger).
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
from returns.parsers import FBA_REPORT_TYPE, MFN_REPORT_TYPE
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
    draw_day_text,
    draw_instant,
    draw_instant_text,
    fuzz_settings,
    ints,
    pick,
    scale,
    texts,
)
from tests.returns.samples import FBA_HEADER, MFN_HEADER

pytestmark = pytest.mark.django_db

MAPPED_SKUS = [f"RZ-{i:02d}" for i in range(20)] + ["rz.ü-1"]
DISPOSITIONS = {"SELLABLE": "SELLABLE", "CUSTOMER_DAMAGED": "CUSTOMER_DAMAGED",
                "DEFECTIVE": "DEFECTIVE", "CARRIER_DAMAGED": "CARRIER_DAMAGED",
                "Customer Damaged": "CUSTOMER_DAMAGED", "damaged": "DAMAGED"}
DISPOSITION_TEXTS = sorted(DISPOSITIONS)
MFN_CURRENCIES = ["", *CURRENCIES]
POOL_TEXTS = st.lists(texts(120), min_size=6, max_size=6)
MAYBE_ASIN = st.one_of(st.just(""), ASINS)
FNSKUS = st.one_of(st.just(""), st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=10,
                                        max_size=10))

BAD_FBA = {
    "return-date": BAD_DATES + [""], "order-id": ["1" * 40, "111-1234567", ""],
    "sku": BAD_SKUS + [""], "asin": BAD_ASINS, "fnsku": ["X0001", "x000000001"],
    "product-name": ["n" * 501], "quantity": BAD_QUANTITIES + ["0", ""],
    "fulfillment-center-id": ["F" * 17], "detailed-disposition": ["D" * 65],
    "reason": ["R" * 65], "status": ["S" * 65], "license-plate-number": ["L" * 65],
    "customer-comments": ["c" * 5001],
}
BAD_MFN = {
    "Order ID": ["1" * 40, "111-1234567-12345678"], "Return request date": BAD_DATES,
    "Merchant SKU": BAD_SKUS, "Return quantity": BAD_QUANTITIES + ["0"],
    "Currency code": BAD_CURRENCIES, "Refunded Amount": BAD_AMOUNTS,
    "Order Amount": BAD_AMOUNTS, "Return delivery date": BAD_DATES,
    "Amazon RMA ID": ["R" * 65], "Return reason": ["x" * 65], "Item Name": ["n" * 501],
    "ASIN": BAD_ASINS,
}


@dataclass
class GenReturn:
    cells: dict[str, str]
    expected: dict
    bad: tuple[str, str] | None = None
    line: int = 0
    extra: dict = field(default_factory=dict)


def draw_text(draw, pool: list[str], width: int) -> str:
    return pick(draw, pool)[:width].strip()


def draw_sku(draw) -> str:
    return draw(SKUS) if draw(ints(0, 6)) == 0 else pick(draw, MAPPED_SKUS)


def draw_fba(draw, index: int, pool: list[str]) -> GenReturn:
    when = draw_instant(draw)
    disposition = pick(draw, DISPOSITION_TEXTS)
    lpn = f"LPN{index:06d}{draw_text(draw, pool, 20)}"[:64].strip()
    cells = {
        "return-date": draw_instant_text(draw, when), "order-id": draw(ORDER_IDS),
        "sku": draw_sku(draw), "asin": draw(MAYBE_ASIN), "fnsku": draw(FNSKUS),
        "product-name": draw_text(draw, pool, 120), "quantity": str(draw(ints(1, 500))),
        "fulfillment-center-id": draw_text(draw, pool, 16),
        "detailed-disposition": disposition, "reason": draw_text(draw, pool, 64),
        "status": draw_text(draw, pool, 64), "license-plate-number": lpn,
        "customer-comments": draw_text(draw, pool, 120),
    }
    expected = {
        "channel": "FBA", "order_id": cells["order-id"], "seller_sku": cells["sku"],
        "reference": lpn, "return_date": when, "disposition": DISPOSITIONS[disposition],
        "asin": cells["asin"], "fnsku": cells["fnsku"], "product_name": cells["product-name"],
        "quantity": int(cells["quantity"]), "reason": cells["reason"],
        "customer_comment": cells["customer-comments"], "status": cells["status"],
        "fulfillment_center": cells["fulfillment-center-id"], "license_plate_number": lpn,
        "rma_id": "", "currency": "", "refunded_amount": None, "received_at": None,
        "report_type": FBA_REPORT_TYPE,
    }
    ret = GenReturn(cells, expected)
    if draw(ints(0, 3)) == 0:
        column = pick(draw, sorted(BAD_FBA))
        ret.bad = (column, pick(draw, BAD_FBA[column]))
    return ret


def draw_mfn(draw, index: int, pool: list[str]) -> GenReturn:
    day = draw_instant(draw).date()
    currency = pick(draw, MFN_CURRENCIES)
    refunded = ordered = None
    if currency:
        refunded = draw_amount(draw, currency, low=0, high=5000) if draw(st.booleans()) \
            else None
        ordered = draw_amount(draw, currency, low=0, high=5000)
    delivered = None
    if draw(st.booleans()):
        delivered = min(day + datetime.timedelta(days=draw(ints(0, 30))),
                        (NOW - datetime.timedelta(days=1)).date())
    rma = f"DRMA{index:06d}{draw_text(draw, pool, 20)}"[:64].strip()
    cells = {
        "Order ID": draw(ORDER_IDS), "Order date": "", "Return request date":
        draw_day_text(draw, day), "Return request status": draw_text(draw, pool, 64),
        "Amazon RMA ID": rma, "Currency code": currency.lower() if currency and
        draw(ints(0, 5)) == 0 else currency, "ASIN": draw(MAYBE_ASIN),
        "Merchant SKU": draw_sku(draw), "Item Name": draw_text(draw, pool, 120),
        "Return quantity": str(draw(ints(1, 500))),
        "Return reason": draw_text(draw, pool, 64),
        "Return delivery date": draw_day_text(draw, delivered) if delivered else "",
        "Order Amount": ordered[1] if ordered else "",
        "Refunded Amount": refunded[1] if refunded else "",
    }
    expected = {
        "channel": "MFN", "order_id": cells["Order ID"], "seller_sku": cells["Merchant SKU"],
        "reference": rma, "rma_id": rma, "disposition": "",
        "return_date": datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC),
        "asin": cells["ASIN"], "fnsku": "", "product_name": cells["Item Name"],
        "quantity": int(cells["Return quantity"]), "reason": cells["Return reason"],
        "status": cells["Return request status"], "customer_comment": "",
        "fulfillment_center": "", "license_plate_number": "", "currency": currency,
        "refunded_amount": refunded[0] if refunded else None, "received_at": delivered,
        "report_type": MFN_REPORT_TYPE,
    }
    ret = GenReturn(cells, expected)
    if draw(ints(0, 3)) == 0:
        column = pick(draw, sorted(BAD_MFN))
        values = list(BAD_MFN[column])
        if column.endswith("Amount") and currency == "JPY":
            values += BAD_JPY
        ret.bad = (column, pick(draw, values))
    return ret


@st.composite
def return_files(draw, channel: str, rows: int):
    pool = draw(POOL_TEXTS)
    maker = draw_fba if channel == "FBA" else draw_mfn
    out = []
    # half to all of `rows`: the row count the test asserts does not hang on the seed
    for i in range(draw(ints(max(1, rows // 2), rows))):
        ret = maker(draw, i, pool)
        if ret.bad is not None:
            ret.cells[ret.bad[0]] = ret.bad[1]
        ret.line = i + 2
        out.append(ret)
    return out


def file_bytes(header, rows: list[dict]) -> bytes:
    lines = ["\t".join(header)] + ["\t".join(r.get(c, "") for c in header) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def check_import(account, us, channel: str, generated: list[GenReturn],
                 budget: FuzzBudget) -> None:
    from amazonsync.models import SyncException
    from returns.models import ReturnEvent
    from returns.services import BAD_ROW, returns_import

    report_type, header = ((FBA_REPORT_TYPE, FBA_HEADER) if channel == "FBA"
                           else (MFN_REPORT_TYPE, MFN_HEADER))
    budget.rows += len(generated)
    budget.examples += 1
    with transaction.atomic():
        counts = returns_import(account=account, report_type=report_type, marketplace=us,
                                source=file_bytes(header, [r.cells for r in generated]),
                                name="fuzz.txt")
        good = [r for r in generated if r.bad is None]
        bad = [r for r in generated if r.bad is not None]
        budget.invalid += len(bad)
        assert counts.created == len(good) and counts.exceptions == len(bad), counts
        stored = {(e.channel, e.reference): e for e in ReturnEvent.objects.filter(
            account=account)}
        assert set(stored) == {("FBA" if channel == "FBA" else "MFN",
                                r.expected["reference"]) for r in good}
        for ret in good:
            event = stored[(ret.expected["channel"], ret.expected["reference"])]
            for name, value in ret.expected.items():
                assert getattr(event, name) == value, (ret.line, name)
            assert event.marketplace_id == us.pk
            assert event.raw == {c.lower(): v for c, v in zip(header, [
                ret.cells.get(c, "") for c in header], strict=True)}
        problems = {e.payload["line"]: e for e in SyncException.objects.filter(
            reason_code=BAD_ROW)}
        assert set(problems) == {r.line for r in bad}
        for ret in bad:
            message = problems[ret.line].message
            column = ret.bad[0].lower()
            assert f"line {ret.line}:" in message and f"(column '{column}')" in message, \
                (ret.bad, message)
        transaction.set_rollback(True)


# ReturnRow attribute for each expected ReturnEvent field (None: not on the parsed row).
ROW_FIELDS = {"channel": "channel", "order_id": "order_id", "seller_sku": "seller_sku",
              "reference": "reference", "return_date": "return_date",
              "disposition": "disposition", "asin": "asin", "fnsku": "fnsku",
              "product_name": "product_name", "quantity": "quantity", "reason": "reason",
              "customer_comment": "customer_comment", "status": "status",
              "fulfillment_center": "fulfillment_center",
              "license_plate_number": "license_plate_number", "rma_id": "rma_id",
              "currency": "currency", "refunded_amount": "refunded_amount",
              "received_at": "received_at", "report_type": None}


def check_parse(channel: str, generated: list[GenReturn], budget: FuzzBudget) -> None:
    from returns.parsers import BadReturnRow, parse_returns

    report_type, header = ((FBA_REPORT_TYPE, FBA_HEADER) if channel == "FBA"
                           else (MFN_REPORT_TYPE, MFN_HEADER))
    budget.rows += len(generated)
    budget.examples += 1
    report = parse_returns(file_bytes(header, [r.cells for r in generated]),
                           report_type=report_type, name="fuzz.txt", dayfirst=False)
    rows = list(report.rows())
    assert [r.line for r in rows] == [g.line for g in generated]
    for ret, row in zip(generated, rows, strict=True):
        if ret.bad is None:
            assert not isinstance(row, BadReturnRow), (ret.cells, row)
            for name, attribute in ROW_FIELDS.items():
                if attribute is not None:
                    assert getattr(row, attribute) == ret.expected[name], (ret.line, name)
        else:
            budget.invalid += 1
            assert isinstance(row, BadReturnRow), (ret.bad, row)
            assert (row.line, row.column) == (ret.line, ret.bad[0].lower()), (ret.bad, row)


def run_parse(channel: str, *, examples: int, rows: int, bench: bool = False) -> FuzzBudget:
    budget = FuzzBudget()

    @fuzz_settings(examples, bench=bench)
    @given(return_files(channel, rows))
    def prop(generated):
        check_parse(channel, generated, budget)

    prop()
    return budget


def run_round_trip(account, us, channel: str, *, examples: int, rows: int,
                   bench: bool = False) -> FuzzBudget:
    budget = FuzzBudget()

    @fuzz_settings(examples, bench=bench)
    @given(return_files(channel, rows))
    def prop(generated):
        check_import(account, us, channel, generated, budget)

    prop()
    return budget


def run_garbage(account, us, channel: str, *, examples: int, bench: bool = False
                ) -> FuzzBudget:
    from returns.services import returns_import

    budget = FuzzBudget()
    report_type, header = ((FBA_REPORT_TYPE, FBA_HEADER) if channel == "FBA"
                           else (MFN_REPORT_TYPE, MFN_HEADER))

    @fuzz_settings(examples, bench=bench)
    @given(st.data())
    def prop(data):
        rows = [dict(r.cells) for r in data.draw(return_files(channel, 10))]
        for _ in range(data.draw(ints(1, 6))):
            row = data.draw(st.sampled_from(rows))
            row[data.draw(st.sampled_from(header))] = data.draw(st.one_of(
                st.text(max_size=60).map(lambda t: t.replace("\t", " ").replace("\n", " ")
                                         .replace("\r", " ")),
                st.sampled_from(BAD_AMOUNTS + BAD_DATES + BAD_QUANTITIES)))
        budget.rows += len(rows)
        budget.examples += 1
        with transaction.atomic():
            try:
                returns_import(account=account, report_type=report_type, marketplace=us,
                               source=file_bytes(header, rows), name="garbage.txt")
            except ReportFormatError:
                pass
            transaction.set_rollback(True)

    prop()
    return budget


def create_mapped_skus(account, us) -> None:
    from catalog.models import FbaStock, Item, Listing, MerchantStock

    item = Item.objects.create(sku="RFUZZ-ITEM", name="Fuzz item")
    MerchantStock.objects.create(item=item, on_hand=10**6)
    listings = Listing.objects.bulk_create([
        Listing(account=account, marketplace=us, seller_sku=sku, channel="FBA", item=item,
                price=Decimal("10.00"), currency="USD")
        for sku in MAPPED_SKUS
    ])
    FbaStock.objects.bulk_create([FbaStock(listing=x, fulfillable=10) for x in listings])


@pytest.fixture
def mapped_skus(account, us, rules):
    create_mapped_skus(account, us)


@pytest.mark.parametrize("channel", ["FBA", "MFN"])
def test_fuzz_returns_parse(channel):
    budget = run_parse(channel, examples=scale(40, "RETURNS_FUZZ_PARSE_EXAMPLES"),
                       rows=scale(100, "RETURNS_FUZZ_PARSE_ROWS"))
    assert budget.rows >= 1000 and budget.invalid >= 200, budget


@pytest.mark.parametrize("channel", ["FBA", "MFN"])
def test_fuzz_returns_round_trip(account, us, mapped_skus, channel):
    budget = run_round_trip(account, us, channel,
                            examples=scale(14, "RETURNS_FUZZ_EXAMPLES"),
                            rows=scale(60, "RETURNS_FUZZ_ROWS"))
    assert budget.rows >= 200 and budget.invalid >= 40, budget


@pytest.mark.parametrize("channel", ["FBA", "MFN"])
def test_fuzz_returns_garbage_never_escapes(account, us, mapped_skus, channel):
    budget = run_garbage(account, us, channel, examples=scale(15, "RETURNS_FUZZ_GARBAGE"))
    assert budget.rows >= 50, budget
