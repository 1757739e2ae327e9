"""A worker killed with SIGKILL in the middle of a sync leaves no half-applied data, and the
next run converges.

A real worker subprocess (what ``manage.py sync orders --account X --marketplace US`` runs,
with Amazon's quota waits in simulated time) runs against a live sandbox on a free port and a
database file it shares with the test: the pytest-django test database on PostgreSQL; on
SQLite (whose test database lives in memory) the test copies its database into a file with
SQLite's backup API, lets the worker use that file, and copies it back after the kill.

The sandbox holds the worker at a chosen request (a gate), so the kill lands at a known
point every time:

- while the worker fetches the items of the second page (the first page is committed);
- on PostgreSQL, also inside the last page's transaction: the test holds the cursor row
  lock, so the worker has written the page's orders and waits for the cursor when it dies.

After the kill: every stored order is complete (same lines as a clean run), no line, customer
or exception without its order, the cursor never ahead of the data, the dead worker's lock
refuses a new run until it expires, then a rerun takes it over and ends with exactly the
state of a clean run made by another account of the same seller (a fresh history).
"""

from __future__ import annotations

import datetime
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from amazonsync.flows import client_options
from amazonsync.models import SyncCursor, SyncException, SyncLock, SyncRun
from amazonsync.sandbox import (
    DEFAULT_SELLER,
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    REFRESH_TOKEN,
    SandboxConfig,
    World,
    start_sandbox_app,
)
from amazonsync.services import flow_run
from amazonsync.spapi.clock import SimulatedClock
from amazonsync.spapi.ratelimit import MemoryBucketStore
from marketplaces.services import account_upsert
from orders.models import Customer, Order, OrderLine
from orders.selectors import order_snapshot
from orders.services import line_exception_key

pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(settings.BASE_DIR)
US = "ATVPDKIKX0DER"
SEED = 23
ORDERS = 3000
SINCE = datetime.datetime(2026, 10, 1, tzinfo=datetime.UTC)
POSTGRES = connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def simulated_quota_time():
    with client_options(clock=SimulatedClock(), bucket_store=MemoryBucketStore()):
        yield


@pytest.fixture(scope="module")
def world():
    return World(SEED, orders=ORDERS)


class Gate:
    """Wraps the sandbox: once armed, the n-th request matching ``match`` (and every one
    after it) waits until the gate opens; ``held`` is set when a request is waiting."""

    def __init__(self, sandbox) -> None:
        self._handle = sandbox.handle
        self.held = threading.Event()
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self.match = ""
        self.after = 0
        self.seen = 0
        sandbox.handle = self.handle

    def arm(self, match: str, after: int) -> None:
        self.match, self.after, self.seen = match, after, 0
        self.held.clear()
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def handle(self, request):
        if not self._open.is_set() and self.match in request.path:
            with self._lock:
                self.seen += 1
                wait = self.seen > self.after
            if wait:
                self.held.set()
                self._open.wait(timeout=120)
        return self._handle(request)


@pytest.fixture
def sandbox(world):
    url, stop, app = start_sandbox_app(
        SandboxConfig(seed=SEED, orders=ORDERS, rate_limits=False), world=world
    )
    gate = Gate(app)
    try:
        yield url, app, gate
    finally:
        gate.release()
        stop()


def seller(url: str, selling_partner_id: str):
    account = account_upsert(
        selling_partner_id=selling_partner_id, name=selling_partner_id, region="NA",
        lwa_client_id=LWA_CLIENT_ID, client_secret=LWA_CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN, rotated_on=timezone.localdate(), api_base_url=url,
        token_url=f"{url}/auth/o2/token", marketplace_codes=["US"],
    )
    # A recent watermark: the run reads by API, 100 orders per page and transaction.
    SyncCursor.objects.create(flow="orders", account=account, scope=US, position=SINCE)
    return account


