"""The database guards the books on its own, whatever the writer: CHECK constraints on
every database; on PostgreSQL triggers against an approval that skips four eyes, a batch
inserted as approved, TRUNCATE, changes to the settlement lines and GL codes behind an
approved batch. Tried through the ORM and raw SQL. Also: the application's database
role cannot switch any of it off (run with DATABASE_APP_ROLE, as CI does)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from settlements.models import (
    GLAccount,
    JournalBatch,
    JournalLine,
    Settlement,
    SettlementLine,
)
from settlements.services import (
    SettlementError,
    gl_account_save,
    journal_batch_approve,
    journal_batch_mark_ready,
    journal_batches_export,
    settlement_import,
    settlement_reconcile,
)
from tests.settlements.settlement_samples import settlement_file

pytestmark = pytest.mark.django_db

on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL triggers and roles (set DATABASE_URL); SQLite relies on the services",
)


def do_import(account, data=None):
    return settlement_import(account=account, source=data or settlement_file(),
                             name="s.txt").settlement


def first_batch(settlement) -> JournalBatch:
    return settlement.journal_batches.order_by("period").first()


def approved(account, preparer, approver) -> JournalBatch:
    batch = first_batch(do_import(account))
    journal_batch_mark_ready(batch=batch, user=preparer)
    return journal_batch_approve(batch=batch, user=approver)


def refused(attempt, match="cannot|can not|four eyes|approved|permission denied"):
    with pytest.raises(DatabaseError, match=match), transaction.atomic():
        attempt()


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


# --------------------------------------------------------------------------- every database


def test_check_constraints_refuse_approval_by_the_preparer(account, accounting_user,
                                                          accounting_user2):
    batch = first_batch(do_import(account))
    journal_batch_mark_ready(batch=batch, user=accounting_user)  # last changed by user 1
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalBatch.objects.filter(pk=batch.pk).update(
            status="approved", approved_by=accounting_user, approved_at=timezone.now()
        )
    JournalBatch.objects.filter(pk=batch.pk).update(prepared_by=accounting_user2)
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalBatch.objects.filter(pk=batch.pk).update(
            status="approved", approved_by=accounting_user2, approved_at=timezone.now()
        )
    batch.refresh_from_db()
    assert batch.status == "ready" and batch.approved_by is None


def test_an_adjustment_line_needs_an_explanation(account, accounting_user):
    batch = first_batch(do_import(account))
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalLine.objects.create(
            batch=batch, gl_account=GLAccount.objects.get(code="4900"), role="adjustment",
            entry_date=batch.entry_date, credit=Decimal("1"), currency="EUR",
            recorded_by=accounting_user,
        )


def test_gl_code_of_an_approved_batch_is_pinned_and_reexport_is_identical(
    account, accounting_user, accounting_user2, client
):
    batch = approved(account, accounting_user, accounting_user2)
    first = journal_batches_export(batches=[batch], user=accounting_user)
    sales = GLAccount.objects.get(code="4000")
    sales.code = "4000-NEW"
    with pytest.raises(SettlementError, match="used by approved journal batch"):
        gl_account_save(account=sales, user=accounting_user)
    assert GLAccount.objects.filter(code="4000").exists()
    unused = GLAccount.objects.create(code="4999", name="Unused", type="income")
    unused.code = "4998"
    gl_account_save(account=unused)  # an account no approved batch uses can be renamed
    # the admin shows the pinned code read-only
    client.force_login(accounting_user)
    page = client.get(reverse("admin:settlements_glaccount_change", args=[sales.pk]))
    assert page.status_code == 200 and b'name="code"' not in page.content
    page = client.get(reverse("admin:settlements_glaccount_change", args=[unused.pk]))
    assert b'name="code"' in page.content
    again = journal_batches_export(batches=[batch], user=accounting_user2)
    assert again.encode() == first.encode()


# --------------------------------------------------------------------------- PostgreSQL


@on_postgres
def test_postgres_refuses_approval_outside_the_four_eyes_rules(
    account, accounting_user, accounting_user2, ops_user
):
    batch = first_batch(do_import(account))
    now = timezone.now()
    # straight from draft, by someone else: not ready for approval
    refused(lambda: JournalBatch.objects.filter(pk=batch.pk).update(
        status="approved", approved_by=accounting_user2, approved_at=now), "ready")
    journal_batch_mark_ready(batch=batch, user=accounting_user)
    # by someone outside Accounting
    refused(lambda: JournalBatch.objects.filter(pk=batch.pk).update(
        status="approved", approved_by=ops_user, approved_at=now), "Accounting")
    # by the preparer, in raw SQL (the CHECK or the trigger, whichever comes first)
    refused(lambda: sql(
        "UPDATE settlements_journalbatch SET status = 'approved', approved_by_id = %s, "
        "approved_at = now() WHERE id = %s", [accounting_user.pk, batch.pk]),
        "four eyes|approver_not")
    # exported without approval
    refused(lambda: JournalBatch.objects.filter(pk=batch.pk).update(
        status="exported", exported_at=now), "approved")
    batch.refresh_from_db()
    assert batch.status == "ready"
    journal_batch_approve(batch=batch, user=accounting_user2)  # the right way still works


@on_postgres
def test_postgres_refuses_a_batch_inserted_as_approved(account, accounting_user,
                                                       accounting_user2):
    s = do_import(account)
    model = first_batch(s)
    for status in ("ready", "approved", "exported"):
        refused(lambda status=status: JournalBatch.objects.create(
            settlement=s, period=date(2024, 3, 1), currency="EUR", status=status,
            entry_date=date(2024, 2, 8), reference=f"FORGED-{status}",
            prepared_by=accounting_user, approved_by=accounting_user2,
            approved_at=timezone.now()), "created as a draft|cannot be created")
    refused(lambda: sql(
        "INSERT INTO settlements_journalbatch (settlement_id, period, kind, generation, "
        "status, currency, entry_date, reference, unmapped_lines, debit_total, credit_total,"
        " approved_by_id, approved_at, created_at) VALUES (%s, '2024-03-01', 'journal', 1, "
        "'approved', 'EUR', '2024-02-08', 'FORGED', 0, 0, 0, %s, now(), now())",
        [s.pk, accounting_user2.pk]), "cannot be created")
    assert JournalBatch.objects.filter(settlement=s).count() == 2
    assert model.status == "draft"


@on_postgres
def test_postgres_refuses_ready_or_approval_with_drift_or_odd_dates(account,
                                                                    accounting_user):
    s = do_import(account, settlement_file(total="999.99"))
    batch = first_batch(s)
    refused(lambda: sql(
        "UPDATE settlements_journalbatch SET status = 'ready', last_changed_by_id = %s "
        "WHERE id = %s", [accounting_user.pk, batch.pk]), "unexplained drift of 908.46")

    clean = do_import(account, settlement_file(settlement_id="99887766554"))
    feb = clean.journal_batches.order_by("period").last()
    refused(lambda: JournalBatch.objects.filter(pk=feb.pk).update(
        status="ready", entry_date=date(9999, 12, 1)), "outside the period")

    def year_one_lines_then_ready():
        JournalLine.objects.filter(batch=feb).update(entry_date=date(1, 1, 1))
        JournalBatch.objects.filter(pk=feb.pk).update(status="ready")

    refused(year_one_lines_then_ready, "outside its period")
    JournalBatch.objects.filter(pk=feb.pk).update(status="ready")  # as built: fine


@on_postgres
def test_postgres_refuses_truncate_of_journal_and_settlement_tables(
    account, accounting_user, accounting_user2
):
    batch = approved(account, accounting_user, accounting_user2)
    tables = ("settlements_journalline", "settlements_journalbatch",
              "settlements_settlementline", "settlements_settlement")
    sql("SET CONSTRAINTS ALL IMMEDIATE")  # the test's pending balance checks run now
    for table in tables:
        refused(lambda table=table: sql(f"TRUNCATE {table} CASCADE"),
                "cannot be truncated|permission denied")
    assert batch.lines.exists() and SettlementLine.objects.exists()
    if _session_is_superuser():
        # the trigger itself, not only the application role's missing privilege
        for table in tables:
            with pytest.raises(DatabaseError, match="cannot be truncated"), \
                    transaction.atomic():
                sql("SET CONSTRAINTS ALL IMMEDIATE")  # no pending balance checks
                sql("SET LOCAL ROLE NONE")
                sql(f"TRUNCATE {table} CASCADE")


@on_postgres
def test_postgres_pins_the_settlement_lines_behind_an_approved_batch(
    account, accounting_user, accounting_user2
):
    other = do_import(account, settlement_file(settlement_id="99887766554"))
    batch = approved(account, accounting_user, accounting_user2)
    s = batch.settlement
    line = s.lines.first()
    attempts = [
        lambda: SettlementLine.objects.filter(pk=line.pk).update(amount=Decimal("1")),
        lambda: SettlementLine.objects.filter(settlement=s).delete(),
        lambda: sql("UPDATE settlements_settlementline SET settlement_id = %s WHERE id = %s",
                    [other.pk, line.pk]),
        lambda: sql("DELETE FROM settlements_settlementline WHERE settlement_id = %s",
                    [s.pk]),
        lambda: Settlement.objects.filter(pk=s.pk).update(total_amount=Decimal("1")),
        lambda: sql("DELETE FROM settlements_settlement WHERE id = %s", [s.pk]),
    ]
    for attempt in attempts:
        refused(attempt, "cannot be changed|cannot be deleted|violates foreign key")
    assert s.lines.count() == s.line_count
    settlement_reconcile(settlement=s)  # its reconciliation figures still update
    # a settlement with no approved batch is not pinned
    with transaction.atomic():
        SettlementLine.objects.filter(settlement=other).update(amount=Decimal("1"))
        transaction.set_rollback(True)


@on_postgres
def test_postgres_pins_the_gl_codes_of_an_approved_batch(account, accounting_user,
                                                        accounting_user2):
    batch = approved(account, accounting_user, accounting_user2)
    first = journal_batches_export(batches=[batch], user=accounting_user)
    used = GLAccount.objects.get(code="4000")
    refused(lambda: GLAccount.objects.filter(pk=used.pk).update(code="=HYPERLINK(1)"),
            "cannot be renamed")
    refused(lambda: sql("UPDATE settlements_glaccount SET code = 'X' WHERE id = %s",
                        [used.pk]), "cannot be renamed")
    refused(lambda: sql("DELETE FROM settlements_glaccount WHERE id = %s", [used.pk]),
            "cannot be deleted")
    GLAccount.objects.filter(pk=used.pk).update(name="Sales renamed")  # the name may change
    unused = GLAccount.objects.create(code="4999", name="Unused", type="income")
    GLAccount.objects.filter(pk=unused.pk).update(code="4998")
    assert journal_batches_export(batches=[batch], user=accounting_user).encode() == (
        first.encode()
    )


# --------------------------------------------------------------------------- roles


def _session_is_superuser() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = session_user")
        return bool(cursor.fetchone()[0])


app_role = pytest.mark.skipif(
    connection.vendor != "postgresql" or not getattr(settings, "DATABASE_APP_ROLE", ""),
    reason="runs as the application role: set DATABASE_APP_ROLE (CI does, see .ci/run)",
)


@app_role
def test_the_application_role_is_no_superuser_and_owns_nothing():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls "
            "FROM pg_roles WHERE rolname = current_user"
        )
        user, superuser, createrole, createdb, bypassrls = cursor.fetchone()
        assert user == settings.DATABASE_APP_ROLE
        assert not (superuser or createrole or createdb or bypassrls)
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND pg_has_role(current_user, c.relowner, 'USAGE')"
        )
        assert cursor.fetchone()[0] == 0  # owns (or inherits) no table, so no trigger
        cursor.execute(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' AND pg_has_role(current_user, p.proowner, 'USAGE')"
        )
        assert cursor.fetchone()[0] == 0


@app_role
@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE settlements_journalline DISABLE TRIGGER ALL",
        "ALTER TABLE settlements_journalbatch DISABLE TRIGGER settlements_journalbatch_guard",
        "DROP TRIGGER settlements_journalbatch_rules ON settlements_journalbatch",
        "CREATE OR REPLACE FUNCTION settlements_refuse_truncate() RETURNS trigger AS "
        "$$ BEGIN RETURN NULL; END; $$ LANGUAGE plpgsql",
        "TRUNCATE settlements_journalline",
        "TRUNCATE settlements_journalbatch CASCADE",
        "SET session_replication_role = replica",
        "ALTER ROLE CURRENT_USER SUPERUSER",
    ],
)
def test_the_application_role_cannot_switch_the_guards_off(account, statement):
    do_import(account)
    with pytest.raises(DatabaseError, match="must be owner|permission denied|must be superuser"), \
            transaction.atomic():
        sql(statement)
    assert JournalLine.objects.exists()
