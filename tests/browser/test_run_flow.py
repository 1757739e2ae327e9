"""Run a flow from the admin and watch it finish: a superuser opens the seller account, clicks
"Run now" on the orders flow of Amazon.com (US), lands on the run, which ends succeeded with
the orders it read from the local SP-API sandbox; the account's flow table shows it."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_q.conf import Conf

from amazonsync.models import SyncRun
from amazonsync.sandbox import (
    DEFAULT_SELLER,
    DEFAULT_START,
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    REFRESH_TOKEN,
    SandboxConfig,
    World,
    start_sandbox_app,
)
from amazonsync.spapi.clock import SimulatedClock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-pass-123"
SEED = 11
ORDERS = 300


def _login(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("form [type=submit]")
    assert "/login/" not in page.url


@pytest.fixture
def sandbox(monkeypatch):
    world = World(SEED, orders=ORDERS, start=DEFAULT_START)
    url, stop, app = start_sandbox_app(
        SandboxConfig(seed=SEED, orders=ORDERS, rate_limits=False), world=world)
    # the flow's clients wait for reports on a simulated clock that starts at the sandbox's
    monkeypatch.setattr("amazonsync.spapi.client.RealClock",
                        lambda: SimulatedClock(start=app.now))
    yield url
    stop()


def test_superuser_runs_the_orders_flow_and_sees_it_succeed(
    live_server, page, sandbox, django_user_model, monkeypatch
):
    from marketplaces.services import account_upsert
    from orders.models import Order

    monkeypatch.setattr(Conf, "SYNC", True)  # the worker's part runs in the server's thread
    django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    account = account_upsert(
        selling_partner_id=DEFAULT_SELLER, name="Sandbox Seller", region="NA",
        lwa_client_id=LWA_CLIENT_ID, client_secret=LWA_CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN, rotated_on=timezone.localdate(), api_base_url=sandbox,
        token_url=f"{sandbox}/auth/o2/token", marketplace_codes=["US"],
    )

    _login(page, live_server, "boss", PASSWORD)
    page.goto(f"{live_server.url}/admin/marketplaces/selleraccount/{account.pk}/change/")
    row = page.locator('#account-flows tr[data-flow="orders"]')
    assert "never run" in row.inner_text()
    with page.expect_navigation():
        row.locator("button[name=run_now]").click()

    assert "/admin/amazonsync/syncrun/" in page.url
    page.wait_for_selector("text=Succeeded")
    body = page.locator("#content-main").inner_text()
    run = SyncRun.objects.get(flow="orders", account=account)
    assert run.status == SyncRun.Status.SUCCEEDED and run.trigger == SyncRun.Trigger.MANUAL
    assert run.fetched > 0 and Order.objects.filter(account=account).exists()
    assert f"{run.fetched:,} fetched" in body
    assert "queued for Sandbox Seller in Amazon.com (US)" in page.locator("body").inner_text()
    assert page.locator("#run-live").count() == 0  # finished: no more refreshing

    # back on the account (the Back banner): the flow's latest run shows it succeeded
    page.click("#back-link a")
    row = page.locator('#account-flows tr[data-flow="orders"]')
    assert "Succeeded" in row.inner_text()
