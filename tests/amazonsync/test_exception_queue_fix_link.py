"""The fix link comes first, names what to do ("Fix: map SKU ABC-1") and opens the object with
``?next=`` the queue as filtered: saving the object lands back in that queue, where the
problem is gone."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import unquote

import pytest
from django.urls import reverse

from amazonsync.models import SyncException
from marketplaces.models import Marketplace

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:amazonsync_syncexception_changelist")


def _form_data(response) -> dict:
    """What the change form would post unchanged: its fields and its inlines' forms."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context.get("inline_admin_formsets", []):
        formset = inline.formset
        data.update({f"{formset.prefix}-{k}": v for k, v in
                     formset.management_form.initial.items()})
        forms += list(formset.forms)
    for form in forms:
        for bound in form:
            value = bound.value()
            if value is None or value is False:
                continue
            data[bound.html_name] = "on" if value is True else value
    return data


def test_fix_first_then_back_to_the_filtered_queue_with_the_row_gone(
        client, ops_user, account, django_capture_on_commit_callbacks):
    from catalog.models import Item
    from catalog.services import listing_discover

    listing = listing_discover(account=account, marketplace=Marketplace.objects.get(code="US"),
                               seller_sku="ABC-1", source="orders")
    item = Item.objects.create(sku="ITEM-1", name="Item one")
    client.force_login(ops_user)
    queue = QUEUE + "?owner_team__exact=merch&state=active"
    html = client.get(queue).content.decode()
    columns = re.findall(r'<td[^>]*data-label="([^"]+)"|<th[^>]*data-label="([^"]+)"', html)
    assert [a or b for a, b in columns][:3] == ["Select record", "Fix", "Severity"]
    link = re.search(r'<a class="fix-link" href="([^"]+)"><strong>Fix:</strong> map SKU ABC-1',
                     html)
    assert link, "no fix link"
    href = unescape(link.group(1))
    change = reverse("admin:catalog_listing_change", args=[listing.pk])
    assert href.startswith(change + "?next=")
    assert unquote(href.split("next=", 1)[1]) == queue

    page = client.get(href)
    assert page.status_code == 200
    data = _form_data(page)
    data["item"] = str(item.pk)
    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(href, data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors \
        if saved.context else saved
    assert saved["Location"] == queue
    exc = SyncException.objects.get(reason_code="unmapped_sku")
    assert exc.status == "resolved"
    back = client.get(saved["Location"]).content.decode()
    assert "map SKU ABC-1" not in back
