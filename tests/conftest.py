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


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """With DATABASE_APP_ROLE (PostgreSQL) the test database is created and migrated as the
    owner, the login of DATABASE_URL, as a deployment migrates; ``django_db_setup`` then
    grants the application role its rights and every test runs as that role."""
    from amazonsync.dbroles import app_role_suspend

    app_role_suspend()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.conf import settings

    from amazonsync.dbroles import app_role_grant, app_role_resume, app_role_suspend

    role = getattr(settings, "DATABASE_APP_ROLE", "")
    if role:
        with django_db_blocker.unblock():
            app_role_grant(role)
            app_role_resume(role)
    yield
    if role:
        app_role_suspend()  # the owner drops the test database


@pytest.fixture(autouse=True, scope="session")
def _flush_as_owner():
    """A transactional test ends with a flush: TRUNCATE of every table. On PostgreSQL the
    journal and settlement tables refuse TRUNCATE (a trigger) and the application role may
    not truncate at all, so the harness flushes as the session's login (a superuser) with
    triggers off, then switches back."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with self.connection.cursor() as cursor:
            cursor.execute("SET ROLE NONE")
            cursor.execute("SET session_replication_role = replica")
        try:
            original(self, sql_list)
        finally:
            with self.connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = origin")
                cursor.execute("RESET ROLE")

    DatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    DatabaseOperations.execute_sql_flush = original


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
    from amazonsync.reference_data import reference_data_ensure

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
