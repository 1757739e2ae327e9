"""The health page in people's words: marketplaces by name, states as badges, the backlog
amber while open and red when overdue or critical, a failing flow red with its failure, the
backlog per team as a table, no Python repr anywhere, constant queries."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from amazonsync.models import SyncRun
from amazonsync.services import exception_record

US = "ATVPDKIKX0DER"
NOW = datetime.datetime(2026, 12, 2, 9, 0, tzinfo=datetime.UTC)
REPRS = ("{'", "'}", "None", "Decimal(", "[{", "datetime.")


def _page(client, superuser) -> str:
    client.force_login(superuser)
    response = client.get(reverse("health"))
    assert response.status_code == 200
    return response.content.decode()


def _row(html: str, code: str, metric: str) -> str:
    section = html.split(f'id="mkt-{code}"')[1].split("</section>")[0]
    return section.split(f'data-metric="{metric}"')[1].split('<tr class="metric-')[0]


def _text(html: str) -> str:
    """What a person reads: the page without tags, scripts and attributes."""
    body = html.split('id="health"')[1]
    body = re.sub(r"<svg.*?</svg>", " ", body, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def _exception(account, key, **kw):
    return exception_record(
        flow="orders", object_kind="listing", object_key=key, reason_code="unmapped_sku",
        message=f"{key} is not mapped", owner_team=kw.pop("team", "ops"), account=account,
        marketplace=account.marketplaces.get(code="US"), **kw)


@pytest.mark.parametrize("case,badge", [
    ("none", "Green"), ("open", "Amber"), ("overdue", "Red"), ("critical", "Red"),
])
def test_backlog_is_amber_while_open_and_red_when_overdue_or_critical(
    client, superuser, account, case, badge
):
    with time_machine.travel(NOW - datetime.timedelta(days=10), tick=False):
        if case == "overdue":
            _exception(account, "SKU-OLD", severity="high")
    with time_machine.travel(NOW, tick=False):
        if case == "open":
            _exception(account, "SKU-1", severity="normal")
        if case == "critical":
            _exception(account, "SKU-2", severity="critical")
        row = _row(_page(client, superuser), "US", "exception_backlog")
    assert f">{badge}</span>" in row
    if case == "overdue":
        assert "1 open, of which 1 overdue" in row
    if case != "none":
        assert "<th>Team</th>" in row and "<td>Ops</td>" in row  # by team: a table


def test_a_failing_flow_is_red_with_the_failure_in_words(client, superuser, account):
    now = timezone.now()
    SyncRun.objects.create(flow="orders", account=account, marketplace_id=US,
                           status=SyncRun.Status.FAILED, started_at=now, finished_at=now,
                           error="HTTPError: 503 Service Unavailable from getOrders")
    row = _row(_page(client, superuser), "US", "order_sync_latency")
    assert ">Red</span>" in row and "flow failing" in row and "no data" not in row
    assert "orders flow failed" in row and "503 Service Unavailable" in row
    assert "never succeeded" in row


def test_marketplaces_by_name_metric_words_and_no_repr(client, superuser, account):
    _exception(account, "SKU-1", team="ops")
    _exception(account, "SKU-2", team="merch", severity="critical")
    now = timezone.now()
    SyncRun.objects.create(flow="fba_inventory_pull", account=account, marketplace_id=US,
                           status=SyncRun.Status.SUCCEEDED, started_at=now, finished_at=now)
    html = _page(client, superuser)
    assert "Amazon.com (US)" in html and "Amazon.ca (CA)" in html
    assert "Exception backlog (open)" in html and "Merchandising" in html
    assert "past their SLA: 0" in html and "critical: 1" in html
    assert "by_team" not in html and "critical_overdue" not in html
    assert "FBA stock" in html  # the latest runs by flow label
    text = _text(html)
    for repr_ in REPRS:
        assert repr_ not in text, repr_


def test_health_page_queries_do_not_grow_with_data(client, superuser, account):
    client.force_login(superuser)
    _exception(account, "SKU-0")
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("health"))
    for i in range(1, 30):
        _exception(account, f"SKU-{i}", team=["ops", "merch", "finance"][i % 3])
        now = timezone.now()
        SyncRun.objects.create(flow="orders", account=account, marketplace_id=US,
                               status=SyncRun.Status.FAILED, started_at=now, finished_at=now)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("health"))
    assert len(many.captured_queries) == len(few.captured_queries)
