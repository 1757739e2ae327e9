"""Every admin page answers for a superuser with a bounded number of queries, lists do not
grow queries with rows, and each group sees exactly what its permissions allow."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from amazonsync import services
from amazonsync.models import ApiCall, SyncException, SyncRun

pytestmark = [pytest.mark.smoke, pytest.mark.django_db]

MAX_QUERIES = 40


def _populate(account, n: int = 1) -> None:
    now = timezone.now()
    for i in range(n):
        run = SyncRun.objects.create(
            flow="orders", account=account, marketplace_id="ATVPDKIKX0DER",
            status=SyncRun.Status.SUCCEEDED, started_at=now, finished_at=now, fetched=i,
        )
        ApiCall.objects.create(run=run, account=account, operation="getOrders", method="GET",
                               path="/orders/v0/orders", status_code=200, duration_ms=12)
        services.exception_record(
            flow="orders", object_kind="order_line", object_key=f"111-{i}/SKU-{i}",
            reason_code="unmapped_sku", message="SKU not mapped", owner_team="merch",
            account=account, marketplace=None, payload={"i": i}, run=run,
        )


def _models():
    return sorted(admin.site._registry.items(), key=lambda kv: kv[0]._meta.label)


def _url(model, view, *args):
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    return response, len(ctx.captured_queries)


@pytest.mark.parametrize("model_label", [m._meta.label for m, _ in _models()])
def test_every_admin_page_answers_for_a_superuser(client, superuser, account, model_label):
    model = next(m for m, _ in _models() if m._meta.label == model_label)
    model_admin = admin.site._registry[model]
    client.force_login(superuser)
    _populate(account, 1)

    response, small = _count_queries(client, _url(model, "changelist"))
    assert response.status_code == 200, model_label
    assert small <= MAX_QUERIES, f"{model_label} changelist used {small} queries"

    obj = model._default_manager.order_by("pk").first()
    if obj is not None:
        response, n = _count_queries(client, _url(model, "change", obj.pk))
        assert response.status_code == 200, model_label
        assert n <= MAX_QUERIES, f"{model_label} change page used {n} queries"

    try:
        add_url = _url(model, "add")
    except NoReverseMatch:
        return
    response = client.get(add_url)
    fake = type("R", (), {"user": superuser})()
    expected = 200 if model_admin.has_add_permission(fake) else 403
    assert response.status_code == expected, model_label


@pytest.mark.parametrize("model", [SyncRun, SyncException, ApiCall])
def test_changelists_do_not_grow_queries_with_rows(client, superuser, account, model):
    client.force_login(superuser)
    _populate(account, 1)
    _, one = _count_queries(client, _url(model, "changelist"))
    _populate(account, 15)
    response, many = _count_queries(client, _url(model, "changelist"))
    assert response.status_code == 200
    assert many == one, f"{model._meta.label}: {one} queries with 1 row, {many} with 16"


def test_exception_queue_has_constant_queries(client, superuser, account,
                                              django_assert_num_queries):
    client.force_login(superuser)
    _populate(account, 3)
    _, expected = _count_queries(client, _url(SyncException, "changelist"))
    _populate(account, 10)
    with django_assert_num_queries(expected):
        client.get(_url(SyncException, "changelist"))


@pytest.mark.parametrize("user_fixture", ["ops_user", "accounting_user"])
def test_groups_see_exactly_what_they_may(client, request, account, user_fixture):
    user = request.getfixturevalue(user_fixture)
    client.force_login(user)
    _populate(account, 1)
    denied = 0
    for model, _ in _models():
        meta = model._meta
        may = user.has_perm(f"{meta.app_label}.view_{meta.model_name}") or user.has_perm(
            f"{meta.app_label}.change_{meta.model_name}"
        )
        status = client.get(_url(model, "changelist")).status_code
        assert status == (200 if may else 403), f"{user.username} on {meta.label}: {status}"
        denied += not may
    assert denied >= 1  # each group is kept out of something


def test_ops_and_accounting_are_kept_apart(client, ops_user, accounting_user, account):
    client.force_login(accounting_user)
    assert client.get(reverse("admin:amazonsync_apicall_changelist")).status_code == 403
    assert client.get(reverse("admin:amazonsync_syncexception_changelist")).status_code == 200
    client.force_login(ops_user)
    assert client.get(reverse("admin:amazonsync_syncexception_changelist")).status_code == 200
    for model, _ in _models():
        if model._meta.app_label == "settlements":
            status = client.get(_url(model, "changelist")).status_code
            assert status == 403, f"ops reached {model._meta.label}"


def test_exception_actions_from_the_admin(client, ops_user, account):
    _populate(account, 2)
    ids = list(SyncException.objects.values_list("pk", flat=True))
    client.force_login(ops_user)
    url = _url(SyncException, "changelist")
    # ignore asks for a note first and changes nothing without one
    response = client.post(url, {"action": "ignore_selected", "_selected_action": ids})
    assert response.status_code == 200
    assert b"Why is it safe" in response.content
    assert not SyncException.objects.filter(status="ignored").exists()
    response = client.post(url, {"action": "ignore_selected", "_selected_action": ids[:1],
                                 "apply": "1", "note": "test listing, never sold"})
    assert response.status_code == 302
    ignored = SyncException.objects.get(pk=ids[0])
    assert ignored.status == "ignored"
    assert ignored.resolution_note == "test listing, never sold"
    assert ignored.resolved_by == ops_user
    client.post(url, {"action": "resolve_selected", "_selected_action": ids[1:], "apply": "1",
                      "note": "fixed"})
    assert SyncException.objects.get(pk=ids[1]).status == "resolved"


def test_engine_records_are_read_only_but_a_superuser_may_prune_them(superuser, ops_user):
    from marketplaces.models import Marketplace

    as_superuser = type("R", (), {"user": superuser})()
    as_ops = type("R", (), {"user": ops_user})()
    for model in (SyncRun, ApiCall):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(as_superuser)
        assert not model_admin.has_change_permission(as_superuser)
        assert model_admin.has_delete_permission(as_superuser)
        assert not model_admin.has_delete_permission(as_ops)
    marketplaces = admin.site._registry[Marketplace]  # reference data: nobody edits it
    assert not marketplaces.has_add_permission(as_superuser)
    assert not marketplaces.has_change_permission(as_superuser)
    assert not marketplaces.has_delete_permission(as_superuser)
