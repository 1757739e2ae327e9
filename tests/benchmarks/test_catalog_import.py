"""Benchmark: admin import of a 50,000-row listings CSV through django-import-export (issue 5).

    make bench
    CATALOG_BENCH_ROWS=5000 pytest tests/benchmarks/test_catalog_import.py -s

Both admin steps (upload + dry-run preview, then confirm) through the real views, against a
plain ``bulk_create`` of the same rows (parsed with the csv module) in the same run.
Goals: <= 60 s and <= 5x the plain bulk_create; printed as met or MISSED (timings on a shared
machine are not a pass/fail matter), while what was written is asserted.
"""

from __future__ import annotations

import csv
import io
import os
import time
from decimal import Decimal

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from catalog.models import Item, Listing
from marketplaces.models import Marketplace

ROWS = int(os.environ.get("CATALOG_BENCH_ROWS", "50000"))
GOAL_SECONDS = 60  # both admin steps, at 50,000 rows
GOAL_RATIO = 5  # against the plain bulk_create
HEADER = ["seller_account", "marketplace", "seller_sku", "channel", "asin", "fnsku",
          "condition", "parent_asin", "product_type", "item_sku", "price", "currency",
          "push_enabled", "buffer_quantity", "max_quantity"]

pytestmark = pytest.mark.django_db


def _csv(n: int, items: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for i in range(n):
        writer.writerow(["A1TESTSELLER", "US" if i % 2 else "CA", f"BENCH-{i:06d}",
                         "MFN" if i % 3 else "FBA", f"B0{i:08d}", "", "new_new", "", "",
                         f"ITEM-{i % items:05d}", f"{10 + i % 90}.99", "", "yes",
                         str(i % 4), "" if i % 5 else "100"])
    return out.getvalue().encode()


def _bulk_baseline(content: bytes, account) -> float:
    """Plain bulk_create of the same rows: csv parse, lookups from dicts, bulk insert."""
    started = time.perf_counter()
    mps = {m.code: m for m in Marketplace.objects.all()}
    items = {i.sku: i for i in Item.objects.all()}
    reader = csv.DictReader(io.StringIO(content.decode()))
    objs = [Listing(account=account, marketplace=mps[r["marketplace"]], seller_sku=r["seller_sku"],
                    channel=r["channel"], asin=r["asin"], item=items[r["item_sku"]],
                    price=Decimal(r["price"]), currency=mps[r["marketplace"]].currency,
                    buffer_quantity=int(r["buffer_quantity"]),
                    max_quantity=int(r["max_quantity"]) if r["max_quantity"] else None)
            for r in reader]
    Listing.objects.bulk_create(objs, batch_size=2000)
    seconds = time.perf_counter() - started
    assert Listing.objects.count() == ROWS
    Listing.objects.all()._raw_delete(Listing.objects.db)  # no history rows for the baseline
    return seconds


def test_admin_import_of_a_large_csv(client, superuser, account):
    item_count = max(1, ROWS // 10)
    Item.objects.bulk_create([Item(sku=f"ITEM-{i:05d}", name=f"item {i}")
                              for i in range(item_count)], batch_size=2000)
    content = _csv(ROWS, item_count)
    baseline = _bulk_baseline(content, account)
    client.force_login(superuser)

    started = time.perf_counter()
    preview = client.post(reverse("admin:catalog_listing_import"), {
        "resource": "0", "format": "0",
        "import_file": SimpleUploadedFile("big.csv", content, content_type="text/csv")})
    preview_seconds = time.perf_counter() - started
    assert preview.status_code == 200
    form = preview.context["confirm_form"]
    assert form is not None
    assert preview.context["result"].totals["new"] == ROWS
    started = time.perf_counter()
    done = client.post(reverse("admin:catalog_listing_process_import"), {
        k: form.initial[k] for k in ("import_file_name", "original_file_name", "format",
                                     "resource")})
    confirm_seconds = time.perf_counter() - started
    assert done.status_code == 302
    assert Listing.objects.count() == ROWS
    assert Listing.history.filter(history_type="+", history_user=superuser).count() == ROWS
    assert LogEntry.objects.filter(action_flag=ADDITION).count() == ROWS
    last = Listing.objects.select_related("item", "marketplace").get(
        seller_sku=f"BENCH-{ROWS - 1:06d}")
    i = ROWS - 1
    assert (last.marketplace.code, last.channel, last.asin, last.item.sku, last.price,
            last.currency, last.buffer_quantity, last.max_quantity) == (
        "US" if i % 2 else "CA", "MFN" if i % 3 else "FBA", f"B0{i:08d}",
        f"ITEM-{i % item_count:05d}", Decimal(f"{10 + i % 90}.99"),
        "USD" if i % 2 else "CAD", i % 4, None if i % 5 else 100)
    total = preview_seconds + confirm_seconds
    ratio = total / baseline

    started = time.perf_counter()
    again = client.post(reverse("admin:catalog_listing_import"), {
        "resource": "0", "format": "0",
        "import_file": SimpleUploadedFile("big.csv", content, content_type="text/csv")})
    again_seconds = time.perf_counter() - started
    assert again.context["result"].totals["skip"] == ROWS

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    print(f"\ncatalog import of {ROWS} listings ({connection.vendor}):\n"
          f"  import-export (admin, both steps): {total:.1f} s = preview "
          f"{preview_seconds:.1f} s + confirm {confirm_seconds:.1f} s "
          f"(preview page {len(preview.content) / 1e6:.1f} MB)\n"
          f"  plain bulk_create of the same rows: {baseline:.1f} s\n"
          f"  ratio: {ratio:.2f}x\n"
          f"  re-import preview (all unchanged): {again_seconds:.1f} s\n"
          f"  goal <= {GOAL_SECONDS:.0f} s: {verdict(total <= GOAL_SECONDS)}; "
          f"goal <= {GOAL_RATIO:.0f}x: {verdict(ratio <= GOAL_RATIO)}")
