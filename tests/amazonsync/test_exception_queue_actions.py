"""Working the queue: bulk retry, resolve and ignore apply to every open row of a grouped
problem, resolve and ignore ask for a note first, refusals by team are messages; the detail
page has the same buttons; "Closed by" says who, or "system (mapping saved by ops)"."""

from __future__ import annotations

import pytest
from django.test import TestCase
from django.urls import reverse

from amazonsync import services
from amazonsync.models import SyncException
from marketplaces.models import Marketplace

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:amazonsync_syncexception_changelist")


def _record(account, code: str, key: str, *, team="merch", reason="unmapped_sku",
            kind="thing", flow="catalog") -> SyncException:
    return services.exception_record(
        flow=flow, object_kind=kind, object_key=f"{account.selling_partner_id}/{code}/{key}",
        reason_code=reason, message=f"{key} in {code}", owner_team=team, account=account,
        marketplace=Marketplace.objects.get(code=code), payload={"seller_sku": key},
    )


@pytest.fixture
def grouped(account):
    """One problem in three marketplaces (one already ignored), and another problem."""
    rows = [_record(account, code, "ABC-1") for code in ("US", "CA", "GB")]
    services.exceptions_ignore(exception_ids=[rows[2].pk], user=None, note="old")
    other = _record(account, "US", "XYZ-9")
    return rows, other


def _statuses(rows) -> list[str]:
    return [SyncException.objects.get(pk=r.pk).status for r in rows]


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def test_resolve_asks_for_a_note_then_applies_to_the_whole_group(client, ops_user, grouped):
    rows, other = grouped
    client.force_login(ops_user)
    confirm = client.post(QUEUE, {"action": "resolve_selected", "_selected_action": [rows[0].pk]})
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "What fixed it?" in page and "mark 2 exception(s) resolved" in page
    assert f"#{rows[1].pk}" in page and f"#{other.pk}" not in page
    assert _statuses(rows) == ["open", "open", "ignored"]
    # an empty note is refused: the page again, nothing changed
    again = client.post(QUEUE, {"action": "resolve_selected", "_selected_action": [rows[0].pk],
                                "apply": "1", "note": "  "})
    assert again.status_code == 200 and _statuses(rows)[:2] == ["open", "open"]
    done = client.post(QUEUE, {"action": "resolve_selected", "_selected_action": [rows[0].pk],
                               "apply": "1", "note": "mapped in Seller Central"}, follow=True)
    assert "2 exception(s) marked resolved" in _messages(done)
    assert _statuses(rows) == ["resolved", "resolved", "ignored"]
    assert _statuses([other]) == ["open"]
    fixed = SyncException.objects.get(pk=rows[1].pk)
    assert fixed.resolution_note == "mapped in Seller Central"
    assert fixed.resolved_by == ops_user and fixed.manual_fix


def test_ignore_with_a_note_applies_to_the_group(client, ops_user, grouped):
    rows, other = grouped
    client.force_login(ops_user)
    confirm = client.post(QUEUE, {"action": "ignore_selected", "_selected_action": [rows[1].pk]})
    assert b"Why is it safe to ignore these?" in confirm.content
    client.post(QUEUE, {"action": "ignore_selected", "_selected_action": [rows[1].pk],
                        "apply": "1", "note": "test listing, never sold"})
    assert _statuses(rows) == ["ignored", "ignored", "ignored"]
    assert SyncException.objects.get(pk=rows[0].pk).resolution_note == \
        "test listing, never sold"
    assert _statuses([other]) == ["open"]


def test_a_team_refusal_is_a_message_and_the_rest_is_done(client, ops_user, account):
    finance = _record(account, "US", "SETTLEMENT-1", team="finance", reason="unmapped_lines")
    merch = _record(account, "US", "ABC-1")
    client.force_login(ops_user)
    response = client.post(QUEUE, {"action": "resolve_selected",
                                   "_selected_action": [finance.pk, merch.pk],
                                   "apply": "1", "note": "done"}, follow=True)
    assert response.status_code == 200
    text = _messages(response)
    assert "1 exception(s) marked resolved" in text
    assert "Left as they were" in text and "finance team" in text and "Accounting" in text
    assert _statuses([finance, merch]) == ["open", "resolved"]


