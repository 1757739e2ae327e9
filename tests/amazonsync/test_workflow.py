"""Exception workflow: severity and SLA, dependents retried, rule candidates; schedules."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from django_q.models import Schedule

from amazonsync import services
from amazonsync.flows import register_flow, unregister_flow
from amazonsync.models import SyncException
from amazonsync.schedules import schedule_name, schedules_sync
from amazonsync.selectors import exception_rule_candidates


def _record(account, kind, reason, key="k1", **kw):
    return services.exception_record(
        flow="f", object_kind=kind, object_key=key, reason_code=reason, message="m",
        owner_team="ops", account=account, **kw,
    )


def test_a_stuck_shipment_outranks_a_price_update(account):
    price = _record(account, "price", "price_rejected")
    shipment = _record(account, "shipment", "carrier_rejected")
    assert shipment.severity == "critical" and price.severity == "low"
    assert shipment.due_at - shipment.first_seen == datetime.timedelta(hours=4)
    assert price.due_at - price.first_seen == datetime.timedelta(days=7)
    queue = list(SyncException.objects.order_by("status", "severity_rank", "due_at"))
    assert queue[0] == shipment


def test_resolving_a_cause_retries_its_dependents(account):
    calls = []

    @services.register_retry("dependent_thing")
    def handler(exc):
        calls.append(exc.object_key)
        return True

    cause = _record(account, "listing", "unmapped_sku", key="SKU-1")
    dep1 = _record(account, "dependent_thing", "waiting", key="D1", depends_on=cause)
    dep2 = _record(account, "dependent_thing", "waiting", key="D2", depends_on=cause)
    unrelated = _record(account, "dependent_thing", "waiting", key="D3")
    services.exceptions_resolve(exception_ids=[cause.pk], user=None)
    assert sorted(calls) == ["D1", "D2"]
    for exc, status in ((dep1, "resolved"), (dep2, "resolved"), (unrelated, "open")):
        exc.refresh_from_db()
        assert exc.status == status


def test_reasons_fixed_by_hand_more_than_twice_are_rule_candidates(account, superuser):
    for i in range(3):
        exc = _record(account, "settlement_line", "unmapped_gl", key=f"L{i}")
        services.exceptions_resolve(exception_ids=[exc.pk], user=superuser)
    for i in range(2):
        exc = _record(account, "listing", "unmapped_sku", key=f"S{i}")
        services.exceptions_resolve(exception_ids=[exc.pk], user=superuser)
    # resolved by a retry does not count as by hand
    auto = _record(account, "listing", "unmapped_sku", key="S9")
    services.exception_resolve(flow="f", object_kind="listing", object_key="S9")
    auto.refresh_from_db()
    assert not auto.manual_fix
    candidates = list(exception_rule_candidates())
    assert [(c["reason_code"], c["fixed_by_hand"]) for c in candidates] == [("unmapped_gl", 3)]


def test_assign(account, ops_user):
    exc = _record(account, "listing", "unmapped_sku")
    services.exceptions_assign(exception_ids=[exc.pk], assignee=ops_user)
    exc.refresh_from_db()
    assert exc.assignee == ops_user


@pytest.fixture
def two_flows():
    register_flow("t_sched_a", switch="orders")(lambda ctx: None)
    register_flow("t_sched_b", per_marketplace=False)(lambda ctx: None)
    yield
    unregister_flow("t_sched_a")
    unregister_flow("t_sched_b")


def test_schedules_follow_switches_idempotently(account, two_flows):
    first = schedules_sync()
    assert first.created >= 3
    names = set(Schedule.objects.values_list("name", flat=True))
    ours = Schedule.objects.filter(name__contains=" t_sched_")
    assert ours.count() == 3
    assert schedule_name("t_sched_a", "A1TESTSELLER", "US") in names
    assert schedule_name("t_sched_a", "A1TESTSELLER", "CA") in names
    assert schedule_name("t_sched_b", "A1TESTSELLER", None) in names
    # staff edit an interval; re-running keeps it and creates nothing
    Schedule.objects.filter(name=schedule_name("t_sched_a", "A1TESTSELLER", "US")).update(
        minutes=2
    )
    again = schedules_sync()
    assert again.created == 0 and again.removed == 0
    assert Schedule.objects.get(
        name=schedule_name("t_sched_a", "A1TESTSELLER", "US")).minutes == 2
    assert Schedule.objects.count() == len(names)
    # switching orders off for CA removes that schedule only
    account.account_marketplaces.filter(marketplace__code="CA").update(orders=False)
    schedules_sync()
    assert ours.count() == 2
    assert not Schedule.objects.filter(
        name=schedule_name("t_sched_a", "A1TESTSELLER", "CA")).exists()
    assert Schedule.objects.filter(
        name=schedule_name("t_sched_a", "A1TESTSELLER", "US")).exists()
    # a deactivated account loses all its schedules
    account.active = False
    account.save()
    schedules_sync()
    assert not Schedule.objects.filter(name__contains="A1TESTSELLER").exists()


def test_scheduled_task_runs_the_flow(account, two_flows):
    from amazonsync.tasks import run_flow

    run_id = run_flow("t_sched_a", account.pk, "ATVPDKIKX0DER")
    from amazonsync.models import SyncRun

    run = SyncRun.objects.get(pk=run_id)
    assert run.trigger == "schedule" and run.status == "succeeded"
    assert run.started_at <= timezone.now()


def test_new_schedule_runs_every_the_flows_interval_and_housekeeping_comes_from_the_registry(
    account,
):
    register_flow("t_sched_every", switch="orders", every=7)(lambda ctx: None)
    try:
        schedules_sync()
    finally:
        unregister_flow("t_sched_every")
    schedule = Schedule.objects.get(name=schedule_name("t_sched_every", "A1TESTSELLER", "US"))
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 7
    assert schedule.func == "amazonsync.tasks.run_flow"
    # housekeeping tasks registered next to their code (register_housekeeping) get one
    # schedule each, calling the decorated function
    refunds = Schedule.objects.get(name="refund matching")
    assert refunds.func == "returns.tasks.match_refunds_all"
    assert refunds.schedule_type == Schedule.DAILY and refunds.repeats == -1
    snapshot = Schedule.objects.get(name="health snapshot")
    assert snapshot.func == "amazonsync.tasks.health_snapshot"
    assert snapshot.schedule_type == Schedule.DAILY
    # once: a second pass creates no other housekeeping schedule
    schedules_sync()
    assert Schedule.objects.filter(name__in=["refund matching", "health snapshot"]).count() == 2
