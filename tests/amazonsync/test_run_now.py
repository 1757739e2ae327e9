"""Run now / Backfill from… on a seller account's page: queued after commit, run by the worker
on the row the person was shown, refused in words, the backfill date reaching the flow; the
runs list in plain words with constant queries; the failing-flows home panel."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.conf import Conf

from amazonsync import runs
from amazonsync.flows import register_flow, unregister_flow
from amazonsync.models import SyncRun
from marketplaces.models import AccountMarketplace

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


@pytest.fixture
def q_sync(monkeypatch):
    """django-q2 runs a task inline, in this process (as with Q_SYNC=1)."""
    monkeypatch.setattr(Conf, "SYNC", True)


def _run_url(account):
    return reverse("admin:marketplaces_selleraccount_run", args=[account.pk])


def _backfill_url(account):
    return reverse("admin:marketplaces_selleraccount_backfill", args=[account.pk])


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_run_now_queues_after_commit_and_the_worker_runs_that_row(
    client, superuser, account, flow_factory, q_sync, django_capture_on_commit_callbacks
):
    seen = {}

    def counting(ctx):
        seen["run"] = ctx.run.pk
        ctx.count(fetched=120, created=40, failed=3)

    flow_factory("t_now", counting, switch="orders")
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(_run_url(account), {"flow": "t_now", "marketplace": US})
    run = SyncRun.objects.get(flow="t_now")
    # recorded at once, queued, with who asked; nothing ran before the commit
    assert run.status == SyncRun.Status.QUEUED and run.requested_by == superuser
    assert run.trigger == SyncRun.Trigger.MANUAL and "run" not in seen
    assert len(callbacks) == 1
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:amazonsync_syncrun_change", args=[run.pk]))
    page = client.get(response.url)
    assert "Queued" in page.content.decode() and "refreshes every" in page.content.decode()

    callbacks[0]()  # the commit: the task goes to django-q2 (inline here)
    run.refresh_from_db()
    assert seen["run"] == run.pk  # the worker ran the row the person was shown
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.fetched, run.created, run.failed) == (120, 40, 3)
    assert SyncRun.objects.filter(flow="t_now").count() == 1
    html = client.get(reverse("admin:amazonsync_syncrun_change", args=[run.pk])).content.decode()
    assert "Succeeded" in html and "120 fetched · 40 created · 3 failed" in html
    assert "refreshes every" not in html


def test_counts_show_while_the_run_goes(account, flow_factory):
    seen = {}

    def slow(ctx):
        ctx.count(fetched=100)
        seen["during"] = SyncRun.objects.values_list("status", "fetched").get(pk=ctx.run.pk)
        ctx.count(fetched=50, created=10)

    flow_factory("t_progress", slow, switch="orders")
    run = runs.run_enqueue(flow="t_progress", account_id=account.pk, marketplace_id=US)
    run = runs.run_start(run_id=run.pk)
    assert seen["during"] == (SyncRun.Status.RUNNING, 100)
    assert (run.status, run.fetched, run.created) == (SyncRun.Status.SUCCEEDED, 150, 10)


@pytest.mark.parametrize("why", ["switched_off", "inactive", "reauthorization", "running"])
def test_refusals_are_messages_and_queue_nothing(
    client, superuser, account, flow_factory, why, django_capture_on_commit_callbacks
):
    flow_factory("t_refuse", lambda ctx: None, switch="orders")
    expected = {
        "switched_off": "switched off in Amazon.com (US)",
        "inactive": "is inactive",
        "reauthorization": "must be authorised again",
        "running": "is already running",
    }[why]
    if why == "switched_off":
        AccountMarketplace.objects.filter(account=account, marketplace_id=US).update(orders=False)
    elif why == "inactive":
        account.active = False
        account.save()
    elif why == "reauthorization":
        account.needs_reauthorization = True
        account.save()
    else:
        SyncRun.objects.create(flow="t_refuse", account=account, marketplace_id=US,
                               status=SyncRun.Status.RUNNING, started_at=timezone.now())
    before = SyncRun.objects.count()
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(_run_url(account), {"flow": "t_refuse", "marketplace": US},
                               follow=True)
    assert response.status_code == 200
    assert any(expected in m for m in _messages(response)), _messages(response)
    assert SyncRun.objects.count() == before and not callbacks


def test_a_second_click_while_queued_is_refused(account, flow_factory):
    flow_factory("t_twice", lambda ctx: None, switch="orders")
    first = runs.run_enqueue(flow="t_twice", account_id=account.pk, marketplace_id=US)
    with pytest.raises(runs.RunRefused, match=f"already queued .*run #{first.pk}"):
        runs.run_enqueue(flow="t_twice", account_id=account.pk, marketplace_id=US)
    # a queued run no worker ever picked up does not block forever
    SyncRun.objects.filter(pk=first.pk).update(
        started_at=timezone.now() - datetime.timedelta(hours=2))
    second = runs.run_enqueue(flow="t_twice", account_id=account.pk, marketplace_id=US)
    first.refresh_from_db()
    assert first.status == SyncRun.Status.FAILED and first.error == runs.NEVER_STARTED
    assert second.status == SyncRun.Status.QUEUED


def test_backfill_passes_the_date_to_the_flow(
    client, superuser, account, flow_factory, q_sync, django_capture_on_commit_callbacks
):
    seen = {}
    flow_factory("t_back", lambda ctx: seen.setdefault("since", ctx.since), switch="orders",
                 backfill=True)
    client.force_login(superuser)
    form = client.get(_backfill_url(account), {"flow": "t_back", "marketplace": US})
    assert form.status_code == 200 and 'type="date"' in form.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_backfill_url(account),
                               {"flow": "t_back", "marketplace": US, "since": "2026-10-01"})
    assert response.status_code == 302
    run = SyncRun.objects.get(flow="t_back")
    moment = datetime.datetime(2026, 10, 1, tzinfo=datetime.UTC)
    assert run.since == moment and seen["since"] == moment
    assert run.status == SyncRun.Status.SUCCEEDED


def test_backfill_refused_for_a_flow_that_cannot_and_for_a_future_date(
    client, superuser, account, flow_factory
):
    flow_factory("t_plain", lambda ctx: None, switch="orders")
    flow_factory("t_dated", lambda ctx: None, switch="orders", backfill=True)
    with pytest.raises(runs.RunRefused, match="cannot backfill"):
        runs.run_enqueue(flow="t_plain", account_id=account.pk, marketplace_id=US,
                         since=datetime.date(2026, 1, 1))
    client.force_login(superuser)
    response = client.get(_backfill_url(account), {"flow": "t_plain", "marketplace": US},
                          follow=True)
    assert any("cannot backfill" in m for m in _messages(response))
    future = (timezone.now() + datetime.timedelta(days=3)).date().isoformat()
    response = client.post(_backfill_url(account),
                           {"flow": "t_dated", "marketplace": US, "since": future})
    assert response.status_code == 200 and "Choose a day in the past" in response.content.decode()
    assert not SyncRun.objects.filter(flow="t_dated").exists()


def test_the_orders_flow_reads_from_the_backfill_date(account, monkeypatch):
    from amazonsync.registry import get_flow

    spec = get_flow("orders")
    assert spec.backfill
    got = {}
    monkeypatch.setattr("orders.flows.orders_sync", lambda **kw: got.update(kw))
    run = SyncRun.objects.create(flow="orders", account=account, marketplace_id=US,
                                 started_at=timezone.now(),
                                 since=datetime.datetime(2026, 9, 1, tzinfo=datetime.UTC))
    ctx = spec.context(run=run, account=account, marketplace=run.marketplace, flow=spec)
    ctx._client = object()
    spec.func(ctx)
    assert got["backfill_start"] == run.since
    assert not get_flow("shipments").backfill


def test_account_page_offers_buttons_by_flow_to_those_who_may_run(
    client, superuser, ops_user, accounting_user, account
):
    url = reverse("admin:marketplaces_selleraccount_change", args=[account.pk])
    client.force_login(superuser)
    html = client.get(url).content.decode()
    assert 'id="account-flows"' in html and "Run now" in html and "Backfill from…" in html
    assert "Amazon.ca (CA)" in html and "Shipment confirmations" in html
    # Backfill only where the flow reads from a date
    assert html.count("Backfill from…</a>") == 2  # orders in US and CA

    # Accounting may view the account but not run its flows
    client.force_login(accounting_user)
    html = client.get(url).content.decode()
    assert "Run now" not in html
    refused = client.post(_run_url(account), {"flow": "orders", "marketplace": US})
    assert refused.status_code == 403
    # a GET (a link followed, a crawl) never runs anything: back to the account, in words
    assert client.get(_run_url(account)).url == url
    response = client.get(_backfill_url(account), {"flow": "orders", "marketplace": US},
                          follow=True)
    assert any("needs the permission to run flows" in m for m in _messages(response))
    assert not SyncRun.objects.exists()
    client.force_login(ops_user)  # the Ops group may run flows
    assert "Run now" in client.get(url).content.decode()


def test_runs_list_in_plain_words_with_constant_queries(
    client, superuser, account, django_assert_max_num_queries
):
    def make(n):
        now = timezone.now()
        for i in range(n):
            SyncRun.objects.create(
                flow="fba_inventory_pull", account=account, marketplace_id=US,
                status=[SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED,
                        SyncRun.Status.REFUSED][i % 3],
                started_at=now, finished_at=now + datetime.timedelta(seconds=75),
                fetched=1200, failed=3, api_calls=4, throttled=1)

    client.force_login(superuser)
    url = reverse("admin:amazonsync_syncrun_changelist")
    make(5)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        html = client.get(url).content.decode()
    make(40)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200
    assert "FBA stock" in html and "Amazon.com (US)" in html
    assert "1,200 fetched · 3 failed" in html and "4 (1 throttled)" in html
    assert "Succeeded" in html and "Refused" in html and "75.0 s" in html
    assert "Amazon API calls" in html
    table = html.split('id="result_list"')[1].split("</table>")[0]
    for repr_ in (">None<", "{'", "Decimal("):
        assert repr_ not in table


def test_run_page_has_summary_and_api_calls_tabs(client, superuser, account):
    from amazonsync.models import ApiCall

    now = timezone.now()
    run = SyncRun.objects.create(flow="orders", account=account, marketplace_id=US,
                                 status=SyncRun.Status.FAILED, started_at=now,
                                 finished_at=now, error="HTTPError: 500 from Amazon")
    ApiCall.objects.create(run=run, account=account, operation="getOrders", method="GET",
                           path="/orders/v0/orders", status_code=500)
    client.force_login(superuser)
    html = client.get(reverse("admin:amazonsync_syncrun_change", args=[run.pk])).content.decode()
    assert "Summary" in html and "Amazon API calls" in html and "getOrders" in html
    assert "HTTPError: 500 from Amazon" in html and "Failed" in html


def test_failing_flows_panel_links_to_the_filtered_runs(rf, superuser, account):
    from amazonsync.admin_runs import failing_flows_panel

    now = timezone.now()
    for status, at in ((SyncRun.Status.SUCCEEDED, 1), (SyncRun.Status.FAILED, 2)):
        SyncRun.objects.create(flow="orders", account=account, marketplace_id=US,
                               status=status, started_at=now, error="token refused",
                               finished_at=now + datetime.timedelta(seconds=at))
    SyncRun.objects.create(flow="returns", account=account, marketplace_id=US,
                           status=SyncRun.Status.FAILED, started_at=now, finished_at=now)
    SyncRun.objects.create(flow="returns", account=account, marketplace_id=US,
                           status=SyncRun.Status.SUCCEEDED, started_at=now,
                           finished_at=now + datetime.timedelta(seconds=5))
    request = rf.get("/admin/")
    request.user = superuser
    data = failing_flows_panel(request, now)
    assert len(data.rows) == 1
    link, where, state = (str(cell) for cell in data.rows[0])
    assert "flow=orders" in link and f"account__id__exact={account.pk}" in link
    assert f"marketplace__id__exact={US}" in link and ">Orders<" in link
    assert where == "Test Seller · Amazon.com (US)" and "Failed" in state
    assert data.figures[0].value == "1" and data.figures[0].tone == "bad"


def test_seller_accounts_panel_names_expired_expiring_and_refused_accounts(
    client, superuser, account
):
    from marketplaces.dashboard import seller_accounts_panel
    from marketplaces.models import SellerAccount

    today = timezone.localdate()
    SellerAccount.objects.filter(pk=account.pk).update(
        client_secret_rotated_on=today - datetime.timedelta(days=170))  # 10 days left
    SellerAccount.objects.create(selling_partner_id="A2OLD", name="Legacy EU", region="EU",
                                 client_secret_rotated_on=today - datetime.timedelta(days=200),
                                 needs_reauthorization=True)
    SellerAccount.objects.create(selling_partner_id="A3FINE", name="Fine Seller", region="EU",
                                 client_secret_rotated_on=today)
    data = seller_accounts_panel(None, timezone.now())
    rows = {str(link): str(what) for link, what in data.rows}
    assert len(rows) == 2
    legacy = next(v for k, v in rows.items() if "Legacy EU" in k)
    assert "secret expired 20 days ago" in legacy and "must be authorised again" in legacy
    test = next(v for k, v in rows.items() if "Test Seller" in k)
    assert "secret expires in 10 days" in test
    assert f"/admin/marketplaces/selleraccount/{account.pk}/change/" in " ".join(rows)
    assert [(f.label, f.value, f.tone) for f in data.figures] == [
        ("secrets expired", "1", "bad"), ("secrets expiring", "1", "warn"),
        ("to authorise again", "1", "bad")]
    client.force_login(superuser)
    home = client.get(reverse("admin:index")).content.decode()
    assert 'id="panel-seller_accounts"' in home and 'id="panel-failing_flows"' in home


def test_marketplace_and_amazon_term_lists_show_codes_with_their_words(client, superuser):
    from marketplaces.models import AmazonTerm
    from tests.screens.crawl import check_text, raw_codes

    AmazonTerm.objects.get_or_create(kind="return_reason", code="SWITCHEROO",
                                     defaults={"label": "Different item returned"})
    client.force_login(superuser)
    codes = raw_codes()
    for name in ("marketplaces_marketplace_changelist", "marketplaces_amazonterm_changelist"):
        html = client.get(reverse(f"admin:{name}")).content.decode()
        assert check_text(html, codes) == [], name
    html = client.get(reverse("admin:marketplaces_marketplace_changelist")).content.decode()
    table = html.split('id="result_list"')[1]
    assert "Amazon.de (DE)" in table and "A1PA6795UKMFR9</code>" in table, table[:3000]


def test_run_again_from_a_run_page(client, superuser, accounting_user, account, flow_factory,
                                   q_sync, django_capture_on_commit_callbacks):
    flow_factory("t_again", lambda ctx: ctx.count(fetched=2), switch="orders")
    now = timezone.now()
    old = SyncRun.objects.create(flow="t_again", account=account, marketplace_id=US,
                                 status=SyncRun.Status.FAILED, started_at=now, finished_at=now)
    url = reverse("admin:amazonsync_syncrun_run_again", args=[old.pk])
    page = reverse("admin:amazonsync_syncrun_change", args=[old.pk])
    client.force_login(superuser)
    assert "Run again" in client.get(page).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(url)
    again = SyncRun.objects.exclude(pk=old.pk).get(flow="t_again")
    assert response.url == reverse("admin:amazonsync_syncrun_change", args=[again.pk])
    assert again.status == SyncRun.Status.SUCCEEDED and again.fetched == 2
    # refused in words: the flow switched off
    AccountMarketplace.objects.filter(account=account, marketplace_id=US).update(orders=False)
    response = client.get(url, follow=True)
    assert any("switched off" in m for m in _messages(response))
    # without the permission: no button, and the address refuses
    client.force_login(accounting_user)
    assert "Run again" not in client.get(page).content.decode()
    assert client.get(url).status_code == 403