def test_retry_applies_to_every_open_row_of_the_group(client, ops_user, account):
    seen = []

    @services.register_retry("retry_probe")
    def probe(exc):
        seen.append(exc.pk)
        return True

    rows = [_record(account, code, "P-1", kind="retry_probe") for code in ("US", "CA")]
    client.force_login(ops_user)
    response = client.post(QUEUE, {"action": "retry_selected", "_selected_action": [rows[0].pk]},
                           follow=True)
    assert sorted(seen) == sorted(r.pk for r in rows)
    assert "2 resolved" in _messages(response)
    retried = SyncException.objects.get(pk=rows[1].pk)
    assert retried.status == "resolved" and retried.resolved_cause == "retried"


def test_detail_page_buttons_confirm_then_act(client, ops_user, grouped):
    rows, _ = grouped
    client.force_login(ops_user)
    change = reverse("admin:amazonsync_syncexception_change", args=[rows[0].pk])
    page = client.get(change)
    assert page.status_code == 200
    html = page.content.decode()
    base = change.removesuffix("change/")
    for verb in ("retry", "resolve", "ignore"):
        assert f'href="{base}{verb}/"' in html
    assert "The same problem elsewhere" in html and "Amazon.ca (CA)" in html
    assert "Data received" in html and "History" in html
    url = f"{base}resolve/"
    assert b"What fixed it?" in client.get(url).content
    assert _statuses(rows)[:2] == ["open", "open"]
    response = client.post(url, {"apply": "1", "note": "mapped by hand"})
    assert response.status_code == 302 and response["Location"] == change
    assert _statuses(rows) == ["resolved", "resolved", "ignored"]


def test_detail_button_refused_for_another_team_says_so(client, accounting_user, grouped):
    rows, _ = grouped
    client.force_login(accounting_user)
    url = reverse("admin:amazonsync_syncexception_change", args=[rows[0].pk]).replace(
        "/change/", "/ignore/")
    response = client.post(url, {"apply": "1", "note": "no"}, follow=True)
    assert response.status_code == 200
    assert "merch team" in _messages(response)
    assert _statuses(rows)[:2] == ["open", "open"]


def test_an_automatic_resolution_says_the_system_did_it_and_who_caused_it(
        client, ops_user, superuser, account):
    from catalog.models import Item, Listing
    from catalog.services import listing_discover
    from catalog.services.mappings import listing_save

    us = Marketplace.objects.get(code="US")
    listing = listing_discover(account=account, marketplace=us, seller_sku="ABC-1",
                               source="orders")
    exc = SyncException.objects.get(reason_code="unmapped_sku")
    listing = Listing.objects.get(pk=listing.pk)
    listing.item = Item.objects.create(sku="ITEM-1", name="Item one")
    with TestCase.captureOnCommitCallbacks(execute=True):
        listing_save(listing=listing, user=ops_user)
    exc.refresh_from_db()
    assert exc.status == "resolved" and not exc.manual_fix
    assert exc.resolved_by == ops_user and exc.resolved_cause == "mapping saved"
    client.force_login(superuser)
    html = client.get(QUEUE + "?state=resolved").content.decode()
    assert f"by system (mapping saved by {ops_user.username})" in html
    detail = client.get(reverse("admin:amazonsync_syncexception_change", args=[exc.pk]))
    assert f"system (mapping saved by {ops_user.username})" in detail.content.decode()


def test_a_flow_resolution_names_the_cause_and_a_manual_one_the_person(
        client, superuser, ops_user, account):
    auto = _record(account, "US", "AUTO-1")
    manual = _record(account, "US", "HAND-1")
    services.exception_resolve(flow="catalog", object_kind="thing", object_key=auto.object_key,
                               note="resolved: the next run succeeded")
    services.exceptions_resolve(exception_ids=[manual.pk], user=ops_user, note="done")
    client.force_login(superuser)
    html = client.get(QUEUE + "?state=resolved").content.decode()
    assert "by system (the next run succeeded)" in html
    assert f"by {ops_user.username}</span>" in html
