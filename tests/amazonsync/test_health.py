"""The seven health metrics: values, states, constant queries, JSON, snapshots, dashboard."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from amazonsync import health
from amazonsync.models import HealthSnapshot
from amazonsync.services import exception_record

KEYS = {"order_sync_latency", "ack_sla_hit_rate", "inventory_freshness",
        "catalog_publish_success_rate", "settlement_reconciliation_drift",
        "refund_processing_latency", "exception_backlog"}


def _orders(account, n, *, now, latency_s, mfn_met=None):
    from orders.models import Order

    start = Order.objects.count()
    us = account.account_marketplaces.get(marketplace__code="US").marketplace
    for i in range(n):
        stored = now - datetime.timedelta(hours=1)
        Order.objects.create(
            account=account, marketplace=us, amazon_order_id=f"111-{start + i:07d}-0000001",
            purchase_date=stored - datetime.timedelta(hours=2),
            last_update_date=stored - datetime.timedelta(seconds=latency_s),
            status="Shipped", fulfillment_channel="MFN", order_total=Decimal("10.00"),
            currency="USD", first_stored_at=stored,
            latest_ship_date=now - datetime.timedelta(hours=2),
            ack_sla_met=mfn_met if mfn_met is not None else (i % 10 != 0),
        )


def _feed(account, accepted, messages, now):
    from catalog.models import PushFeed

    PushFeed.objects.create(
        account=account, marketplace_id="ATVPDKIKX0DER", kind="quantity", status="DONE",
        messages=messages, accepted=accepted, rejected=messages - accepted,
        submitted_at=now - datetime.timedelta(hours=1), finished_at=now,
    )


def test_metrics_values_and_states(account):
    now = timezone.now()
    _orders(account, 20, now=now, latency_s=120)  # 90 % on time
    _feed(account, 95, 100, now)
    exception_record(flow="shipments", object_kind="shipment", object_key="S1",
                     reason_code="carrier_rejected", message="m", owner_team="ops",
                     account=account, marketplace=account.marketplaces.get(code="US"))
    data = health.health_compute(now=now)
    assert set(data) == {"CA", "US"}
    us = data["US"]
    assert set(us) == KEYS
    assert us["order_sync_latency"]["value"] == Decimal(120)
    assert us["order_sync_latency"]["state"] == "green"
    assert us["ack_sla_hit_rate"]["value"] == Decimal("0.9")
    assert us["ack_sla_hit_rate"]["state"] == "red"  # below 95 %
    assert us["catalog_publish_success_rate"]["value"] == Decimal("0.95")
    assert us["catalog_publish_success_rate"]["state"] == "amber"
    assert us["exception_backlog"]["value"] == 1
    assert us["exception_backlog"]["state"] == "green"  # not overdue yet
    assert data["CA"]["order_sync_latency"]["state"] == "no_data"
    # the critical shipment exception goes overdue after its 4 h SLA
    later = health.health_compute(now=now + datetime.timedelta(hours=5))
    assert later["US"]["exception_backlog"]["state"] == "red"


def test_states_follow_targets():
    metric = health.METRIC_BY_KEY["order_sync_latency"]
    assert metric.state(Decimal(60)) == "green"
    assert metric.state(Decimal(1000)) == "amber"
    assert metric.state(Decimal(5000)) == "red"
    assert metric.state(None) == "no_data"
    rate = health.METRIC_BY_KEY["ack_sla_hit_rate"]
    assert rate.state(Decimal("0.995")) == "green"
    assert rate.state(Decimal("0.96")) == "amber"
    assert rate.state(Decimal("0.5")) == "red"
    assert health.percentile([5, 1, 3, 2, 4], 0.5) == 3
    assert health.percentile(list(range(1, 101)), 0.95) == 95


def test_constant_number_of_queries(account):
    now = timezone.now()
    _orders(account, 3, now=now, latency_s=60)
    with CaptureQueriesContext(connection) as small:
        health.health_compute(now=now)
    _orders(account, 60, now=now, latency_s=60)
    for i in range(30):
        _feed(account, 10, 10, now)
        exception_record(flow="x", object_kind="listing", object_key=f"K{i}",
                         reason_code="r", message="m", owner_team="merch", account=account)
    with CaptureQueriesContext(connection) as big:
        health.health_compute(now=now)
    assert len(big.captured_queries) == len(small.captured_queries)


def test_health_command_json_and_exit_status(account, capsys):
    now = timezone.now()
    _orders(account, 10, now=now, latency_s=30, mfn_met=True)
    call_command("health", "--json")
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["marketplaces"]["US"]) == KEYS
    entry = doc["marketplaces"]["US"]["ack_sla_hit_rate"]
    assert entry["value"] == "1.0000" and entry["state"] == "green"
    assert {"value", "target", "state"} <= set(entry)
    _orders(account, 10, now=now, latency_s=30, mfn_met=False)  # 50 %: red
    with pytest.raises(SystemExit) as exit_info:
        call_command("health", "--json")
    assert exit_info.value.code == 1


def test_snapshots_are_daily_and_idempotent(account):
    now = timezone.now()
    _orders(account, 5, now=now, latency_s=30)
    first = health.health_snapshot_store(now=now)
    second = health.health_snapshot_store(now=now)
    assert first == second == 2 * 7
    assert HealthSnapshot.objects.count() == 14
    health.health_snapshot_store(now=now - datetime.timedelta(days=1))
    trends = health.health_trends(today=now.date())
    assert len(trends["US"]["order_sync_latency"]) == 2


def test_dashboard_renders_trends(client, ops_user, account):
    now = timezone.now()
    _orders(account, 5, now=now, latency_s=30)
    for d in range(5):
        health.health_snapshot_store(now=now - datetime.timedelta(days=d))
    client.force_login(ops_user)
    html = client.get(reverse("health")).content.decode()
    assert "Integration health" in html
    assert 'data-marketplace="US"' in html
    assert html.count("<polyline") >= 1
    assert "Order sync latency" in html
    assert client.get(reverse("admin:index")).content.decode().count(reverse("health")) == 1
    client.logout()
    assert client.get(reverse("health")).status_code == 302  # staff only
