"""Demo step: carrier mappings, orders synced from the sandbox per marketplace, and one MFN
package recorded so the ``shipments`` flow has something to confirm."""

from __future__ import annotations

from django.utils import timezone

from amazonsync.services import flow_run
from marketplaces.models import AccountMarketplace

from .models import FulfillmentChannel, Order, OrderStatus, Shipment
from .services import carrier_mapping_upsert, shipment_record

CARRIERS = [
    # our carrier, ship method, Amazon carrier code, Amazon shipping method
    ("UPS", "", "UPS", "UPS Ground"),
    ("UPS", "Next Day Air", "UPS", "UPS Next Day Air"),
    ("USPS", "", "USPS", "Priority Mail"),
    ("FedEx", "", "FedEx", "FedEx Ground"),
    ("DHL", "", "DHL", ""),
    ("DHL Express", "", "DHL Express", ""),
    ("Royal Mail", "", "Royal Mail", "Tracked 48"),
    ("Deutsche Post", "", "Deutsche Post", ""),
    ("Japan Post", "", "Japan Post", ""),
    ("Yamato", "", "Yamato Transport", ""),
    ("Canada Post", "", "Canada Post", "Expedited Parcel"),
]


def load(ctx) -> None:
    for carrier, method, code, shipping_method in CARRIERS:
        carrier_mapping_upsert(carrier=carrier, ship_method=method, amazon_carrier_code=code,
                               shipping_method=shipping_method)
    ctx.log(f"{len(CARRIERS)} carrier mappings")
    if not ctx.sync:
        return
    links = AccountMarketplace.objects.filter(account=ctx.account, orders=True).select_related(
        "marketplace").order_by("marketplace__code")
    for link in links:
        run = flow_run(flow="orders", account_id=ctx.account.pk,
                       marketplace_id=link.marketplace_id)
        ctx.log(f"orders {link.marketplace.code}: {run.status} — {run.created} created, "
                f"{run.updated} updated, {run.api_calls} API calls")
        if not Order.objects.filter(account=ctx.account,
                                    marketplace_id=link.marketplace_id).exists():
            ctx.problem(f"no orders loaded for {link.marketplace.code}")
    if Shipment.objects.filter(order__account=ctx.account).exists():
        return
    order = (Order.objects.filter(account=ctx.account, fulfillment_channel=FulfillmentChannel.MFN,
                                  status=OrderStatus.UNSHIPPED)
             .select_related("marketplace").order_by("-purchase_date").first())
    if order is None:
        ctx.problem("no unshipped MFN order to record a shipment for")
        return
    lines = [(line, line.quantity_unshipped) for line in order.lines.all()
             if line.quantity_unshipped]
    carrier = {"GB": "Royal Mail", "DE": "Deutsche Post", "JP": "Japan Post",
               "CA": "Canada Post"}.get(order.marketplace.code, "UPS")
    shipment = shipment_record(order=order, carrier=carrier,
                               tracking_number=f"DEMO{order.amazon_order_id[-7:]}",
                               ship_date=timezone.now(), lines=lines)
    ctx.log(f"recorded package {shipment.package_reference_id} for MFN order {order} "
            f"({carrier}); run `manage.py sync shipments` to confirm it")
