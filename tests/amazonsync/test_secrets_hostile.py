"""Secrets under hostile conditions: an LWA error that echoes the request stores, shows and
logs no secret; a malformed FIELD_ENCRYPTION_KEY stops start-up (and ``check --deploy``); a
key that changed refuses the runs with a critical exception in plain words, never a crash."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import responses
from cryptography.fernet import Fernet
from django.core.checks import run_checks
from django.test import override_settings
from django.urls import reverse

from amazonsync import services
from amazonsync.crypto import UndecryptableSecret, redact_secrets
from amazonsync.flows import register_flow, unregister_flow
from amazonsync.logging import RedactSecretsFilter
from amazonsync.models import ApiCall, SyncException, SyncRun
from amazonsync.spapi.operations import LWA_TOKEN_URL
from marketplaces.models import SellerAccount
from marketplaces.services import account_set_credentials

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-client-secret-value"  # the conftest account's credentials
TOKEN = "Atzr|test-refresh-token-value"
US = "ATVPDKIKX0DER"

pytestmark = pytest.mark.django_db


def _spellings(value: str) -> list[str]:
    lower_hex = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(value, safe=""))
    return [value, quote(value, safe=""), quote_plus(value), lower_hex]


def _leaks(text: str) -> list[str]:
    return [s for v in (SECRET, TOKEN, "test-refresh-token-value") for s in _spellings(v)
            if s in text]


@pytest.fixture
def flow():
    names = []

    def make(name, func):
        register_flow(name, switch="orders")(func)
        names.append(name)
        return name

    yield make
    for name in names:
        unregister_flow(name)


@pytest.fixture
def filtered_log():
    """What the console handler of the settings would print (with its redaction filter)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


ECHO = (f"Invalid request: grant_type=refresh_token&refresh_token={quote_plus(TOKEN)}"
        f"&client_id=amzn1.application-oa2-client.test&client_secret={SECRET} "
        f'(body {{"refresh_token": "{TOKEN}", "client_secret": "{SECRET}"}})')


def test_lwa_error_echoing_the_request_leaves_no_secret_anywhere(
    account, flow, client, ops_user, superuser, filtered_log
):
    def uses_amazon(ctx):
        ctx.client.get_order("111-1")

    name = flow("t_lwa_echo", uses_amazon)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, LWA_TOKEN_URL, status=400,
                 json={"error": "invalid_grant", "error_description": ECHO})
        run = services.flow_run(flow=name, account_id=account.pk, marketplace_id=US)

    account.refresh_from_db()
    assert account.needs_reauthorization and "invalid_grant" in account.reauthorization_reason
    assert "[redacted]" in account.reauthorization_reason
    exc = SyncException.objects.get(reason_code="reauthorization_required")
    run.refresh_from_db()
    stored = [account.reauthorization_reason, exc.message, run.error, str(exc.payload),
              *ApiCall.objects.values_list("error", flat=True)]
    assert not [leak for text in stored for leak in _leaks(text)], stored
    assert not _leaks(filtered_log.getvalue())

    # what ops (and a superuser) see
    for user in (ops_user, superuser):
        client.force_login(user)
        for url in (
            reverse("admin:marketplaces_selleraccount_change", args=[account.pk]),
            reverse("admin:amazonsync_syncexception_changelist"),
            reverse("admin:amazonsync_syncexception_change", args=[exc.pk]),
            reverse("admin:amazonsync_syncrun_change", args=[run.pk]),
        ):
            response = client.get(url)
            assert response.status_code == 200, url
            assert not _leaks(response.content.decode()), url


def test_rows_stored_before_redaction_are_shown_redacted(account, client, ops_user):
    exc = services.exception_record(
        flow="orders", object_kind="seller_account", object_key=account.selling_partner_id,
        reason_code="auth_failed", message="x", owner_team="ops", account=account,
    )
    SyncException.objects.filter(pk=exc.pk).update(message=f"old text {ECHO}",
                                                    payload={"echo": ECHO})
    SellerAccount.objects.filter(pk=account.pk).update(reauthorization_reason=ECHO)
    client.force_login(ops_user)
    for url in (reverse("admin:amazonsync_syncexception_change", args=[exc.pk]),
                reverse("admin:amazonsync_syncexception_changelist"),
                reverse("admin:marketplaces_selleraccount_change", args=[account.pk])):
        html = client.get(url).content.decode()
        assert not _leaks(html), url


