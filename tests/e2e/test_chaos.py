"""End-to-end chaos run: every flow for one simulated month of a seeded seller with two
marketplaces (US and DE), against the local sandbox, once fault-free, once ``flaky`` and once
``hostile``, each on a clean database.

Time is simulated: the sandbox's clock moves two days per step (``/_sandbox/advance``) and the
application's clock (``django.utils.timezone.now``) follows it, so cursors, lookbacks and
report windows behave as they would over a real month; the SP-API clients wait for Amazon's
quotas on one shared simulated clock.

- ``flaky`` (429s, 5xx, dropped connections, slow answers): every run succeeds and the final
  database equals the fault-free one (orders and lines, settlements and lines, journal
  batches and lines, returns and refund matches, FBA stock, inbound shipments, MFN
  packages), with no duplicate natural key.
- ``hostile`` (reports that end FATAL or CANCELLED, truncated downloads, access tokens that
  expire early, and the seller's refresh token revoked mid-month until staff paste a new
  one): nothing raises out of ``flow_run``; every failed or refused run leaves an open
  exception with a clear reason on that run; once the account is authorised again and the
  schedules have run, the database converges to the fault-free one (reports that end
  FATAL/CANCELLED are requested again within the run; a flow whose report still fails
  would be explained by its open exception).
"""

from __future__ import annotations

import datetime
from collections import Counter
from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from amazonsync.flows import client_options
from amazonsync.models import SyncException, SyncRun
from amazonsync.sandbox import World, start_sandbox_app
from amazonsync.sandbox import world as sandbox_world
from amazonsync.services import flow_run
from amazonsync.spapi.clock import SimulatedClock
from amazonsync.spapi.ratelimit import MemoryBucketStore
from catalog.models import FbaStock, InboundShipmentItem
from marketplaces.models import AccountMarketplace, SellerAccount
from marketplaces.services import account_set_credentials, account_upsert
from orders.models import FulfillmentChannel, Order, OrderStatus, Shipment, ShipmentStatus
from orders.selectors import order_snapshot
from orders.services import shipment_record
from returns.models import RefundMatch, ReturnEvent
from settlements.models import JournalBatch, JournalLine, Settlement, SettlementLine

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

SEED = 7
ORDERS = 300
START = "2026-11-01T00:00:00Z"
DAYS = 30
STEP = 2  # days between two rounds of every flow
CODES = ["DE", "US"]
PER_MARKETPLACE = ("orders", "shipments", "fba_inventory_pull", "inbound_pull",
                   "inventory_push", "price_push", "returns")
PER_ACCOUNT = ("account_check", "settlements")
REVOKE_DAY, REAUTHORISE_DAY = 18, 22
NEW_REFRESH_TOKEN = "Atzr|sandbox-refresh-token-after-reauthorisation"

_BASELINE: dict = {}


@pytest.fixture(scope="module")
def world():
    return World(SEED, orders=ORDERS, start=START)


class AppClock:
    """``timezone.now`` for the application: the sandbox's simulated instant."""

    def __init__(self) -> None:
        self.at = datetime.datetime.fromisoformat(START)

    def set(self, epoch: int) -> None:
        self.at = datetime.datetime.fromtimestamp(epoch, datetime.UTC)

    def now(self) -> datetime.datetime:
        return self.at


