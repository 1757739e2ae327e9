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
from amazonsync.models import HealthSnapshot, SyncRun
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
            currency="USD", first_stored_at=stored, version_stored_at=stored, source="api",
            latest_ship_date=now - datetime.timedelta(hours=2),
            ack_sla_met=mfn_met if mfn_met is not None else (i % 10 != 0),
        )


def _feed(account, accepted, messages, now, *, status="DONE", runs=1):
    """A quantity push: ``accepted`` listings pushed, the others rejected by Amazon (an open
    exception per listing), sent again ``runs`` times."""
    from catalog.models import Listing, PushFeed

    start = Listing.objects.count()
    for run in range(runs):
        PushFeed.objects.create(
            account=account, marketplace_id="ATVPDKIKX0DER", kind="quantity", status=status,
            messages=messages, accepted=accepted if status == "DONE" else 0,
            rejected=messages - accepted if status == "DONE" else 0,
            submitted_at=now - datetime.timedelta(hours=1), finished_at=now,
        )
        if status != "DONE" or run:
            continue
        for i in range(messages):
            sku = f"SKU-{start + i}"
            Listing.objects.create(
                account=account, marketplace_id="ATVPDKIKX0DER", seller_sku=sku,
                last_pushed_quantity_at=now if i < accepted else None)
            if i >= accepted:
                exception_record(
                    flow="inventory_push", object_kind="listing",
                    object_key=f"{account.selling_partner_id}/US/{sku}",
                    reason_code="quantity_push_rejected", message="rejected",
                    owner_team="ops", account=account,
                    marketplace=account.marketplaces.get(code="US"))


def test_metrics_values_and_states(account):
    now = timezone.now()
    _orders(account, 20, now=now, latency_s=120)  # 90 % on time
    _feed(account, 19, 20, now)
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
    assert us["exception_backlog"]["value"] == 2
    # a critical exception is red before its 4 h SLA runs out
    assert us["exception_backlog"]["state"] == "red"
    assert us["exception_backlog"]["reason"] == "2 open, of which 1 critical"
    assert data["CA"]["order_sync_latency"]["state"] == "no_data"
    assert data["CA"]["exception_backlog"]["state"] == "green"
    later = health.health_compute(now=now + datetime.timedelta(hours=5))
    assert later["US"]["exception_backlog"]["reason"] == "2 open, of which 1 overdue and 1 critical"


def test_publish_rate_counts_listings_not_resent_messages(account):
    now = timezone.now()
    # one SKU Amazon keeps rejecting, sent again on each of 20 runs: one failed listing of 40
    _feed(account, 39, 40, now, runs=20)
    entry = health.health_compute(now=now)["US"]["catalog_publish_success_rate"]
    assert entry["value"] == Decimal("0.975") and entry["state"] == "amber"
    assert (entry["listings"], entry["rejected"]) == (40, 1)
    # a feed Amazon did not process at all fails every message it carried
    _feed(account, 0, 10, now, status="FATAL")
    entry = health.health_compute(now=now)["US"]["catalog_publish_success_rate"]
    assert (entry["listings"], entry["rejected"]) == (50, 11)
    assert entry["state"] == "red"


def test_order_latency_ignores_versions_read_from_a_report(account):
    from orders.models import Order

    now = timezone.now()
    _orders(account, 5, now=now, latency_s=60)
    # backfilled from a report long after Amazon's last update, then read again through the
    # API (same version, so it became an API order): its store time is not sync latency
    Order.objects.filter(pk=Order.objects.order_by("pk").first().pk).update(
        source="api", version_stored_at=None,
        purchase_date=now - datetime.timedelta(days=81),
        last_update_date=now - datetime.timedelta(days=80))
    entry = health.health_compute(now=now)["US"]["order_sync_latency"]
    assert entry["orders"] == 4 and entry["value"] == Decimal(60)
    assert entry["state"] == "green"


