"""Benchmark: importing a large V2 settlement file (issue 7).

    make bench                                    # 1,000,000 lines (PostgreSQL via DATABASE_URL)
    SETTLEMENT_BENCH_LINES=50000 pytest tests/benchmarks/test_settlement_import.py -s

(a) baseline: stdlib csv parse + Decimal sum + COPY of the key columns into a scratch table;
(b) ``import_report`` of the whole file (parse, store, map, journal, reconcile).
Prints seconds, the ratio b/a and the peak RSS; then the settlement-line changelist is
loaded to check it uses a constant number of queries and no full COUNT.
Goal: ratio <= 2 (<= 4 first acceptable step), peak RSS < 500 MB.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import resource
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from settlements.parsers import COLUMNS

LINES = int(os.environ.get("SETTLEMENT_BENCH_LINES", "1000000"))
TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"

KINDS = [
    ("Order", "ItemPrice", "Principal", (500, 9000)),
    ("Order", "ItemPrice", "Tax", (50, 900)),
    ("Order", "ItemPrice", "Shipping", (0, 600)),
    ("Order", "ItemFees", "Commission", (-1200, -50)),
    ("Order", "ItemFees", "FBAPerUnitFulfillmentFee", (-600, -100)),
    ("Order", "Promotion", "Shipping", (-600, 0)),
    ("Refund", "ItemPrice", "Principal", (-9000, -500)),
    ("Refund", "ItemFees", "Commission", (50, 1200)),
]


def _rows(n: int):
    rnd = random.Random(42)
    for i in range(n):
        ttype, atype, desc, (lo, hi) = KINDS[i % len(KINDS)]
        amount = Decimal(rnd.randint(lo, hi)).scaleb(-2)
        day = 1 + (i * 38 // n)
        month, day = (1, day) if day <= 31 else (2, day - 31)
        order = f"302-{i // 8:07d}-{rnd.randint(1000000, 9999999)}"
        yield (ttype, atype, desc, amount, f"2024-{month:02d}-{day:02d}", order,
               f"SKU-{i % 997}", f"{i:014d}")


def generate(path, n: int) -> Decimal:
    """Write the file streaming (two passes: the summary row needs the total)."""
    total = sum((row[3] for row in _rows(n)), Decimal("0"))
    idx = {c: i for i, c in enumerate(COLUMNS)}
    width = len(COLUMNS)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("\t".join(COLUMNS) + "\n")
        summary = ["77777777777", "2024-01-01T00:00:00+00:00", "2024-02-10T00:00:00+00:00",
                   "2024-02-12T00:00:00+00:00", str(total), "EUR"]
        fh.write("\t".join(summary) + "\n")
        for ttype, atype, desc, amount, posted, order, sku, item in _rows(n):
            values = [""] * width
            values[idx["settlement-id"]] = "77777777777"
            values[idx["transaction-type"]] = ttype
            values[idx["order-id"]] = order
            values[idx["marketplace-name"]] = "Amazon.de"
            values[idx["amount-type"]] = atype
            values[idx["amount-description"]] = desc
            values[idx["amount"]] = str(amount)
            values[idx["posted-date"]] = posted
            values[idx["posted-date-time"]] = posted + "T10:00:00+00:00"
            values[idx["order-item-code"]] = item
            values[idx["sku"]] = sku
            values[idx["quantity-purchased"]] = "1"
            fh.write("\t".join(values).rstrip("\t") + "\n")
    return total


def baseline(path) -> tuple[float, Decimal]:
    started = time.perf_counter()
    total = Decimal("0")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS bench_lines (settlement_id text, order_id text, "
            "amount_type text, amount numeric(18,4), posted_date date)"
            if connection.vendor == "postgresql" else
            "CREATE TEMP TABLE IF NOT EXISTS bench_lines (settlement_id text, order_id text, "
            "amount_type text, amount text, posted_date text)"
        )
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t")
            header = next(reader)
            idx = {c: i for i, c in enumerate(header)}
            a, o, t, p, s = (idx["amount"], idx["order-id"], idx["amount-type"],
                             idx["posted-date"], idx["settlement-id"])
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(
                    "COPY bench_lines (settlement_id, order_id, amount_type, amount, "
                    "posted_date) FROM STDIN"
                ) as copy:
                    for row in reader:
                        if len(row) <= a or not row[a]:
                            continue
                        amount = Decimal(row[a])
                        total += amount
                        copy.write_row((row[s], row[o], row[t], amount, row[p]))
            else:
                batch = []
                for row in reader:
                    if len(row) <= a or not row[a]:
                        continue
                    amount = Decimal(row[a])
                    total += amount
                    batch.append((row[s], row[o], row[t], str(amount), row[p]))
                    if len(batch) >= 5000:
                        cursor.executemany("INSERT INTO bench_lines VALUES (%s,%s,%s,%s,%s)",
                                           batch)
                        batch = []
                if batch:
                    cursor.executemany("INSERT INTO bench_lines VALUES (%s,%s,%s,%s,%s)", batch)
        cursor.execute("DROP TABLE bench_lines")
    return time.perf_counter() - started, total


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.django_db(transaction=True)
def test_settlement_import_benchmark(tmp_path, account, superuser, client):
    path = tmp_path / "settlement-bench.txt"
    t0 = time.perf_counter()
    expected = generate(path, LINES)
    size_mb = path.stat().st_size / 1e6
    print(f"\ngenerated {LINES:,} lines ({size_mb:.0f} MB) in {time.perf_counter() - t0:.1f} s")

    base_seconds, base_total = baseline(path)
    assert base_total == expected

    out = io.StringIO()
    started = time.perf_counter()
    call_command("import_report", "--type", TYPE, str(path), "--json", stdout=out)
    import_seconds = time.perf_counter() - started
    doc = json.loads(out.getvalue())["settlements"][0]
    assert doc["lines"] == LINES and doc["drift"] == "0.00"
    assert doc["journal"]["balanced"] and Decimal(doc["total_amount"]) == expected

    ratio = import_seconds / base_seconds if base_seconds else float("inf")
    rss = peak_rss_mb()
    print(f"database: {connection.vendor}")
    store = "COPY" if connection.vendor == "postgresql" else "INSERT"
    print(f"(a) baseline csv + Decimal + {store}: {base_seconds:.2f} s")
    print(f"(b) import_report (parse, store, map, journal, reconcile): {import_seconds:.2f} s")
    print(f"ratio b/a: {ratio:.2f} (goal <= 2, first step <= 4)")
    print(f"peak RSS: {rss:.0f} MB (goal < 500 MB)")

    client.force_login(superuser)
    url = reverse("admin:settlements_settlementline_changelist")
    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as later:
        assert client.get(url + "?p=50").status_code == 200
    counts = [q["sql"] for q in later.captured_queries if "COUNT(" in q["sql"].upper()
              and "settlements_settlementline" in q["sql"]]
    print(f"line changelist: {len(first.captured_queries)} queries (page 1), "
          f"{len(later.captured_queries)} (page 50), full COUNTs: {len(counts)}")
    assert not counts
    assert len(first.captured_queries) == len(later.captured_queries)
    assert rss < 500
