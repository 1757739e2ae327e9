"""The catalog demo step against a live sandbox: mapped listings, merch work, pushes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from amazonsync.models import SyncException, SyncRun
from catalog import demo
from catalog.models import FbaStock, Item, Listing, PushFeed

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Ctx:
    account: object
    api_url: str
    sync: bool = True
    lines: list = field(default_factory=list)
    problems: list = field(default_factory=list)

    def log(self, line):
        self.lines.append(line)

    def problem(self, message):
        self.problems.append(message)


def test_demo_loads_catalog_and_runs_the_flows(sandbox):
    ctx = Ctx(account=sandbox.account, api_url=sandbox.url)
    demo.load(ctx)
    assert Item.objects.count() >= 30
    assert Listing.objects.filter(item__isnull=False).count() >= 30
    unmapped = SyncException.objects.filter(reason_code="unmapped_sku", status="open")
    assert unmapped.count() >= demo.UNMAPPED
    assert SyncException.objects.filter(reason_code="quantity_push_rejected",
                                        object_key__endswith=demo.RETIRED_SKU).exists()
    assert PushFeed.objects.filter(status="DONE", kind="quantity").exists()
    assert PushFeed.objects.filter(status="DONE", kind="price").exists()
    assert FbaStock.objects.exists()
    assert not SyncRun.objects.exclude(status=SyncRun.Status.SUCCEEDED).exists(), ctx.lines
    # idempotent: loading again adds nothing
    counts = (Item.objects.count(), Listing.objects.count())
    demo.load(Ctx(account=sandbox.account, api_url=sandbox.url, sync=False))
    assert (Item.objects.count(), Listing.objects.count()) == counts