class SharedDatabase:
    """The database the worker subprocess uses, seen from the test."""

    def __init__(self, tmp_path: Path) -> None:
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("DATABASE_URL", "SQLITE_PATH")}
        self.env["LOG_LEVEL"] = "WARNING"
        db = settings.DATABASES["default"]
        if POSTGRES:
            user = db.get("USER") or "postgres"
            auth = f"{user}:{db['PASSWORD']}" if db.get("PASSWORD") else user
            self.env["DATABASE_URL"] = (
                f"postgresql://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
                f"/{db['NAME']}"
            )
            self.path = None
        else:
            self.path = tmp_path / "worker.sqlite3"
            self.env["SQLITE_PATH"] = str(self.path)

    def export(self) -> None:
        """Make what the test committed visible to the worker."""
        if self.path is None:
            return
        connection.ensure_connection()
        target = sqlite3.connect(self.path)
        try:
            connection.connection.backup(target)
        finally:
            target.close()

    def import_(self) -> None:
        """Make what the worker committed visible to the test."""
        if self.path is None:
            return
        connection.close_if_unusable_or_obsolete()
        connection.ensure_connection()
        source = sqlite3.connect(self.path)
        try:
            source.backup(connection.connection)
        finally:
            source.close()

    def orders_stored(self, account) -> int:
        if self.path is None:
            return Order.objects.filter(account=account).count()
        with sqlite3.connect(self.path, timeout=20) as db:
            (n,) = db.execute(
                "SELECT count(*) FROM orders_order o JOIN marketplaces_selleraccount a "
                "ON a.id = o.account_id WHERE a.selling_partner_id = ?",
                [account.selling_partner_id],
            ).fetchone()
        return n


# What ``manage.py sync orders --account X --marketplace US`` runs, with the client's waits
# for Amazon's quotas (getOrderItems: one call per two seconds) spent in simulated time.
WORKER = """
import sys, django
django.setup()
from amazonsync.flows import client_options
from amazonsync.models import SyncRun
from amazonsync.services import flow_run
from amazonsync.spapi.clock import SimulatedClock
from amazonsync.spapi.ratelimit import MemoryBucketStore
from amazonsync.spapi.clock import SimulatedClock
from amazonsync.spapi.ratelimit import MemoryBucketStore
from marketplaces.models import SellerAccount

account = SellerAccount.objects.get(selling_partner_id=sys.argv[1])
with client_options(clock=SimulatedClock(), bucket_store=MemoryBucketStore()):
    run = flow_run(flow="orders", account_id=account.pk, marketplace_id=sys.argv[2],
                   trigger=SyncRun.Trigger.COMMAND)
print(run.status, run.error)
"""


def start_worker(shared: SharedDatabase, account) -> subprocess.Popen:
    env = {**shared.env, "DJANGO_SETTINGS_MODULE": "amazonsync.settings"}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, account.selling_partner_id, US],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )


