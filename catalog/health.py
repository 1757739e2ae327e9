"""The health metrics made of listings and pushes (``amazonsync.health``): how fresh the
stock Amazon shows is, and how many listings Amazon accepts when we push them."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Q

from amazonsync.health import NEVER, WINDOW, as_ratio, as_seconds, percentile, register_metric
from amazonsync.models import SyncException

from .models import Channel, Listing, PushFeed
from .services import PRICE_REJECTED, QUANTITY_REJECTED


@register_metric("inventory_freshness", label="Inventory freshness (p95 age)", unit="s",
                 target=Decimal(3600), amber=Decimal(7200), higher_is_better=False,
                 position=30, flows=("fba_inventory_pull", "inventory_push"))
def inventory_freshness(now):
    """Age of the stock Amazon shows per mapped listing: FBA stock since it was pulled, a
    pushed MFN listing's quantity since it was pushed."""
    ages: dict[str, list[float]] = defaultdict(list)
    rows = Listing.objects.filter(item__isnull=False).values_list(
        "marketplace__code", "channel", "push_enabled", "last_pushed_quantity_at",
        "fba_stock__pulled_at",
    )
    for code, channel, push, pushed_at, pulled_at in rows:
        if channel == Channel.FBA:
            stamp = pulled_at
        elif push:
            stamp = pushed_at
        else:
            continue
        # never pushed or pulled counts as stale as can be
        ages[code].append((now - stamp).total_seconds() if stamp else NEVER)
    return {
        code: {
            "value": as_seconds(percentile(values, 0.95)),
            "stale_over_1h": sum(1 for a in values if a > 3600),
            "skus": len(values),
        }
        for code, values in ages.items()
    }


@register_metric("catalog_publish_success_rate", label="Catalog publish success rate",
                 unit="ratio", target=Decimal("0.99"), amber=Decimal("0.95"),
                 higher_is_better=True, position=40, flows=("inventory_push", "price_push"))
def catalog_publish_success_rate(now):
    # Per listing, not per message: a SKU Amazon keeps rejecting (already an open exception
    # on the listing) is one failed listing, however often it is sent again. Listings whose
    # latest push was accepted in the window, against those plus the ones still rejected;
    # a feed Amazon did not process at all counts all its messages as failed.
    since = now - WINDOW
    accepted: dict[str, int] = defaultdict(int)
    for code, in Listing.objects.filter(
        Q(last_pushed_quantity_at__gte=since) | Q(last_pushed_price_at__gte=since)
    ).values_list("marketplace__code"):
        accepted[code] += 1
    rejected: dict[str, int] = defaultdict(int)
    for code, _listing in SyncException.objects.filter(
        status__in=[SyncException.Status.OPEN, SyncException.Status.RETRYING],
        reason_code__in=[QUANTITY_REJECTED, PRICE_REJECTED],
    ).values_list("marketplace__code", "object_key").distinct().order_by():
        rejected[code] += 1
    for code, messages in PushFeed.objects.filter(
        submitted_at__gte=since, finished_at__isnull=False,
    ).exclude(status="DONE").values_list("marketplace__code", "messages"):
        rejected[code] += messages
    out = {}
    for code in set(accepted) | set(rejected):
        total = accepted[code] + rejected[code]
        out[code] = {"value": as_ratio(accepted[code], total), "listings": total,
                     "rejected": rejected[code]}
    return out
