"""MFN shipments: recorded by ops, confirmed to Amazon by the ``shipments`` flow.

A package is checked before any call (carrier mapping, tracking number, order item ids);
Amazon's rejection fails it and queues an exception, a transport failure leaves it pending
for the next run. Every function is keyword-only and atomic.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from amazonsync.models import SyncException, Team
from amazonsync.services import exception_record, exception_resolve, register_retry
from amazonsync.spapi.clock import utcnow
from amazonsync.spapi.errors import InvalidInput, NotFound, SpApiError

from ..models import (
    SHIPPABLE_STATUSES,
    CarrierMapping,
    FulfillmentChannel,
    Order,
    OrderLine,
    OrderStatus,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from ..parsers import OrderDataError, lines_from_api
from ..selectors import carrier_mapping_for
from .lines import order_lines_fill_ids
from .reasons import (
    AMAZON_REJECTED,
    CONFIRM_ERROR,
    MISSING_ITEM_IDS,
    MISSING_TRACKING,
    SHIPMENT_REASONS,
    SHIPMENTS_FLOW,
    UNKNOWN_CARRIER,
    shipment_exception_key,
)


class ShipmentInvalid(ValueError):
    """A shipment that cannot be recorded (not MFN, too many units, ...)."""


def shipments_cancel(*, order_ids: Iterable[int]) -> int:
    """Cancel the unconfirmed shipments of canceled orders (and close their exceptions)."""
    with transaction.atomic():
        pending = list(Shipment.objects.filter(
            order_id__in=list(order_ids),
            status__in=[ShipmentStatus.PENDING, ShipmentStatus.FAILED],
        ).select_related("order"))
        if not pending:
            return 0
        Shipment.objects.filter(pk__in=[s.pk for s in pending]).update(
            status=ShipmentStatus.CANCELED, last_error="The order was canceled by Amazon."
        )
        for shipment in pending:
            for reason in SHIPMENT_REASONS:
                exception_resolve(flow=SHIPMENTS_FLOW, object_kind="shipment",
                                  object_key=shipment_exception_key(shipment),
                                  reason_code=reason, note="resolved: the order was canceled")
    return len(pending)


def shipment_record(
    *,
    order: Order,
    carrier: str,
    tracking_number: str,
    ship_date: datetime.datetime,
    lines: Sequence[tuple[OrderLine, int]],
    ship_method: str = "",
    package_reference_id: str = "",
    user=None,
) -> Shipment:
    """Record one MFN package for confirmation by the ``shipments`` flow.

    The carrier is our name for it; the Amazon carrier code is looked up in the carrier
    mappings when the flow confirms the package, so a mapping fixed later applies. A missing
    tracking number or an unknown carrier is accepted here and becomes an exception in the
    flow, before any call to Amazon.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.fulfillment_channel != FulfillmentChannel.MFN:
            raise ShipmentInvalid(
                f"Order {order.amazon_order_id} is fulfilled by Amazon: there is nothing to "
                "confirm.")
        if order.status not in SHIPPABLE_STATUSES:
            raise ShipmentInvalid(
                f"Order {order.amazon_order_id} is {order.get_status_display()}: only unshipped "
                "or partially shipped orders can be shipped.")
        wanted = [(line, qty) for line, qty in lines if qty]
        if not wanted:
            raise ShipmentInvalid("A shipment needs at least one line with a quantity.")
        if not carrier.strip():
            raise ShipmentInvalid("A shipment needs a carrier.")
        open_qty: dict[int, int] = defaultdict(int)
        for line_id, qty in ShipmentLine.objects.filter(
            shipment__order=order,
            shipment__status__in=[ShipmentStatus.PENDING, ShipmentStatus.FAILED],
        ).values_list("order_line_id", "quantity"):
            open_qty[line_id] += qty
        for line, qty in wanted:
            line.refresh_from_db()
            if line.order_id != order.pk:
                raise ShipmentInvalid(f"Line {line.pk} is not a line of this order.")
            if qty < 0:
                raise ShipmentInvalid("Quantities cannot be negative.")
            left = line.quantity_unshipped - open_qty[line.pk]
            if qty > left:
                raise ShipmentInvalid(
                    f"{line.seller_sku}: {qty} units to ship but only {left} left unshipped "
                    "(counting packages waiting for confirmation).")
        reference = package_reference_id.strip() or _next_package_reference(order)
        try:
            with transaction.atomic():
                shipment = Shipment.objects.create(
                    order=order, package_reference_id=reference, carrier=carrier.strip(),
                    ship_method=ship_method.strip(), tracking_number=tracking_number.strip(),
                    ship_date=ship_date, created_by=user,
                )
        except IntegrityError:
            raise ShipmentInvalid(
                f"Package {reference} is already recorded for this order.") from None
        ShipmentLine.objects.bulk_create([
            ShipmentLine(shipment=shipment, order_line=line, quantity=qty)
            for line, qty in wanted
        ])
    return shipment


