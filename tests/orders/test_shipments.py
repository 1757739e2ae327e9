"""MFN shipment confirmation: several packages, carrier mapping checked before any call,
missing tracking number, Amazon's rejection kept with a retry, acknowledgement SLA."""

from __future__ import annotations

import datetime
import json

import pytest
import responses

from amazonsync.models import ApiCall, SyncException
from amazonsync.services import exceptions_retry, flow_run
from amazonsync.spapi.clock import SimulatedClock
from amazonsync.spapi.operations import LWA_TOKEN_URL
from orders.models import CarrierMapping, Order, ShipmentStatus
from orders.services import (
    AMAZON_REJECTED,
    MISSING_TRACKING,
    UNKNOWN_CARRIER,
    carrier_mapping_upsert,
    orders_upsert,
    shipment_record,
    shipment_update,
)
from tests.orders.builders import T0, US, data, v0_item, v0_order

pytestmark = pytest.mark.django_db
API = "https://sandbox.invalid"
OID = "111-0000100-0000001"
CONFIRM = f"{API}/orders/v0/orders/{OID}/shipmentConfirmation"


@pytest.fixture(autouse=True)
def simulated_clock(monkeypatch):
    monkeypatch.setattr("amazonsync.spapi.client.RealClock", lambda: SimulatedClock())


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, LWA_TOKEN_URL, json={
            "access_token": "Atza|test", "token_type": "bearer", "expires_in": 3600})
        yield mock


@pytest.fixture
def order(account, mapped):
    latest = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2)
    orders_upsert(account=account, batch=[data(
        v0_order(OID, latest_ship=latest),
        [v0_item("SKU-MFN", item_id="9001", qty=2), v0_item("SKU-FBA", item_id="9002")],
    )])
    return Order.objects.get(amazon_order_id=OID)


@pytest.fixture
def ups(db):
    return carrier_mapping_upsert(carrier="UPS", amazon_carrier_code="ups",
                                  shipping_method="UPS Ground")


def confirm_calls(rsps):
    return [json.loads(c.request.body) for c in rsps.calls if c.request.url == CONFIRM]


def run_shipments(account):
    return flow_run(flow="shipments", account_id=account.pk, marketplace_id=US)


def lines(order):
    return {line.seller_sku: line for line in order.lines.all()}


def test_several_packages_are_confirmed_one_call_each(account, order, ups, rsps):
    rsps.add(responses.POST, CONFIRM, status=204)
    by_sku = lines(order)
    first = shipment_record(order=order, carrier="ups", tracking_number="1Z001",
                            ship_date=T0, lines=[(by_sku["SKU-MFN"], 1)])
    second = shipment_record(order=order, carrier="UPS", tracking_number="1Z002",
                             ship_date=T0, lines=[(by_sku["SKU-MFN"], 1),
                                                  (by_sku["SKU-FBA"], 1)])
    run = run_shipments(account)
    assert run.status == "succeeded" and run.updated == 2
    bodies = confirm_calls(rsps)
    assert [b["packageDetail"]["packageReferenceId"] for b in bodies] == ["1", "2"]
    assert bodies[0] == {"marketplaceId": US, "packageDetail": {
        "packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1Z001",
        "shipDate": "2026-11-01T12:00:00Z", "shippingMethod": "UPS Ground",
        "orderItems": [{"orderItemId": "9001", "quantity": 1}]}}
    assert bodies[1]["packageDetail"]["orderItems"] == [
        {"orderItemId": "9001", "quantity": 1}, {"orderItemId": "9002", "quantity": 1}]
    for shipment in (first, second):
        shipment.refresh_from_db()
        assert shipment.status == ShipmentStatus.CONFIRMED and shipment.confirmed_at
    order.refresh_from_db()
    assert order.acknowledged_at is not None and order.ack_sla_met is True
    # nothing left to confirm: a second run sends nothing
    run_shipments(account)
    assert len(confirm_calls(rsps)) == 2


def test_more_units_than_unshipped_are_refused(order):
    from orders.services import ShipmentInvalid

    line = lines(order)["SKU-MFN"]
    shipment_record(order=order, carrier="UPS", tracking_number="1", ship_date=T0,
                    lines=[(line, 2)])
    with pytest.raises(ShipmentInvalid, match="only 0 left"):
        shipment_record(order=order, carrier="UPS", tracking_number="2", ship_date=T0,
                        lines=[(line, 1)])


def test_unknown_carrier_is_an_exception_not_an_api_call(account, order, rsps):
    rsps.add(responses.POST, CONFIRM, status=204)
    shipment = shipment_record(order=order, carrier="Acme Couriers", tracking_number="AC1",
                               ship_date=T0, lines=[(lines(order)["SKU-MFN"], 2)])
    run = run_shipments(account)
    assert run.failed == 1
    assert confirm_calls(rsps) == []
    exc = SyncException.objects.get(reason_code=UNKNOWN_CARRIER)
    assert exc.status == "open" and exc.object_key == f"{OID}/1"
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PENDING and "Acme Couriers" in shipment.last_error

    carrier_mapping_upsert(carrier="ACME couriers", amazon_carrier_code="Other",
                           amazon_carrier_name="Acme Couriers Ltd")
    assert run_shipments(account).updated == 1
    body = confirm_calls(rsps)[0]["packageDetail"]
    assert (body["carrierCode"], body["carrierName"]) == ("Other", "Acme Couriers Ltd")
    exc.refresh_from_db()
    assert exc.status == "resolved"