def test_redaction_finds_every_stored_secret_in_any_spelling(account):
    fresh = SellerAccount.objects.get(pk=account.pk)  # reading the row remembers them
    assert fresh.refresh_token == TOKEN
    for spelling in _spellings(TOKEN) + _spellings(SECRET) + ['Atzr|test-refresh-token-value']:
        assert redact_secrets(f"before {spelling} after") == "before [redacted] after"
    assert redact_secrets("nothing secret here: order 111-1") == \
        "nothing secret here: order 111-1"
    # a secret given explicitly, never stored
    assert "hunter22-long" not in redact_secrets("pw hunter22-long", secrets=["hunter22-long"])


# --- the key --------------------------------------------------------------------------


@pytest.mark.parametrize("key", [
    # a valid key followed by a bad one (fixed, so every test process collects the same ids)
    "notakey", "bm90YWtleQ==", ",", " ", "wdbxD30Zb23FN_sPJtLGrMi3ycsmE2MNpolwUzJqorI=,notakey",
    "notakey" * 6 + "no==",
])
def test_a_malformed_key_is_a_system_check_error(key):
    with override_settings(FIELD_ENCRYPTION_KEY=key):
        errors = [e for e in run_checks() if e.id == "amazonsync.E001"]
    assert len(errors) == 1 and errors[0].is_serious()
    assert "FIELD_ENCRYPTION_KEY" in errors[0].msg


def test_good_keys_pass_the_check():
    keys = f"{Fernet.generate_key().decode()}, {Fernet.generate_key().decode()},"
    with override_settings(FIELD_ENCRYPTION_KEY=keys):
        assert not [e for e in run_checks() if e.id == "amazonsync.E001"]


def test_check_deploy_refuses_a_malformed_key(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in {"DEBUG", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(
        DEBUG="0", FIELD_ENCRYPTION_KEY="notakey", ALLOWED_HOSTS="backoffice.example.com",
        SECRET_KEY="x" * 20 + "-production-secret-key-with-enough-entropy-7f3a9c1e",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
    )
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "amazonsync.E001" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_a_changed_key_refuses_the_run_with_a_critical_exception(account, flow, client,
                                                                  superuser):
    called = []
    name = flow("t_key_changed", lambda ctx: called.append(1))
    other_key = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEY=other_key):
        run = services.flow_run(flow=name, account_id=account.pk, marketplace_id=US)
        assert run.status == SyncRun.Status.REFUSED and called == []
        exc = SyncException.objects.get(reason_code="encryption_key_changed")
        assert exc.severity == "critical" and exc.owner_team == "ops"
        assert "encryption key" in exc.message and "Re-enter" in exc.message
        assert "restore the previous key" in exc.message
        assert "cannot be read" in run.error

        # the account page still opens, says what happened, and a plain save keeps the
        # stored (old-key) secrets as they were
        client.force_login(superuser)
        url = reverse("admin:marketplaces_selleraccount_change", args=[account.pk])
        page = client.get(url)
        assert page.status_code == 200
        assert "encryption key changed" in page.content.decode()
        unread = SellerAccount.objects.get(pk=account.pk)
        assert isinstance(unread.refresh_token, UndecryptableSecret)
        unread.name = "Renamed while the key is wrong"
        unread.save()

    # the old key back: the secrets were kept
    assert SellerAccount.objects.get(pk=account.pk).refresh_token == TOKEN

    # or the credentials entered again under the new key: resolved, runs go on
    with override_settings(FIELD_ENCRYPTION_KEY=other_key):
        account_set_credentials(account=SellerAccount.objects.get(pk=account.pk),
                                client_secret="new-secret-under-new-key",
                                refresh_token="Atzr|new-token-under-new-key")
        exc.refresh_from_db()
        assert exc.status == SyncException.Status.RESOLVED
        run = services.flow_run(flow=name, account_id=account.pk, marketplace_id=US)
        assert run.status == SyncRun.Status.SUCCEEDED and called == [1]