class Month:
    """One profile's month: sandbox, seeded account, the steps and what happened."""

    def __init__(self, world, faults: str, monkeypatch) -> None:
        self.faults = faults
        self.world = world
        self.url, self._stop, self.app = start_sandbox_app(
            seed=SEED, orders=ORDERS, start=START, faults=faults, world=world)
        self.clock = AppClock()
        monkeypatch.setattr(timezone, "now", self.clock.now)
        self.crashes: list[str] = []
        self.failures: list[tuple[int, str, str, str, str]] = []  # day, flow, status, reason
        self.day = 0
        self.package = None

    def stop(self) -> None:
        self._stop()

    # --- seeding ------------------------------------------------------------------
    def seed(self) -> SellerAccount:
        from catalog import demo as catalog_demo
        from orders.demo import CARRIERS
        from orders.services import carrier_mapping_upsert
        from returns.services import disposition_rules_ensure
        from settlements.chart import seed as chart_seed
        from settlements.models import GLAccount, GLMapping

        self.clock.set(self.app.now)
        chart_seed(GLAccount, GLMapping)  # data migration content, gone after a flush
        disposition_rules_ensure()
        for carrier, method, code, shipping_method in CARRIERS:
            carrier_mapping_upsert(carrier=carrier, ship_method=method,
                                   amazon_carrier_code=code, shipping_method=shipping_method)
        account = account_upsert(
            selling_partner_id=sandbox_world.DEFAULT_SELLER, name="Chaos seller", region="NA",
            lwa_client_id=sandbox_world.LWA_CLIENT_ID,
            client_secret=sandbox_world.LWA_CLIENT_SECRET,
            refresh_token=sandbox_world.REFRESH_TOKEN,
            rotated_on=timezone.localdate() - datetime.timedelta(days=10),
            api_base_url=self.url, token_url=f"{self.url}/auth/o2/token",
            marketplace_codes=CODES,
        )
        assert AccountMarketplace.objects.filter(account=account).count() == 2

        class Ctx:
            sync = False
            api_url = self.url
            log = staticmethod(lambda message: None)

        Ctx.account = account
        original = catalog_demo._world
        catalog_demo._world = lambda ctx: self.world  # the demo's catalog for our world
        try:
            catalog_demo.load(Ctx)
        finally:
            catalog_demo._world = original
        self.account = account
        return account

    # --- running ------------------------------------------------------------------
    def run(self, flow: str, marketplace_id: str | None = None) -> None:
        try:
            run = flow_run(flow=flow, account_id=self.account.pk, marketplace_id=marketplace_id,
                           trigger=SyncRun.Trigger.SCHEDULE)
        except Exception as err:  # a crash: flow_run must never raise for a flow failure
            self.crashes.append(f"day {self.day} {flow} {marketplace_id}: {err!r}")
            return
        if run.status in (SyncRun.Status.FAILED, SyncRun.Status.REFUSED):
            queued = SyncException.objects.filter(last_run=run,
                                                  status=SyncException.Status.OPEN)
            reasons = [(e.reason_code, e.message) for e in queued]
            assert reasons, f"{flow} {marketplace_id} {run.status} without an exception: " \
                            f"{run.error}"
            for reason, message in reasons:
                self.failures.append((self.day, flow, run.status, reason, message))
        elif run.status == SyncRun.Status.SKIPPED:
            self.crashes.append(f"day {self.day} {flow}: skipped although nothing else runs")

    def step(self) -> None:
        self.clock.set(self.app.now)
        for code in CODES:
            marketplace_id = sandbox_world.MARKETPLACES[code].id
            for flow in PER_MARKETPLACE:
                self.run(flow, marketplace_id)
        for flow in PER_ACCOUNT:
            self.run(flow)
        self.record_package()

    def record_package(self) -> None:
        """Staff pack one MFN order in the first week (the shipments flow confirms it)."""
        if self.package is not None or self.day < 1:
            return
        order = (Order.objects.filter(account=self.account, marketplace__code="US",
                                      fulfillment_channel=FulfillmentChannel.MFN,
                                      status=OrderStatus.UNSHIPPED,
                                      purchase_date__gte=self.clock.at
                                      - datetime.timedelta(days=2))
                 .order_by("amazon_order_id").first())
        if order is None:
            return
        lines = [(line, line.quantity_unshipped) for line in order.lines.all()
                 if line.quantity_unshipped]
        shipment_record(order=order, carrier="UPS",
                        tracking_number=f"1Z{order.amazon_order_id[-7:]}",
                        ship_date=self.clock.at, lines=lines)
        self.package = order.amazon_order_id

    def advance(self, seconds: int) -> None:
        requests.post(f"{self.url}/_sandbox/advance", json={"seconds": seconds},
                      timeout=10).raise_for_status()
        self.day += seconds // sandbox_world.DAY

    def month(self, between_steps=None) -> None:
        with client_options(clock=SimulatedClock(start=self.app.now),
                            bucket_store=MemoryBucketStore()):
            self.step()
            for _ in range(DAYS // STEP):
                self.advance(STEP * sandbox_world.DAY)
                if between_steps is not None:
                    between_steps(self)
                self.step()

    def catch_up(self, rounds: int = 4) -> None:
        """The schedules run again an hour later (no new day): failed runs are retried."""
        with client_options(clock=SimulatedClock(start=self.app.now + 7200),
                            bucket_store=MemoryBucketStore()):
            for _ in range(rounds):
                self.advance(0)
                self.clock.set(self.app.now)
                self.step()


# --- snapshots ---------------------------------------------------------------------


def _plain(value):
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return value


def _rows(qs, *fields: str, key: int) -> list[tuple]:
    rows = [tuple(_plain(v) for v in row) for row in qs.values_list(*fields)]
    keys = Counter(row[:key] for row in rows)
    duplicates = [k for k, n in keys.items() if n > 1]
    assert not duplicates, f"duplicate {qs.model.__name__} natural keys: {duplicates[:5]}"
    return sorted(rows, key=repr)


def snapshot(account) -> dict:
    orders = order_snapshot(account=account)
    return {
        "orders": {k: {f: _plain(v) for f, v in row.items()} for k, row in orders.items()},
        "settlements": _rows(
            Settlement.objects.filter(account=account), "settlement_id", "marketplace__code",
            "start_date", "end_date", "deposit_date", "total_amount", "currency", "line_count",
            "sum_of_lines", "internal_drift", "journal_net", "journal_drift",
            "previous_reserve", "current_reserve", "reserve_drift", "unmapped_lines",
            "has_drift", key=1),
        # settlement lines whose order is not stored (yet)
        "settlement_order_issues": _rows(
            Settlement.objects.filter(account=account), "settlement_id", "order_issues",
            key=1),
        "settlement_lines": _rows(
            SettlementLine.objects.filter(settlement__account=account),
            "settlement__settlement_id", "line_number", "transaction_type", "order_id",
            "amount_type", "amount_description", "amount", "sku", "posted_date_time",
            "quantity_purchased", key=2),
        "journal_batches": _rows(
            JournalBatch.objects.filter(settlement__account=account), "reference",
            "generation", "settlement__settlement_id", "period", "kind", "status",
            "currency", "entry_date", "unmapped_lines", "debit_total", "credit_total", key=2),
        "journal_lines": sorted(
            (tuple(_plain(v) for v in row) for row in JournalLine.objects.filter(
                batch__settlement__account=account).values_list(
                "batch__reference", "batch__generation", "gl_account__code", "role",
                "entry_date", "debit", "credit", "currency", "memo")), key=repr),
        "returns": _rows(
            ReturnEvent.objects.filter(account=account), "marketplace__code", "channel",
            "order_id", "seller_sku", "reference", "return_date", "disposition", "quantity",
            "reason", "status", "linked_order__amazon_order_id", key=6),
        "refund_matches": _rows(
            RefundMatch.objects.filter(account=account), "order_id", "seller_sku", "channel",
            "refunded_amount", "currency", "refunded_quantity", "returned_quantity",
            "outcome", "follow_up", key=3),
        "fba_stock": _rows(
            FbaStock.objects.filter(listing__account=account), "listing__marketplace__code",
            "listing__seller_sku", "fulfillable", "inbound", "reserved", "unfulfillable",
            key=2),
        "inbound": _rows(
            InboundShipmentItem.objects.filter(shipment__account=account),
            "shipment__shipment_id", "seller_sku", "shipment__status", "quantity_shipped",
            "quantity_received", key=2),
        "packages": _rows(
            Shipment.objects.filter(order__account=account), "order__amazon_order_id",
            "package_reference_id", "status", "tracking_number", key=2),
        "open_exceptions": _rows(
            SyncException.objects.filter(status=SyncException.Status.OPEN),
            "flow", "object_kind", "object_key", "reason_code", key=4),
    }


def assert_same(got: dict, expected: dict) -> None:
    for name in expected:
        if got[name] != expected[name]:
            if isinstance(expected[name], dict):
                missing = sorted(set(expected[name]) - set(got[name]))[:5]
                extra = sorted(set(got[name]) - set(expected[name]))[:5]
                changed = [k for k in expected[name] if k in got[name]
                           and got[name][k] != expected[name][k]][:3]
                detail = f"missing {missing}, extra {extra}, changed {changed}"
            else:
                missing = [r for r in expected[name] if r not in got[name]][:5]
                extra = [r for r in got[name] if r not in expected[name]][:5]
                detail = f"missing {missing}, extra {extra}"
            raise AssertionError(f"{name} differ from the fault-free run: {detail}")


def fault_free(world, monkeypatch) -> dict:
    if "snapshot" not in _BASELINE:
        month = Month(world, "none", monkeypatch)
        try:
            account = month.seed()
            month.month()
            assert month.crashes == []
            assert month.failures == [], month.failures[:5]
            _BASELINE["snapshot"] = snapshot(account)
            _BASELINE["package"] = month.package
        finally:
            month.stop()
    return _BASELINE["snapshot"]


def test_fault_free_month_covers_every_flow(world, monkeypatch):
    expected = fault_free(world, monkeypatch)
    for name in ("orders", "settlements", "settlement_lines", "journal_batches",
                 "journal_lines", "returns", "refund_matches", "fba_stock", "inbound"):
        assert expected[name], f"the month produced no {name}"
    assert {row["marketplace_id"] for row in expected["orders"].values()} == {
        sandbox_world.MARKETPLACES[c].id for c in CODES}
    assert [row[2] for row in expected["packages"]] == [ShipmentStatus.CONFIRMED]


def test_flaky_month_ends_with_the_fault_free_database(world, monkeypatch):
    expected = fault_free(world, monkeypatch)
    _flush()
    month = Month(world, "flaky", monkeypatch)
    try:
        account = month.seed()
        month.month()
    finally:
        month.stop()
    assert month.crashes == []
    assert month.failures == [], month.failures[:5]
    assert_same(snapshot(account), expected)


def test_hostile_month_queues_every_fault_and_converges_after_reauthorisation(
        world, monkeypatch, caplog):
    expected = fault_free(world, monkeypatch)
    _flush()
    month = Month(world, "hostile", monkeypatch)

    def revoke_then_reauthorise(m: Month) -> None:
        if m.day == REVOKE_DAY:  # the seller revokes the app in Seller Central
            requests.post(f"{m.url}/_sandbox/revoke",
                          json={"refresh_token": sandbox_world.REFRESH_TOKEN}, timeout=10)
            SellerAccount.objects.filter(pk=m.account.pk).update(
                access_token="", access_token_expires_at=None)
        if m.day == REAUTHORISE_DAY:  # ... authorises it again; staff paste the new token
            m.app.refresh_tokens[NEW_REFRESH_TOKEN] = m.app.seller_id
            account_set_credentials(account=m.account, refresh_token=NEW_REFRESH_TOKEN)

    try:
        account = month.seed()
        month.month(between_steps=revoke_then_reauthorise)
        month.catch_up()
    finally:
        month.stop()
    assert month.crashes == []
    reasons = Counter((flow, reason) for _, flow, _, reason, _ in month.failures)
    messages = {reason: message for _, _, _, reason, message in month.failures}
    # Reports that end FATAL or CANCELLED are requested again within the run (and said so
    # in the log); they never stop a flow in this rhythm of failures.
    rerequested = [r.getMessage() for r in caplog.records
                   if "requesting it again" in r.getMessage()]
    assert any("FATAL" in m for m in rerequested) and any("CANCELLED" in m for m in rerequested)
    assert not [m for _, _, _, r, m in month.failures if r == "flow_failed"], reasons
    # The revoked refresh token stops every flow until the account is authorised again.
    revoked_days = {d for d, _, _, r, _ in month.failures if r == "reauthorization_required"}
    assert revoked_days == set(range(REVOKE_DAY, REAUTHORISE_DAY, STEP)), sorted(revoked_days)
    assert "authorised again in Seller Central" in messages["reauthorization_required"]
    assert not SyncException.objects.filter(
        object_kind="seller_account", status=SyncException.Status.OPEN).exists()
    account.refresh_from_db()
    assert not account.needs_reauthorization
    # A failure still open after the catch-up is explained by its exception: a report that
    # Amazon ended FATAL or CANCELLED again (the hostile sandbox fails reports in a fixed
    # rhythm, and a flow that requests two reports per run can keep meeting it). Only the
    # data of that flow may differ from the fault-free run; everything else converged.
    still_failing = SyncException.objects.filter(reason_code="flow_failed",
                                                 status=SyncException.Status.OPEN)
    for exc in still_failing:
        assert "ReportFailed" in exc.message and (
            "FATAL" in exc.message or "CANCELLED" in exc.message), exc.message
        assert exc.last_run.status == SyncRun.Status.FAILED
    differing = set().union(*(AFFECTS[e.flow] for e in still_failing))
    assert {e.flow for e in still_failing} <= set(AFFECTS), sorted(differing)
    assert_same(snapshot(account),
                {name: rows for name, rows in expected.items() if name not in differing})


# What a flow that is still failing at the end may leave different from the fault-free run.
AFFECTS = {
    "returns": {"returns", "refund_matches", "open_exceptions"},
    # a marketplace whose all-orders backfill report keeps failing has no orders yet
    "orders": {"orders", "packages", "returns", "refund_matches", "open_exceptions",
               "settlement_order_issues"},
}


def _flush() -> None:
    """Each profile starts on a clean database (the transactional test flushed the last
    one's rows; the fault-free run may have run earlier in this same test)."""
    from django.core.management import call_command

    from amazonsync.reference_data import reference_data_ensure

    if SellerAccount.objects.exists():
        call_command("flush", interactive=False, verbosity=0)
        reference_data_ensure()