def _next_package_reference(order: Order) -> str:
    n = Shipment.objects.filter(order=order).count() + 1
    while Shipment.objects.filter(order=order, package_reference_id=str(n)).exists():
        n += 1
    return str(n)


def _shipment_problem(*, shipment: Shipment, flow: str, reason: str, message: str,
                      run=None, extra: dict | None = None) -> None:
    Shipment.objects.filter(pk=shipment.pk).update(last_error=message[:5000])
    shipment.last_error = message
    exception_record(
        flow=flow, object_kind="shipment", object_key=shipment_exception_key(shipment),
        reason_code=reason, owner_team=Team.OPS, account=shipment.order.account,
        marketplace=shipment.order.marketplace, message=message,
        payload={"amazon_order_id": shipment.order.amazon_order_id,
                 "shipment_id": shipment.pk,
                 "package_reference_id": shipment.package_reference_id, **(extra or {})},
        run=run,
    )


def shipment_confirm(*, shipment: Shipment, client, flow: str = SHIPMENTS_FLOW, run=None
                     ) -> str:
    """Confirm one package to Amazon (confirmShipment). Returns the shipment's status.

    Checked before any call: the carrier mapping, the tracking number and that every line
    has Amazon's order item id (fetched with the order's items when missing). Amazon's
    rejection is stored on the shipment (failed) and queued as an exception; transport
    failures leave it pending for the next run.
    """
    shipment = Shipment.objects.select_related("order__marketplace", "order__account").get(
        pk=shipment.pk)
    order = shipment.order
    if shipment.status in (ShipmentStatus.CONFIRMED, ShipmentStatus.CANCELED):
        return shipment.status
    if order.status == OrderStatus.CANCELED:
        shipments_cancel(order_ids=[order.pk])
        return ShipmentStatus.CANCELED
    mapping = _confirm_checks(shipment=shipment, flow=flow, run=run)
    if mapping is None:
        return shipment.status
    ship_lines = _lines_with_item_ids(shipment=shipment, client=client, flow=flow, run=run)
    if ship_lines is None:
        return shipment.status
    payload = _confirm_payload(shipment=shipment, mapping=mapping, ship_lines=ship_lines)
    Shipment.objects.filter(pk=shipment.pk).update(
        attempts=F("attempts") + 1, carrier_code=mapping.amazon_carrier_code,
        carrier_name=mapping.amazon_carrier_name, shipping_method=mapping.shipping_method,
    )
    return _confirm_send(shipment=shipment, client=client, payload=payload, flow=flow, run=run)


