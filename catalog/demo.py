"""Demo step: items, kits and listings mapped to the sandbox world's catalog, a couple of
unmapped SKUs for the merch queue, a retired SKU whose push Amazon rejects, then the catalog
flows against the live sandbox. Idempotent."""

from __future__ import annotations

import requests
from django.db import transaction

from amazonsync.services import flow_run
from marketplaces.models import AccountMarketplace

from .models import Item, KitComponent, Listing, MerchantStock
from .services import listing_discover

UNMAPPED = 2  # world SKUs left unmapped so the exception queue has merch work
RETIRED_SKU = "DEMO-RETIRED-1"  # we list it, Amazon does not know it: the push is rejected
FLOWS = ("fba_inventory_pull", "inbound_pull", "inventory_push", "price_push")


def _world(ctx):
    from amazonsync.sandbox import world as sandbox_world

    seed, orders = sandbox_world.DEFAULT_SEED, sandbox_world.DEFAULT_ORDERS
    start = None  # the present, like the sandbox's default
    if ctx.sync:
        try:
            info = requests.get(f"{ctx.api_url.rstrip('/')}/_sandbox/info", timeout=5).json()
            seed, orders = int(info.get("seed", seed)), int(info.get("orders", orders))
            start = info.get("start") or None
        except (requests.RequestException, ValueError):
            pass
    return sandbox_world.World(seed, orders=orders, start=start)


def load(ctx) -> None:
    world = _world(ctx)
    account = ctx.account
    ours = {link.marketplace_id: link.marketplace for link in
            AccountMarketplace.objects.filter(account=account).select_related("marketplace")}
    sellable = [p for p in world.products.values() if p.sellable]
    unmapped = {p.sku for p in sellable[-UNMAPPED:]}
    with transaction.atomic():
        items: dict[str, Item] = {}
        for product in sellable:
            item, _ = Item.objects.get_or_create(
                sku=f"IT-{product.sku}", defaults={"name": product.title[:255]})
            items[product.sku] = item
            if product.kind != "kit":
                MerchantStock.objects.get_or_create(
                    item=item, defaults={"on_hand": product.mfn_quantity + 5, "reserved": 5})
        for product in sellable:
            for component_sku, quantity in product.components:
                KitComponent.objects.get_or_create(
                    kit=items[product.sku], component=items[component_sku],
                    defaults={"quantity": quantity})
        created = 0
        for product, mp, channel in world.listings():
            marketplace = ours.get(mp.id)
            if marketplace is None or not product.sellable:
                continue
            if product.sku in unmapped:
                listing_discover(account=account, marketplace=marketplace,
                                 seller_sku=product.sku, source="orders", asin=product.asin,
                                 channel="FBA" if channel == "AFN" else "MFN")
                continue
            _, was_created = Listing.objects.get_or_create(
                account=account, marketplace=marketplace, seller_sku=product.sku,
                defaults={
                    "asin": product.asin, "fnsku": product.fnsku or "",
                    "channel": "FBA" if channel == "AFN" else "MFN",
                    "product_type": product.product_type, "item": items[product.sku],
                    "price": product.price(mp), "currency": mp.currency,
                    "buffer_quantity": 2 if channel == "MFN" else 0,
                    "parent_asin": world.products[product.parent_sku].asin
                    if product.parent_sku else "",
                },
            )
            created += was_created
        us = next((m for m in ours.values() if m.code == "US"), None)
        if us is not None and sellable:
            Listing.objects.get_or_create(
                account=account, marketplace=us, seller_sku=RETIRED_SKU,
                defaults={"item": items[sellable[0].sku], "channel": "MFN",
                          "discovered_from": "demo"})
    ctx.log(f"catalog: {len(items)} items, {created} new listings, {len(unmapped)} SKUs "
            "left unmapped")
    if not ctx.sync:
        return
    for marketplace in sorted(ours.values(), key=lambda m: m.code):
        if not Listing.objects.filter(account=account, marketplace=marketplace).exists():
            continue
        for flow in FLOWS:
            run = flow_run(flow=flow, account_id=account.pk, marketplace_id=marketplace.pk)
            ctx.log(f"{flow} {marketplace.code}: {run.status} ({run.fetched} fetched, "
                    f"{run.updated} updated, {run.failed} failed)")
