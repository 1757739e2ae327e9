"""FBA pulls: stock per listing (getInventorySummaries) and inbound shipments."""

from __future__ import annotations

import datetime

from django.db import transaction

from amazonsync.flows import FlowContext
from amazonsync.models import Team

from ..models import FbaStock, InboundShipment, InboundShipmentItem, Listing
from .listings import listing_discover, listing_key

FBA_SOURCE = "fba_inventory"
INBOUND_SOURCE = "fba_inbound"
CHANNEL_MISMATCH = "fba_stock_on_mfn_listing"


def _amazon_time(value) -> datetime.datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def _quantities(summary: dict) -> dict[str, int]:
    details = summary.get("inventoryDetails") or {}

    def total(key: str, inner: str) -> int:
        value = details.get(key) or {}
        return int(value.get(inner) or 0) if isinstance(value, dict) else int(value or 0)

    return {
        "fulfillable": int(details.get("fulfillableQuantity") or 0),
        "inbound": sum(int(details.get(k) or 0) for k in (
            "inboundWorkingQuantity", "inboundShippedQuantity", "inboundReceivingQuantity")),
        "reserved": total("reservedQuantity", "totalReservedQuantity"),
        "unfulfillable": total("unfulfillableQuantity", "totalUnfulfillableQuantity"),
    }


def fba_stock_pull(*, ctx: FlowContext) -> dict[str, int]:
    """Pull getInventorySummaries for one marketplace into FbaStock (per FBA listing).

    Every SKU seen gets ``pulled_at = now`` (freshness per SKU); SKUs without a mapped listing
    go through unmapped discovery; FBA stock reported for a listing we sell as MFN is never
    stored on it (the pools never mix) and opens an ops exception instead.
    """
    account, marketplace = ctx.account, ctx.marketplace
    summaries = list(ctx.client.get_inventory_summaries(marketplace_id=marketplace.pk,
                                                        details=True))
    ctx.count(fetched=len(summaries))
    now = ctx.now
    listings = {x.seller_sku: x for x in Listing.objects.filter(
        account=account, marketplace=marketplace,
        seller_sku__in=[s.get("sellerSku") for s in summaries if s.get("sellerSku")])}
    stocks = {s.listing_id: s for s in FbaStock.objects.filter(
        listing_id__in=[x.pk for x in listings.values()])}
    creates, updates = [], []
    counts = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0}
    for summary in summaries:
        sku = summary.get("sellerSku")
        if not sku:
            continue
        listing = listings.get(sku)
        if listing is None or listing.item_id is None:
            listing = listing_discover(account=account, marketplace=marketplace, seller_sku=sku,
                                       source=FBA_SOURCE, asin=summary.get("asin") or "",
                                       channel="FBA")
        if listing.channel != "FBA":
            counts["skipped"] += 1
            ctx.exception(
                object_kind="listing",
                object_key=listing_key(account=account, marketplace=marketplace,
                                       seller_sku=sku),
                reason_code=CHANNEL_MISMATCH, owner_team=Team.OPS,
                message=f"Amazon holds FBA stock for {sku} in {marketplace.code}, but the "
                "listing is merchant fulfilled (MFN) here. FBA stock never feeds an MFN "
                "listing: fix the listing's channel, or use a separate SKU per channel.",
                payload={"seller_sku": sku, "fulfillable": _quantities(summary)["fulfillable"]},
            )
            continue
        values = _quantities(summary)
        amazon_time = _amazon_time(summary.get("lastUpdatedTime"))
        stock = stocks.get(listing.pk)
        if stock is None:
            stock = FbaStock(listing=listing, **values, amazon_updated_at=amazon_time,
                             pulled_at=now)
            stocks[listing.pk] = stock
            creates.append(stock)
            counts["created"] += 1
            continue
        changed = any(getattr(stock, k) != v for k, v in values.items())
        for key, value in values.items():
            setattr(stock, key, value)
        stock.amazon_updated_at = amazon_time or stock.amazon_updated_at
        stock.pulled_at = now
        updates.append(stock)
        counts["updated" if changed else "unchanged"] += 1
    with transaction.atomic():
        FbaStock.objects.bulk_create(creates, batch_size=1000)
        FbaStock.objects.bulk_update(
            updates, ["fulfillable", "inbound", "reserved", "unfulfillable",
                      "amazon_updated_at", "pulled_at"], batch_size=1000)
    ctx.count(created=counts["created"], updated=counts["updated"],
              unchanged=counts["unchanged"])
    return counts


# --- FBA inbound shipments ---------------------------------------------------------------

INBOUND_OPEN = ["WORKING", "READY_TO_SHIP", "SHIPPED", "IN_TRANSIT", "DELIVERED",
                "CHECKED_IN", "RECEIVING"]
INBOUND_ALL = [*INBOUND_OPEN, "CLOSED", "CANCELLED", "DELETED", "ERROR"]
INBOUND_DISCREPANCY = "inbound_discrepancy"
IDS_PER_CALL = 50


