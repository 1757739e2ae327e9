"""``manage.py demo``: loud failures, and real-clock flows after it against the same sandbox."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from amazonsync.models import SyncRun
from amazonsync.sandbox.server import start_sandbox_app
from amazonsync.services import flow_run
from marketplaces.models import SellerAccount
from orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = 300


@pytest.fixture
def live_sandbox():
    """A sandbox in the present with Amazon's rate limits on, like ``make run``'s."""
    url, stop, app = start_sandbox_app(port=0, orders=ORDERS, seed=4)
    yield url, app
    stop()


def test_demo_then_real_clock_flows_run_at_amazons_rates(live_sandbox):
    url, app = live_sandbox
    out = io.StringIO()
    call_command("demo", "--sandbox-url", url, stdout=out)
    assert "Demo back office ready." in out.getvalue()
    account = SellerAccount.objects.get(selling_partner_id="A1SANDBOXSELLER")
    assert account.api_base_url == url
    orders = Order.objects.filter(account=account).count()
    assert orders > 0

    # The demo ran on a simulated clock against an embedded copy of this world; the same
    # sandbox now serves wall-clock clients (no simulated clock configured here).
    started = time.monotonic()
    first = [flow_run(flow=flow, account_id=account.pk, marketplace_id="ATVPDKIKX0DER")
             for flow in ("orders", "returns", "inventory_push")]
    assert time.monotonic() - started < 60
    assert [r.status for r in first] == ["succeeded"] * 3, [r.error for r in first]
    assert sum(r.throttled for r in first) == 0
    again = [flow_run(flow=flow, account_id=account.pk, marketplace_id="ATVPDKIKX0DER")
             for flow in ("orders", "returns")]
    assert [r.status for r in again] == ["succeeded"] * 2
    assert [(r.created, r.updated) for r in again] == [(0, 0), (0, 0)]
    assert Order.objects.filter(account=account).count() == orders


def test_demo_fails_loudly_naming_the_flow(live_sandbox, monkeypatch):
    url, _ = live_sandbox
    from amazonsync import flows, registry

    original = flows.get_flow("returns")

    def broken(ctx):
        raise RuntimeError("the returns report could not be read")

    monkeypatch.setitem(registry._REGISTRY, "returns", original.__class__(
        **{**original.__dict__, "func": broken}))
    with pytest.raises(CommandError) as err:
        call_command("demo", "--sandbox-url", url, stdout=io.StringIO())
    message = str(err.value)
    assert "flow returns (US) failed" in message
    assert "the returns report could not be read" in message
    # the legacy account is refused on purpose and never named
    assert "A3LEGACYEUSELLER" not in message and "account_check" not in message
    assert SyncRun.objects.filter(account__selling_partner_id="A3LEGACYEUSELLER",
                                  status="refused").exists()
