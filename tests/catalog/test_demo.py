"""The catalog demo step against a live sandbox: mapped listings, merch work, pushes."""

from __future__ import annotations

import pytest

from amazonsync.demo import DemoContext
from amazonsync.models import SyncException, SyncRun
from catalog import demo
from catalog.models import FbaStock, Item, Listing, PushFeed

pytestmark = pytest.mark.django_db(transaction=True)


def _ctx(sandbox, lines: list, *, sync: bool = True) -> DemoContext:
    return DemoContext(account=sandbox.account, sandbox_url=sandbox.url, api_url=sandbox.url,
                       log=lines.append, sync=sync)


def test_demo_loads_catalog_and_runs_the_flows(sandbox):
    lines: list[str] = []
    demo.load(_ctx(sandbox, lines))
    assert Item.objects.count() >= 30
    assert Listing.objects.filter(item__isnull=False).count() >= 30
    unmapped = SyncException.objects.filter(reason_code="unmapped_sku", status="open")
    assert unmapped.count() >= demo.UNMAPPED
    assert SyncException.objects.filter(reason_code="quantity_push_rejected",
                                        object_key__endswith=demo.RETIRED_SKU).exists()
    assert PushFeed.objects.filter(status="DONE", kind="quantity").exists()
    assert PushFeed.objects.filter(status="DONE", kind="price").exists()
    assert FbaStock.objects.exists()
    assert not SyncRun.objects.exclude(status=SyncRun.Status.SUCCEEDED).exists(), lines
    # idempotent: loading again adds nothing
    counts = (Item.objects.count(), Listing.objects.count())
    demo.load(_ctx(sandbox, [], sync=False))
    assert (Item.objects.count(), Listing.objects.count()) == counts
