"""The health dashboard in a real browser: Ops opens it from the sidebar and it draws its
trends. (The other journeys have their own files: the exception queue, the catalog import,
the batch approval, running a flow, returns.)"""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-pass-123"


def _user(django_user_model, username, group):
    user = django_user_model.objects.create_user(username=username, password=PASSWORD,
                                                 is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def test_dashboard_draws_charts_with_data(live_server, page, account, django_user_model):
    from amazonsync.health import health_snapshot_store
    from amazonsync.services import exception_record

    _user(django_user_model, "ops3", "Ops")
    exception_record(flow="orders", object_kind="order_line", object_key="111/SKU",
                     reason_code="unmapped_sku", message="m", owner_team="merch",
                     account=account, marketplace=account.marketplaces.get(code="US"))
    now = timezone.now()
    for days in range(6):
        health_snapshot_store(now=now - datetime.timedelta(days=days))
    login(page, live_server, "ops3", PASSWORD)
    assert page.locator("a[href='/admin/health/']").count() >= 1  # in the sidebar
    page.goto(f"{live_server.url}/admin/health/")
    page.wait_for_selector("section[data-marketplace]")
    us = page.locator("section[data-marketplace='US']")
    assert us.locator("svg.trend polyline").count() >= 1
    assert us.locator("svg.trend circle").count() >= 6
    assert "Exception backlog" in us.inner_text()