def inbound_pull(*, ctx: FlowContext) -> dict[str, int]:
    """Pull inbound shipments and their items; a shipment that closed with received ≠ shipped
    opens one ops exception per SKU.

    The first run asks for every status; later runs ask for the open statuses plus, by id,
    the shipments we still hold as open, so closings are seen without date windows.
    """
    account, marketplace = ctx.account, ctx.marketplace
    known_open = list(InboundShipment.objects.filter(
        account=account, marketplace=marketplace, closed_at__isnull=True,
    ).exclude(status__in=["CANCELLED", "DELETED"]).values_list("shipment_id", flat=True))
    first_run = not InboundShipment.objects.filter(account=account,
                                                   marketplace=marketplace).exists()
    found: dict[str, dict] = {}
    statuses = INBOUND_ALL if first_run else INBOUND_OPEN
    for row in ctx.client.get_inbound_shipments(marketplace_id=marketplace.pk,
                                                statuses=statuses):
        found[row["ShipmentId"]] = row
    missing = [s for s in known_open if s not in found]
    for start in range(0, len(missing), IDS_PER_CALL):
        for row in ctx.client.get_inbound_shipments(
                marketplace_id=marketplace.pk, shipment_ids=missing[start:start + IDS_PER_CALL]):
            found[row["ShipmentId"]] = row
    ctx.count(fetched=len(found))
    counts = {"shipments": len(found), "closed": 0, "discrepancies": 0}
    for shipment_id, row in sorted(found.items()):
        items = ctx.client.get_shipment_items(shipment_id, marketplace_id=marketplace.pk)
        closed_now, discrepancies = _inbound_store(ctx=ctx, row=row, items=items)
        counts["closed"] += closed_now
        counts["discrepancies"] += discrepancies
    return counts


def _inbound_store(*, ctx: FlowContext, row: dict, items: list[dict]) -> tuple[int, int]:
    account, marketplace = ctx.account, ctx.marketplace
    shipment_id = row["ShipmentId"]
    status = row.get("ShipmentStatus") or ""
    now = ctx.now
    listings = {x.seller_sku: x for x in Listing.objects.filter(
        account=account, marketplace=marketplace,
        seller_sku__in=[i.get("SellerSKU") for i in items if i.get("SellerSKU")])}
    for item in items:
        sku = item.get("SellerSKU")
        if sku and (sku not in listings or listings[sku].item_id is None):
            listings[sku] = listing_discover(account=account, marketplace=marketplace,
                                             seller_sku=sku, source=INBOUND_SOURCE,
                                             channel="FBA")
    with transaction.atomic():
        shipment, created = InboundShipment.objects.select_for_update().get_or_create(
            account=account, shipment_id=shipment_id,
            defaults={"marketplace": marketplace, "status": status})
        closing = status == "CLOSED" and shipment.closed_at is None
        before = (shipment.status, shipment.name, shipment.destination_fc)
        shipment.marketplace = marketplace
        shipment.status = status
        shipment.name = row.get("ShipmentName") or ""
        shipment.destination_fc = row.get("DestinationFulfillmentCenterId") or ""
        shipment.raw = row
        if closing:
            shipment.closed_at = now
        shipment.save()
        if created:
            ctx.count(created=1)
        elif closing or before != (shipment.status, shipment.name, shipment.destination_fc):
            ctx.count(updated=1)
        else:
            ctx.count(unchanged=1)
        existing = {i.seller_sku: i for i in shipment.items.all()}
        for item in items:
            sku = item.get("SellerSKU") or ""
            values = {
                "fnsku": (item.get("FulfillmentNetworkSKU") or "")[:10],
                "listing": listings.get(sku),
                "quantity_shipped": int(item.get("QuantityShipped") or 0),
                "quantity_received": int(item.get("QuantityReceived") or 0),
                "quantity_in_case": int(item.get("QuantityInCase") or 0),
            }
            line = existing.get(sku)
            if line is None:
                existing[sku] = InboundShipmentItem.objects.create(
                    shipment=shipment, seller_sku=sku, **values)
            elif any(getattr(line, k) != v for k, v in values.items()):
                for key, value in values.items():
                    setattr(line, key, value)
                line.save()
    discrepancies = 0
    if status == "CLOSED":
        for sku, line in sorted(existing.items()):
            key = f"{shipment_id}/{sku}"
            if line.discrepancy == 0:
                ctx.resolve(object_kind="inbound_item", object_key=key,
                            reason_code=INBOUND_DISCREPANCY)
                continue
            discrepancies += 1
            gap = line.discrepancy
            what = f"{-gap} unit(s) missing" if gap < 0 else f"{gap} unit(s) more than shipped"
            ctx.exception(
                object_kind="inbound_item", object_key=key, reason_code=INBOUND_DISCREPANCY,
                owner_team=Team.OPS,
                message=f"Inbound shipment {shipment_id} ({marketplace.code}) closed with "
                f"{sku}: shipped {line.quantity_shipped}, received {line.quantity_received} "
                f"({what}). Check the box contents and open a reconciliation case in Seller "
                "Central if units were lost.",
                payload={"shipment_id": shipment_id, "seller_sku": sku,
                         "shipped": line.quantity_shipped,
                         "received": line.quantity_received},
            )
    return int(closing), discrepancies