def test_states_follow_targets():
    metric = health.get_metric("order_sync_latency")
    assert metric.state(Decimal(60)) == "green"
    assert metric.state(Decimal(1000)) == "amber"
    assert metric.state(Decimal(5000)) == "red"
    assert metric.state(None) == "no_data"
    rate = health.get_metric("ack_sla_hit_rate")
    assert rate.state(Decimal("0.995")) == "green"
    assert rate.state(Decimal("0.96")) == "amber"
    assert rate.state(Decimal("0.5")) == "red"
    assert health.percentile([5, 1, 3, 2, 4], 0.5) == 3
    assert health.percentile(list(range(1, 101)), 0.95) == 95


def test_metrics_come_from_the_apps_registry_in_their_order(account):
    # each app registers the figures made of its own data in <app>/health.py
    assert [(m.key, m.compute.__module__) for m in health.metrics()] == [
        ("order_sync_latency", "orders.health"), ("ack_sla_hit_rate", "orders.health"),
        ("inventory_freshness", "catalog.health"),
        ("catalog_publish_success_rate", "catalog.health"),
        ("settlement_reconciliation_drift", "settlements.health"),
        ("refund_processing_latency", "returns.health"),
        ("exception_backlog", "amazonsync.health"),
    ]
    health.register_metric("t_extra", label="Extra", unit="count", target=Decimal(1),
                           amber=Decimal(2), higher_is_better=False, position=65
                           )(lambda now: {"US": {"value": Decimal(2), "things": 3}})
    try:
        data = health.health_compute(now=timezone.now())
    finally:
        health.unregister_metric("t_extra")
    assert list(data["US"])[-2:] == ["t_extra", "exception_backlog"]
    assert data["US"]["t_extra"]["state"] == "amber" and data["US"]["t_extra"]["things"] == 3
    assert data["CA"]["t_extra"]["state"] == "no_data"


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


# --- failing flows make their metrics red ------------------------------------------------------

HTTP_400 = "HTTP 400 dataStartTime must be before dataEndTime"
OK, FAILED, REFUSED = SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED, SyncRun.Status.REFUSED


def _run(account, flow, status, *, at, code="US", error=""):
    """A finished run of ``flow``; ``code=None`` for a flow that runs once per account."""
    marketplace = account.marketplaces.get(code=code) if code else None
    return SyncRun.objects.create(
        flow=flow, account=account, marketplace=marketplace, status=status, error=error,
        started_at=at - datetime.timedelta(minutes=3), finished_at=at,
    )


def _states(data, code, keys):
    return {key: data[code][key]["state"] for key in keys}


ORDER_KEYS = ("order_sync_latency", "ack_sla_hit_rate")


def test_failed_orders_run_after_a_success_is_red_with_its_reason(account):
    now = timezone.now()
    _orders(account, 20, now=now, latency_s=60, mfn_met=True)  # figures all green
    _run(account, "orders", OK, at=now - datetime.timedelta(days=1, hours=1))
    _run(account, "orders", FAILED, at=now - datetime.timedelta(hours=2, minutes=5),
         error=HTTP_400)

    data = health.health_compute(now=now)
    us = data["US"]
    assert _states(data, "US", ORDER_KEYS) == dict.fromkeys(ORDER_KEYS, "red")
    assert us["order_sync_latency"]["value"] == Decimal(60)  # the figure is still shown
    reason = ("orders flow failed 2 h ago (Test Seller, US): HTTP 400 dataStartTime must be "
              "before dataEndTime; last success 1 d ago")
    assert us["order_sync_latency"]["reason"] == reason
    assert us["ack_sla_hit_rate"]["reason"] == reason
    [failure] = us["order_sync_latency"]["failures"]
    assert failure["flow"] == "orders" and failure["account"] == "Test Seller"
    assert failure["marketplace"] == "US" and failure["status"] == "failed"
    assert failure["error"] == HTTP_400
    assert failure["failed_at"] == now - datetime.timedelta(hours=2, minutes=5)
    # metrics fed by other flows and the other marketplace are not touched
    assert us["refund_processing_latency"]["state"] == "no_data"
    assert "reason" not in us["refund_processing_latency"]
    assert _states(data, "CA", ORDER_KEYS) == dict.fromkeys(ORDER_KEYS, "no_data")
    assert "failures" not in data["CA"]["order_sync_latency"]


