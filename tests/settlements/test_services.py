"""Import, GL mapping, period journals, four-eyes approval, immutability, export,
reversal and reconciliation, against the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Sum

from amazonsync.flatfiles.reading import ReportFormatError
from amazonsync.models import SyncException
from amazonsync.services import exceptions_retry
from settlements import services
from settlements.models import (
    GLAccount,
    GLMapping,
    JournalBatch,
    JournalLine,
    Settlement,
    SettlementLine,
)
from settlements.selectors import journal_summary
from settlements.services import (
    FourEyesViolation,
    ImmutableBatch,
    SettlementError,
    journal_batch_approve,
    journal_batch_delete,
    journal_batch_mark_ready,
    journal_batch_return_to_draft,
    journal_batch_reverse,
    journal_batches_export,
    settlement_import,
    settlement_journal_build,
    settlement_record_deposit,
)
from tests.settlements.settlement_samples import (
    COLUMNS,
    DEFAULT_LINES,
    SETTLEMENT_ID,
    make_rows,
    render,
    settlement_file,
)

pytestmark = pytest.mark.django_db

on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL triggers (set DATABASE_URL)"
)


def do_import(account, data=None, name="settlement.txt", **kw):
    source = settlement_file() if data is None else data
    return settlement_import(account=account, source=source, name=name, **kw)


def net_of(batches, role=JournalLine.Role.LINE):
    agg = JournalLine.objects.filter(batch__in=batches, role=role).aggregate(
        c=Sum("credit"), d=Sum("debit")
    )
    return (agg["c"] or 0) - (agg["d"] or 0)


def ready_and_approve(batch, preparer, approver):
    journal_batch_mark_ready(batch=batch, user=preparer)
    return journal_batch_approve(batch=batch, user=approver)


# --------------------------------------------------------------------------- import


def test_import_stores_every_column_and_balanced_period_batches(account):
    result = do_import(account)
    s = result.settlement
    assert result.created
    assert s.settlement_id == SETTLEMENT_ID
    assert s.total_amount == Decimal("91.53") and s.currency == "EUR"
    assert s.line_count == len(DEFAULT_LINES) == s.lines.count()
    assert s.sum_of_lines == s.total_amount
    assert s.internal_drift == 0 and s.journal_drift == 0 and not s.has_drift
    assert s.marketplace.code == "DE"
    line = s.lines.get(line_number=3)
    assert line.order_item_code == "00012345678901"
    assert line.quantity_purchased == 2
    assert line.posted_date == date(2024, 1, 30)
    promo = s.lines.get(amount_type="Promotion")
    assert promo.promotion_id == "Core Free Shipping 2024 01"

    batches = list(s.journal_batches.order_by("period"))
    assert [b.period for b in batches] == [date(2024, 1, 1), date(2024, 2, 1)]
    for b in batches:
        assert b.status == JournalBatch.Status.DRAFT
        totals = b.lines.aggregate(d=Sum("debit"), c=Sum("credit"))
        assert totals["d"] == totals["c"] == b.debit_total == b.credit_total
    # January: order 1 + previous reserve; February: the rest.
    jan = Decimal("100.00") + Decimal("19.00") + Decimal("4.99") - Decimal("15.75") - Decimal(
        "3.22") - Decimal("4.99") + Decimal("30.00")
    assert net_of([batches[0]]) == jan
    assert net_of(batches) == s.total_amount  # the batches add up to the total exactly
    deposit = JournalLine.objects.get(
        batch__in=batches, role=JournalLine.Role.DEPOSIT, gl_account__role="bank_clearing"
    )
    assert deposit.debit == Decimal("91.53") and deposit.entry_date == date(2024, 2, 10)
    clearing = JournalLine.objects.filter(
        batch__in=batches, gl_account__role="amazon_clearing"
    ).aggregate(d=Sum("debit"), c=Sum("credit"))
    assert clearing["d"] == clearing["c"]  # the clearing account nets to zero


def test_lines_map_to_the_default_chart(account):
    s = do_import(account).settlement
    by_code = dict(
        JournalLine.objects.filter(batch__settlement=s, role="line")
        .values_list("gl_account__code")
        .annotate(net=Sum("credit") - Sum("debit"))
    )
    assert by_code["4000"] == Decimal("150.00")  # principal
    assert by_code["2200"] == Decimal("19.00")  # tax
    assert by_code["5000"] == Decimal("-20.25")  # commissions incl. refunded commission
    assert by_code["5010"] == Decimal("-3.22")  # FBA fee
    assert by_code["1210"] == Decimal("5.00")  # reserve released 30, held 25
    assert by_code["5040"] == Decimal("-39.00")  # subscription
    assert by_code["4100"] == Decimal("-20.00")  # refund


def test_extra_columns_are_stored(account):
    columns = [*COLUMNS, "fulfillment-center-id"]
    rows = make_rows()
    rows[1]["fulfillment-center-id"] = "LEJ1"
    s = do_import(account, render(rows, columns=columns)).settlement
    assert s.lines.get(line_number=3).extra == {"fulfillment-center-id": "LEJ1"}
    assert "fulfillment-center-id" in s.columns


def test_same_file_again_changes_nothing(account):
    first = do_import(account)
    lines_before = SettlementLine.objects.count()
    batches_before = list(JournalBatch.objects.values_list("pk", "debit_total"))
    again = do_import(account, settlement_file(gzip=True, newline="\r\n"), name="again.gz")
    assert not again.created and not again.conflict
    assert again.settlement.pk == first.settlement.pk
    assert SettlementLine.objects.count() == lines_before
    assert list(JournalBatch.objects.values_list("pk", "debit_total")) == batches_before
    assert not SyncException.objects.exists()


def test_reissued_settlement_with_different_lines_is_a_conflict(account):
    first = do_import(account).settlement
    lines = [dict(x) for x in DEFAULT_LINES]
    lines[0]["amount"] = "101.00"
    result = do_import(account, settlement_file(lines), name="reissued.txt")
    assert result.conflict and not result.created
    exc = SyncException.objects.get(reason_code="reissued_conflict")
    assert exc.owner_team == "finance" and exc.object_kind == "settlement"
    assert SETTLEMENT_ID in exc.message and "reissued.txt" in exc.message
    first.refresh_from_db()
    assert first.total_amount == Decimal("91.53")
    assert first.lines.get(line_number=3).amount == Decimal("100.00")


def test_same_settlement_id_for_another_account_is_separate(account):
    from marketplaces.services import account_upsert

    other = account_upsert(selling_partner_id="A2OTHER", name="Other", region="EU")
    do_import(account)
    assert do_import(other).created
    assert Settlement.objects.count() == 2


def test_a_file_that_fails_late_stores_nothing(account):
    lines = [dict(x) for x in DEFAULT_LINES * 50]
    lines[-1] = dict(lines[-1], amount="oops")
    data = settlement_file(lines, total="1.00")
    with pytest.raises(ReportFormatError, match="amount"):
        do_import(account, data)
    assert not Settlement.objects.exists() and not SettlementLine.objects.exists()
    assert not JournalBatch.objects.exists()


def test_truncated_gzip_stores_nothing(account):
    data = settlement_file(DEFAULT_LINES * 3000, gzip=True)
    with pytest.raises(ReportFormatError, match="truncated"):
        do_import(account, data[: len(data) - 50])
    assert not Settlement.objects.exists() and not SettlementLine.objects.exists()


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (render([]), "no data rows"),
        (settlement_file(columns=[c for c in COLUMNS if c != "amount"]), "'amount'"),
        (render(make_rows()[1:]), "no settlement summary"),
    ],
)
def test_bad_files_store_nothing(account, data, message):
    with pytest.raises(ReportFormatError, match=message):
        do_import(account, data)
    assert not Settlement.objects.exists()


def test_eu_file(account):
    lines = [
        dict(DEFAULT_LINES[0], amount="1.234,56", **{"posted-date": "30.01.2024"}),
        dict(DEFAULT_LINES[3], amount="-234,56", **{"posted-date": "31.01.2024"}),
    ]
    data = settlement_file(lines, total="1.000,00", start="15.01.2024 08:00:00 UTC",
                           end="29.01.2024 08:00:00 UTC", deposit="31.01.2024")
    s = do_import(account, data).settlement
    assert s.total_amount == Decimal("1000.00") and s.internal_drift == 0
    assert net_of(s.journal_batches.all()) == Decimal("1000.00")


def test_negative_total_credits_the_bank(account):
    lines = [dict(DEFAULT_LINES[-1], amount="-39.00")]
    s = do_import(account, settlement_file(lines, total="-39.00")).settlement
    deposit = JournalLine.objects.get(batch__settlement=s, gl_account__role="bank_clearing")
    assert deposit.credit == Decimal("39.00") and deposit.debit == 0
    assert journal_summary(s)["balanced"]


def test_total_of_zero_has_no_deposit_line(account):
    lines = [dict(DEFAULT_LINES[0], amount="10.00"), dict(DEFAULT_LINES[3], amount="-10.00")]
    s = do_import(account, settlement_file(lines, total="0.00")).settlement
    assert not JournalLine.objects.filter(batch__settlement=s, role="deposit").exists()
    assert journal_summary(s)["balanced"]


def test_jpy_rounds_to_whole_yen(account):
    lines = [
        dict(DEFAULT_LINES[0], amount="1,234"),
        dict(DEFAULT_LINES[3], amount="-185"),
        dict(DEFAULT_LINES[4], amount="-100"),
    ]
    s = do_import(account, settlement_file(lines, total="949", currency="JPY",
                                           marketplace="Amazon.co.jp")).settlement
    assert s.marketplace.code == "JP"
    assert net_of(s.journal_batches.all()) == Decimal("949")
    for line in JournalLine.objects.filter(batch__settlement=s):
        assert line.debit == line.debit.to_integral_value()
        assert line.credit == line.credit.to_integral_value()
        assert line.currency == "JPY"


def test_rounding_keeps_batches_balanced(account):
    lines = [dict(DEFAULT_LINES[0], amount="10.005"), dict(DEFAULT_LINES[1], amount="0.004")]
    s = do_import(account, settlement_file(lines, total="10.009")).settlement
    for b in s.journal_batches.all():
        assert b.debit_total == b.credit_total
        for x in b.lines.all():
            assert x.debit == x.debit.quantize(Decimal("0.01"))
    assert s.journal_drift == Decimal("0.00")  # 10.009 - 10.01 rounds to 0.00


def test_internal_drift_is_flagged(account):
    s = do_import(account, settlement_file(total="95.00")).settlement
    assert s.internal_drift == Decimal("3.47")
    assert s.has_drift


# --------------------------------------------------------------------------- mapping


def test_unmapped_line_is_a_finance_exception_and_a_rule_plus_retry_clears_it(
    account, accounting_user
):
    lines = [*DEFAULT_LINES, {"transaction-type": "BrandNewThing", "amount-type": "Other",
                              "amount-description": "Mystery", "amount": "-1.50",
                              "posted-date": "2024-02-06"}]
    s = do_import(account, settlement_file(lines)).settlement
    assert s.unmapped_lines == 1 and s.has_drift
    assert s.journal_drift == Decimal("-1.50")
    exc = SyncException.objects.get(reason_code="unmapped_lines")
    assert exc.owner_team == "finance" and "BrandNewThing" in exc.message
    feb = s.journal_batches.get(period=date(2024, 2, 1))
    assert feb.unmapped_lines == 1 and feb.debit_total == feb.credit_total
    with pytest.raises(SettlementError, match="unmapped"):
        journal_batch_mark_ready(batch=feb, user=accounting_user)

    GLMapping.objects.create(
        transaction_type="BrandNewThing", gl_account=GLAccount.objects.get(code="5090")
    )
    outcome = exceptions_retry(exception_ids=[exc.pk])
    assert outcome.resolved == 1
    exc.refresh_from_db()
    s.refresh_from_db()
    feb.refresh_from_db()
    assert exc.status == SyncException.Status.RESOLVED
    assert s.unmapped_lines == 0 and feb.unmapped_lines == 0
    assert s.journal_drift == 0 and not s.has_drift
    assert net_of(s.journal_batches.all()) == s.total_amount
    journal_batch_mark_ready(batch=feb, user=accounting_user)


def test_most_specific_rule_wins(account):
    from marketplaces.models import Marketplace

    de = Marketplace.objects.get(code="DE")
    fees = GLAccount.objects.get(code="5000")
    special = GLAccount.objects.create(code="5999", name="Special", type="expense")
    special_de = GLAccount.objects.create(code="5998", name="Special DE", type="expense")
    resolve = services.glmapping_resolve
    # exact rule in the default chart beats the Order/ItemFees/* pattern
    assert resolve(transaction_type="Order", amount_type="ItemFees",
                   amount_description="Commission") == fees
    assert resolve(transaction_type="order", amount_type="itemfees",
                   amount_description="SomethingNew").code == "5000"
    GLMapping.objects.create(transaction_type="Order", amount_type="ItemFees",
                             amount_description="Comm*", pattern=True, gl_account=special)
    assert resolve(transaction_type="Order", amount_type="ItemFees",
                   amount_description="CommissionX") == special
    assert resolve(transaction_type="Order", amount_type="ItemFees",
                   amount_description="Commission") == fees  # exact still wins
    GLMapping.objects.create(transaction_type="Order", amount_type="ItemFees",
                             amount_description="Commission", marketplace=de,
                             gl_account=special_de)
    assert resolve(transaction_type="Order", amount_type="ItemFees",
                   amount_description="Commission", marketplace=de) == special_de
    assert resolve(transaction_type="Order", amount_type="ItemFees",
                   amount_description="Commission") == fees


def test_mapping_is_unique_per_scope(account):
    acct = GLAccount.objects.get(code="5000")
    with pytest.raises(IntegrityError), transaction.atomic():
        GLMapping.objects.create(transaction_type="Order", amount_type="ItemFees",
                                 amount_description="Commission", gl_account=acct)


# --------------------------------------------------------------------------- approval


def test_four_eyes(account, accounting_user, accounting_user2, ops_user, superuser):
    s = do_import(account).settlement
    batch = s.journal_batches.order_by("period").first()
    with pytest.raises(SettlementError, match="ready"):
        journal_batch_approve(batch=batch, user=accounting_user2)
    journal_batch_mark_ready(batch=batch, user=accounting_user)
    with pytest.raises(FourEyesViolation, match="four eyes"):
        journal_batch_approve(batch=batch, user=accounting_user)
    with pytest.raises(FourEyesViolation, match="Accounting"):
        journal_batch_approve(batch=batch, user=ops_user)
    with pytest.raises(FourEyesViolation, match="Accounting"):
        journal_batch_approve(batch=batch, user=superuser)
    batch = journal_batch_approve(batch=batch, user=accounting_user2)
    assert batch.status == "approved" and batch.approved_by == accounting_user2


def test_preparer_cannot_approve(account, accounting_user, accounting_user2):
    s = do_import(account).settlement
    batch = s.journal_batches.order_by("period").first()
    JournalBatch.objects.filter(pk=batch.pk).update(prepared_by=accounting_user2)
    journal_batch_mark_ready(batch=batch, user=accounting_user)
    with pytest.raises(FourEyesViolation):
        journal_batch_approve(batch=batch, user=accounting_user2)


def test_approved_batches_are_refused_by_the_services(account, accounting_user,
                                                      accounting_user2):
    s = do_import(account).settlement
    batch = ready_and_approve(s.journal_batches.order_by("period").first(), accounting_user,
                              accounting_user2)
    for call in (journal_batch_mark_ready, journal_batch_return_to_draft, journal_batch_delete):
        with pytest.raises(ImmutableBatch):
            call(batch=batch, user=accounting_user)
    lines_before = list(batch.lines.values_list("pk", "debit", "credit"))
    GLMapping.objects.filter(amount_description="Principal", transaction_type="Order").update(
        gl_account=GLAccount.objects.get(code="4900")
    )
    settlement_journal_build(settlement=s, user=accounting_user)
    assert list(batch.lines.values_list("pk", "debit", "credit")) == lines_before
    batch.refresh_from_db()
    assert batch.status == "approved"


def test_rebuilding_a_ready_batch_returns_it_to_draft(account, accounting_user):
    s = do_import(account).settlement
    batch = s.journal_batches.order_by("period").first()
    journal_batch_mark_ready(batch=batch, user=accounting_user)
    GLMapping.objects.filter(amount_description="Principal", transaction_type="Order").update(
        gl_account=GLAccount.objects.get(code="4900")
    )
    settlement_journal_build(settlement=s)
    batch.refresh_from_db()
    assert batch.status == "draft"


def test_export_csv_and_mark_exported(account, accounting_user, accounting_user2):
    s = do_import(account).settlement
    jan, feb = s.journal_batches.order_by("period")
    with pytest.raises(SettlementError, match="approved"):
        journal_batches_export(batches=[jan], user=accounting_user)
    ready_and_approve(jan, accounting_user, accounting_user2)
    text = journal_batches_export(batches=[jan], user=accounting_user)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["date", "account", "debit", "credit", "currency", "memo",
                             "reference"]
    debit = sum(Decimal(r["debit"] or "0") for r in rows)
    credit = sum(Decimal(r["credit"] or "0") for r in rows)
    assert debit == credit == jan.debit_total
    assert {r["reference"] for r in rows} == {f"AMZ-{SETTLEMENT_ID}-2024-01"}
    assert all(r["currency"] == "EUR" for r in rows)
    assert any(r["account"] == "4000" and r["credit"] == "100.00" for r in rows)
    jan.refresh_from_db()
    assert jan.status == "exported" and jan.exported_by == accounting_user
    again = journal_batches_export(batches=[jan], user=accounting_user2)
    assert again == text


def test_reversal_then_new_generation(account, accounting_user, accounting_user2):
    s = do_import(account).settlement
    jan = s.journal_batches.get(period=date(2024, 1, 1))
    ready_and_approve(jan, accounting_user, accounting_user2)
    journal_batches_export(batches=[jan], user=accounting_user)
    jan.refresh_from_db()
    reversal = journal_batch_reverse(batch=jan, user=accounting_user)
    assert reversal.kind == "reversal" and reversal.reverses == jan
    assert reversal.status == "draft" and reversal.prepared_by == accounting_user
    original = sorted(jan.lines.values_list("gl_account_id", "debit", "credit"))
    swapped = sorted(reversal.lines.values_list("gl_account_id", "credit", "debit"))
    assert original == swapped
    fresh = s.journal_batches.get(period=date(2024, 1, 1), kind="journal", generation=2)
    assert fresh.status == "draft" and fresh.reference.endswith("-G2")
    s.refresh_from_db()
    assert s.journal_drift == 0
    with pytest.raises(SettlementError, match="already reversed"):
        journal_batch_reverse(batch=jan, user=accounting_user)
    # the reversal needs four eyes too
    journal_batch_mark_ready(batch=reversal, user=accounting_user)
    with pytest.raises(FourEyesViolation):
        journal_batch_approve(batch=reversal, user=accounting_user)
    journal_batch_approve(batch=reversal, user=accounting_user2)


# --------------------------------------------------------------------------- database


@pytest.mark.parametrize(
    "debit, credit", [("-1.00", "0"), ("0", "-1.00"), ("0", "0"), ("1.00", "1.00")]
)
def test_journal_line_check_constraints(account, debit, credit):
    s = do_import(account).settlement
    batch = s.journal_batches.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalLine.objects.create(
            batch=batch, gl_account=GLAccount.objects.get(code="4000"),
            entry_date=date(2024, 1, 31), debit=Decimal(debit), credit=Decimal(credit),
            currency="EUR",
        )


def test_unique_settlement_per_account(account):
    s = do_import(account).settlement
    with pytest.raises(IntegrityError), transaction.atomic():
        Settlement.objects.create(
            account=account, settlement_id=s.settlement_id, start_date=s.start_date,
            end_date=s.end_date, total_amount=0, currency="EUR", imported_at=s.imported_at,
        )


@on_postgres
def test_postgres_refuses_update_and_delete_of_approved(account, accounting_user,
                                                        accounting_user2):
    s = do_import(account).settlement
    batch = ready_and_approve(s.journal_batches.order_by("period").first(), accounting_user,
                              accounting_user2)
    line = batch.lines.first()
    attempts = [
        lambda: JournalBatch.objects.filter(pk=batch.pk).update(reference="changed"),
        lambda: JournalBatch.objects.filter(pk=batch.pk).update(status="draft"),
        lambda: JournalBatch.objects.filter(pk=batch.pk).delete(),
        lambda: JournalLine.objects.filter(pk=line.pk).update(memo="changed"),
        lambda: JournalLine.objects.filter(pk=line.pk).delete(),
        lambda: JournalLine.objects.create(
            batch=batch, gl_account=line.gl_account, entry_date=line.entry_date,
            debit=Decimal("1"), currency="EUR"),
    ]
    for attempt in attempts:
        with pytest.raises(DatabaseError, match="cannot|can not"), transaction.atomic():
            attempt()
    # approved -> exported is the one change allowed
    journal_batches_export(batches=[batch], user=accounting_user)
    batch.refresh_from_db()
    assert batch.status == "exported"
    with pytest.raises(DatabaseError), transaction.atomic():
        JournalBatch.objects.filter(pk=batch.pk).update(status="approved")


@on_postgres
def test_postgres_deferred_balance_check(account, accounting_user):
    s = do_import(account).settlement
    batch = s.journal_batches.order_by("period").first()
    journal_batch_mark_ready(batch=batch, user=accounting_user)
    line = batch.lines.filter(debit__gt=0).first()
    with pytest.raises(DatabaseError, match="does not balance"), transaction.atomic():
        JournalLine.objects.filter(pk=line.pk).update(debit=line.debit + 1)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    # a draft may be unbalanced while it is worked on
    draft = s.journal_batches.order_by("period").last()
    line = draft.lines.filter(debit__gt=0).first()
    with transaction.atomic():
        JournalLine.objects.filter(pk=line.pk).update(debit=line.debit + 1)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        transaction.set_rollback(True)


# --------------------------------------------------------------------------- reconciliation


def test_reserve_continuity_across_settlements(account):
    first = do_import(account).settlement
    assert first.reserve_drift is None  # nothing before it
    assert first.current_reserve == Decimal("-25.00")
    lines = [
        {"transaction-type": "Previous Reserve Amount Balance", "amount-type": "Other",
         "amount-description": "Previous Reserve Amount Balance", "amount": "25.00",
         "posted-date": "2024-02-09"},
        dict(DEFAULT_LINES[0], **{"posted-date": "2024-02-10"}),
    ]
    second = do_import(
        account,
        settlement_file(lines, settlement_id="22334455667", start="2024-02-08T08:00:00+00:00",
                        end="2024-02-22T08:00:00+00:00", deposit="2024-02-24T08:00:00+00:00"),
    ).settlement
    assert second.previous_reserve == Decimal("25.00")
    assert second.reserve_drift == 0 and not second.has_drift
    lines[0]["amount"] = "20.00"
    third = do_import(
        account,
        settlement_file(lines, settlement_id="33445566778", start="2024-02-22T08:00:00+00:00",
                        end="2024-03-07T08:00:00+00:00", deposit="2024-03-09T08:00:00+00:00"),
    ).settlement
    assert third.reserve_drift == Decimal("20.00")  # second held nothing back
    assert third.has_drift


def test_deposit_drift(account):
    s = do_import(account).settlement
    assert s.deposit_drift is None
    s = settlement_record_deposit(settlement=s, amount=Decimal("91.50"))
    assert s.deposit_drift == Decimal("0.03") and s.has_drift
    s = settlement_record_deposit(settlement=s, amount=Decimal("91.53"))
    assert s.deposit_drift == 0 and not s.has_drift


def test_order_reconciliation_is_skipped_without_orders(account, monkeypatch):
    from settlements import selectors

    monkeypatch.setattr(selectors, "_order_model", lambda: None)
    s = do_import(account).settlement
    assert s.order_issues is None
    assert selectors.order_reconciliation(s) is None
