"""Writes for the catalog: unmapped discovery and mapping.

Unmapped discovery is the contract every importer uses: when a seller SKU shows up (in an
order, a settlement, a return, an inventory report) without a mapped listing, call
``listing_discover``. It creates (or reuses) the unmapped Listing and one merch exception
per listing. Importers that cannot finish an object without the mapping record their own
exception with ``reason_code=WAITING_ON_MAPPING`` and ``payload["listing_key"]`` set to
``listing_key(...)``; mapping the listing resolves the merch exception and retries those.
"""

from __future__ import annotations

import datetime
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction

from amazonsync.flows import FlowContext
from amazonsync.models import SyncException, Team
from amazonsync.services import exception_record, exception_resolve, exceptions_retry
from marketplaces.models import Marketplace, SellerAccount

from .. import feeds, selectors
from ..models import FbaStock, InboundShipment, InboundShipmentItem, Item, Listing, PushFeed
from .stock import (
    FBA,
    MERCHANT,
    StockChange,
    StockError,
    stock_adjust,
    stock_changes_detail,
)

__all__ = ["FBA", "MERCHANT", "StockChange", "StockError", "stock_adjust",
           "stock_changes_detail"]

UNMAPPED_SKU = "unmapped_sku"
WAITING_ON_MAPPING = "waiting_on_mapping"
DISCOVERY_FLOW = "catalog"


def listing_key(*, account: SellerAccount, marketplace: Marketplace, seller_sku: str) -> str:
    return f"{account.selling_partner_id}/{marketplace.code}/{seller_sku}"


def listing_discover(
    *,
    account: SellerAccount,
    marketplace: Marketplace,
    seller_sku: str,
    source: str,
    asin: str = "",
    channel: str | None = None,
) -> Listing:
    """The listing for a seller SKU; an unmapped one (plus a merch exception) if new."""
    listing = Listing.objects.filter(
        account=account, marketplace=marketplace, seller_sku=seller_sku
    ).first()
    if listing is None:
        try:
            with transaction.atomic():
                listing = Listing.objects.create(
                    account=account, marketplace=marketplace, seller_sku=seller_sku,
                    asin=asin[:10], channel=channel or "MFN", discovered_from=source,
                    push_enabled=False,
                )
        except IntegrityError:  # created meanwhile by another process
            listing = Listing.objects.get(
                account=account, marketplace=marketplace, seller_sku=seller_sku
            )
    if listing.item_id is None:
        key = listing_key(account=account, marketplace=marketplace, seller_sku=seller_sku)
        exception_record(
            flow=DISCOVERY_FLOW, object_kind="listing", object_key=key,
            reason_code=UNMAPPED_SKU, owner_team=Team.MERCH, account=account,
            marketplace=marketplace,
            message=f"Seller SKU {seller_sku} in {marketplace.code} is not mapped to an item "
            f"(first seen in {listing.discovered_from or source}). Map it on the listing.",
            payload={"seller_sku": seller_sku, "asin": asin, "source": source,
                     "listing_id": listing.pk},
        )
    return listing


def listing_map(*, listing: Listing, item: Item | None) -> Listing:
    """Map (or unmap) a listing; mapping resolves its exception and retries the waiting."""
    with transaction.atomic():
        listing.item = item
        listing.save(update_fields=["item", "updated_at"])  # through save: history row
    if item is not None:
        mapping_applied(listing=listing)
    return listing


def mapping_applied(*, listing: Listing) -> int:
    """After a listing got an item by any path (admin, CSV import): resolve and retry."""
    key = listing_key(
        account=listing.account, marketplace=listing.marketplace, seller_sku=listing.seller_sku
    )
    exception_resolve(
        flow=DISCOVERY_FLOW, object_kind="listing", object_key=key, reason_code=UNMAPPED_SKU,
        note="resolved: the listing was mapped",
    )
    waiting = list(
        SyncException.objects.filter(
            reason_code=WAITING_ON_MAPPING,
            payload__listing_key=key,
            status__in=[SyncException.Status.OPEN, SyncException.Status.RETRYING],
        ).values_list("pk", flat=True)
    )
    if waiting:
        exceptions_retry(exception_ids=waiting)
    return len(waiting)