def test_success_after_the_failure_gives_back_the_computed_state(account):
    now = timezone.now()
    _orders(account, 20, now=now, latency_s=60, mfn_met=True)
    _run(account, "orders", FAILED, at=now - datetime.timedelta(hours=3), error=HTTP_400)
    assert health.health_compute(now=now)["US"]["order_sync_latency"]["state"] == "red"

    _run(account, "orders", OK, at=now - datetime.timedelta(hours=1))
    # a run skipped because another was active, or still running, proves nothing either way
    _run(account, "orders", SyncRun.Status.SKIPPED, at=now - datetime.timedelta(minutes=30))
    SyncRun.objects.create(flow="orders", account=account, started_at=now,
                           marketplace=account.marketplaces.get(code="US"))

    us = health.health_compute(now=now)["US"]
    assert _states({"US": us}, "US", ORDER_KEYS) == dict.fromkeys(ORDER_KEYS, "green")
    assert "reason" not in us["order_sync_latency"]
    assert "failures" not in us["order_sync_latency"]


def test_skipped_run_after_a_failure_keeps_it_red(account):
    now = timezone.now()
    _run(account, "orders", OK, at=now - datetime.timedelta(days=2))
    _run(account, "orders", FAILED, at=now - datetime.timedelta(hours=3), error="boom")
    _run(account, "orders", SyncRun.Status.SKIPPED, at=now - datetime.timedelta(hours=1))
    assert health.health_compute(now=now)["US"]["order_sync_latency"]["state"] == "red"


def test_never_succeeded_but_failed_with_the_switch_on_is_red(account):
    now = timezone.now()
    _run(account, "orders", FAILED, at=now - datetime.timedelta(hours=5), error="first")
    _run(account, "orders", FAILED, at=now - datetime.timedelta(minutes=10), error=HTTP_400)
    _run(account, "returns", REFUSED, at=now - datetime.timedelta(days=3), code="CA",
         error="Seller account Test Seller must be authorised again in Seller Central.")

    data = health.health_compute(now=now)
    us = data["US"]["order_sync_latency"]
    assert us["state"] == "red" and us["value"] is None  # red, not "no data"
    assert us["reason"] == (f"orders flow failed 10 min ago (Test Seller, US): {HTTP_400}; "
                            "never succeeded")
    refunds = data["CA"]["refund_processing_latency"]
    assert refunds["state"] == "red"
    assert refunds["reason"] == (
        "returns flow was refused 3 d ago (Test Seller, CA): Seller account Test Seller must "
        "be authorised again in Seller Central.; never succeeded"
    )
    assert data["US"]["refund_processing_latency"]["state"] == "no_data"


def test_switched_off_flow_or_inactive_account_is_not_red(account):
    from marketplaces.models import AccountMarketplace

    now = timezone.now()
    _run(account, "orders", FAILED, at=now - datetime.timedelta(hours=1), error=HTTP_400)
    _run(account, "orders", FAILED, at=now - datetime.timedelta(hours=1), code="CA",
         error=HTTP_400)
    AccountMarketplace.objects.filter(account=account, marketplace__code="US").update(
        orders=False
    )
    data = health.health_compute(now=now)
    assert data["US"]["order_sync_latency"]["state"] == "no_data"
    assert "reason" not in data["US"]["order_sync_latency"]
    assert data["CA"]["order_sync_latency"]["state"] == "red"  # still on there

    account.active = False
    account.save(update_fields=["active"])
    data = health.health_compute(now=now, codes=["US", "CA"])
    assert data["CA"]["order_sync_latency"]["state"] == "no_data"