def wait_for(condition, what: str, worker: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if worker.poll() is not None:
            out, err = worker.communicate()
            raise AssertionError(f"worker ended before {what}: {out.decode()}\n{err.decode()}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def kill(worker: subprocess.Popen) -> None:
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL


def assert_nothing_half_applied(account, clean: dict) -> dict:
    """Every stored order equals the clean run's (all its lines); nothing without its order;
    the cursor is not ahead of the data. Returns the stored snapshot."""
    stored = order_snapshot(account=account)
    assert stored, "the first page was committed before the kill"
    assert set(stored) <= set(clean)
    assert {o: clean[o] for o in stored} == stored
    assert not OrderLine.objects.filter(order__account=account).exclude(
        order__in=Order.objects.filter(account=account)).exists()
    customers = Customer.objects.filter(account=account)
    assert not customers.exclude(orders__isnull=False).exists(), "customer without an order"
    # Exceptions the dead run queued belong to orders it stored (same transaction).
    lock = SyncLock.objects.get(flow="orders", account=account, scope=US)
    queued = SyncException.objects.filter(last_run_id=lock.run_id, object_kind="order_line")
    keys = {line_exception_key(o, line[0]) for o, row in stored.items() for line in row["lines"]}
    assert set(queued.values_list("object_key", flat=True)) <= keys
    cursor = SyncCursor.objects.get(flow="orders", account=account, scope=US)
    newest = max(row["last_update_date"] for row in stored.values())
    assert cursor.position <= newest
    return stored


def assert_lock_taken_over_after_expiry(account) -> None:
    lock = SyncLock.objects.get(flow="orders", account=account, scope=US)
    assert lock.holder and lock.expires_at > timezone.now(), "the dead worker's lock"
    dead = SyncRun.objects.get(pk=lock.run_id)
    assert dead.status == SyncRun.Status.RUNNING and dead.finished_at is None
    # While the lock is valid a new run is skipped, not run beside the (dead) holder.
    skipped = flow_run(flow="orders", account_id=account.pk, marketplace_id=US)
    assert skipped.status == SyncRun.Status.SKIPPED
    # The lock's TTL runs out: the next run takes it over.
    SyncLock.objects.filter(pk=lock.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1))


def assert_converges(account, clean_account, clean: dict) -> None:
    dead_run_id = SyncLock.objects.get(flow="orders", account=account, scope=US).run_id
    run = flow_run(flow="orders", account_id=account.pk, marketplace_id=US)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    # the run that took over marked the dead worker's run as failed
    dead = SyncRun.objects.get(pk=dead_run_id)
    assert dead.status == SyncRun.Status.FAILED and dead.finished_at is not None
    assert order_snapshot(account=account) == clean
    lock = SyncLock.objects.get(flow="orders", account=account, scope=US)
    assert lock.holder == "" and lock.run_id == run.pk
    cursors = [SyncCursor.objects.get(flow="orders", account=a, scope=US).position
               for a in (account, clean_account)]
    assert cursors[0] == cursors[1]
    counts = [(Order.objects.filter(account=a).count(),
               OrderLine.objects.filter(order__account=a).count(),
               Customer.objects.filter(account=a).count()) for a in (account, clean_account)]
    assert counts[0] == counts[1]
    # A second run changes nothing.
    again = flow_run(flow="orders", account_id=account.pk, marketplace_id=US)
    assert again.status == SyncRun.Status.SUCCEEDED and again.created == 0
    assert order_snapshot(account=account) == clean


def clean_run(url: str) -> tuple:
    account = seller(url, "A1CLEANRUN")
    run = flow_run(flow="orders", account_id=account.pk, marketplace_id=US)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    clean = order_snapshot(account=account)
    assert len(clean) > 200, "at least three pages, so a kill can land between them"
    return account, clean


def test_kill9_between_pages_leaves_committed_pages_and_the_rerun_converges(
        sandbox, tmp_path):
    url, app, gate = sandbox
    clean_account, clean = clean_run(url)
    account = seller(url, DEFAULT_SELLER)
    shared = SharedDatabase(tmp_path)
    shared.export()

    # Hold the worker on the 31st getOrderItems of the second page: page one is committed.
    gate.arm("/orderItems", after=130)
    worker = start_worker(shared, account)
    try:
        wait_for(gate.held.is_set, "the second page", worker)
        wait_for(lambda: shared.orders_stored(account) == 100, "page one committed", worker)
        kill(worker)
    finally:
        if worker.poll() is None:
            worker.kill()
        gate.release()
    shared.import_()

    stored = assert_nothing_half_applied(account, clean)
    assert len(stored) == 100
    assert_lock_taken_over_after_expiry(account)
    assert_converges(account, clean_account, clean)


@pytest.mark.skipif(not POSTGRES, reason="needs a second connection that can hold a row lock "
                    "while the worker writes (SQLite takes the write lock before any write)")
def test_kill9_inside_the_last_page_transaction_rolls_it_back(sandbox, tmp_path):
    url, app, gate = sandbox
    clean_account, clean = clean_run(url)
    account = seller(url, DEFAULT_SELLER)
    shared = SharedDatabase(tmp_path)
    pages = -(-len(clean) // 100)

    worker = None
    try:
        with transaction.atomic():
            # The worker writes the last page's orders, then waits for this row lock to move
            # the cursor, in the same transaction.
            SyncCursor.objects.select_for_update().get(flow="orders", account=account, scope=US)
            worker = start_worker(shared, account)

            def waiting_on_cursor() -> bool:
                with connection.cursor() as cur:
                    # pg_locks is read afresh by every query (pg_stat_activity is not,
                    # inside a transaction).
                    cur.execute(
                        "SELECT count(*) FROM pg_locks WHERE NOT granted "
                        "AND pg_backend_pid() = ANY(pg_blocking_pids(pid))")
                    return cur.fetchone()[0] > 0

            wait_for(waiting_on_cursor, "the worker waiting on the cursor row", worker)
            kill(worker)
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()

    stored = assert_nothing_half_applied(account, clean)
    # Every page but the last was committed; the last page died with its transaction.
    assert len(stored) == (pages - 1) * 100
    assert SyncCursor.objects.get(flow="orders", account=account, scope=US).position == SINCE
    assert_lock_taken_over_after_expiry(account)
    assert_converges(account, clean_account, clean)
