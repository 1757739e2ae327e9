"""The accountants' screens as people read them: money with its currency's places on every
list, page and inline; drift badges; links from a settlement to its lines, reconciliation
and batches; a true line count; the batch page's buttons (four eyes refusals as messages)
and its audit trail and history; the home page panels; one drift chart per currency."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from amazonsync.charts import Bar, bar_chart_svg
from amazonsync.money import display
from settlements.models import JournalBatch, Settlement
from settlements.services import journal_batch_approve, journal_batch_mark_ready, settlement_import
from tests.settlements.settlement_samples import DEFAULT_LINES, settlement_file

pytestmark = pytest.mark.django_db

JPY_LINES = [
    {"transaction-type": "Order", "amount-type": "ItemPrice", "amount-description": "Principal",
     "amount": "131030", "posted-date": "2024-01-30", "order-id": "503-1234567-1234567",
     "sku": "SKU-J"},
    {"transaction-type": "Order", "amount-type": "ItemFees", "amount-description": "Commission",
     "amount": "-13103", "posted-date": "2024-01-30", "order-id": "503-1234567-1234567",
     "sku": "SKU-J"},
]


def eur(account, settlement_id="30000000001", **kw):
    return settlement_import(account=account, name=f"{settlement_id}.txt",
                             source=settlement_file(settlement_id=settlement_id, **kw)).settlement


def jpy(account, settlement_id="30000000002", **kw):
    return settlement_import(
        account=account, name=f"{settlement_id}.txt",
        source=settlement_file(JPY_LINES, settlement_id=settlement_id, currency="JPY",
                               marketplace="Amazon.co.jp", **kw),
    ).settlement


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return re.sub(r"<[^>]+>", " ", html)


MONEY = re.compile(r"(-?[\d,]+(?:\.(\d+))?)\s(EUR|JPY|USD)\b")


def assert_money_as_money(html: str) -> int:
    """Every amount shown with a currency has the currency's places; no longer decimals
    anywhere; no Python repr. Returns how many amounts were checked."""
    text = visible_text(html)
    assert not re.search(r"\d\.\d{3,}", text), re.search(r".{40}\d\.\d{3,}.{20}", text)
    for bad in ("Decimal(", "{'", "['", "None"):
        assert not re.search(rf"(?<![\w]){re.escape(bad)}", text), bad
    found = MONEY.findall(text)
    for _, places, currency in found:
        assert len(places) == (0 if currency == "JPY" else 2), (places, currency)
    return len(found)


@pytest.fixture
def books(account):
    drifting = eur(account, "30000000003", total="1.00")
    return {"eur": eur(account), "jpy": jpy(account), "drifting": drifting}


def test_every_settlements_screen_shows_money_as_money(books, client, superuser):
    client.force_login(superuser)
    s, j = books["eur"], books["jpy"]
    batch = s.journal_batches.order_by("period").first()
    jbatch = j.journal_batches.first()
    line = s.lines.order_by("line_number").first()
    pages = {
        "settlements": reverse("admin:settlements_settlement_changelist"),
        "settlement": reverse("admin:settlements_settlement_change", args=[s.pk]),
        "jp settlement": reverse("admin:settlements_settlement_change", args=[j.pk]),
        "lines": reverse("admin:settlements_settlementline_changelist"),
        "lines of one": reverse("admin:settlements_settlementline_changelist")
        + f"?settlement__id__exact={j.pk}",
        "line": reverse("admin:settlements_settlementline_change", args=[line.pk]),
        "batches": reverse("admin:settlements_journalbatch_changelist"),
        "batch": reverse("admin:settlements_journalbatch_change", args=[batch.pk]),
        "jp batch": reverse("admin:settlements_journalbatch_change", args=[jbatch.pk]),
        "reconciliation": reverse("admin:settlements_settlement_reconciliation", args=[s.pk]),
        "jp reconciliation": reverse("admin:settlements_settlement_reconciliation",
                                     args=[j.pk]),
        "drift": reverse("admin:settlements_settlement_drift_chart"),
        "adjust": reverse("admin:settlements_journalbatch_adjust", args=[batch.pk]),
        "gl accounts": reverse("admin:settlements_glaccount_changelist"),
        "gl mappings": reverse("admin:settlements_glmapping_changelist"),
        "files": reverse("admin:settlements_settlementreportdocument_changelist"),
        "history": reverse("admin:settlements_journalbatch_history", args=[batch.pk]),
    }
    checked = {}
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        checked[name] = assert_money_as_money(response.content.decode())
    for name in ("settlements", "settlement", "lines", "batches", "batch", "jp batch",
                 "reconciliation", "jp reconciliation", "adjust", "lines of one"):
        assert checked[name], f"{name} shows no amount with its currency"
    text = visible_text(client.get(pages["jp reconciliation"]).content.decode())
    assert "131,030 JPY" in text and "117,927 JPY" in text
    listing = client.get(pages["settlements"]).content.decode()
    assert display(s.total_amount, "EUR") in listing and "117,927 JPY" in listing
    # totals per currency, never one total across currencies
    totals = listing.split('id="currency-totals"')[1].split("</div>")[0]
    assert "EUR" in totals and "JPY" in totals


def test_drift_badges_links_and_terms(books, client, accounting_user):
    client.force_login(accounting_user)
    s, drifting = books["eur"], books["drifting"]
    listing = client.get(reverse("admin:settlements_settlement_changelist")).content.decode()
    assert 'as-badge-red">Drift ' in listing and 'as-badge-green">Balanced' in listing
    assert "✗" not in listing and "icon-no" not in listing
    lines_url = reverse("admin:settlements_settlementline_changelist")
    assert f"{lines_url}?settlement__id__exact={s.pk}" in listing
    assert reverse("admin:settlements_settlement_reconciliation", args=[s.pk]) in listing
    assert f"{s.line_count:,} lines" in listing
    change = client.get(reverse("admin:settlements_settlement_change", args=[drifting.pk]))
    text = change.content.decode()
    assert f"Drift {display(drifting.internal_drift, 'EUR')}" in text
    for name in ("open_lines", "open_reconciliation", "open_batches"):
        url = reverse(f"admin:settlements_settlement_{name}", args=[s.pk])
        assert url in text.replace(str(drifting.pk), str(s.pk)) or client.get(url).status_code
        assert client.get(url).status_code == 302
    batches = client.get(reverse("admin:settlements_journalbatch_changelist")
                         + f"?settlement__id__exact={s.pk}")
    assert {b.settlement_id for b in batches.context["cl"].result_list} == {s.pk}


def test_amazon_codes_show_their_description(books, client, accounting_user):
    from marketplaces.models import AmazonTerm

    AmazonTerm.objects.update_or_create(
        kind="fee_type", code="Commission",
        defaults={"label": "Referral fee", "description": "Amazon's commission on a sale"})
    client.force_login(accounting_user)
    url = reverse("admin:settlements_settlementline_changelist")
    text = client.get(url + f"?settlement__id__exact={books['eur'].pk}").content.decode()
    assert "Referral fee" in text and "Amazon&#x27;s commission on a sale" in text


def test_lines_count_is_true(account, client, accounting_user):
    big = eur(account, "30000000010", lines=DEFAULT_LINES * 20)  # 260 lines
    eur(account, "30000000011")  # 13 lines
    client.force_login(accounting_user)
    url = reverse("admin:settlements_settlementline_changelist")
    response = client.get(url)
    assert "273 settlement lines" in response.content.decode()
    assert "Show all" not in response.content.decode()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url + f"?settlement__id__exact={big.pk}&p=2")
    assert "260 settlement lines" in response.content.decode()
    assert not [q for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()
                and "settlementline" in q["sql"].lower()]
    # under a search the total is not known without counting: said honestly
    response = client.get(url + "?q=SKU-1")
    assert "more than 100 settlement lines" in response.content.decode()
    response = client.get(url + "?q=SKU-2")
    assert "42 settlement lines" in response.content.decode()  # 40 + 2 in the other


def _action(name, batch):
    return reverse(f"admin:settlements_journalbatch_{name}", args=[batch.pk])


def _messages(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_batch_buttons_four_eyes_audit_and_history(account, client, accounting_user,
                                                   accounting_user2):
    s = eur(account)
    batch = s.journal_batches.order_by("period").first()
    page = reverse("admin:settlements_journalbatch_change", args=[batch.pk])

    client.force_login(accounting_user)
    text = client.get(page).content.decode()
    assert _action("ready_button", batch) in text
    assert _action("approve_button", batch) not in text  # not ready yet
    response = client.post(_action("ready_button", batch), {"_form_submitted": "on"},
                           follow=True)
    assert response.status_code == 200
    assert any("ready for approval" in m for m in _messages(response))
    batch.refresh_from_db()
    assert batch.status == "ready" and batch.ready_by == accounting_user
    # the preparer sees no Approve button; forcing it is refused with a message
    text = client.get(page).content.decode()
    assert _action("approve_button", batch) not in text
    response = client.post(_action("approve_button", batch), {"_form_submitted": "on"},
                           follow=True)
    assert response.status_code == 200
    assert any("four eyes" in m for m in _messages(response))
    batch.refresh_from_db()
    assert batch.status == "ready"

    client.force_login(accounting_user2)
    text = client.get(page).content.decode()
    assert _action("approve_button", batch) in text
    # opening the button asks first (a dialog), approving needs the confirmation
    assert client.get(_action("approve_button", batch)).status_code == 200
    batch.refresh_from_db()
    assert batch.status == "ready"
    response = client.post(_action("approve_button", batch), {"_form_submitted": "on"},
                           HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == page
    batch.refresh_from_db()
    assert batch.status == "approved" and batch.approved_by == accounting_user2
    response = client.post(_action("approve_button", batch), {"_form_submitted": "on"},
                           follow=True)
    assert any("cannot be approved again" in m for m in _messages(response))

    text = visible_text(client.get(page).content.decode())
    assert re.search(r"Prepared \(marked ready\)\s+by accountant1", text)
    assert re.search(r"Approved\s+by accountant2", text)
    history = client.get(reverse("admin:settlements_journalbatch_history", args=[batch.pk]))
    html = history.content.decode()
    assert "doesn&#x27;t have a change history" not in html
    assert "doesn't have a change history" not in html
    assert "Marked ready for approval by accountant1" in html
    assert "Approved by accountant2 (four eyes)" in html
    assert "Deleted user" not in html and "to revert" not in html
    version = batch.history.order_by("history_id").first()
    past = reverse("admin:settlements_journalbatch_simple_history",
                   args=[batch.pk, version.history_id])
    assert client.get(past).status_code == 200
    assert client.post(past, {}).status_code == 403  # never saved back

    # reverse: on the approved batch, to a reversal batch page, audited on both
    assert _action("reverse_button", batch) in client.get(page).content.decode()
    response = client.post(_action("reverse_button", batch), {"_form_submitted": "on"})
    reversal = JournalBatch.objects.get(reverses=batch)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:settlements_journalbatch_change",
                                           args=[reversal.pk])
    text = visible_text(client.get(page).content.decode())
    assert "Reversed" in text and reversal.reference in text
    assert _action("reverse_button", batch) not in client.get(page).content.decode()
    response = client.post(_action("reverse_button", batch), {"_form_submitted": "on"},
                           follow=True)
    assert any("already reversed" in m for m in _messages(response))


def test_refusals_are_messages_not_errors(account, client, accounting_user, ops_user):
    drifting = eur(account, total="1.00")
    batch = drifting.journal_batches.order_by("period").first()
    client.force_login(accounting_user)
    response = client.post(_action("ready_button", batch), {"_form_submitted": "on"},
                           follow=True)
    assert response.status_code == 200
    assert any("does not reconcile" in m for m in _messages(response))
    client.force_login(ops_user)
    assert client.post(_action("ready_button", batch),
                       {"_form_submitted": "on"}).status_code == 403


def _panel(html: str, key: str) -> str:
    return html.split(f'id="panel-{key}"')[1].split('class="as-panel"')[0]


def test_home_panels_controller_sees_waiting_batch(account, client, accounting_user,
                                                   accounting_user2):
    s = eur(account)
    eur(account, "30000000004", total="1.00")
    batch = s.journal_batches.order_by("period").first()
    journal_batch_mark_ready(batch=batch, user=accounting_user)

    client.force_login(accounting_user2)
    html = client.get(reverse("admin:index")).content.decode()
    mine = _panel(html, "settlements_approval")
    assert batch.reference in mine and "waiting=me" in mine
    assert "1" in mine and "accountant1" in mine
    review = _panel(html, "settlements_review")
    assert "drift=review" in review
    drift = _panel(html, "settlements_drift")
    assert "EUR" in drift and "Drift " in drift

    client.force_login(accounting_user)  # the preparer: not theirs to approve
    html = client.get(reverse("admin:index")).content.decode()
    assert batch.reference not in _panel(html, "settlements_approval")
    assert "No batch waits for your approval" in _panel(html, "settlements_approval")
    waiting = client.get(reverse("admin:settlements_journalbatch_changelist") + "?waiting=me")
    assert list(waiting.context["cl"].result_list) == []

    client.force_login(accounting_user2)
    waiting = client.get(reverse("admin:settlements_journalbatch_changelist") + "?waiting=me")
    assert list(waiting.context["cl"].result_list) == [batch]
    journal_batch_approve(batch=batch, user=accounting_user2)
    html = client.get(reverse("admin:index")).content.decode()
    assert "No batch waits for your approval" in _panel(html, "settlements_approval")


def test_home_panels_constant_queries(account, rf, accounting_user, accounting_user2):
    from amazonsync.dashboard import sections_for

    request = rf.get("/admin/")
    request.user = accounting_user2
    eur(account)
    sections_for(request)  # the user's permissions are cached from here on
    with CaptureQueriesContext(connection) as few:
        sections_for(request)
    for i in range(4):
        s = eur(account, f"3100000000{i}", **({"total": "1.00"} if i % 2 else {}))
        if not i % 2:
            journal_batch_mark_ready(batch=s.journal_batches.order_by("period").first(),
                                     user=accounting_user)
    with CaptureQueriesContext(connection) as many:
        sections_for(request)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_drift_charts_one_per_currency(books, client, accounting_user):
    jpy(books["jpy"].account, "30000000005", total="117900")  # 27 JPY of drift
    client.force_login(accounting_user)
    html = client.get(reverse("admin:settlements_settlement_drift_chart")).content.decode()
    eur_chart = html.split('id="chart-EUR"')[1].split("</section>")[0]
    jpy_chart = html.split('id="chart-JPY"')[1].split("</section>")[0]
    assert "as-chart-zero" in eur_chart and "as-chart-zero" in jpy_chart
    assert "JPY" not in eur_chart.split("<h2>")[1].split("</h2>")[1]
    assert "-27 JPY" in jpy_chart and "EUR" not in jpy_chart
    assert "Amazon.co.jp (JP)" in jpy_chart
    table = html.split('id="drift-by-marketplace"')[1]
    assert "Amazon.de (DE)" in table and "Amazon.co.jp (JP)" in table
    # a period without drift says so instead of a flat line
    quiet = client.get(reverse("admin:settlements_settlement_drift_chart")
                       + "?measure=deposit").content.decode()
    assert "No drift in the period" in quiet and "<svg" not in quiet.split("content-main")[1]


def test_bar_chart_marks_zero_and_keeps_labels_inside():
    bars = [Bar(Decimal(v), display(Decimal(v), "EUR"), f"0{i + 1} Jan 2026")
            for i, v in enumerate(["0", "-0.02", "12.50", "0", "-3.10"])]
    svg = str(bar_chart_svg(bars, axis_text=lambda v: display(v, "EUR"), empty_text="none",
                            aria_label="drift", width=400, height=200))
    assert 'class="as-chart-zero"' in svg and ">0</text>" in svg
    assert "12.50 EUR" in svg and "-3.10 EUR" in svg
    for x in re.findall(r'<text x="([\d.]+)"', svg):
        assert 0 <= float(x) <= 400
    assert 'text-anchor="start"' in svg and 'text-anchor="end"' in svg
    flat = str(bar_chart_svg([Bar(Decimal(0), "0.00 EUR", "x")], axis_text=str,
                             empty_text="No drift in the period", aria_label="drift"))
    assert "<svg" not in flat and "No drift in the period" in flat


def test_money_formatter_places_and_separators():
    assert display(Decimal("131030.0000"), "JPY") == "131,030 JPY"
    assert display(Decimal("-49.5400000000000"), "USD") == "-49.54 USD"
    assert display(Decimal("1234567.005"), "EUR") == "1,234,567.01 EUR"
    assert display(Decimal("1.2345"), "KWD") == "1.235 KWD"
    assert display(None, "EUR") == "—"
    assert Settlement._meta.get_field("total_amount").verbose_name == "total paid out"