def test_settlements_failure_reddens_drift_in_every_marketplace_of_the_account(account):
    from marketplaces.models import AccountMarketplace
    from marketplaces.services import account_upsert

    other = account_upsert(selling_partner_id="A2OTHER", name="Other Seller", region="NA",
                           marketplace_codes=["MX", "US"])
    now = timezone.now()
    _run(account, "settlements", OK, at=now - datetime.timedelta(days=2), code=None)
    _run(account, "settlements", FAILED, at=now - datetime.timedelta(hours=6), code=None,
         error="ReportFormatError: missing settlement-id")
    _run(other, "settlements", OK, at=now - datetime.timedelta(hours=1), code=None)

    data = health.health_compute(now=now)
    key = "settlement_reconciliation_drift"
    assert data["US"][key]["state"] == data["CA"][key]["state"] == "red"
    assert data["CA"][key]["reason"] == (
        "settlements flow failed 6 h ago (Test Seller): ReportFormatError: missing "
        "settlement-id; last success 2 d ago"
    )
    assert data["CA"][key]["failures"][0]["marketplace"] is None
    assert data["MX"][key]["state"] == "no_data"  # the other account's marketplace
    assert data["US"]["order_sync_latency"]["state"] == "no_data"  # other flows' metrics

    # a marketplace whose settlements switch is off is not reddened by the account's run
    AccountMarketplace.objects.filter(account=account, marketplace__code="CA").update(
        settlements=False
    )
    data = health.health_compute(now=now)
    assert data["CA"][key]["state"] == "no_data"
    assert data["US"][key]["state"] == "red"


def test_each_metric_follows_its_own_flows(account):
    now = timezone.now()
    _run(account, "price_push", FAILED, at=now - datetime.timedelta(hours=1), error="e1")
    data = health.health_compute(now=now)
    assert data["US"]["catalog_publish_success_rate"]["state"] == "red"
    assert data["US"]["inventory_freshness"]["state"] == "no_data"

    _run(account, "inventory_push", FAILED, at=now - datetime.timedelta(hours=1), error="e2")
    _run(account, "fba_inventory_pull", FAILED, at=now - datetime.timedelta(hours=1),
         error="e3")
    data = health.health_compute(now=now)
    publish = data["US"]["catalog_publish_success_rate"]
    assert [f["flow"] for f in publish["failures"]] == ["inventory_push", "price_push"]
    fresh = data["US"]["inventory_freshness"]
    assert [f["flow"] for f in fresh["failures"]] == ["fba_inventory_pull", "inventory_push"]
    assert fresh["reason"].startswith("fba_inventory_pull flow failed 1 h ago (Test Seller, "
                                      "US): e3; never succeeded; inventory_push flow failed")


def test_failures_of_two_accounts_in_one_marketplace_are_both_told(account):
    from marketplaces.services import account_upsert

    other = account_upsert(selling_partner_id="A2OTHER", name="Other Seller", region="NA",
                           marketplace_codes=["US"])
    now = timezone.now()
    _run(account, "orders", FAILED, at=now - datetime.timedelta(hours=1), error="one")
    _run(other, "orders", FAILED, at=now - datetime.timedelta(hours=2), error="two")
    entry = health.health_compute(now=now)["US"]["order_sync_latency"]
    assert sorted(f["account"] for f in entry["failures"]) == ["Other Seller", "Test Seller"]
    assert "(Other Seller, US): two" in entry["reason"]
    assert "(Test Seller, US): one" in entry["reason"]


@pytest.mark.parametrize(
    ("exceptions", "hours_later", "state", "reason"),
    [
        ([], 0, "green", None),
        ([("listing", "normal")], 0, "amber", None),  # open over target, not yet due
        ([("listing", "normal")] * 5, 0, "amber", None),
        ([("listing", "normal")] * 11, 0, "amber", None),
        ([("listing", "normal")], 24 * 3 + 1, "red", "1 open, of which 1 overdue"),
        ([("shipment", "critical")], 0, "red", "1 open, of which 1 critical"),
    ],
)
def test_exception_backlog_states(account, exceptions, hours_later, state, reason):
    us = account.marketplaces.get(code="US")
    for i, (kind, _severity) in enumerate(exceptions):
        exc = exception_record(flow="x", object_kind=kind, object_key=f"K{i}", reason_code="r",
                               message="m", owner_team="ops", account=account, marketplace=us)
        assert exc.severity == _severity
    now = timezone.now() + datetime.timedelta(hours=hours_later)
    entry = health.health_compute(now=now)["US"]["exception_backlog"]
    assert entry["value"] == len(exceptions)
    assert entry["state"] == state
    assert entry.get("reason") == reason


