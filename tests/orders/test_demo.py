"""The orders demo step against a live sandbox: orders per marketplace, carrier mappings and
one MFN package that the shipments flow confirms."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.utils import timezone

from amazonsync.models import SyncRun
from amazonsync.sandbox import (
    DEFAULT_SELLER,
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    REFRESH_TOKEN,
    start_sandbox,
)
from amazonsync.services import flow_run
from amazonsync.spapi.clock import SimulatedClock
from marketplaces.services import account_upsert
from orders import demo
from orders.models import CarrierMapping, Order, Shipment, ShipmentStatus

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


def test_demo_syncs_orders_and_records_a_shipment(monkeypatch):
    monkeypatch.setattr("amazonsync.spapi.client.RealClock", lambda: SimulatedClock())
    url, stop = start_sandbox(orders=1500, rate_limits=False)
    try:
        account = account_upsert(
            selling_partner_id=DEFAULT_SELLER, name="Sandbox Seller", region="NA",
            lwa_client_id=LWA_CLIENT_ID, client_secret=LWA_CLIENT_SECRET,
            refresh_token=REFRESH_TOKEN, rotated_on=timezone.localdate(), api_base_url=url,
            token_url=f"{url}/auth/o2/token", marketplace_codes=["US", "GB", "DE", "JP"],
        )
        ctx = Ctx(account=account, api_url=url)
        demo.load(ctx)
        assert ctx.problems == []
        runs = SyncRun.objects.filter(flow="orders")
        assert runs.count() == 4
        assert not runs.exclude(status="succeeded").exists(), list(runs.values("error"))
        assert set(Order.objects.values_list("marketplace__code", flat=True).distinct()) == {
            "US", "GB", "DE", "JP"}
        shipment = Shipment.objects.get()
        assert shipment.order.fulfillment_channel == "MFN"
        assert CarrierMapping.objects.count() == len(demo.CARRIERS)
        run = flow_run(flow="shipments", account_id=account.pk,
                       marketplace_id=shipment.order.marketplace_id)
        assert run.status == "succeeded", run.error
        shipment.refresh_from_db()
        assert shipment.status == ShipmentStatus.CONFIRMED, shipment.last_error
        demo.load(Ctx(account=account, api_url=url))  # idempotent
        assert Shipment.objects.count() == 1
    finally:
        stop()