def _confirm_checks(*, shipment: Shipment, flow: str, run) -> CarrierMapping | None:
    """The package's carrier mapping, once the carrier is mapped and the tracking number
    given; otherwise None and the problem queued (nothing is sent to Amazon)."""
    mapping = carrier_mapping_for(carrier=shipment.carrier, ship_method=shipment.ship_method)
    if mapping is None:
        _shipment_problem(
            shipment=shipment, flow=flow, reason=UNKNOWN_CARRIER, run=run,
            message=f"No carrier mapping for {shipment.carrier!r}"
            f"{' / ' + repr(shipment.ship_method) if shipment.ship_method else ''}: add it "
            "under Carrier mappings, then retry. Nothing was sent to Amazon.",
            extra={"carrier": shipment.carrier, "ship_method": shipment.ship_method},
        )
        return None
    _resolve_shipment(shipment, UNKNOWN_CARRIER, "resolved: the carrier is mapped now")
    if not shipment.tracking_number:
        _shipment_problem(
            shipment=shipment, flow=flow, reason=MISSING_TRACKING, run=run,
            message="The package has no tracking number: add it on the shipment, then retry. "
            "Nothing was sent to Amazon.",
        )
        return None
    _resolve_shipment(shipment, MISSING_TRACKING, "resolved: tracking number added")
    return mapping


def _lines_with_item_ids(*, shipment: Shipment, client, flow: str, run) -> list | None:
    """The package's lines, every one with Amazon's order item id (read from the order's
    items when one is missing); None when they cannot all have one (the problem queued)."""
    ship_lines = list(shipment.lines.select_related("order_line"))
    if all(sl.order_line.order_item_id for sl in ship_lines):
        return ship_lines
    order = shipment.order
    try:
        items = client.orders.items(order.amazon_order_id)
        api_lines = lines_from_api([i.raw for i in items], currency=order.currency)
    except (SpApiError, OrderDataError) as err:
        _shipment_problem(shipment=shipment, flow=flow, reason=CONFIRM_ERROR, run=run,
                          message=f"Could not read the order items: {err}")
        return None
    order_lines_fill_ids(order=order, lines=api_lines)
    ship_lines = list(shipment.lines.select_related("order_line"))
    if any(not sl.order_line.order_item_id for sl in ship_lines):
        _shipment_problem(
            shipment=shipment, flow=flow, reason=MISSING_ITEM_IDS, run=run,
            message="Amazon did not give an order item id for every line of the package.")
        return None
    return ship_lines


def _confirm_payload(*, shipment: Shipment, mapping: CarrierMapping, ship_lines: list
                     ) -> dict:
    """The confirmShipment request body for the package."""
    detail: dict[str, Any] = {
        "packageReferenceId": shipment.package_reference_id,
        "carrierCode": mapping.amazon_carrier_code,
        "trackingNumber": shipment.tracking_number,
        "shipDate": shipment.ship_date.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "orderItems": [{"orderItemId": sl.order_line.order_item_id, "quantity": sl.quantity}
                       for sl in ship_lines],
    }
    if mapping.amazon_carrier_name:
        detail["carrierName"] = mapping.amazon_carrier_name
    if mapping.shipping_method:
        detail["shippingMethod"] = mapping.shipping_method
    return {"marketplaceId": shipment.order.marketplace_id, "packageDetail": detail}


def _confirm_send(*, shipment: Shipment, client, payload: dict, flow: str, run) -> str:
    """Call confirmShipment: confirmed, failed (Amazon rejected it) or still pending."""
    try:
        client.confirm_shipment(shipment.order.amazon_order_id, payload)
    except (InvalidInput, NotFound) as err:
        answer = {"status": err.status, "errors": err.errors, "request_id": err.request_id,
                  "message": err.message}
        with transaction.atomic():
            Shipment.objects.filter(pk=shipment.pk).update(
                status=ShipmentStatus.FAILED, amazon_response=answer,
                last_error=f"Amazon rejected the confirmation: {err.message}"[:5000],
            )
            _shipment_problem(
                shipment=shipment, flow=flow, reason=AMAZON_REJECTED, run=run,
                message=f"Amazon rejected the confirmation of package "
                f"{shipment.package_reference_id}: {err.message}",
                extra={"amazon": answer, "request": payload},
            )
        return ShipmentStatus.FAILED
    except SpApiError as err:
        if getattr(err, "reauthorization_required", False):
            raise
        _shipment_problem(shipment=shipment, flow=flow, reason=CONFIRM_ERROR, run=run,
                          message=f"confirmShipment failed, will retry: {err}")
        return shipment.status
    shipment_mark_confirmed(shipment=shipment, request=payload, at=utcnow(client.clock))
    return ShipmentStatus.CONFIRMED