def listings_mapping_applied(*, listing_ids: list[int]) -> int:
    """``mapping_applied`` for many listings (after a CSV import), in few queries.

    Only listings that have an open unmapped exception or exceptions waiting on them need
    the work, so those are found first, in chunks; returns how many waiting were retried.
    """
    retried = 0
    for start in range(0, len(listing_ids), 500):
        listings = {
            listing_key(account=x.account, marketplace=x.marketplace, seller_sku=x.seller_sku): x
            for x in Listing.objects.filter(pk__in=listing_ids[start:start + 500],
                                            item__isnull=False)
            .select_related("account", "marketplace")
        }
        if not listings:
            continue
        open_states = [SyncException.Status.OPEN, SyncException.Status.RETRYING]
        keys = set(SyncException.objects.filter(
            flow=DISCOVERY_FLOW, object_kind="listing", reason_code=UNMAPPED_SKU,
            object_key__in=list(listings), status__in=open_states,
        ).values_list("object_key", flat=True))
        keys |= set(SyncException.objects.filter(
            reason_code=WAITING_ON_MAPPING, payload__listing_key__in=list(listings),
            status__in=open_states,
        ).values_list("payload__listing_key", flat=True))
        for key in sorted(keys):
            retried += mapping_applied(listing=listings[key])
    return retried


def listings_map(*, listing_ids: list[int], item: Item) -> int:
    """Map several listings to one item (admin action); history recorded per listing."""
    newly: list[int] = []
    with transaction.atomic():
        for listing in Listing.objects.select_for_update().filter(pk__in=listing_ids):
            if listing.item_id != item.pk:
                if listing.item_id is None:
                    newly.append(listing.pk)
                listing.item = item
                listing.save(update_fields=["item", "updated_at"])
    if newly:
        listings_mapping_applied(listing_ids=newly)
    return len(listing_ids)


def listings_set_push(*, listing_ids: list[int], enabled: bool) -> int:
    """Switch inventory/price push on or off for listings; history recorded per listing."""
    count = 0
    with transaction.atomic():
        for listing in Listing.objects.select_for_update().filter(pk__in=listing_ids):
            if listing.push_enabled != enabled:
                listing.push_enabled = enabled
                listing.save(update_fields=["push_enabled", "updated_at"])
                count += 1
    return count


# --- pushing quantities and prices (JSON_LISTINGS_FEED deltas) -----------------------------

QUANTITY_REJECTED = "quantity_push_rejected"
PRICE_REJECTED = "price_push_rejected"
FEED_FAILED = "feed_failed"


@dataclass
class PushOutcome:
    changes: int = 0
    feeds: int = 0
    messages: int = 0
    accepted: int = 0
    rejected: int = 0
    feed_ids: list[str] = field(default_factory=list)
    delta_seconds: float = 0.0
    build_seconds: float = 0.0  # messages, JSON and schema validation
    submit_seconds: float = 0.0  # upload, Amazon's processing, report download


def quantities_push(*, ctx: FlowContext, available: dict[int, int] | None = None) -> PushOutcome:
    """Send the MFN listings whose target quantity changed since the last push.

    One feed per 25,000 messages; each accepted message records the pushed quantity, each
    rejected one opens an exception on the listing (resolved when a later push is accepted).
    """
    started = time.perf_counter()
    changes = selectors.quantity_deltas(account_id=ctx.account.pk,
                                        marketplace_id=ctx.marketplace.pk, available=available)
    outcome = PushOutcome(changes=len(changes), delta_seconds=time.perf_counter() - started)
    ctx.count(fetched=len(changes))
    for batch in feeds.chunks(changes):
        messages = [feeds.quantity_message(n, c) for n, c in enumerate(batch, 1)]
        _feed_send(ctx=ctx, kind=PushFeed.Kind.QUANTITY, batch=batch, messages=messages,
                   outcome=outcome, reason_code=QUANTITY_REJECTED,
                   apply=_apply_quantities, what="quantity")
    return outcome


def prices_push(*, ctx: FlowContext) -> PushOutcome:
    """Send the listings whose price changed since the last price push (either channel)."""
    started = time.perf_counter()
    changes = selectors.price_deltas(account_id=ctx.account.pk,
                                     marketplace_id=ctx.marketplace.pk)
    outcome = PushOutcome(changes=len(changes), delta_seconds=time.perf_counter() - started)
    ctx.count(fetched=len(changes))
    for batch in feeds.chunks(changes):
        messages = [feeds.price_message(n, c, ctx.marketplace.pk) for n, c in enumerate(batch, 1)]
        _feed_send(ctx=ctx, kind=PushFeed.Kind.PRICE, batch=batch, messages=messages,
                   outcome=outcome, reason_code=PRICE_REJECTED, apply=_apply_prices,
                   what="price")
    return outcome


