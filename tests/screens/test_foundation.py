"""The admin's frame: sidebar by job and permission, the home page's panels, ?next= returns."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse

from amazonsync import dashboard
from amazonsync.navigation import sidebar
from marketplaces.models import Marketplace
from marketplaces.reference import marketplace_label

pytestmark = pytest.mark.django_db


def _titles(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return {group["title"]: [item["title"] for item in group["items"]]
            for group in sidebar(request)}


def test_sidebar_is_grouped_by_job_and_shows_only_what_the_user_may_open(
        ops_user, accounting_user, superuser):
    ops = _titles(ops_user)
    assert "Listings (SKU mappings)" in ops["Catalog"]
    assert "Exception queue" in ops["Needs attention"]
    assert "Money" not in ops  # ops may not view settlements or journals
    accounting = _titles(accounting_user)
    assert "Journal batches" in accounting["Money"]
    assert "Catalog" not in accounting
    admin = _titles(superuser)
    assert list(admin) == ["Needs attention", "Catalog", "Orders", "Money", "Returns",
                           "Health", "Settings"]
    assert "Amazon terms" in admin["Settings"]


def test_home_page_shows_each_role_its_panels(client, ops_user, accounting_user):
    calls = []

    @dashboard.register_panel("test-ops", title="Test ops panel", audience="ops",
                              permission="catalog.view_listing", order=999)
    def _ops(request, now):
        calls.append(request.user.username)
        return dashboard.PanelData(figures=[dashboard.Figure(
            "Unmapped", "3", link="/admin/catalog/listing/?mapped=no", tone="bad")])

    @dashboard.register_panel("test-acc", title="Test accounting panel",
                              audience="accounting", permission="settlements.view_settlement",
                              order=999)
    def _acc(request, now):
        return dashboard.PanelData(empty="No settlement waits for you.")

    try:
        client.force_login(ops_user)
        page = client.get(reverse("admin:index")).content.decode()
        assert "Test ops panel" in page and 'href="/admin/catalog/listing/?mapped=no"' in page
        assert "as-tone-bad" in page
        assert "Test accounting panel" not in page
        client.force_login(accounting_user)
        page = client.get(reverse("admin:index")).content.decode()
        assert "Test accounting panel" in page and "No settlement waits for you." in page
        assert "Test ops panel" not in page
        assert calls == [ops_user.username]  # a panel is computed only for who sees it
    finally:
        dashboard._registry.panels.pop("test-ops")
        dashboard._registry.panels.pop("test-acc")


def test_a_panel_needs_a_known_audience_and_tone():
    with pytest.raises(ValueError, match="unknown audience"):
        dashboard.register_panel("x", title="x", audience="sales")
    with pytest.raises(ValueError, match="unknown tone"):
        dashboard.Figure("x", "1", tone="purple")


def test_marketplaces_are_shown_by_name():
    assert marketplace_label("DE") == "Amazon.de (DE)"
    assert marketplace_label("A1PA6795UKMFR9") == "Amazon.de (DE)"
    assert marketplace_label("ATVPDKIKX0DER") == "Amazon.com (US)"
    assert marketplace_label("ZZ") == "ZZ"
    assert str(Marketplace.objects.get(code="JP")) == "Amazon.co.jp (JP)"


def test_a_change_page_opened_with_next_shows_the_way_back_and_returns_there(
        client, superuser):
    from marketplaces.models import AmazonTerm

    term = AmazonTerm.objects.create(kind="return_reason", code="ZZ-TEST", label="Test")
    client.force_login(superuser)
    url = reverse("admin:marketplaces_amazonterm_change", args=[term.pk])
    back = "/admin/amazonsync/syncexception/?status__exact=open"
    page = client.get(url, {"next": back}).content.decode()
    assert 'id="back-link"' in page and back.replace("&", "&amp;") in page
    response = client.post(f"{url}?next={back}", {
        "kind": "return_reason", "code": "ZZ-TEST", "label": "Test reason", "description": "",
        "_save": "Save"})
    assert response.status_code == 302 and response["Location"] == back
    # another site is never a way back
    response = client.post(f"{url}?next=https://evil.example/", {
        "kind": "return_reason", "code": "ZZ-TEST", "label": "Test", "description": "",
        "_save": "Save"})
    assert response.status_code == 302 and "evil" not in response["Location"]