def shipment_mark_confirmed(*, shipment: Shipment, request: dict,
                            at: datetime.datetime | None = None) -> Shipment:
    """Amazon accepted the package: store it and the order's acknowledgement SLA."""
    at = at or timezone.now()
    with transaction.atomic():
        Shipment.objects.filter(pk=shipment.pk).update(
            status=ShipmentStatus.CONFIRMED, confirmed_at=at, last_error="",
            amazon_response={"status": 204, "request": request},
        )
        order = Order.objects.select_for_update().get(pk=shipment.order_id)
        if order.acknowledged_at is None:
            order.acknowledged_at = at
            order.ack_sla_met = (order.latest_ship_date is None
                                 or at <= order.latest_ship_date)
            order.save(update_fields=["acknowledged_at", "ack_sla_met", "updated_at"])
        for reason in SHIPMENT_REASONS:
            _resolve_shipment(shipment, reason, "resolved: Amazon accepted the package")
    shipment.refresh_from_db()
    return shipment


def _resolve_shipment(shipment: Shipment, reason: str, note: str) -> None:
    exception_resolve(flow=SHIPMENTS_FLOW, object_kind="shipment",
                      object_key=shipment_exception_key(shipment), reason_code=reason,
                      note=note)


def shipment_update(*, shipment: Shipment, tracking_number: str | None = None,
                    carrier: str | None = None, ship_method: str | None = None) -> Shipment:
    """Correct an unconfirmed package (e.g. add the tracking number); it is retried."""
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(pk=shipment.pk)
        if shipment.status in (ShipmentStatus.CONFIRMED, ShipmentStatus.CANCELED):
            raise ShipmentInvalid("A confirmed or canceled package cannot be changed.")
        if tracking_number is not None:
            shipment.tracking_number = tracking_number.strip()
        if carrier is not None:
            shipment.carrier = carrier.strip()
        if ship_method is not None:
            shipment.ship_method = ship_method.strip()
        shipment.status = ShipmentStatus.PENDING
        shipment.save()
    return shipment


@register_retry("shipment")
def _retry_shipment(exc: SyncException) -> bool:
    """Retry one package: back to pending, then confirm it now (through the engine's client:
    calls recorded, the stored token and shared buckets used, a revoked token flagged)."""
    from amazonsync.clients import spapi_client

    shipment_id = (exc.payload or {}).get("shipment_id")
    shipment = Shipment.objects.filter(pk=shipment_id).select_related("order__account").first()
    if shipment is None:
        return False
    if shipment.status in (ShipmentStatus.CONFIRMED, ShipmentStatus.CANCELED):
        return True
    Shipment.objects.filter(pk=shipment.pk, status=ShipmentStatus.FAILED).update(
        status=ShipmentStatus.PENDING)
    client = spapi_client(shipment.order.account)
    status = shipment_confirm(shipment=shipment, client=client, flow=exc.flow)
    return status in (ShipmentStatus.CONFIRMED, ShipmentStatus.CANCELED)


def shipments_requeue(*, shipment_ids: Iterable[int]) -> int:
    """Send rejected packages again on the next shipments run (after fixing them)."""
    with transaction.atomic():
        return Shipment.objects.filter(
            pk__in=list(shipment_ids), status=ShipmentStatus.FAILED
        ).update(status=ShipmentStatus.PENDING)
