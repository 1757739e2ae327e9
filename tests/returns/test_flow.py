"""The returns flow against the live local sandbox: both reports per marketplace through
report_fetch, the cursor by return date, idempotent reruns, then refund matching; and the
demo step."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from amazonsync.models import SyncCursor, SyncRun
from amazonsync.services import flow_run
from returns.flows import OVERLAP, returns_window
from returns.models import InventoryAdjustment, RefundMatch, ReturnEvent

pytestmark = pytest.mark.django_db


def _start_sandbox(monkeypatch, *, orders: int, codes: list[str]):
    from amazonsync.sandbox import world as sandbox_world
    from amazonsync.sandbox.server import start_sandbox_app
    from amazonsync.spapi.client import SpApiClient
    from marketplaces.services import account_upsert

    monkeypatch.setattr(SpApiClient, "poll_initial", 0.01)
    monkeypatch.setattr(SpApiClient, "poll_max", 0.02)
    # the sandbox world's returns lie up to 120 days before its clock: look back far enough
    monkeypatch.setattr("returns.flows.INITIAL_LOOKBACK", datetime.timedelta(days=150))
    url, stop, box = start_sandbox_app(seed=1, orders=orders, rate_limits=False)
    account = account_upsert(
        selling_partner_id=sandbox_world.DEFAULT_SELLER, name="Sandbox Seller", region="NA",
        lwa_client_id=sandbox_world.LWA_CLIENT_ID,
        client_secret=sandbox_world.LWA_CLIENT_SECRET,
        refresh_token=sandbox_world.REFRESH_TOKEN,
        rotated_on=timezone.localdate() - datetime.timedelta(days=5),
        api_base_url=url, token_url=f"{url}/auth/o2/token",
        marketplace_codes=codes,
    )
    box.account = account
    return box, stop


@pytest.fixture
def sandbox(db, monkeypatch, rules):
    box, stop = _start_sandbox(monkeypatch, orders=300, codes=["US", "GB", "DE"])
    try:
        yield box
    finally:
        stop()


@pytest.fixture
def jp_sandbox(db, monkeypatch, rules):
    """A world large enough to hold FBA and MFN returns on Amazon.co.jp."""
    box, stop = _start_sandbox(monkeypatch, orders=1000, codes=["US", "JP"])
    try:
        yield box
    finally:
        stop()


def expected_returns(box, mp_id, start, end):
    out = set()
    for order in box.world.orders:
        if order.mp.id != mp_id:
            continue
        for item in order.items:
            ret = item.ret
            if ret is not None and start <= ret.time <= min(end, box.now):
                out.add((order.id, item.product.sku, "FBA" if order.channel == "AFN"
                         else "MFN"))
    return out


def test_returns_flow_stores_both_reports_and_reruns_change_nothing(sandbox):
    account = sandbox.account
    run = flow_run(flow="returns", account_id=account.pk, marketplace_id="ATVPDKIKX0DER")
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    stored = set(ReturnEvent.objects.values_list("order_id", "seller_sku", "channel"))
    now = timezone.now().timestamp()
    assert stored == expected_returns(sandbox, "ATVPDKIKX0DER", now - 150 * 86400, now)
    assert {c for _, _, c in stored} == {"FBA", "MFN"}
    assert run.created == len(stored) and run.failed == 0
    assert set(ReturnEvent.objects.values_list("marketplace__code", flat=True)) == {"US"}
    # FBA returns were applied to FBA stock; MFN returns wait for inspection
    fba = ReturnEvent.objects.filter(channel="FBA")
    assert InventoryAdjustment.objects.filter(return_event__in=fba).count() == fba.count()
    assert not InventoryAdjustment.objects.filter(return_event__channel="MFN").exists()
    cursor = SyncCursor.objects.get(flow="returns", account=account, scope="ATVPDKIKX0DER")
    assert cursor.position is not None and cursor.position <= timezone.now()
    # matching ran: every return has its refund match
    assert RefundMatch.objects.count() == len(stored)
    # a second run asks from the cursor minus the overlap and stores nothing new
    snapshot = list(ReturnEvent.objects.values())
    again = flow_run(flow="returns", account_id=account.pk, marketplace_id="ATVPDKIKX0DER")
    assert again.status == SyncRun.Status.SUCCEEDED
    assert again.created == 0 and again.updated == 0
    assert list(ReturnEvent.objects.values()) == snapshot
    assert InventoryAdjustment.objects.count() == fba.count()


def test_window_is_cursor_minus_overlap_and_at_most_60_days():
    now = datetime.datetime(2026, 11, 24, tzinfo=datetime.UTC)
    position = now - datetime.timedelta(hours=1)
    assert returns_window(position, now) == (position - OVERLAP, now)
    old = now - datetime.timedelta(days=200)
    start, end = returns_window(old, now)
    assert end - start == datetime.timedelta(days=60) and end < now


def test_flow_runs_per_marketplace_with_returns_switched_on(account):
    from amazonsync.flows import get_flow
    from amazonsync.services import flow_targets
    from marketplaces.models import AccountMarketplace

    targets = flow_targets(flow=get_flow("returns"), account_id=account.pk)
    assert {m.code for _, m in targets} == {"US", "CA"}
    AccountMarketplace.objects.filter(account=account, marketplace__code="CA").update(
        returns=False)
    targets = flow_targets(flow=get_flow("returns"), account_id=account.pk)
    assert {m.code for _, m in targets} == {"US"}


def test_demo_step_runs_the_flow_per_marketplace_then_matching(sandbox):
    from types import SimpleNamespace

    from marketplaces.models import AccountMarketplace
    from returns import demo

    # one marketplace keeps the number of createReport calls inside its burst
    AccountMarketplace.objects.filter(account=sandbox.account).exclude(
        marketplace__code="GB").update(returns=False)
    lines = []
    demo.load(SimpleNamespace(account=sandbox.account, log=lines.append, sync=True, extra={}))
    assert set(ReturnEvent.objects.values_list("marketplace__code", flat=True)) == {"GB"}
    assert any(line.startswith("returns GB: succeeded") for line in lines)
    assert "refund matches" in lines[-1]
    from amazonsync.spapi.client import SpApiClient

    assert SpApiClient.poll_initial == 0.01  # the demo restored the polling it changed


def test_a_window_that_fails_counts_nothing_it_rolled_back(sandbox, monkeypatch):
    import returns.services as services

    real = services.returns_import
    calls = []

    def second_report_breaks(**kwargs):
        calls.append(kwargs["report_type"])
        if len(calls) == 2:
            raise RuntimeError("the MFN returns report could not be stored")
        return real(**kwargs)

    monkeypatch.setattr(services, "returns_import", second_report_breaks)
    # one window over the last 60 days, where the FBA report has rows
    monkeypatch.setattr("returns.flows.INITIAL_LOOKBACK", datetime.timedelta(days=60))
    run = flow_run(flow="returns", account_id=sandbox.account.pk,
                   marketplace_id="ATVPDKIKX0DER")
    assert run.status == SyncRun.Status.FAILED
    assert len(calls) == 2 and sandbox.world.orders
    # the FBA report's rows were rolled back with the window: the run does not count them
    assert ReturnEvent.objects.count() == 0
    assert (run.fetched, run.created, run.updated, run.unchanged) == (0, 0, 0, 0)
    assert SyncCursor.objects.filter(flow="returns", position__isnull=False).count() == 0


JP = "A1VC38T7YXB528"


def _is_japanese(text: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text)


def test_jp_returns_arrive_in_windows_31j_and_keep_their_japanese_titles(jp_sandbox):
    from amazonsync.sandbox.reports import japanese_title

    run = flow_run(flow="returns", account_id=jp_sandbox.account.pk, marketplace_id=JP)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.failed == 0
    now = timezone.now().timestamp()
    expected = expected_returns(jp_sandbox, JP, now - 150 * 86400, now)
    stored = {(e.order_id, e.seller_sku, e.channel): e.product_name
              for e in ReturnEvent.objects.all()}
    assert set(stored) == expected and {c for _, _, c in expected} == {"FBA", "MFN"}
    titles = {(o.id, i.product.sku): i.product.title for o in jp_sandbox.world.orders
              for i in o.items}
    assert stored == {(o, s, c): japanese_title(titles[o, s]) for o, s, c in stored}
    assert all(_is_japanese(name) for name in stored.values())
    assert set(ReturnEvent.objects.values_list("marketplace__code", flat=True)) == {"JP"}


def test_a_jp_returns_file_downloaded_by_hand_imports_the_same(jp_sandbox, tmp_path):
    import io
    import json

    from django.core.management import call_command

    from amazonsync.sandbox.reports import fba_returns_bytes
    from returns.parsers import FBA_REPORT_TYPE

    now = int(jp_sandbox.now)
    data = fba_returns_bytes(jp_sandbox.world, now - 150 * 86400, now, now, [JP])
    data.decode("cp932")  # the sandbox writes Amazon.co.jp files in Windows-31J
    path = tmp_path / "jp-returns.txt"
    path.write_bytes(data)
    out = io.StringIO()
    call_command("import_report", "--type", FBA_REPORT_TYPE, str(path), "--json",
                 "--marketplace", "JP", stdout=out)
    doc = json.loads(out.getvalue())
    assert doc["rows"] == data.count(b"\n") - 1 > 0 and doc["exceptions"] == 0
    names = set(ReturnEvent.objects.values_list("product_name", flat=True))
    assert names and all(_is_japanese(n) for n in names)
    assert names <= set(data.decode("cp932").split("\t"))
