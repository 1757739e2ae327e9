"""Four eyes with buttons, in a real browser: an accountant marks a journal batch ready
from its page, the controller finds it on the home page, opens it, approves it with the
button, and the batch page names who prepared and who approved it."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group

from tests.settlements.settlement_samples import settlement_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-pass-123"


def _user(django_user_model, username):
    user = django_user_model.objects.create_user(username=username, password=PASSWORD,
                                                 is_staff=True)
    user.groups.add(Group.objects.get(name="Accounting"))
    return user


def login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.locator("form button[type=submit], form input[type=submit]").first.click()


def _confirm(page, button: str, dialog_submit: str) -> None:
    page.locator("#content a, nav a, ul a").filter(has_text=button).first.click()
    dialog = page.locator("#dialog")
    dialog.wait_for()
    with page.expect_navigation():
        dialog.locator("button[type=submit]").filter(has_text=dialog_submit).click()


def test_accountant_prepares_controller_approves_with_buttons(live_server, page, account,
                                                              django_user_model):
    from settlements.models import JournalBatch
    from settlements.services import settlement_import

    _user(django_user_model, "accountant")
    _user(django_user_model, "controller")
    settlement = settlement_import(account=account, source=settlement_file(),
                                   name="s.txt").settlement
    batch = settlement.journal_batches.order_by("period").first()
    batch_url = f"{live_server.url}/admin/settlements/journalbatch/{batch.pk}/change/"

    login(page, live_server, "accountant")
    page.goto(batch_url)
    assert page.locator("a", has_text=re.compile(r"^\s*Approve\s*$")).count() == 0
    _confirm(page, "Mark ready for approval", "Mark ready")
    assert "ready for approval" in page.locator("body").inner_text()
    assert JournalBatch.objects.get(pk=batch.pk).status == "ready"
    audit = page.locator("#audit-trail").inner_text()
    assert re.search(r"Prepared \(marked ready\)\s+by accountant", audit)

    page.context.clear_cookies()
    login(page, live_server, "controller")
    page.goto(f"{live_server.url}/admin/")
    panel = page.locator("#panel-settlements_approval")
    assert batch.reference in panel.inner_text()
    with page.expect_navigation():
        panel.locator("a", has_text=batch.reference).click()
    _confirm(page, "Approve", "Approve")
    batch.refresh_from_db()
    assert batch.status == "approved" and batch.approved_by.username == "controller"
    audit = page.locator("#audit-trail").inner_text()
    assert re.search(r"Approved\s+by controller", audit)
    assert "Approved" in page.locator(".as-badge").first.inner_text() or "Approved" in audit
