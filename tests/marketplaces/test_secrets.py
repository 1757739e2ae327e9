"""Secrets: encrypted at rest, write-only in the admin, absent from history and logs."""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from django.urls import reverse

from amazonsync.crypto import redact_shapes
from marketplaces.models import SellerAccount
from marketplaces.services import account_set_credentials

SECRET = "test-client-secret-value"
TOKEN = "Atzr|test-refresh-token-value"


def _raw(account, column):
    with connection.cursor() as cur:
        cur.execute(f"SELECT {column} FROM marketplaces_selleraccount WHERE id = %s",
                    [account.pk])
        return cur.fetchone()[0]


def test_secrets_are_encrypted_at_rest_and_round_trip(account):
    raw_token = _raw(account, "refresh_token")
    raw_secret = _raw(account, "lwa_client_secret")
    assert TOKEN not in raw_token and "test-refresh-token" not in raw_token
    assert SECRET not in raw_secret
    assert raw_token.startswith("fernet:")
    fresh = SellerAccount.objects.get(pk=account.pk)
    assert fresh.refresh_token == TOKEN
    assert fresh.lwa_client_secret == SECRET

    account_set_credentials(account=account, refresh_token="Atzr|second-token")
    fresh = SellerAccount.objects.get(pk=account.pk)
    assert fresh.refresh_token == "Atzr|second-token"
    assert "second-token" not in _raw(account, "refresh_token")


def test_history_never_holds_secrets(account):
    history_model = SellerAccount.history.model
    columns = {f.name for f in history_model._meta.fields}
    assert "refresh_token" not in columns
    assert "lwa_client_secret" not in columns
    assert "access_token" not in columns
    assert account.history.count() >= 1


@pytest.mark.parametrize("page", ["changelist", "change", "history"])
def test_no_admin_page_renders_a_secret(client, superuser, account, page):
    SellerAccount.objects.filter(pk=account.pk).update(access_token="")
    account_set_credentials(account=account, client_secret=SECRET)  # also sets access none
    client.force_login(superuser)
    if page == "changelist":
        url = reverse("admin:marketplaces_selleraccount_changelist")
    else:
        url = reverse(f"admin:marketplaces_selleraccount_{page}", args=[account.pk])
    html = client.get(url).content.decode()
    assert "Test Seller" in html
    for secret in (SECRET, TOKEN, "test-refresh-token-value", _raw(account, "refresh_token")):
        assert secret not in html


def test_admin_form_writes_secrets_without_showing_them(client, superuser, account):
    client.force_login(superuser)
    url = reverse("admin:marketplaces_selleraccount_change", args=[account.pk])
    data = {
        "selling_partner_id": account.selling_partner_id,
        "name": "Renamed Seller",
        "region": "NA",
        "active": "on",
        "lwa_client_id": account.lwa_client_id,
        "client_secret_rotated_on": "",
        "api_base_url": "",
        "token_url": "",
        "orders_api_version": "v0",
        "new_client_secret": "",
        "new_refresh_token": "Atzr|pasted-after-reauth",
        "account_marketplaces-TOTAL_FORMS": "0",
        "account_marketplaces-INITIAL_FORMS": "0",
        "account_marketplaces-MIN_NUM_FORMS": "0",
        "account_marketplaces-MAX_NUM_FORMS": "1000",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    fresh = SellerAccount.objects.get(pk=account.pk)
    assert fresh.name == "Renamed Seller"
    assert fresh.refresh_token == "Atzr|pasted-after-reauth"
    assert fresh.lwa_client_secret == SECRET  # empty field kept the stored secret
    html = client.get(url).content.decode()
    assert "pasted-after-reauth" not in html


def test_logs_never_carry_tokens(caplog):
    assert "Atzr" not in redact_shapes("refresh with Atzr|abc.def-ghi and more")
    assert "s3cr3t" not in redact_shapes("client_secret=s3cr3t&grant_type=refresh_token")
    assert "tok" not in redact_shapes('{"access_token": "tok"}').replace("access_token", "")
    logger = logging.getLogger("amazonsync.test")
    from amazonsync.logging import RedactSecretsFilter

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", ("Atza|live",), None)
    RedactSecretsFilter().filter(record)
    assert "Atza|live" not in record.getMessage()
    assert logger  # the filter is configured on the console handler in settings


def test_secret_expiry_warning_in_admin(client, superuser, account):
    import datetime

    from django.utils import timezone

    SellerAccount.objects.filter(pk=account.pk).update(
        client_secret_rotated_on=timezone.localdate() - datetime.timedelta(days=165)
    )
    client.force_login(superuser)
    html = client.get(reverse("admin:marketplaces_selleraccount_changelist")).content.decode()
    assert "in 15 days" in html
    html = client.get(
        reverse("admin:marketplaces_selleraccount_change", args=[account.pk])
    ).content.decode()
    assert "expires in 15 days" in html