def test_exception_backlog_rule_uses_the_amber_edge():
    metric = health.get_metric("exception_backlog")
    empty = health._backlog_empty()
    assert metric.judge(empty) == ("green", "")
    assert metric.judge({**empty, "value": Decimal(10)}) == ("amber", "")
    assert metric.judge({**empty, "value": Decimal(3), "overdue": 1})[0] == "red"
    assert metric.judge({**empty, "value": Decimal(3), "critical": 1})[0] == "red"


def test_flow_checks_cost_a_bounded_number_of_queries(account, django_assert_num_queries,
                                                      django_assert_max_num_queries):
    from marketplaces.services import account_upsert

    now = timezone.now()
    _run(account, "orders", FAILED, at=now - datetime.timedelta(hours=1))
    # marketplaces, switches, runs, seven metrics (publish rate: listings, rejections, feeds)
    with django_assert_max_num_queries(12):
        health.health_compute(now=now)
    with CaptureQueriesContext(connection) as small:
        health.health_compute(now=now)

    flows = ["orders", "returns", "inventory_push", "price_push", "fba_inventory_pull"]
    accounts = [account] + [
        account_upsert(selling_partner_id=f"A{i}SELLER", name=f"Seller {i}", region="NA",
                       marketplace_codes=["US", "CA", "MX"])
        for i in range(3)
    ]
    for n, acct in enumerate(accounts):
        for hours in range(1, 6):
            at = now - datetime.timedelta(hours=hours)
            _run(acct, "settlements", FAILED if hours % 2 else OK, at=at, code=None, error="s")
            for flow in flows:
                for code in acct.marketplaces.values_list("code", flat=True):
                    status = FAILED if (hours + n) % 2 else OK
                    _run(acct, flow, status, at=at, code=code, error="x")
    with django_assert_num_queries(len(small.captured_queries)):
        data = health.health_compute(now=now)
    # the latest run of Seller 0 (n=1) is OK at hour 1, Test Seller's (n=0) failed
    assert {f["account"] for f in data["MX"]["order_sync_latency"].get("failures", [])} == {
        "Seller 1"
    }
    assert {f["account"] for f in data["US"]["settlement_reconciliation_drift"]["failures"]} == {
        "Test Seller", "Seller 0", "Seller 1", "Seller 2"
    }


def test_command_json_tells_the_reason(account, capsys):
    now = timezone.now()
    _run(account, "orders", FAILED, at=now - datetime.timedelta(hours=2, minutes=1),
         error=HTTP_400)
    with pytest.raises(SystemExit) as exit_info:
        call_command("health", "--json")
    assert exit_info.value.code == 1
    doc = json.loads(capsys.readouterr().out)
    entry = doc["marketplaces"]["US"]["order_sync_latency"]
    assert entry["state"] == "red" and entry["value"] is None
    assert entry["reason"] == (f"orders flow failed 2 h ago (Test Seller, US): {HTTP_400}; "
                               "never succeeded")
    [failure] = entry["failures"]
    assert datetime.datetime.fromisoformat(failure["failed_at"]) == (
        SyncRun.objects.get().finished_at
    )
    assert failure["last_success"] is None
    assert doc["marketplaces"]["CA"]["order_sync_latency"]["state"] == "no_data"


def test_dashboard_shows_the_reason_in_plain_words(client, ops_user, account):
    now = timezone.now()
    _run(account, "orders", FAILED, at=now - datetime.timedelta(hours=2, minutes=1),
         error=HTTP_400)
    exception_record(flow="x", object_kind="listing", object_key="K1", reason_code="r",
                     message="m", owner_team="merch", account=account,
                     marketplace=account.marketplaces.get(code="US"))
    client.force_login(ops_user)
    html = client.get(reverse("health")).content.decode()
    us = html[html.index('data-marketplace="US"'):html.index("Fixed by hand")]
    assert (f"orders flow failed 2 h ago (Test Seller, US): {HTTP_400}; never succeeded"
            in us)
    assert us.count('<td class="as-health-value">flow failing</td>') == 2  # latency, SLA rate
    # the backlog per team: a small table
    assert "<tr><td>Merchandising</td><td>1</td><td>0 h</td></tr>" in us
    assert "{&#x27;" not in us and "{'" not in us  # no Python dict printed
