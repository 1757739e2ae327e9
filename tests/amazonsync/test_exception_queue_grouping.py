"""The queue shows one row per problem: the same reason about the same object met in several
marketplaces, accounts or flows is one row with a count and where; different objects stay
apart; the list answers in the same number of queries for 10 or 200 rows."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from amazonsync import services
from amazonsync.models import SyncException
from amazonsync.problems import REASONS, group_key, reason_label
from marketplaces.models import Marketplace

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:amazonsync_syncexception_changelist")
MARKETS = ("US", "CA", "GB", "DE", "JP")


def _unmapped(account, code: str, sku: str) -> SyncException:
    marketplace = Marketplace.objects.get(code=code)
    return services.exception_record(
        flow="catalog", object_kind="listing",
        object_key=f"{account.selling_partner_id}/{code}/{sku}", reason_code="unmapped_sku",
        message=f"Seller SKU {sku} in {code} is not mapped to an item.", owner_team="merch",
        account=account, marketplace=marketplace, payload={"seller_sku": sku},
    )


def _rows(response) -> list:
    return list(response.context["cl"].result_list)


def test_one_sku_unmapped_in_five_marketplaces_is_one_row_with_the_count(
        client, superuser, account):
    for code in MARKETS:
        _unmapped(account, code, "ABC-1")
    assert SyncException.objects.count() == 5
    assert SyncException.objects.values("group_key").distinct().count() == 1
    client.force_login(superuser)
    response = client.get(QUEUE)
    rows = _rows(response)
    assert len(rows) == 1 and rows[0].group_size == 5
    html = response.content.decode()
    assert "×5 marketplaces: Amazon.com (US), Amazon.ca (CA), Amazon.co.uk (GB)…" in html
    assert "SKU not mapped to an item" in html
    assert "unmapped_sku" not in html.split('id="changelist-filter"')[0].split("<table")[-1]


def test_different_objects_are_different_rows(client, superuser, account):
    _unmapped(account, "US", "ABC-1")
    _unmapped(account, "CA", "ABC-1")
    _unmapped(account, "US", "XYZ-9")
    client.force_login(superuser)
    rows = _rows(client.get(QUEUE))
    assert sorted(r.group_size for r in rows) == [1, 2]
    assert len({r.group_key for r in rows}) == 2


def test_an_expired_secret_refusing_every_flow_is_one_row(client, superuser, account):
    for flow in ("orders", "returns", "settlements", "shipments", "inventory_push",
                 "price_push", "fba_inventory_pull", "inbound_pull", "account_check"):
        services.exception_record(
            flow=flow, object_kind="seller_account", object_key=account.selling_partner_id,
            reason_code="lwa_secret_expired", message="The LWA client secret expired.",
            owner_team="ops", account=account, marketplace=Marketplace.objects.get(code="US"),
        )
    client.force_login(superuser)
    response = client.get(QUEUE)
    rows = _rows(response)
    assert len(rows) == 1 and rows[0].group_size == 9
    assert rows[0].get_severity_display() == "Critical"
    html = response.content.decode()
    assert "Amazon app secret expired" in html and "×9 flows: Test Seller" in html
    from amazonsync.runs import flow_label

    shown = ", ".join(flow_label(f) for f in ("orders", "returns", "settlements"))
    assert f"Test Seller: {shown}" in html  # flows in words


def test_a_failed_flow_stays_apart_from_another_flow_failing(account):
    one = services.exception_record(
        flow="orders", object_kind="flow", object_key=f"{account.selling_partner_id}/-",
        reason_code="flow_failed", message="boom", owner_team="ops", account=account)
    two = services.exception_record(
        flow="returns", object_kind="flow", object_key=f"{account.selling_partner_id}/-",
        reason_code="flow_failed", message="boom", owner_team="ops", account=account)
    assert one.group_key != two.group_key


def test_groups_follow_the_filters_and_the_status(client, superuser, account):
    rows = [_unmapped(account, code, "ABC-1") for code in MARKETS]
    services.exceptions_resolve(exception_ids=[rows[0].pk], user=superuser, note="fixed")
    client.force_login(superuser)
    active = _rows(client.get(QUEUE))  # "needs work" by default
    assert [r.group_size for r in active] == [4]
    everything = _rows(client.get(QUEUE + "?state=all"))
    assert sorted((r.status, r.group_size) for r in everything) == [("open", 4),
                                                                     ("resolved", 1)]
    named = _rows(client.get(QUEUE + "?status__exact=resolved"))  # older links still work
    assert [(r.status, r.group_size) for r in named] == [("resolved", 1)]
    de = Marketplace.objects.get(code="DE")
    only_de = _rows(client.get(QUEUE + f"?marketplace__id__exact={de.pk}"))
    assert [r.group_size for r in only_de] == [1]


def _many(account, start: int, n: int) -> None:
    for i in range(start, start + n):
        for code in ("US", "CA"):
            _unmapped(account, code, f"SKU-{i}")


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_queue_answers_in_the_same_number_of_queries_for_10_or_200_rows(
        client, superuser, account):
    client.force_login(superuser)
    _many(account, 0, 5)
    few = _queries(client, QUEUE)
    _many(account, 5, 100)
    assert SyncException.objects.count() == 210
    many = _queries(client, QUEUE + "?o=1")
    assert many == few
    assert _queries(client, QUEUE + "?state=all&severity__exact=normal") == few


def test_the_data_migration_fills_the_group_key_of_stored_rows(account):
    for code in ("US", "CA"):
        _unmapped(account, code, "ABC-1")
    SyncException.objects.update(group_key="")
    migration = importlib.import_module("amazonsync.migrations.0006_exception_queue")
    migration.fill_group_keys(django_apps, None)
    keys = set(SyncException.objects.values_list("group_key", flat=True))
    assert keys == {group_key(flow="catalog", object_kind="listing",
                              object_key=f"{account.selling_partner_id}/US/ABC-1",
                              reason_code="unmapped_sku",
                              account_key=account.selling_partner_id,
                              marketplace_keys=("US", "ATVPDKIKX0DER"))}
    assert keys == {"unmapped_sku|listing|catalog|ABC-1"}


def test_every_reason_the_code_records_has_words(settings):
    """Every reason code the apps record, as a literal or a named constant, has words."""
    import pathlib
    import re

    root = pathlib.Path(settings.BASE_DIR)
    literals = set()
    for app in ("amazonsync", "catalog", "orders", "returns", "settlements", "marketplaces"):
        for path in (root / app).rglob("*.py"):
            if "migrations" not in path.parts:
                literals |= set(re.findall(r'reason_code="([a-z0-9_]+)"', path.read_text()))
    assert literals, "no reason code found: the scan is broken"
    missing = sorted(code for code in literals if code not in REASONS)
    assert not missing, f"reasons without words: {missing}"
    for module, names in {
        "catalog.services.listings": ("UNMAPPED_SKU", "WAITING_ON_MAPPING"),
        "catalog.services.fba": ("CHANNEL_MISMATCH", "INBOUND_DISCREPANCY"),
        "catalog.services.push": ("QUANTITY_REJECTED", "PRICE_REJECTED", "FEED_FAILED"),
        "orders.services.reasons": ("UNKNOWN_MARKETPLACE", "BAD_ORDER", "UNKNOWN_CARRIER",
                                    "MISSING_TRACKING", "MISSING_ITEM_IDS", "AMAZON_REJECTED",
                                    "CONFIRM_ERROR"),
        "returns.services.common": ("BAD_ROW", "MARKETPLACE_UNKNOWN", "NO_RULE", "MFN_FOLLOW_UP",
                                    "MEMO_CHANGED"),
        "amazonsync.accounts": ("KEY_CHANGED",),
    }.items():
        imported = importlib.import_module(module)
        for name in names:
            code = getattr(imported, name)
            assert code in REASONS, f"{module}.{name} = {code!r} has no words"
    for code in ("account_inactive", "reauthorization_required", "lwa_secret_expired",
                 "auth_failed", "flow_failed"):  # account problems and the runner's own
        assert code in REASONS
    assert reason_label("unmapped_sku") == "SKU not mapped to an item"
    assert reason_label("lwa_secret_expired") == "Amazon app secret expired"
    assert reason_label("something_new") == "Something new"


def test_order_lines_waiting_for_one_sku_are_one_row_about_the_sku(client, superuser, account):
    for code, order in (("US", "111-1"), ("US", "111-2"), ("CA", "702-1"), ("CA", "702-2")):
        services.exception_record(
            flow="orders", object_kind="order_line", object_key=f"{order}/SBX-9",
            reason_code="waiting_on_mapping", message=f"Order {order}: SKU SBX-9 not mapped.",
            owner_team="merch", account=account,
            marketplace=Marketplace.objects.get(code=code), payload={"seller_sku": "SBX-9"})
    services.exception_record(
        flow="orders", object_kind="order_line", object_key="111-3/OTHER-1",
        reason_code="waiting_on_mapping", message="Order 111-3: SKU OTHER-1 not mapped.",
        owner_team="merch", account=account, marketplace=Marketplace.objects.get(code="US"),
        payload={"seller_sku": "OTHER-1"})
    client.force_login(superuser)
    response = client.get(QUEUE)
    rows = _rows(response)
    assert sorted(r.group_size for r in rows) == [1, 4]
    assert "4 order lines in 2 marketplaces: Amazon.com (US), Amazon.ca (CA)" in \
        response.content.decode()