def test_missing_tracking_number_is_an_exception_not_an_api_call(account, order, ups, rsps):
    rsps.add(responses.POST, CONFIRM, status=204)
    shipment = shipment_record(order=order, carrier="UPS", tracking_number="",
                               ship_date=T0, lines=[(lines(order)["SKU-MFN"], 1)])
    run_shipments(account)
    assert confirm_calls(rsps) == []
    assert SyncException.objects.get(reason_code=MISSING_TRACKING).status == "open"
    shipment_update(shipment=shipment, tracking_number="1Z777")
    run_shipments(account)
    assert confirm_calls(rsps)[0]["packageDetail"]["trackingNumber"] == "1Z777"
    assert SyncException.objects.get(reason_code=MISSING_TRACKING).status == "resolved"


def test_amazon_rejection_is_kept_on_the_shipment_and_retried(account, order, ups, rsps):
    rsps.add(responses.POST, CONFIRM, status=400, json={"errors": [{
        "code": "InvalidInput", "message": "Invalid carrierCode: UPS",
        "details": "Use one of Amazon's accepted carrier codes"}]})
    shipment = shipment_record(order=order, carrier="UPS", tracking_number="1Z9",
                               ship_date=T0, lines=[(lines(order)["SKU-MFN"], 2)])
    run = run_shipments(account)
    assert run.status == "succeeded" and run.failed == 1
    assert len(confirm_calls(rsps)) == 1  # a 400 is not retried
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.FAILED
    assert shipment.amazon_response["errors"][0]["message"] == "Invalid carrierCode: UPS"
    assert "Invalid carrierCode" in shipment.last_error
    exc = SyncException.objects.get(reason_code=AMAZON_REJECTED)
    assert exc.status == "open" and exc.payload["shipment_id"] == shipment.pk
    # a failed package is not sent again by the schedule...
    run_shipments(account)
    assert len(confirm_calls(rsps)) == 1
    # ...but retrying the exception sends it again
    rsps.replace(responses.POST, CONFIRM, status=204)
    recorded = ApiCall.objects.filter(operation="confirmShipment").count()
    outcome = exceptions_retry(exception_ids=[exc.pk])
    assert outcome.resolved == 1
    # the retry goes through the engine's client: its call is recorded like any other
    assert ApiCall.objects.filter(operation="confirmShipment").count() == recorded + 1
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.CONFIRMED
    exc.refresh_from_db()
    assert exc.status == "resolved"


def test_sla_is_missed_when_confirmed_after_the_latest_ship_date(account, mapped, ups, rsps):
    oid = "111-0000100-0000002"
    url = f"{API}/orders/v0/orders/{oid}/shipmentConfirmation"
    rsps.add(responses.POST, url, status=204)
    late = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    orders_upsert(account=account, batch=[data(
        v0_order(oid, latest_ship=late, updated=late - datetime.timedelta(hours=1)),
        [v0_item("SKU-MFN", item_id="77")])])
    order = Order.objects.get(amazon_order_id=oid)
    shipment_record(order=order, carrier="UPS", tracking_number="1Z", ship_date=T0,
                    lines=[(order.lines.get(), 1)])
    run_shipments(account)
    order.refresh_from_db()
    assert order.acknowledged_at > order.latest_ship_date
    assert order.ack_sla_met is False


def test_lines_from_the_report_get_item_ids_before_confirmation(account, mapped, ups, rsps):
    from orders.parsers import LineData, OrderData

    oid = "111-0000100-0000003"
    base = data(v0_order(oid), None)
    orders_upsert(account=account, batch=[OrderData(
        amazon_order_id=oid, marketplace_id=US, source="report", values=base.values,
        lines=[LineData(seller_sku="SKU-MFN", values={"quantity_ordered": 1})])])
    order = Order.objects.get(amazon_order_id=oid)
    rsps.add(responses.GET, f"{API}/orders/v0/orders/{oid}/orderItems", json={"payload": {
        "AmazonOrderId": oid, "OrderItems": [v0_item("SKU-MFN", item_id="31337")]}})
    url = f"{API}/orders/v0/orders/{oid}/shipmentConfirmation"
    rsps.add(responses.POST, url, status=204)
    shipment_record(order=order, carrier="UPS", tracking_number="1Z", ship_date=T0,
                    lines=[(order.lines.get(), 1)])
    assert run_shipments(account).updated == 1
    sent = json.loads(next(c.request.body for c in rsps.calls if c.request.url == url))
    assert sent["packageDetail"]["orderItems"] == [{"orderItemId": "31337", "quantity": 1}]


def test_carrier_codes_must_be_ones_amazon_accepts(db):
    from django.db import IntegrityError, transaction

    with pytest.raises(ValueError, match="not a carrier code"):
        carrier_mapping_upsert(carrier="X", amazon_carrier_code="Speedy Pigeon")
    with pytest.raises(ValueError, match="Other"):
        carrier_mapping_upsert(carrier="X", amazon_carrier_code="Other")
    with pytest.raises(IntegrityError), transaction.atomic():
        CarrierMapping.objects.create(carrier="Y", amazon_carrier_code="Speedy Pigeon")
