"""The home page's exceptions panel: open problems by team and severity (a grouped problem
counts once), SLA breaches in red, every figure linking to the queue filtered to what it
counts, in the same number of queries whatever the data."""

from __future__ import annotations

import datetime
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from amazonsync import services
from amazonsync.dashboard import panels, sections_for
from amazonsync.models import SyncException
from marketplaces.models import Marketplace

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=datetime.UTC)


def _record(account, code, key, *, team, reason, kind="thing"):
    return services.exception_record(
        flow="t", object_kind=kind, object_key=f"{account.selling_partner_id}/{code}/{key}",
        reason_code=reason, message="m", owner_team=team, account=account,
        marketplace=Marketplace.objects.get(code=code),
    )


def _panel(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    for section in sections_for(request, now=timezone.now()):
        for item in section["panels"]:
            if item["panel"].key == "exceptions":
                return section["key"], item["data"]
    return None, None


@pytest.fixture
def queue(account):
    with time_machine.travel(NOW - datetime.timedelta(days=2), tick=False):
        for code in ("US", "CA", "GB"):  # one critical problem in three marketplaces, late
            _record(account, code, "acct", team="ops", reason="lwa_secret_expired",
                    kind="seller_account")
    with time_machine.travel(NOW - datetime.timedelta(hours=1), tick=False):
        _record(account, "US", "ABC-1", team="merch", reason="unmapped_sku", kind="listing")
        _record(account, "US", "S-1", team="finance", reason="unmapped_lines",
                kind="settlement")
        done = _record(account, "US", "S-2", team="finance", reason="unmapped_lines",
                       kind="settlement")
    services.exceptions_resolve(exception_ids=[done.pk], user=None, note="fixed")


def test_the_panel_counts_problems_by_team_and_severity_and_links_the_queue(
        ops_user, queue):
    with time_machine.travel(NOW, tick=False):
        audience, data = _panel(ops_user)
    assert audience == "ops"
    figures = {f.label: f for f in data.figures}
    assert figures["Past their SLA"].value == "1" and figures["Past their SLA"].tone == "bad"
    assert figures["Critical"].value == "1" and figures["Critical"].tone == "bad"
    assert figures["Normal"].value == "1" and figures["High"].value == "1"
    query = parse_qs(urlparse(figures["Past their SLA"].link).query)
    assert query == {"state": ["active"], "sla": ["overdue"]}
    assert urlparse(figures["Critical"].link).path == reverse(
        "admin:amazonsync_syncexception_changelist")
    assert parse_qs(urlparse(figures["Critical"].link).query)["severity__exact"] == ["critical"]
    assert data.headers == ["Team", "Critical", "High", "Normal", "Low", "Past SLA"]
    by_team = {str(row[0]): row for row in data.rows}
    ops = next(row for team, row in by_team.items() if ">Ops<" in team)
    assert "owner_team__exact=ops" in str(ops[1]) and ">1<" in str(ops[1])
    assert "as-badge-red" in str(ops[-1]) and "1 overdue" in str(ops[-1])
    finance = next(row for team, row in by_team.items() if ">Finance<" in team)
    assert ">1<" in str(finance[2])  # the resolved one is not counted


def test_the_filtered_queue_shows_what_the_figure_counted(client, ops_user, queue):
    with time_machine.travel(NOW, tick=False):
        _, data = _panel(ops_user)
        client.force_login(ops_user)
        link = {f.label: f for f in data.figures}["Past their SLA"].link
        rows = list(client.get(link).context["cl"].result_list)
    assert [(r.reason_code, r.group_size) for r in rows] == [("lwa_secret_expired", 3)]


def test_the_panel_is_for_who_may_see_the_queue(django_user_model, queue):
    nobody = django_user_model.objects.create_user("nobody", password="x-pw-123456",
                                                   is_staff=True)
    assert _panel(nobody) == (None, None)
    assert any(p.key == "exceptions" and p.permission == "amazonsync.view_syncexception"
               for p in panels())


def test_the_panel_reads_in_the_same_number_of_queries(ops_user, account, queue):
    _panel(ops_user)  # warm the permission cache
    with CaptureQueriesContext(connection) as few:
        _panel(ops_user)
    for i in range(50):
        _record(account, "DE", f"SKU-{i}", team="merch", reason="unmapped_sku", kind="listing")
    assert SyncException.objects.count() > 50
    with CaptureQueriesContext(connection) as many:
        _panel(ops_user)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_no_open_exception_says_so(ops_user):
    _, data = _panel(ops_user)
    assert data.is_empty and data.empty == "No open exceptions."
