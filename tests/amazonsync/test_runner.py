"""The runner: runs, locks, refusals, failures as exceptions, cursors, retries."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from amazonsync import services
from amazonsync.flows import register_flow, unregister_flow
from amazonsync.models import SyncCursor, SyncException, SyncLock, SyncRun
from amazonsync.spapi.errors import AuthError
from marketplaces.models import Marketplace, SellerAccount
from marketplaces.services import account_set_credentials

US = "ATVPDKIKX0DER"


@pytest.fixture
def flow_factory():
    names = []

    def make(name, func, **kw):
        register_flow(name, **kw)(func)
        names.append(name)
        return name

    yield make
    for name in names:
        unregister_flow(name)


def test_successful_run_records_counts(account, flow_factory):
    def ok(ctx):
        ctx.count(fetched=5, created=3, unchanged=2)

    flow_factory("t_ok", ok, switch="orders")
    run = services.flow_run(flow="t_ok", account_id=account.pk, marketplace_id=US)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.fetched, run.created, run.unchanged, run.failed) == (5, 3, 2, 0)
    assert run.finished_at >= run.started_at
    # the lock was released
    assert SyncLock.objects.get(flow="t_ok", scope=US).holder == ""


def test_failure_becomes_exception_and_next_success_resolves_it(account, flow_factory):
    state = {"fail": True}

    def sometimes(ctx):
        if state["fail"]:
            raise ValueError("boom in the middle")

    flow_factory("t_flaky", sometimes, switch="orders")
    run = services.flow_run(flow="t_flaky", account_id=account.pk, marketplace_id=US)
    assert run.status == SyncRun.Status.FAILED
    assert "boom in the middle" in run.error
    exc = SyncException.objects.get(flow="t_flaky")
    assert exc.reason_code == "flow_failed"
    assert exc.status == SyncException.Status.OPEN

    # same failure again: same row, two occurrences
    services.flow_run(flow="t_flaky", account_id=account.pk, marketplace_id=US)
    assert SyncException.objects.filter(flow="t_flaky").count() == 1
    assert SyncException.objects.get(flow="t_flaky").occurrences == 2

    state["fail"] = False
    run = services.flow_run(flow="t_flaky", account_id=account.pk, marketplace_id=US)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert SyncException.objects.get(flow="t_flaky").status == SyncException.Status.RESOLVED


def test_expired_client_secret_refuses_to_run(account, flow_factory):
    called = []
    flow_factory("t_never", lambda ctx: called.append(1), switch="orders")
    SellerAccount.objects.filter(pk=account.pk).update(
        client_secret_rotated_on=timezone.localdate() - datetime.timedelta(days=181)
    )
    run = services.flow_run(flow="t_never", account_id=account.pk, marketplace_id=US)
    assert run.status == SyncRun.Status.REFUSED
    assert called == []
    exc = SyncException.objects.get(reason_code="lwa_secret_expired")
    assert exc.owner_team == "ops"
    assert "expired" in exc.message

    # retry while still expired: stays open
    outcome = services.exceptions_retry(exception_ids=[exc.pk])
    assert outcome.resolved == 0
    exc.refresh_from_db()
    assert exc.status == SyncException.Status.OPEN
    assert exc.attempts == 1

    # a new secret resolves it and the flow runs again
    account_set_credentials(account=account, client_secret="rotated-secret")
    exc.refresh_from_db()
    assert exc.status == SyncException.Status.RESOLVED
    run = services.flow_run(flow="t_never", account_id=account.pk, marketplace_id=US)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert called == [1]


def test_reauthorization_error_flags_the_account(account, flow_factory):
    def revoked(ctx):
        raise AuthError("invalid_grant: token revoked", reauthorization_required=True,
                        status=400)

    flow_factory("t_revoked", revoked, switch="orders")
    run = services.flow_run(flow="t_revoked", account_id=account.pk, marketplace_id=US)
    assert run.status == SyncRun.Status.FAILED
    account.refresh_from_db()
    assert account.needs_reauthorization
    exc = SyncException.objects.get(reason_code="reauthorization_required")
    assert exc.owner_team == "ops"
    # further runs are refused until a new refresh token is saved
    run = services.flow_run(flow="t_revoked", account_id=account.pk, marketplace_id=US)
    assert run.status == SyncRun.Status.REFUSED
    account_set_credentials(account=account, refresh_token="Atzr|new-token")
    account.refresh_from_db()
    assert not account.needs_reauthorization
    exc.refresh_from_db()
    assert exc.status == SyncException.Status.RESOLVED


def test_held_lock_means_skipped(account, flow_factory):
    called = []
    flow_factory("t_locked", lambda ctx: called.append(1), switch="orders")
    other = SyncRun.objects.create(flow="t_locked", account=account, started_at=timezone.now())
    assert services.lock_claim(flow="t_locked", account=account, scope=US, run=other)
    run = services.flow_run(flow="t_locked", account_id=account.pk, marketplace_id=US)
    assert run.status == SyncRun.Status.SKIPPED
    assert called == []


def test_expired_lock_of_a_dead_worker_is_taken_over(account, flow_factory):
    called = []
    flow_factory("t_dead", lambda ctx: called.append(1), switch="orders")
    other = SyncRun.objects.create(flow="t_dead", account=account, started_at=timezone.now())
    services.lock_claim(flow="t_dead", account=account, scope=US, run=other)
    SyncLock.objects.filter(flow="t_dead").update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    run = services.flow_run(flow="t_dead", account_id=account.pk, marketplace_id=US)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert called == [1]
    # the dead worker's run no longer claims to be running
    other.refresh_from_db()
    assert other.status == SyncRun.Status.FAILED
    assert "stopped without finishing" in other.error


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_exactly_one_runs(account, flow_factory):
    if connection.vendor != "postgresql":
        pytest.skip("thread concurrency is exercised on PostgreSQL (CI)")
    entered = threading.Event()
    release = threading.Event()
    calls = []

    def slow(ctx):
        calls.append(threading.get_ident())
        entered.set()
        assert release.wait(10)

    flow_factory("t_slow", slow, switch="orders")
    results = {}

    def worker(name):
        try:
            results[name] = services.flow_run(
                flow="t_slow", account_id=account.pk, marketplace_id=US
            ).status
        finally:
            connection.close()

    first = threading.Thread(target=worker, args=("first",))
    first.start()
    assert entered.wait(10)
    second = threading.Thread(target=worker, args=("second",))
    second.start()
    second.join(10)
    release.set()
    first.join(10)
    assert sorted(results.values()) == [SyncRun.Status.SKIPPED, SyncRun.Status.SUCCEEDED]
    assert len(calls) == 1


def test_cursor_only_advances_with_the_stored_data(account, flow_factory):
    before = timezone.now() - datetime.timedelta(days=1)
    after = timezone.now()
    SyncCursor.objects.create(flow="t_cursor", account=account, scope=US, position=before)

    def reads_then_crashes(ctx):
        with transaction.atomic():
            SyncException.objects.create(  # stands for "the data we stored"
                flow="t_cursor", object_kind="probe", object_key="k", reason_code="r",
                message="m", owner_team="ops", first_seen=after, last_seen=after,
            )
            ctx.advance_cursor(position=after)
            raise RuntimeError("crash after reading")

    flow_factory("t_cursor", reads_then_crashes, switch="orders")
    run = services.flow_run(flow="t_cursor", account_id=account.pk, marketplace_id=US)
    assert run.status == SyncRun.Status.FAILED
    assert SyncCursor.objects.get(flow="t_cursor").position == before
    assert not SyncException.objects.filter(object_kind="probe").exists()


def test_cursor_refuses_to_move_outside_a_transaction(account, flow_factory):
    if connection.in_atomic_block:
        # the test case wraps everything in a transaction; check the guard directly
        from amazonsync.flows import in_transaction

        assert in_transaction()
        return
    with pytest.raises(services.CursorOutsideTransaction):
        services.cursor_advance(flow="x", account=account, scope="", position=timezone.now())


def test_cursor_committed_when_flow_succeeds(account, flow_factory):
    target = timezone.now()

    def good(ctx):
        with transaction.atomic():
            ctx.advance_cursor(position=target, token="page-2")

    flow_factory("t_cursor_ok", good, switch="orders")
    services.flow_run(flow="t_cursor_ok", account_id=account.pk, marketplace_id=US)
    cursor = SyncCursor.objects.get(flow="t_cursor_ok", scope=US)
    assert cursor.position == target
    assert cursor.token == "page-2"


def test_exception_dedup_reopen_and_ignore(account):
    kw = dict(flow="orders", object_kind="order_line", object_key="111-1/SKU-1",
              reason_code="unmapped_sku", owner_team="merch", account=account)
    a = services.exception_record(message="first", **kw)
    b = services.exception_record(message="second", payload={"row": 2}, **kw)
    assert a.pk == b.pk
    assert b.occurrences == 2
    assert b.message == "second"
    assert b.payload == {"row": 2}
    services.exceptions_resolve(exception_ids=[a.pk], user=None)
    c = services.exception_record(message="third", **kw)
    assert c.pk == a.pk and c.status == SyncException.Status.OPEN  # recurrence reopens
    with pytest.raises(ValueError, match="note is required"):
        services.exceptions_ignore(exception_ids=[a.pk], user=None, note="  ")
    services.exceptions_ignore(exception_ids=[a.pk], user=None, note="discontinued SKU")
    d = services.exception_record(message="fourth", **kw)
    assert d.status == SyncException.Status.IGNORED  # ignored stays ignored
    assert SyncException.objects.count() == 1


def test_retry_reruns_the_flow_and_resolves(account, flow_factory):
    state = {"fail": True}

    def flow(ctx):
        if state["fail"]:
            ctx.exception(object_kind="thing", object_key="T1", reason_code="bad",
                          message="bad thing")
        else:
            ctx.resolve(object_kind="thing", object_key="T1")

    flow_factory("t_retry", flow, switch="orders")
    services.flow_run(flow="t_retry", account_id=account.pk, marketplace_id=US)
    exc = SyncException.objects.get(flow="t_retry")
    # still failing: the retry leaves it open and counts the attempt
    outcome = services.exceptions_retry(exception_ids=[exc.pk])
    exc.refresh_from_db()
    assert (outcome.resolved, outcome.still_open, exc.status, exc.attempts) == (
        0, 1, SyncException.Status.OPEN, 1)
    state["fail"] = False
    outcome = services.exceptions_retry(exception_ids=[exc.pk])
    exc.refresh_from_db()
    assert outcome.resolved == 1
    assert exc.status == SyncException.Status.RESOLVED
    assert exc.attempts == 2
    assert SyncRun.objects.filter(flow="t_retry", trigger=SyncRun.Trigger.RETRY).count() == 2


def test_sync_command_targets_switched_on_marketplaces_and_fails_loudly(
    account, flow_factory, capsys
):
    seen = []

    def flow(ctx):
        seen.append(ctx.marketplace.code)
        if ctx.marketplace.code == "CA":
            raise RuntimeError("CA is down")

    flow_factory("t_cmd", flow, switch="settlements")
    with pytest.raises(CommandError, match="1 of 2"):
        call_command("sync", "t_cmd")
    assert sorted(seen) == ["CA", "US"]
    seen.clear()
    call_command("sync", "t_cmd", "--account", "A1TESTSELLER", "--marketplace", "US")
    assert seen == ["US"]
    # switching the flow off for US removes it from the targets
    account.account_marketplaces.filter(marketplace_id=US).update(settlements=False)
    seen.clear()
    with pytest.raises(CommandError):
        call_command("sync", "t_cmd")
    assert seen == ["CA"]
    with pytest.raises(CommandError, match="unknown flow"):
        call_command("sync", "no_such_flow")


def test_marketplaces_are_reference_data(db):
    assert Marketplace.objects.count() >= 23
    us = Marketplace.objects.get(code="US")
    assert (us.id, us.region, us.currency) == (US, "NA", "USD")
    assert Marketplace.objects.get(code="JP").currency == "JPY"
    assert Marketplace.objects.get(code="DE").spapi_host.endswith("-eu.amazon.com")
