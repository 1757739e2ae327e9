"""Returns and credit memos link to orders and order lines when the orders app has them."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from returns.models import CreditMemo, ReturnEvent
from returns.parsers import FBA_REPORT_TYPE
from returns.services import refunds_match, returns_import
from tests.returns.samples import fba_file, fba_row, refund, settlement

pytestmark = pytest.mark.django_db


def make_order(account, us, order_id="111-0000001-0000001", sku="SKU-FBA-1"):
    from orders.models import Order, OrderLine

    now = timezone.now()
    order = Order.objects.create(
        account=account, marketplace=us, amazon_order_id=order_id, purchase_date=now,
        last_update_date=now, status="Shipped", fulfillment_channel="AFN",
        order_total=Decimal("20.00"), currency="USD", first_stored_at=now,
    )
    zero = Decimal("0")
    line = OrderLine.objects.create(
        order=order, order_item_id="ITEM-1", seller_sku=sku, quantity_ordered=1,
        currency="USD", item_price=Decimal("20.00"), item_tax=zero, shipping_price=zero,
        shipping_tax=zero, shipping_discount=zero, promotion_discount=zero,
        promotion_discount_tax=zero,
    )
    return order, line


def test_return_links_to_its_order_and_line_on_import(account, us, fba_listing):
    order, line = make_order(account, us)
    returns_import(account=account, source=fba_file(), report_type=FBA_REPORT_TYPE)
    event = ReturnEvent.objects.get()
    assert event.linked_order == order and event.order_line == line
    assert event.marketplace == us  # the order told which marketplace


def test_a_return_stored_before_its_order_is_linked_by_matching(account, us, fba_listing):
    returns_import(account=account, source=fba_file(fba_row()), report_type=FBA_REPORT_TYPE,
                   marketplace=us)
    assert ReturnEvent.objects.get().linked_order is None
    order, line = make_order(account, us)
    refund(settlement(account))
    refunds_match(account=account, now=datetime.datetime(2026, 9, 20, tzinfo=datetime.UTC))
    event = ReturnEvent.objects.get()
    assert event.linked_order == order and event.order_line == line
    assert CreditMemo.objects.get().order_line == line
