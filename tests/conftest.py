"""Shared fixtures: reference data, seller accounts and the three kinds of users."""

from __future__ import annotations

import datetime
import os

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

DB_FIXTURES = {"db", "transactional_db", "django_db_setup", "live_server"}


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hasher():
    """Users are created by the hundred in tests: hash their passwords with MD5, not PBKDF2
    (hundreds of thousands of rounds each). Production settings are untouched."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Marketplaces and groups come from data migrations; a transactional test's flush
    removes them, so put them back for every test that uses the database."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None and not DB_FIXTURES & set(request.fixturenames):
        yield
        return
    if marker is not None and marker.kwargs.get("transaction"):
        request.getfixturevalue("transactional_db")
    else:
        request.getfixturevalue("db")
    from marketplaces.services import reference_data_ensure

    reference_data_ensure()
    yield


@pytest.fixture
def account(db):
    from marketplaces.services import account_upsert

    return account_upsert(
        selling_partner_id="A1TESTSELLER",
        name="Test Seller",
        region="NA",
        lwa_client_id="amzn1.application-oa2-client.test",
        client_secret="test-client-secret-value",
        refresh_token="Atzr|test-refresh-token-value",
        rotated_on=timezone.localdate() - datetime.timedelta(days=10),
        api_base_url="https://sandbox.invalid",
        marketplace_codes=["US", "CA"],
    )


def _user(django_user_model, username: str, group: str | None = None, **extra):
    user = django_user_model.objects.create_user(
        username=username, password="pw-for-tests-123", is_staff=True, **extra
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def superuser(db, django_user_model):
    return _user(django_user_model, "root", is_superuser=True)


@pytest.fixture
def ops_user(db, django_user_model):
    return _user(django_user_model, "opsuser", "Ops")


@pytest.fixture
def accounting_user(db, django_user_model):
    return _user(django_user_model, "accountant1", "Accounting")


@pytest.fixture
def accounting_user2(db, django_user_model):
    return _user(django_user_model, "accountant2", "Accounting")
