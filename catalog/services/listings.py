"""Listings: unmapped discovery, mapping and the push switch.

Unmapped discovery is the contract every importer uses: when a seller SKU shows up (in an
order, a settlement, a return, an inventory report) without a mapped listing, call
``listing_discover``. It creates (or reuses) the unmapped Listing and one merch exception
per listing. Importers that cannot finish an object without the mapping record their own
exception with ``reason_code=WAITING_ON_MAPPING`` and ``payload["listing_key"]`` set to
``listing_key(...)``; mapping the listing resolves the merch exception and retries those.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from amazonsync.models import SyncException, Team
from amazonsync.services import exception_record, exception_resolve, exceptions_retry
from marketplaces.models import Marketplace, SellerAccount

from ..models import Item, Listing

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


def mapping_applied(*, listing: Listing, actor=None, cause: str = "mapping saved") -> int:
    """After a listing got an item by any path (admin, CSV import): resolve and retry.

    The exception shows who caused the resolution and how: "system (mapping saved by
    ops)" for ``actor`` ops and ``cause`` "mapping saved"."""
    key = listing_key(
        account=listing.account, marketplace=listing.marketplace, seller_sku=listing.seller_sku
    )
    exception_resolve(
        flow=DISCOVERY_FLOW, object_kind="listing", object_key=key, reason_code=UNMAPPED_SKU,
        note="resolved: the listing was mapped", actor=actor, cause=cause,
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


def listings_mapping_applied(*, listing_ids: list[int], actor=None,
                             cause: str = "mapping saved") -> int:
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
            retried += mapping_applied(listing=listings[key], actor=actor, cause=cause)
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
