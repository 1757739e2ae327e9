"""Two worker processes sharing one database token bucket never exceed its rate.

The workers use their own SQLite file (the test database may be in memory, which other
processes cannot see), real clocks and a live sandbox that enforces Amazon's limits: a
request the shared bucket let through too early would come back 429.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from amazonsync.sandbox import (
    DEFAULT_SELLER,
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    REFRESH_TOKEN,
    World,
    start_sandbox_app,
)
from amazonsync.spapi.operations import OPERATIONS

ROOT = Path(__file__).resolve().parents[2]
US = "ATVPDKIKX0DER"
CALLS_PER_WORKER = 12
OPERATION = "getListingsItem"  # 5 requests/s, burst 10

WORKER = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    import django
    django.setup()
    from django.db import connection
    from marketplaces.models import Marketplace, SellerAccount
    from amazonsync.models import ApiCall, RateLimitBucket, SyncRun
    from amazonsync.buckets import DatabaseBucketStore
    from amazonsync.clients import spapi_client
    role, sku, calls, sync = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    if role == "setup":
        with connection.schema_editor() as editor:
            for model in (Marketplace, SellerAccount, SyncRun, ApiCall, RateLimitBucket):
                editor.create_model(model)
        url, seller, client_id, secret, refresh = sys.argv[5:10]
        # bulk_create: no history row (the history tables are not needed here).
        SellerAccount.objects.bulk_create([SellerAccount(
            selling_partner_id=seller, name="two processes", region="NA",
            lwa_client_id=client_id, lwa_client_secret=secret, refresh_token=refresh,
            api_base_url=url, token_url=url + "/auth/o2/token")])
        (sync / "db-ready").touch()
    deadline = time.time() + 30
    while not (sync / "db-ready").exists() and time.time() < deadline:
        time.sleep(0.005)
    client = spapi_client(SellerAccount.objects.get(), bucket_store=DatabaseBucketStore())
    client.auth.token()
    (sync / f"ready-{os.getpid()}").touch()
    while len(list(sync.glob("ready-*"))) < 2 and time.time() < deadline:
        time.sleep(0.005)  # start together
    sent = []
    for _ in range(calls):
        client.get_listings_item(sku, marketplace_ids=["ATVPDKIKX0DER"])
        sent.append(time.time())
    print(json.dumps({"sent": sent, "throttled": client.throttled, "calls": client.calls,
                      "waited": client.quota_seconds}))
""")


def _env(db_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(SQLITE_PATH=str(db_path), DJANGO_SETTINGS_MODULE="amazonsync.settings",
               PYTHONPATH=str(ROOT), LOG_LEVEL="WARNING")
    return env


def test_two_processes_sharing_a_db_bucket_never_exceed_its_rate(tmp_path):
    world = World(3, orders=50)
    url, stop, app = start_sandbox_app(world=world, seed=3, orders=50, rate_limits=True)
    try:
        env = _env(tmp_path / "shared.sqlite3")
        sku = next(p.sku for p in world.products.values()
                   if p.channels.get("US") == "MFN" and p.sellable)
        sync = tmp_path / "sync"
        sync.mkdir()
        credentials = [url, DEFAULT_SELLER, LWA_CLIENT_ID, LWA_CLIENT_SECRET, REFRESH_TOKEN]
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, role, sku, str(CALLS_PER_WORKER), str(sync),
                 *credentials],
                env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for role in ("setup", "worker")
        ]
        results = []
        for worker in workers:
            out, err = worker.communicate(timeout=60)
            assert worker.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        stop()

    op = OPERATIONS[OPERATION]
    total = 2 * CALLS_PER_WORKER
    # Nothing was throttled by the sandbox and nothing had to be retried.
    assert [r["throttled"] for r in results] == [0, 0]
    assert sum(r["calls"] for r in results) == total
    # Both processes took from the same bucket: together they waited for the tokens beyond
    # the burst.
    assert sum(r["waited"] for r in results) > 0
    sent = sorted(t for r in results for t in r["sent"])
    assert sent[-1] - sent[0] >= (total - op.burst) / op.rate * 0.9
    # Sliding windows: never more than burst + rate * window requests (one of slack for
    # the network).
    for i in range(len(sent)):
        for j in range(i, len(sent)):
            assert j - i + 1 <= op.burst + op.rate * (sent[j] - sent[i]) + 1