def _feed_send(*, ctx: FlowContext, kind: str, batch, messages: list[dict],
               outcome: PushOutcome, reason_code: str, apply, what: str) -> None:
    started = time.perf_counter()
    doc = feeds.document(seller_id=ctx.account.selling_partner_id, messages=messages)
    content = feeds.dumps(doc)
    feeds.validate_document(feeds.loads(content))  # exactly what is uploaded
    outcome.build_seconds += time.perf_counter() - started
    record = PushFeed.objects.create(
        account=ctx.account, marketplace=ctx.marketplace, kind=kind, run=ctx.run,
        messages=len(messages), status="SUBMITTING", submitted_at=ctx.now)
    started = time.perf_counter()
    result = ctx.client.feed_submit(feeds.FEED_TYPE, content, marketplace_ids=[ctx.marketplace.pk])
    outcome.submit_seconds += time.perf_counter() - started
    outcome.feeds += 1
    outcome.messages += len(messages)
    outcome.feed_ids.append(result.feed_id)
    if result.processing_status != "DONE":
        PushFeed.objects.filter(pk=record.pk).update(
            feed_id=result.feed_id, status=result.processing_status, finished_at=ctx.now)
        detail = "; ".join(str(i.get("message", "")) for i in result.issues[:3])
        ctx.exception(
            object_kind="push_feed", object_key=f"{kind}/{ctx.marketplace.code}",
            reason_code=FEED_FAILED, owner_team=Team.OPS,
            message=f"Amazon did not process the {what} feed {result.feed_id} "
            f"({result.processing_status}){': ' + detail if detail else ''}. Nothing in it was "
            "applied; the next run sends the same changes again.",
            payload={"feed_id": result.feed_id, "issues": result.issues[:20]},
        )
        return
    ctx.resolve(object_kind="push_feed", object_key=f"{kind}/{ctx.marketplace.code}",
                reason_code=FEED_FAILED)
    issues = result.issues_by_message
    accepted, rejected = [], []
    for n, change in enumerate(batch, 1):
        errors = [i for i in issues.get(n, [])
                  if str(i.get("severity", "ERROR")).upper() == "ERROR"]
        (rejected if errors else accepted).append((change, errors))
    now = ctx.now
    with transaction.atomic():
        apply([c for c, _ in accepted], now)
        PushFeed.objects.filter(pk=record.pk).update(
            feed_id=result.feed_id, status=result.processing_status, finished_at=now,
            accepted=len(accepted), rejected=len(rejected))
    _resolve_accepted(ctx=ctx, skus=[c.seller_sku for c, _ in accepted], reason_code=reason_code)
    for change, errors in rejected:
        value = change.quantity if what == "quantity" else f"{change.price} {change.currency}"
        reasons = "; ".join(f"{e.get('code', '')} {e.get('message', '')}".strip() for e in errors)
        ctx.exception(
            object_kind="listing",
            object_key=listing_key(account=ctx.account, marketplace=ctx.marketplace,
                                   seller_sku=change.seller_sku),
            reason_code=reason_code, owner_team=Team.OPS,
            message=f"Amazon rejected the {what} update of {change.seller_sku} in "
            f"{ctx.marketplace.code} (to {value}): {reasons}",
            payload={"feed_id": result.feed_id, "seller_sku": change.seller_sku,
                     "listing_id": change.listing_id, "value": str(value), "issues": errors},
        )
    outcome.accepted += len(accepted)
    outcome.rejected += len(rejected)
    ctx.count(updated=len(accepted))


def _apply_quantities(changes: list, now) -> None:
    by_value: dict[int, list[int]] = defaultdict(list)
    for change in changes:
        by_value[change.quantity].append(change.listing_id)
    for quantity, ids in by_value.items():
        for start in range(0, len(ids), 900):
            Listing.objects.filter(pk__in=ids[start:start + 900]).update(
                last_pushed_quantity=quantity, last_pushed_quantity_at=now)


def _apply_prices(changes: list, now) -> None:
    by_value: dict[Decimal, list[int]] = defaultdict(list)
    for change in changes:
        by_value[change.price].append(change.listing_id)
    for price, ids in by_value.items():
        for start in range(0, len(ids), 900):
            Listing.objects.filter(pk__in=ids[start:start + 900]).update(
                last_pushed_price=price, last_pushed_price_at=now)


def _resolve_accepted(*, ctx: FlowContext, skus: list[str], reason_code: str) -> None:
    """Accepted now: resolve earlier rejections of the same listings (few queries)."""
    keys = [listing_key(account=ctx.account, marketplace=ctx.marketplace, seller_sku=s)
            for s in skus]
    for start in range(0, len(keys), 900):
        open_keys = SyncException.objects.filter(
            flow=ctx.flow.name, object_kind="listing", reason_code=reason_code,
            object_key__in=keys[start:start + 900],
            status__in=[SyncException.Status.OPEN, SyncException.Status.RETRYING],
        ).values_list("object_key", flat=True)
        for key in list(open_keys):
            ctx.resolve(object_kind="listing", object_key=key, reason_code=reason_code)


# --- FBA inventory pull ----------------------------------------------------------------

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
