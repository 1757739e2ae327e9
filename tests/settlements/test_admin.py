"""Admin screens for accountants: constant queries, no COUNT on lines, read-only Amazon data,
approval and export through the actions, reconciliation page and drift chart."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from settlements.models import JournalBatch, Settlement, SettlementLine
from settlements.services import journal_batch_mark_ready, settlement_import
from tests.settlements.settlement_samples import DEFAULT_LINES, settlement_file

pytestmark = pytest.mark.django_db


def import_many(account, n, lines=None):
    out = []
    for i in range(n):
        out.append(
            settlement_import(
                account=account, name=f"s{i}.txt",
                source=settlement_file(lines, settlement_id=f"1000000{i:04d}",
                                       **({"total": "1.00"} if i % 2 else {})),
            ).settlement
        )
    return out


@pytest.fixture
def accountant_client(client, accounting_user):
    client.force_login(accounting_user)
    return client


def test_settlement_changelist_constant_queries_and_drift_highlight(
    account, accountant_client, django_assert_max_num_queries
):
    import_many(account, 2)
    url = reverse("admin:settlements_settlement_changelist")
    with CaptureQueriesContext(connection) as small:
        response = accountant_client.get(url)
    assert response.status_code == 200
    import_many_more = [
        settlement_import(account=account, name=f"m{i}.txt",
                          source=settlement_file(settlement_id=f"2000000{i:04d}")).settlement
        for i in range(6)
    ]
    assert len(import_many_more) == 6
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = accountant_client.get(url)
    content = response.content.decode()
    # the settlement with total 1.00 has internal drift: a red badge naming it; the others
    # balance: a green "Balanced", never a red cross
    assert 'as-badge-red">Drift ' in content and 'as-badge-green">Balanced' in content
    assert "settlements/settlements.css" in content
    assert "Drift charts" in content


def test_settlement_line_changelist_never_counts(account, accountant_client,
                                                django_assert_num_queries):
    import_many(account, 1, DEFAULT_LINES * 20)  # 260 lines
    url = reverse("admin:settlements_settlementline_changelist")
    with CaptureQueriesContext(connection) as ctx:
        response = accountant_client.get(url)
    assert response.status_code == 200
    sqls = [q["sql"].upper() for q in ctx.captured_queries]
    line_table = SettlementLine._meta.db_table.upper()
    assert not [s for s in sqls if "COUNT(" in s and line_table in s]
    page = response.context["cl"]
    assert len(page.result_list) == 100 and page.multi_page
    n = len(ctx.captured_queries)
    with django_assert_num_queries(n):
        response = accountant_client.get(url + "?p=3")
    assert len(response.context["cl"].result_list) == 60
    assert not response.context["cl"].paginator.num_pages > 3
    settlement = Settlement.objects.get()
    response = accountant_client.get(url + f"?settlement__id__exact={settlement.pk}")
    assert response.status_code == 200


def test_amazon_data_is_read_only(account, accountant_client):
    s = import_many(account, 1)[0]
    line = s.lines.first()
    response = accountant_client.get(
        reverse("admin:settlements_settlementline_change", args=[line.pk])
    )
    assert response.status_code == 200
    assert b'name="amount"' not in response.content
    response = accountant_client.get(reverse("admin:settlements_settlement_change",
                                             args=[s.pk]))
    assert b'name="total_amount"' not in response.content
    assert b'name="bank_deposit_amount"' in response.content


def test_record_bank_deposit_through_admin(account, superuser, client):
    client.force_login(superuser)
    s = import_many(account, 1)[0]
    url = reverse("admin:settlements_settlement_change", args=[s.pk])
    response = client.post(url, {
        "bank_deposit_amount": "90.00",
        "journal_batches-TOTAL_FORMS": "0", "journal_batches-INITIAL_FORMS": "0",
        "journal_batches-MIN_NUM_FORMS": "0", "journal_batches-MAX_NUM_FORMS": "1000",
    })
    assert response.status_code == 302, response.content[:2000]
    s.refresh_from_db()
    assert s.deposit_drift == Decimal("1.53") and s.has_drift


def test_reconciliation_page_and_drift_chart(account, accountant_client):
    s = import_many(account, 2)[0]
    response = accountant_client.get(
        reverse("admin:settlements_settlement_reconciliation", args=[s.pk])
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "Amazon's total" in text and "reserve released in this settlement" in text
    assert "Order-level reconciliation skipped" in text or "orders checked" in text
    chart = accountant_client.get(reverse("admin:settlements_settlement_drift_chart"))
    assert chart.status_code == 200
    text = chart.content.decode()
    assert "<svg" in text or "No drift in the period" in text
    assert "Drift in EUR" in text and "Amazon.de (DE)" in text
    filtered = accountant_client.get(
        reverse("admin:settlements_settlement_drift_chart") + "?marketplace=ATVPDKIKX0DER"
    )
    assert "No settlements match" in filtered.content.decode()


def test_static_chart_library_is_served_locally():
    from django.contrib.staticfiles import finders

    assert finders.find("settlements/settlements.css")


def test_approve_and_export_through_admin_actions(account, client, accounting_user,
                                                  accounting_user2, ops_user):
    s = import_many(account, 1)[0]
    batch = s.journal_batches.order_by("period").first()
    journal_batch_mark_ready(batch=batch, user=accounting_user)
    url = reverse("admin:settlements_journalbatch_changelist")
    post = {"action": "approve", "_selected_action": [batch.pk]}

    client.force_login(accounting_user)  # the one who marked it ready
    client.post(url, post, follow=True)
    batch.refresh_from_db()
    assert batch.status == "ready"

    client.force_login(ops_user)  # Ops cannot even see journals
    assert client.post(url, post).status_code == 403

    client.force_login(accounting_user2)
    client.post(url, post, follow=True)
    batch.refresh_from_db()
    assert batch.status == "approved"

    change = client.get(reverse("admin:settlements_journalbatch_change", args=[batch.pk]))
    assert change.status_code == 200 and b'name="_save"' not in change.content

    response = client.post(url, {"action": "export_csv", "_selected_action": [batch.pk]})
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode().startswith("date,account,debit,credit,currency,memo,")
    batch.refresh_from_db()
    assert batch.status == JournalBatch.Status.EXPORTED


def test_journal_batch_changelist_constant_queries(account, accountant_client,
                                                   django_assert_max_num_queries):
    import_many(account, 1)
    url = reverse("admin:settlements_journalbatch_changelist")
    with CaptureQueriesContext(connection) as ctx:
        accountant_client.get(url)
    import_many(account, 5)
    with django_assert_max_num_queries(len(ctx.captured_queries)):
        assert accountant_client.get(url).status_code == 200


def test_gl_mapping_csv_import_export(account, superuser, client):
    client.force_login(superuser)
    response = client.get(reverse("admin:settlements_glmapping_changelist"))
    assert response.status_code == 200
    from settlements.resources import GLMappingResource

    dataset = GLMappingResource().export()
    assert "gl_account" in dataset.headers and len(dataset) > 50
    import tablib

    new = tablib.Dataset(headers=["id", "transaction_type", "amount_type",
                                  "amount_description", "pattern", "marketplace",
                                  "gl_account", "memo"])
    new.append(["", "BrandNewThing", "", "", "0", "DE", "5090", "from CSV"])
    result = GLMappingResource().import_data(new, dry_run=False)
    assert not result.has_errors()
    from settlements.models import GLMapping

    rule = GLMapping.objects.get(transaction_type="BrandNewThing")
    assert rule.gl_account.code == "5090" and rule.marketplace.code == "DE"
